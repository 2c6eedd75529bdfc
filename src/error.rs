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

/// Control characters (a newline in a device name or a transcript, an escape sequence) would break
/// a one-line message or drive the terminal: shows them as spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Collapses whitespace runs (newlines included) so a message built from tool output stays on one
/// line.
pub(crate) fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
