//! Live windows: capture or replay → end-pointing per window → fair Whisper scheduling → alerts.
//!
//! Threads and channels (ARCHITECTURE.md has the picture):
//! - one **source thread** per capture device (serving all of that device's windows) or per
//!   replayed window: frames → [`listen::Listener`] → [`schedule::Job`]s pushed to the scheduler;
//! - the **[`schedule::Scheduler`]** (queues per window behind one mutex) feeding `workers`
//!   **Whisper threads** that share one loaded model and pack batches into single calls;
//! - a **judge thread**: transcripts → hits → debounced alerts, clips, rolling scores;
//! - a **sink thread**: every [`Event`] to every sink (terminal, JSON lines, alert log, webhook
//!   outbox, web page), so a slow sink never holds up transcription.
//!
//! Ending: at the end of a replay, sources close their open utterances, workers finish everything
//! queued, the judge raises the last alerts, and every sink is flushed. Stopping (Ctrl-C or SIGINT)
//! is bounded: sources stop taking audio and close their utterances, workers go on for at
//! most `[live] drain_seconds` (a call still in flight then is aborted), and what was left is one
//! `shutdown` event and the summary's `untranscribed_*` — never silently dropped.

pub mod capacity;
pub mod judge;
mod launch;
pub mod listen;
pub mod schedule;

pub use launch::{launch, Launch};

use std::mem::Discriminant;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::asr::{Transcriber, Transcript};
use crate::audio::capture::{run_device, CaptureEvent, CaptureOptions, DeviceSpec};
use crate::config::Config;
use crate::matcher::Matcher;
use crate::sink::event::{
    now_rfc3339, Dropped, Event, EventSink, Failure, Load, Overrun, Shutdown, Summary,
    Untranscribed, WindowStatus,
};

use judge::{Judge, JudgeConfig, WindowInfo};
use listen::Listener;
use schedule::{Job, Policy, Scheduler};

/// The `[live]` section of the configuration file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// Folder for utterance clips (`<window>/<time>-<seq>.wav`), served to the page.
    pub clips: PathBuf,
    /// Keep every utterance's clip, not only those with an alert.
    pub keep_all_clips: bool,
    /// The alert log: alerts, window status, drops and overruns, one JSON object per line.
    pub log: Option<PathBuf>,
    /// POST each alert here (JSON), retrying from an on-disk outbox until it is accepted.
    pub webhook: Option<String>,
    /// The webhook's outbox folder.
    pub outbox: PathBuf,
    /// Serve the desk on this address (e.g. `0.0.0.0:8080`): the supervisors' live view at
    /// `/live`, behind the desk's logins; needs `db`.
    pub http: Option<String>,
    /// Write every alert into this record (a SQLite file or `postgres://…`), where the desk's
    /// live view reads it and supervisors acknowledge it.
    pub db: Option<String>,
    /// The same phrase at the same window raises one alert per this many seconds.
    pub debounce_seconds: f64,
    /// Encode only as much of Whisper's 30 s window as each utterance needs (at least
    /// `encoder_seconds`). On by default live: about 4× cheaper per utterance than the full
    /// window, for a few points of recall (README).
    pub fit_encoder: bool,
    /// With `fit_encoder`: the least encoder context per call while the box keeps up. 10 s by
    /// default; 20 s hears better (94.6 % against 89.2 % banned recall on the labelled set) but
    /// costs 2.3× as much per call: p95 2.5 s at 4 windows, 3.6 s at 8 on this 2-core machine.
    pub encoder_seconds: f64,
    /// With `fit_encoder`: the least context while it is behind (more than `busy_backlog_seconds`
    /// of speech waiting): about 2.3× cheaper, a few points less recall. Precision gives way
    /// before coverage does.
    pub busy_encoder_seconds: f64,
    pub busy_backlog_seconds: f64,
    /// With `fit_encoder`: an utterance whose transcript nearly holds a banned phrase (a piece of
    /// it heard, the phrase not: `matcher::nearly`) is heard again with at least this much context
    /// when no window has speech waiting, and what that hearing finds is alerted. 0: never.
    pub recheck_encoder_seconds: f64,
    /// Most seconds of speech packed into one Whisper call (see `live::schedule`). Off (0) by
    /// default: Whisper's token times are too loose to split a packed call back reliably, and
    /// recall drops (README).
    pub pack_seconds: f64,
    /// Most seconds of speech a window may have waiting before its oldest utterance is dropped.
    pub max_queue_seconds: f64,
    /// The rolling score covers the window's last this-many minutes of speech.
    pub score_minutes: f64,
    /// A capture device that delivers nothing for this long is treated as failed and reopened.
    pub stall_seconds: f64,
    /// On Ctrl-C (SIGINT), the longest the run goes on transcribing what it had heard before
    /// it stops; what is left then is reported in a `shutdown` event. An overloaded box may hold
    /// many minutes of queued speech: stopping must not wait for all of it.
    pub drain_seconds: f64,
    /// The alert latency (95th percentile, from the end of speech) the box is sized for: at
    /// start it times one Whisper call and says how many windows it can serve within this
    /// (`capacity` event; `live::capacity`).
    pub latency_target_seconds: f64,
    /// What the capacity estimate assumes of a window: the share of the time its microphone
    /// hears speech, and the mean length of an utterance.
    pub speech_share: f64,
    pub utterance_seconds: f64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            clips: PathBuf::from("live/clips"),
            keep_all_clips: false,
            log: Some(PathBuf::from("live/alerts.jsonl")),
            webhook: None,
            outbox: PathBuf::from("live/outbox"),
            http: None,
            db: None,
            debounce_seconds: 30.0,
            fit_encoder: true,
            encoder_seconds: 10.0,
            busy_encoder_seconds: 10.0,
            busy_backlog_seconds: 4.0,
            recheck_encoder_seconds: 30.0,
            pack_seconds: 0.0,
            max_queue_seconds: 120.0,
            score_minutes: 60.0,
            stall_seconds: 2.0,
            drain_seconds: 10.0,
            latency_target_seconds: 2.0,
            speech_share: 0.3,
            utterance_seconds: 3.0,
        }
    }
}

