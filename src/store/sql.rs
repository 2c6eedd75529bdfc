//! The dialect-neutral query layer: one `$1`-placeholder SQL text, plain [`Value`]s and named
//! [`Row`]s over either SQLite (rusqlite) or PostgreSQL (the sync `postgres` client).

use std::collections::HashMap;
use std::sync::Arc;

use postgres::types::{FromSql, Type};

use super::StoreError;

/// Which database a store talks to; SQL that cannot be written once for both branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One SQL value as both backends exchange it. Booleans are `Int` 0/1, JSON is `Text`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(v as i64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One result row; columns are read by name with typed getters that accept what both backends
/// return for the same SQL (an integral `Real`, e.g. PostgreSQL's `SUM` over integers, reads as
/// an integer; an `Int` reads as a real).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<Vec<String>>,
    values: Vec<Value>,
}

impl Row {
    /// The column names, in select order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The raw value of a column.
    pub fn get(&self, column: &str) -> Result<&Value, StoreError> {
        self.columns
            .iter()
            .position(|c| c == column)
            .map(|i| &self.values[i])
            .ok_or_else(|| {
                StoreError::column(
                    column,
                    format!("no such column (the row has {})", self.columns.join(", ")),
                )
            })
    }

    /// An integer column that may be NULL.
    pub fn opt_i64(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            Value::Real(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Some(*v as i64)),
            other => Err(StoreError::column(
                column,
                format!("expected an integer, found {other:?}"),
            )),
        }
    }

    /// An integer column that must not be NULL.
    pub fn i64(&self, column: &str) -> Result<i64, StoreError> {
        self.opt_i64(column)?
            .ok_or_else(|| StoreError::column(column, "expected an integer, found NULL".into()))
    }

    /// A real column that may be NULL.
    pub fn opt_f64(&self, column: &str) -> Result<Option<f64>, StoreError> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v as f64)),
            Value::Real(v) => Ok(Some(*v)),
            other => Err(StoreError::column(
                column,
                format!("expected a number, found {other:?}"),
            )),
        }
    }

    /// A real column that must not be NULL.
    pub fn f64(&self, column: &str) -> Result<f64, StoreError> {
        self.opt_f64(column)?
            .ok_or_else(|| StoreError::column(column, "expected a number, found NULL".into()))
    }

    /// A text column that may be NULL.
    pub fn opt_str(&self, column: &str) -> Result<Option<&str>, StoreError> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v)),
            other => Err(StoreError::column(
                column,
                format!("expected text, found {other:?}"),
            )),
        }
    }

    /// A text column that must not be NULL.
    pub fn str(&self, column: &str) -> Result<&str, StoreError> {
        self.opt_str(column)?
            .ok_or_else(|| StoreError::column(column, "expected text, found NULL".into()))
    }

    /// A text column that may be NULL, owned.
    pub fn opt_string(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.opt_str(column)?.map(str::to_string))
    }

    /// A text column that must not be NULL, owned.
    pub fn string(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.str(column)?.to_string())
    }

    /// A 0/1 integer column as a boolean.
    pub fn bool(&self, column: &str) -> Result<bool, StoreError> {
        Ok(self.i64(column)? != 0)
    }
}

/// An open connection to one of the two backends, named for error messages.
pub(crate) struct Conn {
    /// The database as shown to people: a path, or a URL with the password masked.
    pub(crate) name: String,
    pub(crate) backend: Backend,
}

pub(crate) enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres {
        /// Boxed: the client is far larger than a SQLite connection.
        client: Box<postgres::Client>,
        /// The URL to reconnect with when the server dropped the connection.
        url: String,
        /// Prepared statements by SQL text: one round trip per execution instead of two.
        statements: HashMap<String, postgres::Statement>,
    },
}

