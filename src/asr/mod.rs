//! Transcription: every whisper-rs call lives here — one shared model, one state per worker.
//!
//! Each [`SpeechSegment`] becomes one [`Transcript`] with Whisper's own finer segments as
//! [`Piece`]s (timestamps per piece). [`guard`] drops what Whisper invents: text over silence,
//! repetition loops and known stock lines.

pub mod cpu;
pub mod guard;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use crate::audio::SAMPLE_RATE;
use crate::vad::SpeechSegment;

/// Steers Whisper to Simplified Mandarin; it drifts to Traditional without it.
pub const DEFAULT_PROMPT: &str = "以下是普通话的句子。";

/// How to run Whisper.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AsrConfig {
    /// Threads per Whisper call; unset: decided with the number of calls at once by
    /// [`crate::config::Config::calls`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    pub language: String,
    pub prompt: String,
    /// Encode only as much of Whisper's 30 s window as the call's audio needs (plus a second, at
    /// least `min_encoder_seconds`) instead of the full window: the encoder, most of a call's cost,
    /// costs the same for 12 s of speech as for 30 s otherwise. On by default: long-form windows
    /// are seldom full (they end at a file's end, a session's end, a change of speaker).
    pub fit_encoder: bool,
    /// With `fit_encoder`, never encode less than this many seconds: Whisper was trained on 30 s
    /// windows and gets worse the less context it sees.
    pub min_encoder_seconds: f64,
    /// Batch (`analyze`, `batch`, `eval --audio`; on by default): lay a file's speech segments
    /// end to end into windows of up to 30 s and decode each window in one Whisper call, with
    /// timestamps; each Whisper segment goes whole to the speech segment it falls in. Off: one
    /// call per segment. `live` always decodes utterance by utterance.
    pub long_form: bool,
    /// Batch, with `fit_encoder`: a window heard with a fitted encoder whose transcript nearly
    /// holds a banned phrase (a piece of it heard, the phrase not: [`crate::matcher::nearly`]) is
    /// decoded again with the full 30 s, and the second hearing is kept. Live has its own
    /// (`[live] recheck_encoder_seconds`).
    pub hear_again: bool,
    /// whisper.cpp's flash attention (a context parameter): fused attention kernels, slightly
    /// different rounding.
    #[serde(skip_serializing_if = "is_false")]
    pub flash_attn: bool,
    /// Whisper's temperature fallback: a window whose greedy decoding looks like a failure
    /// (compressible repetition or a low mean log-probability) is decoded again at temperature
    /// 0.2, 0.4, … up to 1.0. Off by default: measured on the noisy set (README), and not
    /// deterministic.
    #[serde(skip_serializing_if = "is_false")]
    pub temperature_fallback: bool,
    pub guard: guard::GuardConfig,
}

impl Default for AsrConfig {
    fn default() -> Self {
        AsrConfig {
            threads: None,
            language: "zh".into(),
            prompt: DEFAULT_PROMPT.into(),
            fit_encoder: true,
            min_encoder_seconds: 10.0,
            long_form: true,
            hear_again: true,
            flash_attn: false,
            temperature_fallback: false,
            guard: guard::GuardConfig::default(),
        }
    }
}

/// Left out of the serialized config when off, so the rules hash of a record made before the
/// switch existed stays the same.
fn is_false(b: &bool) -> bool {
    !*b
}

/// Longest audio of one long-form call: Whisper's window.
pub const LONG_FORM_SECONDS: f64 = 30.0;

/// Seconds of silence laid between the segments of one call: live packing keeps unrelated
/// windows apart ([`PACK_GAP`]); long-form joins a file's speech as the VAD cut it (its padding
/// already holds the pauses), as faster-whisper joins its VAD's chunks.
const LONG_FORM_GAP: f64 = 0.0;

