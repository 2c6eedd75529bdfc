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
    /// Samples that were not numbers, when the file also ended with another error.
    also: Option<NonFinite>,
}

/// Samples of a file that were NaN or infinite (silenced before the speech detector).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct NonFinite {
    /// Mono samples (at the stored rate) that were NaN or infinite.
    pub count: u64,
    /// Mono samples decoded in all.
    pub total: u64,
    /// Seconds into the file of the first one.
    pub first_s: f64,
}

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let share = 100.0 * self.count as f64 / self.total.max(1) as f64;
        let share = if self.count == self.total {
            "all".to_string()
        } else if share < 0.1 {
            "under 0.1 %".to_string()
        } else {
            format!("{share:.1} %")
        };
        write!(
            f,
            "{} of {} samples ({share}) are not numbers (NaN or infinite), the first at {:.1} s; they were analysed as silence",
            self.count, self.total, self.first_s
        )
    }
}

/// What went wrong, for callers that react differently (e.g. keep going after `Truncated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioErrorKind {
    /// The file does not exist.
    NotFound,
    /// The file exists but could not be opened (permissions, a directory, ...).
    Open,
    /// Not a RIFF/WAVE file at all (from [`WavSource`](super::WavSource)), or a 0-byte file of
    /// any format.
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
    /// Damaged compressed audio: packets that would not decode (replaced by silence) or a stream
    /// that stops decoding part-way; the readable part was yielded first.
    Corrupt,
    /// A video file (MP4/MKV with a picture track, AVI, FLV, MPEG): extract its audio first.
    Video,
    /// Not audio at all: a text file, or content no reader recognises.
    NotAudio,
    /// An evidence clip could not be written (folder, disk, encoder).
    Write,
    /// Float samples that are NaN or infinite (a broken recorder or converter): analysed as
    /// silence and reported once per file, after the readable part.
    NonFinite,
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
    /// AMR speech (`#!AMR` magic): common on phones and cheap recorders, not decoded here.
    Amr,
    /// A video container; `container` names it (e.g. "MP4").
    Video {
        container: &'static str,
    },
    /// Text (`what` = "text") or unrecognised content (`what` = None).
    NotAudio {
        what: Option<&'static str>,
    },
    /// A known container holding audio in a codec that is not decoded here.
    Codec {
        container: &'static str,
        codec: String,
    },
    /// A compressed file whose headers the reader refuses.
    BrokenFile {
        format: &'static str,
        detail: String,
    },
    /// `damaged` packets left out (as silence of their length when the decoder refused them; lost
    /// when the demuxer had to skip garbage to find the next one), the first at `first_s`;
    /// `stopped` when decoding had to give up there (too many in a row, a stream change).
    Corrupt {
        format: &'static str,
        damaged: u64,
        first_s: f64,
        stopped: Option<String>,
    },
    /// Writing a clip failed.
    Write {
        err: io::Error,
    },
    /// The Opus encoder refused (never expected with our fixed settings).
    Encode(String),
    /// Samples that were not numbers; the rest of the file was fine.
    NonFinite(NonFinite),
}

impl AudioError {
    pub(crate) fn new(path: &Path, repr: Repr) -> AudioError {
        AudioError {
            path: path.to_path_buf(),
            repr,
            also: None,
        }
    }

    /// Adds the count of samples that were not numbers to an error the file ended with.
    pub(crate) fn with_non_finite(mut self, nf: NonFinite) -> AudioError {
        match &mut self.repr {
            Repr::NonFinite(own) => own.count += nf.count,
            _ => self.also = Some(nf),
        }
        self
    }

    /// How many samples of the file were NaN or infinite (and analysed as silence), if any.
    pub fn non_finite_samples(&self) -> Option<u64> {
        match &self.repr {
            Repr::NonFinite(nf) => Some(nf.count),
            _ => self.also.map(|nf| nf.count),
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
            Repr::Amr | Repr::Codec { .. } => AudioErrorKind::Unsupported,
            Repr::Video { .. } => AudioErrorKind::Video,
            Repr::NotAudio { .. } => AudioErrorKind::NotAudio,
            Repr::BrokenFile { .. } => AudioErrorKind::Malformed,
            Repr::Corrupt { .. } => AudioErrorKind::Corrupt,
            Repr::Write { .. } | Repr::Encode(_) => AudioErrorKind::Write,
            Repr::NonFinite(_) => AudioErrorKind::NonFinite,
        }
    }

    /// True when the audio before the error was usable (truncated or unreadable tail).
    pub fn kept_partial_audio(&self) -> bool {
        matches!(
            self.kind(),
            AudioErrorKind::Truncated
                | AudioErrorKind::Read
                | AudioErrorKind::Corrupt
                | AudioErrorKind::NonFinite
        )
    }
}

