//! The desk's review in the record: flagged items to judge, verdicts kept as history, the rule
//! changes made from false alarms and the regression sentences every later change must pass.

use std::collections::HashMap;
use std::fmt;

use super::days::{hit as stored_hit, STAFF};
use super::lease::{id_list, ids_in};
use super::records::now;
use super::sql::{Dialect, Row};
use super::{Store, StoreError, StoredHit, Value};

/// What a verdict is about, stable across rescoring: hits are written again under every lexicon
/// version, so a hit is known by its utterance and phrase (two finds of one phrase in one
/// utterance share a verdict); a session by its recording and start.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKey {
    /// `hit:{utterance_id}:{phrase}`
    Hit { utterance_id: i64, phrase: String },
    /// `session:{recording_id}:{start_ms}:greeting|farewell` — a session without it.
    Session {
        recording_id: i64,
        start_ms: i64,
        missing: Ritual,
    },
}

/// The two rituals a session must have: 来有迎声，走有送声.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ritual {
    Greeting,
    Farewell,
}

impl Ritual {
    pub fn as_str(self) -> &'static str {
        match self {
            Ritual::Greeting => "greeting",
            Ritual::Farewell => "farewell",
        }
    }
}

impl ItemKey {
    /// The key of a session item: its start in whole milliseconds.
    pub fn session(recording_id: i64, start_s: f64, missing: Ritual) -> ItemKey {
        ItemKey::Session {
            recording_id,
            start_ms: (start_s * 1000.0).round() as i64,
            missing,
        }
    }

    /// Reads a key as [`fmt::Display`] writes it; the error says what a key looks like.
    pub fn parse(s: &str) -> Result<ItemKey, String> {
        let bad = || {
            format!(
                "“{s}” is not a review item — expected hit:UTTERANCE:PHRASE or \
                 session:RECORDING:START_MS:greeting|farewell"
            )
        };
        let mut parts = s.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("hit"), Some(id), Some(phrase)) if !phrase.is_empty() => Ok(ItemKey::Hit {
                utterance_id: id.parse().map_err(|_| bad())?,
                phrase: phrase.to_string(),
            }),
            (Some("session"), Some(id), Some(rest)) => {
                let (ms, ritual) = rest.split_once(':').ok_or_else(bad)?;
                Ok(ItemKey::Session {
                    recording_id: id.parse().map_err(|_| bad())?,
                    start_ms: ms.parse().map_err(|_| bad())?,
                    missing: match ritual {
                        "greeting" => Ritual::Greeting,
                        "farewell" => Ritual::Farewell,
                        _ => return Err(bad()),
                    },
                })
            }
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemKey::Hit {
                utterance_id,
                phrase,
            } => write!(f, "hit:{utterance_id}:{phrase}"),
            ItemKey::Session {
                recording_id,
                start_ms,
                missing,
            } => write!(f, "session:{recording_id}:{start_ms}:{}", missing.as_str()),
        }
    }
}

/// A trainer's verdict on an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// 属实: the staff member said it (a session: the greeting or farewell really is missing).
    Confirmed,
    /// 误报: nobody said it (a session: the greeting or farewell was said after all).
    FalseAlarm,
    /// 群众说的: said, but by the citizen.
    Citizen,
    /// 听不清: cannot tell from the clip.
    Unclear,
}

impl Verdict {
    pub const ALL: [Verdict; 4] = [
        Verdict::Confirmed,
        Verdict::FalseAlarm,
        Verdict::Citizen,
        Verdict::Unclear,
    ];

    /// The name stored in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::FalseAlarm => "false_alarm",
            Verdict::Citizen => "citizen",
            Verdict::Unclear => "unclear",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the reviewed numbers drop the hit: nobody said it, or the citizen did.
    pub fn drops_hit(self) -> bool {
        matches!(self, Verdict::FalseAlarm | Verdict::Citizen)
    }
}

