//! The day's report from the record: what a period's stored scores, sessions and hits say, ready to render.
//!
//! [`query`] reads the record into a [`Report`]; [`html`], [`csv`] and [`json`] write it. Rankings over
//! more than one day are the mean of the daily scores (a day counts once whatever it held), so a quiet day
//! weighs as much as a busy one; days with nothing said have no score and do not count.
//!
//! Beside the machine's numbers stand the reviewed ones (the trainers' verdicts applied: hits judged
//! a false alarm or the citizen's words dropped), and per phrase the share of judged hits that were
//! false alarms — the office's measure of the rules' precision.

pub mod chart;
pub mod csv;
pub mod drill;
pub mod html;
pub mod json;
mod query;
pub mod sheet;
pub mod trend;
pub mod xlsx;

use std::cmp::Ordering;
use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

pub use query::query;

/// The days a report covers, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A period whose end lies before its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodError {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl fmt::Display for PeriodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "report period {} to {} ends before it starts — swap --from and --to",
            self.from, self.to
        )
    }
}

impl std::error::Error for PeriodError {}

impl Period {
    /// One day.
    pub fn day(day: NaiveDate) -> Period {
        Period { from: day, to: day }
    }

    /// The days from `from` to `to`, both included.
    pub fn range(from: NaiveDate, to: NaiveDate) -> Result<Period, PeriodError> {
        if to < from {
            return Err(PeriodError { from, to });
        }
        Ok(Period { from, to })
    }

    /// Every day of the period, in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        let to = self.to;
        self.from.iter_days().take_while(move |d| *d <= to)
    }

    /// Whether the period is a single day.
    pub fn is_single_day(&self) -> bool {
        self.from == self.to
    }
}

/// How the rankings were computed, stated in every rendering.
pub const RANKING_RULE: &str =
    "多日排名按每日得分的平均值计算（每天权重相同）；未说话的日子无得分、不计入平均；整个期间无得分者列于最后、不参与排名。";

/// How the false-alarm share per phrase is computed, stated in every rendering.
pub const PRECISION_RULE: &str =
    "误报率 = 判为“误报”的条数 ÷ 已判定的条数（“听不清”不计）；“群众说的”算作识别正确（话确实有人说了），但不计入得分。审核后得分去掉判为误报或群众说的命中，未判定的按机器结果计。";

/// Everything a report shows, read from the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First day (`YYYY-MM-DD`).
    pub from: String,
    /// Last day (`YYYY-MM-DD`).
    pub to: String,
    /// When the report was made (RFC 3339, local time).
    pub generated_at: String,
    /// How rankings over several days are computed ([`RANKING_RULE`]).
    pub ranking: String,
    /// The lexicon versions of the days shown.
    pub lexicon_versions: Vec<String>,
    /// Which lexicon version each day is shown with, and the run that wrote its scores.
    pub day_versions: Vec<DayVersion>,
    /// The runs whose results are shown.
    pub runs: Vec<RunRow>,
    /// Windows ranked by the mean of their daily scores, best first; unscored ones last, unranked.
    pub windows: Vec<WindowRow>,
    /// Staff members ranked the same way.
    pub staff: Vec<StaffRow>,
    /// The trend: one row per (day, window) and per (day, staff member).
    pub days: Vec<DayRow>,
    /// Every banned hit of the period, by clock time.
    pub hits: Vec<HitRow>,
    /// Greeting and farewell of every service session, by clock time.
    pub sessions: Vec<SessionRow>,
    /// Files and hours of audio of the period.
    pub recordings: RecordingStats,
    /// Files that could not be analysed.
    pub failures: Vec<FailureRow>,
    /// How each phrase's hits were judged, worst false-alarm share first ([`PRECISION_RULE`]).
    pub precision: Vec<PhrasePrecision>,
    /// [`PRECISION_RULE`].
    pub precision_rule: String,
}

/// One phrase's hits of the period and the trainers' verdicts on them (latest per item).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PhrasePrecision {
    pub phrase: String,
    /// Banned hits of the period as the machine found them.
    pub hits: i64,
    /// Items with a verdict (a verdict covers every find of the phrase in one utterance).
    pub judged: i64,
    pub confirmed: i64,
    pub false_alarm: i64,
    pub citizen: i64,
    pub unclear: i64,
    /// `false_alarm / (judged − unclear)`; `None` until one is decided.
    pub false_share: Option<f64>,
}

