//! Weekly and monthly trends of a report: each window's and staff member's days folded into ISO
//! weeks or calendar months — the mean of the daily scores (as the rankings count them) and the
//! banned hits summed.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::{mean, Report, Subject};

/// How days are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// ISO weeks, Monday to Sunday (`2026-W48`).
    Week,
    /// Calendar months (`2026-11`).
    Month,
}

impl Granularity {
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    /// 周 or 月, for axis titles and headings.
    pub fn label(self) -> &'static str {
        match self {
            Granularity::Week => "周",
            Granularity::Month => "月",
        }
    }

    /// The bucket a day falls in: its key (sorts in time order) and first day.
    pub fn bucket(self, day: NaiveDate) -> (String, NaiveDate) {
        match self {
            Granularity::Week => {
                let w = day.iso_week();
                let monday = NaiveDate::from_isoywd_opt(w.year(), w.week(), chrono::Weekday::Mon)
                    .unwrap_or(day);
                (format!("{}-W{:02}", w.year(), w.week()), monday)
            }
            Granularity::Month => {
                let first = day.with_day(1).unwrap_or(day);
                (format!("{}-{:02}", day.year(), day.month()), first)
            }
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Granularity {
    type Err = String;

    fn from_str(s: &str) -> Result<Granularity, String> {
        match s {
            "week" => Ok(Granularity::Week),
            "month" => Ok(Granularity::Month),
            _ => Err(format!("unknown trend `{s}` — use week or month")),
        }
    }
}

/// One period bucket (a week or a month) within the report's days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// `2026-W48` or `2026-11`.
    pub key: String,
    /// The bucket's days inside the report's period: first and last (`YYYY-MM-DD`).
    pub from: String,
    pub to: String,
    /// For people: `11-23～11-29` or `2026年11月`.
    pub label: String,
}

/// One window or staff member in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendRow {
    pub bucket: String,
    pub subject: Subject,
    /// The window id or the staff id.
    pub id: String,
    pub name: Option<String>,
    /// Mean of the bucket's daily scores; `None` when no day has one.
    pub score: Option<f64>,
    pub days_scored: usize,
    pub banned_hits: i64,
    pub sessions: i64,
    /// The same with the trainers' verdicts applied.
    pub reviewed_score: Option<f64>,
    pub reviewed_banned_hits: i64,
}

/// The report's days grouped into buckets, and every window's and staff member's row per bucket
/// that has any day of theirs (ordered by subject, id, bucket).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    pub granularity: Granularity,
    pub buckets: Vec<Bucket>,
    pub rows: Vec<TrendRow>,
}

impl Trend {
    /// The rows of one subject as chart lines: (id, name) and one value per bucket.
    pub fn series(
        &self,
        subject: Subject,
        value: impl Fn(&TrendRow) -> Option<f64>,
    ) -> Vec<(String, Option<String>, Vec<Option<f64>>)> {
        let index: BTreeMap<&str, usize> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| (b.key.as_str(), i))
            .collect();
        let mut out: BTreeMap<&str, (Option<String>, Vec<Option<f64>>)> = BTreeMap::new();
        for r in self.rows.iter().filter(|r| r.subject == subject) {
            let e = out
                .entry(r.id.as_str())
                .or_insert_with(|| (None, vec![None; self.buckets.len()]));
            if r.name.is_some() {
                e.0 = r.name.clone();
            }
            if let Some(&i) = index.get(r.bucket.as_str()) {
                e.1[i] = value(r);
            }
        }
        out.into_iter()
            .map(|(id, (name, points))| (id.to_string(), name, points))
            .collect()
    }
}