/// A verdict to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVerdict {
    pub item: ItemKey,
    /// The item's day, whose reviewed numbers the verdict changes.
    pub day: String,
    /// The item's utterance (hits, and the utterance shown for a session).
    pub utterance_id: Option<i64>,
    pub recording_id: i64,
    pub verdict: Verdict,
    pub comment: Option<String>,
    pub user_name: String,
}

/// A recorded verdict.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerdictRow {
    pub id: i64,
    pub item: String,
    pub day: Option<String>,
    pub utterance_id: Option<i64>,
    pub recording_id: Option<i64>,
    /// The hit's phrase; `None` for a session.
    pub phrase: Option<String>,
    pub verdict: Verdict,
    pub comment: Option<String>,
    pub user_name: String,
    /// RFC 3339 local.
    pub at: String,
}

/// Which flagged hits to read: banned ones and/or those below a confidence, in a day range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HitQuery {
    pub from: String,
    pub to: String,
    pub window: Option<String>,
    /// Staff id on duty (roster) at the utterance.
    pub staff_id: Option<String>,
    pub phrase: Option<String>,
    /// Every banned hit.
    pub banned: bool,
    /// Every hit (civil or banned) with a confidence below this.
    pub below: Option<f64>,
    /// This lexicon version's hits; default: each day's shown version (the newest run's).
    pub lexicon_version: Option<String>,
}

/// A flagged hit with its utterance and who was on duty.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewHit {
    pub hit_id: i64,
    pub utterance_id: i64,
    pub recording_id: i64,
    pub seq: i64,
    pub window: String,
    pub lexicon_version: String,
    /// The hit as stored (its day is always there: the query asks for days).
    pub hit: StoredHit,
    pub utterance_start: f64,
    /// `None` after text retention.
    pub text: Option<String>,
    pub clip: Option<String>,
    pub path: String,
    pub staff_id: Option<String>,
    pub staff_name: Option<String>,
}

/// Which sessions to read: those without a greeting or a farewell, in a day range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionQuery {
    pub from: String,
    pub to: String,
    pub window: Option<String>,
    pub staff_id: Option<String>,
    pub lexicon_version: Option<String>,
}

/// A session missing its greeting, its farewell or both.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewSession {
    pub day: String,
    pub window: String,
    pub staff_id: Option<String>,
    pub staff_name: Option<String>,
    pub recording_id: i64,
    pub start_s: f64,
    pub end_s: f64,
    pub clock_start: Option<String>,
    pub greeting: bool,
    pub farewell: bool,
    pub lexicon_version: String,
    pub path: String,
}

/// An utterance as the queue shows it around an item.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextUtterance {
    pub id: i64,
    pub recording_id: i64,
    pub seq: i64,
    pub start_s: f64,
    pub end_s: f64,
    pub clock_start: Option<String>,
    pub text: Option<String>,
    pub clip: Option<String>,
    /// `staff`, `citizen` or `unknown`.
    pub speaker: String,
}

/// Where an item lives in the record, to check it exists before a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemPlace {
    pub day: String,
    pub recording_id: i64,
    pub utterance_id: Option<i64>,
    /// The utterance's text (a hit's sentence), `None` after retention or for a session.
    pub text: Option<String>,
}

/// A polite context or a variant the office added to a phrase, as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleChangeRow {
    pub id: i64,
    pub at: String,
    pub user_name: String,
    pub phrase: String,
    /// `exception` or `variant`.
    pub kind: String,
    pub text: String,
    pub reason: Option<String>,
    /// The review item it was made from.
    pub item: Option<String>,
    /// The effective lexicon version before and after it.
    pub base_version: String,
    pub version: String,
}

/// A rule change to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRuleChange {
    pub user_name: String,
    pub phrase: String,
    pub kind: String,
    pub text: String,
    pub reason: Option<String>,
    pub item: Option<String>,
    pub base_version: String,
    pub version: String,
}

/// What a regression sentence expects of a phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The phrase must not be found in it (a false alarm, fixed).
    Absent,
    /// The phrase must be found in it.
    Present,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Absent => "absent",
            Expect::Present => "present",
        }
    }
}

