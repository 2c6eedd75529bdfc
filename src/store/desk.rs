//! The desk's people: users, their web sessions and the audit log of what they did.

use super::records::now;
use super::{Row, Store, StoreError, Tx, Value};

/// One person who may log in to the desk. `role` is the text `courtesy::desk::Role` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: String,
    /// An Argon2id PHC string; never shown.
    pub password_hash: String,
    pub created_at: String,
    pub disabled: bool,
}

/// A web session found by its token's hash, with the user it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSession {
    pub user: User,
    /// The session's CSRF token: every state-changing request must carry it.
    pub csrf: String,
    /// Unix seconds after which the session is void.
    pub expires_at: i64,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub user_name: Option<String>,
    pub action: String,
    pub object: Option<String>,
    pub detail: Option<String>,
    pub remote: Option<String>,
}

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.password_hash, u.created_at, u.disabled";

fn user(row: &Row) -> Result<User, StoreError> {
    Ok(User {
        id: row.i64("id")?,
        name: row.string("name")?,
        role: row.string("role")?,
        password_hash: row.string("password_hash")?,
        created_at: row.string("created_at")?,
        disabled: row.bool("disabled")?,
    })
}

/// Deletes every web session of the user named `name`.
fn end_sessions(tx: &mut Tx<'_>, name: &str) -> Result<u64, StoreError> {
    tx.execute(
        "DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM users WHERE name = $1)",
        &[Value::from(name)],
    )
}

impl Store {
    /// Adds a user and returns its id; a name already taken is refused with the fix.
    pub fn add_user(&self, name: &str, role: &str, password_hash: &str) -> Result<i64, StoreError> {
        if self.user(name)?.is_some() {
            return Err(StoreError::db(
                self.describe(),
                format!(
                    "there is already a user named {name} — choose another name, or change \
                     this one's password with `courtesy user passwd {name}`"
                ),
            ));
        }
        let rows = self.query(
            "INSERT INTO users (name, role, password_hash, created_at, disabled) \
             VALUES ($1, $2, $3, $4, 0) RETURNING id",
            &[
                Value::from(name),
                Value::from(role),
                Value::from(password_hash),
                Value::Text(now()),
            ],
        )?;
        rows[0].i64("id")
    }