/// Groups the report's trend rows (one per day) by week or month.
pub fn trend(report: &Report, granularity: Granularity) -> Trend {
    let parse = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
    let mut buckets: BTreeMap<String, Bucket> = BTreeMap::new();
    if let (Some(from), Some(to)) = (parse(&report.from), parse(&report.to)) {
        for day in from.iter_days().take_while(|d| *d <= to) {
            let (key, first) = granularity.bucket(day);
            let iso = day.format("%Y-%m-%d").to_string();
            let b = buckets.entry(key.clone()).or_insert_with(|| Bucket {
                key,
                from: iso.clone(),
                to: iso.clone(),
                label: String::new(),
            });
            b.to = iso;
            b.label = match granularity {
                Granularity::Week => format!(
                    "{}～{}",
                    b.from.get(5..).unwrap_or(&b.from),
                    b.to.get(5..).unwrap_or(&b.to)
                ),
                Granularity::Month => format!("{}年{}月", first.year(), first.month()),
            };
        }
    }

    #[derive(Default)]
    struct Acc {
        scores: Vec<Option<f64>>,
        reviewed: Vec<Option<f64>>,
        reviewed_banned: i64,
        banned: i64,
        sessions: i64,
        name: Option<String>,
    }
    let mut acc: BTreeMap<(Subject, String, String), Acc> = BTreeMap::new();
    for d in &report.days {
        let Some(day) = parse(&d.day) else { continue };
        let (key, _) = granularity.bucket(day);
        let a = acc.entry((d.subject, d.id.clone(), key)).or_default();
        a.scores.push(d.score);
        a.reviewed.push(d.reviewed_score);
        a.banned += d.totals.banned_hits;
        a.reviewed_banned += d.totals.reviewed_banned_hits;
        a.sessions += d.totals.sessions;
        if d.name.is_some() {
            a.name = d.name.clone();
        }
    }
    let rows = acc
        .into_iter()
        .map(|((subject, id, bucket), a)| TrendRow {
            bucket,
            subject,
            id,
            name: a.name,
            score: mean(&a.scores),
            days_scored: a.scores.iter().flatten().count(),
            banned_hits: a.banned,
            sessions: a.sessions,
            reviewed_score: mean(&a.reviewed),
            reviewed_banned_hits: a.reviewed_banned,
        })
        .collect();
    Trend {
        granularity,
        buckets: buckets.into_values().collect(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{DayRow, Totals};

    fn day(day: &str, id: &str, score: Option<f64>, banned: i64) -> DayRow {
        DayRow {
            day: day.into(),
            subject: Subject::Window,
            id: id.into(),
            name: None,
            score,
            reviewed_score: score,
            totals: Totals {
                sessions: 2,
                banned_hits: banned,
                ..Totals::default()
            },
            lexicon_version: "v".into(),
        }
    }

    fn report(from: &str, to: &str, days: Vec<DayRow>) -> Report {
        let mut r = crate::report::tests::sample();
        r.from = from.into();
        r.to = to.into();
        r.days = days;
        r
    }

    #[test]
    fn weeks_run_monday_to_sunday_and_average_the_scored_days() {
        // 2026-11-29 is a Sunday; 11-30 a Monday.
        let r = report(
            "2026-11-28",
            "2026-12-02",
            vec![
                day("2026-11-28", "w07", Some(80.0), 1),
                day("2026-11-29", "w07", Some(60.0), 2),
                day("2026-11-30", "w07", None, 0),
                day("2026-12-01", "w07", Some(90.0), 1),
            ],
        );
        let t = trend(&r, Granularity::Week);
        let keys: Vec<(&str, &str, &str, &str)> = t
            .buckets
            .iter()
            .map(|b| {
                (
                    b.key.as_str(),
                    b.from.as_str(),
                    b.to.as_str(),
                    b.label.as_str(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("2026-W48", "2026-11-28", "2026-11-29", "11-28～11-29"),
                ("2026-W49", "2026-11-30", "2026-12-02", "11-30～12-02"),
            ]
        );
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].score, Some(70.0));
        assert_eq!(t.rows[0].banned_hits, 3);
        assert_eq!((t.rows[1].score, t.rows[1].days_scored), (Some(90.0), 1));
        assert_eq!(t.rows[1].sessions, 4);
        let s = t.series(Subject::Window, |r| r.score);
        assert_eq!(s, [("w07".to_string(), None, vec![Some(70.0), Some(90.0)])]);
    }

    #[test]
    fn months_are_calendar_months() {
        let r = report(
            "2026-11-29",
            "2026-12-01",
            vec![
                day("2026-11-30", "w07", Some(50.0), 4),
                day("2026-12-01", "w08", Some(100.0), 0),
            ],
        );
        let t = trend(&r, Granularity::Month);
        assert_eq!(
            t.buckets
                .iter()
                .map(|b| b.label.as_str())
                .collect::<Vec<_>>(),
            ["2026年11月", "2026年12月"]
        );
        let banned = t.series(Subject::Window, |r| Some(r.banned_hits as f64));
        assert_eq!(banned[0].2, [Some(4.0), None]);
        assert_eq!(banned[1].2, [None, Some(0.0)]);
        assert_eq!("month".parse::<Granularity>().unwrap(), Granularity::Month);
        assert!("year"
            .parse::<Granularity>()
            .unwrap_err()
            .contains("week or month"));
    }
}
