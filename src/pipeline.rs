//! The pipeline on recordings: decode → speech detection → Whisper → matching → scores.
//!
//! Threads and channels (see ARCHITECTURE.md): one reader thread decodes each file and runs the
//! voice activity detector, sending [`SpeechSegment`]s into a bounded channel (back-pressure: it
//! blocks when Whisper falls behind, so memory stays flat on long recordings); `workers` Whisper
//! threads, each with its own decoder state, turn segments into [`Transcript`]s; the calling thread
//! collects them, then matches every transcript in parallel with rayon and scores each window.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;

use crate::asr::{Transcriber, Transcript, Worker};
use crate::config::Config;
use crate::matcher::nearly::Recheck;
use crate::matcher::Matcher;
use crate::score::{score_window, WindowScore, WindowTally};
use crate::speaker::voices::{sessions, Span};
use crate::speaker::Speaker;
use crate::speaker::Turn;
use crate::text::{Piece, Pieces};
use crate::utterance::Utterance;
use crate::vad::{Segmenter, SpeechSegment, VadConfig};

/// One recording to analyse and the window it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Recording {
    pub window: String,
    pub file: PathBuf,
}

/// A file that could not be (fully) analysed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failure {
    pub window: String,
    pub file: PathBuf,
    pub error: String,
}

/// How much work a run did and how fast.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    pub files: usize,
    /// Seconds of audio decoded.
    pub audio_seconds: f64,
    /// Seconds of audio the detector passed to Whisper.
    pub speech_seconds: f64,
    pub wall_seconds: f64,
    /// Wall time over audio time (lower is faster).
    pub real_time_factor: f64,
    /// Long-form windows decoded a second time with the full encoder (see [`stream`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub heard_again: usize,
    /// Text input: lines read.
    #[serde(skip_serializing_if = "is_zero")]
    pub lines: usize,
    /// Text input: lines longer than [`crate::text::MAX_PIECE_BYTES`], cut into pieces to be matched.
    #[serde(skip_serializing_if = "is_zero")]
    pub cut_lines: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Everything a run found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Analysis {
    pub utterances: Vec<Utterance>,
    pub windows: Vec<WindowScore>,
    pub failures: Vec<Failure>,
    pub stats: Stats,
}

enum Decoded {
    /// Speech segments of file `.0` for one Whisper call: one, or (long-form) consecutive ones
    /// that together fit Whisper's window.
    Chunk(usize, Vec<SpeechSegment>),
    /// The file ended (`Ok(seconds decoded)`) or broke (`Err`, after its readable part was sent),
    /// after `segments` segments.
    End {
        file: usize,
        seconds: f64,
        segments: usize,
        error: Option<String>,
    },
}

enum Heard {
    /// A transcript of file `.0` and its audio, accounting for `.3` of the segments sent.
    Transcript(usize, Transcript, SpeechSegment, usize),
    End {
        file: usize,
        seconds: f64,
        segments: usize,
        error: Option<String>,
    },
    Failed(usize, String),
}

/// What the streaming core hands its caller, on the calling thread. For each file, every
/// [`Streamed::Transcript`] comes before its [`Streamed::FileDone`].
pub enum Streamed {
    /// One speech segment of file `file` and what Whisper heard in it. The segment's samples are
    /// there for evidence clips; drop them when done.
    Transcript {
        file: usize,
        transcript: Transcript,
        segment: SpeechSegment,
    },
    /// File `file` is finished: `seconds` of audio were decoded; `error` says why it stopped
    /// early or why a segment could not be transcribed (what was heard before is still sent).
    FileDone {
        file: usize,
        seconds: f64,
        error: Option<String>,
    },
}

/// With several workers a file's end can overtake its last transcripts: a file is finished only
/// when every segment the reader sent is accounted for.
#[derive(Default)]
struct Tally {
    /// Per file: segments heard (or failed) so far, and the first failure.
    received: BTreeMap<usize, (usize, Option<String>)>,
    /// Per file whose end was read: seconds decoded, segments sent, the read error.
    ended: BTreeMap<usize, (f64, usize, Option<String>)>,
}

