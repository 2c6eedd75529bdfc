//! All integration tests, in one binary (one link, shared helpers).

mod alerts;
mod audio;
#[macro_use]
mod backends;
mod batch;
mod browser;
mod capture;
mod cli;
mod desk;
mod desk_data;
mod disk_full;
mod formats;
mod hardening;
mod live;
mod matching;
mod model;
mod noise;
mod office;
mod pg;
mod precision;
mod pulse;
mod report;
mod review;
mod review_desk;
mod samples;
mod serve;
mod speaker;
mod store;
mod text_limits;
mod weeks;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The installed model, found as every command finds it (`$COURTESY_MODEL`, the per-user data
/// folder, `./models`); the test command installs it first, so its absence is a failure.
pub fn model_path() -> PathBuf {
    let p = courtesy::model::resolve(None, courtesy::model::Quant::F16).path;
    assert!(
        p.exists(),
        "no model at {} — run `scripts/test.sh` (it installs it) or `courtesy model install`",
        p.display()
    );
    p
}

/// One shared, loaded model for all tests of this binary.
pub fn transcriber() -> &'static courtesy::asr::Transcriber {
    static T: std::sync::OnceLock<courtesy::asr::Transcriber> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        courtesy::asr::Transcriber::load(&model_path(), courtesy::asr::AsrConfig::default())
            .expect("model loads")
    })
}

/// Whisper's threads busy-wait: two transcriptions at once on a small machine take far more than
/// twice as long. Every test that runs Whisper (in-process or through the binary) holds this.
pub fn whisper_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Asserts two values are equal, printing both in full when they are not.
#[macro_export]
macro_rules! assert_same {
    ($left:expr, $right:expr $(,)?) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            panic!(
                "\n--- left ({}):\n{:#?}\n--- right ({}):\n{:#?}\n",
                stringify!($left),
                l,
                stringify!($right),
                r
            );
        }
    }};
}
