//! The versioned schema: migrations written once with type placeholders, run on open in one
//! transaction and recorded in `schema_migrations`.

use super::sql::{Conn, Dialect, Value};
use super::{transaction, StoreError};

/// The newest schema version this program knows.
pub(crate) const LATEST: i64 = 3;

/// Migrations in order. `{id}` is the table's own key, `{int}` a 64-bit integer, `{real}` a
/// double; `"window"` is quoted because WINDOW is a reserved word in PostgreSQL.
const MIGRATIONS: &[(i64, &str)] = &[(1, V1), (2, V2), (3, V3)];

const V1: &str = r#"
CREATE TABLE runs (
    id {id},
    kind TEXT NOT NULL,
    program TEXT NOT NULL,
    model_sha256 TEXT,
    lexicon_version TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    files {int} NOT NULL DEFAULT 0,
    audio_seconds {real} NOT NULL DEFAULT 0,
    failures {int} NOT NULL DEFAULT 0
);
CREATE TABLE lexicons (
    version TEXT PRIMARY KEY,
    label TEXT,
    civil TEXT NOT NULL,
    banned TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE recordings (
    id {id},
    path TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    rules TEXT NOT NULL,
    "window" TEXT NOT NULL,
    format TEXT,
    clock_start TEXT,
    clock_source TEXT,
    day TEXT,
    duration {real},
    status TEXT NOT NULL,
    error TEXT,
    lease_owner TEXT,
    lease_until {int},
    attempts {int} NOT NULL DEFAULT 0,
    run_id {int},
    registered_at TEXT NOT NULL,
    done_at TEXT,
    UNIQUE (content_sha256, rules)
);
CREATE INDEX recordings_status ON recordings (status);
CREATE INDEX recordings_day ON recordings (day, "window");
CREATE TABLE utterances (
    id {id},
    recording_id {int} NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    seq {int} NOT NULL,
    "window" TEXT NOT NULL,
    day TEXT,
    start_s {real} NOT NULL,
    end_s {real} NOT NULL,
    clock_start TEXT,
    clock_end TEXT,
    text TEXT,
    normalized TEXT,
    pieces TEXT,
    speaker TEXT NOT NULL DEFAULT 'unknown',
    clip TEXT,
    UNIQUE (recording_id, seq)
);
CREATE INDEX utterances_day ON utterances (day, "window");
CREATE TABLE hits (
    id {id},
    utterance_id {int} NOT NULL REFERENCES utterances (id) ON DELETE CASCADE,
    lexicon_version TEXT NOT NULL,
    run_id {int} NOT NULL,
    "window" TEXT NOT NULL,
    day TEXT,
    start_s {real} NOT NULL,
    end_s {real} NOT NULL,
    clock_time TEXT,
    kind TEXT NOT NULL,
    phrase TEXT NOT NULL,
    category TEXT NOT NULL,
    severity {int} NOT NULL,
    clause TEXT NOT NULL,
    matched TEXT NOT NULL,
    span_start {int} NOT NULL,
    span_end {int} NOT NULL,
    confidence {real} NOT NULL,
    method TEXT NOT NULL
);
CREATE INDEX hits_day ON hits (day, lexicon_version);
CREATE INDEX hits_utterance ON hits (utterance_id, lexicon_version);
CREATE TABLE matchings (
    recording_id {int} NOT NULL,
    lexicon_version TEXT NOT NULL,
    run_id {int} NOT NULL,
    PRIMARY KEY (recording_id, lexicon_version)
);
CREATE TABLE sessions (
    id {id},
    day TEXT NOT NULL,
    lexicon_version TEXT NOT NULL,
    "window" TEXT NOT NULL,
    staff_id TEXT,
    recording_id {int} NOT NULL,
    start_s {real} NOT NULL,
    end_s {real} NOT NULL,
    clock_start TEXT,
    clock_end TEXT,
    utterances {int} NOT NULL,
    greeting {int} NOT NULL,
    farewell {int} NOT NULL,
    situations TEXT NOT NULL,
    banned {int} NOT NULL
);
CREATE INDEX sessions_day ON sessions (day, lexicon_version);
CREATE TABLE window_scores (
    day TEXT NOT NULL,
    "window" TEXT NOT NULL,
    lexicon_version TEXT NOT NULL,
    run_id {int} NOT NULL,
    score {real},
    sessions {int} NOT NULL,
    utterances {int} NOT NULL,
    speech_seconds {real} NOT NULL,
    greeting_sessions {int} NOT NULL,
    farewell_sessions {int} NOT NULL,
    civil_hits {int} NOT NULL,
    banned_hits {int} NOT NULL,
    banned TEXT NOT NULL,
    civil TEXT NOT NULL,
    failed_files {int} NOT NULL,
    PRIMARY KEY (day, "window", lexicon_version)
);
CREATE TABLE staff_scores (
    day TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    lexicon_version TEXT NOT NULL,
    run_id {int} NOT NULL,
    name TEXT,
    windows TEXT NOT NULL,
    score {real},
    sessions {int} NOT NULL,
    utterances {int} NOT NULL,
    speech_seconds {real} NOT NULL,
    greeting_sessions {int} NOT NULL,
    farewell_sessions {int} NOT NULL,
    civil_hits {int} NOT NULL,
    banned_hits {int} NOT NULL,
    banned TEXT NOT NULL,
    civil TEXT NOT NULL,
    PRIMARY KEY (day, staff_id, lexicon_version)
);
CREATE TABLE roster (
    id {id},
    "window" TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    name TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    UNIQUE ("window", staff_id, valid_from)
);
"#;

/// The desk (`courtesy serve`): people and their sessions, what they did, their verdicts on
/// hits, the rule changes they made from false alarms, live alerts and training playlists; and
/// the reviewed numbers beside the machine's in the day scores.
const V2: &str = r#"
CREATE TABLE users (
    id {id},
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled {int} NOT NULL DEFAULT 0
);
CREATE TABLE web_sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id {int} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at {int} NOT NULL
);
CREATE TABLE audit (
    id {id},
    at TEXT NOT NULL,
    user_name TEXT,
    action TEXT NOT NULL,
    object TEXT,
    detail TEXT,
    remote TEXT
);
CREATE INDEX audit_at ON audit (at);
CREATE TABLE verdicts (
    id {id},
    item TEXT NOT NULL,
    day TEXT,
    utterance_id {int},
    recording_id {int},
    phrase TEXT,
    verdict TEXT NOT NULL,
    comment TEXT,
    user_name TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX verdicts_item ON verdicts (item, id);
CREATE INDEX verdicts_utterance ON verdicts (utterance_id);
CREATE INDEX verdicts_day ON verdicts (day, item, id);
CREATE TABLE rule_changes (
    id {id},
    at TEXT NOT NULL,
    user_name TEXT NOT NULL,
    phrase TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    reason TEXT,
    item TEXT,
    base_version TEXT NOT NULL,
    version TEXT NOT NULL
);
CREATE TABLE regressions (
    id {id},
    sentence TEXT NOT NULL,
    phrase TEXT NOT NULL,
    expect TEXT NOT NULL,
    source TEXT,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    UNIQUE (sentence, phrase)
);
CREATE TABLE alerts (
    id {id},
    event_id TEXT NOT NULL UNIQUE,
    "window" TEXT NOT NULL,
    label TEXT NOT NULL,
    day TEXT NOT NULL,
    at TEXT NOT NULL,
    phrase TEXT NOT NULL,
    category TEXT NOT NULL,
    severity {int} NOT NULL,
    clause TEXT NOT NULL,
    text TEXT NOT NULL,
    matched TEXT NOT NULL,
    span_start {int} NOT NULL,
    span_end {int} NOT NULL,
    confidence {real} NOT NULL,
    method TEXT NOT NULL,
    clip TEXT,
    host TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    note TEXT
);
CREATE INDEX alerts_day ON alerts (day, id);
CREATE TABLE playlists (
    id {id},
    name TEXT NOT NULL,
    staff_id TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE playlist_items (
    playlist_id {int} NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    position {int} NOT NULL,
    item TEXT NOT NULL,
    utterance_id {int},
    phrase TEXT,
    instead TEXT,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (playlist_id, item)
);
CREATE INDEX playlist_items_order ON playlist_items (playlist_id, position);
ALTER TABLE window_scores ADD COLUMN reviewed_score {real};
ALTER TABLE window_scores ADD COLUMN reviewed_banned_hits {int} NOT NULL DEFAULT 0;
ALTER TABLE window_scores ADD COLUMN judged_hits {int} NOT NULL DEFAULT 0;
ALTER TABLE staff_scores ADD COLUMN reviewed_score {real};
ALTER TABLE staff_scores ADD COLUMN reviewed_banned_hits {int} NOT NULL DEFAULT 0;
ALTER TABLE staff_scores ADD COLUMN judged_hits {int} NOT NULL DEFAULT 0;
"#;

/// Speaker roles: each utterance's attribution confidence and voice (a speaker embedding, JSON
/// floats, for telling the staff's voice from the citizens' across a day), and voiceprints
/// enrolled for a window or a staff member.
const V3: &str = r#"
ALTER TABLE utterances ADD COLUMN speaker_confidence {real} NOT NULL DEFAULT 0;
ALTER TABLE utterances ADD COLUMN voice TEXT;
CREATE TABLE voiceprints (
    id {id},
    owner TEXT NOT NULL,
    model TEXT NOT NULL,
    embedding TEXT NOT NULL,
    seconds {real} NOT NULL,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX voiceprints_owner ON voiceprints (owner, model);
"#;

/// The DDL for one dialect.
fn render(ddl: &str, dialect: Dialect) -> String {
    let (id, int, real) = match dialect {
        Dialect::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER", "REAL"),
        Dialect::Postgres => (
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            "BIGINT",
            "DOUBLE PRECISION",
        ),
    };
    ddl.replace("{id}", id)
        .replace("{int}", int)
        .replace("{real}", real)
}

/// Any fixed number: two boxes opening a fresh PostgreSQL database at once take turns here
/// instead of both creating the tables.
const MIGRATION_LOCK: i64 = 0x636f_7572_7465_7379; // "courtesy"

/// Brings the schema up to date in one transaction; refuses a database newer than this program.
pub(crate) fn migrate(conn: &mut Conn) -> Result<(), StoreError> {
    let dialect = conn.dialect();
    transaction(conn, |tx| {
        if dialect == Dialect::Postgres {
            tx.execute(
                "SELECT pg_advisory_xact_lock($1)",
                &[Value::Int(MIGRATION_LOCK)],
            )?;
        }
        tx.batch(&render(
            "CREATE TABLE IF NOT EXISTS schema_migrations \
             (version {int} PRIMARY KEY, applied_at TEXT NOT NULL)",
            dialect,
        ))?;
        let current = tx.query(
            "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations",
            &[],
        )?[0]
            .i64("v")?;
        if current > LATEST {
            return Err(StoreError::db(
                tx.name(),
                format!(
                    "the database has schema version {current} but this courtesy knows only up \
                     to {LATEST} — upgrade courtesy"
                ),
            ));
        }
        for (version, ddl) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.batch(&render(ddl, dialect))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[Value::Int(*version), Value::Text(super::records::now())],
            )?;
        }
        Ok(())
    })
}
