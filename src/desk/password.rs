//! Passwords: the policy, Argon2id PHC hashes and their checks.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The shortest password accepted, in characters.
pub const MIN_CHARS: usize = 8;
/// The longest, in bytes (hashing is deliberately slow; a megabyte password would be slower).
pub const MAX_BYTES: usize = 1024;

/// Refuses a password that is too short or too long; the message says the rule.
pub fn check(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(format!(
            "the password has {chars} characters — use at least {MIN_CHARS}"
        ));
    }
    if password.len() > MAX_BYTES {
        return Err(format!(
            "the password is longer than {MAX_BYTES} bytes — use a shorter one"
        ));
    }
    Ok(())
}

/// The Argon2id PHC string (`$argon2id$v=19$…`) of a password, with a fresh random salt.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&super::auth::random_bytes(16))
        .map_err(|e| format!("cannot make a salt ({e}) — a bug in courtesy"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password ({e}) — a bug in courtesy"))
}

/// Whether `password` matches the PHC string; a damaged hash matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_BYTES {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash no password is known for, checked against when the user does not exist so that an
/// unknown name takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash(&super::auth::random_hex(16)).unwrap_or_else(|_| "$argon2id$invalid".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_checked() {
        let a = hash("正确的马电池钉").unwrap();
        let b = hash("正确的马电池钉").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify("正确的马电池钉", &a));
        assert!(!verify("正确的马电池", &a));
        assert!(!verify("anything", "not a hash"));
        assert!(!verify("anything", dummy_hash()));
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check("1234567").unwrap_err().contains("at least 8"));
        check("12345678").unwrap();
        check("八个汉字的密码啊").unwrap();
        assert!(check(&"x".repeat(MAX_BYTES + 1)).is_err());
    }
}