/// A sentence every later lexicon must still judge the same way.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RegressionRow {
    pub id: i64,
    pub sentence: String,
    pub phrase: String,
    pub expect: Expect,
    /// The review item it came from.
    pub source: Option<String>,
    pub added_by: String,
    pub added_at: String,
}

/// A regression sentence to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRegression {
    pub sentence: String,
    pub phrase: String,
    pub expect: Expect,
    pub source: Option<String>,
    pub added_by: String,
}

/// How one phrase's hits were judged (latest verdict per item) over a period.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PhraseVerdicts {
    pub phrase: String,
    pub confirmed: i64,
    pub false_alarm: i64,
    pub citizen: i64,
    pub unclear: i64,
}

/// A window's day in both readings: the machine's numbers and the reviewed ones.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WindowNumbers {
    pub window: String,
    pub score: Option<f64>,
    pub reviewed_score: Option<f64>,
    pub banned_hits: i64,
    pub reviewed_banned_hits: i64,
    pub judged_hits: i64,
}

impl From<&super::WindowScoreRow> for WindowNumbers {
    fn from(w: &super::WindowScoreRow) -> Self {
        WindowNumbers {
            window: w.window.clone(),
            score: w.counts.score,
            reviewed_score: w.counts.reviewed_score,
            banned_hits: w.counts.banned_hits,
            reviewed_banned_hits: w.counts.reviewed_banned_hits,
            judged_hits: w.counts.judged_hits,
        }
    }
}

/// What the queue's filters can choose from over a period.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReviewChoices {
    /// Windows with scores.
    pub windows: Vec<String>,
    /// Staff ids and names on the roster.
    pub staff: Vec<(String, String)>,
    /// Banned phrases found.
    pub phrases: Vec<String>,
}

const VERDICT_COLUMNS: &str =
    "id, item, day, utterance_id, recording_id, phrase, verdict, comment, user_name, at";

fn verdict_row(r: &Row) -> Result<VerdictRow, StoreError> {
    let name = r.string("verdict")?;
    Ok(VerdictRow {
        id: r.i64("id")?,
        item: r.string("item")?,
        day: r.opt_string("day")?,
        utterance_id: r.opt_i64("utterance_id")?,
        recording_id: r.opt_i64("recording_id")?,
        phrase: r.opt_string("phrase")?,
        verdict: Verdict::parse(&name)
            .ok_or_else(|| StoreError::column("verdict", format!("“{name}” is not a verdict")))?,
        comment: r.opt_string("comment")?,
        user_name: r.string("user_name")?,
        at: r.string("at")?,
    })
}

fn rule_change_row(r: &Row) -> Result<RuleChangeRow, StoreError> {
    Ok(RuleChangeRow {
        id: r.i64("id")?,
        at: r.string("at")?,
        user_name: r.string("user_name")?,
        phrase: r.string("phrase")?,
        kind: r.string("kind")?,
        text: r.string("text")?,
        reason: r.opt_string("reason")?,
        item: r.opt_string("item")?,
        base_version: r.string("base_version")?,
        version: r.string("version")?,
    })
}

/// The version a day is shown with, as reports choose it: the newest run's, a tie going to the
/// larger version string. `{day}` is the SQL expression of the day.
const SHOWN_VERSION: &str =
    "(SELECT ws.lexicon_version FROM window_scores ws WHERE ws.day = {day} \
                             ORDER BY ws.run_id DESC, ws.lexicon_version DESC LIMIT 1)";

/// Filters appended to a query, numbering their placeholders after the ones already there.
struct Filters {
    sql: String,
    params: Vec<Value>,
}

impl Filters {
    fn new(params: Vec<Value>) -> Filters {
        Filters {
            sql: String::new(),
            params,
        }
    }

    /// Adds ` AND {condition}` with `$?` standing for `value`'s placeholder, when there is a value.
    fn and(&mut self, condition: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.params.push(Value::from(v));
            let n = format!("${}", self.params.len());
            self.sql.push_str(" AND ");
            self.sql.push_str(&condition.replace("$?", &n));
        }
    }
}

