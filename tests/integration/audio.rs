//! Audio in and speech detection: every WAV layout we accept, one-line errors for the files we
//! don't, and the VAD on synthetic noise and on the recorded sample sessions.

use std::f64::consts::PI;
use std::fs;
use std::path::{Path, PathBuf};

use courtesy::audio::{
    read_wav, AudioErrorKind, AudioSource, SampleFormat, WavSource, SAMPLE_RATE,
};
use courtesy::vad::{Segmenter, SpeechSegment, VadConfig};
use tempfile::TempDir;

const SR: f64 = SAMPLE_RATE as f64;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Writes a WAV with hound; `signal(t, channel)` gives each sample in [-1, 1].
fn write_wav(
    path: &Path,
    rate: u32,
    channels: u16,
    bits: u16,
    float: bool,
    secs: f64,
    signal: impl Fn(f64, usize) -> f64,
) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let full = ((1i64 << (bits - 1)) - 1) as f64;
    for i in 0..(secs * rate as f64).round() as usize {
        let t = i as f64 / rate as f64;
        for ch in 0..channels as usize {
            let v = signal(t, ch);
            if float {
                w.write_sample(v as f32).unwrap();
            } else {
                w.write_sample((v * full).round() as i32).unwrap();
            }
        }
    }
    w.finalize().unwrap();
}

fn sine(hz: f64, amp: f64) -> impl Fn(f64, usize) -> f64 {
    move |t, _| amp * (2.0 * PI * hz * t).sin()
}