    /// The user with this name, disabled or not.
    pub fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let rows = self.query(
            &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.name = $1"),
            &[Value::from(name)],
        )?;
        rows.first().map(user).transpose()
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.query(
            &format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"),
            &[],
        )?
        .iter()
        .map(user)
        .collect()
    }

    /// Disables (or enables again) a user; disabling also ends every session the user has.
    /// Returns false when there is no such user.
    pub fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        self.transaction(|tx| {
            let n = tx.execute(
                "UPDATE users SET disabled = $2 WHERE name = $1",
                &[Value::from(name), Value::from(disabled)],
            )?;
            if disabled {
                end_sessions(tx, name)?;
            }
            Ok(n > 0)
        })
    }

    /// Replaces a user's password hash and ends the user's sessions (a changed password logs
    /// everyone out). Returns false when there is no such user.
    pub fn set_password_hash(&self, name: &str, password_hash: &str) -> Result<bool, StoreError> {
        self.transaction(|tx| {
            let n = tx.execute(
                "UPDATE users SET password_hash = $2 WHERE name = $1",
                &[Value::from(name), Value::from(password_hash)],
            )?;
            end_sessions(tx, name)?;
            Ok(n > 0)
        })
    }

    /// Opens a web session: only the token's SHA-256 is kept, never the token.
    pub fn create_web_session(
        &self,
        token_sha256: &str,
        user_id: i64,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO web_sessions (token_sha256, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                Value::from(token_sha256),
                Value::Int(user_id),
                Value::from(csrf),
                Value::Text(now()),
                Value::Int(expires_at),
            ],
        )?;
        Ok(())
    }

    /// The session with this token hash if it has not expired at `now` (Unix seconds) and its
    /// user is not disabled.
    pub fn web_session(
        &self,
        token_sha256: &str,
        now: i64,
    ) -> Result<Option<WebSession>, StoreError> {
        let rows = self.query(
            &format!(
                "SELECT {USER_COLUMNS}, s.csrf, s.expires_at FROM web_sessions s \
                 JOIN users u ON u.id = s.user_id \
                 WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND u.disabled = 0"
            ),
            &[Value::from(token_sha256), Value::Int(now)],
        )?;
        rows.first()
            .map(|r| {
                Ok(WebSession {
                    user: user(r)?,
                    csrf: r.string("csrf")?,
                    expires_at: r.i64("expires_at")?,
                })
            })
            .transpose()
    }

    /// Ends one session (logout); true when there was one.
    pub fn delete_web_session(&self, token_sha256: &str) -> Result<bool, StoreError> {
        Ok(self.execute(
            "DELETE FROM web_sessions WHERE token_sha256 = $1",
            &[Value::from(token_sha256)],
        )? > 0)
    }

    /// Forgets sessions that expired before `now` (Unix seconds); returns how many.
    pub fn delete_expired_web_sessions(&self, now: i64) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM web_sessions WHERE expires_at <= $1",
            &[Value::Int(now)],
        )
    }

    /// Appends one line to the audit log: who (`None` before login), did what, to which object.
    pub fn add_audit(
        &self,
        user_name: Option<&str>,
        action: &str,
        object: Option<&str>,
        detail: Option<&str>,
        remote: Option<&str>,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO audit (at, user_name, action, object, detail, remote) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                Value::Text(now()),
                Value::from(user_name),
                Value::from(action),
                Value::from(object),
                Value::from(detail),
                Value::from(remote),
            ],
        )?;
        Ok(())
    }

    /// The newest `limit` audit lines, newest first.
    pub fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        self.query(
            "SELECT id, at, user_name, action, object, detail, remote FROM audit \
             ORDER BY id DESC LIMIT $1",
            &[Value::Int(limit)],
        )?
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.i64("id")?,
                at: r.string("at")?,
                user_name: r.opt_string("user_name")?,
                action: r.string("action")?,
                object: r.opt_string("object")?,
                detail: r.opt_string("detail")?,
                remote: r.opt_string("remote")?,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("r.db").to_str().unwrap()).unwrap();
        (dir, store)
    }

    #[test]
    fn users_sessions_and_their_end() {
        let (_dir, store) = store();
        let id = store.add_user("王芳", "trainer", "$argon2id$x").unwrap();
        let e = store.add_user("王芳", "office", "$argon2id$y").unwrap_err();
        assert!(e.to_string().contains("already a user named 王芳"), "{e}");
        assert_eq!(store.users().unwrap().len(), 1);

        store.create_web_session("h1", id, "c1", 1_000).unwrap();
        store.create_web_session("h2", id, "c2", 2_000).unwrap();
        let s = store.web_session("h1", 999).unwrap().unwrap();
        assert_eq!((s.user.name.as_str(), s.csrf.as_str()), ("王芳", "c1"));
        assert!(store.web_session("h1", 1_000).unwrap().is_none(), "expired");
        assert!(store.web_session("nope", 0).unwrap().is_none());
        assert_eq!(store.delete_expired_web_sessions(1_500).unwrap(), 1);
        assert!(store.delete_web_session("h2").unwrap());
        assert!(!store.delete_web_session("h2").unwrap());

        store.create_web_session("h3", id, "c3", 2_000).unwrap();
        assert!(store.set_user_disabled("王芳", true).unwrap());
        assert!(store.web_session("h3", 0).unwrap().is_none());
        assert!(store.user("王芳").unwrap().unwrap().disabled);
        assert!(!store.set_user_disabled("nobody", true).unwrap());
        store.set_user_disabled("王芳", false).unwrap();

        store.create_web_session("h4", id, "c4", 2_000).unwrap();
        assert!(store.set_password_hash("王芳", "$argon2id$z").unwrap());
        assert!(store.web_session("h4", 0).unwrap().is_none(), "logged out");
        assert_eq!(
            store.user("王芳").unwrap().unwrap().password_hash,
            "$argon2id$z"
        );
    }

    #[test]
    fn audit_lines_come_back_newest_first() {
        let (_dir, store) = store();
        store
            .add_audit(None, "login_failed", Some("x"), None, Some("127.0.0.1"))
            .unwrap();
        store
            .add_audit(Some("王芳"), "login", None, None, None)
            .unwrap();
        let log = store.audit_log(10).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].action, "login");
        assert_eq!(log[1].remote.as_deref(), Some("127.0.0.1"));
    }
}