impl LiveConfig {
    /// Checks every number of `[live]`: finite and in the range the live threads work in (an
    /// infinite stall or debounce once panicked them and hung the run).
    pub fn validate(&self) -> Result<(), String> {
        use crate::config::in_range;
        in_range(
            "live.debounce_seconds",
            self.debounce_seconds,
            0.0,
            86_400.0,
        )?;
        in_range("live.encoder_seconds", self.encoder_seconds, 0.0, 30.0)?;
        in_range(
            "live.busy_encoder_seconds",
            self.busy_encoder_seconds,
            0.0,
            30.0,
        )?;
        in_range(
            "live.busy_backlog_seconds",
            self.busy_backlog_seconds,
            0.0,
            3600.0,
        )?;
        in_range(
            "live.recheck_encoder_seconds",
            self.recheck_encoder_seconds,
            0.0,
            30.0,
        )?;
        in_range("live.pack_seconds", self.pack_seconds, 0.0, 30.0)?;
        in_range(
            "live.max_queue_seconds",
            self.max_queue_seconds,
            1.0,
            3600.0,
        )?;
        in_range("live.score_minutes", self.score_minutes, 1.0, 1440.0)?;
        in_range("live.stall_seconds", self.stall_seconds, 0.5, 3600.0)?;
        in_range("live.drain_seconds", self.drain_seconds, 0.0, 3600.0)?;
        in_range(
            "live.latency_target_seconds",
            self.latency_target_seconds,
            0.1,
            3600.0,
        )?;
        in_range("live.speech_share", self.speech_share, 0.01, 1.0)?;
        in_range("live.utterance_seconds", self.utterance_seconds, 0.2, 30.0)?;
        Ok(())
    }
}

