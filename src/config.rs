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
    /// A folder with `civil.toml` and `banned.toml`; default: the lexicons built into the program.
    pub lexicons: Option<PathBuf>,
    /// Whisper calls running at once (each with `asr.threads` threads).
    pub workers: Option<usize>,
    pub vad: VadConfig,
    pub asr: AsrConfig,
    pub matcher: MatchConfig,
    pub score: ScoreWeights,
    /// `courtesy live`: alerts, clips, the page, scheduling.
    pub live: crate::live::LiveConfig,
    /// `courtesy live`: one `[[window]]` per service window and the microphone that hears it.
    pub window: Vec<crate::live::WindowConfig>,
    /// `courtesy batch`: the record, clips, recording names and leases.
    pub batch: crate::batch::BatchConfig,
    /// `courtesy prune`: how long audio and transcripts are kept.
    pub retention: crate::batch::RetentionConfig,
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl Config {
    /// Reads a TOML configuration file (sections `[vad]`, `[asr]`, `[matcher]`, `[score]`).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            message: format!("cannot read it ({e}) — check the --config path"),
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| {
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

    /// Checks ranges that the types cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.asr.threads == 0 {
            return Err("asr.threads must be at least 1".into());
        }
        if self.workers == Some(0) {
            return Err("workers must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.matcher.min_confidence) {
            return Err("matcher.min_confidence must be between 0 and 1".into());
        }
        if self.score.ritual < 0.0 || self.score.civil < 0.0 || self.score.banned_per_severity < 0.0
        {
            return Err("score weights must not be negative".into());
        }
        self.batch.validate()?;
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
        let r = crate::model::resolve(self.model.as_deref());
        r.check()?;
        Ok(r.path)
    }

    /// The model path in force (unchecked).
    pub fn model_path(&self) -> PathBuf {
        self.model
            .clone()
            .unwrap_or_else(crate::model::default_model_path)
    }

    /// The number of Whisper workers: by default one call at a time using every core, which is
    /// fastest on small machines (whisper.cpp scales well across threads).
    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or(1)
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
        assert_eq!(c.asr.threads, 1);
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
