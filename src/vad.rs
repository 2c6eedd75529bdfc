//! Speech detection: cuts a stream of audio frames into utterances and drops silence and noise.
//!
//! How it decides: every 16 ms hop goes through earshot (a small neural VAD that wants exactly
//! 256 samples at 16 kHz) and an energy gate. Speech starts after `onset` of consecutive voiced
//! hops, and, once started, a lower `hold_threshold` keeps it open through soft syllables. It
//! closes after `trailing_silence` without voice, or is split at the quietest point before it
//! grows past `max_len` (so each piece fits Whisper's 30 s window). Segments get `padding` of
//! context on both sides, never overlap, and are dropped when they hold less than `min_speech`
//! of voiced hops (clicks, coughs, door slams).

use std::collections::VecDeque;

use crate::audio::{AudioFrame, Levels, LEVEL_BLOCK, SAMPLE_RATE};

/// earshot's fixed frame: 256 samples = 16 ms at 16 kHz.
const HOP: usize = 256;
const SR: f64 = SAMPLE_RATE as f64;

/// How the segmenter cuts speech. All durations are in seconds.
///
/// Deserializes from a TOML table where every field is optional (missing ones take the
/// defaults); out-of-range values are clamped by [`Segmenter::new`], never rejected with a panic.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadConfig {
    /// Silence that closes an utterance. Longer than a breath inside a sentence (~0.3–0.5 s),
    /// shorter than the pause between a clerk's sentences.
    pub trailing_silence: f64,
    /// Longest utterance; longer speech is split at its quietest point before this length.
    pub max_len: f64,
    /// Context kept before the first and after the last voiced hop: Whisper mis-hears clipped
    /// onsets (a bare 0.5 s "不知道。" came back as "不知道怎么办。").
    pub padding: f64,
    /// Utterances with less voiced time than this are dropped.
    pub min_speech: f64,
    /// Voiced time (consecutive) needed to open an utterance.
    pub onset: f64,
    /// earshot score (0–1) at or above which a hop counts as voiced when opening an utterance.
    pub threshold: f32,
    /// Lower score that keeps an open utterance going (hysteresis).
    pub hold_threshold: f32,
    /// Hops quieter than this RMS level (dB relative to full scale) are never speech. Makes
    /// digital silence and very faint noise trivially empty, whatever the network says.
    pub energy_floor_dbfs: f32,
    /// A hop must also be this many dB above the running noise floor (the quietest hop of the
    /// last 3 s). Steady hum, fans and hiss then never count as speech, and cannot hold an
    /// utterance open, however speech-like the network finds them.
    pub noise_margin_db: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            trailing_silence: 0.7,
            max_len: 25.0,
            padding: 0.3,
            min_speech: 0.25,
            onset: 0.048,
            threshold: 0.5,
            hold_threshold: 0.5,
            energy_floor_dbfs: -50.0,
            noise_margin_db: 2.0,
        }
    }
}

/// One utterance: `samples` are the 16 kHz mono audio from `start` to `end` (seconds in source).
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechSegment {
    pub start: f64,
    pub end: f64,
    pub samples: Vec<f32>,
    /// Each input channel's loudness over the segment (empty for a mono source).
    pub levels: Levels,
}

impl SpeechSegment {
    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.end - self.start
    }
}

/// Validated settings in samples and hops.
#[derive(Debug, Clone)]
struct Params {
    trailing: u64,
    max_len: u64,
    padding: u64,
    min_voiced_hops: usize,
    onset_hops: usize,
    threshold: f32,
    hold_threshold: f32,
    floor_rms: f32,
    /// Linear factor over the noise floor a voiced hop needs.
    margin: f32,
}