/// The lexicon version a day is reported with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayVersion {
    pub day: String,
    pub lexicon_version: String,
    /// The run that wrote the day's window scores with this version (the newest one).
    pub run_id: i64,
}

/// A run whose results a report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub id: i64,
    /// `batch` or `rescore`.
    pub kind: String,
    /// `courtesy x.y.z`.
    pub program: String,
    pub model_sha256: Option<String>,
    pub lexicon_version: String,
    pub host: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// `running`, `done` or `failed`.
    pub status: String,
}

/// The counts summed over a period's days (the same columns for windows and staff members).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub sessions: i64,
    pub utterances: i64,
    pub speech_seconds: f64,
    pub greeting_sessions: i64,
    pub farewell_sessions: i64,
    pub civil_hits: i64,
    pub banned_hits: i64,
    /// Banned hits left once the verdicts are applied.
    pub reviewed_banned_hits: i64,
    /// Banned hits with a verdict.
    pub judged_hits: i64,
}

impl Totals {
    fn add(&mut self, o: &Totals) {
        self.sessions += o.sessions;
        self.utterances += o.utterances;
        self.speech_seconds += o.speech_seconds;
        self.greeting_sessions += o.greeting_sessions;
        self.farewell_sessions += o.farewell_sessions;
        self.civil_hits += o.civil_hits;
        self.banned_hits += o.banned_hits;
        self.reviewed_banned_hits += o.reviewed_banned_hits;
        self.judged_hits += o.judged_hits;
    }
}

/// A window over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowRow {
    /// 1 for the best; `None` when nothing was said on any day.
    pub rank: Option<usize>,
    pub window: String,
    /// Mean of the daily scores; `None` when no day has one.
    pub score: Option<f64>,
    /// Mean of the daily reviewed scores.
    pub reviewed_score: Option<f64>,
    /// Days with a score.
    pub days_scored: usize,
    /// Days with a row at all (scored or not).
    pub days: usize,
    #[serde(flatten)]
    pub totals: Totals,
    pub failed_files: i64,
}

/// A staff member over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaffRow {
    pub rank: Option<usize>,
    pub staff_id: String,
    /// As on the roster (the newest day's name).
    pub name: Option<String>,
    /// Every window the member served at in the period.
    pub windows: Vec<String>,
    pub score: Option<f64>,
    pub reviewed_score: Option<f64>,
    pub days_scored: usize,
    pub days: usize,
    #[serde(flatten)]
    pub totals: Totals,
}

/// What a trend row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    Window,
    Staff,
}

/// One day of one window or staff member.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayRow {
    pub day: String,
    pub subject: Subject,
    /// The window id or the staff id.
    pub id: String,
    /// The staff member's name (staff rows).
    pub name: Option<String>,
    pub score: Option<f64>,
    pub reviewed_score: Option<f64>,
    #[serde(flatten)]
    pub totals: Totals,
    pub lexicon_version: String,
}

/// A banned phrase heard, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitRow {
    pub day: String,
    /// RFC 3339 local, when the recording's clock is known.
    pub clock_time: Option<String>,
    pub window: String,
    /// The staff member on duty, when the window's session has one.
    pub staff_id: Option<String>,
    pub staff_name: Option<String>,
    pub phrase: String,
    pub category: String,
    pub severity: i64,
    pub clause: String,
    /// The words as Whisper wrote them.
    pub matched: String,
    /// The utterance's transcript with personal numbers masked; `None` after text retention.
    pub text: Option<String>,
    /// Byte span of `matched` in `text`.
    pub span: [usize; 2],
    pub confidence: f64,
    /// `exact`, `gapped` or `sound`.
    pub method: String,
    /// Who said it (`staff` or `unknown`: citizens' words are never listed) and how sure.
    pub speaker: String,
    pub speaker_confidence: f64,
    /// The recording.
    pub file: String,
    /// Seconds from the start of the recording.
    pub offset: f64,
    pub end: f64,
    /// The evidence clip, relative to the clip folder.
    pub clip: Option<String>,
    pub lexicon_version: String,
    /// The review item (`hit:{utterance}:{phrase}`) and its latest verdict, if judged.
    pub item: String,
    pub verdict: Option<String>,
    /// The utterance it was heard in (the review desk's and the training sets' key to it).
    pub utterance_id: i64,
}