impl Tally {
    fn finished(&mut self, file: usize) -> Option<Streamed> {
        let heard = self.received.get(&file).map_or(0, |r| r.0);
        let (_, segments, _) = self.ended.get(&file)?;
        if heard < *segments {
            return None;
        }
        let (seconds, _, error) = self.ended.remove(&file)?;
        let failed = self.received.remove(&file).and_then(|r| r.1);
        Some(Streamed::FileDone {
            file,
            seconds,
            error: error.or(failed),
        })
    }
}

/// The one pipeline over recordings: a reader thread takes the next file from `next` (a key the
/// caller chooses and its path) only when it has finished decoding the previous one, so a caller
/// that leases files from a shared record leases one at a time; `workers` Whisper threads
/// transcribe; `on` sees every transcript and every file's end on the calling thread. `turn`
/// tells who a segment of file `key` sounds like (long-form calls never join two speakers).
///
/// Long-form, with `[asr] fit_encoder` and `hear_again`, a window heard with a fitted
/// encoder whose transcript nearly holds a banned phrase (`again`) or holds too little text is
/// decoded again with the full 30 s and the second hearing kept. Returns how many windows were
/// heard again.
pub fn stream<N, F>(
    next: N,
    workers: Vec<Worker>,
    config: &Config,
    turn: &TurnOf<'_>,
    again: &Recheck,
    mut on: F,
) -> usize
where
    N: FnMut() -> Option<(usize, PathBuf)> + Send,
    F: FnMut(Streamed),
{
    let (seg_tx, seg_rx) = mpsc::sync_channel::<Decoded>(8);
    let (heard_tx, heard_rx) = mpsc::channel::<Heard>();
    let seg_rx = Arc::new(Mutex::new(seg_rx));
    // Long-form windows never join speech across a pause that ends a service session.
    let window = workers
        .first()
        .filter(|w| w.config().long_form)
        .map(|_| Window {
            seconds: crate::asr::LONG_FORM_SECONDS,
            max_pause: config.score.session_gap,
        });
    std::thread::scope(|s| {
        let vad = config.vad.clone();
        s.spawn(move || read_all(next, &vad, window, turn, seg_tx));
        let transcribing: Vec<_> = workers
            .into_iter()
            .map(|worker| {
                let rx = Arc::clone(&seg_rx);
                let tx = heard_tx.clone();
                s.spawn(move || transcribe_all(worker, &rx, &tx, again))
            })
            .collect();
        drop(heard_tx);
        let mut tally = Tally::default();
        for heard in heard_rx {
            let file = match heard {
                Heard::Transcript(file, transcript, segment, covers) => {
                    tally.received.entry(file).or_default().0 += covers;
                    on(Streamed::Transcript {
                        file,
                        transcript,
                        segment,
                    });
                    file
                }
                Heard::Failed(file, error) => {
                    let r = tally.received.entry(file).or_default();
                    r.0 += 1;
                    r.1.get_or_insert(error);
                    file
                }
                Heard::End {
                    file,
                    seconds,
                    segments,
                    error,
                } => {
                    tally.ended.insert(file, (seconds, segments, error));
                    file
                }
            };
            if let Some(done) = tally.finished(file) {
                on(done);
            }
        }
        transcribing
            .into_iter()
            .map(|t| t.join().unwrap_or(0))
            .sum()
    })
}

/// Finds the recordings under `paths` (files, or folders searched recursively; each file once
/// even through link loops) and names each one's window: `window` if given, else the name of the
/// folder holding the file. Paths that cannot be read come back as failures; the rest still run.
pub fn recordings(paths: &[PathBuf], window: Option<&str>) -> (Vec<Recording>, Vec<Failure>) {
    let (files, unreadable) = crate::batch::discover::find(paths);
    let recs = files
        .into_iter()
        .map(|file| Recording {
            window: window
                .map(str::to_string)
                .unwrap_or_else(|| window_of(&file)),
            file,
        })
        .collect();
    let failures = unreadable
        .into_iter()
        .map(|u| Failure {
            window: window.map(str::to_string).unwrap_or_default(),
            file: u.path,
            error: u.error,
        })
        .collect();
    (recs, failures)
}

/// The default window id of a file: the name of its folder.
pub fn window_of(file: &Path) -> String {
    file.parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "default".into())
}

/// A transcript as `analyze` keeps it until every file is heard: who said it (two channels) and
/// its voice (one microphone, with the speaker model).
type Attributed = (Transcript, Speaker, Option<Vec<f32>>);