impl Conn {
    pub(crate) fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Runs statements without parameters or results (DDL, BEGIN/COMMIT).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.reconnect_if_closed()?;
        let result = match &mut self.backend {
            Backend::Sqlite(c) => c.execute_batch(sql).map_err(DbError::Sqlite),
            Backend::Postgres { client, .. } => client.batch_execute(sql).map_err(DbError::Pg),
        };
        result.map_err(|e| e.into_store(&self.name, sql))
    }

    /// Runs one statement and returns its rows (also for `INSERT … RETURNING`).
    pub(crate) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.reconnect_if_closed()?;
        let name = self.name.clone();
        match &mut self.backend {
            Backend::Sqlite(c) => {
                sqlite_query(c, sql, params).map_err(|e| e.into_store(&name, sql))
            }
            Backend::Postgres {
                client, statements, ..
            } => pg_query(client, statements, sql, params).map_err(|e| e.into_store(&name, sql)),
        }
    }

    /// Runs one statement and returns how many rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.reconnect_if_closed()?;
        let name = self.name.clone();
        match &mut self.backend {
            Backend::Sqlite(c) => {
                sqlite_execute(c, sql, params).map_err(|e| e.into_store(&name, sql))
            }
            Backend::Postgres {
                client, statements, ..
            } => pg_execute(client, statements, sql, params).map_err(|e| e.into_store(&name, sql)),
        }
    }

    /// A PostgreSQL server restart closes the connection; the next call reconnects instead of
    /// failing for the rest of the night.
    fn reconnect_if_closed(&mut self) -> Result<(), StoreError> {
        if let Backend::Postgres {
            client,
            url,
            statements,
        } = &mut self.backend
        {
            if client.is_closed() {
                **client = pg_connect(url, &self.name)?;
                statements.clear();
            }
        }
        Ok(())
    }
}

/// Connects to PostgreSQL; `name` is the URL with the password masked.
pub(crate) fn pg_connect(url: &str, name: &str) -> Result<postgres::Client, StoreError> {
    postgres::Client::connect(url, postgres::NoTls).map_err(|e| {
        StoreError::db(
            name,
            format!(
                "cannot connect ({}) — is PostgreSQL running and the URL (host, port, user, \
                 password, database) right?",
                pg_message(&e)
            ),
        )
    })
}

/// Why a statement failed, before it is named for people.
pub(crate) enum DbError {
    Sqlite(rusqlite::Error),
    Pg(postgres::Error),
    Params(String),
}

impl DbError {
    fn into_store(self, name: &str, sql: &str) -> StoreError {
        let what = first_words(sql);
        match self {
            DbError::Params(m) => StoreError::db(name, format!("{what}: {m} — a bug in courtesy")),
            DbError::Sqlite(e) => {
                let fix = match e.sqlite_error_code() {
                    Some(
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked,
                    ) => {
                        "another process held the database too long; try again, or use PostgreSQL \
                         for many workers"
                    }
                    Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::PermissionDenied) => {
                        "make the file and its folder writable for this user"
                    }
                    Some(rusqlite::ErrorCode::DiskFull) => "free disk space",
                    Some(
                        rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase,
                    ) => "the file is damaged or not a courtesy database; restore it from a backup",
                    Some(rusqlite::ErrorCode::CannotOpen) => {
                        "check the path and that its folder exists and is writable"
                    }
                    _ => "a bug in courtesy or a damaged database; report this line",
                };
                let retry = matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                );
                let mut err = StoreError::db(
                    name,
                    format!(
                        "{what}: {} — {fix}",
                        crate::message::one_line(&e.to_string())
                    ),
                );
                if retry {
                    err = err.retryable();
                }
                err
            }
            DbError::Pg(e) => {
                let code = e.code().map(|c| c.code().to_string());
                let retry = matches!(code.as_deref(), Some("40001" | "40P01"));
                let fix = match code.as_deref() {
                    Some("40001" | "40P01") => "another worker wrote the same rows; try again",
                    Some(c) if c.starts_with("08") => {
                        "the connection to PostgreSQL broke; check the server and run again"
                    }
                    Some(c) if c.starts_with("28") => "check the user and password in the URL",
                    Some(c) if c.starts_with("42") => {
                        "the database schema is not what this courtesy expects; a bug or a \
                         database from another program"
                    }
                    Some("53100") => "free disk space on the PostgreSQL server",
                    None if e.is_closed() => {
                        "the connection to PostgreSQL closed; check the server and run again"
                    }
                    _ => "a bug in courtesy or a server problem; report this line",
                };
                let mut err = StoreError::db(name, format!("{what}: {} — {fix}", pg_message(&e)));
                if retry {
                    err = err.retryable();
                }
                err
            }
        }
    }
}

