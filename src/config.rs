//! Configuration: the optional TOML file and command-line flags, validated into one [`Config`].

use std::path::{Path, PathBuf};

use crate::asr::AsrConfig;
use crate::matcher::MatchConfig;
use crate::score::ScoreWeights;
use crate::vad::VadConfig;

/// Everything a run needs to build every stage.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The ggml Whisper model; default `models/ggml-base.bin` (or `$COURTESY_MODEL`).
    pub model: Option<PathBuf>,
    /// Which installed weights to load when `model` is not given: `f16`, `q8_0`, `q5_0` or
    /// `q5_1` (`courtesy model install --quant …` writes them).
    pub weights: crate::model::Quant,
    /// A folder with `civil.toml` and `banned.toml`; default: the lexicons built into the program.
    pub lexicons: Option<PathBuf>,
    /// Whisper calls running at once (each with `asr.threads` threads).
    pub workers: Option<usize>,
    pub vad: VadConfig,
    pub asr: AsrConfig,
    pub matcher: MatchConfig,
    pub score: ScoreWeights,
    /// Who said what: whether unattributed utterances count, how two microphones are told apart.
    pub speaker: crate::speaker::SpeakerConfig,
    /// `courtesy live`: alerts, clips, the page, scheduling.
    pub live: crate::live::LiveConfig,
    /// `courtesy live`: one `[[window]]` per service window and the microphone that hears it.
    pub window: Vec<crate::live::WindowConfig>,
    /// `courtesy batch`: the record, clips, recording names and leases.
    pub batch: crate::batch::BatchConfig,
    /// `courtesy prune`: how long audio and transcripts are kept.
    pub retention: crate::batch::RetentionConfig,
    /// `courtesy serve`: where the desk listens, its certificate, how long a login lasts.
    pub desk: crate::desk::DeskConfig,
}

/// The cores this process may use (2 when that cannot be told).
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

/// Checks that the configured number `field` is finite and within `lo..=hi`; the error names
/// the field, its range and the value found, e.g. `live.stall_seconds must be a finite number
/// between 0.5 and 3600 — it is inf`.
pub fn in_range(field: &str, value: f64, lo: f64, hi: f64) -> Result<(), String> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        return Ok(());
    }
    Err(format!(
        "{field} must be a finite number between {} and {} — it is {}",
        number(lo),
        number(hi),
        number(value)
    ))
}

/// A number as a person writes it: `3600`, `0.5`, `inf`, `1e300` (not 301 digits).
fn number(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-4..1e9).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

