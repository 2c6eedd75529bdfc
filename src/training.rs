//! Training sets: the confirmed clips of a staff member, each beside the civil wording that should
//! have been said (the lexicon's `instead`, or the trainer's own), gathered in a playlist and
//! printed as a one-page sheet.
//!
//! Candidates come from a period's [`Report`]: its banned hits whose latest verdict is 属实
//! (`confirmed`). A playlist keeps the review item, the utterance and the phrase; the sheet reads
//! the transcript, the hit and the clip back from the record.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::lexicon::{Kind, Lexicon};
use crate::report::html::{esc, marked};
use crate::report::{HitRow, Report};
use crate::store::{Playlist, Store, StoreError, Value};

/// The verdict that puts a hit on a training list.
pub const CONFIRMED: &str = "confirmed";

/// A confirmed hit a trainer may put on a playlist, with the suggested civil wording.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    #[serde(flatten)]
    pub hit: HitRow,
    /// The lexicon's `instead` for the phrase, if it has one.
    pub instead: Option<String>,
}

/// Each banned phrase's `instead`, by phrase.
pub fn suggestions(lexicon: &Lexicon) -> HashMap<String, String> {
    lexicon
        .of_kind(Kind::Banned)
        .filter_map(|e| e.instead.clone().map(|i| (e.phrase.clone(), i)))
        .collect()
}

/// The report's confirmed hits (of one staff member when `staff_id` is given), by clock time.
pub fn candidates(report: &Report, lexicon: &Lexicon, staff_id: Option<&str>) -> Vec<Candidate> {
    let instead = suggestions(lexicon);
    report
        .hits
        .iter()
        .filter(|h| h.verdict.as_deref() == Some(CONFIRMED))
        .filter(|h| staff_id.is_none() || h.staff_id.as_deref() == staff_id)
        .map(|h| Candidate {
            instead: instead.get(&h.phrase).cloned(),
            hit: h.clone(),
        })
        .collect()
}

/// One line of a printed sheet: what was said, where and when, and what to say instead.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SheetItem {
    pub position: i64,
    pub item: String,
    pub utterance_id: Option<i64>,
    pub phrase: String,
    pub window: Option<String>,
    pub day: Option<String>,
    /// When the phrase was said (the hit's clock time, else the utterance's).
    pub clock_time: Option<String>,
    pub clause: Option<String>,
    /// The transcript (masked); `None` after text retention.
    pub text: Option<String>,
    /// The hit's byte span in `text` and the words matched.
    pub span: [usize; 2],
    pub matched: String,
    /// The clip, relative to the clip folder.
    pub clip: Option<String>,
    pub instead: Option<String>,
}

/// The items of a playlist, in order, with their evidence read from the record (the newest
/// lexicon version's hit of the phrase in the utterance).
pub fn sheet_items(store: &Store, playlist_id: i64) -> Result<Vec<SheetItem>, StoreError> {
    store
        .query(
            "SELECT i.position AS position, i.item AS item, i.utterance_id AS utterance_id, \
             i.phrase AS phrase, i.instead AS instead, u.\"window\" AS \"window\", u.day AS day, \
             u.clock_start AS clock_start, u.text AS text, u.clip AS clip, \
             h.matched AS matched, h.span_start AS span_start, h.span_end AS span_end, \
             h.clause AS clause, h.clock_time AS clock_time \
             FROM playlist_items i \
             LEFT JOIN utterances u ON u.id = i.utterance_id \
             LEFT JOIN hits h ON h.id = (SELECT MAX(h2.id) FROM hits h2 \
               WHERE h2.utterance_id = i.utterance_id AND h2.phrase = i.phrase \
               AND h2.kind = 'banned') \
             WHERE i.playlist_id = $1 ORDER BY i.position",
            &[Value::Int(playlist_id)],
        )?
        .iter()
        .map(|r| {
            let span = |c| {
                r.opt_i64(c)
                    .map(|v| v.and_then(|v| usize::try_from(v).ok()).unwrap_or(0))
            };
            let phrase = r.opt_string("phrase")?.unwrap_or_default();
            Ok(SheetItem {
                position: r.i64("position")?,
                item: r.string("item")?,
                utterance_id: r.opt_i64("utterance_id")?,
                window: r.opt_string("window")?,
                day: r.opt_string("day")?,
                clock_time: r.opt_string("clock_time")?.or(r.opt_string("clock_start")?),
                clause: r.opt_string("clause")?,
                text: r.opt_string("text")?,
                span: [span("span_start")?, span("span_end")?],
                matched: r.opt_string("matched")?.unwrap_or_else(|| phrase.clone()),
                phrase,
                clip: r.opt_string("clip")?,
                instead: r.opt_string("instead")?,
            })
        })
        .collect()
}

