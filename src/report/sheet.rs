//! The report's tables as rows of typed cells, defined once for every export: CSV writes them as
//! text, XLSX as text and numbers. Headers are in Chinese.

use super::drill::{self, ClauseRow};
use super::trend::{self, Granularity};
use super::{HitRow, Report, SessionRow, Subject, Totals};

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    /// A number and how many decimals people are shown.
    Num(f64, usize),
}

impl Cell {
    fn text(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }

    fn opt(s: Option<&str>) -> Cell {
        s.map_or(Cell::Empty, Cell::text)
    }

    fn score(s: Option<f64>) -> Cell {
        s.map_or(Cell::Empty, |v| Cell::Num(v, 1))
    }

    fn count(n: usize) -> Cell {
        Cell::Int(n as i64)
    }

    fn yes(b: bool) -> Cell {
        Cell::text(if b { "是" } else { "否" })
    }

    /// The cell as text, numbers with their decimals.
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(v, d) => format!("{v:.d$}"),
        }
    }
}

/// One table: a sheet of a workbook, or one CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// The sheet's name in a workbook (at most 31 characters, as Excel wants).
    pub name: String,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// The cells every ranked row shares: days, sessions, greetings, farewells, utterances, speech,
/// civil and banned hits.
const TOTALS: [&str; 9] = [
    "有得分天数",
    "天数",
    "服务次数",
    "来有迎声次数",
    "走有送声次数",
    "话语数",
    "说话秒数",
    "文明用语次数",
    "禁忌用语次数",
];

fn totals(days_scored: usize, days: usize, t: &Totals) -> [Cell; 9] {
    [
        Cell::count(days_scored),
        Cell::count(days),
        Cell::Int(t.sessions),
        Cell::Int(t.greeting_sessions),
        Cell::Int(t.farewell_sessions),
        Cell::Int(t.utterances),
        Cell::Num(t.speech_seconds, 1),
        Cell::Int(t.civil_hits),
        Cell::Int(t.banned_hits),
    ]
}

/// The reviewed cells every ranked row shares: reviewed score, banned hits left, judged hits.
const REVIEWED: [&str; 3] = [
    "审核后得分（日均）",
    "审核后禁忌用语次数",
    "已判定禁忌用语次数",
];

fn reviewed(score: Option<f64>, t: &Totals) -> [Cell; 3] {
    [
        Cell::score(score),
        Cell::Int(t.reviewed_banned_hits),
        Cell::Int(t.judged_hits),
    ]
}

fn rank(r: Option<usize>) -> Cell {
    r.map_or(Cell::Empty, Cell::count)
}

/// The windows ranked.
pub fn windows(r: &Report) -> Sheet {
    let mut header = vec!["名次", "窗口", "得分（日均）"];
    header.extend(TOTALS);
    header.extend(REVIEWED);
    header.push("未能分析文件数");
    Sheet {
        name: "窗口排名".into(),
        header,
        rows: r
            .windows
            .iter()
            .map(|x| {
                [rank(x.rank), Cell::text(&x.window), Cell::score(x.score)]
                    .into_iter()
                    .chain(totals(x.days_scored, x.days, &x.totals))
                    .chain(reviewed(x.reviewed_score, &x.totals))
                    .chain([Cell::Int(x.failed_files)])
                    .collect()
            })
            .collect(),
    }
}

/// The staff members ranked.
pub fn staff(r: &Report) -> Sheet {
    let mut header = vec!["名次", "工号", "姓名", "窗口", "得分（日均）"];
    header.extend(TOTALS);
    header.extend(REVIEWED);
    Sheet {
        name: "人员排名".into(),
        header,
        rows: r
            .staff
            .iter()
            .map(|x| {
                [
                    rank(x.rank),
                    Cell::text(&x.staff_id),
                    Cell::opt(x.name.as_deref()),
                    Cell::Text(x.windows.join("、")),
                    Cell::score(x.score),
                ]
                .into_iter()
                .chain(totals(x.days_scored, x.days, &x.totals))
                .chain(reviewed(x.reviewed_score, &x.totals))
                .collect()
            })
            .collect(),
    }
}

/// Every banned hit of the report with its evidence.
pub fn hits(r: &Report) -> Sheet {
    hit_rows("禁忌用语", &r.hits)
}

/// Banned hits with their evidence, under a sheet name.
pub fn hit_rows(name: &str, hits: &[HitRow]) -> Sheet {
    Sheet {
        name: name.into(),
        header: vec![
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
            "说话人",
            "说话人置信度",
        ],
        rows: hits
            .iter()
            .map(|h| {
                vec![
                    Cell::text(&h.day),
                    Cell::opt(h.clock_time.as_deref()),
                    Cell::text(&h.window),
                    Cell::opt(h.staff_id.as_deref()),
                    Cell::opt(h.staff_name.as_deref()),
                    Cell::text(&h.phrase),
                    Cell::text(&h.category),
                    Cell::Int(h.severity),
                    Cell::text(&h.clause),
                    Cell::text(&h.matched),
                    Cell::opt(h.text.as_deref()),
                    Cell::count(h.span[0]),
                    Cell::count(h.span[1]),
                    Cell::Num(h.confidence, 2),
                    Cell::text(&h.method),
                    Cell::text(&h.file),
                    Cell::Num(h.offset, 2),
                    Cell::Num(h.end, 2),
                    Cell::opt(h.clip.as_deref()),
                    Cell::text(&h.lexicon_version),
                    Cell::text(&h.item),
                    Cell::opt(h.verdict.as_deref()),
                    Cell::text(&h.speaker),
                    Cell::Num(h.speaker_confidence, 2),
                ]
            })
            .collect(),
    }
}

