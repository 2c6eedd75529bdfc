//! From a number to its evidence: the banned hits counted per regulation clause, and the hits and
//! sessions behind a window's, a staff member's, a clause's or a phrase's count over a period.
//!
//! Both read the same [`Report`] the rankings come from, so a drill-down lists exactly the hits a
//! number counted (the hits of each day's shown lexicon version).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::{HitRow, Report, SessionRow};

/// The banned hits of one clause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClauseRow {
    pub clause: String,
    pub hits: usize,
    /// Each phrase of the clause heard, most frequent first.
    pub phrases: Vec<PhraseCount>,
    /// Windows and staff members it was heard at / from.
    pub windows: usize,
    pub staff: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhraseCount {
    pub phrase: String,
    pub hits: usize,
}

/// Banned hits per clause, most first (ties by clause).
pub fn clauses(report: &Report) -> Vec<ClauseRow> {
    #[derive(Default)]
    struct Acc<'a> {
        phrases: BTreeMap<&'a str, usize>,
        windows: BTreeSet<&'a str>,
        staff: BTreeSet<&'a str>,
        hits: usize,
    }
    let mut by: BTreeMap<&str, Acc> = BTreeMap::new();
    for h in &report.hits {
        let a = by.entry(h.clause.as_str()).or_default();
        a.hits += 1;
        *a.phrases.entry(h.phrase.as_str()).or_default() += 1;
        a.windows.insert(h.window.as_str());
        if let Some(s) = h.staff_id.as_deref() {
            a.staff.insert(s);
        }
    }
    let mut rows: Vec<ClauseRow> = by
        .into_iter()
        .map(|(clause, a)| {
            let mut phrases: Vec<PhraseCount> = a
                .phrases
                .into_iter()
                .map(|(p, n)| PhraseCount {
                    phrase: p.to_string(),
                    hits: n,
                })
                .collect();
            phrases.sort_by(|x, y| y.hits.cmp(&x.hits).then(x.phrase.cmp(&y.phrase)));
            ClauseRow {
                clause: clause.to_string(),
                hits: a.hits,
                phrases,
                windows: a.windows.len(),
                staff: a.staff.len(),
            }
        })
        .collect();
    rows.sort_by(|x, y| y.hits.cmp(&x.hits).then(x.clause.cmp(&y.clause)));
    rows
}

/// What a number is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", content = "value", rename_all = "lowercase")]
pub enum Drill {
    Window(String),
    Staff(String),
    Clause(String),
    Phrase(String),
}

impl Drill {
    /// From a query's `by` and `value` (`window`, `staff`, `clause`, `phrase`).
    pub fn parse(by: &str, value: &str) -> Result<Drill, String> {
        let v = value.to_string();
        match by {
            "window" => Ok(Drill::Window(v)),
            "staff" => Ok(Drill::Staff(v)),
            "clause" => Ok(Drill::Clause(v)),
            "phrase" => Ok(Drill::Phrase(v)),
            _ => Err(format!(
                "unknown drill-down `{by}` — use window, staff, clause or phrase"
            )),
        }
    }

    /// `window`, `staff`, `clause` or `phrase`.
    pub fn by(&self) -> &'static str {
        match self {
            Drill::Window(_) => "window",
            Drill::Staff(_) => "staff",
            Drill::Clause(_) => "clause",
            Drill::Phrase(_) => "phrase",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Drill::Window(v) | Drill::Staff(v) | Drill::Clause(v) | Drill::Phrase(v) => v,
        }
    }

    fn takes_hit(&self, h: &HitRow) -> bool {
        match self {
            Drill::Window(w) => &h.window == w,
            Drill::Staff(s) => h.staff_id.as_ref() == Some(s),
            Drill::Clause(c) => &h.clause == c,
            Drill::Phrase(p) => &h.phrase == p,
        }
    }

    fn takes_session(&self, s: &SessionRow) -> bool {
        match self {
            Drill::Window(w) => &s.window == w,
            Drill::Staff(id) => s.staff_id.as_ref() == Some(id),
            // A clause or phrase is about hits, not sessions.
            Drill::Clause(_) | Drill::Phrase(_) => false,
        }
    }
}

impl fmt::Display for Drill {
    /// For people: 窗口 w07, 人员 S01, 条款 …, 用语 ….
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Drill::Window(_) => "窗口",
            Drill::Staff(_) => "人员",
            Drill::Clause(_) => "条款",
            Drill::Phrase(_) => "用语",
        };
        write!(f, "{what} {}", self.value())
    }
}

/// The hits and sessions behind one number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub drill: Drill,
    pub from: String,
    pub to: String,
    /// By clock time, as in the report.
    pub hits: Vec<HitRow>,
    /// The sessions (greeting, farewell) of a window or staff member; empty for a clause or phrase.
    pub sessions: Vec<SessionRow>,
}

/// What the report holds about `drill`.
pub fn evidence(report: &Report, drill: Drill) -> Evidence {
    Evidence {
        from: report.from.clone(),
        to: report.to.clone(),
        hits: report
            .hits
            .iter()
            .filter(|h| drill.takes_hit(h))
            .cloned()
            .collect(),
        sessions: report
            .sessions
            .iter()
            .filter(|s| drill.takes_session(s))
            .cloned()
            .collect(),
        drill,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_count_every_hit_and_drills_find_them() {
        let r = crate::report::tests::sample();
        let rows = clauses(&r);
        let total: usize = rows.iter().map(|c| c.hits).sum();
        assert_eq!(total, r.hits.len());
        for c in &rows {
            let e = evidence(&r, Drill::Clause(c.clause.clone()));
            assert_eq!(e.hits.len(), c.hits, "{}", c.clause);
            assert!(e.sessions.is_empty());
            for p in &c.phrases {
                let e = evidence(&r, Drill::Phrase(p.phrase.clone()));
                assert!(e.hits.len() >= p.hits);
            }
        }
        for w in &r.windows {
            let e = evidence(&r, Drill::Window(w.window.clone()));
            assert!(e.hits.iter().all(|h| h.window == w.window));
            assert!(e.sessions.iter().all(|s| s.window == w.window));
        }
    }

    #[test]
    fn drills_parse_and_name_themselves() {
        let d = Drill::parse("staff", "S01").unwrap();
        assert_eq!((d.by(), d.value()), ("staff", "S01"));
        assert_eq!(d.to_string(), "人员 S01");
        assert!(Drill::parse("room", "x")
            .unwrap_err()
            .contains("window, staff"));
    }
}
