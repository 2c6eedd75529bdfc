//! WAV files as an [`AudioSource`](super::AudioSource): header checks, streaming decode, downmix.
//!
//! We walk the RIFF chunks ourselves before hound sees the file, because hound alone can't say
//! *which* encoding it rejects, refuses some headers common in the wild (odd fmt sizes,
//! inconsistent byte rates, streamed files whose data length is 0 or 0xFFFFFFFF) and can't tell a
//! truncated file from a read error. Hound then gets a canonical header followed by exactly the
//! readable whole frames, and only decodes samples.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::{AudioError, Repr};
use super::framing::{Decode, Framed, Step};
use super::{AudioFrame, AudioInfo, SampleFormat};

/// Input frames decoded per step: bounds memory for multi-hour files.
const READ_FRAMES: usize = 4096;

const MIN_RATE: u32 = 4_000;
const MAX_RATE: u32 = 768_000;

type DataReader = BufReader<io::Chain<Cursor<Vec<u8>>, io::Take<File>>>;

/// A WAV file decoded incrementally to 16 kHz mono frames.
///
/// Reads 8-bit unsigned, 16/24/32-bit signed integer and 32-bit float PCM (plain or
/// WAVE_FORMAT_EXTENSIBLE), any channel count (averaged to mono) and any rate from 4 to 768 kHz
/// (band-limited resampling; 16 kHz passes through untouched).
///
/// Frames are [`DEFAULT_FRAME_SAMPLES`] long except the last. When the file is truncated (the
/// header promises more data than the file holds) or the disk fails mid-way, the source yields
/// every readable frame and then one `Err` ([`AudioErrorKind::Truncated`] or
/// [`AudioErrorKind::Read`](super::AudioErrorKind::Read)), then ends.
///
/// [`AudioErrorKind::Truncated`]: super::AudioErrorKind::Truncated
///
/// # Example
/// ```no_run
/// use courtesy::audio::WavSource;
/// let source = WavSource::open(std::path::Path::new("samples/hello.wav"))?;
/// println!("{:?}", source.info());
/// for frame in source {
///     let frame = frame?;
///     println!("{:.1} s: {} samples", frame.start, frame.samples.len());
/// }
/// # Ok::<(), courtesy::audio::AudioError>(())
/// ```
pub struct WavSource {
    path: PathBuf,
    info: AudioInfo,
    frames: Framed<WavDecoder>,
}

/// The hound side of a [`WavSource`]: whole input frames, averaged to mono.
struct WavDecoder {
    path: PathBuf,
    decoder: Decoder,
    channels: usize,
    rate: u32,
    frames_left: u64,
    frames_read: u64,
    /// Squares of each channel of the frames the last read appended (interleaved; multichannel only).
    power: Vec<f32>,
    /// Seconds readable, and `Some(declared seconds)` when the file is shorter than its header says.
    duration_s: f64,
    truncated_from: Option<f64>,
}

enum Decoder {
    Int {
        samples: hound::WavIntoSamples<DataReader, i32>,
        scale: f32,
    },
    Float(hound::WavIntoSamples<DataReader, f32>),
}

impl Decoder {
    fn next_sample(&mut self) -> Option<Result<f32, hound::Error>> {
        match self {
            Decoder::Int { samples, scale } => samples.next().map(|r| r.map(|v| v as f32 * *scale)),
            Decoder::Float(samples) => samples.next(),
        }
    }
}

impl std::fmt::Debug for WavSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSource")
            .field("path", &self.path)
            .field("info", &self.info)
            .field("frame_samples", &self.frames.frame_samples())
            .finish_non_exhaustive()
    }
}

impl WavSource {
    /// Opens and checks a WAV file; decoding happens as the source is iterated.
    ///
    /// Fails (with a one-line message naming the file and the fix) when the file is missing,
    /// not a WAV, in an unsupported encoding, or holds no audio at all.
    pub fn open(path: &Path) -> Result<WavSource, AudioError> {
        let err = |repr| AudioError::new(path, repr);
        let mut file = File::open(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => err(Repr::NotFound),
            _ => err(Repr::Open(e)),
        })?;
        let layout = probe(&mut file).map_err(err)?;
        let fmt = layout.fmt;

        file.seek(SeekFrom::Start(layout.data_offset))
            .map_err(|e| err(Repr::Open(e)))?;
        let header = canonical_header(&fmt, layout.usable_bytes);
        let reader = BufReader::with_capacity(
            1 << 16,
            Cursor::new(header).chain(file.take(layout.usable_bytes)),
        );
        let wav = hound::WavReader::new(reader)
            .map_err(|e| err(Repr::Malformed(format!("decoder refused it: {e}"))))?;
        let decoder = match fmt.format {
            SampleFormat::Int => Decoder::Int {
                samples: wav.into_samples::<i32>(),
                // WAV integer samples are left-justified in their slot, so the slot size sets
                // full scale whatever the "valid bits" say.
                scale: 1.0 / (1u64 << (fmt.container_bytes * 8 - 1)) as f32,
            },
            SampleFormat::Float => Decoder::Float(wav.into_samples::<f32>()),
        };

