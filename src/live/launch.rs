//! Wiring a live run from its configuration: the sources, the model, every sink and the page.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::asr::Transcriber;
use crate::config::Config;
use crate::error::Error;
use crate::matcher::Matcher;
use crate::sink::{EventSink, JsonLines, Terminal, Webhook, WebhookOptions};

use super::{Live, Sources, Summary};

/// A live run as the command line describes it.
pub struct Launch {
    pub config: Config,
    /// Replay this folder's recordings in real time instead of capturing the `[[window]]`s.
    pub replay: Option<PathBuf>,
    /// Replay speed (1 = real time).
    pub speed: f64,
    /// Replay each window's files again and again until `stop` (soak tests).
    pub looping: bool,
    /// Every event as JSON lines on stdout (else readable lines for people).
    pub jsonl: bool,
    /// With readable lines: every utterance and score change too.
    pub verbose: bool,
    /// Set to finish what was heard and stop.
    pub stop: Arc<AtomicBool>,
}

/// Builds the sources and sinks (terminal or JSON lines, the alert log, the webhook's outbox, the
/// record, the desk with its live view) and runs until the replay ends or `stop` is set.
pub fn launch(l: Launch) -> Result<Summary, Error> {
    let config = &l.config;
    // Checked again here: the command line may have changed the file's values (`--pack`), and
    // a library caller may not have checked at all.
    config.validate().map_err(Error::Input)?;
    // Before the model loads: a typo in the address should not cost that wait.
    let http = match &config.live.http {
        Some(addr) => {
            let resolved = crate::serve::resolve(addr).map_err(Error::Input)?;
            // The page is the desk's live view, behind its logins: those live in the record.
            if config.live.db.is_none() {
                return Err(Error::Input(format!(
                    "--http {addr}: the live view is part of the desk and open only to its users, \
                     who are kept in the record — add --db URL (or [live] db), and a supervisor \
                     with `courtesy user add NAME --role supervisor --db URL`"
                )));
            }
            Some(resolved)
        }
        None => None,
    };
    let sources = match &l.replay {
        Some(dir) => Sources::Replay {
            looping: l.looping,
            speed: crate::audio::replay::check_speed(l.speed).map_err(Error::Input)?,
            windows: crate::audio::replay::replay_windows(dir).map_err(Error::Input)?,
        },
        None if config.window.is_empty() => {
            return Err(Error::Input(
                "no windows to listen to — give --config with one [[window]] per window (see README), or --replay DIR".into(),
            ))
        }
        None => {
            // A device missing now is retried while the run goes on (its windows show offline);
            // say so at once, in one line, so a typo is not mistaken for an unplugged cable.
            for spec in super::device_specs(&config.window) {
                if let Err(e) = crate::audio::capture::check(&spec) {
                    eprintln!("warning: {e} — its windows stay offline until it works");
                }
            }
            Sources::Devices(config.window.clone())
        }
    };
    let lexicon = config.lexicon()?;
    let matcher = Matcher::with_config(&lexicon, config.matcher);
    let recheck = crate::matcher::nearly::Recheck::new(&matcher);
    let transcriber = Transcriber::load(&config.model()?, config.asr.clone())?;

    let io = |what: &str, e: std::io::Error| Error::Input(format!("{what}: {e}"));
    let mut sinks: Vec<Box<dyn EventSink>> = Vec::new();
    sinks.push(if l.jsonl {
        Box::new(JsonLines::new(Box::new(std::io::stdout())))
    } else {
        Box::new(Terminal::new(Box::new(std::io::stdout())).verbose(l.verbose))
    });
    if let Some(path) = &config.live.log {
        sinks.push(Box::new(
            JsonLines::append(path).map_err(|e| io(&path.display().to_string(), e))?,
        ));
    }
    if let Some(url) = &config.live.webhook {
        sinks.push(Box::new(
            Webhook::start(url, &config.live.outbox, WebhookOptions::default())
                .map_err(|e| io(url, e))?,
        ));
    }
    if let Some(db) = &config.live.db {
        eprintln!(
            "alerts into the record: {}",
            crate::store::mask_password(db)
        );
        sinks.push(Box::new(crate::sink::RecordSink::start(
            db,
            &crate::batch::host(),
        )));
    }
    let desk = match (http, &config.live.db) {
        (Some(addr), Some(db)) => {
            let store = crate::store::Store::open(db).map_err(|e| Error::Input(e.to_string()))?;
            let feed = crate::serve::Feed::new(
                &super::windows(&sources, config)
                    .into_iter()
                    .map(|w| (w.id, w.label))
                    .collect::<Vec<_>>(),
            );
            let mut desk_config = config.clone();
            desk_config.desk.http = addr.to_string();
            let app = crate::desk::App::with_feed(
                desk_config,
                std::sync::Arc::new(store),
                Some(feed.clone()),
            )
            .map_err(Error::Input)?;
            let scheme = if app.tls() { "https" } else { "http" };
            let server =
                crate::desk::Server::start(app).map_err(|e| Error::Input(e.to_string()))?;
            eprintln!(
                "the desk's live view: {scheme}://{}/live (log in as a supervisor)",
                server.local_addr()
            );
            sinks.push(Box::new(feed.sink()));
            Some(server)
        }
        _ => None,
    };
    let summary = super::run(Live {
        transcriber: &transcriber,
        matcher: &matcher,
        config,
        sources,
        sinks,
        stop: l.stop,
        voices: running_voices(config),
        recheck,
    })?;
    if let Some(desk) = desk {
        desk.shutdown();
    }
    Ok(summary)
}

/// The voices one-microphone windows are judged against from the start: the voiceprints enrolled
/// in the record (`courtesy enroll`), looked up through its roster, and each window's staff voice
/// of an earlier day (what the nights' batches learnt), which tells the day's first session apart
/// when the same person is on duty again. Without a record, or when it cannot be read (one
/// warning), each window learns its staff's voice from the day's sessions.
fn running_voices(config: &Config) -> crate::speaker::running::RunningVoices {
    use crate::speaker::running::RunningVoices;
    let gap = config.score.session_gap;
    let Some(db) = &config.live.db else {
        return RunningVoices::new(Default::default(), Default::default(), gap);
    };
    let read = || -> Result<RunningVoices, String> {
        let store = crate::store::Store::open(db).map_err(|e| e.to_string())?;
        let prints = store
            .voiceprints(&crate::speaker::enroll::model_name())
            .map_err(|e| e.to_string())?;
        // The record keeps the roster's times as RFC 3339 text.
        let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
        let entries = store
            .roster()
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter_map(|e| {
                Some(crate::roster::RosterEntry {
                    from: time(&e.valid_from)?,
                    to: time(&e.valid_to)?,
                    window: e.window,
                    staff_id: e.staff_id,
                    name: e.name,
                })
            })
            .collect();
        let roster = crate::roster::Roster::from_entries(entries)?;
        let today = crate::clock::day(&chrono::Local::now().fixed_offset());
        let earlier = store
            .earlier_staff_voices(&today)
            .map_err(|e| e.to_string())?;
        Ok(RunningVoices::new(prints, roster, gap).with_earlier(earlier))
    };
    read().unwrap_or_else(|e| {
        eprintln!(
            "warning: {}: cannot read the enrolled voices ({e}) — one-microphone windows learn their staff's voice from today's sessions",
            crate::store::mask_password(db)
        );
        RunningVoices::new(Default::default(), Default::default(), gap)
    })
}
