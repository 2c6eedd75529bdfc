//! The night's record: one SQLite file or one PostgreSQL database holding runs, recordings,
//! transcripts, hits and scores, written only through transactions so a killed run leaves no half.
//!
//! [`Store::open`] picks the backend from the URL and brings the schema up to date. Other modules
//! read with [`Store::query`] (one SQL text for both backends: `$1` placeholders, `"window"`
//! quoted — `WINDOW` is reserved in PostgreSQL); every write goes through a typed method here.
//!
//! ```
//! use courtesy::store::{Store, Value};
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("courtesy.db").to_str().unwrap()).unwrap();
//! let rows = store
//!     .query("SELECT count(*) AS n FROM recordings WHERE status = $1", &[Value::from("done")])
//!     .unwrap();
//! assert_eq!(rows[0].i64("n").unwrap(), 0);
//! ```

mod alerts;
mod days;
mod desk;
mod lease;
mod playlists;
mod records;
mod review;
mod runs;
mod schema;
mod sql;
mod voiceprints;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use alerts::{Acknowledged, Acknowledgement, NewAlert, StoredAlert};
pub use desk::{AuditEntry, User, WebSession};
pub use lease::Lease;
pub use playlists::{NewPlaylistItem, Playlist, PlaylistItem};
pub use records::*;
pub use review::*;
pub use sql::{Dialect, Row, Value};

use sql::{Backend, Conn};

/// Why the record could not be read or written: one line naming the database and the fix.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed; `retry` marks conflicts that succeed when run again.
    #[error("{db}: {message}")]
    Db {
        db: String,
        message: String,
        retry: bool,
    },
    /// Another worker took this recording over after our lease expired; our result is dropped.
    #[error(
        "{db}: recording {recording} was taken over by another worker after this worker's lease \
         expired — this result is dropped and the other worker's stands; renew leases more often \
         than they expire"
    )]
    LeaseLost { db: String, recording: i64 },
    /// A row did not hold what the code read from it.
    #[error(
        "column `{column}`: {message} — a bug in courtesy (the query and the schema disagree)"
    )]
    Column { column: String, message: String },
}

impl StoreError {
    pub(crate) fn db(db: &str, message: String) -> Self {
        StoreError::Db {
            db: db.to_string(),
            message,
            retry: false,
        }
    }

    pub(crate) fn column(column: &str, message: String) -> Self {
        StoreError::Column {
            column: column.to_string(),
            message,
        }
    }

    fn retryable(self) -> Self {
        match self {
            StoreError::Db { db, message, .. } => StoreError::Db {
                db,
                message,
                retry: true,
            },
            other => other,
        }
    }

    fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Db { retry: true, .. })
    }
}

/// The record, shared by threads (`Send + Sync`): one connection behind a mutex, so calls from
/// several threads take turns. Separate processes (or boxes) each open their own.
pub struct Store {
    conn: Mutex<Conn>,
    name: String,
    dialect: Dialect,
}

/// How long a SQLite writer waits for another process's write before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a transaction that lost a PostgreSQL deadlock or serialization conflict runs.
const TRANSACTION_TRIES: usize = 4;

impl Store {
    /// Opens the record at `url` and brings its schema up to date: a `postgres://` or
    /// `postgresql://` URL is a PostgreSQL database; anything else is a SQLite file path
    /// (optionally prefixed `sqlite:`), created if missing in a folder that must exist.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let url = url.trim();
        let conn = if is_postgres(url) {
            let name = mask_password(url);
            let client = sql::pg_connect(url, &name)?;
            Conn {
                name,
                backend: Backend::Postgres {
                    client: Box::new(client),
                    url: url.to_string(),
                    statements: Default::default(),
                },
            }
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            open_sqlite(Path::new(path))?
        };
        let dialect = conn.dialect();
        let name = conn.name.clone();
        let mut conn = conn;
        schema::migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            name,
            dialect,
        })
    }

    /// The database as shown to people: the SQLite path, or the URL with its password masked.
    pub fn describe(&self) -> &str {
        &self.name
    }

    /// Which backend this is, for the rare SQL that differs between them.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Runs one read (or `… RETURNING`) statement and returns its rows.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.lock().query(sql, params)
    }

    /// Runs one statement and returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.lock().execute(sql, params)
    }

    /// Runs `f` inside one transaction: committed when it returns `Ok`, rolled back on `Err` (or a
    /// panic). On SQLite it is `BEGIN IMMEDIATE`, so it holds the write lock from the start and
    /// never fails half-way for a lock. On PostgreSQL a deadlock or serialization conflict runs
    /// `f` again (hence `FnMut`). Do not call other `Store` methods from inside `f`: use `tx`.
    pub fn transaction<T>(
        &self,
        f: impl FnMut(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        transaction(&mut self.lock(), f)
    }

    fn lock(&self) -> MutexGuard<'_, Conn> {
        // A panic inside a transaction has already rolled it back (see `Rollback`), so the
        // connection is usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One open transaction: the same reads and writes as [`Store`], all committed together.
pub struct Tx<'a> {
    conn: &'a mut Conn,
}