        let frames = layout.usable_bytes / fmt.block_align as u64;
        let rate = fmt.sample_rate as f64;
        let duration_s = frames as f64 / rate;
        let decoder = WavDecoder {
            path: path.to_path_buf(),
            decoder,
            channels: fmt.channels as usize,
            rate: fmt.sample_rate,
            frames_left: frames,
            frames_read: 0,
            power: Vec::new(),
            duration_s,
            truncated_from: layout
                .declared_bytes
                .map(|b| b as f64 / fmt.block_align as f64 / rate),
        };
        Ok(WavSource {
            path: path.to_path_buf(),
            info: AudioInfo {
                sample_rate: fmt.sample_rate,
                channels: fmt.channels,
                bits: fmt.valid_bits,
                format: fmt.format,
                duration_s,
            },
            frames: Framed::new(path, decoder)?,
        })
    }

    /// Sets the length of the frames this source yields, in 16 kHz samples (at least 1).
    pub fn with_frame_samples(mut self, n: usize) -> WavSource {
        self.frames.set_frame_samples(n);
        self
    }

    /// The file as stored (rate, channels, bits, readable duration).
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Iterator for WavSource {
    type Item = Result<AudioFrame, AudioError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.frames.next()
    }
}

impl Decode for WavDecoder {
    /// Decodes up to [`READ_FRAMES`] input frames, averaged to mono.
    fn read(&mut self, block: &mut Vec<f32>) -> Step {
        let want = self.frames_left.min(READ_FRAMES as u64) as usize;
        let mut failure = None;
        let mut got = 0u64;
        let keep = self.channels > 1;
        'frames: for _ in 0..want {
            let mut sum = 0.0f32;
            let at = self.power.len();
            for _ in 0..self.channels {
                match self.decoder.next_sample() {
                    // NaN and inf pass through: the framing path counts and silences them.
                    Some(Ok(v)) => {
                        sum += v;
                        if keep {
                            let x = super::sanitize(v);
                            self.power.push(x * x);
                        }
                    }
                    Some(Err(e)) => {
                        failure = Some(e);
                        self.power.truncate(at);
                        break 'frames;
                    }
                    None => {
                        failure = Some(hound::Error::IoError(io::ErrorKind::UnexpectedEof.into()));
                        self.power.truncate(at);
                        break 'frames;
                    }
                }
            }
            block.push(sum / self.channels as f32);
            got += 1;
        }
        self.frames_left -= got;
        self.frames_read += got;

        if let Some(e) = failure {
            let err = match e {
                hound::Error::IoError(err) => err,
                other => io::Error::other(other.to_string()),
            };
            Step::End(Some(AudioError::new(
                &self.path,
                Repr::Read {
                    after_s: self.frames_read as f64 / self.rate as f64,
                    err,
                },
            )))
        } else if self.frames_left > 0 {
            Step::More
        } else {
            Step::End(self.truncated_from.map(|declared_s| {
                AudioError::new(
                    &self.path,
                    Repr::Truncated {
                        read_s: self.duration_s,
                        declared_s,
                    },
                )
            }))
        }
    }

    fn rate(&self) -> u32 {
        self.rate
    }

    fn take_power(&mut self, out: &mut Vec<f32>) -> usize {
        if self.channels < 2 {
            return 0;
        }
        out.append(&mut self.power);
        self.channels
    }
}

/// The parts of a fmt chunk we use.
#[derive(Debug, Clone, Copy)]
struct Fmt {
    format: SampleFormat,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    container_bytes: u16,
    valid_bits: u16,
}

/// Where the audio is and how much of it can be read.
#[derive(Debug)]
struct Layout {
    fmt: Fmt,
    data_offset: u64,
    /// Whole frames that are really in the file and belong to the data chunk.
    usable_bytes: u64,
    /// `Some(declared data bytes)` when the file ends before the data chunk does.
    declared_bytes: Option<u64>,
}