/// One-microphone windows: who said each utterance, by the voices of the window's sessions
/// (a new file or a pause over `session_gap` starts one). Utterances must be sorted by window,
/// file and start; those already attributed (two channels) are left as they are.
fn by_voice(
    utterances: &mut [Utterance],
    heard: &[Vec<Attributed>],
    recordings: &[Recording],
    session_gap: f64,
) {
    let voice_of = |u: &Utterance| -> Option<&[f32]> {
        let i = recordings
            .iter()
            .position(|r| r.window == u.window && r.file == u.file)?;
        heard[i]
            .iter()
            .find(|(t, ..)| t.start == u.start && t.end == u.end)?
            .2
            .as_deref()
    };
    for window in utterances.chunk_by_mut(|a, b| a.window == b.window) {
        let spans: Vec<Span> = window
            .iter()
            .map(|u| Span {
                file: recordings
                    .iter()
                    .position(|r| r.file == u.file)
                    .unwrap_or(usize::MAX),
                start: u.start,
                end: u.end,
            })
            .collect();
        let day: Vec<(usize, Option<&[f32]>)> = sessions(&spans, session_gap)
            .into_iter()
            .zip(window.iter())
            .map(|(session, u)| (session, voice_of(u)))
            .collect();
        let speakers = crate::speaker::voices::attribute_day(&day);
        for (u, s) in window.iter_mut().zip(speakers) {
            if u.speaker.role == crate::speaker::Role::Unknown {
                u.speaker = s;
            }
        }
    }
}

/// The voices of the speech segments the reader has told turns by, per file: an utterance made
/// of whole segments has the mean of theirs (each weighted by its length, as the encoder weighs
/// the 1.6 s partials of one long clip), so no audio is embedded twice.
#[derive(Default)]
pub(crate) struct SegmentVoices(Mutex<HashMap<usize, Vec<KeptVoice>>>);

/// One segment's span in its file and the voice heard there.
struct KeptVoice {
    start: f64,
    end: f64,
    voice: Vec<f32>,
}

impl SegmentVoices {
    pub(crate) fn keep(&self, file: usize, seg: &SpeechSegment, turn: &Turn) {
        if let Turn::Voice(v) = turn {
            let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
            kept.entry(file).or_default().push(KeptVoice {
                start: seg.start,
                end: seg.end,
                voice: v.clone(),
            });
        }
    }

    /// Drops what was kept of a finished file.
    pub(crate) fn forget(&self, file: usize) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&file);
    }

    /// The voice of `utterance` (segments of `file` joined) from its segments long enough to
    /// embed; `None` (none was, or turns were not told) sends the caller to the encoder.
    pub(crate) fn of(&self, file: usize, utterance: &SpeechSegment) -> Option<Vec<f32>> {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let inside = kept
            .get(&file)?
            .iter()
            .filter(|k| k.start >= utterance.start - 1e-6 && k.end <= utterance.end + 1e-6);
        crate::speaker::encoder::weighted_mean(
            inside.map(|k| (&k.voice[..], (k.end - k.start) as f32)),
        )
    }
}