/// Greeting and farewell per session.
pub fn sessions(r: &Report) -> Sheet {
    session_rows("服务环节", &r.sessions)
}

/// Sessions under a sheet name.
pub fn session_rows(name: &str, sessions: &[SessionRow]) -> Sheet {
    Sheet {
        name: name.into(),
        header: vec![
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
        ],
        rows: sessions
            .iter()
            .map(|s| {
                vec![
                    Cell::text(&s.day),
                    Cell::opt(s.clock_start.as_deref()),
                    Cell::opt(s.clock_end.as_deref()),
                    Cell::text(&s.window),
                    Cell::opt(s.staff_id.as_deref()),
                    Cell::opt(s.staff_name.as_deref()),
                    Cell::yes(s.greeting),
                    Cell::yes(s.farewell),
                    Cell::Int(s.utterances),
                    Cell::Text(s.situations.join("、")),
                    Cell::Int(s.banned),
                    Cell::text(&s.file),
                    Cell::Num(s.start_s, 2),
                    Cell::Num(s.end_s, 2),
                ]
            })
            .collect(),
    }
}

/// Per phrase: machine hits, verdicts and the share judged false.
pub fn precision(r: &Report) -> Sheet {
    Sheet {
        name: "误报率".into(),
        header: vec![
            "短语",
            "机器命中次数",
            "已判定",
            "属实",
            "误报",
            "群众说的",
            "听不清",
            "误报率",
        ],
        rows: r
            .precision
            .iter()
            .map(|p| {
                vec![
                    Cell::text(&p.phrase),
                    Cell::Int(p.hits),
                    Cell::Int(p.judged),
                    Cell::Int(p.confirmed),
                    Cell::Int(p.false_alarm),
                    Cell::Int(p.citizen),
                    Cell::Int(p.unclear),
                    p.false_share.map_or(Cell::Empty, |x| Cell::Num(x, 3)),
                ]
            })
            .collect(),
    }
}

/// Banned hits per regulation clause, with the phrases heard.
pub fn clauses(r: &Report) -> Sheet {
    clause_rows(&drill::clauses(r))
}

fn clause_rows(rows: &[ClauseRow]) -> Sheet {
    Sheet {
        name: "条款统计".into(),
        header: vec!["条款", "禁忌用语次数", "窗口数", "人员数", "用语（次数）"],
        rows: rows
            .iter()
            .map(|c| {
                vec![
                    Cell::text(&c.clause),
                    Cell::count(c.hits),
                    Cell::count(c.windows),
                    Cell::count(c.staff),
                    Cell::Text(
                        c.phrases
                            .iter()
                            .map(|p| format!("{}（{}）", p.phrase, p.hits))
                            .collect::<Vec<_>>()
                            .join("、"),
                    ),
                ]
            })
            .collect(),
    }
}

/// Scores and banned hits per window and staff member per week or month.
pub fn trend(r: &Report, granularity: Granularity) -> Sheet {
    let t = trend::trend(r, granularity);
    let label = |key: &str| {
        t.buckets
            .iter()
            .find(|b| b.key == key)
            .map(|b| (b.from.clone(), b.to.clone()))
            .unwrap_or_default()
    };
    Sheet {
        name: format!("{}趋势", granularity.label()),
        header: vec![
            granularity.label(),
            "起",
            "止",
            "对象",
            "窗口/工号",
            "姓名",
            "得分（日均）",
            "有得分天数",
            "服务次数",
            "禁忌用语次数",
            "审核后得分（日均）",
            "审核后禁忌用语次数",
        ],
        rows: t
            .rows
            .iter()
            .map(|row| {
                let (from, to) = label(&row.bucket);
                vec![
                    Cell::text(&row.bucket),
                    Cell::Text(from),
                    Cell::Text(to),
                    Cell::text(match row.subject {
                        Subject::Window => "窗口",
                        Subject::Staff => "人员",
                    }),
                    Cell::text(&row.id),
                    Cell::opt(row.name.as_deref()),
                    Cell::score(row.score),
                    Cell::count(row.days_scored),
                    Cell::Int(row.sessions),
                    Cell::Int(row.banned_hits),
                    Cell::score(row.reviewed_score),
                    Cell::Int(row.reviewed_banned_hits),
                ]
            })
            .collect(),
    }
}

/// Every table of the report, in the order a workbook shows them.
pub fn all(r: &Report) -> Vec<Sheet> {
    vec![
        windows(r),
        staff(r),
        trend(r, Granularity::Week),
        trend(r, Granularity::Month),
        clauses(r),
        precision(r),
        hits(r),
        sessions(r),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_as_wide_as_its_header_and_names_fit_excel() {
        let r = crate::report::tests::sample();
        for s in all(&r) {
            assert!(s.name.chars().count() <= 31, "{}", s.name);
            for row in &s.rows {
                assert_eq!(row.len(), s.header.len(), "{}", s.name);
            }
        }
        assert_eq!(Cell::Num(91.456, 1).display(), "91.5");
        assert_eq!(Cell::Empty.display(), "");
    }
}
