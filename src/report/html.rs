//! The report as one self-contained HTML page in Chinese: inline CSS, charts drawn here as inline SVG,
//! nothing fetched from anywhere, every database string escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::DateTime;

use super::{HitRow, Report, SessionRow, Subject};

/// Writes `report` as HTML to `out`. `clips` is the clip folder relative to the folder the page is
/// written to (e.g. `clips` or `../clips`): the players point there.
pub fn write(report: &Report, clips: &str, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(render(report, clips).as_bytes())
}

/// The page as a string; see [`write`].
pub fn render(report: &Report, clips: &str) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let single = report.from == report.to;
    let title = if single {
        format!("服务文明用语日报 {}", report.from)
    } else {
        format!("服务文明用语报告 {} 至 {}", report.from, report.to)
    };
    // `write!` into a String cannot fail; the results are ignored for that reason only.
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    let _ = writeln!(
        h,
        "<header><h1>{}</h1><p class=\"sub\">质量管理办公室 · 生成于 {} · 词库版本 {}</p></header>",
        esc(&title),
        esc(&clock(&report.generated_at, false)),
        esc(&report.lexicon_versions.join("、")).if_empty("（无）")
    );
    h.push_str(
        "<nav><a href=\"#overview\">概览</a><a href=\"#windows\">窗口排名</a>\
         <a href=\"#staff\">人员排名</a><a href=\"#banned\">禁忌用语</a>\
         <a href=\"#precision\">误报率</a>\
         <a href=\"#sessions\">服务环节</a><a href=\"#trend\">趋势</a>\
         <a href=\"#failures\">未能分析的文件</a></nav>\n<main>\n",
    );
    overview(&mut h, report);
    windows(&mut h, report);
    staff(&mut h, report);
    banned(&mut h, report, clips, single);
    precision(&mut h, report);
    sessions(&mut h, report, single);
    trend(&mut h, report);
    failures(&mut h, report);
    let _ = write!(
        h,
        "</main>\n<footer>{} · 本报告由 courtesy 根据分析记录生成，转写文本中的身份证号、手机号、银行卡号已遮盖。</footer>\n\
         </body>\n</html>\n",
        esc(&report.ranking)
    );
    h
}

