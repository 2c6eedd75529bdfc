//! The report's tables as CSV for Excel: UTF-8 with a BOM, RFC 4180 quoting, Chinese headers, one
//! table per file, and no cell that Excel would run as a formula.
//!
//! One file holds one table, so a caller writing a single file picks it with [`Table`]; the banned
//! hits are the default (the table the office acts on).

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use super::Report;

/// Which table to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Table {
    /// Windows ranked.
    Windows,
    /// Staff members ranked.
    Staff,
    /// Every banned hit with its evidence.
    #[default]
    Hits,
    /// Greeting and farewell per session.
    Sessions,
    /// Per phrase: hits, verdicts and the share judged false.
    Precision,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Windows,
        Table::Staff,
        Table::Hits,
        Table::Sessions,
        Table::Precision,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Windows => "windows",
            Table::Staff => "staff",
            Table::Hits => "hits",
            Table::Sessions => "sessions",
            Table::Precision => "precision",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = String;

    fn from_str(s: &str) -> Result<Table, String> {
        Table::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown CSV table `{s}` — use one of windows, staff, hits, sessions, precision"
                )
            })
    }
}

/// Writes one table of `report` to `out`.
pub fn write(report: &Report, table: Table, out: &mut dyn Write) -> io::Result<()> {
    match table {
        Table::Windows => windows(report, out),
        Table::Staff => staff(report, out),
        Table::Hits => hits(report, out),
        Table::Sessions => sessions(report, out),
        Table::Precision => precision(report, out),
    }
}

/// The UTF-8 byte order mark: without it Excel reads the file as the local code page and the Chinese
/// comes out garbled.
pub const BOM: &[u8] = "\u{feff}".as_bytes();

fn writer(out: &mut dyn Write) -> io::Result<csv::Writer<&mut dyn Write>> {
    out.write_all(BOM)?;
    Ok(csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::CRLF)
        .from_writer(out))
}

fn finish(w: csv::Writer<&mut dyn Write>) -> io::Result<()> {
    w.into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?
        .flush()
}

/// A cell Excel will show as text: one starting with `=`, `+`, `-`, `@` (or a tab or carriage return,
/// which Excel strips before looking) gets a leading `'`.
pub fn cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

fn opt(s: Option<&str>) -> String {
    s.map(cell).unwrap_or_default()
}

fn score(s: Option<f64>) -> String {
    s.map(|s| format!("{s:.1}")).unwrap_or_default()
}

fn rank(r: Option<usize>) -> String {
    r.map(|r| r.to_string()).unwrap_or_default()
}

fn yes(b: bool) -> String {
    if b { "是" } else { "否" }.to_string()
}

/// The windows ranked, as CSV.
pub fn windows(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = writer(out)?;
    w.write_record([
        "名次",
        "窗口",
        "得分（日均）",
        "有得分天数",
        "天数",
        "服务次数",
        "来有迎声次数",
        "走有送声次数",
        "话语数",
        "说话秒数",
        "文明用语次数",
        "禁忌用语次数",
        "审核后得分（日均）",
        "审核后禁忌用语次数",
        "已判定禁忌用语次数",
        "未能分析文件数",
    ])?;
    for x in &r.windows {
        let t = &x.totals;
        let row = [rank(x.rank), cell(&x.window), score(x.score)]
            .into_iter()
            .chain(totals(x.days_scored, x.days, t))
            .chain(reviewed(x.reviewed_score, t))
            .chain([x.failed_files.to_string()]);
        w.write_record(row)?;
    }
    finish(w)
}

/// The cells every ranked row shares: days, sessions, greetings, farewells, utterances, speech,
/// civil and banned hits.
fn totals(days_scored: usize, days: usize, t: &super::Totals) -> [String; 9] {
    [
        days_scored.to_string(),
        days.to_string(),
        t.sessions.to_string(),
        t.greeting_sessions.to_string(),
        t.farewell_sessions.to_string(),
        t.utterances.to_string(),
        format!("{:.1}", t.speech_seconds),
        t.civil_hits.to_string(),
        t.banned_hits.to_string(),
    ]
}

