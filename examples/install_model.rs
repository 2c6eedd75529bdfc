//! Installs the Whisper model (`cargo run --release --example install_model -- [DIR] [--force]
//! [--wheels DIR]`).
//!
//! A stand-in for `courtesy model install` while the CLI is being written; it prints how long it
//! took.

use std::path::PathBuf;
use std::time::Instant;

use courtesy::model::{self, InstallOptions};

fn main() {
    let mut dir = PathBuf::from(model::DEFAULT_MODEL_DIR);
    let mut opts = InstallOptions {
        progress: true,
        ..Default::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--force" => opts.force = true,
            "--quiet" => opts.progress = false,
            "--wheels" => opts.wheel_dir = args.next().map(PathBuf::from),
            _ => dir = PathBuf::from(a),
        }
    }
    let start = Instant::now();
    match model::install(&dir, &opts).and_then(|p| model::check_ggml(&p).map(|()| p)) {
        Ok(p) => eprintln!(
            "ok: {} in {:.1} s",
            p.display(),
            start.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
