//! What the audio targets share: the input as a file, and reading a source to its end.

use std::io::Write;

use courtesy::audio::AudioSource;

/// The fuzz input as a file (the readers sniff and seek a real file); in memory when /dev/shm is there.
pub fn temp_file(data: &[u8]) -> tempfile::NamedTempFile {
    let shm = std::path::Path::new("/dev/shm");
    let mut file = if shm.is_dir() {
        tempfile::NamedTempFile::new_in(shm)
    } else {
        tempfile::NamedTempFile::new()
    }
    .expect("temp file");
    file.write_all(data).expect("write");
    file
}

/// Reads up to 4000 frames (over half an hour: digital silence compresses that well): samples
/// finite and in [-1, 1], start times contiguous, at most one error and nothing after it.
pub fn drain(source: Box<dyn AudioSource>) {
    let mut end = 0.0f64;
    let mut failed = false;
    for item in source.take(4_000) {
        assert!(!failed, "an item after the error");
        match item {
            Ok(frame) => {
                assert!(
                    (frame.start - end).abs() < 1e-6,
                    "{} after {end}",
                    frame.start
                );
                assert!(frame
                    .samples
                    .iter()
                    .all(|x| x.is_finite() && x.abs() <= 1.0));
                end = frame.end();
            }
            Err(e) => {
                let text = e.to_string();
                assert!(!text.contains('\n'), "{text}");
                failed = true;
            }
        }
    }
}