/// A transcription failure, as one line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    #[error("{0}")]
    Model(#[from] crate::model::ModelError),
    #[error("{path}: whisper could not load the model — re-run `courtesy model install --force`")]
    Load { path: PathBuf },
    #[error("model check failed: {0}")]
    Verify(String),
    #[error("{0}")]
    Cpu(String),
    #[error("whisper failed on {what}: {source} — report this with the file that caused it")]
    Whisper {
        what: String,
        source: whisper_rs::WhisperError,
    },
}

/// One stretch of Whisper output inside a transcript, with its own times (seconds in the source).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Piece {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Byte range of `text` in the transcript's `text`.
    #[serde(skip)]
    pub span: std::ops::Range<usize>,
    pub no_speech_prob: f32,
    pub avg_logprob: f32,
}

/// What Whisper heard in one speech segment, after the guard.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Transcript {
    /// Seconds in the source.
    pub start: f64,
    pub end: f64,
    /// The accepted pieces' text, concatenated.
    pub text: String,
    pub pieces: Vec<Piece>,
    /// Pieces the guard refused, with the reason (kept for evidence, never matched).
    pub rejected: Vec<(String, guard::Reason)>,
}

impl Transcript {
    /// Start and end time (seconds) of the text at byte range `span`: the pieces it falls in.
    pub fn time_of(&self, span: &std::ops::Range<usize>) -> (f64, f64) {
        let covering: Vec<&Piece> = self
            .pieces
            .iter()
            .filter(|p| p.span.start < span.end && span.start < p.span.end)
            .collect();
        match (covering.first(), covering.last()) {
            (Some(a), Some(b)) => (a.start, b.end),
            _ => (self.start, self.end),
        }
    }
}

/// The loaded Whisper model, shared by every worker.
#[derive(Clone)]
pub struct Transcriber {
    ctx: Arc<WhisperContext>,
    prompt_tokens: Arc<Vec<i32>>,
    config: AsrConfig,
}

impl std::fmt::Debug for Transcriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcriber")
            .field("config", &self.config)
            .finish()
    }
}

