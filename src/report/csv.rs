//! The report's tables as CSV for Excel: UTF-8 with a BOM, RFC 4180 quoting, Chinese headers, one
//! table per file, and no cell that Excel would run as a formula.
//!
//! One file holds one table, so a caller writing a single file picks it with [`Table`]; the banned
//! hits are the default (the table the office acts on).

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use super::sheet::{self, Cell, Sheet};
use super::trend::Granularity;
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
    /// Banned hits per regulation clause.
    Clauses,
    /// Scores and banned hits per window and staff member per ISO week.
    Weeks,
    /// The same per calendar month.
    Months,
    /// Per phrase: hits, verdicts and the share judged false.
    Precision,
}

impl Table {
    pub const ALL: [Table; 8] = [
        Table::Windows,
        Table::Staff,
        Table::Hits,
        Table::Sessions,
        Table::Clauses,
        Table::Weeks,
        Table::Months,
        Table::Precision,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Windows => "windows",
            Table::Staff => "staff",
            Table::Hits => "hits",
            Table::Sessions => "sessions",
            Table::Clauses => "clauses",
            Table::Weeks => "weeks",
            Table::Months => "months",
            Table::Precision => "precision",
        }
    }

    /// The table of `report`.
    pub fn sheet(self, report: &Report) -> Sheet {
        match self {
            Table::Windows => sheet::windows(report),
            Table::Staff => sheet::staff(report),
            Table::Hits => sheet::hits(report),
            Table::Sessions => sheet::sessions(report),
            Table::Clauses => sheet::clauses(report),
            Table::Weeks => sheet::trend(report, Granularity::Week),
            Table::Months => sheet::trend(report, Granularity::Month),
            Table::Precision => sheet::precision(report),
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
                    "unknown CSV table `{s}` — use one of windows, staff, hits, sessions, \
                     precision, clauses, weeks, months"
                )
            })
    }
}

/// Writes one table of `report` to `out`.
pub fn write(report: &Report, table: Table, out: &mut dyn Write) -> io::Result<()> {
    write_sheet(&table.sheet(report), out)
}

/// The UTF-8 byte order mark: without it Excel reads the file as the local code page and the Chinese
/// comes out garbled.
pub const BOM: &[u8] = "\u{feff}".as_bytes();

/// Writes any sheet as CSV: the BOM, the header, every row; text cells defused.
pub fn write_sheet(sheet: &Sheet, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(BOM)?;
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(&sheet.header)?;
    for row in &sheet.rows {
        w.write_record(row.iter().map(|c| match c {
            Cell::Text(s) => cell(s),
            other => other.display(),
        }))?;
    }
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
            (Table::Clauses, 3, "条款"),
            (Table::Weeks, 8, "周"),
            (Table::Months, 5, "月"),
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
