//! The people who may log in: adding, disabling and re-passwording them, for `courtesy user`
//! and the admins' page alike.

use super::password;
use super::routes::Role;
use crate::store::{Store, StoreError, User};

/// Why a user could not be added or changed: one line with the fix.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The longest user name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Refuses names that would be hard to type or to show: empty, too long, with spaces at the
/// ends or control characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the user name is empty — give one, e.g. wangfang or 王芳".into());
    }
    if name.trim() != name || name.chars().any(char::is_control) {
        return Err(format!(
            "the user name {name:?} has spaces at its ends or control characters — remove them"
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "the user name is longer than {MAX_NAME_CHARS} characters — use a shorter one"
        ));
    }
    Ok(())
}

/// Adds a user with a checked name and password (hashed with Argon2id); returns its id.
pub fn add(store: &Store, name: &str, role: Role, password: &str) -> Result<i64, UserError> {
    check_name(name).map_err(UserError::Invalid)?;
    password::check(password).map_err(UserError::Invalid)?;
    let hash = password::hash(password).map_err(UserError::Invalid)?;
    Ok(store.add_user(name, role.as_str(), &hash)?)
}

/// Sets a new password and ends the user's sessions.
pub fn set_password(store: &Store, name: &str, password: &str) -> Result<(), UserError> {
    password::check(password).map_err(UserError::Invalid)?;
    let hash = password::hash(password).map_err(UserError::Invalid)?;
    if !store.set_password_hash(name, &hash)? {
        return Err(no_such_user(name));
    }
    Ok(())
}

/// Disables (or enables again) a user; disabling ends the user's sessions at once.
pub fn set_disabled(store: &Store, name: &str, disabled: bool) -> Result<(), UserError> {
    if !store.set_user_disabled(name, disabled)? {
        return Err(no_such_user(name));
    }
    Ok(())
}

/// Every user, by name.
pub fn list(store: &Store) -> Result<Vec<User>, UserError> {
    Ok(store.users()?)
}

fn no_such_user(name: &str) -> UserError {
    UserError::Invalid(format!(
        "there is no user named {name} — `courtesy user list` shows them"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passwords_are_checked_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("r.db").to_str().unwrap()).unwrap();
        for bad in ["", " 王芳", "王芳\n", &"名".repeat(65)] {
            assert!(
                add(&store, bad, Role::Trainer, "long enough").is_err(),
                "{bad:?}"
            );
        }
        let e = add(&store, "王芳", Role::Trainer, "short")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 8"), "{e}");
        assert!(store.users().unwrap().is_empty());

        add(&store, "王芳", Role::Trainer, "long enough").unwrap();
        let u = store.user("王芳").unwrap().unwrap();
        assert_eq!(u.role, "trainer");
        assert!(password::verify("long enough", &u.password_hash));
        set_password(&store, "王芳", "another one").unwrap();
        let u = store.user("王芳").unwrap().unwrap();
        assert!(password::verify("another one", &u.password_hash));
        let e = set_disabled(&store, "李四", true).unwrap_err().to_string();
        assert!(e.contains("no user named 李四"), "{e}");
        set_disabled(&store, "王芳", true).unwrap();
        assert!(list(&store).unwrap()[0].disabled);
    }
}