impl Store {
    /// Records a verdict (earlier ones on the item stay as its history; the latest counts).
    pub fn add_verdict(&self, v: &NewVerdict) -> Result<VerdictRow, StoreError> {
        let phrase = match &v.item {
            ItemKey::Hit { phrase, .. } => Some(phrase.clone()),
            ItemKey::Session { .. } => None,
        };
        let rows = self.query(
            &format!(
                "INSERT INTO verdicts (item, day, utterance_id, recording_id, phrase, verdict, \
                 comment, user_name, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 RETURNING {VERDICT_COLUMNS}"
            ),
            &[
                Value::Text(v.item.to_string()),
                Value::from(&v.day),
                Value::from(v.utterance_id),
                Value::Int(v.recording_id),
                Value::from(phrase),
                Value::from(v.verdict.as_str()),
                Value::from(v.comment.clone()),
                Value::from(&v.user_name),
                Value::Text(now()),
            ],
        )?;
        verdict_row(&rows[0])
    }

    /// The lexicon version a day is shown with and the run that scored it (as reports choose:
    /// the newest run's, a tie going to the larger version); `None` for a day never scored.
    pub fn shown_version(&self, day: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.query(
            "SELECT lexicon_version, run_id FROM window_scores WHERE day = $1 \
             ORDER BY run_id DESC, lexicon_version DESC LIMIT 1",
            &[Value::from(day)],
        )?
        .first()
        .map(|r| Ok((r.string("lexicon_version")?, r.i64("run_id")?)))
        .transpose()
    }

    /// The day's window numbers under its shown version, by window.
    pub fn window_numbers(&self, day: &str) -> Result<Vec<WindowNumbers>, StoreError> {
        self.query(
            &format!(
                "SELECT \"window\", score, reviewed_score, banned_hits, reviewed_banned_hits, \
                 judged_hits FROM window_scores ws WHERE day = $1 AND lexicon_version = {} \
                 ORDER BY \"window\"",
                SHOWN_VERSION.replace("{day}", "$1")
            ),
            &[Value::from(day)],
        )?
        .iter()
        .map(|r| {
            Ok(WindowNumbers {
                window: r.string("window")?,
                score: r.opt_f64("score")?,
                reviewed_score: r.opt_f64("reviewed_score")?,
                banned_hits: r.i64("banned_hits")?,
                reviewed_banned_hits: r.i64("reviewed_banned_hits")?,
                judged_hits: r.i64("judged_hits")?,
            })
        })
        .collect()
    }

    /// The newest day with scores, if any.
    pub fn latest_scored_day(&self) -> Result<Option<String>, StoreError> {
        self.query("SELECT MAX(day) AS day FROM window_scores", &[])?
            .first()
            .map(|r| r.opt_string("day"))
            .transpose()
            .map(Option::flatten)
    }

    /// The windows, staff members and banned phrases the queue's filters offer for a period.
    pub fn review_choices(&self, from: &str, to: &str) -> Result<ReviewChoices, StoreError> {
        let range = [Value::from(from), Value::from(to)];
        let strings = |sql: &str, col: &str| -> Result<Vec<String>, StoreError> {
            self.query(sql, &range)?
                .iter()
                .map(|r| r.string(col))
                .collect()
        };
        Ok(ReviewChoices {
            windows: strings(
                "SELECT DISTINCT \"window\" FROM window_scores WHERE day >= $1 AND day <= $2 \
                 ORDER BY \"window\"",
                "window",
            )?,
            staff: self
                .query(
                    "SELECT staff_id, MAX(name) AS name FROM roster \
                     WHERE substr(valid_from, 1, 10) <= $2 AND substr(valid_to, 1, 10) >= $1 \
                     GROUP BY staff_id ORDER BY staff_id",
                    &range,
                )?
                .iter()
                .map(|r| Ok((r.string("staff_id")?, r.string("name")?)))
                .collect::<Result<_, StoreError>>()?,
            phrases: strings(
                "SELECT DISTINCT phrase FROM hits WHERE day >= $1 AND day <= $2 \
                 AND kind = 'banned' ORDER BY phrase",
                "phrase",
            )?,
        })
    }