/// Runs the whole pipeline over `recordings`. Fails only when Whisper cannot start; a bad file is
/// a [`Failure`] in the result and the other files are still analysed.
pub fn analyze(
    recordings: &[Recording],
    transcriber: &Transcriber,
    matcher: &Matcher,
    config: &Config,
) -> Result<Analysis, crate::asr::AsrError> {
    let started = Instant::now();
    let (calls, threads) = config.calls();
    let workers = (0..calls)
        .map(|_| Ok(transcriber.worker()?.with_threads(threads)))
        .collect::<Result<Vec<_>, crate::asr::AsrError>>()?;
    let attributor = crate::speaker::Attributor::for_run(config);
    let mut transcripts: Vec<Vec<Attributed>> = vec![Vec::new(); recordings.len()];
    let mut failures = Vec::new();
    let mut stats = Stats {
        files: recordings.len(),
        ..Stats::default()
    };
    let mut queue = recordings.iter().map(|r| r.file.clone()).enumerate();
    // Voices the reader heard (long-form, one microphone) are kept, so an utterance's voice is
    // theirs and each segment is embedded once.
    let heard_voices = SegmentVoices::default();
    let turn = |file: usize, seg: &SpeechSegment| {
        let turn = attributor.turn(&recordings[file].window, seg);
        heard_voices.keep(file, seg, &turn);
        turn
    };
    let again = Recheck::new(matcher);
    let heard_again = stream(
        || queue.next(),
        workers,
        config,
        &turn,
        &again,
        |event| match event {
            Streamed::Transcript {
                file,
                transcript,
                segment,
            } => {
                stats.speech_seconds += transcript.end - transcript.start;
                let window = &recordings[file].window;
                let speaker = attributor.attribute(window, &segment);
                let voice = heard_voices
                    .of(file, &segment)
                    .or_else(|| attributor.voice(window, &segment));
                transcripts[file].push((transcript, speaker, voice));
            }
            Streamed::FileDone {
                file,
                seconds,
                error,
            } => {
                heard_voices.forget(file);
                stats.audio_seconds += seconds;
                if let Some(error) = error {
                    failures.push(failure(&recordings[file], error));
                }
            }
        },
    );
    stats.heard_again = heard_again;

    let mut utterances: Vec<Utterance> = transcripts
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, ts)| {
            let rec = &recordings[i];
            ts.iter()
                .filter(|(t, ..)| !t.text.trim().is_empty())
                .map(move |(t, speaker, _)| {
                    Utterance::from_transcript(&rec.window, rec.file.clone(), t, matcher)
                        .spoken_by(*speaker)
                })
        })
        .collect();
    utterances.sort_by(|a, b| {
        (&a.window, &a.file)
            .cmp(&(&b.window, &b.file))
            .then(a.start.total_cmp(&b.start))
    });
    if attributor.hears_voices() {
        by_voice(
            &mut utterances,
            &transcripts,
            recordings,
            config.score.session_gap,
        );
    }
    failures.sort_by(|a, b| a.file.cmp(&b.file));

    let windows = score_windows(
        recordings.iter().map(|r| r.window.as_str()),
        &utterances,
        &failures,
        config,
    );
    stats.wall_seconds = started.elapsed().as_secs_f64();
    stats.real_time_factor = if stats.audio_seconds > 0.0 {
        stats.wall_seconds / stats.audio_seconds
    } else {
        0.0
    };
    Ok(Analysis {
        utterances,
        windows,
        failures,
        stats,
    })
}

/// Scores every window named in `windows` (even those with nothing said).
pub fn score_windows<'a>(
    windows: impl IntoIterator<Item = &'a str>,
    utterances: &[Utterance],
    failures: &[Failure],
    config: &Config,
) -> Vec<WindowScore> {
    let mut by_window: BTreeMap<&str, Vec<&Utterance>> =
        windows.into_iter().map(|w| (w, Vec::new())).collect();
    for u in utterances {
        by_window.entry(u.window.as_str()).or_default().push(u);
    }
    by_window
        .into_par_iter()
        .map(|(w, us)| {
            let mut score = score_window(w, &us, &config.score);
            score.failed_files = failures.iter().filter(|f| f.window == w).count();
            score
        })
        .collect()
}

fn failure(rec: &Recording, error: String) -> Failure {
    Failure {
        window: rec.window.clone(),
        file: rec.file.clone(),
        error,
    }
}

