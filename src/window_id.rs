//! Window ids: the one rule for what may name a window, and the one way an id becomes a file name.
//!
//! Ids come from people (`[[window]] id` in a live configuration) and from file and folder names
//! (`courtesy live --replay`), and they end up in paths (clips) and URLs (`/clips/…`). An id is
//! therefore checked where it is read, and escaped again wherever a path is built from it, so a
//! path can never leave its folder even if an unchecked id slips through.

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

/// `id` as one path component that stays inside its folder: a valid id unchanged; anything
/// else with every character but letters, digits, `-` and `_` written as `~XX` (its UTF-8
/// bytes), so `..` becomes `~2E~2E` and `a/b` becomes `a~2Fb`.
///
/// # Example
/// ```
/// use courtesy::window_id::file_component;
/// assert_eq!(file_component("w07"), "w07");
/// assert_eq!(file_component(".."), "~2E~2E");
/// assert_eq!(file_component(""), "~");
/// ```
pub fn file_component(id: &str) -> String {
    if check(id).is_ok() {
        return id.to_string();
    }
    let mut out = String::with_capacity(id.len() + 1);
    for c in id.chars() {
        if c.is_alphanumeric() || matches!(c, '-' | '_') {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("~{b:02X}"));
            }
        }
    }
    if out.is_empty() {
        out.push('~');
    }
    out
}

/// Whether `rel` (a path built from input, relative to some folder) stays inside that folder:
/// only plain names, no `..`, no root, no prefix, no `.`.
pub fn stays_inside(rel: &std::path::Path) -> bool {
    rel.components().next().is_some()
        && rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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

    #[test]
    fn every_file_component_is_one_plain_name() {
        for id in [
            "..",
            ".",
            "",
            "../..",
            "/abs",
            "a/../../b",
            "..\\x",
            "C:",
            "w07",
            "七号",
        ] {
            let c = file_component(id);
            assert!(stays_inside(Path::new(&c)), "{id:?} → {c:?}");
            assert_eq!(Path::new(&c).components().count(), 1, "{id:?} → {c:?}");
            assert!(!c.starts_with('.'), "{id:?} → {c:?}");
        }
        assert!(!stays_inside(Path::new("../x")));
        assert!(!stays_inside(Path::new("/x")));
        assert!(!stays_inside(Path::new("")));
        assert!(stays_inside(Path::new("w07/a.wav")));
    }
}