    /// Every verdict on an item, oldest first.
    pub fn verdict_history(&self, item: &ItemKey) -> Result<Vec<VerdictRow>, StoreError> {
        self.query(
            &format!("SELECT {VERDICT_COLUMNS} FROM verdicts WHERE item = $1 ORDER BY id"),
            &[Value::Text(item.to_string())],
        )?
        .iter()
        .map(verdict_row)
        .collect()
    }

    /// The latest verdict of every item of the days `from..=to`, by item key.
    pub fn latest_verdicts(
        &self,
        from: &str,
        to: &str,
    ) -> Result<HashMap<String, VerdictRow>, StoreError> {
        let rows = self.query(
            &format!(
                "SELECT {VERDICT_COLUMNS} FROM verdicts v WHERE day >= $1 AND day <= $2 \
                 AND id = (SELECT MAX(w.id) FROM verdicts w WHERE w.item = v.item)"
            ),
            &[Value::from(from), Value::from(to)],
        )?;
        rows.iter()
            .map(|r| verdict_row(r).map(|v| (v.item.clone(), v)))
            .collect()
    }

    /// How each phrase's hits of `from..=to` were judged, by their latest verdicts.
    pub fn phrase_verdicts(&self, from: &str, to: &str) -> Result<Vec<PhraseVerdicts>, StoreError> {
        let mut by_phrase: std::collections::BTreeMap<String, PhraseVerdicts> = Default::default();
        for r in self.query(
            "SELECT phrase, verdict, count(*) AS n FROM verdicts v \
             WHERE day >= $1 AND day <= $2 AND phrase IS NOT NULL \
             AND id = (SELECT MAX(w.id) FROM verdicts w WHERE w.item = v.item) \
             GROUP BY phrase, verdict ORDER BY phrase",
            &[Value::from(from), Value::from(to)],
        )? {
            let phrase = r.string("phrase")?;
            let n = r.i64("n")?;
            let p = by_phrase
                .entry(phrase.clone())
                .or_insert_with(|| PhraseVerdicts {
                    phrase,
                    ..PhraseVerdicts::default()
                });
            match Verdict::parse(r.str("verdict")?) {
                Some(Verdict::Confirmed) => p.confirmed += n,
                Some(Verdict::FalseAlarm) => p.false_alarm += n,
                Some(Verdict::Citizen) => p.citizen += n,
                Some(Verdict::Unclear) => p.unclear += n,
                None => {}
            }
        }
        Ok(by_phrase.into_values().collect())
    }

