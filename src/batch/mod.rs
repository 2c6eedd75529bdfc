//! The nightly batch: every recording of a night into the record — resumable, idempotent, shared by many boxes.
//!
//! A run finds the recordings ([`discover`]), hashes each one and registers it in the record
//! ([`crate::store`]) under its content hash and the rules that decide its transcript (model,
//! `[vad]`, `[asr]`). Files already done under the same rules are skipped; the rest are leased one
//! at a time from the record — so several boxes pointed at one PostgreSQL share a night, and a
//! dead box's file is taken over when its lease expires — and run through the one streaming
//! pipeline ([`crate::pipeline::stream`]). Each transcript is masked ([`crate::text::mask`]),
//! matched, timed on the clock and, when it holds a banned phrase (or falls in the sample), kept
//! as a compressed clip. A file's utterances and hits are committed in one transaction together
//! with its `done` mark, so `kill -9` at any moment loses at most the file in hand, and a re-run
//! redoes exactly that. Last, every day the run touched is scored per window and per staff
//! member ([`days`]).

pub mod days;
pub mod discover;
mod maintain;
mod progress;
pub(crate) mod record;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::asr::Transcriber;
use crate::clock::{self, NamePattern};
use crate::config::Config;
use crate::lexicon::Lexicon;
use crate::matcher::Matcher;
use crate::pipeline::Streamed;
use crate::store::{Lease, NewRecording, RunInfo, Store, StoreError};

pub use maintain::{prune, rescore, rescore_days_since, Pruned, Rescored, RetentionConfig};
pub use progress::ProgressMode;
pub use record::clip_name;

/// `[batch]`: where the record and the clips live and how recordings are named and leased.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// The record: a SQLite file, or `postgres://user:pass@host/db` (many boxes, one night).
    pub db: String,
    /// Folder of evidence clips; default: `clips/` next to a SQLite record, `./clips` otherwise.
    pub clips: Option<PathBuf>,
    /// Share (0–1) of utterances without a banned phrase whose audio is kept too, as a sample
    /// the trainers can compare against.
    pub clip_sample: f64,
    /// File-name patterns giving a recording's clock start (and window), tried in order before
    /// the built-in ones, e.g. `{window}_{yyyy}{MM}{dd}_{HH}{mm}{ss}`.
    pub name_patterns: Vec<String>,
    /// The centre's UTC offset (`+08:00`); default: this machine's.
    pub utc_offset: Option<String>,
    /// How long a box holds a file before another may take it over (renewed while it works).
    pub lease_seconds: f64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            db: "courtesy.db".into(),
            clips: None,
            clip_sample: 0.02,
            name_patterns: Vec::new(),
            utc_offset: None,
            lease_seconds: 120.0,
        }
    }
}

impl BatchConfig {
    /// Checks what the types cannot; the message names the field and its range.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.clip_sample.is_finite() && (0.0..=1.0).contains(&self.clip_sample)) {
            return Err("batch.clip_sample must be between 0 and 1".into());
        }
        if !(self.lease_seconds.is_finite() && (1.0..=86_400.0).contains(&self.lease_seconds)) {
            return Err("batch.lease_seconds must be between 1 and 86400".into());
        }
        for p in &self.name_patterns {
            NamePattern::parse(p).map_err(|e| format!("batch.name_patterns: {e}"))?;
        }
        if let Some(o) = &self.utc_offset {
            clock::parse_offset(o).map_err(|e| format!("batch.utc_offset: {e}"))?;
        }
        Ok(())
    }

    /// The clip folder in force.
    pub fn clip_dir(&self) -> PathBuf {
        if let Some(c) = &self.clips {
            return c.clone();
        }
        if crate::store::is_postgres(&self.db) {
            return PathBuf::from("clips");
        }
        let db = Path::new(self.db.strip_prefix("sqlite:").unwrap_or(&self.db));
        db.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("clips")
    }

    /// The centre's UTC offset in force.
    pub fn offset(&self) -> chrono::FixedOffset {
        self.utc_offset
            .as_deref()
            .and_then(|o| clock::parse_offset(o).ok())
            .unwrap_or_else(clock::local_offset)
    }

    /// The file-name patterns in force: the configured ones, then the built-in ones.
    pub fn patterns(&self) -> Vec<NamePattern> {
        self.name_patterns
            .iter()
            .filter_map(|p| NamePattern::parse(p).ok())
            .chain(clock::default_patterns())
            .collect()
    }
}