/// Walks the RIFF chunks up to `data`, validating everything hound would trip over.
fn probe(file: &mut File) -> Result<Layout, Repr> {
    let file_len = file.metadata().map_err(Repr::Open)?.len();
    if file_len == 0 {
        return Err(Repr::ZeroBytes);
    }
    let mut r = BufReader::new(&mut *file);
    let mut head = [0u8; 12];
    let got = read_up_to(&mut r, &mut head).map_err(Repr::Open)?;
    let head = &head[..got];
    if !(got == 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WAVE") {
        return Err(match head.get(0..4) {
            Some(b"RF64") => Repr::Unsupported {
                what: "RF64, a WAV over 4 GB; split it into parts".into(),
            },
            Some(b"RIFX") => Repr::Unsupported {
                what: "big-endian RIFX WAV".into(),
            },
            _ => Repr::NotWav {
                looks_like: sniff(head),
            },
        });
    }

    let mut pos = 12u64;
    let mut fmt = None;
    loop {
        let mut chunk = [0u8; 8];
        if read_up_to(&mut r, &mut chunk).map_err(Repr::Open)? < 8 {
            return Err(match fmt {
                None => Repr::Malformed("no fmt chunk".into()),
                Some(_) => Repr::Empty {
                    detail: "no data chunk",
                },
            });
        }
        pos += 8;
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]) as u64;
        match &chunk[0..4] {
            b"fmt " => {
                // A fmt chunk is 16–40 bytes; a huge one means the header is garbage.
                if !(16..=1024).contains(&len) {
                    return Err(Repr::Malformed(format!("fmt chunk of {len} bytes")));
                }
                let mut body = vec![0u8; len as usize];
                r.read_exact(&mut body)
                    .map_err(|_| Repr::Malformed("file ends inside the fmt chunk".into()))?;
                fmt = Some(parse_fmt(&body)?);
                if len % 2 == 1 {
                    skip(&mut r, 1)?;
                }
                pos += len + len % 2;
            }
            b"data" => {
                let Some(fmt) = fmt else {
                    return Err(Repr::Malformed("data chunk before the fmt chunk".into()));
                };
                return data_layout(fmt, pos, len, file_len);
            }
            _ => {
                // Skip LIST, bext, fact, JUNK...; RIFF pads odd-sized chunks to even.
                let step = len + len % 2;
                if pos + step >= file_len {
                    return Err(match fmt {
                        None => Repr::Malformed("no fmt chunk".into()),
                        Some(_) => Repr::Empty {
                            detail: "no data chunk",
                        },
                    });
                }
                skip(&mut r, step)?;
                pos += step;
            }
        }
    }
}

fn data_layout(fmt: Fmt, data_offset: u64, declared: u64, file_len: u64) -> Result<Layout, Repr> {
    let block = fmt.block_align as u64;
    let available = file_len.saturating_sub(data_offset);
    // Recorders that stream to a pipe can't go back to fill in the length: they leave 0 or
    // 0xFFFFFFFF. Such files run to the end of the file.
    let streamed = declared == u32::MAX as u64 || (declared == 0 && available > 0);
    let wanted = if streamed { available } else { declared };
    let readable = wanted.min(available);
    // Hound counts the data in a u32; more than that is RF64 territory.
    let usable = (readable - readable % block).min(u32::MAX as u64 - u32::MAX as u64 % block);
    let truncated = !streamed && (declared - declared % block) > usable;
    // A file without one whole frame is reported by `open`, not by the iterator.
    if usable == 0 {
        return Err(Repr::Empty {
            detail: if truncated {
                "the file ends right after the header"
            } else {
                "the data chunk is empty"
            },
        });
    }
    Ok(Layout {
        fmt,
        data_offset,
        usable_bytes: usable,
        declared_bytes: truncated.then_some(declared),
    })
}

fn parse_fmt(b: &[u8]) -> Result<Fmt, Repr> {
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut tag = u16_at(0);
    let channels = u16_at(2);
    let sample_rate = u32_at(4);
    let block_align = u16_at(12);
    let bits = u16_at(14);
    let mut valid_bits = bits;
    if tag == 0xFFFE {
        if b.len() < 40 {
            return Err(Repr::Malformed(
                "WAVE_FORMAT_EXTENSIBLE fmt chunk too short".into(),
            ));
        }
        if u16_at(18) != 0 {
            valid_bits = u16_at(18);
        }
        // The sub-format GUID starts with the classic format tag.
        tag = u16_at(24);
    }
    if channels == 0 {
        return Err(Repr::Malformed("0 channels".into()));
    }
    let format = match tag {
        1 => SampleFormat::Int,
        3 => SampleFormat::Float,
        other => {
            return Err(Repr::Unsupported {
                what: format_name(other),
            })
        }
    };
    if !(MIN_RATE..=MAX_RATE).contains(&sample_rate) {
        return Err(Repr::SampleRate(sample_rate));
    }
    if block_align == 0 || block_align % channels != 0 {
        return Err(Repr::Malformed(format!(
            "block align {block_align} for {channels} channels"
        )));
    }
    let container_bytes = block_align / channels;
    // Bits of a slot, counted in u32: a garbage block align makes slots of up to 65535 bytes.
    let container_bits = container_bytes as u32 * 8;
    let ok = match format {
        SampleFormat::Int => {
            (1..=4).contains(&container_bytes) && valid_bits as u32 <= container_bits
        }
        SampleFormat::Float => container_bytes == 4,
    };
    if !ok {
        return Err(Repr::Unsupported {
            what: match format {
                SampleFormat::Float => format!("{container_bits}-bit float"),
                SampleFormat::Int => {
                    format!("{valid_bits}-bit integer in {container_bytes}-byte slots")
                }
            },
        });
    }
    Ok(Fmt {
        format,
        channels,
        sample_rate,
        block_align,
        container_bytes,
        valid_bits: if valid_bits == 0 {
            container_bytes * 8
        } else {
            valid_bits
        },
    })
}