    /// Flagged hits of a day range, by day and clock time, each under its day's shown lexicon
    /// version (or the asked one).
    pub fn review_hits(&self, q: &HitQuery) -> Result<Vec<ReviewHit>, StoreError> {
        let mut f = Filters::new(vec![Value::from(&q.from), Value::from(&q.to)]);
        let mut kinds = Vec::new();
        if q.banned {
            kinds.push("h.kind = 'banned'".to_string());
        }
        if let Some(below) = q.below {
            f.params.push(Value::Real(below));
            kinds.push(format!("h.confidence < ${}", f.params.len()));
        }
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        f.sql = format!(" AND ({})", kinds.join(" OR "));
        match &q.lexicon_version {
            Some(v) => f.and("h.lexicon_version = $?", Some(v)),
            None => f.sql.push_str(&format!(
                " AND h.lexicon_version = {}",
                SHOWN_VERSION.replace("{day}", "h.day")
            )),
        }
        f.and("h.\"window\" = $?", q.window.as_deref());
        f.and("h.phrase = $?", q.phrase.as_deref());
        let staff_id = STAFF.replace("{col}", "ro.staff_id");
        f.and(&format!("{staff_id} = $?"), q.staff_id.as_deref());
        let sql = format!(
            "SELECT h.id AS hit_id, h.utterance_id AS utterance_id, h.day AS day, \
             h.\"window\" AS \"window\", h.clock_time AS clock_time, h.start_s AS start_s, \
             h.end_s AS end_s, h.kind AS kind, h.phrase AS phrase, h.category AS category, \
             h.severity AS severity, h.clause AS clause, h.matched AS matched, \
             h.span_start AS span_start, h.span_end AS span_end, h.confidence AS confidence, \
             h.method AS method, h.lexicon_version AS lexicon_version, \
             u.recording_id AS recording_id, u.seq AS seq, u.start_s AS utterance_start, \
             u.text AS text, u.clip AS clip, r.path AS path, \
             {staff_id} AS staff_id, {staff_name} AS staff_name \
             FROM hits h JOIN utterances u ON u.id = h.utterance_id \
             JOIN recordings r ON r.id = u.recording_id \
             WHERE h.day >= $1 AND h.day <= $2 AND u.speaker <> 'citizen'{filters} \
             ORDER BY h.day, h.clock_time, h.\"window\", h.utterance_id, h.start_s, h.id",
            staff_name = STAFF.replace("{col}", "ro.name"),
            filters = f.sql,
        );
        self.query(&sql, &f.params)?
            .iter()
            .map(|r| {
                Ok(ReviewHit {
                    hit_id: r.i64("hit_id")?,
                    utterance_id: r.i64("utterance_id")?,
                    recording_id: r.i64("recording_id")?,
                    seq: r.i64("seq")?,
                    window: r.string("window")?,
                    lexicon_version: r.string("lexicon_version")?,
                    hit: stored_hit(r)?,
                    utterance_start: r.f64("utterance_start")?,
                    text: r.opt_string("text")?,
                    clip: r.opt_string("clip")?,
                    path: r.string("path")?,
                    staff_id: r.opt_string("staff_id")?,
                    staff_name: r.opt_string("staff_name")?,
                })
            })
            .collect()
    }

    /// Sessions of a day range without a greeting or a farewell, by day and clock time.
    pub fn review_sessions(&self, q: &SessionQuery) -> Result<Vec<ReviewSession>, StoreError> {
        let mut f = Filters::new(vec![Value::from(&q.from), Value::from(&q.to)]);
        match &q.lexicon_version {
            Some(v) => f.and("s.lexicon_version = $?", Some(v)),
            None => f.sql.push_str(&format!(
                " AND s.lexicon_version = {}",
                SHOWN_VERSION.replace("{day}", "s.day")
            )),
        }
        f.and("s.\"window\" = $?", q.window.as_deref());
        f.and("s.staff_id = $?", q.staff_id.as_deref());
        let sql = format!(
            "SELECT s.day AS day, s.\"window\" AS \"window\", s.staff_id AS staff_id, \
             (SELECT ro.name FROM roster ro WHERE ro.staff_id = s.staff_id \
              AND ro.\"window\" = s.\"window\" AND ro.valid_from <= s.clock_start \
              AND s.clock_start < ro.valid_to ORDER BY ro.valid_from DESC LIMIT 1) AS staff_name, \
             s.recording_id AS recording_id, s.start_s AS start_s, s.end_s AS end_s, \
             s.clock_start AS clock_start, s.greeting AS greeting, s.farewell AS farewell, \
             s.lexicon_version AS lexicon_version, r.path AS path \
             FROM sessions s JOIN recordings r ON r.id = s.recording_id \
             WHERE s.day >= $1 AND s.day <= $2 AND (s.greeting = 0 OR s.farewell = 0){filters} \
             ORDER BY s.day, s.clock_start, s.\"window\", s.recording_id, s.start_s",
            filters = f.sql,
        );
        self.query(&sql, &f.params)?
            .iter()
            .map(|r| {
                Ok(ReviewSession {
                    day: r.string("day")?,
                    window: r.string("window")?,
                    staff_id: r.opt_string("staff_id")?,
                    staff_name: r.opt_string("staff_name")?,
                    recording_id: r.i64("recording_id")?,
                    start_s: r.f64("start_s")?,
                    end_s: r.f64("end_s")?,
                    clock_start: r.opt_string("clock_start")?,
                    greeting: r.bool("greeting")?,
                    farewell: r.bool("farewell")?,
                    lexicon_version: r.string("lexicon_version")?,
                    path: r.string("path")?,
                })
            })
            .collect()
    }

