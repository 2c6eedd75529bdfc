//! Audio in: sources that yield 16 kHz mono f32 frames (recordings now, microphones later).
//!
//! [`WavSource`] decodes any PCM or float WAV incrementally (hound), downmixes and resamples it
//! (rubato) into [`AudioFrame`]s; [`read_wav`] collects a whole file; [`AudioError`] is one line
//! that names the file, what is wrong and the fix.
//!
//! [`open`] reads any recording by its content (WAV here, MP3/AAC/FLAC/Ogg/Opus through
//! symphonia) and refuses AMR, video and non-audio files in one line; [`probe`] tells format,
//! duration and creation time from the headers; [`clip::write_opus`] keeps evidence clips.
//!
//! Also: [`AudioSource`] (the trait every source implements, so a microphone can be one later),
//! [`AudioInfo`] via [`WavSource::info`] for reports, [`AudioErrorKind`] via
//! [`AudioError::kind`], and [`MemorySource`] for samples already in memory.
//!
//! Every source yields frames of a fixed length (the last one may be shorter) whose `start`
//! times are contiguous, so the next stage can count samples instead of trusting clocks.
//! A source that hits a problem after yielding audio (a truncated file) yields the readable
//! frames first and then one `Err` item; callers may report it and keep what they got.

pub mod capture;
pub mod clip;
mod decode;
mod error;
mod framing;
pub mod replay;
mod resample;
mod wav;

use std::path::Path;

pub use decode::{open, probe, Probe};
pub use error::{AudioError, AudioErrorKind};
pub use wav::WavSource;

/// The one sample rate every later stage sees (Whisper and the VAD both want 16 kHz).
pub const SAMPLE_RATE: u32 = 16_000;

/// Default frame length: 0.5 s keeps latency low for live sources and overhead low for files.
pub const DEFAULT_FRAME_SAMPLES: usize = SAMPLE_RATE as usize / 2;

/// 16 kHz samples per [`Levels`] block: 10 ms.
pub const LEVEL_BLOCK: usize = 160;

/// A run of 16 kHz mono samples in [-1, 1], placed in time.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFrame {
    /// Seconds from the beginning of the source to the first sample.
    pub start: f64,
    /// 16 kHz mono samples in [-1, 1].
    pub samples: Vec<f32>,
    /// Each input channel's loudness beside the mono mix (empty for a mono source).
    pub levels: Levels,
}

/// Each input channel's loudness, kept beside the mono mix so a later stage can tell which
/// microphone of a two-channel recorder a voice was nearest to.
///
/// Block `i` covers the 16 kHz samples `i * LEVEL_BLOCK ..` of the frame or segment it belongs
/// to (the last block may be shorter).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Levels {
    /// Input channels (0 when the source is mono or its decoder keeps no levels).
    pub channels: usize,
    /// Mean square of each channel per block: block after block, `channels` values each.
    pub power: Vec<f32>,
}

impl Levels {
    /// Blocks held.
    pub fn blocks(&self) -> usize {
        self.power.len().checked_div(self.channels).unwrap_or(0)
    }

    /// The channels' mean squares in block `i`.
    pub fn block(&self, i: usize) -> &[f32] {
        &self.power[i * self.channels..(i + 1) * self.channels]
    }

    /// The levels of channels already at 16 kHz (equal lengths; a shorter one counts as silent).
    pub fn measure(channels: &[&[f32]]) -> Levels {
        let len = channels.iter().map(|c| c.len()).max().unwrap_or(0);
        let mut power = Vec::with_capacity(len.div_ceil(LEVEL_BLOCK) * channels.len());
        for a in (0..len).step_by(LEVEL_BLOCK) {
            let b = (a + LEVEL_BLOCK).min(len);
            for c in channels {
                let part = &c[a.min(c.len())..b.min(c.len())];
                let sum: f32 = part.iter().map(|&x| sanitize(x) * sanitize(x)).sum();
                power.push(sum / (b - a) as f32);
            }
        }
        Levels {
            channels: if len == 0 { 0 } else { channels.len() },
            power,
        }
    }

    /// Appends `other`'s blocks (the channel count of the first non-empty one wins).
    pub fn extend(&mut self, other: &Levels) {
        if other.channels == 0 {
            return;
        }
        if self.channels == 0 {
            self.channels = other.channels;
        }
        if self.channels == other.channels {
            self.power.extend_from_slice(&other.power);
        }
    }
}

impl AudioFrame {
    /// Seconds from the beginning of the source to just after the last sample.
    pub fn end(&self) -> f64 {
        self.start + self.duration()
    }

    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / SAMPLE_RATE as f64
    }
}