/// The server's own message when there is one (not the client's "db error:" wrapper).
fn pg_message(e: &postgres::Error) -> String {
    let text = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            // The client's own errors put the cause (e.g. "Connection refused") in the source.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            text
        }
    };
    crate::message::collapse_whitespace(&crate::message::one_line(&text))
}

/// The statement named by its first words, so an error says what was being done.
fn first_words(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().take(3).collect();
    words.join(" ")
}

/// Binds `$N` parameters by their number, not their order of appearance: SQLite numbers named
/// parameters in the order they first occur, so `… $2 … $1` must not bind positionally.
fn sqlite_bind(stmt: &mut rusqlite::Statement<'_>, params: &[Value]) -> Result<(), DbError> {
    let count = stmt.parameter_count();
    let mut highest = 0;
    for i in 1..=count {
        let n = match stmt.parameter_name(i) {
            Some(name) => name
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    DbError::Params(format!("parameter {name} is not of the form $N"))
                })?,
            None => i,
        };
        highest = highest.max(n);
        let value = params.get(n.wrapping_sub(1)).ok_or_else(|| {
            DbError::Params(format!(
                "the statement uses ${n} but {} values were given",
                params.len()
            ))
        })?;
        let result = match value {
            Value::Null => stmt.raw_bind_parameter(i, rusqlite::types::Null),
            Value::Int(v) => stmt.raw_bind_parameter(i, v),
            Value::Real(v) => stmt.raw_bind_parameter(i, v),
            Value::Text(v) => stmt.raw_bind_parameter(i, v),
        };
        result.map_err(DbError::Sqlite)?;
    }
    if highest != params.len() {
        return Err(DbError::Params(format!(
            "the statement uses {highest} parameters but {} values were given",
            params.len()
        )));
    }
    Ok(())
}

fn sqlite_query(
    c: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, DbError> {
    let mut stmt = c.prepare_cached(sql).map_err(DbError::Sqlite)?;
    sqlite_bind(&mut stmt, params)?;
    let columns: Arc<Vec<String>> = Arc::new(stmt.column_names().map(String::from).collect());
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(DbError::Sqlite)? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            use rusqlite::types::ValueRef;
            values.push(match row.get_ref(i).map_err(DbError::Sqlite)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Real(v),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Value::Text(String::from_utf8_lossy(t).into_owned())
                }
            });
        }
        out.push(Row {
            columns: columns.clone(),
            values,
        });
    }
    Ok(out)
}

fn sqlite_execute(c: &rusqlite::Connection, sql: &str, params: &[Value]) -> Result<u64, DbError> {
    let mut stmt = c.prepare_cached(sql).map_err(DbError::Sqlite)?;
    sqlite_bind(&mut stmt, params)?;
    stmt.raw_execute()
        .map(|n| n as u64)
        .map_err(DbError::Sqlite)
}