    /// Every utterance of these recordings, in order: the context around items.
    pub fn recording_utterances(
        &self,
        recording_ids: &[i64],
    ) -> Result<Vec<ContextUtterance>, StoreError> {
        if recording_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.query(
            &format!(
                "SELECT id, recording_id, seq, start_s, end_s, clock_start, text, clip, speaker \
                 FROM utterances WHERE recording_id IN ({}) ORDER BY recording_id, seq",
                ids_in(self.dialect(), 1)
            ),
            &[id_list(recording_ids)],
        )?
        .iter()
        .map(|r| {
            Ok(ContextUtterance {
                id: r.i64("id")?,
                recording_id: r.i64("recording_id")?,
                seq: r.i64("seq")?,
                start_s: r.f64("start_s")?,
                end_s: r.f64("end_s")?,
                clock_start: r.opt_string("clock_start")?,
                text: r.opt_string("text")?,
                clip: r.opt_string("clip")?,
                speaker: r.string("speaker")?,
            })
        })
        .collect()
    }

    /// Where an item is in the record; `None` when there is no such hit or session.
    pub fn locate_item(&self, item: &ItemKey) -> Result<Option<ItemPlace>, StoreError> {
        match item {
            ItemKey::Hit {
                utterance_id,
                phrase,
            } => {
                let rows = self.query(
                    "SELECT u.day AS day, u.recording_id AS recording_id, u.text AS text \
                     FROM utterances u WHERE u.id = $1 AND u.day IS NOT NULL AND EXISTS \
                     (SELECT 1 FROM hits h WHERE h.utterance_id = u.id AND h.phrase = $2)",
                    &[Value::Int(*utterance_id), Value::from(phrase)],
                )?;
                rows.first()
                    .map(|r| {
                        Ok(ItemPlace {
                            day: r.string("day")?,
                            recording_id: r.i64("recording_id")?,
                            utterance_id: Some(*utterance_id),
                            text: r.opt_string("text")?,
                        })
                    })
                    .transpose()
            }
            ItemKey::Session {
                recording_id,
                start_ms,
                missing,
            } => {
                let rows = self.query(
                    "SELECT DISTINCT day, start_s, end_s, greeting, farewell FROM sessions \
                     WHERE recording_id = $1 ORDER BY day, start_s",
                    &[Value::Int(*recording_id)],
                )?;
                for r in &rows {
                    let start = r.f64("start_s")?;
                    let lacks = match missing {
                        Ritual::Greeting => !r.bool("greeting")?,
                        Ritual::Farewell => !r.bool("farewell")?,
                    };
                    if (start * 1000.0).round() as i64 == *start_ms && lacks {
                        // The utterance shown for the session: its first (greeting) or last
                        // (farewell) one.
                        let at = match missing {
                            Ritual::Greeting => start,
                            Ritual::Farewell => r.f64("end_s")?,
                        };
                        let utterance = self.query(
                            "SELECT id FROM utterances WHERE recording_id = $1 \
                             AND start_s <= $2 ORDER BY seq DESC LIMIT 1",
                            &[Value::Int(*recording_id), Value::Real(at)],
                        )?;
                        return Ok(Some(ItemPlace {
                            day: r.string("day")?,
                            recording_id: *recording_id,
                            utterance_id: utterance.first().map(|u| u.i64("id")).transpose()?,
                            text: None,
                        }));
                    }
                }
                Ok(None)
            }
        }
    }

