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
/// record, the supervisors' page) and runs until the replay ends or `stop` is set.
pub fn launch(l: Launch) -> Result<Summary, Error> {
    let config = &l.config;
    // Checked again here: the command line may have changed the file's values (`--pack`), and
    // a library caller may not have checked at all.
    config.validate().map_err(Error::Input)?;
    // Before the model loads: a typo in the address should not cost that wait.
    let http = match &config.live.http {
        Some(addr) => Some(crate::serve::resolve(addr).map_err(Error::Input)?),
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
    let matcher = Matcher::with_config(&config.lexicon()?, config.matcher);
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
    let server = match http {
        Some(addr) => {
            let server = crate::serve::Server::start(crate::serve::ServeConfig {
                addr,
                clip_dir: config.live.clips.clone(),
                windows: super::windows(&sources, config)
                    .into_iter()
                    .map(|w| (w.id, w.label))
                    .collect(),
            })
            .map_err(|e| Error::Input(e.to_string()))?;
            eprintln!("supervisors' page: http://{}/alerts", server.local_addr());
            sinks.push(Box::new(server.sink()));
            Some(server)
        }
        None => None,
    };
    let summary = super::run(Live {
        transcriber: &transcriber,
        matcher: &matcher,
        config,
        sources,
        sinks,
        stop: l.stop,
    })?;
    if let Some(server) = server {
        server.shutdown();
    }
    Ok(summary)
}