/// The name the roster gives `staff_id` (the newest entry's).
pub fn staff_name(store: &Store, staff_id: &str) -> Result<Option<String>, StoreError> {
    Ok(store
        .query(
            "SELECT name FROM roster WHERE staff_id = $1 ORDER BY valid_from DESC LIMIT 1",
            &[Value::from(staff_id)],
        )?
        .first()
        .and_then(|r| r.opt_string("name").ok().flatten()))
}

/// The printable sheet: one A4 page (portrait) for about ten items, in Chinese, with print CSS;
/// a self-contained page (no script, no file fetched).
pub fn sheet_html(
    playlist: &Playlist,
    staff_name: Option<&str>,
    items: &[SheetItem],
    printed_at: &str,
) -> String {
    let who = match (&playlist.staff_id, staff_name) {
        (Some(id), Some(name)) => format!("{name}（{id}）"),
        (Some(id), None) => id.clone(),
        (None, _) => "全体人员".to_string(),
    };
    let mut rows = String::new();
    for (n, it) in items.iter().enumerate() {
        let when = it
            .clock_time
            .as_deref()
            .map(|t| t.get(..16).unwrap_or(t).replace('T', " "))
            .or_else(|| it.day.clone())
            .unwrap_or_default();
        let instead = match it.instead.as_deref() {
            Some(i) => format!("“{}”", esc(i)),
            None => "<span class=\"none\">（请培训人员填写）</span>".into(),
        };
        let _ = writeln!(
            rows,
            "<tr><td class=\"n\">{}</td><td class=\"when\">{}<br>{}</td>\
             <td class=\"said\"><span class=\"phrase\">{}</span>{}</td><td class=\"instead\">{instead}</td></tr>",
            n + 1,
            esc(&when),
            esc(it.window.as_deref().unwrap_or("")),
            esc(&it.phrase),
            marked(it.text.as_deref(), it.span, &it.matched),
        );
    }
    if items.is_empty() {
        rows.push_str("<tr><td colspan=\"4\" class=\"none\">此清单还没有条目。</td></tr>");
    }
    format!(
        r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>文明服务用语培训单 · {title}</title>
<style>{SHEET_CSS}</style>
</head>
<body>
<header><h1>文明服务用语培训单</h1>
<p class="meta"><span>对象：<strong>{who}</strong></span><span>清单：{title}</span><span>共 {count} 条</span><span>打印于 {printed}</span></p>
<p class="rule">依据《政务服务中心文明服务用语规范》：多说“请”字、少说“不”字；禁忌用语无论什么情况下都禁止使用。</p></header>
<table>
<thead><tr><th class="n">序号</th><th class="when">时间 · 窗口</th><th>当时所说（已核实）</th><th>应当这样说</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
<footer><span>培训人员：{by}</span><span>受训人签字：________________</span><span>日期：____年__月__日</span></footer>
</body>
</html>
"#,
        title = esc(&playlist.name),
        who = esc(&who),
        count = items.len(),
        printed = esc(printed_at),
        by = esc(&playlist.created_by),
    )
}

