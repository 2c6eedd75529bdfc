//! The versioned schema: migrations written once with type placeholders, run on open in one
//! transaction and recorded in `schema_migrations`.

use super::sql::{Conn, Dialect, Value};
use super::{transaction, StoreError};

/// The newest schema version this program knows.
pub(crate) const LATEST: i64 = 1;

/// Migrations in order. `{id}` is the table's own key, `{int}` a 64-bit integer, `{real}` a
/// double; `"window"` is quoted because WINDOW is a reserved word in PostgreSQL.
const MIGRATIONS: &[(i64, &str)] = &[(1, V1)];

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