/// Checks the `[[window]]`s: each id safe ([`crate::window_id::check`]) and used once.
pub fn validate_windows(windows: &[WindowConfig]) -> Result<(), String> {
    for (n, w) in windows.iter().enumerate() {
        crate::window_id::check(&w.id)
            .map_err(|why| format!("[[window]] {}: window.id {:?}: {why}", n + 1, w.id))?;
        if let Some(first) = windows[..n].iter().position(|o| o.id == w.id) {
            return Err(format!(
                "[[window]] {} repeats window.id {:?} of [[window]] {} — give each window its own id",
                n + 1,
                w.id,
                first + 1
            ));
        }
        let at = |field: &str| format!("[[window]] {} ({}): window.{field}", n + 1, w.id);
        for (field, value) in [
            ("staff_channel", w.staff_channel),
            ("citizen_channel", w.citizen_channel),
        ] {
            if let Some(c) = value {
                if !(1..=64).contains(&c) {
                    return Err(format!(
                        "{} must be a channel between 1 and 64 (counted from 1) — it is {c}",
                        at(field)
                    ));
                }
            }
        }
        match (w.staff_channel, w.citizen_channel) {
            (Some(s), Some(c)) if s == c => {
                return Err(format!(
                    "{} is {c}, the same as staff_channel — give the citizen's microphone its own channel",
                    at("citizen_channel")
                ))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(format!(
                    "{} — set both staff_channel and citizen_channel, or neither",
                    at(if w.staff_channel.is_some() {
                        "citizen_channel is missing"
                    } else {
                        "staff_channel is missing"
                    })
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// One `[[window]]` of the configuration file: which microphone (and channel) hears it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Short id used in events and file names (w07).
    pub id: String,
    /// Name shown to people (7号窗口).
    pub label: Option<String>,
    /// Capture device name as `courtesy devices` lists it.
    #[serde(default = "default_device")]
    pub device: String,
    /// Channel of a multichannel device, counted from 1.
    #[serde(default = "first_channel")]
    pub channel: u16,
    /// Two microphones (a two-channel recorder or intercom): the staff's channel, counted from
    /// 1. With `citizen_channel`, each utterance is attributed by which microphone heard it louder.
    pub staff_channel: Option<u16>,
    /// The citizen's channel, counted from 1 (set both or neither).
    pub citizen_channel: Option<u16>,
}

impl WindowConfig {
    /// The staff and citizen microphones (counted from 0), when both are set.
    pub fn channels(&self) -> Option<crate::speaker::WindowChannels> {
        Some(crate::speaker::WindowChannels {
            staff: usize::from(self.staff_channel?).checked_sub(1)?,
            citizen: usize::from(self.citizen_channel?).checked_sub(1)?,
        })
    }
}

fn default_device() -> String {
    "default".into()
}

fn first_channel() -> u16 {
    1
}

/// Where the audio comes from.
#[derive(Debug, Clone)]
pub enum Sources {
    /// Microphones: the configuration's `[[window]]`s.
    Devices(Vec<WindowConfig>),
    /// Recordings played in real time: `(window id, files)`, at `speed` × real time.
    Replay {
        windows: Vec<(String, Vec<PathBuf>)>,
        speed: f64,
        /// Play the files again and again until stopped (soak tests).
        looping: bool,
    },
}

/// Everything a live run needs, built by the CLI.
pub struct Live<'a> {
    pub transcriber: &'a Transcriber,
    pub matcher: &'a Matcher,
    pub config: &'a Config,
    pub sources: Sources,
    pub sinks: Vec<Box<dyn EventSink>>,
    /// Set by Ctrl-C: stop listening, transcribe what was heard for at most `drain_seconds`, flush.
    pub stop: Arc<AtomicBool>,
    /// The enrolled voices (from the record) one-microphone windows are judged against.
    pub voices: crate::speaker::running::RunningVoices,
    /// Which utterances are worth hearing again with more context.
    pub recheck: crate::matcher::nearly::Recheck,
}

/// Gives `event` to every sink. A sink that fails is reported once per outage (until it takes an
/// event of the kind it failed on again — the webhook takes every other kind by ignoring it, which
/// says nothing about its outbox): on stderr, and as a `failure` event to the other sinks (the
/// terminal, the alert log, the page), so a record or webhook that stops answering shows where
/// alerts are read. `reported[i]` is the kind sink `i` is failing on. Returns the number of
/// `failure` events it sent.
fn deliver(
    sinks: &mut [Box<dyn EventSink>],
    reported: &mut [Option<Discriminant<Event>>],
    event: &Event,
) -> u64 {
    let kind = std::mem::discriminant(event);
    let mut failures = Vec::new();
    for (i, sink) in sinks.iter_mut().enumerate() {
        match sink.send(event) {
            Ok(()) if reported[i] == Some(kind) => reported[i] = None,
            Ok(()) => {}
            Err(e) if reported[i].is_none() => {
                reported[i] = Some(kind);
                failures.push((i, e));
            }
            Err(_) => {}
        }
    }
    let window = event.window().unwrap_or_default();
    for (failed, e) in &failures {
        report_sink_failure(sinks, *failed, window, e);
    }
    failures.len() as u64
}

/// Says that sink `failed` failed with `e`: on stderr, and as a `failure` event to the others.
fn report_sink_failure(
    sinks: &mut [Box<dyn EventSink>],
    failed: usize,
    window: &str,
    e: &std::io::Error,
) {
    let name = sinks[failed].name().to_string();
    eprintln!("warning: {name}: {e} — other sinks go on");
    let failure = Event::Failure(Failure {
        window: window.to_string(),
        time: now_rfc3339(),
        what: name.clone(),
        error: format!("{name}: {e}"),
        file: None,
    });
    for (i, sink) in sinks.iter_mut().enumerate() {
        if i != failed {
            // A sink failing on this too was reported above, or will be on its next event.
            let _ = sink.send(&failure);
        }
    }
}

/// The sink thread: the only place events leave the program, so failures are counted here, as
/// they go out — those the other threads send and those of the sinks themselves. The sinks are
/// flushed just before the summary goes out, so that one failing to flush is in the summary's
/// `failures`. Returns the summary as sent, its `failures` raised by any that came after it (the
/// summary itself not written).
fn sink_loop(mut sinks: Vec<Box<dyn EventSink>>, events: mpsc::Receiver<Event>) -> Summary {
    let mut reported = vec![None; sinks.len()];
    let mut failures = 0u64;
    let mut summary = None;
    for mut event in events {
        match &mut event {
            Event::Failure(_) => failures += 1,
            Event::Summary(s) => {
                failures += flush_all(&mut sinks);
                s.failures = failures;
                summary = Some(s.clone());
            }
            _ => {}
        }
        failures += deliver(&mut sinks, &mut reported, &event);
    }
    let mut summary = match summary {
        Some(s) => s,
        None => {
            failures += flush_all(&mut sinks);
            Summary::default()
        }
    };
    summary.failures = failures;
    summary
}

/// Flushes every sink; each that fails is reported ([`report_sink_failure`]). Returns how many failed.
fn flush_all(sinks: &mut [Box<dyn EventSink>]) -> u64 {
    let mut failed = 0;
    for i in 0..sinks.len() {
        if let Err(e) = sinks[i].flush() {
            report_sink_failure(sinks, i, "", &e);
            failed += 1;
        }
    }
    failed
}

/// What a Whisper thread hands the judge: the batch, what was heard, and the encoder context used
/// (the least seconds).
type Heard<'a> = (schedule::Batch<'a>, Result<Vec<Transcript>, String>, f64);

/// Runs until the replay ends or `stop` is set; returns the run's totals (also sent as the last
/// event). Fails only when Whisper cannot start.
pub fn run(live: Live<'_>) -> Result<Summary, crate::asr::AsrError> {
    let Live {
        transcriber,
        matcher,
        config,
        sources,
        sinks,
        stop,
        voices,
        recheck,
    } = live;
    let lc = &config.live;
    let windows = windows(&sources, config);
    let run_id = chrono::Local::now().format("%Y%m%dT%H%M%S").to_string();
    // Set when a shutdown's drain runs out: cuts the Whisper calls in flight short.
    let abort = Arc::new(AtomicBool::new(false));
    let (calls, threads) = config.calls();
    let mut workers = (0..calls)
        .map(|_| {
            Ok(transcriber
                .worker()?
                .with_threads(threads)
                .abort_when(Arc::clone(&abort)))
        })
        .collect::<Result<Vec<_>, crate::asr::AsrError>>()?;

    let scheduler = Scheduler::new(
        windows.len(),
        Policy {
            pack_seconds: lc.pack_seconds,
            max_queue_seconds: lc.max_queue_seconds,
        },
    );
    // What this box can serve: one utterance's call on every worker at once, as when the box is
    // busy (after one each to warm up), timed twice.
    let assumptions = capacity::Assumptions {
        latency_target: lc.latency_target_seconds,
        speech_share: lc.speech_share,
        utterance_seconds: lc.utterance_seconds,
        trailing_silence: config.vad.trailing_silence,
    };
    let workers_n = calls;
    let capacity = {
        let clip = capacity::priced_utterance(&crate::asr::builtin_clip()?, lc.utterance_seconds);
        let together = std::sync::Barrier::new(workers.len());
        let timed = std::thread::scope(|s| {
            let each: Vec<_> = workers
                .iter_mut()
                .map(|worker| {
                    let (clip, together) = (&clip, &together);
                    s.spawn(move || -> Result<Vec<f64>, crate::asr::AsrError> {
                        let warm = worker.transcribe_packed_with(&[clip], lc.encoder_seconds);
                        together.wait();
                        warm?;
                        let mut took = Vec::new();
                        for _ in 0..2 {
                            together.wait();
                            let started = Instant::now();
                            worker.transcribe_packed_with(&[clip], lc.encoder_seconds)?;
                            took.push(started.elapsed().as_secs_f64());
                        }
                        Ok(took)
                    })
                })
                .collect();
            each.into_iter()
                .map(|h| h.join().expect("a timing call panicked"))
                .collect::<Result<Vec<Vec<f64>>, _>>()
        })?;
        let timed: Vec<f64> = timed.into_iter().flatten().collect();
        let call_seconds = timed.iter().sum::<f64>() / timed.len().max(1) as f64;
        capacity::estimate(
            call_seconds,
            call_seconds,
            calls,
            windows.len(),
            assumptions,
        )
    };
    // Said again on the run's own figures once they give another number of windows for a minute.
    let measure = Mutex::new(capacity::Measure::new(
        Instant::now(),
        capacity.windows_supported,
    ));
    let (event_tx, event_rx) = mpsc::channel::<Event>();
    let _ = event_tx.send(Event::Capacity(capacity));
    // Whether the box is behind (more than `busy_backlog_seconds` of speech waiting); each
    // change is a `load` event.
    let behind = AtomicBool::new(false);
    let (heard_tx, heard_rx) = mpsc::channel::<Heard>();
    let audio_ms = AtomicU64::new(0);
    let speech_ms = AtomicU64::new(0);
    let overrun_frames = AtomicU64::new(0);
    let dropped = AtomicU64::new(0);
    let calls = AtomicU64::new(0);
    let busy_calls = AtomicU64::new(0);
    let mut judge = Judge::new(
        matcher.clone(),
        windows.clone(),
        JudgeConfig {
            clip_dir: lc.clips.clone(),
            keep_all_clips: lc.keep_all_clips,
            debounce: duration(lc.debounce_seconds),
            score_seconds: lc.score_minutes.max(0.0) * 60.0,
            weights: config.score.clone(),
            run_id,
            attributor: crate::speaker::Attributor::for_run(config),
            voices,
        },
    );

    let summary = std::thread::scope(|s| {
        // Sink thread: the only place events leave the program (and where failures are counted).
        let sink_thread = s.spawn(move || sink_loop(sinks, event_rx));

        // Whisper threads.
        let worker_threads: Vec<_> = workers
            .into_iter()
            .map(|mut worker| {
                let tx = heard_tx.clone();
                let events = event_tx.clone();
                let (scheduler, calls, busy_calls, speech_ms, abort, behind, measure) = (
                    &scheduler,
                    &calls,
                    &busy_calls,
                    &speech_ms,
                    &abort,
                    &behind,
                    &measure,
                );
                let n_windows = windows.len();
                // Returns the utterances of a call cut short by the drain's end.
                s.spawn(move || {
                    let mut cut = Vec::new();
                    while let Some(batch) = scheduler.pop_batch() {
                        let segments: Vec<&crate::vad::SpeechSegment> =
                            batch.jobs.iter().map(|j| &j.segment).collect();
                        let backlog = scheduler.backlog_seconds();
                        let busy = backlog > lc.busy_backlog_seconds;
                        if !batch.again && behind.swap(busy, Ordering::SeqCst) != busy {
                            let _ = events.send(Event::Load(Load {
                                time: now_rfc3339(),
                                level: if busy { "behind" } else { "normal" }.into(),
                                backlog_seconds: backlog,
                            }));
                        }
                        let min = if batch.again {
                            lc.recheck_encoder_seconds
                        } else if busy {
                            busy_calls.fetch_add(1, Ordering::Relaxed);
                            lc.busy_encoder_seconds
                        } else {
                            lc.encoder_seconds
                        };
                        let started = Instant::now();
                        let heard = worker
                            .transcribe_packed_with(&segments, min)
                            .map_err(|e| e.to_string());
                        calls.fetch_add(1, Ordering::Relaxed);
                        {
                            let first = !batch.again && heard.is_ok();
                            let speech: f64 = segments.iter().map(|s| s.duration()).sum();
                            let now = Instant::now();
                            let mut m = measure.lock().unwrap_or_else(|e| e.into_inner());
                            m.call(
                                now,
                                now.duration_since(started).as_secs_f64(),
                                if first { segments.len() } else { 0 },
                                if first { speech } else { 0.0 },
                            );
                            if let Some(c) = m.changed(now, workers_n, n_windows, assumptions) {
                                let _ = events.send(Event::Capacity(c));
                            }
                        }
                        if batch.again {
                            // Heard once already: a failed or cut second hearing loses nothing.
                            if heard.is_ok() && tx.send((batch, heard, min)).is_err() {
                                break;
                            }
                            continue;
                        }
                        if heard.is_err() && abort.load(Ordering::SeqCst) {
                            // Not a failure: the shutdown's report counts them.
                            cut.extend(batch.jobs.iter().cloned());
                            continue;
                        }
                        if heard.is_ok() {
                            let seconds: f64 = segments.iter().map(|s| s.duration()).sum();
                            speech_ms.fetch_add((seconds * 1000.0) as u64, Ordering::Relaxed);
                        }
                        if tx.send((batch, heard, min)).is_err() {
                            break;
                        }
                    }
                    cut
                })
            })
            .collect();
        drop(heard_tx);

        // Judge thread.
        let judge_events = event_tx.clone();
        let ids: Vec<String> = windows.iter().map(|w| w.id.clone()).collect();
        let (queue, recheck) = (&scheduler, &recheck);
        let judge_thread = s.spawn(move || {
            for (batch, heard, context) in heard_rx {
                let jobs = &batch.jobs;
                match heard {
                    Ok(transcripts) if batch.again => {
                        for (job, t) in jobs.iter().zip(&transcripts) {
                            for e in judge.judge_again(job, t) {
                                let _ = judge_events.send(e);
                            }
                        }
                    }
                    Ok(transcripts) => {
                        for (job, t) in jobs.iter().zip(&transcripts) {
                            for e in judge.judge(job, t) {
                                let _ = judge_events.send(e);
                            }
                            // Nearly a banned phrase, heard with less context than a second
                            // hearing would have, from someone who counts: hear it again when
                            // the box is idle.
                            let more = lc.recheck_encoder_seconds;
                            if lc.fit_encoder
                                && more > context
                                && judge.counts(job)
                                && recheck.nearly(&t.text).is_some()
                            {
                                queue.push_again(job.clone());
                            }
                        }
                    }
                    // What those utterances said is lost: say so for each of their windows.
                    Err(e) => {
                        for job in jobs {
                            let _ = judge_events.send(Event::Failure(Failure {
                                window: ids[job.window].clone(),
                                time: now_rfc3339(),
                                what: "whisper".into(),
                                file: None,
                                error: format!(
                                    "utterance {} ({:.1} s) not transcribed: {e}",
                                    job.seq,
                                    job.segment.duration()
                                ),
                            }));
                        }
                    }
                }
            }
            judge
        });

        // Source threads; this thread waits for them (the end of a replay, or Ctrl-C).
        let ctx = SourceCtx {
            scheduler: &scheduler,
            events: event_tx.clone(),
            vad: config.vad.clone(),
            stop: &stop,
            audio_ms: &audio_ms,
            overrun_frames: &overrun_frames,
            dropped: &dropped,
            windows: &windows,
            origin: Instant::now(),
            wall_origin: chrono::Local::now(),
            stall: duration(lc.stall_seconds.max(0.1)),
        };
        let source_threads = spawn_sources(s, &sources, ctx);
        for t in source_threads {
            let _ = t.join();
        }
        scheduler.close();
        // The end of a replay waits for everything; a stop waits at most `drain_seconds`.
        let stopped = stop.load(Ordering::SeqCst).then(Instant::now);
        let mut left = Vec::new();
        if let Some(since) = stopped {
            let deadline = since + duration(lc.drain_seconds);
            while Instant::now() < deadline && !worker_threads.iter().all(|t| t.is_finished()) {
                std::thread::sleep(Duration::from_millis(20));
            }
            left = scheduler.abandon();
            abort.store(true, Ordering::SeqCst);
        }
        for t in worker_threads {
            left.extend(t.join().unwrap_or_default());
        }
        let shutdown = stopped.map(|since| shutdown_report(&windows, &left, lc, since));
        if let Some(report) = &shutdown {
            let _ = event_tx.send(Event::Shutdown(report.clone()));
        }
        let judge = judge_thread.join().expect("judge thread");
        let q = |v: &[f64], p| judge::quantile(v, p);
        let summary = Summary {
            time: now_rfc3339(),
            windows: windows.len(),
            audio_seconds: audio_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            speech_seconds: speech_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            untranscribed_utterances: shutdown.as_ref().map_or(0, |d| d.utterances),
            untranscribed_seconds: shutdown.as_ref().map_or(0.0, |d| d.seconds),
            utterances: judge.utterances,
            alerts: judge.alerts,
            overrun_frames: overrun_frames.load(Ordering::Relaxed),
            dropped_utterances: dropped.load(Ordering::Relaxed),
            // Counted by the sink thread, as the failures go out.
            failures: 0,
            latency_p50: q(&judge.alert_latencies, 0.5),
            latency_p95: q(&judge.alert_latencies, 0.95),
            transcript_latency_p50: q(&judge.utterance_latencies, 0.5),
            transcript_latency_p95: q(&judge.utterance_latencies, 0.95),
            whisper_calls: calls.load(Ordering::Relaxed),
            busy_calls: busy_calls.load(Ordering::Relaxed),
            rechecked_utterances: judge.rechecked,
        };
        let _ = event_tx.send(Event::Summary(summary));
        drop(event_tx);
        sink_thread.join().expect("sink thread")
    });
    Ok(summary)
}

/// What a stop's drain left untranscribed (`left`: the utterances still queued and those whose
/// call was cut short), per window.
fn shutdown_report(
    windows: &[WindowInfo],
    left: &[Job],
    lc: &LiveConfig,
    since: Instant,
) -> Shutdown {
    let mut per: Vec<Untranscribed> = windows
        .iter()
        .map(|w| Untranscribed {
            window: w.id.clone(),
            ..Untranscribed::default()
        })
        .collect();
    for job in left {
        if let Some(w) = per.get_mut(job.window) {
            w.utterances += 1;
            w.seconds += job.seconds();
        }
    }
    per.retain(|w| w.utterances > 0);
    Shutdown {
        time: now_rfc3339(),
        drain_seconds: lc.drain_seconds,
        drained_seconds: since.elapsed().as_secs_f64(),
        utterances: left.len() as u64,
        seconds: left.iter().map(Job::seconds).sum(),
        windows: per,
    }
}

/// Seconds as a [`Duration`], saturating instead of panicking: [`LiveConfig::validate`] keeps
/// these in range, and a caller that skipped it must not bring the live threads down.
fn duration(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX)
}

/// The run's windows, in the order their indexes refer to, with their labels from the config.
pub fn windows(sources: &Sources, config: &Config) -> Vec<WindowInfo> {
    let label_of = |id: &str| {
        config
            .window
            .iter()
            .find(|w| w.id == id)
            .and_then(|w| w.label.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let ids: Vec<String> = match sources {
        Sources::Devices(ws) => ws.iter().map(|w| w.id.clone()).collect(),
        Sources::Replay { windows, .. } => windows.iter().map(|(id, _)| id.clone()).collect(),
    };
    ids.into_iter()
        .map(|id| WindowInfo {
            label: label_of(&id),
            id,
        })
        .collect()
}

/// What every source thread shares (each gets a clone).
#[derive(Clone)]
struct SourceCtx<'a> {
    scheduler: &'a Scheduler,
    events: mpsc::Sender<Event>,
    vad: crate::vad::VadConfig,
    stop: &'a AtomicBool,
    audio_ms: &'a AtomicU64,
    overrun_frames: &'a AtomicU64,
    dropped: &'a AtomicU64,
    windows: &'a [WindowInfo],
    origin: Instant,
    wall_origin: chrono::DateTime<chrono::Local>,
    stall: Duration,
}

impl SourceCtx<'_> {
    /// Tells every sink that window `w` is (or is no longer) heard.
    fn status(&self, w: usize, online: bool, detail: &str) {
        let _ = self.events.send(Event::Window(WindowStatus {
            window: self.windows[w].id.clone(),
            label: self.windows[w].label.clone(),
            time: now_rfc3339(),
            online,
            detail: detail.to_string(),
        }));
    }

    /// Reports what could not be heard at window `w` (a file that failed) to every sink.
    fn failure(&self, w: usize, file: Option<PathBuf>, error: String) {
        let _ = self.events.send(Event::Failure(Failure {
            window: self.windows[w].id.clone(),
            time: now_rfc3339(),
            what: "replay".into(),
            file,
            error,
        }));
    }

    /// Queues an utterance and reports what the scheduler had to drop.
    fn submit(&self, job: Job) {
        for lost in self.scheduler.push(job) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            let _ = self.events.send(Event::Dropped(Dropped {
                window: self.windows[lost.window].id.clone(),
                time: now_rfc3339(),
                seconds: lost.seconds(),
                reason: format!(
                    "more than {} s of speech waiting for Whisper — the box is overloaded; fewer windows per box or a faster machine",
                    self.scheduler.policy().max_queue_seconds
                ),
            }));
        }
    }
}

/// Starts the source threads; each owns a clone of `ctx`, so the event channel closes when the
/// last one ends.
fn spawn_sources<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    sources: &'env Sources,
    ctx: SourceCtx<'env>,
) -> Vec<std::thread::ScopedJoinHandle<'scope, ()>> {
    match sources {
        Sources::Replay {
            windows,
            speed,
            looping,
        } => windows
            .iter()
            .enumerate()
            .map(|(w, (_, files))| {
                let (speed, looping, ctx) = (*speed, *looping, ctx.clone());
                s.spawn(move || replay_window(&ctx, w, files.clone(), speed, looping))
            })
            .collect(),
        Sources::Devices(windows) => devices(windows)
            .into_iter()
            .map(|(spec, members)| {
                let ctx = ctx.clone();
                s.spawn(move || capture_device(&ctx, &spec, &members))
            })
            .collect(),
    }
}