/// Reader thread: decodes each file in turn and cuts it into speech segments; with a `window`
/// (long-form) it lays consecutive segments of a file into chunks that fit it.
fn read_all<N>(
    mut next: N,
    vad_config: &VadConfig,
    window: Option<Window>,
    turn: &TurnOf<'_>,
    tx: SyncSender<Decoded>,
) where
    N: FnMut() -> Option<(usize, PathBuf)>,
{
    while let Some((i, file)) = next() {
        let mut seconds = 0.0;
        let mut segments = 0;
        let mut vad = Segmenter::new(vad_config.clone());
        let mut chunk = Chunker::new(window);
        // Sends what the chunker hands out; false when the workers are gone.
        let mut send = |ready: Vec<SpeechSegment>| {
            segments += ready.len();
            ready.is_empty() || tx.send(Decoded::Chunk(i, ready)).is_ok()
        };
        let error = match crate::audio::open(&file) {
            Err(e) => Some(e.to_string()),
            Ok(source) => {
                let mut error = None;
                for frame in source {
                    match frame {
                        Ok(frame) => {
                            seconds = frame.end();
                            for seg in vad.push(&frame) {
                                if !send(chunk.push(seg, |seg| turn(i, seg))) {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            error = Some(e.to_string());
                            break;
                        }
                    }
                }
                // Whatever was readable is analysed, even when the file broke part-way.
                if let Some(seg) = vad.finish() {
                    if !send(chunk.push(seg, |seg| turn(i, seg))) {
                        return;
                    }
                }
                error
            }
        };
        if !send(chunk.finish()) {
            return;
        }
        let end = Decoded::End {
            file: i,
            seconds,
            segments,
            error,
        };
        if tx.send(end).is_err() {
            return;
        }
    }
}

/// The audio of consecutive segments as one: from the first's start to the last's end, with
/// silence where the detector dropped the pauses between them, so a time in the file is the same
/// time in the clip.
fn joined(segs: impl Iterator<Item = SpeechSegment>) -> SpeechSegment {
    segs.reduce(|mut all, s| {
        let pause = ((s.start - all.end) * crate::audio::SAMPLE_RATE as f64).round();
        all.samples
            .resize(all.samples.len() + pause.max(0.0) as usize, 0.0);
        all.end = s.end;
        // The pause holds no voice: silent level blocks keep the next segment's in place.
        let c = s.levels.channels.max(all.levels.channels);
        if c > 0 && all.levels.channels == c {
            let blocks = all.samples.len() / crate::audio::LEVEL_BLOCK;
            all.levels
                .power
                .resize(blocks.max(all.levels.blocks()) * c, 0.0);
        }
        all.samples.extend_from_slice(&s.samples);
        all.levels.extend(&s.levels);
        all
    })
    .unwrap_or(SpeechSegment {
        start: 0.0,
        end: 0.0,
        samples: Vec::new(),
        levels: Default::default(),
    })
}

/// Who a speech segment of file `key` (the caller's key, as `next` handed it out) sounds like.
pub type TurnOf<'a> = dyn Fn(usize, &SpeechSegment) -> Turn + Sync + 'a;

/// What a long-form call may hold.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Seconds of speech.
    seconds: f64,
    /// A longer pause between two segments starts a new call (`[score] session_gap`: speech of
    /// two service sessions never shares a call, nor an utterance).
    max_pause: f64,
}

/// Groups a file's speech segments into Whisper calls: each alone, or (with a window) as many
/// consecutive ones as fit the window together and were said by one speaker.
struct Chunker {
    window: Option<Window>,
    held: Vec<SpeechSegment>,
    seconds: f64,
    /// Who the held segments sound like.
    turn: Turn,
}

impl Chunker {
    fn new(window: Option<Window>) -> Chunker {
        Chunker {
            window,
            held: Vec::new(),
            seconds: 0.0,
            turn: Turn::Unheard,
        }
    }

    /// Takes the next segment and who it sounds like; returns the chunk it completes (empty
    /// when none is complete). A change of speaker completes the chunk, so one Whisper segment
    /// never runs across a change of turn and no utterance mixes two people's words.
    fn push(
        &mut self,
        seg: SpeechSegment,
        turn: impl FnOnce(&SpeechSegment) -> Turn,
    ) -> Vec<SpeechSegment> {
        let Some(window) = self.window else {
            return vec![seg];
        };
        let len = seg.samples.len() as f64 / crate::audio::SAMPLE_RATE as f64;
        let pause = self.held.last().map_or(0.0, |h| seg.start - h.end);
        let turn = turn(&seg);
        let full = if (self.seconds + len > window.seconds
            || pause > window.max_pause
            || !self.turn.continues(&turn))
            && !self.held.is_empty()
        {
            self.seconds = 0.0;
            self.turn = Turn::Unheard;
            std::mem::take(&mut self.held)
        } else {
            Vec::new()
        };
        self.turn = std::mem::replace(&mut self.turn, Turn::Unheard).then(turn, self.seconds, len);
        self.seconds += len;
        self.held.push(seg);
        full
    }

    /// The last, partial chunk.
    fn finish(&mut self) -> Vec<SpeechSegment> {
        self.seconds = 0.0;
        self.turn = Turn::Unheard;
        std::mem::take(&mut self.held)
    }
}

/// Below this many characters per second of speech a window's hearing looks cut short: with a
/// fitted encoder Whisper sometimes ends a window after its first sentence (one heard of six
/// packed clips). Speech runs at 3–6 characters a second; a window of noise the VAD kept (little
/// text) is only heard twice.
const CUT_SHORT_CHARS_PER_SECOND: f64 = 1.0;

/// Whether the transcripts of `segments` hold too little text for their speech (at least 5 s).
fn cut_short(heard: &[(Transcript, std::ops::Range<usize>)], segments: &[&SpeechSegment]) -> bool {
    let seconds: f64 = segments.iter().map(|s| s.end - s.start).sum();
    let chars: usize = heard
        .iter()
        .map(|(t, _)| t.text.chars().filter(|c| c.is_alphanumeric()).count())
        .sum();
    seconds >= 5.0 && (chars as f64) < CUT_SHORT_CHARS_PER_SECOND * seconds
}

/// Whisper thread: one decoder state, segments in, transcripts out. Returns how many windows it
/// heard again (see [`stream`]).
fn transcribe_all(
    mut worker: Worker,
    rx: &Mutex<Receiver<Decoded>>,
    tx: &mpsc::Sender<Heard>,
    again: &Recheck,
) -> usize {
    let mut heard_again = 0;
    loop {
        // Hold the lock only to take one message, never while transcribing.
        let next = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return heard_again,
        };
        let Ok(msg) = next else {
            return heard_again;
        };
        let out = match msg {
            Decoded::End {
                file,
                seconds,
                segments,
                error,
            } => Heard::End {
                file,
                seconds,
                segments,
                error,
            },
            Decoded::Chunk(i, segs) => {
                let heard = if worker.config().long_form {
                    let refs: Vec<&SpeechSegment> = segs.iter().collect();
                    let first = worker.transcribe_window(&refs);
                    match &first {
                        Ok(ts)
                            if worker.config().hear_again
                                && worker.fits_window(&refs)
                                && (cut_short(ts, &refs)
                                    || ts.iter().any(|(t, _)| again.nearly(&t.text).is_some())) =>
                        {
                            heard_again += 1;
                            worker.transcribe_window_with(&refs, crate::asr::LONG_FORM_SECONDS)
                        }
                        _ => first,
                    }
                } else {
                    segs.iter()
                        .enumerate()
                        .map(|(k, s)| worker.transcribe(s).map(|t| (t, k..k + 1)))
                        .collect()
                };
                match heard {
                    Ok(ts) => {
                        let mut segs: Vec<Option<SpeechSegment>> =
                            segs.into_iter().map(Some).collect();
                        for (t, range) in ts {
                            let covers = range.len();
                            let audio = joined(segs[range].iter_mut().filter_map(Option::take));
                            if tx.send(Heard::Transcript(i, t, audio, covers)).is_err() {
                                return heard_again;
                            }
                        }
                    }
                    // Every segment of the chunk is accounted for, so the file can finish.
                    Err(e) => {
                        for _ in &segs {
                            if tx.send(Heard::Failed(i, e.to_string())).is_err() {
                                return heard_again;
                            }
                        }
                    }
                }
                continue;
            }
        };
        if tx.send(out).is_err() {
            return heard_again;
        }
    }
}

