//! The two backends of the record for tests: a fresh SQLite file or a fresh database on the
//! private PostgreSQL, and `both!` to run each test body against both.

use courtesy::store::Store;

use crate::pg;

/// An open store plus what keeps its database alive, and the URL to open it again.
pub struct Db {
    pub store: Store,
    pub url: String,
    _keep: Keep,
}

enum Keep {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Pg(#[allow(dead_code)] pg::PgDatabase),
}

/// A record in a fresh SQLite file.
pub fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("courtesy.db").display().to_string();
    Db {
        store: Store::open(&url).unwrap(),
        url,
        _keep: Keep::Dir(dir),
    }
}

/// A record in a fresh database on the private PostgreSQL server.
pub fn postgres() -> Db {
    let db = pg::database();
    let url = db.url.clone();
    Db {
        store: Store::open(&url).unwrap(),
        url,
        _keep: Keep::Pg(db),
    }
}

/// Instantiates each body `fn NAME(db: Db)` of the calling module once per backend:
/// `MODULE::sqlite::NAME` and `MODULE::postgres::NAME`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name($crate::backends::sqlite()) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name($crate::backends::postgres()) })*
        }
    };
}