/// Fits one A4 page for about ten items: small type, no break inside a row, colours printed.
const SHEET_CSS: &str = r#"
@page{size:A4 portrait;margin:12mm 12mm 12mm 12mm}
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0 auto;max-width:186mm;font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC","WenQuanYi Micro Hei",sans-serif;font-size:10.5pt;line-height:1.4;color:#111}
h1{font-size:16pt;margin:0 0 2mm;text-align:center;letter-spacing:2px}
.meta{display:flex;flex-wrap:wrap;gap:2mm 8mm;justify-content:center;margin:0 0 1mm;font-size:9.5pt}
.rule{margin:0 0 3mm;font-size:9pt;color:#444;text-align:center}
table{width:100%;border-collapse:collapse;table-layout:fixed}
th,td{border:0.3mm solid #666;padding:1.4mm 2mm;vertical-align:top;text-align:left;word-break:break-all}
th{background:#e8edf3;font-weight:600;font-size:9.5pt}
tr{break-inside:avoid;page-break-inside:avoid}
.n{width:12mm;text-align:center}
.when{width:30mm;font-size:9pt;color:#333}
.instead{width:62mm;color:#0b5d1e;font-weight:600}
.phrase{display:block;font-size:8.5pt;color:#8a1c1c}
mark{background:#ffd8d8;color:#8a1c1c;padding:0 0.5mm}
.none,.gone{color:#777;font-weight:normal}
footer{display:flex;justify-content:space-between;margin-top:6mm;font-size:10pt}
@media screen{body{padding:10mm;background:#fff}}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: i64, text: &str, instead: Option<&str>) -> SheetItem {
        SheetItem {
            position: n,
            item: format!("hit:{n}:不知道"),
            utterance_id: Some(n),
            phrase: "不知道".into(),
            window: Some("w01".into()),
            day: Some("2026-11-30".into()),
            clock_time: Some("2026-11-30T09:20:00.000+08:00".into()),
            clause: Some("文明服务用语规范 三、禁忌用语".into()),
            text: Some(text.into()),
            span: [
                text.find("不知道").unwrap_or(0),
                text.find("不知道").unwrap_or(0) + 9,
            ],
            matched: "不知道".into(),
            clip: None,
            instead: instead.map(Into::into),
        }
    }

    fn playlist() -> Playlist {
        Playlist {
            id: 1,
            name: "张三 <十一月>".into(),
            staff_id: Some("S01".into()),
            created_by: "培训员甲".into(),
            created_at: "2026-12-01T08:00:00.000+08:00".into(),
            items: 2,
        }
    }

    #[test]
    fn the_sheet_marks_what_was_said_and_suggests_what_to_say() {
        let html = sheet_html(
            &playlist(),
            Some("张三"),
            &[
                item(
                    1,
                    "这个我不知道<script>",
                    Some("有什么需要请讲，我们会尽量帮您"),
                ),
                item(2, "不知道", None),
            ],
            "2026-12-01",
        );
        assert!(html.contains("张三（S01）"));
        assert!(html.contains("张三 &lt;十一月&gt;") && !html.contains("<十一月>"));
        assert!(html.contains("这个我<mark>不知道</mark>&lt;script&gt;"));
        assert!(html.contains("“有什么需要请讲，我们会尽量帮您”"));
        assert!(html.contains("（请培训人员填写）"));
        assert!(html.contains("2026-11-30 09:20<br>w01"));
        assert!(html.contains("@page{size:A4 portrait"));
        assert!(!html.contains("<script>"), "no script in the sheet");
    }

    #[test]
    fn candidates_are_the_confirmed_hits_with_the_lexicons_suggestion() {
        let report = crate::report::tests::sample();
        let lexicon = Lexicon::builtin().unwrap();
        let all = candidates(&report, &lexicon, None);
        assert_eq!(all.len(), 1, "one hit of the sample is confirmed");
        assert_eq!(all[0].hit.phrase, "有意见找领导去");
        assert_eq!(
            all[0].instead.as_deref(),
            Some("谢谢您的意见，我们会尽快研究改进")
        );
        let staff = all[0].hit.staff_id.clone();
        assert_eq!(candidates(&report, &lexicon, staff.as_deref()).len(), 1);
        assert!(candidates(&report, &lexicon, Some("nobody")).is_empty());
    }
}
