//! The one error type of the audio stage: names the file, says what is wrong and how to fix it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::message::one_line;

/// A problem reading a recording. `Display` is one line: `file: what — fix`.
///
/// Opaque on purpose (like `std::io::Error`): match on [`AudioError::kind`].
#[derive(Debug)]
pub struct AudioError {
    path: PathBuf,
    repr: Repr,
}

/// What went wrong, for callers that react differently (e.g. keep going after `Truncated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioErrorKind {
    /// The file does not exist.
    NotFound,
    /// The file exists but could not be opened (permissions, a directory, ...).
    Open,
    /// Not a RIFF/WAVE file at all (or a 0-byte file).
    NotWav,
    /// A WAVE file whose header is broken.
    Malformed,
    /// A valid WAVE file in an encoding or layout this crate does not decode.
    Unsupported,
    /// A valid header but no audio.
    Empty,
    /// The data ends before the header says it should; the readable part was yielded first.
    Truncated,
    /// An I/O error in the middle of the data; the part before it was yielded first.
    Read,
}

#[derive(Debug)]
pub(crate) enum Repr {
    NotFound,
    Open(io::Error),
    ZeroBytes,
    NotWav {
        looks_like: Option<&'static str>,
    },
    Malformed(String),
    /// `what` is the encoding (e.g. "A-law"); the fix converts to 16-bit PCM.
    Unsupported {
        what: String,
    },
    SampleRate(u32),
    Empty {
        detail: &'static str,
    },
    Truncated {
        read_s: f64,
        declared_s: f64,
    },
    Read {
        after_s: f64,
        err: io::Error,
    },
    Resampler(String),
}

impl AudioError {
    pub(crate) fn new(path: &Path, repr: Repr) -> AudioError {
        AudioError {
            path: path.to_path_buf(),
            repr,
        }
    }

    /// The file this error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The category, for deciding whether to go on.
    pub fn kind(&self) -> AudioErrorKind {
        match self.repr {
            Repr::NotFound => AudioErrorKind::NotFound,
            Repr::Open(_) => AudioErrorKind::Open,
            Repr::ZeroBytes | Repr::NotWav { .. } => AudioErrorKind::NotWav,
            Repr::Malformed(_) => AudioErrorKind::Malformed,
            Repr::Unsupported { .. } | Repr::SampleRate(_) => AudioErrorKind::Unsupported,
            Repr::Empty { .. } => AudioErrorKind::Empty,
            Repr::Truncated { .. } => AudioErrorKind::Truncated,
            Repr::Read { .. } | Repr::Resampler(_) => AudioErrorKind::Read,
        }
    }

    /// True when the audio before the error was usable (truncated or unreadable tail).
    pub fn kept_partial_audio(&self) -> bool {
        matches!(
            self.kind(),
            AudioErrorKind::Truncated | AudioErrorKind::Read
        )
    }
}

impl fmt::Display for AudioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = one_line(&self.path.display().to_string());
        let arg = shell_arg(&self.path);
        match &self.repr {
            Repr::NotFound => write!(f, "{name}: file not found — check the path"),
            Repr::Open(e) => write!(
                f,
                "{name}: cannot open ({}) — check that it is a readable file",
                one_line(&e.to_string())
            ),
            Repr::ZeroBytes => write!(
                f,
                "{name}: empty file (0 bytes) — the recording was not saved; export it again"
            ),
            Repr::NotWav { looks_like } => {
                let why = match looks_like {
                    Some(kind) => format!("not a WAV file (looks like {kind})"),
                    None => "not a WAV file (RIFF/WAVE header missing)".to_string(),
                };
                write!(
                    f,
                    "{name}: {why} — convert it with `ffmpeg -i {arg} -ar 16000 -ac 1 out.wav`"
                )
            }
            Repr::Malformed(detail) => write!(
                f,
                "{name}: broken WAV header ({}) — rewrite it with `sox {arg} fixed.wav`",
                one_line(detail)
            ),
            Repr::Unsupported { what } => write!(
                f,
                "{name}: unsupported format ({}) — convert to PCM with `sox {arg} -e signed-integer -b 16 out.wav`",
                one_line(what)
            ),
            Repr::SampleRate(rate) => write!(
                f,
                "{name}: sample rate {rate} Hz is outside 4000–768000 Hz — resample with `sox {arg} -r 16000 out.wav`"
            ),
            Repr::Empty { detail } => write!(
                f,
                "{name}: 0 samples ({detail}) — nothing to analyse; check the recorder or export again"
            ),
            Repr::Truncated { read_s, declared_s } => write!(
                f,
                "{name}: truncated after {read_s:.1} s of the {declared_s:.1} s the header declares — only the readable part can be analysed; copy the file again if the rest matters"
            ),
            Repr::Read { after_s, err } => write!(
                f,
                "{name}: read error after {after_s:.1} s ({}) — only the part before it can be analysed; check the disk and copy the file again",
                one_line(&err.to_string())
            ),
            Repr::Resampler(detail) => write!(
                f,
                "{name}: resampling failed ({}) — convert it first with `sox {arg} -r 16000 -c 1 out.wav`",
                one_line(detail)
            ),
        }
    }
}

impl std::error::Error for AudioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::Open(e) | Repr::Read { err: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// Quotes a path for the suggested shell command when it needs it.
fn shell_arg(path: &Path) -> String {
    let s = one_line(&path.display().to_string());
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || "/._-+,:@%".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_and_names_the_file() {
        let p = Path::new("dir/we\nird name.wav");
        let errors = [
            Repr::NotFound,
            Repr::Open(io::Error::other("denied\nreally")),
            Repr::ZeroBytes,
            Repr::NotWav {
                looks_like: Some("MP3"),
            },
            Repr::NotWav { looks_like: None },
            Repr::Malformed("bad".into()),
            Repr::Unsupported {
                what: "A-law".into(),
            },
            Repr::SampleRate(1),
            Repr::Empty {
                detail: "data chunk is empty",
            },
            Repr::Truncated {
                read_s: 1.0,
                declared_s: 2.0,
            },
            Repr::Read {
                after_s: 1.0,
                err: io::Error::other("x"),
            },
            Repr::Resampler("x".into()),
        ];
        for repr in errors {
            let text = AudioError::new(p, repr).to_string();
            assert!(!text.contains('\n'), "{text}");
            assert!(text.starts_with("dir/we ird name.wav: "), "{text}");
            assert!(text.contains(" — "), "{text}");
        }
    }

    #[test]
    fn shell_arg_quotes_only_when_needed() {
        assert_eq!(shell_arg(Path::new("samples/a_1.wav")), "samples/a_1.wav");
        assert_eq!(shell_arg(Path::new("窗口 1.wav")), "'窗口 1.wav'");
        assert_eq!(shell_arg(Path::new("it's.wav")), r"'it'\''s.wav'");
    }
}