const CSS: &str = r#"
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC","WenQuanYi Micro Hei",sans-serif;font-size:14px;line-height:1.5;color:#1d2733;background:#f3f5f8}
header{background:#1f4e79;color:#fff;padding:14px 24px 10px}
h1{margin:0;font-size:22px;font-weight:600}
.sub{margin:4px 0 0;color:#d6e4f0;font-size:13px}
nav{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid #d5dce4;padding:6px 20px;display:flex;flex-wrap:wrap;gap:4px 18px}
nav a{color:#1f4e79;text-decoration:none;font-size:14px}
nav a:hover{text-decoration:underline}
main{max-width:1300px;margin:0 auto;padding:8px 20px 24px}
section{background:#fff;border:1px solid #dde3ea;border-radius:6px;margin:14px 0;padding:10px 16px 14px}
h2{font-size:18px;margin:2px 0 10px;color:#1f4e79;border-left:4px solid #1f4e79;padding-left:8px}
h3{font-size:15px;margin:12px 0 6px}
.note{color:#5a6775;font-size:13px;margin:6px 0}
.empty{color:#5a6775;padding:6px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:8px}
.card{flex:1 1 150px;border:1px solid #dde3ea;border-radius:6px;padding:8px 12px;background:#f8fafc}
.card b{display:block;font-size:22px;color:#1f4e79}
.card.period{flex:2 1 260px}.card.period b{font-size:19px;white-space:nowrap}
.card.bad b{color:#b42318}
.card span{color:#5a6775;font-size:13px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e3e8ee;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#eef2f6;font-weight:600;white-space:nowrap}
td.n,th.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.c,th.c{text-align:center}
tr{break-inside:avoid}
thead{display:table-header-group}
.nowrap{white-space:nowrap}
.score{display:inline-block;min-width:3.4em;text-align:center;border-radius:4px;padding:0 4px;font-weight:600}
.good{background:#dcf2e3;color:#14632f}.mid{background:#fdf1d6;color:#7a5300}.low{background:#fbe0dd;color:#a3211a}.none{background:#eceff3;color:#5a6775;font-weight:400}
.yes{color:#14632f;font-weight:700}.no{color:#b42318;font-weight:700}
.sev{display:inline-block;border-radius:3px;padding:0 5px;font-size:12px;color:#fff;white-space:nowrap}
.sev1{background:#c98a00}.sev2{background:#d9622b}.sev3{background:#b42318}
mark{background:#ffe08a;color:#000;padding:0 1px;border-radius:2px}
.text{min-width:16em}
.path{font-size:12px;color:#5a6775;word-break:break-all}
audio{width:190px;height:30px;display:block}
.gone{color:#8a96a3;font-style:italic}
.chart{display:block;width:100%;height:auto;max-width:1240px}
.chart.bars{max-width:900px}
.chart text{font-family:inherit}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px;margin:4px 0 10px}
.legend i{display:inline-block;width:14px;height:4px;margin-right:5px;vertical-align:middle}
footer{max-width:1300px;margin:0 auto;padding:4px 20px 24px;color:#5a6775;font-size:12px}
@page{size:A4 landscape;margin:12mm}
@media print{
 body{background:#fff;font-size:11px}
 header{background:#fff;color:#000;padding:0 0 6px;border-bottom:2px solid #1f4e79}
 .sub{color:#333}
 nav,audio{display:none}
 main{max-width:none;padding:0}
 section{border:0;padding:0;margin:10px 0;break-inside:auto}
 h2{break-after:avoid}
 .scroll{overflow:visible}
 table{font-size:10px}
 .print-only{display:inline}
}
.print-only{display:none}
"#;

fn overview(h: &mut String, r: &Report) {
    let s = &r.recordings;
    let period = if r.from == r.to {
        r.from.clone()
    } else {
        format!("{} 至 {}", r.from, r.to)
    };
    h.push_str("<section id=\"overview\"><h2>概览</h2><div class=\"cards\">");
    let card = |h: &mut String, value: String, label: &str, class: &str| {
        let _ = write!(
            h,
            "<div class=\"card{class}\"><b>{}</b><span>{}</span></div>",
            esc(&value),
            label
        );
    };
    let bad = |b: bool| if b { " bad" } else { "" };
    card(h, period, "期间", " period");
    card(
        h,
        s.files.to_string(),
        &format!("录音文件（已分析 {}，待处理 {}）", s.done, s.waiting),
        "",
    );
    card(h, format!("{:.1}", s.hours()), "小时录音（已分析）", "");
    card(h, s.failed.to_string(), "未能分析的文件", bad(s.failed > 0));
    card(
        h,
        r.hits.len().to_string(),
        "禁忌用语",
        bad(!r.hits.is_empty()),
    );
    card(h, r.windows.len().to_string(), "窗口", "");
    card(h, r.staff.len().to_string(), "人员", "");
    h.push_str("</div>");
    let _ = write!(h, "<p class=\"note\">{}</p>", esc(&r.ranking));
    if r.day_versions.is_empty() {
        h.push_str("<p class=\"empty\">本期间没有评分记录。</p>");
    } else {
        let days: Vec<String> = r
            .day_versions
            .iter()
            .map(|d| format!("{}：{}（运行 #{}）", d.day, d.lexicon_version, d.run_id))
            .collect();
        let _ = write!(
            h,
            "<p class=\"note\">各日采用的词库版本：{}</p>",
            esc(&days.join("；"))
        );
    }
    if !r.runs.is_empty() {
        h.push_str(
            "<div class=\"scroll\"><table><thead><tr><th>运行</th><th>类型</th><th>程序</th>\
             <th>主机</th><th>开始</th><th>结束</th><th>状态</th><th>词库版本</th><th>模型 SHA-256</th>\
             </tr></thead><tbody>",
        );
        for run in &r.runs {
            let kind = match run.kind.as_str() {
                "batch" => "夜间分析".to_string(),
                "rescore" => "重新评分".to_string(),
                k => k.to_string(),
            };
            let status = match run.status.as_str() {
                "done" => "完成".to_string(),
                "running" => "进行中".to_string(),
                "failed" => "失败".to_string(),
                s => s.to_string(),
            };
            let _ = write!(
                h,
                "<tr><td class=\"n\">#{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"nowrap\">{}</td>\
                 <td class=\"nowrap\">{}</td><td>{}</td><td>{}</td><td class=\"path\">{}</td></tr>",
                run.id,
                esc(&kind),
                esc(&run.program),
                esc(&run.host),
                esc(&clock(&run.started_at, false)),
                esc(&run.ended_at.as_deref().map(|t| clock(t, false)).unwrap_or_default()),
                esc(&status),
                esc(&run.lexicon_version),
                esc(run
                    .model_sha256
                    .as_deref()
                    .map(|s| &s[..s.len().min(16)])
                    .unwrap_or("")),
            );
        }
        h.push_str("</tbody></table></div>");
    }
    h.push_str("</section>\n");
}

fn score_badge(score: Option<f64>) -> String {
    match score {
        Some(s) => {
            let class = if s >= 85.0 {
                "good"
            } else if s >= 60.0 {
                "mid"
            } else {
                "low"
            };
            format!("<span class=\"score {class}\">{s:.1}</span>")
        }
        None => "<span class=\"score none\">无得分</span>".into(),
    }
}

fn rank_cell(rank: Option<usize>) -> String {
    rank.map(|r| r.to_string()).unwrap_or_else(|| "—".into())
}

fn windows(h: &mut String, r: &Report) {
    h.push_str("<section id=\"windows\"><h2>窗口排名</h2>");
    if r.windows.is_empty() {
        h.push_str("<p class=\"empty\">本期间没有窗口评分。</p></section>\n");
        return;
    }
    h.push_str(
        "<div class=\"scroll\"><table><thead><tr><th class=\"n\">名次</th><th>窗口</th>\
         <th class=\"c\">得分（日均）</th><th class=\"c\">审核后得分</th><th class=\"n\">有得分天数</th>\
         <th class=\"n\">服务次数</th>\
         <th class=\"n\">来有迎声</th><th class=\"n\">走有送声</th><th class=\"n\">文明用语</th>\
         <th class=\"n\">禁忌用语（机器）</th><th class=\"n\">审核后（已判定）</th>\
         <th class=\"n\">说话时长</th><th class=\"n\">未能分析</th>\
         </tr></thead><tbody>",
    );
    for w in &r.windows {
        let t = &w.totals;
        let _ = write!(
            h,
            "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"c\">{}</td><td class=\"c\">{}</td>\
             <td class=\"n\">{}/{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            rank_cell(w.rank),
            esc(&w.window),
            score_badge(w.score),
            score_badge(w.reviewed_score),
            w.days_scored,
            w.days,
            t.sessions,
            ratio(t.greeting_sessions, t.sessions),
            ratio(t.farewell_sessions, t.sessions),
            t.civil_hits,
            banned_count(t.banned_hits),
            reviewed_count(t),
            minutes(t.speech_seconds),
            w.failed_files
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn staff(h: &mut String, r: &Report) {
    h.push_str("<section id=\"staff\"><h2>人员排名</h2>");
    if r.staff.is_empty() {
        h.push_str(
            "<p class=\"empty\">本期间没有人员评分（未导入排班表的窗口只按窗口评分）。</p></section>\n",
        );
        return;
    }
    h.push_str(
        "<div class=\"scroll\"><table><thead><tr><th class=\"n\">名次</th><th>工号</th><th>姓名</th>\
         <th>窗口</th><th class=\"c\">得分（日均）</th><th class=\"c\">审核后得分</th>\
         <th class=\"n\">有得分天数</th>\
         <th class=\"n\">服务次数</th><th class=\"n\">来有迎声</th><th class=\"n\">走有送声</th>\
         <th class=\"n\">文明用语</th><th class=\"n\">禁忌用语（机器）</th>\
         <th class=\"n\">审核后（已判定）</th><th class=\"n\">说话时长</th>\
         </tr></thead><tbody>",
    );
    for s in &r.staff {
        let t = &s.totals;
        let _ = write!(
            h,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"c\">{}</td>\
             <td class=\"c\">{}</td>\
             <td class=\"n\">{}/{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            rank_cell(s.rank),
            esc(&s.staff_id),
            esc(s.name.as_deref().unwrap_or("")),
            esc(&s.windows.join("、")),
            score_badge(s.score),
            score_badge(s.reviewed_score),
            s.days_scored,
            s.days,
            t.sessions,
            ratio(t.greeting_sessions, t.sessions),
            ratio(t.farewell_sessions, t.sessions),
            t.civil_hits,
            banned_count(t.banned_hits),
            reviewed_count(t),
            minutes(t.speech_seconds)
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn banned(h: &mut String, r: &Report, clips: &str, single: bool) {
    h.push_str("<section id=\"banned\"><h2>禁忌用语</h2>");
    if r.hits.is_empty() {
        h.push_str("<p class=\"empty\">本期间没有听到禁忌用语。</p></section>\n");
        return;
    }
    h.push_str("<h3>各禁忌用语出现次数</h3>");
    h.push_str(&bar_chart(&r.hits));
    h.push_str(
        "<h3>逐条记录</h3><div class=\"scroll\"><table><thead><tr><th>时间</th><th>窗口</th>\
         <th>人员</th><th>禁忌用语</th><th>类别</th><th class=\"c\">严重程度</th><th>条款</th>\
         <th class=\"text\">转写文本</th><th class=\"n\">置信度</th><th>识别方式</th><th>审核</th>\
         <th>录音</th></tr></thead><tbody>",
    );
    for hit in &r.hits {
        let _ = write!(
            h,
            "<tr><td class=\"nowrap\">{}</td><td>{}</td><td>{}</td><td><b>{}</b></td><td>{}</td>\
             <td class=\"c\"><span class=\"sev sev{}\">{}</span></td><td>{}</td><td class=\"text\">{}</td>\
             <td class=\"n\">{:.2}</td><td class=\"nowrap\">{}</td><td class=\"nowrap\">{}</td><td>{}</td></tr>",
            when(&hit.day, hit.clock_time.as_deref(), single),
            esc(&hit.window),
            person(hit.staff_id.as_deref(), hit.staff_name.as_deref()),
            esc(&hit.phrase),
            esc(&hit.category),
            hit.severity.clamp(1, 3),
            severity(hit.severity),
            esc(&hit.clause),
            transcript(hit),
            hit.confidence,
            method(&hit.method),
            verdict(hit.verdict.as_deref()),
            evidence(hit, clips)
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

/// The share of judged hits that were false alarms, per phrase.
fn precision(h: &mut String, r: &Report) {
    h.push_str("<section id=\"precision\"><h2>误报率（按短语）</h2>");
    let _ = write!(h, "<p class=\"note\">{}</p>", esc(&r.precision_rule));
    if r.precision.is_empty() {
        h.push_str("<p class=\"empty\">本期间没有命中，也没有审核结论。</p></section>\n");
        return;
    }
    h.push_str(
        "<div class=\"scroll\"><table><thead><tr><th>短语</th><th class=\"n\">机器命中</th>\
         <th class=\"n\">已判定</th><th class=\"n\">属实</th><th class=\"n\">误报</th>\
         <th class=\"n\">群众说的</th><th class=\"n\">听不清</th><th class=\"n\">误报率</th>\
         </tr></thead><tbody>",
    );
    for p in &r.precision {
        let share = match p.false_share {
            Some(x) => format!("{:.0}%", x * 100.0),
            None => "—".into(),
        };
        let _ = write!(
            h,
            "<tr><td><b>{}</b></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&p.phrase),
            p.hits,
            p.judged,
            p.confirmed,
            p.false_alarm,
            p.citizen,
            p.unclear,
            share
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn sessions(h: &mut String, r: &Report, single: bool) {
    h.push_str("<section id=\"sessions\"><h2>服务环节</h2>");
    if r.sessions.is_empty() {
        h.push_str("<p class=\"empty\">本期间没有服务记录。</p></section>\n");
        return;
    }
    let greeted = r.sessions.iter().filter(|s| s.greeting).count();
    let seen_off = r.sessions.iter().filter(|s| s.farewell).count();
    let _ = write!(
        h,
        "<p class=\"note\">共 {} 次服务：来有迎声 {}，走有送声 {}。每次服务的前两句内有问候即为“来有迎声”，最后两句内有道别即为“走有送声”。</p>",
        r.sessions.len(),
        ratio(greeted as i64, r.sessions.len() as i64),
        ratio(seen_off as i64, r.sessions.len() as i64)
    );
    h.push_str(
        "<div class=\"scroll\"><table><thead><tr><th>时间</th><th>窗口</th><th>人员</th>\
         <th class=\"c\">来有迎声</th><th class=\"c\">走有送声</th><th class=\"n\">话语数</th>\
         <th>文明用语情形</th><th class=\"n\">禁忌用语</th><th>录音文件</th></tr></thead><tbody>",
    );
    for s in &r.sessions {
        let _ = write!(
            h,
            "<tr><td class=\"nowrap\">{}</td><td>{}</td><td>{}</td><td class=\"c\">{}</td><td class=\"c\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"path\">{} <span class=\"nowrap\">{}</span></td></tr>",
            session_time(s, single),
            esc(&s.window),
            person(s.staff_id.as_deref(), s.staff_name.as_deref()),
            tick(s.greeting),
            tick(s.farewell),
            s.utterances,
            esc(&s.situations.join("、")),
            banned_count(s.banned),
            esc(&s.file),
            esc(&format!("{}–{}", offset(s.start_s), offset(s.end_s)))
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

fn trend(h: &mut String, r: &Report) {
    h.push_str("<section id=\"trend\"><h2>趋势</h2><h3>各窗口每日得分</h3>");
    let days: Vec<String> = match (
        chrono::NaiveDate::parse_from_str(&r.from, "%Y-%m-%d"),
        chrono::NaiveDate::parse_from_str(&r.to, "%Y-%m-%d"),
    ) {
        (Ok(from), Ok(to)) => from
            .iter_days()
            .take_while(|d| *d <= to)
            .take(366)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect(),
        _ => Vec::new(),
    };
    let series = |subject: Subject| {
        let mut m: BTreeMap<&str, BTreeMap<&str, Option<f64>>> = BTreeMap::new();
        for d in r.days.iter().filter(|d| d.subject == subject) {
            m.entry(d.id.as_str())
                .or_default()
                .insert(d.day.as_str(), d.score);
        }
        m
    };
    let windows = series(Subject::Window);
    if windows.is_empty() || days.is_empty() {
        h.push_str("<p class=\"empty\">本期间没有窗口评分。</p>");
    } else {
        h.push_str(&line_chart(&days, &windows));
        score_table(h, "窗口", &days, &windows, &BTreeMap::new());
    }
    let staff = series(Subject::Staff);
    if !staff.is_empty() && !days.is_empty() {
        let names: BTreeMap<&str, &str> = r
            .days
            .iter()
            .filter(|d| d.subject == Subject::Staff)
            .filter_map(|d| d.name.as_deref().map(|n| (d.id.as_str(), n)))
            .collect();
        h.push_str("<h3>人员每日得分</h3>");
        score_table(h, "人员", &days, &staff, &names);
    }
    h.push_str("</section>\n");
}

/// Rows of ids, a column per day, the daily score in each cell.
fn score_table(
    h: &mut String,
    what: &str,
    days: &[String],
    series: &BTreeMap<&str, BTreeMap<&str, Option<f64>>>,
    names: &BTreeMap<&str, &str>,
) {
    let _ = write!(h, "<div class=\"scroll\"><table><thead><tr><th>{what}</th>");
    for d in days {
        let _ = write!(h, "<th class=\"c\">{}</th>", esc(d.get(5..).unwrap_or(d)));
    }
    h.push_str("</tr></thead><tbody>");
    for (id, by_day) in series {
        let label = match names.get(id) {
            Some(n) => format!("{id} {n}"),
            None => id.to_string(),
        };
        let _ = write!(h, "<tr><td class=\"nowrap\">{}</td>", esc(&label));
        for d in days {
            match by_day.get(d.as_str()) {
                Some(score) => {
                    let _ = write!(h, "<td class=\"c\">{}</td>", score_badge(*score));
                }
                None => h.push_str("<td class=\"c\"></td>"),
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
}

fn failures(h: &mut String, r: &Report) {
    h.push_str("<section id=\"failures\"><h2>未能分析的文件</h2>");
    if r.failures.is_empty() {
        h.push_str("<p class=\"empty\">所有文件均已分析。</p></section>\n");
        return;
    }
    h.push_str(
        "<div class=\"scroll\"><table><thead><tr><th>日期</th><th>窗口</th><th>文件</th><th>原因</th>\
         </tr></thead><tbody>",
    );
    for f in &r.failures {
        let _ = write!(
            h,
            "<tr><td class=\"nowrap\">{}</td><td>{}</td><td class=\"path\">{}</td><td>{}</td></tr>",
            esc(f.day.as_deref().unwrap_or("—")),
            esc(&f.window),
            esc(&f.path),
            esc(&f.error)
        );
    }
    h.push_str("</tbody></table></div></section>\n");
}

/// Daily scores per window: one line each, broken where a day has no score.
fn line_chart(days: &[String], series: &BTreeMap<&str, BTreeMap<&str, Option<f64>>>) -> String {
    let x: Vec<(String, String)> = days
        .iter()
        .map(|d| (d.get(5..).unwrap_or(d).to_string(), d.clone()))
        .collect();
    let series: Vec<super::chart::Series> = series
        .iter()
        .map(|(id, by_day)| super::chart::Series {
            name: id.to_string(),
            points: days
                .iter()
                .map(|d| by_day.get(d.as_str()).copied().flatten())
                .collect(),
        })
        .collect();
    super::chart::line(&super::chart::LineChart {
        caption: "各窗口每日得分折线图",
        x: &x,
        x_title: "日期",
        y_title: "得分",
        y_max: Some(100.0),
        decimals: 1,
        missing: "无得分",
        series: &series,
    })
}

/// Banned hits per phrase (with its clause), most frequent first, coloured by the worst severity.
fn bar_chart(hits: &[HitRow]) -> String {
    // (phrase, clause) → (hits, worst severity)
    type Bars<'a> = BTreeMap<(&'a str, &'a str), (usize, i64)>;
    let mut by: Bars = BTreeMap::new();
    for hit in hits {
        let e = by
            .entry((hit.phrase.as_str(), hit.clause.as_str()))
            .or_default();
        e.0 += 1;
        e.1 = e.1.max(hit.severity);
    }
    let mut bars: Vec<_> = by.into_iter().collect();
    bars.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    let max = bars.first().map(|b| b.1 .0).unwrap_or(1).max(1);
    let (w, label_w, row, top) = (1000.0_f64, 330.0_f64, 28.0_f64, 8.0_f64);
    let ht = top * 2.0 + row * bars.len() as f64;
    let bar_w = w - label_w - 60.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart bars\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {ht}\" \
         role=\"img\" aria-label=\"禁忌用语出现次数条形图\">"
    );
    for (i, ((phrase, clause), (n, sev))) in bars.iter().enumerate() {
        let yy = top + row * i as f64;
        let label = shorten(&format!("{phrase}（{clause}）"), 24);
        let colour = match sev {
            3.. => "#b42318",
            2 => "#d9622b",
            _ => "#c98a00",
        };
        let len = bar_w * *n as f64 / max as f64;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" fill=\"#1d2733\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{len:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{colour}\">\
             <title>{} {} 次</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" fill=\"#1d2733\">{n}</text>",
            label_w - 8.0,
            yy + row / 2.0 + 4.5,
            esc(&label),
            yy + 4.0,
            row - 8.0,
            esc(phrase),
            n,
            label_w + len + 6.0,
            yy + row / 2.0 + 4.5
        );
    }
    s.push_str("</svg>");
    s
}

/// `s` cut to `chars` characters, the last one `…` when anything was cut.
pub(crate) fn shorten(s: &str, chars: usize) -> String {
    if s.chars().count() <= chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(chars - 1).collect();
        t.push('…');
        t
    }
}

/// The transcript with the hit in `<mark>`; each piece escaped on its own, so a span can never cut
/// into an entity or a tag.
fn transcript(hit: &HitRow) -> String {
    marked(hit.text.as_deref(), hit.span, &hit.matched)
}

/// A transcript with the byte span `span` in `<mark>`, every piece escaped; when the text is gone
/// (text retention) or the span does not fit it, the matched words are shown beside it.
pub fn marked(text: Option<&str>, span: [usize; 2], matched: &str) -> String {
    let Some(text) = text else {
        return format!(
            "<span class=\"gone\">（转写文本已按保留期删除）</span> 命中：<mark>{}</mark>",
            esc(matched)
        );
    };
    let [a, b] = span;
    if a <= b && b <= text.len() && text.is_char_boundary(a) && text.is_char_boundary(b) {
        format!(
            "{}<mark>{}</mark>{}",
            esc(&text[..a]),
            esc(&text[a..b]),
            esc(&text[b..])
        )
    } else {
        // A span that does not fit the text (never written so): show both rather than guess.
        format!("{} 命中：<mark>{}</mark>", esc(text), esc(matched))
    }
}

/// The clip player, and the recording and offset the hit was heard at.
fn evidence(hit: &HitRow, clips: &str) -> String {
    let at = format!(
        "<div class=\"path\">{} <span class=\"nowrap\">{}</span></div>",
        esc(&hit.file),
        esc(&format!("{}–{}", offset(hit.offset), offset(hit.end)))
    );
    match hit.clip.as_deref() {
        // A clip path read from the record that is not plain would link outside the clip folder.
        Some(clip) if clip_href(clips, clip).is_none() => format!(
            "<span class=\"gone\">片段路径无效：{}</span>{at}",
            esc(clip)
        ),
        Some(clip) => {
            let href = clip_href(clips, clip).unwrap_or_default();
            format!(
                "<audio controls preload=\"none\" src=\"{href}\"></audio>\
                 <span class=\"print-only path\">片段 {}</span>{at}",
                esc(clip)
            )
        }
        None => format!("<span class=\"gone\">无片段</span>{at}"),
    }
}

/// A relative URL to `clip` inside the clip folder: every path segment percent-encoded, so a name
/// can neither leave the attribute nor become a scheme; `None` when `clip` (read from the record)
/// is not a plain relative path ([`crate::inside::is_plain`]), which would lead out of the folder.
pub fn clip_href(clips: &str, clip: &str) -> Option<String> {
    if !crate::inside::is_plain(std::path::Path::new(clip)) {
        return None;
    }
    let mut segments: Vec<String> = Vec::new();
    for part in clips.split(['/', '\\']).chain(clip.split(['/', '\\'])) {
        if !part.is_empty() {
            segments.push(percent(part));
        }
    }
    Some(segments.join("/"))
}

/// Percent-encodes everything but unreserved characters (a URL path segment or query value).
pub fn percent(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters and the noncharacters U+FFFE/U+FFFF have no business in a page
            // (and break XML: the workbook's sheets use this escape too).
            c if (c.is_control() && c != '\n' && c != '\t')
                || c == '\u{fffe}'
                || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

trait IfEmpty {
    fn if_empty(self, other: &str) -> String;
}

impl IfEmpty for String {
    fn if_empty(self, other: &str) -> String {
        if self.is_empty() {
            other.to_string()
        } else {
            self
        }
    }
}

/// A stored clock time as the office reads it: `08:30:05` on a day's report, `11-30 08:30:05` over
/// several days; anything unparsable as written.
fn clock(t: &str, time_only: bool) -> String {
    match DateTime::parse_from_rfc3339(t) {
        Ok(dt) if time_only => dt.format("%H:%M:%S").to_string(),
        Ok(dt) => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => t.to_string(),
    }
}

fn when(day: &str, clock_time: Option<&str>, single: bool) -> String {
    match clock_time {
        Some(t) => {
            let text = match DateTime::parse_from_rfc3339(t) {
                Ok(dt) if single => dt.format("%H:%M:%S").to_string(),
                Ok(dt) => dt.format("%m-%d %H:%M:%S").to_string(),
                Err(_) => t.to_string(),
            };
            esc(&text)
        }
        None => format!("{}<br><span class=\"gone\">时钟未知</span>", esc(day)),
    }
}

fn session_time(s: &SessionRow, single: bool) -> String {
    match (s.clock_start.as_deref(), s.clock_end.as_deref()) {
        (Some(a), Some(b)) => format!("{}–{}", when(&s.day, Some(a), single), esc(&clock(b, true))),
        (Some(a), None) => when(&s.day, Some(a), single),
        _ => when(&s.day, None, single),
    }
}

fn person(id: Option<&str>, name: Option<&str>) -> String {
    match (id, name) {
        (Some(id), Some(name)) => format!("{} <span class=\"path\">{}</span>", esc(name), esc(id)),
        (Some(id), None) => esc(id),
        _ => "<span class=\"gone\">未排班</span>".into(),
    }
}

fn tick(yes: bool) -> &'static str {
    if yes {
        "<span class=\"yes\">✓</span>"
    } else {
        "<span class=\"no\">✗</span>"
    }
}

fn severity(s: i64) -> &'static str {
    match s {
        3.. => "严重 3",
        2 => "较重 2",
        _ => "一般 1",
    }
}

fn method(m: &str) -> String {
    match m {
        "exact" => "原文一致".into(),
        "gapped" => "中间有插字".into(),
        "sound" => "读音相近".into(),
        m => esc(m),
    }
}

fn ratio(part: i64, whole: i64) -> String {
    if whole == 0 {
        "—".into()
    } else {
        format!(
            "{part}/{whole}（{:.0}%）",
            100.0 * part as f64 / whole as f64
        )
    }
}

/// The banned hits left after review, and how many were judged.
fn reviewed_count(t: &super::Totals) -> String {
    format!(
        "{}（{}）",
        banned_count(t.reviewed_banned_hits),
        t.judged_hits
    )
}

/// A hit's latest verdict as the office reads it.
fn verdict(v: Option<&str>) -> String {
    let label = match v {
        None => return "<span class=\"gone\">未审核</span>".into(),
        Some("confirmed") => "属实",
        Some("false_alarm") => "误报",
        Some("citizen") => "群众说的",
        Some("unclear") => "听不清",
        Some(other) => other,
    };
    esc(label)
}

fn banned_count(n: i64) -> String {
    if n > 0 {
        format!("<b class=\"no\">{n}</b>")
    } else {
        "0".into()
    }
}

fn minutes(seconds: f64) -> String {
    format!("{:.1} 分钟", seconds / 60.0)
}

/// Seconds into a recording as `h:mm:ss` or `m:ss.s`.
fn offset(s: f64) -> String {
    let s = s.max(0.0);
    let whole = s as u64;
    if whole >= 3600 {
        format!("{}:{:02}:{:02}", whole / 3600, whole / 60 % 60, whole % 60)
    } else {
        format!("{}:{:04.1}", whole / 60, s - (whole / 60 * 60) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    /// Checks that every tag opened inside `svg` is closed in order (self-closing ones count as both).
    fn balanced(svg: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(i) = rest.find('<') {
            rest = &rest[i + 1..];
            let end = rest.find('>').ok_or("a tag never ends")?;
            let tag = &rest[..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().ok_or("an empty tag")?;
                stack.push(name.to_string());
            }
            if tag.contains('<') {
                return Err(format!("'<' inside a tag: {tag}"));
            }
        }
        if stack.is_empty() {
            Ok(())
        } else {
            Err(format!("never closed: {stack:?}"))
        }
    }

    fn svgs(html: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(a) = rest.find("<svg") {
            let b = rest[a..].find("</svg>").expect("an <svg> is closed") + a + 6;
            out.push(&rest[a..b]);
            rest = &rest[b..];
        }
        out
    }

    #[test]
    fn hostile_transcript_is_escaped_and_the_hit_marked() {
        let html = render(&sample(), "clips");
        assert!(!html.contains("<script>"), "a transcript's tag got through");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;<mark>有意見找領導去</mark>！"),
            "{html}"
        );
        assert!(html.contains("w08&lt;b&gt;"));
        assert!(!html.contains("w08<b>"));
    }

    #[test]
    fn page_is_chinese_self_contained_and_has_every_section() {
        let html = render(&sample(), "clips");
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"zh-CN\">"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        for section in [
            "概览",
            "窗口排名",
            "人员排名",
            "禁忌用语",
            "服务环节",
            "趋势",
            "未能分析的文件",
        ] {
            assert!(html.contains(&format!("<h2>{section}</h2>")), "{section}");
        }
        // The SVG namespace is an identifier, not a fetch; nothing else may name the internet.
        let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
        assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("@import"));
        assert!(!html.contains("url("), "no CSS fetches");
    }

    #[test]
    fn reviewed_numbers_stand_beside_the_machines_and_precision_per_phrase() {
        let html = render(&sample(), "clips");
        assert!(html.contains("<h2>误报率（按短语）</h2>"));
        assert!(html.contains("<a href=\"#precision\">"));
        // w08<b>: machine 40.3 with 2 banned hits; reviewed 70.3 with 1 left, 2 judged.
        let row = html
            .split("<tr>")
            .find(|r| r.contains("w08&lt;b&gt;</td>"))
            .unwrap();
        assert!(row.contains(">40.2<") || row.contains(">40.3<"), "{row}");
        assert!(row.contains(">70.2<") || row.contains(">70.3<"), "{row}");
        assert!(row.contains("（2）"), "{row}");
        // The precision table: the false alarm's phrase first at 100 %, escaped.
        let table = &html[html.find("<h2>误报率").unwrap()..];
        let first = table.split("<tr>").nth(2).unwrap();
        assert!(first.contains(&esc("=cmd|' /C calc'!A0")), "{first}");
        assert!(first.contains(">100%<"), "{first}");
        assert!(table.contains(">0%<"));
        // Each hit says how it was judged.
        assert!(html.contains("<td class=\"nowrap\">属实</td>"));
        assert!(html.contains("<td class=\"nowrap\">误报</td>"));
    }

    #[test]
    fn both_charts_are_present_and_well_formed() {
        let html = render(&sample(), "clips");
        let svgs = svgs(&html);
        assert_eq!(
            svgs.len(),
            2,
            "a bar chart (banned hits) and a line chart (trend)"
        );
        for svg in &svgs {
            balanced(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        }
        // w07 scored both days: one line; w09 never: no line, listed as unscored.
        assert!(svgs[1].contains("<polyline"));
        assert!(svgs[1].contains("w07 2026-11-30 93.0"));
        assert!(html.contains("w09（无得分）"));
        // One bar per phrase, the hostile phrase escaped inside the SVG too.
        assert_eq!(svgs[0].matches("<rect").count(), 2);
        assert!(svgs[0].contains("有意见找领导去（第十二条）"));
        assert!(svgs[0].contains("=cmd|&#39; /C calc&#39;!A0"));
        assert!(svgs[1].contains("w08&lt;b&gt; 2026-11-29 55.5"));
        assert!(balanced("<svg><g></svg>").is_err());
        assert!(balanced("<svg><line/></svg>").is_ok());
    }

    #[test]
    fn session_ticks_and_unscored_window_last() {
        let html = render(&sample(), "clips");
        let sessions = &html[html.find("id=\"sessions\"").unwrap()..];
        let row = &sessions[sessions.find("张三").unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("class=\"yes\">✓") && row.contains("class=\"no\">✗"),
            "{row}"
        );
        let windows =
            &html[html.find("id=\"windows\"").unwrap()..html.find("id=\"staff\"").unwrap()];
        assert!(windows.find("w07").unwrap() < windows.find("w09").unwrap());
        assert!(windows.contains("无得分"));
    }

    #[test]
    fn clips_are_relative_and_encoded() {
        let html = render(&sample(), "../clips");
        assert!(
            html.contains(
                "<audio controls preload=\"none\" src=\"../clips/w08/20261130-091203%20%231.opus\">"
            ),
            "{html}"
        );
        let href = |clips, clip| clip_href(clips, clip).unwrap();
        assert_eq!(href("clips", "javascript:x"), "clips/javascript%3Ax");
        assert_eq!(href("", "a\"b/c.opus"), "a%22b/c.opus");
        assert_eq!(href("c\\d", "窗/1.opus"), "c/d/%E7%AA%97/1.opus");
    }

    /// Issue 11: a clip path in the record made of `..`, a root, a backslash or NUL linked out
    /// of the clip folder.
    #[test]
    fn issue_11_hostile_clip_paths_from_the_record_link_nowhere() {
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "w07\\..\\..\\x.opus",
            "a\0b",
            "",
            "w07/./x",
        ] {
            assert_eq!(clip_href("../clips", bad), None, "{bad:?}");
            let mut r = sample();
            r.hits[0].clip = Some(bad.to_string());
            let html = render(&r, "../clips");
            assert!(html.contains("片段路径无效"), "{bad:?}");
            assert!(!html.contains("src=\"../clips/.."), "{bad:?}");
        }
    }

    #[test]
    fn a_hit_without_text_or_with_a_bad_span_still_shows() {
        let mut r = sample();
        // Into the middle of 有 (three bytes).
        r.hits[0].span = [26, 29];
        let html = render(&r, "clips");
        assert!(html.contains("命中：<mark>有意見找領導去</mark>"));
        assert!(html.contains("转写文本已按保留期删除"));
    }

    #[test]
    fn clock_times_read_as_local() {
        assert_eq!(clock("2026-11-30T08:30:05.250+08:00", true), "08:30:05");
        assert_eq!(
            when("2026-11-30", Some("2026-11-30T08:30:05.250+08:00"), false),
            "11-30 08:30:05"
        );
        assert_eq!(clock("garbage", true), "garbage");
        assert_eq!(offset(723.25), "12:03.2");
        assert_eq!(offset(3725.0), "1:02:05");
    }
}