impl Config {
    /// Reads a TOML configuration file (sections `[vad]`, `[asr]`, `[matcher]`, `[score]`).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            message: format!("cannot read it ({e}) — check the --config path"),
        })?;
        Config::parse(path, &text)
    }

    /// Parses and validates the text of a configuration file; `path` is for messages.
    ///
    /// # Example
    /// ```
    /// use courtesy::config::Config;
    /// let c = Config::parse("c.toml".as_ref(), "workers = 2\n").unwrap();
    /// let (calls, _threads) = c.calls();
    /// assert_eq!(calls, 2);
    /// let e = Config::parse("c.toml".as_ref(), "[live]\nstall_seconds = inf\n").unwrap_err();
    /// assert!(e.to_string().contains("live.stall_seconds"));
    /// ```
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start].matches('\n').count() + 1)
                .unwrap_or(0);
            ConfigError {
                path: path.to_path_buf(),
                message: format!("line {line}: {} — fix the TOML", e.message().trim()),
            }
        })?;
        config.validate().map_err(|message| ConfigError {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    /// Checks, once, what the types cannot: every number finite and in its range, window ids
    /// unique and safe. Each section that lives with its stage checks itself (`[live]`,
    /// `[[window]]`, `[batch]`); the message names the field and its allowed range.
    pub fn validate(&self) -> Result<(), String> {
        if self.asr.threads == Some(0) {
            return Err("asr.threads must be at least 1".into());
        }
        if self.workers == Some(0) {
            return Err("workers must be at least 1".into());
        }
        self.validate_vad()?;
        let asr = &self.asr;
        in_range(
            "asr.min_encoder_seconds",
            asr.min_encoder_seconds,
            0.0,
            30.0,
        )?;
        let g = &asr.guard;
        in_range("asr.guard.max_no_speech", g.max_no_speech.into(), 0.0, 1.0)?;
        in_range(
            "asr.guard.no_speech_logprob",
            g.no_speech_logprob.into(),
            -100.0,
            0.0,
        )?;
        in_range(
            "asr.guard.min_avg_logprob",
            g.min_avg_logprob.into(),
            -100.0,
            0.0,
        )?;
        in_range(
            "matcher.min_confidence",
            self.matcher.min_confidence.into(),
            0.0,
            1.0,
        )?;
        let s = &self.score;
        in_range("score.ritual", s.ritual, 0.0, 1.0)?;
        in_range("score.civil", s.civil, 0.0, 1.0)?;
        in_range(
            "score.banned_per_severity",
            s.banned_per_severity,
            0.0,
            100.0,
        )?;
        in_range("score.session_gap", s.session_gap, 0.0, 86_400.0)?;
        self.speaker.validate()?;
        self.live.validate()?;
        crate::live::validate_windows(&self.window)?;
        self.batch.validate()?;
        self.desk.validate()?;
        Ok(())
    }

    /// `[vad]`: the ranges the segmenter works in (it used to clamp silently).
    fn validate_vad(&self) -> Result<(), String> {
        let v = &self.vad;
        in_range("vad.trailing_silence", v.trailing_silence, 0.05, 10.0)?;
        in_range("vad.max_len", v.max_len, 1.0, 600.0)?;
        in_range("vad.padding", v.padding, 0.0, 2.0)?;
        in_range("vad.min_speech", v.min_speech, 0.0, 10.0)?;
        in_range("vad.onset", v.onset, 0.0, 1.0)?;
        in_range("vad.threshold", v.threshold.into(), 0.0, 1.0)?;
        in_range("vad.hold_threshold", v.hold_threshold.into(), 0.0, 1.0)?;
        in_range(
            "vad.energy_floor_dbfs",
            v.energy_floor_dbfs.into(),
            -150.0,
            0.0,
        )?;
        in_range("vad.noise_margin_db", v.noise_margin_db.into(), 0.0, 40.0)?;
        Ok(())
    }

    /// The lexicons in force: the `lexicons` folder, else the built-in ones.
    pub fn lexicon(&self) -> Result<crate::lexicon::Lexicon, crate::lexicon::LexiconError> {
        match &self.lexicons {
            Some(dir) => crate::lexicon::Lexicon::load_dir(dir),
            None => crate::lexicon::Lexicon::builtin(),
        }
    }

    /// The model to load, found as every command finds it (`--model`, `$COURTESY_MODEL`, the
    /// per-user data folder, `./models`) and checked; a missing one names every place tried.
    pub fn model(&self) -> Result<PathBuf, crate::model::ModelError> {
        let r = crate::model::resolve(self.model.as_deref(), self.weights);
        r.check()?;
        Ok(r.path)
    }

    /// The model path in force (unchecked).
    pub fn model_path(&self) -> PathBuf {
        self.model
            .clone()
            .unwrap_or_else(|| crate::model::default_model_path(self.weights))
    }

    /// Whisper calls at once and threads per call, as configured or by default: one
    /// single-threaded call per core. With OpenBLAS (the default build) a one-thread call hands
    /// the encoder's large matrix products to OpenBLAS's sgemm, and nothing spins beside it:
    /// - long-form batch: a 30 s window's decoder runs one token at a time through small matrix
    ///   products, where two threads of one call mostly wait for each other at whisper.cpp's
    ///   per-operation barriers; independent calls never wait;
    /// - one utterance per call (`live`): two threads in one call left ggml's threads spinning
    ///   while OpenBLAS's own ran (8 windows: alert p95 6.0 s); two one-thread calls, 1.6 s
    ///   (README, "Figures").
    ///
    /// Given one of the two, the other fills the cores.
    pub fn calls(&self) -> (usize, usize) {
        let n = cores();
        match (self.workers, self.asr.threads) {
            (Some(w), Some(t)) => (w, t),
            (Some(w), None) => (w, (n / w).max(1)),
            (None, Some(t)) => ((n / t).max(1), t),
            (None, None) => (n, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_file_keeps_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[score]\nbanned_per_severity = 20.0\n[asr]\nthreads = 1\n",
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.score.banned_per_severity, 20.0);
        assert_eq!(c.score.session_gap, ScoreWeights::default().session_gap);
        assert_eq!(c.asr.threads, Some(1));
    }

    /// One single-threaded call per core unless told; either number given fills the cores
    /// with the other.
    #[test]
    fn calls_and_threads_fill_the_cores() {
        let n = cores();
        let mut c = Config::default();
        assert_eq!(c.calls(), (n, 1));
        c.asr.threads = Some(2);
        assert_eq!(c.calls(), ((n / 2).max(1), 2));
        c.workers = Some(3);
        assert_eq!(c.calls(), (3, 2));
        c.asr.threads = None;
        assert_eq!(c.calls(), (3, (n / 3).max(1)));
    }

    #[test]
    fn unknown_or_bad_fields_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[score]\nritual = 0.5\nbaned_per_severity = 20.0\n").unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("c.toml") && e.contains("line 3") && e.contains("baned_per_severity"),
            "{e}"
        );
        std::fs::write(&p, "[asr]\nthreads = 0\n").unwrap();
        assert!(Config::load(&p)
            .unwrap_err()
            .to_string()
            .contains("asr.threads"));
    }
}

#[cfg(test)]
mod validation {
    use super::*;