    /// Records a rule change and its regression sentence together, provided the record still
    /// holds exactly `seen` changes — the ones the change was checked against. `Ok(None)`: someone
    /// else changed the rules meanwhile; check again against the new list.
    pub fn add_rule_change(
        &self,
        change: &NewRuleChange,
        regression: Option<&NewRegression>,
        seen: usize,
    ) -> Result<Option<RuleChangeRow>, StoreError> {
        self.transaction(|tx| {
            if tx.dialect() == Dialect::Postgres {
                // Any fixed number: changes to the rules take turns.
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[Value::Int(0x7275_6c65_7300)],
                )?;
            }
            let n = tx.query("SELECT count(*) AS n FROM rule_changes", &[])?[0].i64("n")?;
            if n != seen as i64 {
                return Ok(None);
            }
            let at = now();
            let rows = tx.query(
                "INSERT INTO rule_changes (at, user_name, phrase, kind, text, reason, item, \
                 base_version, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 RETURNING id, at, user_name, phrase, kind, text, reason, item, base_version, \
                 version",
                &[
                    Value::Text(at.clone()),
                    Value::from(&change.user_name),
                    Value::from(&change.phrase),
                    Value::from(&change.kind),
                    Value::from(&change.text),
                    Value::from(change.reason.clone()),
                    Value::from(change.item.clone()),
                    Value::from(&change.base_version),
                    Value::from(&change.version),
                ],
            )?;
            if let Some(r) = regression {
                tx.execute(
                    "INSERT INTO regressions (sentence, phrase, expect, source, added_by, \
                     added_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (sentence, phrase) DO NOTHING",
                    &[
                        Value::from(&r.sentence),
                        Value::from(&r.phrase),
                        Value::from(r.expect.as_str()),
                        Value::from(r.source.clone()),
                        Value::from(&r.added_by),
                        Value::Text(at.clone()),
                    ],
                )?;
            }
            rule_change_row(&rows[0]).map(Some)
        })
    }

    /// Every rule change, in the order they apply.
    pub fn rule_changes(&self) -> Result<Vec<RuleChangeRow>, StoreError> {
        self.query(
            "SELECT id, at, user_name, phrase, kind, text, reason, item, base_version, version \
             FROM rule_changes ORDER BY id",
            &[],
        )?
        .iter()
        .map(rule_change_row)
        .collect()
    }

    /// Every regression sentence, oldest first.
    pub fn regressions(&self) -> Result<Vec<RegressionRow>, StoreError> {
        self.query(
            "SELECT id, sentence, phrase, expect, source, added_by, added_at FROM regressions \
             ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| {
            let expect = r.string("expect")?;
            Ok(RegressionRow {
                id: r.i64("id")?,
                sentence: r.string("sentence")?,
                phrase: r.string("phrase")?,
                expect: match expect.as_str() {
                    "absent" => Expect::Absent,
                    "present" => Expect::Present,
                    other => {
                        return Err(StoreError::column(
                            "expect",
                            format!("“{other}” is neither absent nor present"),
                        ))
                    }
                },
                source: r.opt_string("source")?,
                added_by: r.string("added_by")?,
                added_at: r.string("added_at")?,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_as_written() {
        let keys = [
            ItemKey::Hit {
                utterance_id: 42,
                phrase: "有牌子，自己看".into(),
            },
            ItemKey::Hit {
                utterance_id: 7,
                phrase: "a:b".into(),
            },
            ItemKey::session(3, 12.3456, Ritual::Greeting),
            ItemKey::session(3, 0.0, Ritual::Farewell),
        ];
        for k in keys {
            assert_eq!(ItemKey::parse(&k.to_string()).unwrap(), k, "{k}");
        }
        assert_eq!(
            ItemKey::session(3, 12.3456, Ritual::Greeting).to_string(),
            "session:3:12346:greeting"
        );
        for bad in ["", "hit:x:不知道", "hit:1:", "session:1:2:hello", "foo:1:2"] {
            let e = ItemKey::parse(bad).unwrap_err();
            assert!(e.contains("expected hit:"), "{e}");
        }
    }

    #[test]
    fn verdicts_by_name_and_which_drop_a_hit() {
        for v in Verdict::ALL {
            assert_eq!(Verdict::parse(v.as_str()), Some(v));
        }
        assert_eq!(Verdict::parse("maybe"), None);
        let dropped: Vec<Verdict> = Verdict::ALL.into_iter().filter(|v| v.drops_hit()).collect();
        assert_eq!(dropped, [Verdict::FalseAlarm, Verdict::Citizen]);
    }
}