impl fmt::Display for AudioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = one_line(&self.path.display().to_string());
        let arg = shell_arg(&self.path);
        // What the suggested ffmpeg command writes: the same name, as a 16 kHz WAV.
        let wav = shell_arg(&wav_target(&self.path));
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
            Repr::Amr => write!(
                f,
                "{name}: AMR audio is not supported — convert it with `ffmpeg -i {arg} -ar 16000 {wav}`"
            ),
            Repr::Video { container } => write!(
                f,
                "{name}: a video file ({container}) — extract its audio with `ffmpeg -i {arg} -vn -ar 16000 {wav}`"
            ),
            Repr::NotAudio { what } => {
                let why = match what {
                    Some(kind) => format!("not an audio file (looks like {kind})"),
                    None => "not an audio file (no known audio format)".to_string(),
                };
                write!(
                    f,
                    "{name}: {why} — check that the right file was copied; recordings are read as WAV, MP3, AAC/M4A, FLAC, Ogg/Vorbis or Opus (other audio: `ffmpeg -i {arg} -ar 16000 {wav}`)"
                )
            }
            Repr::Codec { container, codec } => write!(
                f,
                "{name}: {} audio in {container} is not supported — convert it with `ffmpeg -i {arg} -ar 16000 {wav}`",
                one_line(codec)
            ),
            Repr::BrokenFile { format, detail } => write!(
                f,
                "{name}: broken {format} file ({}) — copy it again, or re-encode what is readable with `ffmpeg -i {arg} -ar 16000 {wav}`",
                one_line(detail)
            ),
            Repr::Corrupt {
                format,
                damaged,
                first_s,
                stopped,
            } => {
                let what = match stopped {
                    Some(why) => format!(
                        "damaged {format} audio: decoding stopped at {first_s:.1} s ({})",
                        one_line(why)
                    ),
                    None => format!(
                        "damaged {format} audio: {damaged} unreadable packet(s) from {first_s:.1} s were left out"
                    ),
                };
                write!(
                    f,
                    "{name}: {what} — what could be decoded was analysed; copy the file again if the recorder still has it"
                )
            }
            Repr::Write { err } => write!(
                f,
                "{name}: cannot write the clip ({}) — check that the folder is writable and the disk has space",
                one_line(&err.to_string())
            ),
            Repr::Encode(detail) => write!(
                f,
                "{name}: the Opus encoder failed ({}) — report this with the recording it came from",
                one_line(detail)
            ),
            Repr::NonFinite(nf) => write!(
                f,
                "{name}: {nf} — the recorder or a converter wrote broken float samples; export the recording again (16-bit PCM avoids this)"
            ),
        }?;
        match &self.also {
            Some(nf) => write!(f, "; also, {nf}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for AudioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::Open(e) | Repr::Read { err: e, .. } | Repr::Write { err: e } => Some(e),
            _ => None,
        }
    }
}

/// Where a suggested conversion writes: the same name as a WAV, never the input itself.
fn wav_target(path: &Path) -> PathBuf {
    let is_wav = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    if is_wav {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        path.with_file_name(format!("{stem}-16k.wav"))
    } else {
        path.with_extension("wav")
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
            Repr::Amr,
            Repr::Video { container: "MP4" },
            Repr::NotAudio { what: Some("text") },
            Repr::NotAudio { what: None },
            Repr::Codec {
                container: "MP4",
                codec: "AMR-NB".into(),
            },
            Repr::BrokenFile {
                format: "MP4",
                detail: "no\nmoov".into(),
            },
            Repr::Corrupt {
                format: "MP3",
                damaged: 3,
                first_s: 1.0,
                stopped: None,
            },
            Repr::Corrupt {
                format: "MP3",
                damaged: 30,
                first_s: 1.0,
                stopped: Some("lost\nsync".into()),
            },
            Repr::Write {
                err: io::Error::other("disk\nfull"),
            },
            Repr::Encode("x".into()),
            Repr::NonFinite(NonFinite {
                count: 3,
                total: 16_000,
                first_s: 0.5,
            }),
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

    #[test]
    fn conversions_never_overwrite_their_input() {
        assert_eq!(wav_target(Path::new("d/W07.amr")), Path::new("d/W07.wav"));
        assert_eq!(
            wav_target(Path::new("d/W07.WAV")),
            Path::new("d/W07-16k.wav")
        );
        let text = AudioError::new(Path::new("rec.amr"), Repr::Amr).to_string();
        assert_eq!(
            text,
            "rec.amr: AMR audio is not supported — convert it with `ffmpeg -i rec.amr -ar 16000 rec.wav`"
        );
    }
}