    fn load(toml: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, toml).unwrap();
        Config::load(&p).map_err(|e| e.to_string())
    }

    /// Issue 11, defect 1: non-finite or absurd numbers passed and then panicked, hung or ranked
    /// a NaN score first. Each is refused at load with the field's name and range.
    #[test]
    fn issue_11_every_number_is_finite_and_in_range() {
        let cases = [
            ("[live]\nstall_seconds = inf\n", "live.stall_seconds"),
            ("[live]\nstall_seconds = 1e300\n", "live.stall_seconds"),
            ("[live]\nstall_seconds = nan\n", "live.stall_seconds"),
            ("[live]\ndebounce_seconds = inf\n", "live.debounce_seconds"),
            ("[live]\ndebounce_seconds = -1\n", "live.debounce_seconds"),
            ("[live]\nencoder_seconds = nan\n", "live.encoder_seconds"),
            (
                "[live]\nbusy_encoder_seconds = inf\n",
                "live.busy_encoder_seconds",
            ),
            (
                "[live]\nbusy_backlog_seconds = nan\n",
                "live.busy_backlog_seconds",
            ),
            ("[live]\npack_seconds = -inf\n", "live.pack_seconds"),
            (
                "[live]\nmax_queue_seconds = nan\n",
                "live.max_queue_seconds",
            ),
            ("[live]\nscore_minutes = inf\n", "live.score_minutes"),
            ("[score]\nritual = nan\n", "score.ritual"),
            ("[score]\ncivil = nan\n", "score.civil"),
            (
                "[score]\nbanned_per_severity = nan\n",
                "score.banned_per_severity",
            ),
            (
                "[score]\nbanned_per_severity = inf\n",
                "score.banned_per_severity",
            ),
            ("[score]\nsession_gap = nan\n", "score.session_gap"),
            ("[score]\nsession_gap = -5\n", "score.session_gap"),
            ("[vad]\ntrailing_silence = nan\n", "vad.trailing_silence"),
            ("[vad]\nmax_len = inf\n", "vad.max_len"),
            ("[vad]\npadding = -1\n", "vad.padding"),
            ("[vad]\nmin_speech = nan\n", "vad.min_speech"),
            ("[vad]\nonset = inf\n", "vad.onset"),
            ("[vad]\nthreshold = nan\n", "vad.threshold"),
            ("[vad]\nhold_threshold = 2\n", "vad.hold_threshold"),
            ("[vad]\nenergy_floor_dbfs = nan\n", "vad.energy_floor_dbfs"),
            ("[vad]\nnoise_margin_db = inf\n", "vad.noise_margin_db"),
            (
                "[asr]\nmin_encoder_seconds = nan\n",
                "asr.min_encoder_seconds",
            ),
            (
                "[asr]\nmin_encoder_seconds = 1e300\n",
                "asr.min_encoder_seconds",
            ),
            (
                "[asr.guard]\nmax_no_speech = nan\n",
                "asr.guard.max_no_speech",
            ),
            (
                "[asr.guard]\nno_speech_logprob = nan\n",
                "asr.guard.no_speech_logprob",
            ),
            (
                "[asr.guard]\nmin_avg_logprob = inf\n",
                "asr.guard.min_avg_logprob",
            ),
            (
                "[matcher]\nmin_confidence = nan\n",
                "matcher.min_confidence",
            ),
        ];
        let mut passed = Vec::new();
        for (toml, field) in cases {
            match load(toml) {
                Ok(_) => passed.push(toml.trim().replace('\n', " ")),
                Err(e) => {
                    assert!(
                        e.contains(field) && e.contains("finite number between"),
                        "{toml:?}: {e}"
                    );
                    assert_eq!(e.lines().count(), 1, "{e}");
                }
            }
        }
        assert!(passed.is_empty(), "accepted: {passed:#?}");
    }

    #[test]
    fn issue_11_the_message_names_the_field_its_range_and_the_value() {
        let e = load("[live]\nstall_seconds = inf\n").unwrap_err();
        assert!(
            e.ends_with(
                "live.stall_seconds must be a finite number between 0.5 and 3600 — it is inf"
            ),
            "{e}"
        );
    }

    /// Issue 11, defect 6: duplicate ids and ids with `../` were accepted in a live configuration.
    #[test]
    fn issue_11_window_ids_are_unique_and_safe() {
        let window = |id: &str| format!("[[window]]\nid = {id:?}\n");
        let two = format!("{}{}", window("w07"), window("w07"));
        let e = load(&two).unwrap_err();
        assert!(
            e.contains("w07") && e.contains("[[window]] 1") && e.contains("[[window]] 2"),
            "{e}"
        );
        for bad in [
            "../x", "..", ".", ".hidden", "a/b", "a\\b", "a..b", "", "w 07", "w07%2f",
        ] {
            let e = load(&window(bad)).expect_err(bad);
            assert!(
                e.contains("window.id") || e.contains("[[window]]"),
                "{bad}: {e}"
            );
        }
        let long = "w".repeat(65);
        assert!(load(&window(&long)).is_err());
        load(&format!("{}{}", window("w07"), window("七号窗口_a-1.b"))).unwrap();
    }

    #[test]
    fn defaults_and_the_documented_examples_pass() {
        Config::default().validate().unwrap();
        load("[live]\ndebounce_seconds = 0\nstall_seconds = 1.5\n").unwrap();
        load("[live]\nencoder_seconds = 20\npack_seconds = 28\n").unwrap();
        load("[score]\nbanned_per_severity = 20.0\n").unwrap();
    }
}