/// The header hound is shown: plain PCM or float, full-width samples, exact data length.
fn canonical_header(fmt: &Fmt, data_bytes: u64) -> Vec<u8> {
    let tag: u16 = match fmt.format {
        SampleFormat::Int => 1,
        SampleFormat::Float => 3,
    };
    let riff_len = (4 + 8 + 16 + 8 + data_bytes).min(u32::MAX as u64) as u32;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff_len.to_le_bytes());
    h.extend_from_slice(b"WAVE");
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&fmt.channels.to_le_bytes());
    h.extend_from_slice(&fmt.sample_rate.to_le_bytes());
    let byte_rate = (fmt.sample_rate as u64 * fmt.block_align as u64).min(u32::MAX as u64) as u32;
    h.extend_from_slice(&byte_rate.to_le_bytes());
    h.extend_from_slice(&fmt.block_align.to_le_bytes());
    h.extend_from_slice(&(fmt.container_bytes * 8).to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&(data_bytes as u32).to_le_bytes());
    h
}

fn format_name(tag: u16) -> String {
    let name = match tag {
        0x0002 => "MS ADPCM",
        0x0006 => "A-law",
        0x0007 => "µ-law",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0050 => "MPEG",
        0x0055 => "MP3",
        0x0161..=0x0163 => "WMA",
        0x1610 => "AAC",
        _ => return format!("WAV format tag 0x{tag:04X}"),
    };
    format!("{name}, format tag 0x{tag:04X}")
}

/// Names a few common non-WAV containers so the message says what the file really is.
fn sniff(head: &[u8]) -> Option<&'static str> {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
        Some("MP3")
    } else if starts(b"fLaC") {
        Some("FLAC")
    } else if starts(b"OggS") {
        Some("Ogg/Opus")
    } else if head.get(4..8) == Some(b"ftyp") {
        Some("MP4/M4A")
    } else if starts(b"FORM") {
        Some("AIFF")
    } else if starts(b"#!AMR") {
        Some("AMR")
    } else if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("WebM/Matroska")
    } else {
        None
    }
}

/// Like `read_exact` but reports how much it got instead of failing at end of file.
pub(super) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn skip(r: &mut BufReader<&mut File>, n: u64) -> Result<(), Repr> {
    let n = i64::try_from(n).map_err(|_| Repr::Malformed("chunk size overflow".into()))?;
    r.seek_relative(n).map_err(Repr::Open)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens `bytes` as a WAV file.
    fn open_bytes(bytes: &[u8]) -> Result<WavSource, AudioError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.wav");
        std::fs::write(&path, bytes).unwrap();
        WavSource::open(&path)
    }

    /// Found by `scripts/fuzz.sh` (target `wav`): a float fmt chunk whose block align gives
    /// 49922-byte slots overflowed `slots × 8` (u16) while naming the format — a panic in debug
    /// builds, a wrong message in release ones.
    #[test]
    fn fuzz_wav_huge_float_slots_are_refused_not_overflowed() {
        let mut wav = b"RIFF\xd4\xfe\0\0WAVEfmt \x10\0\0\0".to_vec();
        // IEEE float, 1 channel, 16 kHz, 32000 bytes/s, block align 0xC302, 16 bits.
        wav.extend_from_slice(b"\x03\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\xc3\x10\0");
        wav.extend_from_slice(b"data\xb0\xfe\0\0");
        wav.extend_from_slice(&[0u8; 64]);
        let err = open_bytes(&wav).unwrap_err();
        assert_eq!(
            err.kind(),
            super::super::AudioErrorKind::Unsupported,
            "{err}"
        );
        assert!(err.to_string().contains("399376-bit float"), "{err}");
    }
}
