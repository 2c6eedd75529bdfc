//! The speaker-embedding model, obtained like Whisper's: PyPI `resemblyzer==0.1.4`, its `pretrained.pt` pinned by sha256, kept beside the Whisper model.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::model::ModelError;

/// The wheel pip fetches, its file name and sha256.
pub const WHEEL: &str = "resemblyzer==0.1.4";
pub const WHEEL_FILE: &str = "Resemblyzer-0.1.4-py3-none-any.whl";
pub const WHEEL_SHA256: &str = "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f";
/// The GE2E weights inside it, and their sha256.
const ENTRY: &str = "resemblyzer/pretrained.pt";
pub const SHA256: &str = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e";
/// The installed file's name in the model folder.
pub const FILE: &str = "resemblyzer-ge2e.pt";
/// Environment variable naming the speaker model, overriding the model folder.
pub const ENV: &str = "COURTESY_SPEAKER_MODEL";

/// Where the speaker model is looked for: `$COURTESY_SPEAKER_MODEL`, else the per-user model folder.
pub fn default_path() -> PathBuf {
    std::env::var_os(ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::model::user_model_dir().join(FILE))
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Installs `resemblyzer-ge2e.pt` into `dir` (idempotent unless `force`): the wheel from
/// `wheel_dir` when it holds it, else from PyPI with pip; both the wheel and the weights are
/// checked against their pinned sha256.
pub fn install(
    dir: &Path,
    wheel_dir: Option<&Path>,
    force: bool,
    progress: bool,
) -> Result<PathBuf, ModelError> {
    let out = dir.join(FILE);
    if !force {
        if let Ok(bytes) = std::fs::read(&out) {
            if sha256(&bytes) == SHA256 {
                return Ok(out);
            }
        }
    }
    let scratch = dir.join(".download");
    std::fs::create_dir_all(&scratch).map_err(|e| ModelError::io("create", &scratch, e))?;
    let wheel = match wheel_dir.map(|d| d.join(WHEEL_FILE)).filter(|p| p.exists()) {
        Some(w) => w,
        None => {
            if progress {
                eprintln!("downloading {WHEEL} (the speaker-embedding model) with pip …");
            }
            crate::model::install::pip_download(&scratch, progress, &[WHEEL])?;
            scratch.join(WHEEL_FILE)
        }
    };
    let bad = |reason: String| ModelError::BadWheel {
        path: wheel.clone(),
        reason,
    };
    let bytes = std::fs::read(&wheel).map_err(|e| ModelError::io("read", &wheel, e))?;
    let got = sha256(&bytes);
    if got != WHEEL_SHA256 {
        return Err(bad(format!("sha256 {got}, expected {WHEEL_SHA256}")));
    }
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let mut weights = Vec::new();
    zip.by_name(ENTRY)
        .map_err(|e| bad(format!("{ENTRY}: {e}")))?
        .read_to_end(&mut weights)
        .map_err(|e| bad(format!("{ENTRY}: {e}")))?;
    let got = sha256(&weights);
    if got != SHA256 {
        return Err(bad(format!("{ENTRY} has sha256 {got}, expected {SHA256}")));
    }
    let tmp = dir.join(format!("{FILE}.part"));
    std::fs::write(&tmp, &weights).map_err(|e| ModelError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &out).map_err(|e| ModelError::io("rename", &out, e))?;
    if wheel_dir.is_none() {
        let _ = std::fs::remove_file(&wheel);
    }
    Ok(out)
}
