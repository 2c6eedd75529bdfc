//! Line charts as inline SVG, drawn on the server: axis labels and titles in Chinese, one line per
//! series broken where a point is missing, a tooltip on every point. No script, nothing fetched:
//! the chart prints and works offline. Every string is escaped.

use std::fmt::Write as _;

use super::html::esc;

/// One line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Shown in the legend and the tooltips (a window id, `S01 张三`).
    pub name: String,
    /// One value per x position; `None` where there is none (the line breaks there).
    pub points: Vec<Option<f64>>,
}

/// A line chart: x positions with their tick labels, a y axis from 0, one or more series.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart<'a> {
    /// What the chart shows, for screen readers (`aria-label`) and as its caption.
    pub caption: &'a str,
    /// The x positions: (tick label, full name for tooltips), e.g. ("11-30", "2026-11-30").
    pub x: &'a [(String, String)],
    /// Under the x axis: 日期, 周, 月.
    pub x_title: &'a str,
    /// Beside the y axis: 得分, 禁忌用语（次）.
    pub y_title: &'a str,
    /// The top of the y axis; `None`: a round number above the largest value.
    pub y_max: Option<f64>,
    /// Decimals in the tooltips (1 for scores, 0 for counts).
    pub decimals: usize,
    /// In the legend after a series without any value: 无得分, 无数据.
    pub missing: &'a str,
    pub series: &'a [Series],
}

/// Series colours, distinguishable in print and for the colour-blind (Okabe–Ito, then a darker set).
pub const COLOURS: [&str; 12] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C564B",
    "#7F3C8D", "#3B7D23", "#A0522D", "#4B4B8F",
];
/// Past twelve series the lines repeat colours with a dash pattern.
const DASHES: [&str; 3] = ["", "6 4", "2 3"];

/// At most this many tick labels on the x axis, whatever the number of positions.
const MAX_TICKS: usize = 14;

/// A round top for a y axis holding `max`: 1, 2 or 5 times a power of ten, at least 1.
pub fn nice_max(max: f64) -> f64 {
    if !max.is_finite() || max <= 1.0 {
        return 1.0_f64.max(if max.is_finite() { max } else { 1.0 });
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|top| *top >= max)
        .unwrap_or(10.0 * magnitude)
}

