//! Paths built from input: one sanitised component, joined under its folder and proven to stay there.
//!
//! Window ids, file names, alert ids and clip paths read back from the record all end up in paths
//! (clips of `batch` and `live`, the webhook outbox, `prune`, the page's `/clips/`, the report's
//! links). Each of those paths is made here, in two steps:
//!
//! 1. [`component`] turns any text into one plain file name: letters, digits, `-`, `_` and `.` (a
//!    safe window id passes unchanged), every other character escaped as `~XX`, never `.` or `..`,
//!    never empty, never longer than [`MAX_COMPONENT_BYTES`]; [`is_plain`] says whether a relative
//!    path (several components, e.g. read back from the record) is made of such names only.
//! 2. [`join`] (to write) and [`existing`] (to read or delete) check the relative path is plain,
//!    then resolve its folder through any links and check that the real folder still lies inside
//!    the real base folder; a link in the final name is refused (or, to read, must point inside).

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// Longest component [`component`] makes, in bytes: room for a suffix (`.opus`, a temporary
/// name's `.PID-N.tmp`) under every filesystem's 255-byte limit.
pub const MAX_COMPONENT_BYTES: usize = 120;

/// `name` as one path component that stays inside its folder.
///
/// A safe window id ([`crate::window_id::check`]) is returned unchanged. Anything else keeps its
/// letters (any script), digits, `-` and `_`; every other character is written as `~XX` (its
/// UTF-8 bytes), so `..` becomes `~2E~2E`, `a/b` becomes `a~2Fb`, `a\b` becomes `a~5Cb` and NUL
/// becomes `~00`. A result longer than [`MAX_COMPONENT_BYTES`] keeps its first part and ends in
/// `~` and 16 hex digits of the name's SHA-256, so two long names stay two files.
///
/// # Example
/// ```
/// use courtesy::inside::component;
/// assert_eq!(component("w07"), "w07");
/// assert_eq!(component(".."), "~2E~2E");
/// assert_eq!(component("C:\\x"), "C~3A~5Cx");
/// assert_eq!(component(""), "~");
/// assert!(component(&"长".repeat(500)).len() <= 120);
/// ```
pub fn component(name: &str) -> String {
    let mut out = if crate::window_id::check(name).is_ok() {
        name.to_string()
    } else {
        let mut out = String::with_capacity(name.len() + 1);
        for c in name.chars() {
            if c.is_alphanumeric() || matches!(c, '-' | '_') {
                out.push(c);
            } else {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("~{b:02X}"));
                }
            }
        }
        out
    };
    if out.is_empty() {
        out.push('~');
    }
    if out.len() > MAX_COMPONENT_BYTES {
        let hash = Sha256::digest(name.as_bytes());
        let tag: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
        let mut keep = MAX_COMPONENT_BYTES - 1 - tag.len();
        while !out.is_char_boundary(keep) {
            keep -= 1;
        }
        out.truncate(keep);
        out.push('~');
        out.push_str(&tag);
    }
    out
}