/// The reviewed cells every ranked row shares: reviewed score, banned hits left, judged hits.
fn reviewed(s: Option<f64>, t: &super::Totals) -> [String; 3] {
    [
        score(s),
        t.reviewed_banned_hits.to_string(),
        t.judged_hits.to_string(),
    ]
}

/// The staff members ranked, as CSV.
pub fn staff(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = writer(out)?;
    w.write_record([
        "名次",
        "工号",
        "姓名",
        "窗口",
        "得分（日均）",
        "有得分天数",
        "天数",
        "服务次数",
        "来有迎声次数",
        "走有送声次数",
        "话语数",
        "说话秒数",
        "文明用语次数",
        "禁忌用语次数",
        "审核后得分（日均）",
        "审核后禁忌用语次数",
        "已判定禁忌用语次数",
    ])?;
    for x in &r.staff {
        let t = &x.totals;
        let row = [
            rank(x.rank),
            cell(&x.staff_id),
            opt(x.name.as_deref()),
            cell(&x.windows.join("、")),
            score(x.score),
        ]
        .into_iter()
        .chain(totals(x.days_scored, x.days, t))
        .chain(reviewed(x.reviewed_score, t));
        w.write_record(row)?;
    }
    finish(w)
}

/// Every banned hit with its evidence, as CSV.
pub fn hits(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = writer(out)?;
    w.write_record([
        "日期",
        "时间",
        "窗口",
        "工号",
        "姓名",
        "禁忌用语",
        "类别",
        "严重程度",
        "条款",
        "命中文字",
        "转写文本",
        "命中起始字节",
        "命中结束字节",
        "置信度",
        "识别方式",
        "录音文件",
        "起始秒",
        "结束秒",
        "片段",
        "词库版本",
        "审核项",
        "审核结论",
    ])?;
    for h in &r.hits {
        w.write_record([
            cell(&h.day),
            opt(h.clock_time.as_deref()),
            cell(&h.window),
            opt(h.staff_id.as_deref()),
            opt(h.staff_name.as_deref()),
            cell(&h.phrase),
            cell(&h.category),
            h.severity.to_string(),
            cell(&h.clause),
            cell(&h.matched),
            opt(h.text.as_deref()),
            h.span[0].to_string(),
            h.span[1].to_string(),
            format!("{:.2}", h.confidence),
            cell(&h.method),
            cell(&h.file),
            format!("{:.2}", h.offset),
            format!("{:.2}", h.end),
            opt(h.clip.as_deref()),
            cell(&h.lexicon_version),
            cell(&h.item),
            opt(h.verdict.as_deref()),
        ])?;
    }
    finish(w)
}

/// Greeting and farewell per session, as CSV.
pub fn sessions(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = writer(out)?;
    w.write_record([
        "日期",
        "开始时间",
        "结束时间",
        "窗口",
        "工号",
        "姓名",
        "来有迎声",
        "走有送声",
        "话语数",
        "文明用语情形",
        "禁忌用语次数",
        "录音文件",
        "起始秒",
        "结束秒",
    ])?;
    for s in &r.sessions {
        w.write_record([
            cell(&s.day),
            opt(s.clock_start.as_deref()),
            opt(s.clock_end.as_deref()),
            cell(&s.window),
            opt(s.staff_id.as_deref()),
            opt(s.staff_name.as_deref()),
            yes(s.greeting),
            yes(s.farewell),
            s.utterances.to_string(),
            cell(&s.situations.join("、")),
            s.banned.to_string(),
            cell(&s.file),
            format!("{:.2}", s.start_s),
            format!("{:.2}", s.end_s),
        ])?;
    }
    finish(w)
}