/// Where an utterance of a text input was read: its line (1-based) and the characters of the
/// line before it (a line longer than [`crate::text::MAX_PIECE_BYTES`] is matched in pieces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOrigin {
    pub line: usize,
    pub offset: usize,
}

/// What a text run found besides the utterances it handed out.
#[derive(Debug, Clone, PartialEq)]
pub struct TextRun {
    pub windows: Vec<WindowScore>,
    pub stats: Stats,
}

/// Pieces matched in parallel at a time; bounds memory whatever the input's size.
const TEXT_CHUNK_BYTES: usize = 1 << 20;
/// Pieces read ahead of the matcher.
const TEXT_READ_AHEAD: usize = 1024;

/// Where a text run's results go, as they are found.
pub trait TextSink {
    /// Line `line` was longer than [`crate::text::MAX_PIECE_BYTES`] and is matched in pieces
    /// (called once per such line).
    fn cut(&mut self, line: usize);
    /// One utterance, in input order.
    fn utterance(&mut self, u: &Utterance, origin: TextOrigin) -> std::io::Result<()>;
    /// A chunk is done: whoever reads the output may see it now.
    fn flush(&mut self) -> std::io::Result<()>;
}

/// Text without audio, read as a stream: every non-empty line (or piece of a long line, cut at
/// sentence punctuation and reported once per line) is one utterance of `window`. A reader
/// thread cuts the input into pieces; this thread takes what is ready (up to 1 MB), matches it
/// in parallel, hands the utterances to `sink` in input order and drops them. Memory stays flat
/// for any input: the score is kept as per-session aggregates ([`WindowTally`]).
pub fn analyze_text<R: std::io::BufRead + Send>(
    window: &str,
    file: &Path,
    input: R,
    matcher: &Matcher,
    config: &Config,
    sink: &mut dyn TextSink,
) -> std::io::Result<TextRun> {
    let started = Instant::now();
    let mut tally = WindowTally::new(window, &config.score);
    let mut stats = Stats::default();
    let (tx, rx) = mpsc::sync_channel::<std::io::Result<Piece>>(TEXT_READ_AHEAD);
    std::thread::scope(|s| {
        s.spawn(move || {
            for piece in Pieces::new(input) {
                let failed = piece.is_err();
                if tx.send(piece).is_err() || failed {
                    return;
                }
            }
        });
        let mut last_cut = 0;
        let mut chunk: Vec<Piece> = Vec::new();
        // Block for the first piece of a chunk, then take only what is already read.
        while let Ok(first) = rx.recv() {
            chunk.clear();
            let mut bytes = 0;
            let mut next = Some(first);
            while let Some(piece) = next.take() {
                let piece = piece.map_err(|e| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", file.display()))
                })?;
                if piece.cut && piece.line != last_cut {
                    last_cut = piece.line;
                    stats.cut_lines += 1;
                    sink.cut(piece.line);
                }
                if !piece.cut {
                    stats.lines += 1;
                }
                bytes += piece.text.len();
                if !piece.text.trim().is_empty() {
                    chunk.push(piece);
                }
                if bytes < TEXT_CHUNK_BYTES {
                    next = rx.try_recv().ok();
                }
            }
            let utterances: Vec<Utterance> = chunk
                .par_iter()
                .map(|p| {
                    Utterance::from_text(window, file.to_path_buf(), p.line - 1, &p.text, matcher)
                })
                .collect();
            for (u, p) in utterances.iter().zip(&chunk) {
                tally.push(u);
                let origin = TextOrigin {
                    line: p.line,
                    offset: p.offset,
                };
                sink.utterance(u, origin)?;
            }
            sink.flush()?;
        }
        Ok::<(), std::io::Error>(())
    })?;
    stats.wall_seconds = started.elapsed().as_secs_f64();
    Ok(TextRun {
        windows: vec![tally.finish()],
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: f64, seconds: f64) -> SpeechSegment {
        SpeechSegment {
            start,
            end: start + seconds,
            samples: vec![0.0; (seconds * crate::audio::SAMPLE_RATE as f64) as usize],
            levels: Default::default(),
        }
    }

    fn starts(chunk: &[SpeechSegment]) -> Vec<f64> {
        chunk.iter().map(|s| s.start).collect()
    }

    impl Chunker {
        fn push_unheard(&mut self, seg: SpeechSegment) -> Vec<SpeechSegment> {
            self.push(seg, |_| Turn::Unheard)
        }
    }

    #[test]
    fn a_hearing_with_too_little_text_for_its_speech_is_cut_short() {
        let seg = |start: f64, end: f64| SpeechSegment {
            start,
            end,
            samples: Vec::new(),
            levels: Default::default(),
        };
        let heard = |text: &str| {
            vec![(
                Transcript {
                    start: 0.0,
                    end: 21.0,
                    text: text.into(),
                    pieces: Vec::new(),
                    rejected: Vec::new(),
                },
                0..2,
            )]
        };
        let (a, b) = (seg(0.0, 12.0), seg(13.0, 21.0));
        // One sentence heard of 20 s of speech: Whisper stopped early.
        assert!(cut_short(&heard("不知道有一件找领导去。"), &[&a, &b]));
        // 3 characters a second, punctuation aside, is speech heard.
        let said = "您好，请坐。".repeat(15);
        assert!(!cut_short(&heard(&said), &[&a, &b]));
        // A short window is left alone: a word or two is all it may hold.
        let short = seg(0.0, 3.0);
        assert!(!cut_short(&heard("好。"), &[&short]));
    }

    #[test]
    fn chunker_cuts_at_a_change_of_speaker() {
        use crate::speaker::Role;
        let mut c = Chunker::new(Some(Window {
            seconds: 30.0,
            max_pause: 15.0,
        }));
        let side = |r| move |_: &SpeechSegment| Turn::Side(r);
        let mut chunks = Vec::new();
        // staff, staff, (nothing tells), citizen, (nothing tells), citizen, staff
        for (start, turn) in [
            (0.0, Some(Role::Staff)),
            (2.0, Some(Role::Staff)),
            (4.0, None),
            (6.0, Some(Role::Citizen)),
            (8.0, None),
            (10.0, Some(Role::Citizen)),
            (12.0, Some(Role::Staff)),
        ] {
            let done = match turn {
                Some(r) => c.push(seg(start, 1.0), side(r)),
                None => c.push_unheard(seg(start, 1.0)),
            };
            if !done.is_empty() {
                chunks.push(starts(&done));
            }
        }
        chunks.push(starts(&c.finish()));
        assert_eq!(
            chunks,
            vec![vec![0.0, 2.0, 4.0], vec![6.0, 8.0, 10.0], vec![12.0]]
        );
        // Voices: a close one goes on, a far one starts a new call.
        let mut c = Chunker::new(Some(Window {
            seconds: 30.0,
            max_pause: 15.0,
        }));
        let voice = |v: [f32; 2]| move |_: &SpeechSegment| Turn::Voice(v.to_vec());
        assert!(c.push(seg(0.0, 1.0), voice([1.0, 0.0])).is_empty());
        assert!(c.push(seg(2.0, 1.0), voice([0.99, 0.14])).is_empty());
        assert_eq!(
            starts(&c.push(seg(4.0, 1.0), voice([0.0, 1.0]))),
            vec![0.0, 2.0]
        );
        assert_eq!(starts(&c.finish()), vec![4.0]);
    }

    #[test]
    fn chunker_fills_windows_in_order_and_never_splits_a_segment() {
        let w = |seconds| {
            Some(Window {
                seconds,
                max_pause: 15.0,
            })
        };
        let mut c = Chunker::new(w(30.0));
        let mut chunks = Vec::new();
        for (start, len) in [
            (0.0, 10.0),
            (12.0, 12.0),
            (30.0, 8.0),
            (40.0, 25.0),
            (70.0, 3.0),
            // 16 s of silence: a new session, a new call, though 3 + 2 s would fit.
            (89.0, 2.0),
        ] {
            let done = c.push_unheard(seg(start, len));
            if !done.is_empty() {
                chunks.push(starts(&done));
            }
        }
        chunks.push(starts(&c.finish()));
        // 10 + 12 + 8 = 30 fits exactly; 25 + 3; then the last, partial window.
        assert_eq!(
            chunks,
            vec![vec![0.0, 12.0, 30.0], vec![40.0, 70.0], vec![89.0]]
        );
        assert!(c.finish().is_empty());

        // A segment longer than the window still goes, alone.
        let mut c = Chunker::new(w(5.0));
        assert!(c.push_unheard(seg(0.0, 8.0)).is_empty());
        assert_eq!(starts(&c.push_unheard(seg(9.0, 1.0))), vec![0.0]);
        assert_eq!(starts(&c.finish()), vec![9.0]);

        // Without a window every segment is its own call.
        let mut c = Chunker::new(None);
        assert_eq!(starts(&c.push_unheard(seg(3.0, 1.0))), vec![3.0]);
        assert!(c.finish().is_empty());
    }

    #[test]
    fn joined_audio_keeps_file_time() {
        let j = joined([seg(2.0, 1.0), seg(4.5, 0.5)].into_iter());
        assert_eq!((j.start, j.end), (2.0, 5.0));
        assert_eq!(j.samples.len(), 3 * crate::audio::SAMPLE_RATE as usize);
        let one = joined([seg(7.0, 2.0)].into_iter());
        assert_eq!((one.start, one.end, one.samples.len()), (7.0, 9.0, 32_000));
    }
}