/// Whether `rel` (a path built from input, relative to some folder) is made only of plain names:
/// at least one, no `..`, `.`, root or drive, no NUL or backslash (a separator on Windows), no
/// name longer than 255 bytes.
///
/// # Example
/// ```
/// use courtesy::inside::is_plain;
/// use std::path::Path;
/// assert!(is_plain(Path::new("2026-11-30/w07/083005_1500.opus")));
/// assert!(!is_plain(Path::new("../secret")));
/// assert!(!is_plain(Path::new("/etc/passwd")));
/// assert!(!is_plain(Path::new("w07\\..\\..\\x")));
/// ```
pub fn is_plain(rel: &Path) -> bool {
    // Split by hand: `Path::components` quietly drops `.` and empty names (`a/./b`, `a//b`).
    let text = rel.as_os_str().as_encoded_bytes();
    !text.contains(&0)
        && !text.contains(&b'\\')
        && text
            .split(|&b| b == b'/')
            .all(|name| !name.is_empty() && name != b"." && name != b".." && name.len() <= 255)
        && rel.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Why a path built from input was not used.
#[derive(Debug)]
pub struct PathError {
    dir: PathBuf,
    rel: PathBuf,
    kind: Why,
}

#[derive(Debug)]
enum Why {
    NotPlain,
    Outside,
    Io(io::Error),
}

impl PathError {
    fn new(dir: &Path, rel: &Path, kind: Why) -> PathError {
        PathError {
            dir: dir.to_path_buf(),
            rel: rel.to_path_buf(),
            kind,
        }
    }

    /// True when the relative path itself is not plain (`..`, a root, NUL…): a bad request rather
    /// than a missing file.
    pub fn is_not_plain(&self) -> bool {
        matches!(self.kind, Why::NotPlain)
    }

    /// The file-system error, when that is what stopped it (a full disk, permissions, missing).
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match &self.kind {
            Why::Io(e) => Some(e.kind()),
            _ => None,
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rel = crate::message::one_line(&self.rel.to_string_lossy());
        let dir = self.dir.display();
        match &self.kind {
            Why::NotPlain => write!(
                f,
                "{rel:?} is not a plain relative path inside {dir} — refused, nothing written"
            ),
            Why::Outside => write!(
                f,
                "{rel:?} would leave {dir} through a link — remove the link or choose another folder"
            ),
            Why::Io(e) => write!(
                f,
                "{dir}/{rel}: {} — check that the folder is writable and the disk has space",
                crate::message::one_line(&e.to_string())
            ),
        }
    }
}

impl std::error::Error for PathError {}

impl From<PathError> for io::Error {
    fn from(e: PathError) -> io::Error {
        let kind = match &e.kind {
            Why::Io(io) => io.kind(),
            Why::NotPlain => io::ErrorKind::InvalidInput,
            Why::Outside => io::ErrorKind::PermissionDenied,
        };
        io::Error::new(kind, e.to_string())
    }
}

/// The path to write `rel` at inside `dir`: checks `rel` is plain, creates `dir` and the folders
/// of `rel`, and checks that the real (link-resolved) folder lies inside the real `dir` and that
/// the final name is not a link. Returns the real folder joined with the final name.
///
/// # Example
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let clips = dir.path().join("clips");
/// let p = courtesy::inside::join(&clips, "w07/a.wav".as_ref()).unwrap();
/// assert!(p.starts_with(clips.canonicalize().unwrap()));
/// assert!(courtesy::inside::join(&clips, "../a.wav".as_ref()).is_err());
/// ```
pub fn join(dir: &Path, rel: &Path) -> Result<PathBuf, PathError> {
    let err = |kind| PathError::new(dir, rel, kind);
    let (parent, name) = split(rel).map_err(err)?;
    std::fs::create_dir_all(dir).map_err(|e| err(Why::Io(e)))?;
    let base = base_of(dir).map_err(err)?;
    // One folder at a time, each checked before the next is made in it: a link out is found
    // before anything is created on the other side.
    let mut folder = base.clone();
    for name in parent.iter() {
        let next = folder.join(name);
        match std::fs::create_dir(&next) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(err(Why::Io(e))),
            _ => {}
        }
        folder = real_inside(&base, &next).map_err(err)?;
    }
    let full = folder.join(name);
    if std::fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(err(Why::Outside));
    }
    Ok(full)
}

/// The existing entry `rel` inside `dir`, to read or delete: checks `rel` is plain and that its
/// real folder lies inside the real `dir`; a final name that is a link must point inside too.
/// Returns the real folder joined with the final name (deleting it deletes a link, not its target).
pub fn existing(dir: &Path, rel: &Path) -> Result<PathBuf, PathError> {
    let err = |kind| PathError::new(dir, rel, kind);
    let (parent, name) = split(rel).map_err(err)?;
    let base = base_of(dir).map_err(err)?;
    let folder = real_inside(&base, &base.join(parent)).map_err(err)?;
    let full = folder.join(name);
    let meta = std::fs::symlink_metadata(&full).map_err(|e| err(Why::Io(e)))?;
    if meta.file_type().is_symlink() {
        real_inside(&base, &full).map_err(err)?;
    }
    Ok(full)
}

/// `rel` split into its folder and final name, once it is known to be plain.
fn split(rel: &Path) -> Result<(&Path, &std::ffi::OsStr), Why> {
    if !is_plain(rel) {
        return Err(Why::NotPlain);
    }
    let name = rel.file_name().ok_or(Why::NotPlain)?;
    Ok((rel.parent().unwrap_or(Path::new("")), name))
}

fn base_of(dir: &Path) -> Result<PathBuf, Why> {
    dir.canonicalize().map_err(Why::Io)
}