/// The chart as `<svg>` followed by its legend (`<div class="legend">`).
pub fn line(c: &LineChart<'_>) -> String {
    let (w, ht) = (1000.0_f64, 320.0_f64);
    let (left, right, top, bottom) = (64.0, 16.0, 14.0, 52.0);
    let (pw, ph) = (w - left - right, ht - top - bottom);
    let n = c.x.len();
    let largest = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().flatten())
        .fold(0.0_f64, |a, b| a.max(*b));
    let y_max = c.y_max.unwrap_or_else(|| nice_max(largest));
    let x = |i: usize| {
        if n <= 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + ph * (1.0 - (v / y_max).clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {ht}\" \
         role=\"img\" aria-label=\"{}\">",
        esc(c.caption)
    );
    // Five grid lines with their values.
    for k in 0..=5 {
        let v = y_max * k as f64 / 5.0;
        let gy = y(v);
        let label = if y_max >= 5.0 && (v.fract() == 0.0) {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        };
        let _ = write!(
            s,
            "<line x1=\"{left}\" y1=\"{gy:.1}\" x2=\"{:.1}\" y2=\"{gy:.1}\" stroke=\"#e3e8ee\" stroke-width=\"1\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#5a6775\" text-anchor=\"end\">{label}</text>",
            w - right,
            left - 6.0,
            gy + 4.0
        );
    }
    let step = n.div_ceil(MAX_TICKS).max(1);
    for (i, (tick, _)) in c.x.iter().enumerate() {
        if i % step == 0 || i + 1 == n {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#5a6775\" text-anchor=\"middle\">{}</text>",
                x(i),
                top + ph + 18.0,
                esc(tick)
            );
        }
    }
    // The axes and their titles.
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#8a96a3\" stroke-width=\"1\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{:.1}\" stroke=\"#8a96a3\" stroke-width=\"1\"/>\
         <text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" fill=\"#1d2733\" text-anchor=\"middle\">{}</text>\
         <text class=\"axis-title\" x=\"16\" y=\"{:.1}\" font-size=\"13\" fill=\"#1d2733\" text-anchor=\"middle\" \
         transform=\"rotate(-90 16 {:.1})\">{}</text>",
        top + ph,
        w - right,
        top + ph,
        top + ph,
        left + pw / 2.0,
        ht - 8.0,
        esc(c.x_title),
        top + ph / 2.0,
        top + ph / 2.0,
        esc(c.y_title)
    );
    for (k, series) in c.series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let dash = match DASHES[(k / COLOURS.len()) % DASHES.len()] {
            "" => String::new(),
            d => format!(" stroke-dasharray=\"{d}\""),
        };
        // Runs of consecutive points become one polyline each.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut dots = String::new();
        let flush = |run: &mut Vec<(f64, f64)>, s: &mut String| {
            if run.len() > 1 {
                let pts: Vec<String> = run.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
                let _ = write!(
                    s,
                    "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
                    pts.join(" ")
                );
            }
            run.clear();
        };
        for (i, (_, full)) in c.x.iter().enumerate() {
            match series.points.get(i).copied().flatten() {
                Some(v) => {
                    run.push((x(i), y(v)));
                    let _ = write!(
                        dots,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\"><title>{} {} {:.*}</title></circle>",
                        x(i),
                        y(v),
                        esc(&series.name),
                        esc(full),
                        c.decimals,
                        v
                    );
                }
                None => flush(&mut run, &mut s),
            }
        }
        flush(&mut run, &mut s);
        s.push_str(&dots);
    }
    s.push_str("</svg><div class=\"legend\">");
    for (k, series) in c.series.iter().enumerate() {
        let any = series.points.iter().any(Option::is_some);
        let _ = write!(
            s,
            "<span><i style=\"background:{}\"></i>{}{}</span>",
            COLOURS[k % COLOURS.len()],
            esc(&series.name),
            if any {
                String::new()
            } else {
                format!("（{}）", esc(c.missing))
            }
        );
    }
    s.push_str("</div>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(labels: &[&str]) -> Vec<(String, String)> {
        labels
            .iter()
            .map(|l| (l.get(5..).unwrap_or(l).to_string(), l.to_string()))
            .collect()
    }

    #[test]
    fn nice_tops() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.0), 5.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(12.0), 20.0);
        assert_eq!(nice_max(100.0), 100.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
    }

    #[test]
    fn lines_break_at_gaps_and_axes_are_titled_in_chinese() {
        let days = x(&["2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01"]);
        let series = [
            Series {
                name: "w07".into(),
                points: vec![Some(90.0), Some(80.0), None, Some(70.0)],
            },
            Series {
                name: "<b>".into(),
                points: vec![None; 4],
            },
        ];
        let svg = line(&LineChart {
            caption: "各窗口每周得分",
            x: &days,
            x_title: "日期",
            y_title: "得分",
            y_max: Some(100.0),
            decimals: 1,
            missing: "无数据",
            series: &series,
        });
        // One run of two points makes a line; the lone point after the gap is only a dot.
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(!svg.contains("<title>w07 2026-11-30"));
        assert!(svg.contains("<title>w07 2026-12-01 70.0</title>"));
        assert!(svg.contains(">日期</text>") && svg.contains(">得分</text>"));
        assert!(svg.contains(">11-28</text>"));
        assert!(svg.contains("&lt;b&gt;（无数据）") && !svg.contains("<b>"));
        assert!(svg.contains("aria-label=\"各窗口每周得分\""));
    }

    #[test]
    fn counts_get_a_round_axis() {
        let x = x(&["2026-W47", "2026-W48"]);
        let svg = line(&LineChart {
            caption: "禁忌用语次数",
            x: &x,
            x_title: "周",
            y_title: "禁忌用语（次）",
            y_max: None,
            decimals: 0,
            missing: "无数据",
            series: &[Series {
                name: "w07".into(),
                points: vec![Some(3.0), Some(7.0)],
            }],
        });
        assert!(svg.contains(">10</text>"), "the axis tops at 10");
        assert!(svg.contains("<title>w07 2026-W48 7</title>"));
    }
}