/// A RIFF file from raw chunks (odd chunks get their pad byte).
fn riff(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    for (id, data) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

/// A fmt chunk body: tag, channels, rate, byte rate, block align, bits, then `extra`.
fn fmt_chunk(
    tag: u16,
    channels: u16,
    rate: u32,
    byte_rate: u32,
    block: u16,
    bits: u16,
    extra: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    f.extend_from_slice(&byte_rate.to_le_bytes());
    f.extend_from_slice(&block.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f.extend_from_slice(extra);
    f
}

fn pcm16(samples: impl Iterator<Item = f64>) -> Vec<u8> {
    samples
        .flat_map(|v| ((v * 32767.0).round() as i16).to_le_bytes())
        .collect()
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Upward zero crossings per second: a pitch check that needs no FFT.
fn crossings_per_second(x: &[f32]) -> f64 {
    let n = x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    n as f64 / (x.len() as f64 / SR)
}

/// Asserts an error message is one line, names the file and offers a fix.
fn assert_one_line_naming(err: &courtesy::audio::AudioError, path: &Path) {
    let text = err.to_string();
    assert!(!text.contains('\n'), "multi-line: {text}");
    assert!(
        text.starts_with(&path.display().to_string()),
        "does not name the file: {text}"
    );
    assert!(text.contains(" — "), "no fix offered: {text}");
}

fn segments_of(mut source: Box<dyn AudioSource>, config: VadConfig) -> Vec<SpeechSegment> {
    let mut vad = Segmenter::new(config);
    let mut out = Vec::new();
    for frame in &mut source {
        out.extend(vad.push(&frame.unwrap()));
    }
    out.extend(vad.finish());
    out
}

fn segments_of_file(path: &Path) -> Vec<SpeechSegment> {
    segments_of(
        Box::new(WavSource::open(path).unwrap()),
        VadConfig::default(),
    )
}

fn samples_dir() -> Option<PathBuf> {
    let dir = crate::root().join("samples");
    dir.is_dir().then_some(dir)
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

#[test]
fn decodes_every_sample_format_at_the_right_pitch_and_level() {
    let dir = TempDir::new().unwrap();
    for (bits, float) in [
        (8, false),
        (16, false),
        (24, false),
        (32, false),
        (32, true),
    ] {
        let path = dir.path().join(format!("tone_{bits}_{float}.wav"));
        write_wav(&path, 16_000, 1, bits, float, 1.0, sine(440.0, 0.5));
        let x = read_wav(&path).unwrap();
        assert_eq!(x.len(), 16_000, "{bits}-bit float={float}");
        let level = rms(&x) * 2f64.sqrt();
        assert!(
            (level - 0.5).abs() < 0.015,
            "{bits}-bit float={float}: level {level}"
        );
        let hz = crossings_per_second(&x);
        assert!(
            (hz - 440.0).abs() <= 2.0,
            "{bits}-bit float={float}: {hz} Hz"
        );
    }
}

#[test]
fn resamples_common_rates_to_16k_keeping_pitch_level_and_length() {
    let dir = TempDir::new().unwrap();
    for rate in [8_000u32, 11_025, 22_050, 32_000, 44_100, 48_000, 96_000] {
        let path = dir.path().join(format!("tone_{rate}.wav"));
        write_wav(&path, rate, 1, 16, false, 1.5, sine(440.0, 0.5));
        let x = read_wav(&path).unwrap();
        let n_in = (1.5 * rate as f64).round() as u64;
        assert_eq!(
            x.len() as u64,
            (n_in * 16_000).div_ceil(rate as u64),
            "{rate} Hz"
        );
        let mid = &x[2_000..x.len() - 2_000];
        let level = rms(mid) * 2f64.sqrt();
        assert!((level - 0.5).abs() < 0.015, "{rate} Hz: level {level}");
        let hz = crossings_per_second(mid);
        assert!((hz - 440.0).abs() <= 2.0, "{rate} Hz: {hz} Hz");
        assert!(x.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
    }
}

#[test]
fn downmixes_any_channel_count_by_averaging() {
    let dir = TempDir::new().unwrap();
    let same = dir.path().join("stereo_same.wav");
    write_wav(&same, 44_100, 2, 16, false, 1.0, sine(440.0, 0.5));
    let x = read_wav(&same).unwrap();
    assert!((rms(&x[1000..15000]) * 2f64.sqrt() - 0.5).abs() < 0.015);

    // Opposite phase in the two channels cancels: proof that it averages, not picks a channel.
    let opposite = dir.path().join("stereo_opposite.wav");
    write_wav(&opposite, 48_000, 2, 16, false, 1.0, |t, ch| {
        let v = 0.5 * (2.0 * PI * 440.0 * t).sin();
        if ch == 0 {
            v
        } else {
            -v
        }
    });
    assert!(rms(&read_wav(&opposite).unwrap()) < 1e-3);

    // 5.1: the tone only in the centre channel comes out at a sixth of its level.
    let six = dir.path().join("six.wav");
    write_wav(&six, 48_000, 6, 24, false, 1.0, |t, ch| {
        if ch == 2 {
            0.6 * (2.0 * PI * 440.0 * t).sin()
        } else {
            0.0
        }
    });
    let x = read_wav(&six).unwrap();
    assert_eq!(x.len(), 16_000);
    let level = rms(&x[1000..15000]) * 2f64.sqrt();
    assert!((level - 0.1).abs() < 0.005, "level {level}");
}

#[test]
fn info_describes_the_file_as_stored() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("info.wav");
    write_wav(&path, 22_050, 2, 24, false, 2.0, sine(300.0, 0.1));
    let source = WavSource::open(&path).unwrap();
    let info = source.info();
    assert_eq!(info.sample_rate, 22_050);
    assert_eq!(info.channels, 2);
    assert_eq!(info.bits, 24);
    assert_eq!(info.format, SampleFormat::Int);
    assert!((info.duration_s - 2.0).abs() < 1e-9);
    assert_eq!(source.path(), path.as_path());

    let fpath = dir.path().join("info_f.wav");
    write_wav(&fpath, 16_000, 1, 32, true, 0.5, sine(300.0, 0.1));
    assert_eq!(
        WavSource::open(&fpath).unwrap().info().format,
        SampleFormat::Float
    );
}

#[test]
fn frames_have_fixed_length_and_contiguous_start_times() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("frames.wav");
    write_wav(&path, 44_100, 1, 16, false, 1.3, sine(200.0, 0.3));
    let frames: Vec<_> = WavSource::open(&path)
        .unwrap()
        .with_frame_samples(4_000)
        .collect::<Result<_, _>>()
        .unwrap();
    let total: usize = frames.iter().map(|f| f.samples.len()).sum();
    assert_eq!(total, (57_330u64 * 16_000).div_ceil(44_100) as usize);
    let mut expected_start = 0.0;
    for (i, f) in frames.iter().enumerate() {
        if i + 1 < frames.len() {
            assert_eq!(f.samples.len(), 4_000);
        }
        assert!((f.start - expected_start).abs() < 1e-9);
        expected_start = f.end();
    }
    // The default is half a second.
    let first = WavSource::open(&path).unwrap().next().unwrap().unwrap();
    assert_eq!(first.samples.len(), 8_000);
}

#[test]
fn resampling_never_produces_nan_inf_or_out_of_range_samples() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("garbage.wav");
    let mut rng = XorShift(42);
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..44_100 * 2 {
        let v = match i % 997 {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => f32::NEG_INFINITY,
            3 => 1e30,
            _ => (rng.next() * 4.0) as f32, // well past full scale
        };
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
    let items: Vec<_> = WavSource::open(&path).unwrap().collect();
    let (last, frames) = items.split_last().unwrap();
    let x: Vec<f32> = frames
        .iter()
        .flat_map(|f| f.as_ref().unwrap().samples.clone())
        .collect();
    assert_eq!(x.len(), 16_000);
    assert!(x.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
    // The NaN and infinite samples are not hidden: counted once, after the audio.
    assert_eq!(last.as_ref().unwrap_err().kind(), AudioErrorKind::NonFinite);
}

/// A float WAV: `value(frame, channel)` for each of `frames` frames.
fn float_wav(
    path: &Path,
    rate: u32,
    channels: u16,
    frames: usize,
    value: impl Fn(usize, usize) -> f32,
) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..frames {
        for ch in 0..channels as usize {
            w.write_sample(value(i, ch)).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// Issue 11, defect 8: an all-NaN recording was silently turned into silence — no speech, no
/// warning. Now the frames are still silence (nothing downstream sees NaN), and one error
/// after them says how many samples were not numbers.
#[test]
fn issue_11_non_finite_samples_are_counted_and_reported_once_per_file() {
    let dir = TempDir::new().unwrap();

    let all = dir.path().join("all-nan.wav");
    float_wav(&all, 16_000, 1, 32_000, |_, _| f32::NAN);
    for source in [
        Box::new(WavSource::open(&all).unwrap()) as Box<dyn AudioSource>,
        courtesy::audio::open(&all).unwrap(),
    ] {
        let items: Vec<_> = source.collect();
        let (last, frames) = items.split_last().unwrap();
        let samples: Vec<f32> = frames
            .iter()
            .flat_map(|f| f.as_ref().unwrap().samples.clone())
            .collect();
        assert_eq!(samples.len(), 32_000);
        assert!(samples.iter().all(|&v| v == 0.0));
        let err = last.as_ref().unwrap_err();
        assert_eq!(err.kind(), AudioErrorKind::NonFinite);
        assert!(err.kept_partial_audio());
        assert_eq!(err.non_finite_samples(), Some(32_000));
        assert_one_line_naming(err, &all);
        let text = err.to_string();
        assert!(text.contains("32000 of 32000 samples (all)"), "{text}");
        assert!(text.contains("not numbers"), "{text}");
    }
    assert_eq!(
        read_wav(&all).unwrap_err().kind(),
        AudioErrorKind::NonFinite
    );

    // Partly: one channel of a 48 kHz stereo file, +inf and NaN from 0.5 s on, every 100th frame.
    let some = dir.path().join("some-inf.wav");
    float_wav(&some, 48_000, 2, 48_000, |i, ch| {
        if ch == 1 && i >= 24_000 && i % 100 == 0 {
            if i % 200 == 0 {
                f32::INFINITY
            } else {
                f32::NAN
            }
        } else {
            0.1 * (i as f32 / 10.0).sin()
        }
    });
    let items: Vec<_> = WavSource::open(&some).unwrap().collect();
    let errors: Vec<_> = items.iter().filter_map(|i| i.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(items.last().unwrap().is_err());
    assert_eq!(errors[0].non_finite_samples(), Some(240));
    let text = errors[0].to_string();
    assert!(text.contains("240 of 48000 samples (0.5 %)"), "{text}");
    assert!(text.contains("the first at 0.5 s"), "{text}");
    assert!(items
        .iter()
        .filter_map(|i| i.as_ref().ok())
        .all(|f| f.samples.iter().all(|v| v.is_finite())));

    // A file that also ends early: one error, the truncation, that mentions both.
    let cut = dir.path().join("cut-nan.wav");
    float_wav(
        &cut,
        16_000,
        1,
        16_000,
        |i, _| if i < 10 { f32::NAN } else { 0.0 },
    );
    let bytes = fs::read(&cut).unwrap();
    fs::write(&cut, &bytes[..bytes.len() - 4 * 8_000]).unwrap();
    let items: Vec<_> = WavSource::open(&cut).unwrap().collect();
    let errors: Vec<_> = items.iter().filter_map(|i| i.as_ref().err()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].kind(), AudioErrorKind::Truncated);
    assert_eq!(errors[0].non_finite_samples(), Some(10));
    let text = errors[0].to_string();
    assert!(
        text.contains("truncated") && text.contains("also, 10 of 8000 samples"),
        "{text}"
    );
    assert_one_line_naming(errors[0], &cut);

    // Clean float files say nothing.
    let clean = dir.path().join("clean.wav");
    float_wav(&clean, 16_000, 1, 16_000, |i, _| {
        0.1 * (i as f32 / 10.0).sin()
    });
    assert!(WavSource::open(&clean).unwrap().all(|f| f.is_ok()));
}

#[test]
fn odd_but_valid_headers_are_accepted() {
    let dir = TempDir::new().unwrap();
    let n = 8_000usize;
    let tone = || (0..n).map(|i| 0.5 * (2.0 * PI * 440.0 * i as f64 / 16_000.0).sin());

    // An 18-byte fmt chunk with a wrong byte rate, an odd-sized LIST chunk (with its pad byte)
    // before the data, and a chunk after the data that must not be read as audio.
    let path = dir.path().join("odd.wav");
    let bytes = riff(&[
        (b"fmt ", fmt_chunk(1, 1, 16_000, 0, 2, 16, &[0, 0])),
        (b"LIST", b"INFOISFT\x05\x00\x00\x00sox!".to_vec()),
        (b"data", pcm16(tone())),
        (b"id3 ", vec![0x7f; 301]),
    ]);
    fs::write(&path, bytes).unwrap();
    let x = read_wav(&path).unwrap();
    assert_eq!(x.len(), n);
    assert!((rms(&x) * 2f64.sqrt() - 0.5).abs() < 0.01);

    // WAVE_FORMAT_EXTENSIBLE: 24 valid bits in 32-bit slots, 3 channels.
    let path = dir.path().join("extensible.wav");
    let mut ext = Vec::new();
    ext.extend_from_slice(&22u16.to_le_bytes()); // cbSize
    ext.extend_from_slice(&24u16.to_le_bytes()); // valid bits
    ext.extend_from_slice(&7u32.to_le_bytes()); // channel mask
    ext.extend_from_slice(&[
        1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
    ]);
    let data: Vec<u8> = tone()
        .flat_map(|v| {
            let s = (((v * 8_388_607.0).round() as i32) << 8).to_le_bytes();
            [s, s, s].concat()
        })
        .collect();
    fs::write(
        &path,
        riff(&[
            (
                b"fmt ",
                fmt_chunk(0xFFFE, 3, 16_000, 16_000 * 12, 12, 32, &ext),
            ),
            (b"data", data),
        ]),
    )
    .unwrap();
    let source = WavSource::open(&path).unwrap();
    assert_eq!(source.info().bits, 24);
    assert_eq!(source.info().channels, 3);
    let x = read_wav(&path).unwrap();
    assert_eq!(x.len(), n);
    assert!((rms(&x) * 2f64.sqrt() - 0.5).abs() < 0.01);
}

#[test]
fn a_streamed_wav_with_unknown_length_is_read_to_the_end() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("streamed.wav");
    write_wav(&path, 16_000, 1, 16, false, 1.0, sine(440.0, 0.5));
    // What `arecord > file` or a crashed recorder leaves: lengths of 0xFFFFFFFF.
    let mut bytes = fs::read(&path).unwrap();
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    let items: Vec<_> = WavSource::open(&path).unwrap().collect();
    assert!(items.iter().all(|i| i.is_ok()));
    assert_eq!(read_wav(&path).unwrap().len(), 16_000);
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn a_truncated_file_yields_its_readable_audio_then_one_error() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("cut.wav");
    write_wav(&path, 16_000, 1, 16, false, 2.0, sine(440.0, 0.5));
    let bytes = fs::read(&path).unwrap();
    // Cut after 1 s of data plus half a sample.
    fs::write(&path, &bytes[..44 + 32_000 + 1]).unwrap();

    let source = WavSource::open(&path).unwrap();
    assert!((source.info().duration_s - 1.0).abs() < 1e-9);
    let items: Vec<_> = source.collect();
    let (last, audio) = items.split_last().unwrap();
    let samples: usize = audio
        .iter()
        .map(|f| f.as_ref().unwrap().samples.len())
        .sum();
    assert_eq!(samples, 16_000);
    let err = last.as_ref().unwrap_err();
    assert_eq!(err.kind(), AudioErrorKind::Truncated);
    assert!(err.kept_partial_audio());
    assert_one_line_naming(err, &path);
    assert!(
        err.to_string()
            .contains("truncated after 1.0 s of the 2.0 s"),
        "{err}"
    );

    // The whole-file reader refuses it instead of silently returning half.
    assert_eq!(
        read_wav(&path).unwrap_err().kind(),
        AudioErrorKind::Truncated
    );
}

#[test]
fn unreadable_files_give_one_line_errors_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let p = |name: &str| dir.path().join(name);

    let mut rng = XorShift(9);
    let random: Vec<u8> = (0..4096)
        .map(|_| (rng.next() * 127.0 + 128.0) as u8)
        .collect();
    fs::write(p("random.wav"), &random).unwrap();
    fs::write(p("empty.wav"), b"").unwrap();
    fs::write(p("tiny.wav"), b"RIF").unwrap();
    fs::write(
        p("song.wav"),
        b"ID3\x04\x00\x00\x00\x00\x00\x00 an mp3 renamed",
    )
    .unwrap();

    // A header and nothing else: what a recorder writes when it is stopped at once.
    write_wav(
        &p("header_only.wav"),
        16_000,
        1,
        16,
        false,
        0.0,
        sine(1.0, 0.0),
    );
    // A header promising 1 s of data, cut right after it.
    write_wav(
        &p("cut_at_header.wav"),
        16_000,
        1,
        16,
        false,
        1.0,
        sine(440.0, 0.5),
    );
    let bytes = fs::read(p("cut_at_header.wav")).unwrap();
    fs::write(p("cut_at_header.wav"), &bytes[..44]).unwrap();

    let alaw = riff(&[
        (b"fmt ", fmt_chunk(6, 1, 8_000, 8_000, 1, 8, &[0, 0])),
        (b"data", vec![0xD5; 8_000]),
    ]);
    fs::write(p("alaw.wav"), alaw).unwrap();
    let ulaw = riff(&[
        (b"fmt ", fmt_chunk(7, 1, 8_000, 8_000, 1, 8, &[0, 0])),
        (b"data", vec![0xFF; 8_000]),
    ]);
    fs::write(p("ulaw.wav"), ulaw).unwrap();
    let f64wav = riff(&[
        (b"fmt ", fmt_chunk(3, 1, 16_000, 128_000, 8, 64, &[])),
        (b"data", vec![0; 800]),
    ]);
    fs::write(p("f64.wav"), f64wav).unwrap();
    let slow = riff(&[
        (b"fmt ", fmt_chunk(1, 1, 1_000, 2_000, 2, 16, &[])),
        (b"data", vec![0; 800]),
    ]);
    fs::write(p("slow.wav"), slow).unwrap();
    let no_fmt = riff(&[(b"data", vec![0; 800])]);
    fs::write(p("no_fmt.wav"), no_fmt).unwrap();

    let cases: &[(&str, AudioErrorKind, &str)] = &[
        (
            "random.wav",
            AudioErrorKind::NotWav,
            "not a WAV file (RIFF/WAVE header missing)",
        ),
        ("empty.wav", AudioErrorKind::NotWav, "empty file (0 bytes)"),
        ("tiny.wav", AudioErrorKind::NotWav, "not a WAV file"),
        ("song.wav", AudioErrorKind::NotWav, "looks like MP3"),
        ("header_only.wav", AudioErrorKind::Empty, "0 samples"),
        ("cut_at_header.wav", AudioErrorKind::Empty, "0 samples"),
        ("alaw.wav", AudioErrorKind::Unsupported, "A-law"),
        ("ulaw.wav", AudioErrorKind::Unsupported, "µ-law"),
        ("f64.wav", AudioErrorKind::Unsupported, "64-bit float"),
        (
            "slow.wav",
            AudioErrorKind::Unsupported,
            "sample rate 1000 Hz",
        ),
        (
            "no_fmt.wav",
            AudioErrorKind::Malformed,
            "before the fmt chunk",
        ),
        ("missing.wav", AudioErrorKind::NotFound, "file not found"),
    ];
    for (name, kind, says) in cases {
        let path = p(name);
        let err = WavSource::open(&path).unwrap_err();
        assert_eq!(err.kind(), *kind, "{name}: {err}");
        assert_one_line_naming(&err, &path);
        assert!(err.to_string().contains(says), "{name}: {err}");
        assert_eq!(read_wav(&path).unwrap_err().kind(), *kind);
    }
    // Unsupported encodings come with the conversion command.
    let err = WavSource::open(&p("alaw.wav")).unwrap_err().to_string();
    assert!(
        err.contains("sox ") && err.contains("-e signed-integer"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Speech detection through real sources

#[test]
fn silence_noise_and_hum_give_no_segments() {
    let dir = TempDir::new().unwrap();
    let p = |name: &str| dir.path().join(name);
    let mut rng = XorShift(5);

    write_wav(&p("silence.wav"), 16_000, 1, 16, false, 5.0, |_, _| 0.0);

    // White noise at -40 dBFS RMS (uniform noise has RMS = peak / sqrt(3)).
    let white: Vec<f64> = (0..441_000)
        .map(|_| rng.next() * 0.01 * 3f64.sqrt())
        .collect();
    write_wav(&p("white.wav"), 44_100, 1, 16, false, 10.0, |t, _| {
        white[((t * 44_100.0).round() as usize).min(white.len() - 1)]
    });

    // Pink noise at about -40 dBFS, stereo 48 kHz.
    let mut b = [0f64; 7];
    let pink: Vec<f64> = (0..480_000)
        .map(|_| {
            let w = rng.next();
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.1538520;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let out = b.iter().sum::<f64>() + w * 0.5362;
            b[6] = w * 0.115926;
            out
        })
        .collect();
    let pink_rms = (pink.iter().map(|v| v * v).sum::<f64>() / pink.len() as f64).sqrt();
    write_wav(&p("pink.wav"), 48_000, 2, 16, false, 10.0, |t, _| {
        pink[((t * 48_000.0).round() as usize).min(pink.len() - 1)] / pink_rms * 0.01
    });

    // Mains hum with odd harmonics, loud (-20 dBFS-ish), as a cheap preamp picks it up.
    for hz in [50.0, 100.0] {
        write_wav(
            &p(&format!("hum{hz}.wav")),
            16_000,
            1,
            16,
            false,
            10.0,
            move |t, _| {
                let v: f64 = [1.0, 3.0, 5.0, 7.0]
                    .iter()
                    .map(|k| (2.0 * PI * hz * k * t).sin() / k)
                    .sum();
                0.1 * v
            },
        );
    }

    for name in [
        "silence.wav",
        "white.wav",
        "pink.wav",
        "hum50.wav",
        "hum100.wav",
    ] {
        let segs = segments_of_file(&p(name));
        assert!(
            segs.is_empty(),
            "{name}: {:?}",
            segs.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>()
        );
    }
}

/// samples/windows/EXPECTED.toml: the utterance timings the TTS script wrote.
fn expected_sessions(dir: &Path) -> Vec<(PathBuf, Vec<(f64, f64)>)> {
    let text = fs::read_to_string(dir.join("windows/EXPECTED.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let sessions = doc["session"].as_array().unwrap();
    sessions
        .iter()
        .map(|s| {
            let file = dir.join("windows").join(s["file"].as_str().unwrap());
            let utts = s["utterances"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| {
                    (
                        u["start_s"].as_float().unwrap(),
                        u["end_s"].as_float().unwrap(),
                    )
                })
                .collect();
            (file, utts)
        })
        .collect()
}

#[test]
fn recorded_sessions_split_into_exactly_their_utterances() {
    let Some(dir) = samples_dir().filter(|d| d.join("windows/EXPECTED.toml").exists()) else {
        eprintln!("samples/windows/EXPECTED.toml not found: skipping");
        return;
    };
    let sessions = expected_sessions(&dir);
    assert!(!sessions.is_empty());
    for (file, utterances) in sessions {
        let segs = segments_of_file(&file);
        let spans: Vec<(f64, f64)> = segs.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(
            segs.len(),
            utterances.len(),
            "{}: {spans:?}",
            file.display()
        );
        for (seg, (start, end)) in segs.iter().zip(&utterances) {
            // The whole utterance is inside its segment (with a little slack for the detector's
            // reaction time), and the segment is not much longer than utterance + padding.
            assert!(
                seg.start <= start + 0.05 && seg.end >= end - 0.05,
                "{}: {spans:?}",
                file.display()
            );
            assert!(
                seg.start >= start - 0.5 && seg.end <= end + 0.5,
                "{}: {spans:?}",
                file.display()
            );
        }
    }
}

#[test]
fn labelled_clips_are_one_utterance_each() {
    let Some(dir) = samples_dir()
        .map(|d| d.join("labelled"))
        .filter(|d| d.is_dir())
    else {
        eprintln!("samples/labelled not found: skipping");
        return;
    };
    let mut clips: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    clips.sort();
    assert!(!clips.is_empty());
    // These clips have commas and full stops inside ("不知道，你问别人去。"): short pauses that
    // must not split an utterance.
    for clip in clips {
        let n = segments_of_file(&clip).len();
        assert_eq!(n, 1, "{}: {n} segments", clip.display());
    }
}

#[test]
fn the_same_speech_at_48k_stereo_24_bit_gives_the_same_segments() {
    let Some(dir) = samples_dir().filter(|d| d.join("windows/w01-polite/s1.wav").exists()) else {
        eprintln!("samples/windows/w01-polite/s1.wav not found: skipping");
        return;
    };
    let original = dir.join("windows/w01-polite/s1.wav");
    let speech = read_wav(&original).unwrap();
    let tmp = TempDir::new().unwrap();
    let upsampled = tmp.path().join("s1_48k.wav");
    // Sample-and-hold ×3 with a slight level difference between channels: a crude upsampler
    // whose images the decoder's anti-alias filter must remove again.
    write_wav(
        &upsampled,
        48_000,
        2,
        24,
        false,
        speech.len() as f64 / SR,
        |t, ch| {
            let v = speech[((t * SR) as usize).min(speech.len() - 1)] as f64;
            if ch == 0 {
                v
            } else {
                0.9 * v
            }
        },
    );
    let a = segments_of_file(&original);
    let b = segments_of_file(&upsampled);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x.start - y.start).abs() < 0.05 && (x.end - y.end).abs() < 0.05,
            "{:?} vs {:?}",
            (x.start, x.end),
            (y.start, y.end)
        );
    }
}