/// Anything that yields 16 kHz mono frames: a WAV file today, a microphone later.
///
/// `Send` so a source can be moved onto its own reader thread.
pub trait AudioSource: Iterator<Item = Result<AudioFrame, AudioError>> + Send {}

impl AudioSource for WavSource {}
impl AudioSource for MemorySource {}

/// How the file stores its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// Integer PCM (8-bit unsigned, 16/24/32-bit signed).
    Int,
    /// IEEE float.
    Float,
}

impl std::fmt::Display for SampleFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SampleFormat::Int => "PCM integer",
            SampleFormat::Float => "IEEE float",
        })
    }
}

/// What a recording is, as stored, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    /// Stored sample rate in Hz (the source resamples to [`SAMPLE_RATE`]).
    pub sample_rate: u32,
    /// Stored channel count (the source averages them to mono).
    pub channels: u16,
    /// Significant bits per sample.
    pub bits: u16,
    /// Integer or float samples.
    pub format: SampleFormat,
    /// Seconds of audio that can actually be read (less than the header says when truncated).
    pub duration_s: f64,
}

/// Decodes a whole WAV file to 16 kHz mono.
///
/// Fails on any problem, truncation included; use [`WavSource`] to keep the readable part of a
/// damaged file.
///
/// # Example
/// ```no_run
/// let samples = courtesy::audio::read_wav(std::path::Path::new("samples/hello.wav")).unwrap();
/// println!("{:.1} s", samples.len() as f64 / courtesy::audio::SAMPLE_RATE as f64);
/// ```
pub fn read_wav(path: &Path) -> Result<Vec<f32>, AudioError> {
    let source = WavSource::open(path)?;
    let expected = (source.info().duration_s * SAMPLE_RATE as f64).ceil() as usize;
    let mut out = Vec::with_capacity(expected);
    for frame in source {
        out.extend_from_slice(&frame?.samples);
    }
    Ok(out)
}

/// Writes 16 kHz mono samples as a 16-bit WAV at `path`: under a temporary name in the same
/// folder, then renamed, so a full disk or a crash never leaves half a file behind.
pub fn write_wav(path: &Path, samples: &[f32]) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let written = (|| {
        let mut w = hound::WavWriter::create(&tmp, spec)?;
        for &s in samples {
            w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)?;
        }
        w.finalize()?;
        std::fs::rename(&tmp, path).map_err(hound::Error::from)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.to_string()
    })
}

/// Audio already in memory at 16 kHz mono, cut into frames: for tests, and for callers that
/// produced samples some other way.
#[derive(Debug, Clone)]
pub struct MemorySource {
    samples: Vec<f32>,
    pos: usize,
    frame_samples: usize,
}

impl MemorySource {
    /// Frames of [`DEFAULT_FRAME_SAMPLES`]; `samples` must already be 16 kHz mono.
    pub fn new(samples: Vec<f32>) -> MemorySource {
        MemorySource {
            samples,
            pos: 0,
            frame_samples: DEFAULT_FRAME_SAMPLES,
        }
    }

    /// Sets the frame length in samples (at least 1).
    pub fn with_frame_samples(mut self, n: usize) -> MemorySource {
        self.frame_samples = n.max(1);
        self
    }
}

impl Iterator for MemorySource {
    type Item = Result<AudioFrame, AudioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.samples.len() {
            return None;
        }
        let end = (self.pos + self.frame_samples).min(self.samples.len());
        let frame = AudioFrame {
            start: self.pos as f64 / SAMPLE_RATE as f64,
            samples: self.samples[self.pos..end].to_vec(),
            levels: Levels::default(),
        };
        self.pos = end;
        Some(Ok(frame))
    }
}

/// Clamps to [-1, 1] and turns NaN/inf into silence, so no later stage sees garbage.
pub(crate) fn sanitize(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send() {
        fn is_send<T: Send>() {}
        fn is_sync<T: Sync>() {}
        is_send::<WavSource>();
        is_send::<AudioError>();
        is_sync::<AudioError>();
        is_send::<AudioFrame>();
        is_sync::<AudioFrame>();
        is_send::<Box<dyn AudioSource>>();
    }

    #[test]
    fn memory_source_frames_are_contiguous() {
        let frames: Vec<AudioFrame> = MemorySource::new(vec![0.0; 20_000])
            .with_frame_samples(8_000)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[2].samples.len(), 4_000);
        assert!((frames[1].start - 0.5).abs() < 1e-12);
        assert!((frames[2].end() - 1.25).abs() < 1e-12);
    }

    #[test]
    fn sanitize_removes_non_finite() {
        assert_eq!(sanitize(f32::NAN), 0.0);
        assert_eq!(sanitize(f32::INFINITY), 0.0);
        assert_eq!(sanitize(3.0), 1.0);
        assert_eq!(sanitize(-0.25), -0.25);
    }
}
