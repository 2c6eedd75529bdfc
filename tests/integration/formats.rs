//! Recorder formats through `audio::open`/`audio::probe`, and evidence clips back through them.

use std::path::{Path, PathBuf};

use courtesy::audio::{
    self, clip, AudioErrorKind, AudioFrame, WavSource, DEFAULT_FRAME_SAMPLES, SAMPLE_RATE,
};

fn formats() -> PathBuf {
    crate::root().join("samples/formats")
}

fn labelled(id: &str) -> PathBuf {
    crate::root().join(format!("samples/labelled/{id}.wav"))
}

/// Every frame, checking the frame contract on the way: full frames but the last, contiguous.
fn frames_of(path: &Path) -> Vec<AudioFrame> {
    let frames: Vec<AudioFrame> = audio::open(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"));
    check_contract(path, &frames);
    frames
}

fn check_contract(path: &Path, frames: &[AudioFrame]) {
    assert!(!frames.is_empty(), "{}: no frames", path.display());
    let mut expected_start = 0.0;
    for (i, f) in frames.iter().enumerate() {
        assert!(
            (f.start - expected_start).abs() < 1e-9,
            "{}: frame {i} starts at {} not {expected_start}",
            path.display(),
            f.start
        );
        if i + 1 < frames.len() {
            assert_eq!(f.samples.len(), DEFAULT_FRAME_SAMPLES, "{}", path.display());
        }
        assert!(f.samples.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
        expected_start = f.end();
    }
}

fn samples_of(frames: &[AudioFrame]) -> Vec<f32> {
    frames
        .iter()
        .flat_map(|f| f.samples.iter().copied())
        .collect()
}

/// RMS per 20 ms window.
fn envelope(samples: &[f32]) -> Vec<f64> {
    samples
        .chunks(SAMPLE_RATE as usize / 50)
        .map(|c| (c.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .collect()
}

/// Pearson correlation of two envelopes over their common length.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Decoded like the source WAV: same length within 50 ms, same energy envelope.
fn assert_like_wav(path: &Path, wav: &Path) {
    let decoded = samples_of(&frames_of(path));
    let reference = audio::read_wav(wav).unwrap();
    let secs = |s: &[f32]| s.len() as f64 / SAMPLE_RATE as f64;
    let diff = secs(&decoded) - secs(&reference);
    assert!(
        diff.abs() <= 0.050,
        "{}: {:.3} s decoded, {:.3} s in the WAV",
        path.display(),
        secs(&decoded),
        secs(&reference)
    );
    let r = correlation(&envelope(&decoded), &envelope(&reference));
    assert!(r > 0.9, "{}: envelope correlation {r:.3}", path.display());
}

#[test]
fn every_recorder_format_decodes_like_its_wav() {
    let a = labelled("L003");
    let b = labelled("L070");
    for name in [
        "L003.mp3",
        "L003.m4a",
        "L003.aac",
        "L003.flac",
        "L003.ogg",
        "L003.opus",
    ] {
        assert_like_wav(&formats().join(name), &a);
    }
    for name in ["L070.mp3", "L070.m4a"] {
        assert_like_wav(&formats().join(name), &b);
    }
}

#[test]
fn wav_through_open_is_exactly_wav_source() {
    let path = labelled("L003");
    let via_open = frames_of(&path);
    let direct: Vec<AudioFrame> = WavSource::open(&path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(via_open, direct);
}

#[test]
fn content_decides_not_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("W07_20261130_083000.wav");
    std::fs::copy(formats().join("L003.mp3"), &renamed).unwrap();
    assert_like_wav(&renamed, &labelled("L003"));
    assert_eq!(audio::probe(&renamed).unwrap().format, "mp3");
}

#[test]
fn probe_reports_format_duration_and_creation_time() {
    let wav_secs = |id: &str| audio::read_wav(&labelled(id)).unwrap().len() as f64 / 16_000.0;
    let cases = [
        ("L003.mp3", "mp3", true),
        ("L003.m4a", "aac", true),
        ("L003.aac", "aac", false),
        ("L003.flac", "flac", true),
        ("L003.ogg", "vorbis", true),
        ("L003.opus", "opus", false),
        ("L070.mp3", "mp3", false),
    ];
    for (name, format, dated) in cases {
        let p = audio::probe(&formats().join(name)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.format, format, "{name}");
        if let Some(d) = p.duration {
            let want = wav_secs(&name[..4]);
            assert!((d - want).abs() <= 0.05, "{name}: {d} s, want {want}");
        } else {
            // Only raw ADTS has no duration in its headers.
            assert_eq!(name, "L003.aac");
        }
        if dated {
            let created = p
                .created
                .unwrap_or_else(|| panic!("{name}: no creation time"));
            // The script tags 2026-11-30 08:30:00: MP4 keeps UTC, the other tags have no zone
            // and are read as local time.
            let shown = if name.ends_with(".m4a") {
                created.with_timezone(&chrono::Utc).naive_utc()
            } else {
                created.naive_local()
            };
            assert_eq!(shown.to_string(), "2026-11-30 08:30:00", "{name}");
        } else {
            assert_eq!(p.created, None, "{name}");
        }
    }
    let wav = audio::probe(&labelled("L003")).unwrap();
    assert_eq!(wav.format, "wav");
    assert!((wav.duration.unwrap() - wav_secs("L003")).abs() < 1e-6);
}

#[test]
fn unreadable_files_get_one_line_naming_the_file_and_the_fix() {
    let cases = [
        (
            "bad-amr.amr",
            AudioErrorKind::Unsupported,
            "AMR audio is not supported — convert it with `ffmpeg -i ",
        ),
        (
            "bad-video.mp4",
            AudioErrorKind::Video,
            "a video file (MP4) — extract its audio with `ffmpeg -i ",
        ),
        (
            "bad-video.mkv",
            AudioErrorKind::Video,
            "a video file (Matroska/WebM) — extract its audio with `ffmpeg -i ",
        ),
        (
            "bad-text.mp3",
            AudioErrorKind::NotAudio,
            "not an audio file (looks like text) — ",
        ),
        (
            "bad-empty.mp3",
            AudioErrorKind::NotWav,
            "empty file (0 bytes) — ",
        ),
    ];
    for (name, kind, says) in cases {
        let path = formats().join(name);
        let shown = path.display().to_string();
        for err in [
            audio::open(&path).err().expect("refused at open"),
            audio::probe(&path).unwrap_err(),
        ] {
            let text = err.to_string();
            assert_eq!(err.kind(), kind, "{text}");
            assert!(text.starts_with(&format!("{shown}: ")), "{text}");
            assert!(text.contains(says), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
    }
    let missing = formats().join("no-such-file.mp3");
    assert_eq!(
        audio::open(&missing).err().unwrap().kind(),
        AudioErrorKind::NotFound
    );
}

/// The readable frames, then exactly one error, then nothing.
fn frames_then_error(path: &Path) -> (Vec<AudioFrame>, courtesy::audio::AudioError) {
    let mut source = audio::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut frames = Vec::new();
    let err = loop {
        match source.next() {
            Some(Ok(f)) => frames.push(f),
            Some(Err(e)) => break e,
            None => panic!("{}: ended without an error", path.display()),
        }
    };
    assert!(
        source.next().is_none(),
        "{}: more after the error",
        path.display()
    );
    check_contract(path, &frames);
    (frames, err)
}

#[test]
fn a_truncated_mp3_yields_what_is_there_then_says_so() {
    let path = formats().join("bad-truncated.mp3");
    let (frames, err) = frames_then_error(&path);
    let text = err.to_string();
    assert_eq!(err.kind(), AudioErrorKind::Truncated, "{text}");
    assert!(err.kept_partial_audio());
    assert!(text.contains("of the 2.2 s the header declares"), "{text}");
    let secs = frames.last().unwrap().end();
    // The script keeps 45 % of the bytes: about 1 s of the 2.15 s.
    assert!((0.7..1.3).contains(&secs), "{secs} s");
    // What was read is the start of the clip.
    let reference = audio::read_wav(&labelled("L003")).unwrap();
    let decoded = samples_of(&frames);
    let r = correlation(&envelope(&decoded), &envelope(&reference[..decoded.len()]));
    assert!(r > 0.9, "envelope correlation {r:.3}");
}

#[test]
fn a_corrupt_mp3_keeps_its_timeline_and_says_where() {
    let path = formats().join("bad-corrupt.mp3");
    let (frames, err) = frames_then_error(&path);
    let text = err.to_string();
    assert_eq!(err.kind(), AudioErrorKind::Corrupt, "{text}");
    assert!(err.kept_partial_audio());
    assert!(
        text.starts_with(&format!("{}: damaged MP3 audio", path.display())),
        "{text}"
    );
    assert!(text.contains("unreadable packet(s) from 1."), "{text}");
    // The garbage (1.5 KB, a quarter second at 48 kbit/s) is skipped; the rest decodes.
    let secs = frames.last().unwrap().end();
    assert!((1.8..2.2).contains(&secs), "{secs} s");
    let reference = audio::read_wav(&labelled("L003")).unwrap();
    let decoded = samples_of(&frames);
    let head = SAMPLE_RATE as usize;
    let r = correlation(&envelope(&decoded[..head]), &envelope(&reference[..head]));
    assert!(r > 0.9, "first second: envelope correlation {r:.3}");
}

#[test]
fn a_clip_round_trips_through_open() {
    let dir = tempfile::tempdir().unwrap();
    for id in ["L003", "L070"] {
        let reference = audio::read_wav(&labelled(id)).unwrap();
        let path = dir.path().join(format!("clips/{id}.opus"));
        let bytes = clip::write_opus(&path, &reference).unwrap();
        assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
        let secs = reference.len() as f64 / SAMPLE_RATE as f64;
        // About 24 kbit/s, plus Ogg framing.
        let kbit_s = bytes as f64 * 8.0 / secs / 1000.0;
        assert!((8.0..32.0).contains(&kbit_s), "{id}: {kbit_s:.1} kbit/s");

        let probe = audio::probe(&path).unwrap();
        assert_eq!(probe.format, "opus");
        let declared = probe.duration.unwrap();
        assert!(
            (declared - secs).abs() <= 0.030,
            "{id}: declared {declared} s"
        );

        let decoded = samples_of(&frames_of(&path));
        let got = decoded.len() as f64 / SAMPLE_RATE as f64;
        assert!(
            (got - secs).abs() <= 0.030,
            "{id}: {got} s decoded, {secs} s written"
        );
        let r = correlation(&envelope(&decoded), &envelope(&reference));
        assert!(r > 0.9, "{id}: envelope correlation {r:.3}");
    }
}

/// Peak memory while decoding a long recording: run by hand with a long file,
/// `COURTESY_LONG_AUDIO=/tmp/1h.mp3 cargo test --test integration formats::long -- --ignored`.
/// It reads the process's high-water mark, so it must run alone.
#[test]
#[ignore = "needs a long recording in COURTESY_LONG_AUDIO; run alone"]
fn long_recording_decodes_in_flat_memory() {
    let path = PathBuf::from(
        std::env::var_os("COURTESY_LONG_AUDIO").expect("set COURTESY_LONG_AUDIO to a long file"),
    );
    let peak_kb = || {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap()
    };
    let before = peak_kb();
    let started = std::time::Instant::now();
    let mut secs = 0.0;
    for frame in audio::open(&path).unwrap_or_else(|e| panic!("{e}")) {
        secs = frame.unwrap_or_else(|e| panic!("{e}")).end();
    }
    let grew_mb = (peak_kb() - before) as f64 / 1024.0;
    eprintln!(
        "{}: {secs:.0} s decoded in {:.1} s, peak memory grew {grew_mb:.1} MB",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    assert!(secs > 600.0, "{secs} s: not a long file");
    assert!(grew_mb < 64.0, "peak memory grew {grew_mb:.1} MB");
}

#[test]
fn probe_reads_the_creation_date_of_a_wav() {
    // L003.wav with a RIFF INFO list (ICRD) before its data chunk, as some recorders write.
    let wav = std::fs::read(labelled("L003")).unwrap();
    let data_at = wav.windows(4).position(|w| w == b"data").unwrap();
    let icrd = b"2026-11-30 08:30:00\0";
    let mut info = b"INFOICRD".to_vec();
    info.extend_from_slice(&(icrd.len() as u32).to_le_bytes());
    info.extend_from_slice(icrd);
    let mut out = wav[..data_at].to_vec();
    out.extend_from_slice(b"LIST");
    out.extend_from_slice(&(info.len() as u32).to_le_bytes());
    out.extend_from_slice(&info);
    out.extend_from_slice(&wav[data_at..]);
    let riff_len = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff_len.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tagged.wav");
    std::fs::write(&path, &out).unwrap();

    let p = audio::probe(&path).unwrap();
    assert_eq!(p.format, "wav");
    let created = p.created.expect("ICRD read");
    assert_eq!(created.naive_local().to_string(), "2026-11-30 08:30:00");
    // The tag does not change the audio.
    assert_eq!(frames_of(&path), frames_of(&labelled("L003")));
}
