//! Output files written whole or not at all: checked before the work, a temporary name, then a rename.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Checks, before any work, that `path` can be written: its folder exists and is writable. A run
/// of an hour must not end with "cannot write the report".
pub fn check_writable(path: &Path) -> Result<(), String> {
    let dir = parent(path);
    let meta = std::fs::metadata(&dir).map_err(|_| {
        format!(
            "{}: the folder {} does not exist — create it or choose another --out",
            path.display(),
            dir.display()
        )
    })?;
    if !meta.is_dir() {
        return Err(format!(
            "{}: {} is not a folder — choose another --out",
            path.display(),
            dir.display()
        ));
    }
    if path.is_dir() {
        return Err(format!(
            "{}: is a folder — give a file name for --out",
            path.display()
        ));
    }
    let probe = tempfile::Builder::new()
        .prefix(".courtesy-check")
        .tempfile_in(&dir)
        .map_err(|e| {
            format!(
                "{}: cannot write there ({e}) — check permissions",
                path.display()
            )
        })?;
    drop(probe);
    Ok(())
}

/// Writes `path` through `write`: into a temporary file in the same folder, flushed and synced,
/// then renamed over `path`. A run that dies leaves the previous complete file or the new one.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let dir = parent(path);
    let fail =
        |e: std::io::Error| format!("{}: cannot write it ({e}) — check the disk", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".courtesy-")
        .tempfile_in(&dir)
        .map_err(fail)?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut w).map_err(fail)?;
        w.flush().map_err(fail)?;
    }
    // A temporary file is private (0600); the report is not: the usual mode, less the umask.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0o644);
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(fail)?;
    }
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_refused_before_the_work() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_writable(&dir.path().join("nope/report.json")).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        assert!(check_writable(&dir.path().join("report.json")).is_ok());
    }

    #[test]
    fn a_failed_write_leaves_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomically(&p, |w| w.write_all(b"old")).unwrap();
        let e = write_atomically(&p, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("killed"))
        });
        assert!(e.is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
        write_atomically(&p, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1);
    }
}