fn pg_statement(
    client: &mut postgres::Client,
    statements: &mut HashMap<String, postgres::Statement>,
    sql: &str,
) -> Result<postgres::Statement, DbError> {
    if let Some(s) = statements.get(sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(sql).map_err(DbError::Pg)?;
    statements.insert(sql.to_string(), s.clone());
    Ok(s)
}

/// Converts each value to the Rust type the server expects for its parameter: the statement is
/// prepared first, so the server has already said which types it wants.
fn pg_params(
    stmt: &postgres::Statement,
    params: &[Value],
) -> Result<Vec<Box<dyn postgres::types::ToSql + Sync>>, DbError> {
    let types = stmt.params();
    if types.len() != params.len() {
        return Err(DbError::Params(format!(
            "the statement uses {} parameters but {} values were given",
            types.len(),
            params.len()
        )));
    }
    let mut out: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::with_capacity(params.len());
    for (i, (ty, value)) in types.iter().zip(params).enumerate() {
        let bad = || {
            DbError::Params(format!(
                "parameter ${} is {value:?} but the server wants {ty}",
                i + 1
            ))
        };
        let boxed: Box<dyn postgres::types::ToSql + Sync> = match *ty {
            Type::INT8 => Box::new(match value {
                Value::Null => None,
                Value::Int(v) => Some(*v),
                _ => return Err(bad()),
            }),
            Type::INT4 => Box::new(match value {
                Value::Null => None,
                Value::Int(v) => Some(i32::try_from(*v).map_err(|_| bad())?),
                _ => return Err(bad()),
            }),
            Type::INT2 => Box::new(match value {
                Value::Null => None,
                Value::Int(v) => Some(i16::try_from(*v).map_err(|_| bad())?),
                _ => return Err(bad()),
            }),
            Type::BOOL => Box::new(match value {
                Value::Null => None,
                Value::Int(v) => Some(*v != 0),
                _ => return Err(bad()),
            }),
            Type::FLOAT8 => Box::new(match value {
                Value::Null => None,
                Value::Int(v) => Some(*v as f64),
                Value::Real(v) => Some(*v),
                _ => return Err(bad()),
            }),
            Type::FLOAT4 => Box::new(match value {
                Value::Null => None,
                Value::Int(v) => Some(*v as f32),
                Value::Real(v) => Some(*v as f32),
                _ => return Err(bad()),
            }),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Box::new(match value {
                    Value::Null => None,
                    Value::Int(v) => Some(v.to_string()),
                    Value::Real(v) => Some(v.to_string()),
                    Value::Text(v) => Some(v.clone()),
                })
            }
            _ => return Err(bad()),
        };
        out.push(boxed);
    }
    Ok(out)
}

fn pg_query(
    client: &mut postgres::Client,
    statements: &mut HashMap<String, postgres::Statement>,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, DbError> {
    let stmt = pg_statement(client, statements, sql)?;
    let boxed = pg_params(&stmt, params)?;
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = boxed.iter().map(|b| &**b).collect();
    let rows = client.query(&stmt, &refs).map_err(DbError::Pg)?;
    let columns: Arc<Vec<String>> = Arc::new(
        stmt.columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect(),
    );
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let v: PgValue = row.try_get(i).map_err(DbError::Pg)?;
            values.push(v.0);
        }
        out.push(Row {
            columns: columns.clone(),
            values,
        });
    }
    Ok(out)
}

fn pg_execute(
    client: &mut postgres::Client,
    statements: &mut HashMap<String, postgres::Statement>,
    sql: &str,
    params: &[Value],
) -> Result<u64, DbError> {
    let stmt = pg_statement(client, statements, sql)?;
    let boxed = pg_params(&stmt, params)?;
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = boxed.iter().map(|b| &**b).collect();
    client.execute(&stmt, &refs).map_err(DbError::Pg)
}