impl Tx<'_> {
    /// Runs one statement in the transaction and returns its rows.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.conn.query(sql, params)
    }

    /// Runs one statement in the transaction and returns how many rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.conn.execute(sql, params)
    }

    /// Which backend this is.
    pub fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    /// The database's name for error messages.
    pub(crate) fn name(&self) -> &str {
        &self.conn.name
    }

    /// Runs parameterless statements (DDL).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.conn.batch(sql)
    }
}

/// Rolls the transaction back unless it was finished, also when the closure panicked.
struct Rollback<'a> {
    conn: &'a mut Conn,
    open: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing better to do with a failed rollback: the connection reports the next error.
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}

pub(crate) fn transaction<T>(
    conn: &mut Conn,
    mut f: impl FnMut(&mut Tx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let begin = match conn.dialect() {
        Dialect::Sqlite => "BEGIN IMMEDIATE",
        Dialect::Postgres => "BEGIN",
    };
    let mut tries = 0;
    loop {
        tries += 1;
        conn.batch(begin)?;
        let mut guard = Rollback { conn, open: true };
        let result = f(&mut Tx {
            conn: &mut *guard.conn,
        });
        let result = match result {
            Ok(v) => match guard.conn.batch("COMMIT") {
                Ok(()) => {
                    guard.open = false;
                    Ok(v)
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        drop(guard);
        match result {
            Err(e) if e.is_retryable() && tries < TRANSACTION_TRIES => {
                std::thread::sleep(Duration::from_millis(20 * tries as u64));
            }
            other => return other,
        }
    }
}

/// Opens (creating if needed) a SQLite file for several processes at once: WAL so readers never
/// wait for the writer, a busy timeout so writers queue instead of failing, foreign keys on so
/// deleting a recording's utterances takes their hits along.
fn open_sqlite(path: &Path) -> Result<Conn, StoreError> {
    let name = path.display().to_string();
    if path.as_os_str().is_empty() {
        return Err(StoreError::db(
            "sqlite:",
            "no database file given — pass --db PATH or a postgres:// URL".into(),
        ));
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(StoreError::db(
            &name,
            format!(
                "the folder {} does not exist — create it, or choose another database path",
                folder.display()
            ),
        ));
    }
    let c = rusqlite::Connection::open(path).map_err(|e| {
        StoreError::db(
            &name,
            format!(
                "cannot open ({}) — check the path and that its folder is writable",
                crate::message::one_line(&e.to_string())
            ),
        )
    })?;
    let mut conn = Conn {
        name: name.clone(),
        backend: Backend::Sqlite(c),
    };
    if let Backend::Sqlite(c) = &conn.backend {
        c.busy_timeout(SQLITE_BUSY_TIMEOUT).map_err(|e| {
            StoreError::db(&name, format!("cannot set the busy timeout ({e}) — a bug"))
        })?;
    }
    // NORMAL is crash-safe in WAL mode: a killed process loses nothing committed.
    conn.batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

/// The URL with any password replaced by `***`, in the user-info part and in a `password=`
/// query parameter.
/// Whether `url` names a PostgreSQL record (else it is a SQLite file).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

pub fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{host}", &userinfo[..colon]),
                None => authority.to_string(),
            }
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_shared_by_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Store>();
        assert_send_sync::<StoreError>();
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            mask_password("postgres://courtesy:s3cret@db:5432/courtesy"),
            "postgres://courtesy:***@db:5432/courtesy"
        );
        assert_eq!(
            mask_password("postgresql://u@db/c?password=x&sslmode=disable"),
            "postgresql://u@db/c?password=***&sslmode=disable"
        );
        assert_eq!(
            mask_password("postgres://db/c"),
            "postgres://db/c",
            "nothing to mask"
        );
    }

    #[test]
    fn a_missing_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/courtesy.db");
        let err = Store::open(path.to_str().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("no/such") && err.contains("does not exist"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn sqlite_prefix_and_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let store = Store::open(&format!("sqlite:{}", path.display())).unwrap();
        assert_eq!(store.describe(), path.display().to_string());
        assert_eq!(store.dialect(), Dialect::Sqlite);
        let mode = store.query("PRAGMA journal_mode", &[]).unwrap();
        assert_eq!(mode[0].str("journal_mode").unwrap(), "wal");
        let fk = store.query("PRAGMA foreign_keys", &[]).unwrap();
        assert_eq!(fk[0].i64("foreign_keys").unwrap(), 1);
    }

    #[test]
    fn an_unreachable_postgres_says_so_with_the_password_masked() {
        // Port 1 on localhost: nothing listens there.
        let err = Store::open("postgres://courtesy:hunter2@127.0.0.1:1/courtesy")
            .err()
            .unwrap()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("courtesy:***@127.0.0.1:1"), "{err}");
        assert!(err.contains("cannot connect") && err.contains("is PostgreSQL running"));
        assert!(!err.contains('\n'));
    }

    #[test]
    fn migrations_run_once_and_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let path = path.to_str().unwrap();
        let first = Store::open(path).unwrap();
        first
            .execute(
                "INSERT INTO lexicons(version, label, civil, banned, created_at) \
                 VALUES ('v', NULL, '', '', 'now')",
                &[],
            )
            .unwrap();
        drop(first);
        let second = Store::open(path).unwrap();
        let rows = second
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .unwrap();
        let versions: Vec<i64> = rows.iter().map(|r| r.i64("version").unwrap()).collect();
        assert_eq!(versions, (1..=schema::LATEST).collect::<Vec<_>>());
        let kept = second
            .query("SELECT count(*) AS n FROM lexicons", &[])
            .unwrap();
        assert_eq!(
            kept[0].i64("n").unwrap(),
            1,
            "reopening must not recreate tables"
        );
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let path = path.to_str().unwrap();
        Store::open(path)
            .unwrap()
            .execute(
                "INSERT INTO schema_migrations(version, applied_at) VALUES (999, 'later')",
                &[],
            )
            .unwrap();
        let err = Store::open(path).err().unwrap().to_string();
        assert!(
            err.contains("999") && err.contains("upgrade courtesy"),
            "{err}"
        );
    }

    #[test]
    fn a_failed_transaction_leaves_nothing_and_a_panic_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("r.db").to_str().unwrap()).unwrap();
        let insert = "INSERT INTO lexicons(version, label, civil, banned, created_at) \
                      VALUES ($1, NULL, '', '', 'now')";
        let err = store
            .transaction(|tx| {
                tx.execute(insert, &[Value::from("a")])?;
                tx.execute(insert, &[Value::from("a")])?; // primary key clash
                Ok(())
            })
            .unwrap_err();
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        let store = std::sync::Arc::new(store);
        let s = store.clone();
        let panicked = std::thread::spawn(move || {
            s.transaction(|tx| -> Result<(), StoreError> {
                tx.execute(insert, &[Value::from("b")])?;
                panic!("mid-transaction");
            })
        })
        .join();
        assert!(panicked.is_err());
        let n = store
            .query("SELECT count(*) AS n FROM lexicons", &[])
            .unwrap();
        assert_eq!(n[0].i64("n").unwrap(), 0);
        store.execute(insert, &[Value::from("c")]).unwrap();
    }
}