/// Everything one run needs.
pub struct Night<'a> {
    pub store: &'a Store,
    pub transcriber: &'a Transcriber,
    pub matcher: &'a Matcher,
    pub lexicon: &'a Lexicon,
    pub config: &'a Config,
    /// sha256 of the ggml model file (see [`crate::model::file_sha256`]).
    pub model_sha256: String,
    /// Files or folders.
    pub paths: Vec<PathBuf>,
    /// One window id for every file (else from the name pattern, else the folder name).
    pub window: Option<String>,
    pub progress: ProgressMode,
    /// Set to stop after the file in hand (Ctrl-C).
    pub stop: Arc<AtomicBool>,
}

/// A file that could not be analysed (or only in part), one line each.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failed {
    pub file: PathBuf,
    pub error: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub run_id: i64,
    /// Recordings found.
    pub files: usize,
    /// Already in the record under the same rules.
    pub skipped: usize,
    /// Analysed by this box in this run.
    pub analysed: usize,
    /// Re-matched from stored transcripts (the lexicon changed since they were analysed).
    pub rematched: usize,
    /// Leases this box lost to another (it was too slow to renew them); the other box finishes them.
    pub taken_over: usize,
    pub failed: Vec<Failed>,
    pub audio_seconds: f64,
    pub speech_seconds: f64,
    pub wall_seconds: f64,
    pub real_time_factor: f64,
    /// Long-form windows decoded a second time with the full encoder (their first, fitted
    /// hearing nearly held a banned phrase).
    pub heard_again: usize,
    /// Days scored at the end.
    pub days: Vec<String>,
}

/// Why a run could not go on at all (a bad file is a [`Failed`], not this).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Asr(#[from] crate::asr::AsrError),
}

/// A file of this run, as registered.
struct Entry {
    id: i64,
    file: PathBuf,
    bytes: u64,
    window: String,
    clock: clock::Clock,
    format: Option<String>,
    sha256: String,
}

