//! The staff roster: who sat at which window when, read from a CSV the office keeps in Excel.
//!
//! Columns, in this order: window, staff id, name, from, to. A header row is optional (it is
//! recognised by having no digits where the first date belongs; a header naming the columns in
//! another order is followed). `from`/`to` are local dates (`2026-11-30`: the whole day, `to`
//! inclusive) or datetimes (`2026-11-30 08:00`, `2026-11-30T08:00:00`, also with `/`), read in the
//! centre's offset; each row covers the half-open interval [from, to). One person per window at a
//! time: overlaps are an error naming both lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use serde::Serialize;

/// One person on duty at one window for one stretch of time, [from, to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterEntry {
    pub window: String,
    pub staff_id: String,
    pub name: String,
    pub from: DateTime<FixedOffset>,
    pub to: DateTime<FixedOffset>,
}

/// Who was on duty where, with lookups by window and time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    entries: Vec<RosterEntry>,
    /// Upper-cased window → indexes into `entries`, sorted by `from`.
    by_window: HashMap<String, Vec<usize>>,
}

/// A roster file that could not be used: one line, `file:line: what is wrong — the fix`.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", .path.display())]
pub struct RosterError {
    pub path: PathBuf,
    /// 1-based line of the file; 0 when the whole file is at fault.
    pub line: usize,
    pub message: String,
}

const COLUMNS: [&str; 5] = ["window", "staff id", "name", "from", "to"];

/// Header names accepted for each column (lower-cased, spaces and underscores removed).
const HEADER_NAMES: [&[&str]; 5] = [
    &["window", "窗口", "窗口号"],
    &["staffid", "staff", "id", "工号", "员工编号", "编号"],
    &["name", "姓名", "名字"],
    &["from", "validfrom", "start", "开始", "开始时间", "起"],
    &["to", "validto", "end", "until", "结束", "结束时间", "止"],
];

impl Roster {
    /// Reads a roster CSV (UTF-8, with or without BOM); see the [module docs](self).
    pub fn from_csv(path: &Path, tz: FixedOffset) -> Result<Roster, RosterError> {
        let bytes = std::fs::read(path).map_err(|e| RosterError {
            path: path.to_path_buf(),
            line: 0,
            message: format!("cannot read it ({e}) — check the path"),
        })?;
        Roster::from_csv_bytes(path, &bytes, tz)
    }

