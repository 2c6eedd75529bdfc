//! The errors a run can end with, each one line that names the thing and the fix.

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Lexicon(#[from] crate::lexicon::LexiconError),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Asr(#[from] crate::asr::AsrError),
    #[error("{0}")]
    Model(#[from] crate::model::ModelError),
    #[error("{0}")]
    Input(String),
}