/// Runs the night. Returns when every file found is done (by this box or another), failed, or
/// `stop` was set.
pub fn run(night: &Night) -> Result<Summary, BatchError> {
    let started = Instant::now();
    let cfg = &night.config.batch;
    let store = night.store;
    let lexicon_version = night.lexicon.version();
    let (civil, banned) = night.lexicon.sources();
    store.save_lexicon(&lexicon_version, night.lexicon.label(), civil, banned)?;
    let run_id = store.begin_run(&RunInfo {
        kind: "batch".into(),
        program: format!("courtesy {}", env!("CARGO_PKG_VERSION")),
        model_sha256: Some(night.model_sha256.clone()),
        lexicon_version: lexicon_version.clone(),
        config_hash: config_hash(night.config),
        host: host(),
    })?;
    let mut summary = Summary {
        run_id,
        ..Summary::default()
    };

    // Find, hash and register. Hashing reads each file once (about 1 GB/s): the content, not the
    // name, says whether a recording was done.
    let (files, unreadable) = discover::find(&night.paths);
    summary
        .failed
        .extend(unreadable.into_iter().map(|u| Failed {
            file: u.path,
            error: u.error,
        }));
    summary.files = files.len();
    let rules = rules_hash(&night.model_sha256, night.config);
    let patterns = cfg.patterns();
    let offset = cfg.offset();
    let mut entries = Vec::new();
    let mut new = Vec::new();
    for file in files {
        match describe(&file, night.window.as_deref(), &patterns, offset) {
            Ok(e) => {
                new.push(NewRecording {
                    path: file.display().to_string(),
                    content_sha256: e.sha256.clone(),
                    rules: rules.clone(),
                    window: e.window.clone(),
                    clock_start: Some(clock::rfc3339(&e.clock.start)),
                    clock_source: Some(e.clock.source.as_str().to_string()),
                    day: Some(clock::day(&e.clock.start)),
                });
                entries.push(e);
            }
            Err(error) => summary.failed.push(Failed { file, error }),
        }
    }
    let registered = store.register(&new)?;
    for (e, r) in entries.iter_mut().zip(&registered) {
        e.id = r.id;
    }
    let todo: Vec<i64> = registered
        .iter()
        .filter(|r| r.status != "done")
        .map(|r| r.id)
        .collect();
    summary.skipped = registered.len() - todo.len();
    let by_id: BTreeMap<i64, &Entry> = entries.iter().map(|e| (e.id, e)).collect();

    // Lease, analyse, commit — one file at a time per box.
    let owner = format!("{}:{}", host(), std::process::id());
    let lease_for = Duration::from_secs_f64(cfg.lease_seconds);
    let held: Arc<Mutex<BTreeMap<i64, Lease>>> = Arc::default();
    let total_bytes = todo
        .iter()
        .filter_map(|id| by_id.get(id))
        .map(|e| e.bytes)
        .sum();
    let mut progress = progress::Progress::new(night.progress, todo.len(), total_bytes);
    let clip_dir = cfg.clip_dir();
    let (calls, threads) = night.config.calls();
    let workers = (0..calls)
        .map(|_| Ok(night.transcriber.worker()?.with_threads(threads)))
        .collect::<Result<Vec<_>, crate::asr::AsrError>>()?;
    let attributor = crate::speaker::Attributor::for_run(night.config);
    let heartbeat_stop = Arc::new(AtomicBool::new(false));
    let mut store_error: Option<StoreError> = None;
    let mut heard_again = 0;
    std::thread::scope(|s| {
        // Renew held leases well before they expire; a box that stops renewing (killed, hung)
        // loses its file to the others.
        {
            let held = Arc::clone(&held);
            let stop = Arc::clone(&heartbeat_stop);
            s.spawn(move || {
                let every = (lease_for / 3).max(Duration::from_millis(200));
                let mut last = Instant::now();
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                    if last.elapsed() < every {
                        continue;
                    }
                    last = Instant::now();
                    let leases: Vec<Lease> = held
                        .lock()
                        .map(|h| h.values().cloned().collect())
                        .unwrap_or_default();
                    for lease in leases {
                        let _ = store.renew(&lease);
                    }
                }
            });
        }
        let next = {
            let held = Arc::clone(&held);
            let stop = Arc::clone(&night.stop);
            let owner = owner.clone();
            let todo = todo.clone();
            move || -> Option<(usize, PathBuf)> {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        return None;
                    }
                    match store.lease(&owner, lease_for, &todo) {
                        Ok(Some(lease)) => {
                            let key = lease.recording_id as usize;
                            let path = PathBuf::from(&lease.path);
                            if let Ok(mut h) = held.lock() {
                                h.insert(lease.recording_id, lease);
                            }
                            return Some((key, path));
                        }
                        Ok(None) => {}
                        Err(e) => {
                            eprintln!("error: {e}");
                            return None;
                        }
                    }
                    // Nothing to lease now. Files still leased by others (or by this box, in
                    // the pipeline) may yet come free — a dead box's lease expires — so wait
                    // until every file is finished one way or the other.
                    match store.recording_status(&todo) {
                        Ok(states)
                            if states
                                .iter()
                                .all(|s| s.status == "done" || s.status == "failed") =>
                        {
                            return None
                        }
                        Ok(_) => std::thread::sleep(
                            (lease_for / 4)
                                .clamp(Duration::from_millis(100), Duration::from_secs(2)),
                        ),
                        Err(e) => {
                            eprintln!("error: {e}");
                            return None;
                        }
                    }
                }
            }
        };
        let mut files: BTreeMap<i64, record::FileInProgress> = BTreeMap::new();
        // Voices heard while telling turns are kept, so an utterance's voice is theirs (each
        // segment embedded once); the day's voices attribute one-microphone windows at the end.
        let heard_voices = crate::pipeline::SegmentVoices::default();
        let turn = |id: usize, seg: &crate::vad::SpeechSegment| {
            let turn = by_id
                .get(&(id as i64))
                .map_or(crate::speaker::Turn::Unheard, |e| {
                    attributor.turn(&e.window, seg)
                });
            heard_voices.keep(id, seg, &turn);
            turn
        };
        let again = crate::matcher::nearly::Recheck::new(night.matcher);
        heard_again = crate::pipeline::stream(
            next,
            workers,
            night.config,
            &turn,
            &again,
            |event| match event {
                Streamed::Transcript {
                    file,
                    transcript,
                    segment,
                } => {
                    let id = file as i64;
                    let Some(entry) = by_id.get(&id) else { return };
                    summary.speech_seconds += transcript.end - transcript.start;
                    let voice = heard_voices
                        .of(file, &segment)
                        .or_else(|| attributor.voice(&entry.window, &segment));
                    let f = files.entry(id).or_default();
                    f.push(record::utterance(
                        &record::Context {
                            window: &entry.window,
                            sha256: &entry.sha256,
                            clock_start: entry.clock.start,
                            matcher: night.matcher,
                            clip_dir: &clip_dir,
                            clip_sample: cfg.clip_sample,
                            attributor: &attributor,
                        },
                        &transcript,
                        &segment,
                        voice,
                    ));
                }
                Streamed::FileDone {
                    file,
                    seconds,
                    error,
                } => {
                    let id = file as i64;
                    let lease = held.lock().ok().and_then(|mut h| h.remove(&id));
                    let (Some(lease), Some(entry)) = (lease, by_id.get(&id)) else {
                        return;
                    };
                    heard_voices.forget(file);
                    let heard = files.remove(&id).unwrap_or_default();
                    summary.audio_seconds += seconds;
                    let record = heard.into_record(FileRecordHead {
                        duration: seconds,
                        format: entry.format.clone(),
                        clock: &entry.clock,
                        error: error.clone(),
                        lexicon_version: &lexicon_version,
                        run_id,
                    });
                    match store.complete(&lease, &record) {
                        Ok(()) => {
                            summary.analysed += 1;
                            if let Some(e) = &error {
                                summary.failed.push(Failed {
                                    file: entry.file.clone(),
                                    error: e.clone(),
                                });
                            }
                            progress.file(&entry.file, entry.bytes, seconds, error.as_deref());
                        }
                        Err(StoreError::LeaseLost { .. }) => {
                            summary.taken_over += 1;
                            progress.note(&format!(
                                "note: {} was taken over by another box (this one was too slow to renew its lease); its result is theirs",
                                entry.file.display()
                            ));
                        }
                        Err(e) => {
                            if store_error.is_none() {
                                store_error = Some(e);
                            }
                            night.stop.store(true, Ordering::SeqCst);
                        }
                    }
                }
            },
        );
        heartbeat_stop.store(true, Ordering::SeqCst);
    });
    summary.heard_again = heard_again;
    progress.finish();
    if let Some(e) = store_error {
        let _ = store.end_run(
            run_id,
            "failed",
            summary.analysed as i64,
            summary.audio_seconds,
            summary.failed.len() as i64,
        );
        return Err(e.into());
    }

    // Files analysed under other rules of matching (the lexicon changed): re-match their stored
    // transcripts instead of running Whisper again.
    let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
    let stale = store.recordings_needing_match(&ids, &lexicon_version)?;
    summary.rematched = days::rematch(store, night.matcher, &stale, &lexicon_version, run_id)?;

    // Score every day this run's files fall on.
    let day_set: BTreeSet<String> = entries.iter().map(|e| clock::day(&e.clock.start)).collect();
    for day in &day_set {
        days::aggregate(store, day, &lexicon_version, run_id, &night.config.score)?;
    }
    summary.days = day_set.into_iter().collect();
    summary.wall_seconds = started.elapsed().as_secs_f64();
    summary.real_time_factor = if summary.audio_seconds > 0.0 {
        summary.wall_seconds / summary.audio_seconds
    } else {
        0.0
    };
    let status = if night.stop.load(Ordering::SeqCst) {
        "stopped"
    } else {
        "done"
    };
    store.end_run(
        run_id,
        status,
        summary.analysed as i64,
        summary.audio_seconds,
        summary.failed.len() as i64,
    )?;
    Ok(summary)
}