    /// Reads roster CSV content; `path` only names the file in errors.
    pub fn from_csv_bytes(
        path: &Path,
        bytes: &[u8],
        tz: FixedOffset,
    ) -> Result<Roster, RosterError> {
        let err = |line: usize, message: String| RosterError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if let Err(e) = std::str::from_utf8(bytes) {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return Err(err(
                line,
                "not UTF-8 — save it as CSV UTF-8 from Excel".into(),
            ));
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let mut order: [usize; 5] = [0, 1, 2, 3, 4];
        let mut rows: Vec<(usize, RosterEntry)> = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                err(line, format!("{e} — fix the CSV quoting"))
            })?;
            let line = record.position().map_or(i + 1, |p| p.line() as usize);
            let fields: Vec<&str> = record.iter().collect();
            if fields.iter().all(|f| f.is_empty()) {
                continue;
            }
            if i == 0
                && fields
                    .get(3)
                    .is_none_or(|f| !f.bytes().any(|b| b.is_ascii_digit()))
            {
                if let Some(o) = header_order(&fields) {
                    order = o;
                }
                continue;
            }
            // Excel adds empty cells at the end of a row; anything else extra is a mistake.
            let used = fields
                .iter()
                .rposition(|f| !f.is_empty())
                .map_or(0, |p| p + 1);
            if used > 5 {
                return Err(err(
                    line,
                    format!(
                        "{used} columns, expected 5 ({}) — remove the extra ones",
                        COLUMNS.join(", ")
                    ),
                ));
            }
            let cell = |c: usize| fields.get(order[c]).copied().unwrap_or("");
            for (c, name) in COLUMNS.iter().enumerate() {
                if fields.len() <= order[c] {
                    return Err(err(
                        line,
                        format!(
                            "missing column {name}: {} of 5 columns ({}) — add it",
                            fields.len(),
                            COLUMNS.join(", ")
                        ),
                    ));
                }
                if cell(c).is_empty() {
                    return Err(err(line, format!("empty {name} — fill it in")));
                }
            }
            let from = parse_time(cell(3), tz, false)
                .ok_or_else(|| err(line, bad_time("from", cell(3))))?;
            let to =
                parse_time(cell(4), tz, true).ok_or_else(|| err(line, bad_time("to", cell(4))))?;
            if to <= from {
                return Err(err(
                    line,
                    format!(
                        "to {} is not after from {} — swap them or fix the date",
                        cell(4),
                        cell(3)
                    ),
                ));
            }
            rows.push((
                line,
                RosterEntry {
                    window: cell(0).to_string(),
                    staff_id: cell(1).to_string(),
                    name: cell(2).to_string(),
                    from,
                    to,
                },
            ));
        }
        Roster::build(rows).map_err(|(line, message)| err(line, message))
    }

    /// A roster from entries already checked once (e.g. read back from the record); overlaps are
    /// still refused, the message naming the entries by their position (1-based).
    pub fn from_entries(entries: Vec<RosterEntry>) -> Result<Roster, String> {
        Roster::build(
            entries
                .into_iter()
                .enumerate()
                .map(|(i, e)| (i + 1, e))
                .collect(),
        )
        .map_err(|(n, m)| format!("roster entry {n}: {m}"))
    }

    fn build(rows: Vec<(usize, RosterEntry)>) -> Result<Roster, (usize, String)> {
        let mut by_window: HashMap<String, Vec<usize>> = HashMap::new();
        let mut lines = Vec::with_capacity(rows.len());
        let mut entries = Vec::with_capacity(rows.len());
        for (line, e) in rows {
            let same = by_window.entry(e.window.to_ascii_uppercase()).or_default();
            if let Some(&k) = same.iter().find(|&&k| {
                let o: &RosterEntry = &entries[k];
                o.from < e.to && e.from < o.to
            }) {
                let o: &RosterEntry = &entries[k];
                let fix = if o.staff_id == e.staff_id {
                    "the same person twice: merge the two rows"
                } else {
                    "one person per window at a time: fix the times"
                };
                return Err((
                    line,
                    format!(
                        "window {} has {} ({}) from {} to {} on line {} too — {fix}",
                        e.window,
                        o.name,
                        o.staff_id,
                        o.from.format("%Y-%m-%d %H:%M"),
                        o.to.format("%Y-%m-%d %H:%M"),
                        lines[k]
                    ),
                ));
            }
            same.push(entries.len());
            lines.push(line);
            entries.push(e);
        }
        for ids in by_window.values_mut() {
            ids.sort_by_key(|&k| entries[k].from);
        }
        Ok(Roster { entries, by_window })
    }

    /// Who was on duty at `window` at `at` (windows compare ignoring ASCII case: `w07` = `W07`).
    pub fn on_duty(&self, window: &str, at: DateTime<FixedOffset>) -> Option<&RosterEntry> {
        let ids = self.by_window.get(&window.to_ascii_uppercase())?;
        // Sorted by `from` and not overlapping: the last entry starting at or before `at`.
        let n = ids.partition_point(|&k| self.entries[k].from <= at);
        let e = &self.entries[*ids.get(n.checked_sub(1)?)?];
        (at < e.to).then_some(e)
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[RosterEntry] {
        &self.entries
    }

    /// True when the roster has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn bad_time(column: &str, value: &str) -> String {
    format!("{column} “{value}” is not a date or time — write 2026-11-30 or 2026-11-30 08:00")
}