/// One service session: was the citizen greeted and seen off?
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRow {
    pub day: String,
    pub window: String,
    pub staff_id: Option<String>,
    pub staff_name: Option<String>,
    pub clock_start: Option<String>,
    pub clock_end: Option<String>,
    pub file: String,
    pub start_s: f64,
    pub end_s: f64,
    pub utterances: i64,
    /// 来有迎声.
    pub greeting: bool,
    /// 走有送声.
    pub farewell: bool,
    /// The civil situations heard.
    pub situations: Vec<String>,
    /// Banned hits in the session.
    pub banned: i64,
}

/// The period's recordings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecordingStats {
    /// Every recording of the period.
    pub files: i64,
    pub done: i64,
    pub failed: i64,
    /// Registered but not (yet) analysed: pending or leased.
    pub waiting: i64,
    /// Audio of the analysed files.
    pub audio_seconds: f64,
}

impl RecordingStats {
    pub fn hours(&self) -> f64 {
        self.audio_seconds / 3600.0
    }
}

/// A file that could not be analysed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureRow {
    pub day: Option<String>,
    pub path: String,
    pub window: String,
    pub error: String,
}

/// A ranked entry: its score, and its id for a stable order among equals.
trait Ranked {
    fn score(&self) -> Option<f64>;
    fn key(&self) -> &str;
    fn set_rank(&mut self, rank: Option<usize>);
}

impl Ranked for WindowRow {
    fn score(&self) -> Option<f64> {
        self.score
    }
    fn key(&self) -> &str {
        &self.window
    }
    fn set_rank(&mut self, rank: Option<usize>) {
        self.rank = rank;
    }
}

impl Ranked for StaffRow {
    fn score(&self) -> Option<f64> {
        self.score
    }
    fn key(&self) -> &str {
        &self.staff_id
    }
    fn set_rank(&mut self, rank: Option<usize>) {
        self.rank = rank;
    }
}

/// Best first, ties by id; unscored last and unranked. Equal scores share a rank (1, 2, 2, 4).
fn rank<T: Ranked>(rows: &mut [T]) {
    rows.sort_by(|x, y| match (x.score(), y.score()) {
        (Some(p), Some(q)) => q.total_cmp(&p).then_with(|| x.key().cmp(y.key())),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => x.key().cmp(y.key()),
    });
    let mut last: Option<(f64, usize)> = None;
    for (i, row) in rows.iter_mut().enumerate() {
        let r = row.score().map(|s| match last {
            Some((prev, r)) if prev == s => r,
            _ => {
                last = Some((s, i + 1));
                i + 1
            }
        });
        row.set_rank(r);
    }
}