/// `path` resolved through links, if it lies inside `base` (itself resolved).
fn real_inside(base: &Path, path: &Path) -> Result<PathBuf, Why> {
    let real = path.canonicalize().map_err(Why::Io)?;
    if real.starts_with(base) {
        Ok(real)
    } else {
        Err(Why::Outside)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names a hostile recorder, configuration or record could hand us.
    fn hostile() -> Vec<String> {
        let mut v: Vec<String> = [
            "..",
            ".",
            "",
            "../..",
            "../../etc/passwd",
            "/abs",
            "/",
            "a/../../b",
            "..\\..\\x",
            "C:\\Windows\\x",
            "C:",
            "\\\\server\\share",
            "a\0b",
            "\0",
            "...",
            ".hidden",
            "w07/../..",
            "七号/../..",
            "~2E~2E",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.push("a".repeat(300));
        v.push("长".repeat(200));
        v.push("../".repeat(100));
        v.push(format!("{}/{}", "x".repeat(254), "y"));
        v
    }

    #[test]
    fn every_component_is_one_short_plain_name() {
        for name in hostile()
            .iter()
            .map(String::as_str)
            .chain(["w07", "七号窗口"])
        {
            let c = component(name);
            assert!(is_plain(Path::new(&c)), "{name:?} → {c:?}");
            assert_eq!(Path::new(&c).components().count(), 1, "{name:?} → {c:?}");
            assert!(!c.starts_with('.'), "{name:?} → {c:?}");
            assert!(
                c.len() <= MAX_COMPONENT_BYTES,
                "{name:?} → {} bytes",
                c.len()
            );
        }
        assert_eq!(component("w07"), "w07");
        assert_eq!(component("a\0b"), "a~00b");
        // Long names that share a beginning stay apart.
        let (a, b) = ("a".repeat(300), format!("{}b", "a".repeat(299)));
        assert_ne!(component(&a), component(&b));
    }

    #[test]
    fn plain_paths_only() {
        for bad in hostile() {
            if is_plain(Path::new(&bad)) {
                // Plain: it stays under whatever folder it is joined to.
                assert!(!bad.split('/').any(|c| c == ".." || c == "."), "{bad:?}");
                assert!(
                    Path::new("/base").join(&bad).starts_with("/base"),
                    "{bad:?}"
                );
            }
        }
        for bad in ["..", "../x", "/x", "", "a/./b", "a\\b", "a\0b", "a/../b"] {
            assert!(!is_plain(Path::new(bad)), "{bad:?}");
        }
        assert!(!is_plain(Path::new(&"x".repeat(256))));
        assert!(is_plain(Path::new("2026-11-30/w07/a.opus")));
    }

    #[test]
    fn join_writes_only_inside_and_refuses_links_out() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("clips");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let real = |p: &Path| p.canonicalize().unwrap();

        let p = join(&base, Path::new("2026-11-30/w07/a.opus")).unwrap();
        assert!(p.starts_with(real(&base)) && p.ends_with("w07/a.opus"));
        for bad in hostile() {
            let rel = Path::new(&bad);
            if let Ok(p) = join(&base, rel) {
                assert!(p.starts_with(real(&base)), "{bad:?} → {}", p.display());
            }
        }
        // Every component made from hostile names joins, and lands inside.
        for bad in hostile() {
            let p = join(&base, Path::new(&component(&bad))).unwrap();
            assert_eq!(p.parent().unwrap(), real(&base), "{bad:?}");
        }
        let e = join(&base, Path::new("../x")).unwrap_err();
        assert!(
            e.is_not_plain() && e.to_string().contains("not a plain"),
            "{e}"
        );

        #[cfg(unix)]
        {
            // A folder inside that is a link out: refused, nothing created outside.
            std::os::unix::fs::symlink(&outside, base.join("w99")).unwrap();
            let e = join(&base, Path::new("w99/a.opus")).unwrap_err();
            assert!(!e.is_not_plain() && e.to_string().contains("link"), "{e}");
            assert!(join(&base, Path::new("w99/sub/a.opus")).is_err());
            assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
            // A final name that is a link (even to inside) is not written through.
            std::os::unix::fs::symlink(outside.join("t"), base.join("l.opus")).unwrap();
            assert!(join(&base, Path::new("l.opus")).is_err());
        }
    }

    #[test]
    fn existing_resolves_only_inside() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("clips");
        std::fs::create_dir_all(base.join("w07")).unwrap();
        std::fs::write(base.join("w07/a.wav"), b"x").unwrap();
        std::fs::write(dir.path().join("secret.wav"), b"s").unwrap();
        assert!(existing(&base, Path::new("w07/a.wav")).is_ok());
        assert!(existing(&base, Path::new("../secret.wav"))
            .unwrap_err()
            .is_not_plain());
        assert_eq!(
            existing(&base, Path::new("w07/none.wav"))
                .unwrap_err()
                .io_kind(),
            Some(io::ErrorKind::NotFound)
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.wav"), base.join("w07/l.wav"))
                .unwrap();
            std::os::unix::fs::symlink(dir.path(), base.join("up")).unwrap();
            std::os::unix::fs::symlink(base.join("w07/a.wav"), base.join("w07/in.wav")).unwrap();
            assert!(existing(&base, Path::new("w07/l.wav")).is_err());
            assert!(existing(&base, Path::new("up/secret.wav")).is_err());
            assert!(existing(&base, Path::new("w07/in.wav")).is_ok());
        }
    }
}