/// Column order named by a header row, when it names all five columns.
fn header_order(fields: &[&str]) -> Option<[usize; 5]> {
    let mut order = [usize::MAX; 5];
    for (i, f) in fields.iter().enumerate() {
        let key: String = f
            .to_lowercase()
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .collect();
        if let Some(c) = HEADER_NAMES
            .iter()
            .position(|names| names.contains(&key.as_str()))
        {
            if order[c] == usize::MAX {
                order[c] = i;
            }
        }
    }
    order.iter().all(|&i| i != usize::MAX).then_some(order)
}

/// A local date or datetime in `tz`; a bare date is its midnight, or the next midnight for an
/// inclusive end.
fn parse_time(s: &str, tz: FixedOffset, end: bool) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&tz));
    }
    let norm = s.replace('/', "-").replacen('T', " ", 1);
    let naive = if let Ok(d) = NaiveDate::parse_from_str(&norm, "%Y-%m-%d") {
        let d = if end {
            d.checked_add_days(Days::new(1))?
        } else {
            d
        };
        d.and_hms_opt(0, 0, 0)?
    } else {
        ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(&norm, f).ok())?
    };
    tz.from_local_datetime(&naive).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cst() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn read(text: &str) -> Result<Roster, RosterError> {
        Roster::from_csv_bytes(Path::new("roster.csv"), text.as_bytes(), cst())
    }

    fn err(text: &str) -> String {
        read(text).unwrap_err().to_string()
    }

    #[test]
    fn dates_cover_whole_days_and_datetimes_are_half_open() {
        let r = read(
            "W07,S001,张三,2026-11-30,2026-11-30\n\
             W08,S002,李四,2026-11-30 08:00,2026-11-30T12:00:00\n\
             W08,S003,王五,2026/11/30 12:00,2026/11/30 17:30\n",
        )
        .unwrap();
        assert_eq!(r.entries().len(), 3);
        let e = &r.entries()[0];
        assert_eq!(
            (e.from, e.to),
            (
                at("2026-11-30T00:00:00+08:00"),
                at("2026-12-01T00:00:00+08:00")
            )
        );
        assert_eq!(
            r.on_duty("W07", at("2026-11-30T23:59:59+08:00"))
                .unwrap()
                .name,
            "张三"
        );
        assert!(r.on_duty("W07", at("2026-12-01T00:00:00+08:00")).is_none());
        assert!(r.on_duty("W07", at("2026-11-29T23:59:59+08:00")).is_none());
        // The hand-over at noon belongs to the one who starts.
        assert_eq!(
            r.on_duty("W08", at("2026-11-30T11:59:59+08:00"))
                .unwrap()
                .staff_id,
            "S002"
        );
        assert_eq!(
            r.on_duty("w08", at("2026-11-30T12:00:00+08:00"))
                .unwrap()
                .staff_id,
            "S003"
        );
        // The same instant written in UTC.
        assert_eq!(
            r.on_duty("W08", at("2026-11-30T04:00:00Z"))
                .unwrap()
                .staff_id,
            "S003"
        );
        assert!(r.on_duty("W08", at("2026-11-30T17:30:00+08:00")).is_none());
        assert!(r.on_duty("W09", at("2026-11-30T10:00:00+08:00")).is_none());
    }

    #[test]
    fn header_and_bom_are_optional_and_a_header_may_reorder() {
        let plain = read("W07,S001,张三,2026-11-30,2026-11-30\n").unwrap();
        let with_header =
            read("\u{feff}窗口,工号,姓名,开始,结束\r\nW07,S001,张三,2026-11-30,2026-11-30\r\n")
                .unwrap();
        assert_eq!(plain.entries(), with_header.entries());
        let reordered =
            read("name,staff_id,window,from,to\n张三,S001,W07,2026-11-30,2026-11-30\n").unwrap();
        assert_eq!(plain.entries(), reordered.entries());
        // Excel's empty trailing cells and blank lines are fine.
        let excel =
            read("window,staff id,name,from,to,,\nW07,S001,张三,2026-11-30,2026-11-30,,\n,,,,\n\n")
                .unwrap();
        assert_eq!(plain.entries(), excel.entries());
    }

    #[test]
    fn gbk_file_says_how_to_save_it() {
        // "W07,S001," then 张三 in GBK.
        let mut bytes = b"window,staff id,name,from,to\nW07,S001,".to_vec();
        bytes.extend([0xD5, 0xC5, 0xC8, 0xFD]);
        bytes.extend(b",2026-11-30,2026-11-30\n");
        let e = Roster::from_csv_bytes(Path::new("r.csv"), &bytes, cst()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.csv:2: not UTF-8 — save it as CSV UTF-8 from Excel"
        );
    }

    #[test]
    fn bad_rows_name_file_line_and_fix() {
        let e = err("window,staff,name,from,to\nW07,S001,张三,2026-11-30\n");
        assert!(e.starts_with("roster.csv:2: missing column to"), "{e}");
        let e = err("W07,S001,张三,2026-11-31,2026-12-01\n");
        assert!(
            e.starts_with("roster.csv:1: from “2026-11-31” is not a date"),
            "{e}"
        );
        assert!(e.contains("write 2026-11-30"), "{e}");
        let e = err("W07,S001,张三,2026-11-30,tomorrow\n");
        assert!(e.starts_with("roster.csv:1: to “tomorrow”"), "{e}");
        let e = err("W07,S001,张三,2026-11-30 12:00,2026-11-30 08:00\n");
        assert!(
            e.starts_with("roster.csv:1: to 2026-11-30 08:00 is not after from"),
            "{e}"
        );
        assert!(e.contains("swap them"), "{e}");
        let e = err("W07,,张三,2026-11-30,2026-11-30\n");
        assert!(e.starts_with("roster.csv:1: empty staff id"), "{e}");
        let e = err("W07,S001,张三,2026-11-30,2026-11-30,extra\n");
        assert!(e.contains("6 columns"), "{e}");
        // A first row with a broken date is data with an error, not a header.
        let e = err("W07,S001,张三,2026-13-01,2026-11-30\n");
        assert!(e.starts_with("roster.csv:1: from"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn overlaps_on_one_window_are_refused_with_both_lines() {
        let e = err("W07,S001,张三,2026-11-30 08:00,2026-11-30 12:00\n\
             W08,S002,李四,2026-11-30 08:00,2026-11-30 12:00\n\
             w07,S003,王五,2026-11-30 11:00,2026-11-30 17:00\n");
        assert!(
            e.starts_with("roster.csv:3: window w07 has 张三 (S001)"),
            "{e}"
        );
        assert!(
            e.contains("on line 1") && e.contains("one person per window"),
            "{e}"
        );
        let e = err("W07,S001,张三,2026-11-01,2026-11-30\nW07,S001,张三,2026-11-30,2026-11-30\n");
        assert!(e.contains("merge the two rows"), "{e}");
        // Back to back is no overlap.
        read("W07,S001,张三,2026-11-30,2026-11-30\nW07,S002,李四,2026-12-01,2026-12-01\n").unwrap();
    }

    #[test]
    fn from_entries_and_missing_file() {
        let r = read("W07,S001,张三,2026-11-30,2026-11-30\n").unwrap();
        let again = Roster::from_entries(r.entries().to_vec()).unwrap();
        assert_eq!(again, r);
        let mut twice = r.entries().to_vec();
        twice.extend(r.entries().to_vec());
        assert!(Roster::from_entries(twice)
            .unwrap_err()
            .starts_with("roster entry 2:"));
        let e = Roster::from_csv(Path::new("/nonexistent/roster.csv"), cst()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/roster.csv:0: cannot read it"),
            "{e}"
        );
    }
}