impl Transcriber {
    /// Loads the ggml model at `path` once; checks it first so a truncated file gets a clear error
    /// instead of a crash inside whisper.cpp.
    pub fn load(path: &Path, config: AsrConfig) -> Result<Transcriber, AsrError> {
        cpu::check().map_err(AsrError::Cpu)?;
        crate::model::check_ggml(path)?;
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false);
        params.flash_attn(config.flash_attn);
        let ctx = WhisperContext::new_with_params(path, params).map_err(|_| AsrError::Load {
            path: path.to_path_buf(),
        })?;
        // Tokenize the prompt once: set_initial_prompt leaks a string per call.
        let prompt_tokens = if config.prompt.is_empty() {
            Vec::new()
        } else {
            ctx.tokenize(&config.prompt, 64)
                .map_err(|source| AsrError::Whisper {
                    what: "the prompt".into(),
                    source,
                })?
        };
        Ok(Transcriber {
            ctx: Arc::new(ctx),
            prompt_tokens: Arc::new(prompt_tokens),
            config,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &AsrConfig {
        &self.config
    }

    /// A worker with its own decoding state (about 30 MB); make one per thread.
    pub fn worker(&self) -> Result<Worker, AsrError> {
        let state = self
            .ctx
            .create_state()
            .map_err(|source| AsrError::Whisper {
                what: "creating a decoder state".into(),
                source,
            })?;
        Ok(Worker {
            transcriber: self.clone(),
            state,
            abort: None,
            threads: None,
        })
    }
}

/// One decoding state; transcribes one segment at a time.
pub struct Worker {
    transcriber: Transcriber,
    state: WhisperState,
    /// Set from outside to cut the call in flight short (live shutdown's deadline).
    abort: Option<Arc<AtomicBool>>,
    /// Threads per call, when the run decided them ([`crate::config::Config::calls`]).
    threads: Option<usize>,
}

/// Whisper's abort callback: `data` is the `AtomicBool` of [`Worker::abort_when`], kept alive by
/// the worker for the whole call.
unsafe extern "C" fn abort_requested(data: *mut std::ffi::c_void) -> bool {
    // SAFETY: set only in `transcribe_packed_with`, to an `Arc<AtomicBool>` the worker holds.
    unsafe { &*(data as *const AtomicBool) }.load(Ordering::Relaxed)
}

impl Worker {
    /// Calls use `n` threads (else `[asr] threads`, else every core).
    pub fn with_threads(mut self, n: usize) -> Worker {
        self.threads = Some(n);
        self
    }

    /// Calls made from now on stop early, with an error, once `flag` is set: a live run that
    /// must stop by a deadline does not wait for a call in flight.
    pub fn abort_when(mut self, flag: Arc<AtomicBool>) -> Worker {
        self.abort = Some(flag);
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &AsrConfig {
        &self.transcriber.config
    }

    /// Transcribes one speech segment (at most 30 s; the VAD cuts longer speech).
    pub fn transcribe(&mut self, segment: &SpeechSegment) -> Result<Transcript, AsrError> {
        let mut out = self.transcribe_packed(&[segment])?;
        Ok(out.pop().expect("one transcript per segment"))
    }

    /// Transcribes several segments (from any windows) in ONE Whisper call: they are laid end to
    /// end with [`PACK_GAP`] seconds of silence between them, and every token goes back to the
    /// segment its timestamp falls in. One encoder pass then serves them all — the encoder costs
    /// the same for 2 s as for its whole context, so this is the cheap way to serve many windows.
    /// Segments together must fit [`packed_len`] ≤ 30 s.
    pub fn transcribe_packed(
        &mut self,
        segments: &[&SpeechSegment],
    ) -> Result<Vec<Transcript>, AsrError> {
        let min = self.transcriber.config.min_encoder_seconds;
        self.transcribe_packed_with(segments, min)
    }

    /// [`Worker::transcribe_packed`] with this call's `min_encoder_seconds` (used with
    /// `fit_encoder`): a live box trades a little accuracy for speed only while it is behind.
    pub fn transcribe_packed_with(
        &mut self,
        segments: &[&SpeechSegment],
        min_encoder_seconds: f64,
    ) -> Result<Vec<Transcript>, AsrError> {
        let heard = self.run(segments, min_encoder_seconds, PACK_GAP)?;
        let guard = &self.transcriber.config.guard;
        Ok(segments
            .iter()
            .enumerate()
            .map(|(i, seg)| guard::assemble(seg.start, seg.end, heard.take(i..i + 1), guard))
            .collect())
    }

    /// Long-form: consecutive speech segments of one file and one speaker (together at most
    /// [`LONG_FORM_SECONDS`]; the chunker cuts at a change of speaker) laid end to end and decoded in ONE call, as faster-whisper decodes
    /// the speech its VAD keeps. Whisper then hears the conversation rather than one utterance,
    /// and one encoder pass serves every segment.
    ///
    /// The text is never split at token times (that put words into the neighbouring utterance
    /// when live packing tried it): segments that one of Whisper's segments runs across become
    /// ONE transcript, so each transcript holds whole Whisper segments. Token times only place
    /// the pieces inside it (a hit's time). Returns the transcripts in order, each with the range
    /// of `segments` it covers; every segment is in exactly one range (one Whisper did not hear
    /// gets an empty transcript).
    pub fn transcribe_window(
        &mut self,
        segments: &[&SpeechSegment],
    ) -> Result<Vec<(Transcript, Range<usize>)>, AsrError> {
        let min = self.transcriber.config.min_encoder_seconds;
        self.transcribe_window_with(segments, min)
    }

    /// Whether [`Worker::transcribe_window`] encodes less than Whisper's whole window for
    /// `segments` (with `fit_encoder`, when their audio is shorter than it).
    pub fn fits_window(&self, segments: &[&SpeechSegment]) -> bool {
        let config = &self.transcriber.config;
        let samples: usize = segments.iter().map(|s| s.samples.len()).sum();
        config.fit_encoder
            && encoder_frames(samples, config.min_encoder_seconds) < FULL_ENCODER_FRAMES
    }

    /// [`Worker::transcribe_window`] with the encoder fitted to at least `min_encoder_seconds`
    /// (with `fit_encoder`; [`LONG_FORM_SECONDS`] is the whole window).
    pub fn transcribe_window_with(
        &mut self,
        segments: &[&SpeechSegment],
        min_encoder_seconds: f64,
    ) -> Result<Vec<(Transcript, Range<usize>)>, AsrError> {
        let heard = self.run(segments, min_encoder_seconds, LONG_FORM_GAP)?;
        let guard = &self.transcriber.config.guard;
        let mut out = Vec::new();
        for range in utterances(&heard.spans, segments.len()) {
            let (start, end) = (segments[range.start].start, segments[range.end - 1].end);
            let pieces = heard.take(range.clone());
            out.push((guard::assemble(start, end, pieces, guard), range));
        }
        Ok(out)
    }

    /// One Whisper call over `segments` laid end to end `gap` seconds apart: every token goes back
    /// to the segment its timestamp falls in (a Whisper segment wholly inside one needs no token
    /// times).
    fn run(
        &mut self,
        segments: &[&SpeechSegment],
        min_encoder_seconds: f64,
        gap_seconds: f64,
    ) -> Result<Heard, AsrError> {
        let t = &self.transcriber;
        let config = &t.config;
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        let threads = self.threads.or(config.threads);
        params.set_n_threads(threads.unwrap_or_else(crate::config::cores).max(1) as i32);
        params.set_language(Some(&config.language));
        params.set_tokens(&t.prompt_tokens);
        // Greedy without temperature fallback by default: deterministic and as accurate as beam
        // search on short clips; fallback re-decodes with an RNG kept in the reused state.
        params.set_temperature(0.0);
        params.set_temperature_inc(if config.temperature_fallback {
            0.2
        } else {
            0.0
        });
        params.set_no_context(true);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        let packed = segments.len() > 1;
        // Token times are needed only to split a Whisper segment that spans two packed ones.
        params.set_token_timestamps(packed);

        // Lay the segments out; `slots[i]` is segment i's range in the buffer (seconds).
        let gap = (gap_seconds * SAMPLE_RATE as f64) as usize;
        let mut samples: Vec<f32> = Vec::new();
        let mut slots = Vec::with_capacity(segments.len());
        for (i, seg) in segments.iter().enumerate() {
            if i > 0 {
                samples.resize(samples.len() + gap, 0.0);
            }
            let from = samples.len() as f64 / SAMPLE_RATE as f64;
            samples.extend_from_slice(&seg.samples);
            slots.push((from, samples.len() as f64 / SAMPLE_RATE as f64));
        }
        // Whisper needs at least a second; pad short clips with silence rather than fail.
        let min = SAMPLE_RATE as usize + SAMPLE_RATE as usize / 10;
        if samples.len() < min {
            samples.resize(min, 0.0);
        }
        if config.fit_encoder {
            params.set_audio_ctx(encoder_frames(samples.len(), min_encoder_seconds));
        }
        if let Some(flag) = &self.abort {
            // SAFETY: the callback only reads the flag, which `self.abort` keeps alive until
            // `full` below has returned.
            unsafe {
                params.set_abort_callback(Some(abort_requested));
                params.set_abort_callback_user_data(Arc::as_ptr(flag) as *mut std::ffi::c_void);
            }
        }
        let what = || match segments {
            [one] => format!("the segment at {:.1} s", one.start),
            many => format!("{} packed segments", many.len()),
        };
        self.state
            .full(params, &samples)
            .map_err(|source| AsrError::Whisper {
                what: what(),
                source,
            })?;

        // Boundaries between slots: the middle of each silence gap.
        let owner = |time: f64| -> usize {
            slots
                .iter()
                .position(|&(_, end)| time < end + gap_seconds / 2.0)
                .unwrap_or(slots.len() - 1)
        };
        let eot = t.ctx.token_eot();
        let mut heard = Heard {
            pieces: Vec::new(),
            spans: Vec::new(),
        };
        let mut carry: Vec<u8> = Vec::new();
        for seg in self.state.as_iter() {
            let (s0, s1) = (
                seg.start_timestamp() as f64 / 100.0,
                seg.end_timestamp() as f64 / 100.0,
            );
            // Tokens grouped by the slot they belong to; a lone segment needs no token times.
            let mut groups: Vec<(usize, Vec<u8>, f32, usize)> = Vec::new();
            for k in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(k) else {
                    continue;
                };
                let data = tok.token_data();
                if data.id >= eot {
                    continue;
                }
                let slot = if packed {
                    owner((data.t0 + data.t1) as f64 / 200.0)
                } else {
                    0
                };
                if groups.last().is_none_or(|g| g.0 != slot) {
                    groups.push((slot, Vec::new(), 0.0, 0));
                }
                let g = groups.last_mut().expect("pushed above");
                g.1.extend_from_slice(tok.to_bytes().unwrap_or_default());
                g.2 += data.plog;
                g.3 += 1;
            }
            let (Some(first), Some(last)) = (groups.first(), groups.last()) else {
                continue;
            };
            let lo = groups.iter().map(|g| g.0).min().unwrap_or(first.0);
            let hi = groups.iter().map(|g| g.0).max().unwrap_or(last.0);
            heard.spans.push(lo..hi + 1);
            let n_groups = groups.len();
            for (i, (slot, bytes, sum, n)) in groups.into_iter().enumerate() {
                let mut b = std::mem::take(&mut carry);
                b.extend_from_slice(&bytes);
                // A token can end inside a multi-byte character: carry the tail to the next one.
                let text = match std::str::from_utf8(&b) {
                    Ok(s) => s.to_string(),
                    Err(e) if e.error_len().is_none() => {
                        carry = b[e.valid_up_to()..].to_vec();
                        String::from_utf8_lossy(&b[..e.valid_up_to()]).into_owned()
                    }
                    Err(_) => String::from_utf8_lossy(&b).into_owned(),
                };
                let (from, to) = slots[slot];
                let src = segments[slot];
                let len = src.end - src.start;
                // Times relative to the slot, clamped into it: the Whisper segment's own start
                // and end where it has them, the slot's edges where it was split.
                let a = if i == 0 { s0 } else { from };
                let z = if i + 1 == n_groups { s1 } else { to };
                let clamp = |x: f64| (x - from).clamp(0.0, len);
                heard.pieces.push((
                    slot,
                    guard::RawPiece {
                        start: src.start + clamp(a),
                        end: src.start + clamp(z.max(a)),
                        text,
                        no_speech_prob: seg.no_speech_probability(),
                        avg_logprob: if n == 0 { 0.0 } else { sum / n as f32 },
                    },
                ));
            }
        }
        Ok(heard)
    }
}

/// What one call heard, before the guard.
struct Heard {
    /// Every piece in the order Whisper wrote it, with the segment of the call it fell in.
    pieces: Vec<(usize, guard::RawPiece)>,
    /// Per Whisper segment: the call's segments its tokens fell in.
    spans: Vec<Range<usize>>,
}

impl Heard {
    /// The pieces that fell in `segments`, in the order Whisper wrote them.
    fn take(&self, segments: Range<usize>) -> Vec<guard::RawPiece> {
        self.pieces
            .iter()
            .filter(|(slot, _)| segments.contains(slot))
            .map(|(_, p)| p.clone())
            .collect()
    }
}

/// Groups `n` consecutive segments into utterances: segments that one Whisper segment spans
/// belong together (transitively); the others stand alone. Ranges in order, covering 0..n.
fn utterances(spans: &[Range<usize>], n: usize) -> Vec<Range<usize>> {
    // reach[i]: the furthest segment a Whisper segment starting in i runs into.
    let mut reach: Vec<usize> = (0..n).collect();
    for s in spans.iter().filter(|s| s.start < n) {
        reach[s.start] = reach[s.start].max(s.end.min(n) - 1);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let (start, mut end) = (i, reach[i]);
        while i < end {
            i += 1;
            end = end.max(reach[i]);
        }
        out.push(start..end + 1);
        i = end + 1;
    }
    out
}

/// Seconds of silence between packed segments: long enough that Whisper ends a sentence there and
/// its token times fall clearly on one side.
pub const PACK_GAP: f64 = 1.0;

/// Length in seconds of `segments` packed into one call.
pub fn packed_len(segments: impl IntoIterator<Item = f64>) -> f64 {
    let mut n = 0usize;
    let mut total = 0.0;
    for d in segments {
        total += d;
        n += 1;
    }
    total + PACK_GAP * n.saturating_sub(1) as f64
}

/// Encoder frames (of 1500 for 30 s) that cover `samples` plus a second of margin, and at least
/// `min_seconds`, in steps of 64.
fn encoder_frames(samples: usize, min_seconds: f64) -> i32 {
    let seconds = (samples as f64 / SAMPLE_RATE as f64 + 1.0).max(min_seconds);
    let frames = (seconds / LONG_FORM_SECONDS * FULL_ENCODER_FRAMES as f64).ceil() as i32;
    ((frames + 63) / 64 * 64).min(FULL_ENCODER_FRAMES)
}

/// The encoder's frames for Whisper's whole 30 s window.
const FULL_ENCODER_FRAMES: i32 = 1500;

/// A short clip of “您好，请坐。” built into the program, to check an installed model end to end.
const VERIFY_CLIP: &[u8] = include_bytes!("verify.wav");

/// Transcribes the built-in clip; an installed model that cannot hear it is not a working model.
pub fn verify_clip(transcriber: &Transcriber) -> Result<String, AsrError> {
    let t = transcriber.worker()?.transcribe(&builtin_clip()?)?;
    if t.text.trim().is_empty() {
        return Err(AsrError::Verify("the model heard nothing in the built-in clip — re-run `courtesy model install --force`".into()));
    }
    Ok(t.text)
}

/// The clip built into the program (您好，请坐, 16 kHz) as one speech segment.
pub fn builtin_clip() -> Result<SpeechSegment, AsrError> {
    let path = std::env::temp_dir().join(format!("courtesy-verify-{}.wav", std::process::id()));
    let io = |e: std::io::Error| AsrError::Verify(format!("{}: {e}", path.display()));
    std::fs::write(&path, VERIFY_CLIP).map_err(io)?;
    let samples = crate::audio::read_wav(&path);
    let _ = std::fs::remove_file(&path);
    let samples = samples.map_err(|e| AsrError::Verify(e.to_string()))?;
    Ok(SpeechSegment {
        start: 0.0,
        end: samples.len() as f64 / SAMPLE_RATE as f64,
        samples,
        levels: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_a_whisper_segment_runs_across_are_one_utterance() {
        // Whisper segments over call segments 0, 1–2 and 2–3; 4 and 5 unheard or alone.
        let spans = [0..1, 1..3, 2..4, 5..6];
        assert_eq!(utterances(&spans, 6), vec![0..1, 1..4, 4..5, 5..6]);
        // Nothing heard: every segment alone; one Whisper segment over everything: one utterance.
        assert_eq!(utterances(&[], 3), vec![0..1, 1..2, 2..3]);
        assert_eq!(utterances(&[0..3, 1..2], 3), vec![0..3]);
        // Spans listed out of order and past the end are harmless.
        assert_eq!(utterances(&[3..9, 0..2], 4), vec![0..2, 2..3, 3..4]);
        assert!(utterances(&[], 0).is_empty());
    }
}