/// The capture specs of the configured windows, one per device (for a startup check).
pub fn device_specs(windows: &[WindowConfig]) -> Vec<DeviceSpec> {
    devices(windows).into_iter().map(|(spec, _)| spec).collect()
}

/// Windows grouped by device: each device's spec (its channels, from 0) and the indexes of the
/// windows those channels serve, in the same order. One device thread serves them all.
fn devices(windows: &[WindowConfig]) -> Vec<(DeviceSpec, Vec<usize>)> {
    let mut devices: Vec<(DeviceSpec, Vec<usize>)> = Vec::new();
    for (w, win) in windows.iter().enumerate() {
        let channel = win.channel.saturating_sub(1);
        match devices
            .iter_mut()
            .find(|(spec, _)| spec.device == win.device)
        {
            Some((spec, members)) => {
                spec.channels.push(channel);
                members.push(w);
            }
            None => devices.push((
                DeviceSpec {
                    device: win.device.clone(),
                    channels: vec![channel],
                },
                vec![w],
            )),
        }
    }
    devices
}

/// A capture device's thread: its frames go to one listener per window it serves; its faults
/// mark exactly those windows offline.
fn capture_device(ctx: &SourceCtx<'_>, spec: &DeviceSpec, members: &[usize]) {
    let options = CaptureOptions {
        stall: ctx.stall,
        ..CaptureOptions::default()
    };
    let mut listeners: Vec<Listener> = members
        .iter()
        .map(|&w| Listener::new(w, ctx.vad.clone(), ctx.wall_origin))
        .collect();
    let status = |online: bool, detail: &str| {
        for &w in members {
            ctx.status(w, online, detail);
        }
    };
    let mut lost_total = 0u64;
    run_device(spec, &options, ctx.stop, &mut |event| match event {
        CaptureEvent::Frames(frames) => {
            let now = Instant::now();
            for (listener, frame) in listeners.iter_mut().zip(&frames) {
                ctx.audio_ms
                    .fetch_add((frame.duration() * 1000.0) as u64, Ordering::Relaxed);
                for job in listener.push(frame, now) {
                    ctx.submit(job);
                }
            }
        }
        CaptureEvent::Online { detail } => status(true, &detail),
        CaptureEvent::Offline { reason } => {
            // What was heard before the fault is still judged.
            for listener in &mut listeners {
                if let Some(job) = listener.finish() {
                    ctx.submit(job);
                }
            }
            status(false, &reason);
        }
        CaptureEvent::Overrun { frames, xruns } => {
            lost_total += frames;
            ctx.overrun_frames.fetch_add(frames, Ordering::Relaxed);
            let _ = ctx.events.send(Event::Overrun(Overrun {
                device: spec.device.clone(),
                windows: members.iter().map(|&w| ctx.windows[w].id.clone()).collect(),
                time: now_rfc3339(),
                frames,
                total: lost_total,
                xruns,
            }));
        }
    });
    for listener in &mut listeners {
        if let Some(job) = listener.finish() {
            ctx.submit(job);
        }
    }
}