/// Per phrase: machine hits, verdicts and the share judged false, as CSV.
pub fn precision(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut w = writer(out)?;
    w.write_record([
        "短语",
        "机器命中次数",
        "已判定",
        "属实",
        "误报",
        "群众说的",
        "听不清",
        "误报率",
    ])?;
    for p in &r.precision {
        w.write_record([
            cell(&p.phrase),
            p.hits.to_string(),
            p.judged.to_string(),
            p.confirmed.to_string(),
            p.false_alarm.to_string(),
            p.citizen.to_string(),
            p.unclear.to_string(),
            p.false_share
                .map(|x| format!("{:.3}", x))
                .unwrap_or_default(),
        ])?;
    }
    finish(w)
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    fn table(t: Table) -> String {
        let mut out = Vec::new();
        write(&sample(), t, &mut out).unwrap();
        assert!(out.starts_with(BOM), "{t} has no BOM");
        String::from_utf8(out[BOM.len()..].to_vec()).unwrap()
    }

    /// Reads the CSV back as Excel or any RFC 4180 reader would.
    fn records(text: &str) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect()
    }

    #[test]
    fn hits_table_quotes_and_round_trips() {
        let text = table(Table::Hits);
        let rows = records(&text);
        assert_eq!(rows.len(), 3, "a header and two hits");
        assert_eq!(rows[0][0], "日期");
        assert_eq!(rows[1][10], "<script>alert(1)</script>有意見找領導去！");
        assert_eq!(rows[2][15], "/rec/w08/a,\"b\".wav");
        // RFC 4180: the field is quoted and its quotes doubled.
        assert!(text.contains("\"/rec/w08/a,\"\"b\"\".wav\""), "{text}");
        assert!(text.contains("\r\n"));
        assert_eq!(rows[1].len(), rows[0].len());
    }

    #[test]
    fn formula_cells_are_defused() {
        let rows = records(&table(Table::Hits));
        assert_eq!(rows[2][5], "'=cmd|' /C calc'!A0");
        for (s, want) in [
            ("=1+1", "'=1+1"),
            ("+86", "'+86"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("有意见", "有意见"),
            ("", ""),
        ] {
            assert_eq!(cell(s), want);
        }
    }

    #[test]
    fn every_table_has_a_bom_a_header_and_its_rows() {
        for (t, rows, first) in [
            (Table::Windows, 4, "名次"),
            (Table::Staff, 3, "名次"),
            (Table::Hits, 3, "日期"),
            (Table::Sessions, 3, "日期"),
            (Table::Precision, 3, "短语"),
        ] {
            let r = records(&table(t));
            assert_eq!(r.len(), rows, "{t}");
            assert_eq!(r[0][0], first, "{t}");
        }
        let w = records(&table(Table::Windows));
        assert_eq!(w[3][..3], ["".to_string(), "w09".into(), "".into()]);
        let s = records(&table(Table::Sessions));
        assert_eq!(s[1][6..8], ["是".to_string(), "否".into()]);
        // Reviewed beside the machine: w08<b> has 2 banned hits, 1 left after review, 2 judged.
        let w08 = w.iter().find(|r| r[1] == "w08<b>").unwrap();
        assert_eq!(w08[2], "40.2");
        assert_eq!(w08[12..15], ["70.2".to_string(), "1".into(), "2".into()]);
        let p = records(&table(Table::Precision));
        assert_eq!(p[1][0], "'=cmd|' /C calc'!A0");
        assert_eq!(p[1][7], "1.000");
        assert_eq!(
            p[2][1..8],
            ["1", "2", "1", "0", "0", "1", "0.000"].map(String::from)
        );
        let h = records(&table(Table::Hits));
        assert_eq!(h[1][21], "confirmed");
    }

    #[test]
    fn table_names_parse() {
        assert_eq!("hits".parse::<Table>(), Ok(Table::Hits));
        assert_eq!(Table::default(), Table::Hits);
        let e = "rows".parse::<Table>().unwrap_err();
        assert!(
            e.contains("windows, staff, hits, sessions, precision"),
            "{e}"
        );
    }
}