impl Params {
    /// Clamps nonsense (NaN, negative, a max length shorter than its padding) into something
    /// that works instead of panicking: config files are written by people.
    fn from(cfg: &VadConfig) -> Params {
        let d = VadConfig::default();
        let secs = |v: f64, default: f64, lo: f64, hi: f64| {
            let v = if v.is_finite() { v } else { default };
            (v.clamp(lo, hi) * SR).round() as u64
        };
        let padding = secs(cfg.padding, d.padding, 0.0, 2.0);
        let max_len = secs(cfg.max_len, d.max_len, 1.0, 600.0).max(4 * padding + SR as u64);
        let hops = |samples: u64| (samples as usize).div_ceil(HOP);
        let unit = |v: f32, default: f32| {
            if v.is_finite() {
                v.clamp(0.0, 1.0)
            } else {
                default
            }
        };
        let threshold = unit(cfg.threshold, d.threshold);
        let floor_db = if cfg.energy_floor_dbfs.is_finite() {
            cfg.energy_floor_dbfs.min(0.0)
        } else {
            d.energy_floor_dbfs
        };
        Params {
            trailing: secs(cfg.trailing_silence, d.trailing_silence, 0.05, 10.0),
            max_len,
            padding,
            min_voiced_hops: hops(secs(cfg.min_speech, d.min_speech, 0.0, 10.0)),
            onset_hops: hops(secs(cfg.onset, d.onset, 0.0, 1.0)).max(1),
            threshold,
            hold_threshold: unit(cfg.hold_threshold, d.hold_threshold).min(threshold),
            floor_rms: 10f32.powf(floor_db / 20.0),
            margin: 10f32.powf(
                if cfg.noise_margin_db.is_finite() {
                    cfg.noise_margin_db.clamp(0.0, 40.0)
                } else {
                    d.noise_margin_db
                } / 20.0,
            ),
        }
    }
}

/// Sliding minimum of hop RMS over the last few seconds (a monotonic queue: O(1) per hop).
///
/// The quietest hop in a 3 s window is background: speech always has closures and pauses
/// that short, while hum and fans never get quieter than themselves.
#[derive(Debug, Default)]
struct NoiseFloor {
    seen: u64,
    queue: VecDeque<(u64, f32)>,
}

impl NoiseFloor {
    const WINDOW_HOPS: u64 = 3 * SAMPLE_RATE as u64 / HOP as u64;

    fn push(&mut self, rms: f32) -> f32 {
        while self.queue.back().is_some_and(|&(_, v)| v >= rms) {
            self.queue.pop_back();
        }
        self.queue.push_back((self.seen, rms));
        self.seen += 1;
        while self
            .queue
            .front()
            .is_some_and(|&(i, _)| i + Self::WINDOW_HOPS < self.seen)
        {
            self.queue.pop_front();
        }
        self.queue.front().map_or(0.0, |&(_, v)| v)
    }
}

#[derive(Debug, Clone, Copy)]
struct Hop {
    start: u64,
    voiced: bool,
    rms: f32,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Idle { run: usize, run_start: u64 },
    Speech { start: u64, last_voiced_end: u64 },
}

