//! Window ids: the one rule for what may name a window, and the one way an id becomes a file name.
//!
//! Ids come from people (`[[window]] id` in a live configuration) and from file and folder names
//! (`courtesy live --replay`), and they end up in paths (clips) and URLs (`/clips/…`). An id is
//! therefore checked where it is read, and escaped again wherever a path is built from it
//! ([`crate::inside::component`]), so a path can never leave its folder even if an unchecked id
//! slips through.

/// Longest id, in characters.
pub const MAX_LEN: usize = 64;

/// Whether `id` may name a window: 1 to 64 letters (any script, so 七号窗口 is fine), digits,
/// `-`, `_` and `.`, not starting with `.` and without `..`. The error says why, for a message
/// that also names where the id came from.
///
/// # Example
/// ```
/// use courtesy::window_id;
/// assert!(window_id::check("w07").is_ok());
/// assert!(window_id::check("七号窗口").is_ok());
/// assert!(window_id::check("..").is_err());
/// assert!(window_id::check("a/b").is_err());
/// ```
pub fn check(id: &str) -> Result<(), String> {
    let len = id.chars().count();
    if len == 0 {
        return Err("it is empty".into());
    }
    if len > MAX_LEN {
        return Err(format!("it is longer than {MAX_LEN} characters"));
    }
    if id.starts_with('.') {
        return Err("it starts with a dot".into());
    }
    if id.contains("..") {
        return Err("it contains `..`".into());
    }
    if let Some(c) = id.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "it contains {c:?}; use letters, digits, `-`, `_` and `.`"
        ));
    }
    Ok(())
}

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_ids_pass_and_unsafe_ones_say_why() {
        for ok in ["w07", "七号窗口", "w-07_b.2", "A", &"w".repeat(64)] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "...",
            ".w",
            "a..b",
            "a/b",
            "a\\b",
            "w 07",
            "w%2f",
            "w\n",
            &"w".repeat(65),
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }
}
