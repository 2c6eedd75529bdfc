//! Finding a night's recordings: every audio (or recorder-made) file under the given paths, once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// File endings a recorder may write. Formats the audio stage cannot decode (AMR, video) are still
/// collected, so each gets its one-line error instead of being passed over in silence.
pub const RECORDING_EXTENSIONS: &[&str] = &[
    "wav", "mp3", "m4a", "aac", "mp4", "flac", "ogg", "oga", "opus", "amr", "awb", "wma", "3gp",
    "3ga", "avi", "mov", "mkv", "webm",
];

/// A file to analyse and the path as the operator gave it (for messages).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    pub file: PathBuf,
}

/// A path that could not be searched: it is reported, the rest of the night goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub path: PathBuf,
    pub error: String,
}

/// Walks `paths` (files, or folders searched recursively, following links) and returns every
/// recording once — by canonical path, so a link loop or two paths to one folder do not count a
/// file twice — sorted, with the paths that could not be read.
pub fn find(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Unreadable>) {
    let mut seen_dirs = BTreeSet::new();
    let mut seen_files = BTreeSet::new();
    let mut files = Vec::new();
    let mut bad = Vec::new();
    for p in paths {
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => {
                bad.push(Unreadable {
                    path: p.clone(),
                    error: format!("{}: cannot read it ({e}) — check the path", p.display()),
                });
                continue;
            }
        };
        if meta.is_dir() {
            walk(p, &mut seen_dirs, &mut seen_files, &mut files, &mut bad);
        } else if let Ok(c) = p.canonicalize() {
            // A file named explicitly is taken whatever its ending.
            if seen_files.insert(c) {
                files.push(p.clone());
            }
        }
    }
    files.sort();
    (files, bad)
}

fn walk(
    root: &Path,
    seen_dirs: &mut BTreeSet<PathBuf>,
    seen_files: &mut BTreeSet<PathBuf>,
    files: &mut Vec<PathBuf>,
    bad: &mut Vec<Unreadable>,
) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(canonical) = dir.canonicalize() else {
            continue;
        };
        if !seen_dirs.insert(canonical) {
            continue; // a link back to a folder already searched
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                bad.push(Unreadable {
                    path: dir.clone(),
                    error: format!(
                        "{}: cannot list it ({e}) — check its permissions",
                        dir.display()
                    ),
                });
                continue;
            }
        };
        let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for path in names {
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) if m.is_file() && is_recording(&path) => {
                    if let Ok(c) = path.canonicalize() {
                        if seen_files.insert(c) {
                            files.push(path);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Whether a file's ending is one a recorder writes.
pub fn is_recording(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        RECORDING_EXTENSIONS
            .iter()
            .any(|x| x.eq_ignore_ascii_case(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recording_once_through_link_loops_and_missing_paths_reported() {
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().join("w01");
        std::fs::create_dir(&w).unwrap();
        std::fs::write(w.join("a.wav"), b"x").unwrap();
        std::fs::write(w.join("b.MP3"), b"x").unwrap();
        std::fs::write(w.join("notes.txt"), b"x").unwrap();
        std::fs::write(w.join(".hidden.wav"), b"x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(".", w.join("loop")).unwrap();
        let missing = dir.path().join("nope");
        let (files, bad) = find(&[dir.path().to_path_buf(), w.clone(), missing.clone()]);
        assert_eq!(files, vec![w.join("a.wav"), w.join("b.MP3")]);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].error.contains("nope"), "{}", bad[0].error);
    }
}