/// A replayed window's thread.
fn replay_window(ctx: &SourceCtx<'_>, w: usize, files: Vec<PathBuf>, speed: f64, looping: bool) {
    ctx.status(w, true, &format!("replaying {} file(s)", files.len()));
    let mut listener = Listener::new(w, ctx.vad.clone(), ctx.wall_origin);
    let mut replay = crate::audio::replay::Replay::new(files, ctx.origin, speed).looping(looping);
    while let Some(item) = replay.next() {
        if ctx.stop.load(Ordering::Relaxed) {
            break;
        }
        match item {
            Ok(frame) => {
                ctx.audio_ms
                    .fetch_add((frame.duration() * 1000.0) as u64, Ordering::Relaxed);
                for job in listener.push(&frame, Instant::now()) {
                    ctx.submit(job);
                }
            }
            // The other files of the window still play.
            Err(e) => ctx.failure(w, replay.file().map(PathBuf::from), e.to_string()),
        }
    }
    if let Some(job) = listener.finish() {
        ctx.submit(job);
    }
    ctx.status(w, false, "replay ended");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A sink that fails while `down` is set, keeping what it took.
    struct Flaky {
        down: Arc<AtomicBool>,
        took: Arc<Mutex<Vec<Event>>>,
    }

    impl EventSink for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        /// Like the webhook, it takes (ignores) every event but `dropped` even while down.
        fn send(&mut self, event: &Event) -> std::io::Result<()> {
            if self.down.load(Ordering::SeqCst) && matches!(event, Event::Dropped(_)) {
                return Err(std::io::Error::other("no answer"));
            }
            self.took.lock().unwrap().push(event.clone());
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn dropped(window: &str) -> Event {
        Event::Dropped(Dropped {
            window: window.into(),
            time: now_rfc3339(),
            seconds: 1.0,
            reason: "test".into(),
        })
    }

    #[test]
    fn a_failing_sink_becomes_one_failure_event_per_outage_for_the_others() {
        let (down, up) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (bad_took, good_took) = (Arc::default(), Arc::<Mutex<Vec<Event>>>::default());
        let mut sinks: Vec<Box<dyn EventSink>> = vec![
            Box::new(Flaky {
                down: down.clone(),
                took: bad_took,
            }),
            Box::new(Flaky {
                down: up,
                took: good_took.clone(),
            }),
        ];
        let mut reported = vec![None; 2];
        down.store(true, Ordering::SeqCst);
        for _ in 0..3 {
            deliver(&mut sinks, &mut reported, &dropped("w07"));
            // Taken while down: not the end of the outage.
            deliver(
                &mut sinks,
                &mut reported,
                &Event::Summary(Summary::default()),
            );
        }
        down.store(false, Ordering::SeqCst);
        deliver(&mut sinks, &mut reported, &dropped("w07"));
        down.store(true, Ordering::SeqCst);
        deliver(&mut sinks, &mut reported, &dropped("w08"));
        let failures: Vec<Failure> = good_took
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::Failure(f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(failures.len(), 2, "one per outage: {failures:?}");
        assert_eq!(failures[0].window, "w07");
        assert_eq!(failures[0].error, "flaky: no answer");
        assert_eq!(failures[1].window, "w08");
        assert_eq!(good_took.lock().unwrap().len(), 5 + 3 + 2);
    }

    /// A sink that cannot be flushed (a buffered file on a full disk).
    struct Unflushable;

    impl EventSink for Unflushable {
        fn name(&self) -> &str {
            "unflushable"
        }
        fn send(&mut self, _: &Event) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
        }
    }

    /// Issue 11: a sink's failure (the alert log, JSON lines, the outbox) was an event but not
    /// counted, so the summary said 0 failures and the run exited 0. Now every `failure` event
    /// that goes out is counted — the other threads' and the sinks' own, flushing included — in
    /// the summary as sent and as returned.
    #[test]
    fn issue_11_every_failure_that_goes_out_is_counted_in_the_summary() {
        let down = Arc::new(AtomicBool::new(true));
        let took = Arc::<Mutex<Vec<Event>>>::default();
        let sinks: Vec<Box<dyn EventSink>> = vec![
            Box::new(Flaky {
                down: down.clone(),
                took: Arc::default(),
            }),
            Box::new(Unflushable),
            Box::new(Flaky {
                down: Arc::new(AtomicBool::new(false)),
                took: took.clone(),
            }),
        ];
        let (tx, rx) = mpsc::channel();
        // One failure from a source, one outage of the first sink (reported once).
        tx.send(Event::Failure(Failure {
            window: "w07".into(),
            time: now_rfc3339(),
            what: "replay".into(),
            file: None,
            error: "broken".into(),
        }))
        .unwrap();
        tx.send(dropped("w07")).unwrap();
        tx.send(dropped("w07")).unwrap();
        tx.send(Event::Summary(Summary::default())).unwrap();
        drop(tx);
        let summary = sink_loop(sinks, rx);
        assert_eq!(summary.failures, 3, "{summary:?}");
        let took = took.lock().unwrap();
        let Some(Event::Summary(sent)) = took.last() else {
            panic!("{took:?}")
        };
        assert_eq!(sent.failures, 3);
        let whats: Vec<&str> = took
            .iter()
            .filter_map(|e| match e {
                Event::Failure(f) => Some(f.what.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(whats, ["replay", "flaky", "unflushable"]);
    }
}