/// Streaming utterance cutter. Feed frames with [`push`](Self::push), then call
/// [`finish`](Self::finish) at the end of the stream; after `finish` the segmenter is ready for
/// a new stream.
///
/// Frames must be 16 kHz mono, any length. Times come from counting samples from the first
/// frame's `start`; a frame whose `start` jumps more than 0.1 s from that count (a live source
/// that dropped audio) closes the open utterance and restarts the count there.
///
/// # Example
/// ```
/// use courtesy::audio::AudioFrame;
/// use courtesy::vad::{Segmenter, VadConfig};
/// let mut vad = Segmenter::new(VadConfig::default());
/// let silence = AudioFrame { start: 0.0, samples: vec![0.0; 16_000], levels: Default::default() };
/// assert!(vad.push(&silence).is_empty());
/// assert!(vad.finish().is_none());
/// ```
pub struct Segmenter {
    p: Params,
    detector: Box<earshot::Detector>,
    /// Samples waiting to fill the next hop.
    carry: Vec<f32>,
    /// Source time of absolute sample 0; `None` before the first frame of a stream.
    origin: Option<f64>,
    /// Absolute index of the next hop's first sample.
    pos: u64,
    /// Retained audio, from absolute sample `buf_start`: the pre-roll, or the open utterance.
    buf: VecDeque<f32>,
    buf_start: u64,
    /// Per-hop decisions for the hops in `buf` (to find a split point).
    hops: VecDeque<Hop>,
    state: State,
    /// End of the last emitted segment: the next one never starts before it.
    prev_end: u64,
    noise: NoiseFloor,
    /// Channel levels of the frames seen: the absolute sample each block starts at, its
    /// channels' mean squares (flat), and the channel count.
    level_starts: VecDeque<u64>,
    level_power: VecDeque<f32>,
    level_channels: usize,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segmenter")
            .field("params", &self.p)
            .field("state", &self.state)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl Segmenter {
    pub fn new(config: VadConfig) -> Segmenter {
        Segmenter {
            p: Params::from(&config),
            detector: earshot::Detector::default_boxed(),
            carry: Vec::with_capacity(HOP),
            origin: None,
            pos: 0,
            buf: VecDeque::new(),
            buf_start: 0,
            hops: VecDeque::new(),
            state: State::Idle {
                run: 0,
                run_start: 0,
            },
            prev_end: 0,
            noise: NoiseFloor::default(),
            level_starts: VecDeque::new(),
            level_power: VecDeque::new(),
            level_channels: 0,
        }
    }

    /// Feeds one frame; returns the utterances that closed during it (usually none or one).
    pub fn push(&mut self, frame: &AudioFrame) -> Vec<SpeechSegment> {
        let mut out = Vec::new();
        match self.origin {
            None => self.origin = Some(frame.start),
            Some(origin) => {
                let expected = origin + (self.pos + self.carry.len() as u64) as f64 / SR;
                if (frame.start - expected).abs() > 0.1 {
                    out.extend(self.finish());
                    self.origin = Some(frame.start);
                }
            }
        }
        self.keep_levels(&frame.levels);
        let mut rest = &frame.samples[..];
        while !rest.is_empty() {
            let take = (HOP - self.carry.len()).min(rest.len());
            self.carry.extend(rest[..take].iter().map(|&x| {
                if x.is_finite() {
                    x.clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            }));
            rest = &rest[take..];
            if self.carry.len() == HOP {
                let hop = std::mem::take(&mut self.carry);
                out.extend(self.hop(&hop));
                self.carry = hop;
                self.carry.clear();
            }
        }
        out
    }

    /// Ends the stream: closes the open utterance (if it has enough speech) and resets.
    pub fn finish(&mut self) -> Option<SpeechSegment> {
        // A partial hop is too short to score; it only extends the audio.
        let tail = std::mem::take(&mut self.carry);
        self.buf.extend(tail.iter());
        let buf_end = self.buf_start + self.buf.len() as u64;
        let segment = match self.state {
            State::Speech {
                start,
                last_voiced_end,
            } => {
                let end = (last_voiced_end + self.p.padding).min(buf_end);
                self.emit(start, end)
            }
            State::Idle { .. } => None,
        };
        self.detector.reset();
        self.origin = None;
        self.pos = 0;
        self.buf.clear();
        self.buf_start = 0;
        self.hops.clear();
        self.state = State::Idle {
            run: 0,
            run_start: 0,
        };
        self.prev_end = 0;
        self.noise = NoiseFloor::default();
        self.level_starts.clear();
        self.level_power.clear();
        self.level_channels = 0;
        segment
    }

    /// Remembers a frame's channel levels at the absolute samples they cover.
    fn keep_levels(&mut self, levels: &Levels) {
        if levels.channels == 0 {
            return;
        }
        if levels.channels != self.level_channels {
            self.level_starts.clear();
            self.level_power.clear();
            self.level_channels = levels.channels;
        }
        let at = self.pos + self.carry.len() as u64;
        for i in 0..levels.blocks() {
            self.level_starts.push_back(at + (i * LEVEL_BLOCK) as u64);
            self.level_power.extend(levels.block(i));
        }
    }

    /// The levels of the blocks that start in `[start, end)`.
    fn levels_of(&self, start: u64, end: u64) -> Levels {
        let channels = self.level_channels;
        let mut power = Vec::new();
        for (i, &at) in self.level_starts.iter().enumerate() {
            if at >= start && at < end {
                power.extend(self.level_power.range(i * channels..(i + 1) * channels));
            }
        }
        Levels {
            channels: if power.is_empty() { 0 } else { channels },
            power,
        }
    }

    fn hop(&mut self, samples: &[f32]) -> Option<SpeechSegment> {
        let rms = (samples.iter().map(|x| x * x).sum::<f32>() / HOP as f32).sqrt();
        let score = self.detector.predict_f32(samples);
        let floor = self.noise.push(rms);
        let loud = rms >= self.p.floor_rms && rms >= floor * self.p.margin;
        let start = self.pos;
        let end = start + HOP as u64;
        self.pos = end;
        self.buf.extend(samples.iter());

        match self.state {
            State::Idle { run, run_start } => {
                let voiced = loud && score >= self.p.threshold;
                self.hops.push_back(Hop { start, voiced, rms });
                let (run, run_start) = if voiced {
                    (run + 1, if run == 0 { start } else { run_start })
                } else {
                    (0, 0)
                };
                if run >= self.p.onset_hops {
                    let seg_start = run_start
                        .saturating_sub(self.p.padding)
                        .max(self.prev_end)
                        .max(self.buf_start);
                    self.drop_before(seg_start);
                    self.state = State::Speech {
                        start: seg_start,
                        last_voiced_end: end,
                    };
                } else {
                    self.state = State::Idle { run, run_start };
                    // Keep just enough pre-roll to pad an utterance that starts soon.
                    let keep = self.p.padding + ((self.p.onset_hops + 1) * HOP) as u64;
                    self.drop_before(end.saturating_sub(keep));
                }
                None
            }
            State::Speech {
                start: seg_start,
                last_voiced_end,
            } => {
                let voiced = loud && score >= self.p.hold_threshold;
                self.hops.push_back(Hop { start, voiced, rms });
                let last_voiced_end = if voiced { end } else { last_voiced_end };
                self.state = State::Speech {
                    start: seg_start,
                    last_voiced_end,
                };
                if end - last_voiced_end >= self.p.trailing {
                    let seg_end = (last_voiced_end + self.p.padding).min(end);
                    let segment = self.emit(seg_start, seg_end);
                    self.state = State::Idle {
                        run: 0,
                        run_start: 0,
                    };
                    segment
                } else if end - seg_start >= self.p.max_len {
                    self.split(seg_start, last_voiced_end)
                } else {
                    None
                }
            }
        }
    }

    /// Cuts an utterance that reached `max_len` at the middle of its longest unvoiced run in
    /// the last few seconds (or its quietest hop if there is none), so words stay whole; the
    /// rest continues as a new utterance with no gap and no overlap.
    fn split(&mut self, seg_start: u64, last_voiced_end: u64) -> Option<SpeechSegment> {
        let end = self.pos;
        let window = (5 * SAMPLE_RATE as u64).min(self.p.max_len / 2);
        let from = end - window;
        let candidates: Vec<Hop> = self
            .hops
            .iter()
            .filter(|h| h.start >= from && h.start > seg_start)
            .copied()
            .collect();
        let mut best: Option<(usize, usize)> = None; // (run length, index of run start)
        let mut i = 0;
        while i < candidates.len() {
            if candidates[i].voiced {
                i += 1;
                continue;
            }
            let j = candidates[i..]
                .iter()
                .position(|h| h.voiced)
                .map_or(candidates.len(), |n| i + n);
            if best.is_none_or(|(len, _)| j - i >= len) {
                best = Some((j - i, i));
            }
            i = j;
        }
        let cut = match best {
            Some((len, i)) => candidates[i + len / 2].start,
            None => candidates
                .iter()
                .min_by(|a, b| a.rms.total_cmp(&b.rms))
                .map_or(end, |h| h.start),
        };
        let segment = self.emit(seg_start, cut);
        self.state = State::Speech {
            start: cut,
            last_voiced_end: last_voiced_end.max(cut),
        };
        segment
    }

    /// Takes `[start, end)` out of the buffer as a segment if it holds enough voiced hops,
    /// and forgets everything before `end`.
    fn emit(&mut self, start: u64, end: u64) -> Option<SpeechSegment> {
        let start = start.max(self.buf_start);
        let end = end.max(start);
        let voiced = self
            .hops
            .iter()
            .filter(|h| h.voiced && h.start >= start && h.start < end)
            .count();
        let origin = self.origin.unwrap_or(0.0);
        let segment = (voiced >= self.p.min_voiced_hops.max(1)).then(|| SpeechSegment {
            start: origin + start as f64 / SR,
            end: origin + end as f64 / SR,
            samples: self
                .buf
                .range((start - self.buf_start) as usize..(end - self.buf_start) as usize)
                .copied()
                .collect(),
            levels: self.levels_of(start, end),
        });
        self.prev_end = end;
        self.drop_before(end);
        segment
    }

    fn drop_before(&mut self, at: u64) {
        if at > self.buf_start {
            let n = ((at - self.buf_start) as usize).min(self.buf.len());
            self.buf.drain(..n);
            self.buf_start += n as u64;
        }
        while self
            .hops
            .front()
            .is_some_and(|h| h.start + (HOP as u64) <= at)
        {
            self.hops.pop_front();
        }
        while self
            .level_starts
            .front()
            .is_some_and(|&b| b + (LEVEL_BLOCK as u64) <= at)
        {
            self.level_starts.pop_front();
            self.level_power.drain(..self.level_channels);
        }
    }
}

/// Segments a whole in-memory 16 kHz mono signal: a convenience for tests and tools.
pub fn segment_all(samples: &[f32], config: VadConfig) -> Vec<SpeechSegment> {
    let mut vad = Segmenter::new(config);
    let mut out = Vec::new();
    for (i, chunk) in samples
        .chunks(crate::audio::DEFAULT_FRAME_SAMPLES)
        .enumerate()
    {
        let frame = AudioFrame {
            start: (i * crate::audio::DEFAULT_FRAME_SAMPLES) as f64 / SR,
            samples: chunk.to_vec(),
            levels: Default::default(),
        };
        out.extend(vad.push(&frame));
    }
    out.extend(vad.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small deterministic PRNG so the tests need no extra crate.
    struct XorShift(u64);
    impl XorShift {
        fn next_f32(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        }
    }

    fn db(level_dbfs: f32) -> f32 {
        10f32.powf(level_dbfs / 20.0)
    }

    /// Pink noise (Paul Kellet's filter), scaled to an RMS level.
    fn pink(secs: f64, rms_dbfs: f32, seed: u64) -> Vec<f32> {
        let mut rng = XorShift(seed);
        let mut b = [0f32; 7];
        let raw: Vec<f32> = (0..(secs * SR) as usize)
            .map(|_| {
                let w = rng.next_f32();
                b[0] = 0.99886 * b[0] + w * 0.0555179;
                b[1] = 0.99332 * b[1] + w * 0.0750759;
                b[2] = 0.96900 * b[2] + w * 0.153852;
                b[3] = 0.86650 * b[3] + w * 0.3104856;
                b[4] = 0.55000 * b[4] + w * 0.5329522;
                b[5] = -0.7616 * b[5] - w * 0.0168980;
                let out = b.iter().sum::<f32>() + w * 0.5362;
                b[6] = w * 0.115926;
                out
            })
            .collect();
        let rms = (raw.iter().map(|x| x * x).sum::<f32>() / raw.len() as f32).sqrt();
        raw.iter().map(|x| x / rms * db(rms_dbfs)).collect()
    }

    fn white(secs: f64, rms_dbfs: f32, seed: u64) -> Vec<f32> {
        let mut rng = XorShift(seed);
        // Uniform noise in [-1, 1] has RMS 1/sqrt(3).
        let gain = db(rms_dbfs) * 3f32.sqrt();
        (0..(secs * SR) as usize)
            .map(|_| rng.next_f32() * gain)
            .collect()
    }

    fn hum(secs: f64, fundamental: f64, peak: f32) -> Vec<f32> {
        (0..(secs * SR) as usize)
            .map(|i| {
                let t = i as f64 / SR;
                // Mains hum with the odd harmonics a transformer adds.
                let v = (1..=7)
                    .step_by(2)
                    .map(|k| {
                        (2.0 * std::f64::consts::PI * fundamental * k as f64 * t).sin() / k as f64
                    })
                    .sum::<f64>();
                peak * (v / 1.5) as f32
            })
            .collect()
    }

    /// A crude voiced sound: a 120–220 Hz glottal pulse train through two formant-ish
    /// resonances, with a syllable-rate envelope. Not speech, but it exercises the state
    /// machine's timing deterministically; real speech is tested against samples/.
    fn buzz(secs: f64, level: f32) -> Vec<f32> {
        let n = (secs * SR) as usize;
        let mut out = Vec::with_capacity(n);
        let (mut y1, mut y2, mut z1, mut z2) = (0f32, 0f32, 0f32, 0f32);
        let mut phase = 0f64;
        for i in 0..n {
            let t = i as f64 / SR;
            let f0 = 170.0 + 50.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
            phase += f0 / SR;
            let pulse = if phase >= 1.0 {
                phase -= 1.0;
                1.0
            } else {
                0.0
            };
            // Two 2-pole resonators (~700 Hz and ~1200 Hz).
            let r = 0.97f32;
            let c1 = 2.0 * r * (2.0 * std::f32::consts::PI * 700.0 / 16_000.0).cos();
            let c2 = 2.0 * r * (2.0 * std::f32::consts::PI * 1200.0 / 16_000.0).cos();
            let a = pulse + c1 * y1 - r * r * y2;
            y2 = y1;
            y1 = a;
            let b = a + c2 * z1 - r * r * z2;
            z2 = z1;
            z1 = b;
            let env = (0.6 + 0.4 * (2.0 * std::f64::consts::PI * 4.0 * t).sin()) as f32;
            out.push(b * env);
        }
        let peak = out.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-9);
        out.iter().map(|x| x / peak * level).collect()
    }

    #[test]
    fn segmenter_can_move_to_a_reader_thread() {
        fn is_send<T: Send>() {}
        is_send::<Segmenter>();
        is_send::<SpeechSegment>();
    }

    #[test]
    fn config_reads_from_partial_toml() {
        let cfg: VadConfig = toml::from_str("trailing_silence = 1.0").unwrap();
        assert_eq!(cfg.trailing_silence, 1.0);
        assert_eq!(cfg.max_len, VadConfig::default().max_len);
        assert!(toml::from_str::<VadConfig>("trailing_silens = 1.0").is_err());
    }

    #[test]
    fn digital_silence_gives_nothing() {
        assert!(segment_all(&vec![0.0; 5 * 16_000], VadConfig::default()).is_empty());
    }

    #[test]
    fn low_white_noise_gives_nothing() {
        for level in [-50.0, -40.0, -30.0] {
            let segs = segment_all(&white(10.0, level, 7), VadConfig::default());
            assert!(segs.is_empty(), "white noise at {level} dBFS: {segs:?}");
        }
    }

    #[test]
    fn pink_noise_gives_nothing() {
        for level in [-50.0, -40.0, -30.0] {
            let segs = segment_all(&pink(10.0, level, 11), VadConfig::default());
            assert!(segs.is_empty(), "pink noise at {level} dBFS: {segs:?}");
        }
    }

    #[test]
    fn mains_hum_gives_nothing() {
        for f in [50.0, 100.0] {
            let segs = segment_all(&hum(10.0, f, 0.3), VadConfig::default());
            assert!(segs.is_empty(), "{f} Hz hum: {segs:?}");
        }
    }

    #[test]
    fn below_the_energy_floor_is_never_speech() {
        // Even a loud-shaped signal is ignored when scaled under the floor.
        let quiet = buzz(3.0, db(-60.0));
        assert!(segment_all(&quiet, VadConfig::default()).is_empty());
    }

    fn silence(secs: f64) -> Vec<f32> {
        vec![0.0; (secs * SR) as usize]
    }

    fn concat(parts: &[Vec<f32>]) -> Vec<f32> {
        parts.concat()
    }

    fn spans(segs: &[SpeechSegment]) -> Vec<(f64, f64)> {
        segs.iter().map(|s| (s.start, s.end)).collect()
    }

    #[test]
    fn a_voiced_burst_becomes_one_padded_segment() {
        let signal = concat(&[silence(1.0), buzz(2.0, 0.5), silence(2.0)]);
        let segs = segment_all(&signal, VadConfig::default());
        assert_eq!(segs.len(), 1, "{:?}", spans(&segs));
        let s = &segs[0];
        // Padding (0.3 s) on both sides, give or take the detector's reaction time.
        assert!((s.start - 0.7).abs() < 0.06, "start {}", s.start);
        assert!((s.end - 3.3).abs() < 0.06, "end {}", s.end);
        assert_eq!(s.samples.len(), ((s.end - s.start) * SR).round() as usize);
        assert_eq!(
            s.samples[..],
            signal[(s.start * SR).round() as usize..(s.end * SR).round() as usize]
        );
    }

    #[test]
    fn sentences_a_second_apart_are_separate_but_short_pauses_are_not() {
        let signal = concat(&[
            silence(0.5),
            buzz(1.5, 0.5),
            silence(0.3), // a pause inside a sentence
            buzz(1.0, 0.5),
            silence(1.0), // between sentences
            buzz(1.2, 0.5),
            silence(1.5),
            buzz(0.8, 0.5),
            silence(0.5),
        ]);
        let segs = segment_all(&signal, VadConfig::default());
        assert_eq!(segs.len(), 3, "{:?}", spans(&segs));
        for w in segs.windows(2) {
            assert!(w[0].end <= w[1].start, "overlap: {:?}", spans(&segs));
        }
    }

    #[test]
    fn blips_shorter_than_min_speech_are_dropped() {
        let signal = concat(&[silence(1.0), buzz(0.12, 0.5), silence(2.0)]);
        assert!(segment_all(&signal, VadConfig::default()).is_empty());
    }

    #[test]
    fn speech_over_hum_or_noise_still_splits_between_sentences() {
        let speech = concat(&[
            silence(1.0),
            buzz(1.5, 0.3),
            silence(1.2),
            buzz(1.5, 0.3),
            silence(1.0),
        ]);
        let secs = speech.len() as f64 / SR;
        for (name, background) in [
            ("50 Hz hum", hum(secs, 50.0, 0.01)),
            ("100 Hz hum", hum(secs, 100.0, 0.03)),
            ("pink noise", pink(secs, -40.0, 3)),
        ] {
            let mixed: Vec<f32> = speech.iter().zip(&background).map(|(a, b)| a + b).collect();
            let segs = segment_all(&mixed, VadConfig::default());
            assert_eq!(segs.len(), 2, "{name}: {:?}", spans(&segs));
        }
    }

    #[test]
    fn long_speech_is_split_under_max_len_without_gaps() {
        let signal = concat(&[silence(0.5), buzz(60.0, 0.5), silence(1.0)]);
        let segs = segment_all(&signal, VadConfig::default());
        assert!(segs.len() >= 3, "{:?}", spans(&segs));
        for s in &segs {
            assert!(s.duration() <= 25.0 + 1e-9, "{:?}", spans(&segs));
        }
        for w in segs.windows(2) {
            assert!(
                (w[0].end - w[1].start).abs() < 1e-9,
                "gap or overlap: {:?}",
                spans(&segs)
            );
        }
    }

    #[test]
    fn a_split_prefers_a_pause() {
        let cfg = VadConfig {
            max_len: 6.0,
            ..VadConfig::default()
        };
        // Pauses of 0.4 s (too short to close) at 2.5 s and 4.9 s; the split must use one.
        let signal = concat(&[
            buzz(2.5, 0.5),
            silence(0.4),
            buzz(2.0, 0.5),
            silence(0.4),
            buzz(3.0, 0.5),
            silence(1.0),
        ]);
        let segs = segment_all(&signal, cfg);
        assert!(segs.len() >= 2, "{:?}", spans(&segs));
        let cut = segs[0].end;
        let in_pause = (2.5..2.9).contains(&cut) || (4.9..5.3).contains(&cut);
        assert!(in_pause, "cut at {cut}: {:?}", spans(&segs));
    }

    #[test]
    fn nonsense_config_does_not_panic() {
        let cfg = VadConfig {
            trailing_silence: f64::NAN,
            max_len: -1.0,
            padding: 1e9,
            min_speech: f64::INFINITY,
            onset: -3.0,
            threshold: 7.0,
            hold_threshold: f32::NAN,
            energy_floor_dbfs: 20.0,
            noise_margin_db: f32::NAN,
        };
        let segs = segment_all(&buzz(3.0, 0.5), cfg);
        for s in segs {
            assert!(s.start <= s.end);
        }
    }

    #[test]
    fn frame_size_does_not_change_the_result() {
        let mut signal = vec![0.0; 8_000];
        signal.extend(buzz(2.0, 0.5));
        signal.extend(vec![0.0; 24_000]);
        let whole = segment_all(&signal, VadConfig::default());
        let mut vad = Segmenter::new(VadConfig::default());
        let mut pieces = Vec::new();
        let mut at = 0;
        for (k, len) in [1usize, 255, 257, 1000, 333].iter().cycle().enumerate() {
            if at >= signal.len() || k > 100_000 {
                break;
            }
            let end = (at + len).min(signal.len());
            pieces.extend(vad.push(&AudioFrame {
                start: at as f64 / SR,
                samples: signal[at..end].to_vec(),
                levels: Default::default(),
            }));
            at = end;
        }
        pieces.extend(vad.finish());
        assert_eq!(whole.len(), 1);
        assert_eq!(whole, pieces);
    }

    #[test]
    fn a_gap_in_the_stream_closes_the_open_utterance() {
        let mut vad = Segmenter::new(VadConfig::default());
        let speech = buzz(2.0, 0.5);
        let mut segs = vad.push(&AudioFrame {
            start: 10.0,
            samples: speech.clone(),
            levels: Default::default(),
        });
        // The next frame claims to start 5 s later than the samples add up to.
        segs.extend(vad.push(&AudioFrame {
            start: 17.0,
            samples: vec![0.0; 16_000],
            levels: Default::default(),
        }));
        segs.extend(vad.finish());
        assert_eq!(spans(&segs).len(), 1);
        assert!(
            segs[0].start >= 10.0 && segs[0].end <= 12.0 + 1e-9,
            "{:?}",
            spans(&segs)
        );
    }
}