/// What a finished file's record says besides its utterances.
pub(crate) struct FileRecordHead<'a> {
    pub duration: f64,
    pub format: Option<String>,
    pub clock: &'a clock::Clock,
    pub error: Option<String>,
    pub lexicon_version: &'a str,
    pub run_id: i64,
}

/// Hashes, probes and names one file: its window and its clock start.
fn describe(
    file: &Path,
    window: Option<&str>,
    patterns: &[NamePattern],
    offset: chrono::FixedOffset,
) -> Result<Entry, String> {
    let sha256 = file_sha256(file)?;
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let probe = crate::audio::probe(file).ok();
    let clock = clock::clock_start(
        file,
        patterns,
        probe.as_ref().and_then(|p| p.created),
        offset,
    )?;
    let window = window
        .map(str::to_string)
        .or_else(|| clock.window.clone())
        .unwrap_or_else(|| crate::pipeline::window_of(file));
    Ok(Entry {
        id: 0,
        file: file.to_path_buf(),
        bytes,
        window,
        format: probe.map(|p| p.format.to_string()),
        clock,
        sha256,
    })
}

/// sha256 of a file's content, streamed.
pub fn file_sha256(file: &Path) -> Result<String, String> {
    let mut f = std::fs::File::open(file).map_err(|e| {
        format!(
            "{}: cannot read it ({e}) — check its permissions",
            file.display()
        )
    })?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)
        .map_err(|e| format!("{}: cannot read it ({e}) — check the disk", file.display()))?;
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What decides a transcript: the model and the `[vad]` and `[asr]` settings (threads aside: they
/// change speed, not words). A file done under the same rules is not transcribed again.
pub fn rules_hash(model_sha256: &str, config: &Config) -> String {
    let mut asr = config.asr.clone();
    asr.threads = None;
    let text = serde_json::json!({ "model": model_sha256, "vad": config.vad, "asr": asr });
    hex(&Sha256::digest(text.to_string().as_bytes()))[..16].to_string()
}

/// A hash of the whole configuration in force, for the run's record.
pub fn config_hash(config: &Config) -> String {
    let text = serde_json::to_string(config).unwrap_or_default();
    hex(&Sha256::digest(text.as_bytes()))[..16].to_string()
}

/// This box's name, for leases and runs.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