/// A PostgreSQL column read into a [`Value`], whatever its type among those the schema uses
/// (plus `NUMERIC`, which `SUM` and `AVG` return).
struct PgValue(Value);

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl<'a> FromSql<'a> for PgValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let v = match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)? as i64),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)? as i64),
            Type::OID => Value::Int(u32::from_sql(ty, raw)? as i64),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)? as i64),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)? as f64),
            Type::NUMERIC => numeric(raw)?,
            _ if <String as FromSql>::accepts(ty) => Value::Text(String::from_sql(ty, raw)?),
            _ => return Err(format!("column type {ty} is not one courtesy reads").into()),
        };
        Ok(PgValue(v))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(PgValue(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Decodes PostgreSQL's binary NUMERIC (base-10000 digits): an integer when it has no fraction and
/// fits, a real otherwise.
fn numeric(raw: &[u8]) -> Result<Value, BoxError> {
    let word = |i: usize| -> Result<i16, BoxError> {
        raw.get(i..i + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated NUMERIC".into())
    };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i32;
    let sign = word(4)? as u16;
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let negative = sign == 0x4000;
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        digits.push(word(8 + 2 * i)? as i64);
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let real: f64 = sign
        * digits
            .iter()
            .enumerate()
            .map(|(i, d)| *d as f64 * 10000f64.powi(weight - i as i32))
            .sum::<f64>();
    // Exact when no digit lies after the decimal point and the value fits an i64.
    let fractional = digits
        .iter()
        .enumerate()
        .any(|(i, d)| *d != 0 && weight - (i as i32) < 0);
    if !fractional && real.abs() < 9.0e15 {
        return Ok(Value::Int(real as i64));
    }
    Ok(Value::Real(real))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite() -> Conn {
        Conn {
            name: "memory".into(),
            backend: Backend::Sqlite(rusqlite::Connection::open_in_memory().unwrap()),
        }
    }

    #[test]
    fn sqlite_binds_dollar_parameters_by_number_not_by_order() {
        let mut c = sqlite();
        let rows = c
            .query(
                "SELECT $2 AS b, $1 AS a, $2 || 'x' AS c",
                &[Value::Int(1), Value::from("two")],
            )
            .unwrap();
        assert_eq!(rows[0].str("b").unwrap(), "two");
        assert_eq!(rows[0].i64("a").unwrap(), 1);
        assert_eq!(rows[0].str("c").unwrap(), "twox");
    }

    #[test]
    fn a_wrong_parameter_count_is_an_error_not_a_null() {
        let mut c = sqlite();
        let err = c.query("SELECT $1 AS a", &[]).unwrap_err().to_string();
        assert!(err.contains("$1"), "{err}");
        let err = c
            .query("SELECT $1 AS a", &[Value::Int(1), Value::Int(2)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 values"), "{err}");
    }

    #[test]
    fn getters_accept_what_both_backends_return() {
        let mut c = sqlite();
        let rows = c
            .query(
                "SELECT 2.0 AS whole, 3 AS int, NULL AS absent, 'x' AS text",
                &[],
            )
            .unwrap();
        let r = &rows[0];
        assert_eq!(r.i64("whole").unwrap(), 2);
        assert_eq!(r.f64("int").unwrap(), 3.0);
        assert_eq!(r.opt_i64("absent").unwrap(), None);
        assert!(r.i64("absent").is_err());
        assert!(r.i64("text").is_err());
        let err = r.str("missing").unwrap_err().to_string();
        assert!(err.contains("missing") && err.contains("whole"), "{err}");
    }

    #[test]
    fn numeric_decodes_integers_and_fractions() {
        // 12345678 = digits [1234, 5678], weight 1, scale 0.
        let raw = [0, 2, 0, 1, 0, 0, 0, 0, 0x04, 0xD2, 0x16, 0x2E];
        assert_eq!(numeric(&raw).unwrap(), Value::Int(12_345_678));
        // -1.5 = digits [1, 5000], weight 0, negative, scale 1.
        let raw = [0, 2, 0, 0, 0x40, 0, 0, 1, 0, 1, 0x13, 0x88];
        assert_eq!(numeric(&raw).unwrap(), Value::Real(-1.5));
        // 0 has no digits.
        let raw = [0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(numeric(&raw).unwrap(), Value::Int(0));
        assert!(numeric(&[0, 1]).is_err());
    }
}