/// Mean of the days that have a score.
fn mean(scores: &[Option<f64>]) -> Option<f64> {
    let s: Vec<f64> = scores.iter().flatten().copied().collect();
    (!s.is_empty()).then(|| s.iter().sum::<f64>() / s.len() as f64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn w(window: &str, score: Option<f64>) -> WindowRow {
        WindowRow {
            rank: None,
            window: window.into(),
            score,
            reviewed_score: score,
            days_scored: score.is_some() as usize,
            days: 1,
            totals: Totals::default(),
            failed_files: 0,
        }
    }

    #[test]
    fn ranks_best_first_ties_share_unscored_last() {
        let mut rows = vec![
            w("w3", None),
            w("w2", Some(80.0)),
            w("w1", Some(90.0)),
            w("w4", Some(80.0)),
            w("w0", Some(10.0)),
        ];
        rank(&mut rows);
        let got: Vec<(&str, Option<usize>)> =
            rows.iter().map(|r| (r.window.as_str(), r.rank)).collect();
        assert_eq!(
            got,
            [
                ("w1", Some(1)),
                ("w2", Some(2)),
                ("w4", Some(2)),
                ("w0", Some(4)),
                ("w3", None)
            ]
        );
    }

    #[test]
    fn mean_skips_unscored_days() {
        assert_eq!(mean(&[Some(80.0), None, Some(60.0)]), Some(70.0));
        assert_eq!(mean(&[None, None]), None);
    }

    #[test]
    fn period_checks_order_and_lists_days() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let p = Period::range(d("2026-11-29"), d("2026-12-01")).unwrap();
        let days: Vec<String> = p.days().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2026-11-29", "2026-11-30", "2026-12-01"]);
        let e = Period::range(d("2026-12-01"), d("2026-11-29")).unwrap_err();
        assert!(e.to_string().contains("swap --from and --to"), "{e}");
        assert!(Period::day(d("2026-11-30")).is_single_day());
    }

    /// A report as the query would build it: two days, three windows, two staff members, two banned
    /// hits (one of them with a hostile transcript), two sessions, one failed file.
    pub(crate) fn sample() -> Report {
        let totals = |sessions, banned| Totals {
            sessions,
            utterances: sessions * 4,
            speech_seconds: sessions as f64 * 30.0,
            greeting_sessions: sessions - 1,
            farewell_sessions: sessions,
            civil_hits: sessions * 3,
            banned_hits: banned,
            reviewed_banned_hits: banned.min(1),
            judged_hits: banned,
        };
        let day = |day: &str, subject, id: &str, score| DayRow {
            day: day.into(),
            subject,
            id: id.into(),
            name: None,
            score,
            reviewed_score: score,
            totals: totals(3, 0),
            lexicon_version: "v2026-11-abcdef012345".into(),
        };
        Report {
            from: "2026-11-29".into(),
            to: "2026-11-30".into(),
            generated_at: "2026-12-01T07:00:00.000+08:00".into(),
            ranking: RANKING_RULE.into(),
            lexicon_versions: vec!["v2026-11-abcdef012345".into()],
            day_versions: vec![DayVersion {
                day: "2026-11-29".into(),
                lexicon_version: "v2026-11-abcdef012345".into(),
                run_id: 1,
            }],
            runs: vec![RunRow {
                id: 1,
                kind: "batch".into(),
                program: "courtesy 0.1.0".into(),
                model_sha256: Some("d01c3014".into()),
                lexicon_version: "v2026-11-abcdef012345".into(),
                host: "box1".into(),
                started_at: "2026-11-30T22:00:00.000+08:00".into(),
                ended_at: Some("2026-11-30T23:10:00.000+08:00".into()),
                status: "done".into(),
            }],
            windows: vec![
                WindowRow {
                    rank: Some(1),
                    window: "w07".into(),
                    score: Some(91.5),
                    reviewed_score: Some(91.5),
                    days_scored: 2,
                    days: 2,
                    totals: totals(6, 0),
                    failed_files: 0,
                },
                WindowRow {
                    rank: Some(2),
                    window: "w08<b>".into(),
                    score: Some(40.25),
                    reviewed_score: Some(70.25),
                    days_scored: 2,
                    days: 2,
                    totals: totals(5, 2),
                    failed_files: 1,
                },
                WindowRow {
                    rank: None,
                    window: "w09".into(),
                    score: None,
                    reviewed_score: None,
                    days_scored: 0,
                    days: 2,
                    totals: Totals::default(),
                    failed_files: 0,
                },
            ],
            staff: vec![
                StaffRow {
                    rank: Some(1),
                    staff_id: "S001".into(),
                    name: Some("张三".into()),
                    windows: vec!["w07".into()],
                    score: Some(91.5),
                    reviewed_score: Some(91.5),
                    days_scored: 2,
                    days: 2,
                    totals: totals(6, 0),
                },
                StaffRow {
                    rank: Some(2),
                    staff_id: "S002".into(),
                    name: Some("李四".into()),
                    windows: vec!["w07".into(), "w08<b>".into()],
                    score: Some(40.25),
                    reviewed_score: Some(70.25),
                    days_scored: 2,
                    days: 2,
                    totals: totals(5, 2),
                },
            ],
            days: vec![
                day("2026-11-29", Subject::Window, "w07", Some(90.0)),
                day("2026-11-30", Subject::Window, "w07", Some(93.0)),
                day("2026-11-29", Subject::Window, "w08<b>", Some(55.5)),
                day("2026-11-30", Subject::Window, "w08<b>", Some(25.0)),
                day("2026-11-29", Subject::Window, "w09", None),
                day("2026-11-30", Subject::Window, "w09", None),
                day("2026-11-29", Subject::Staff, "S001", Some(90.0)),
            ],
            hits: vec![
                HitRow {
                    day: "2026-11-30".into(),
                    clock_time: Some("2026-11-30T09:12:03.250+08:00".into()),
                    window: "w08<b>".into(),
                    staff_id: Some("S002".into()),
                    staff_name: Some("李四".into()),
                    phrase: "有意见找领导去".into(),
                    category: "推诿".into(),
                    severity: 3,
                    clause: "第十二条".into(),
                    matched: "有意見找領導去".into(),
                    text: Some("<script>alert(1)</script>有意見找領導去！".into()),
                    span: [25, 25 + "有意見找領導去".len()],
                    confidence: 0.92,
                    method: "sound".into(),
                    speaker: "staff".into(),
                    speaker_confidence: 0.9,
                    file: "/rec/w08/W08_20261130_090000.mp3".into(),
                    offset: 723.25,
                    end: 726.0,
                    clip: Some("w08/20261130-091203 #1.opus".into()),
                    lexicon_version: "v2026-11-abcdef012345".into(),
                    item: "hit:17:有意见找领导去".into(),
                    verdict: Some("confirmed".into()),
                    utterance_id: 17,
                },
                HitRow {
                    day: "2026-11-30".into(),
                    clock_time: Some("2026-11-30T10:00:00.000+08:00".into()),
                    window: "w08<b>".into(),
                    staff_id: None,
                    staff_name: None,
                    phrase: "=cmd|' /C calc'!A0".into(),
                    category: "生硬".into(),
                    severity: 1,
                    clause: "第十三条".into(),
                    matched: "快点".into(),
                    text: None,
                    span: [0, 6],
                    confidence: 0.7,
                    method: "exact".into(),
                    speaker: "unknown".into(),
                    speaker_confidence: 0.0,
                    file: "/rec/w08/a,\"b\".wav".into(),
                    offset: 1.0,
                    end: 2.0,
                    clip: None,
                    lexicon_version: "v2026-11-abcdef012345".into(),
                    item: "hit:18:=cmd|' /C calc'!A0".into(),
                    verdict: Some("false_alarm".into()),
                    utterance_id: 18,
                },
            ],
            sessions: vec![
                SessionRow {
                    day: "2026-11-30".into(),
                    window: "w07".into(),
                    staff_id: Some("S001".into()),
                    staff_name: Some("张三".into()),
                    clock_start: Some("2026-11-30T08:30:00.000+08:00".into()),
                    clock_end: Some("2026-11-30T08:33:10.000+08:00".into()),
                    file: "/rec/w07/W07_20261130_083000.mp3".into(),
                    start_s: 0.0,
                    end_s: 190.0,
                    utterances: 6,
                    greeting: true,
                    farewell: false,
                    situations: vec!["问候".into(), "致歉".into()],
                    banned: 0,
                },
                SessionRow {
                    day: "2026-11-30".into(),
                    window: "w08<b>".into(),
                    staff_id: None,
                    staff_name: None,
                    clock_start: None,
                    clock_end: None,
                    file: "/rec/w08/x.wav".into(),
                    start_s: 10.0,
                    end_s: 40.0,
                    utterances: 2,
                    greeting: false,
                    farewell: true,
                    situations: vec![],
                    banned: 1,
                },
            ],
            recordings: RecordingStats {
                files: 7,
                done: 6,
                failed: 1,
                waiting: 0,
                audio_seconds: 5.5 * 3600.0,
            },
            failures: vec![FailureRow {
                day: Some("2026-11-30".into()),
                path: "/rec/w08/broken.amr".into(),
                window: "w08<b>".into(),
                error: "/rec/w08/broken.amr: AMR is not supported — convert it with ffmpeg".into(),
            }],
            precision: vec![
                PhrasePrecision {
                    phrase: "=cmd|' /C calc'!A0".into(),
                    hits: 1,
                    judged: 1,
                    false_alarm: 1,
                    false_share: Some(1.0),
                    ..PhrasePrecision::default()
                },
                PhrasePrecision {
                    phrase: "有意见找领导去".into(),
                    hits: 1,
                    judged: 2,
                    confirmed: 1,
                    unclear: 1,
                    false_share: Some(0.0),
                    ..PhrasePrecision::default()
                },
            ],
            precision_rule: PRECISION_RULE.into(),
        }
    }
}
