//! Any recording by its content: WAV through [`WavSource`], MP3/AAC/M4A/FLAC/Ogg through symphonia, the rest refused in one line.
//!
//! [`open`] looks at the first bytes, not the name: recorders and people rename files. WAV keeps
//! its own reader (it explains broken headers better than a generic demuxer could). Compressed
//! formats are demuxed and decoded by symphonia (Opus by libopus through its adapter) one packet
//! at a time, averaged to mono and handed to the shared framing path, so a 10-hour file costs
//! the same memory as a 10-second one. AMR, video and non-audio files are refused with the
//! command that fixes them; [`probe`] says what a file is without decoding it.

use super::wav::read_up_to;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, TimeZone, Utc};
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_AAC, CODEC_ID_ALAC, CODEC_ID_FLAC, CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3,
    CODEC_ID_OPUS, CODEC_ID_VORBIS,
};
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, Track, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::{MetadataOptions, StandardTag, Tag};
use symphonia::core::units::TimeBase;

use super::error::{AudioError, Repr};
use super::framing::{Decode, Framed, Step};
use super::{AudioFrame, AudioSource, WavSource};

/// Samples of one AAC frame: the least priming any AAC-LC encoder adds.
const AAC_PRIMING: u32 = 1024;

/// Bytes looked at to recognise a file.
const SNIFF_BYTES: usize = 4096;

/// Undecodable packets in a row after which a stream is given up as garbage.
const MAX_BAD_RUN: u32 = 64;

/// Packets tried at open before a file whose first packets all fail is called broken.
const MAX_PRIME_PACKETS: u32 = 64;

/// A stream this much shorter than its header declares is reported as truncated (a little slack:
/// encoders count delay and padding differently).
fn truncation_slack(declared_s: f64) -> f64 {
    (declared_s * 0.02).max(0.25)
}

/// What a recording is, read from its headers only.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// `wav`, `mp3`, `aac`, `flac`, `vorbis` or `opus` (also `mp2`, `alac`, `pcm` when a
    /// container holds those).
    pub format: &'static str,
    /// Seconds, when the headers say (most files; not raw ADTS AAC).
    pub duration: Option<f64>,
    /// When the recording was made, from metadata (MP4 `creation_time`, ID3 `TDRC`, Vorbis
    /// `DATE`, RIFF `ICRD`…), if present with a time of day. Tags without a zone are local time.
    pub created: Option<DateTime<FixedOffset>>,
}

/// Opens any supported recording as 16 kHz mono frames, choosing the reader by content.
///
/// WAV goes to [`WavSource`]; MP3, AAC (M4A/MP4 or raw ADTS), FLAC, Ogg/Vorbis and Ogg/Opus are
/// decoded incrementally. Frames follow the [`AudioSource`] contract: fixed length but the last,
/// contiguous start times, and at most one `Err` after the readable part of a damaged file
/// ([`Truncated`](super::AudioErrorKind::Truncated) when it ends before its header says,
/// [`Corrupt`](super::AudioErrorKind::Corrupt) when packets would not decode).
///
/// Fails at once, in one line naming the file and the fix, on missing, empty, AMR, video and
/// non-audio files.
///
/// # Example
/// ```no_run
/// let source = courtesy::audio::open(std::path::Path::new("W07_20261130_083000.mp3"))?;
/// for frame in source {
///     let frame = frame?;
///     println!("{:.1} s: {} samples", frame.start, frame.samples.len());
/// }
/// # Ok::<(), courtesy::audio::AudioError>(())
/// ```
pub fn open(path: &Path) -> Result<Box<dyn AudioSource>, AudioError> {
    match identify(path)? {
        Identified::Wav => Ok(Box::new(WavSource::open(path)?)),
        Identified::Codec(opened) => Ok(Box::new(CodecSource::new(path, *opened)?)),
    }
}

/// Says what a recording is (format, duration, creation time) from its headers, without
/// decoding it; refuses the same files [`open`] refuses, with the same messages.
pub fn probe(path: &Path) -> Result<Probe, AudioError> {
    match identify(path)? {
        Identified::Wav => {
            let duration = WavSource::open(path)?.info().duration_s;
            // symphonia 0.6.1's WAV reader drops the INFO list it parses, so walk the chunks.
            let created = File::open(path).ok().and_then(|mut f| wav_created(&mut f));
            Ok(Probe {
                format: "wav",
                duration: Some(duration),
                created,
            })
        }
        Identified::Codec(mut opened) => {
            let tags = created_from_tags(opened.reader.as_mut());
            Ok(Probe {
                format: codec_name(&opened.params),
                duration: playable_seconds(&opened),
                created: opened.created.or(tags),
            })
        }
    }
}

enum Identified {
    Wav,
    Codec(Box<Opened>),
}

/// A demuxed file with its audio track chosen.
struct Opened {
    reader: Box<dyn FormatReader>,
    track: Track,
    params: AudioCodecParameters,
    /// The container's name for messages ("MP3", "MP4/M4A", "Ogg"…).
    container: &'static str,
    /// Creation time from the MP4 movie header, which symphonia does not expose as a tag.
    created: Option<DateTime<FixedOffset>>,
    /// The MP4 edit list's playable part (or raw AAC's priming), applied here because
    /// symphonia does not.
    edit: Option<Edit>,
    /// Whether the declared length is exact, so that a shorter stream is truncated.
    exact_length: bool,
}

/// What the first bytes say.
enum Magic {
    Wav,
    Amr,
    Video(&'static str),
    NotAudio(Option<&'static str>),
    /// Hand it to symphonia; the name is for messages.
    Demux(&'static str),
}

fn identify(path: &Path) -> Result<Identified, AudioError> {
    let err = |repr| AudioError::new(path, repr);
    let mut file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => err(Repr::NotFound),
        _ => err(Repr::Open(e)),
    })?;
    let len = file.metadata().map_err(|e| err(Repr::Open(e)))?.len();
    if len == 0 {
        return Err(err(Repr::ZeroBytes));
    }
    let mut head = vec![0u8; SNIFF_BYTES.min(len as usize)];
    let got = read_up_to(&mut file, &mut head).map_err(|e| err(Repr::Open(e)))?;
    head.truncate(got);

    let container = match sniff(&head) {
        Magic::Wav => return Ok(Identified::Wav),
        Magic::Amr => return Err(err(Repr::Amr)),
        Magic::Video(container) => return Err(err(Repr::Video { container })),
        Magic::NotAudio(what) => return Err(err(Repr::NotAudio { what })),
        Magic::Demux(container) => container,
    };
    let mut mp4 = Mp4Info::default();
    if container == "MP4/M4A" {
        mp4 = scan_mp4(&mut file, len).map_err(|e| err(Repr::Open(e)))?;
        if mp4.video {
            return Err(err(Repr::Video { container: "MP4" }));
        }
        if mp4.amr {
            return Err(err(Repr::Amr));
        }
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| err(Repr::Open(e)))?;
    let mut opened = demux(path, Box::new(file), container)?;
    opened.created = mp4.created;
    opened.edit = mp4.edit;
    if container == "AAC" {
        // Raw ADTS says nothing about the encoder's priming. Every AAC-LC encoder primes at
        // least one frame (1024 samples: ffmpeg exactly that, others 2048–2112), so dropping one
        // frame never cuts speech and takes the timeline as close as the file allows.
        let rate = opened.params.sample_rate.unwrap_or(44_100).max(1);
        opened.edit = Some(Edit {
            skip_s: AAC_PRIMING as f64 / rate as f64,
            play_s: None,
        });
        // Its duration is extrapolated from the first frames, too rough to call a file short.
        opened.exact_length = false;
    }
    Ok(Identified::Codec(Box::new(opened)))
}

/// Runs symphonia's probe on `source` and picks the audio track.
fn demux(
    path: &Path,
    source: Box<dyn MediaSource>,
    container: &'static str,
) -> Result<Opened, AudioError> {
    let err = |repr| AudioError::new(path, repr);
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mss = MediaSourceStream::new(source, Default::default());
    let reader = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::IoError(e) if e.kind() != io::ErrorKind::UnexpectedEof => err(Repr::Open(e)),
            // Magic bytes promised a format the reader then refused: a damaged file. With no
            // promise, it is simply not audio we know.
            _ if container != "unknown" => err(Repr::BrokenFile {
                format: container,
                detail: e.to_string(),
            }),
            _ => err(Repr::NotAudio { what: None }),
        })?;
    let container = if container == "unknown" {
        reader.format_info().short_name
    } else {
        container
    };
    if reader
        .tracks()
        .iter()
        .any(|t| t.track_type() == Some(TrackType::Video))
    {
        return Err(err(Repr::Video { container }));
    }
    let Some(track) = reader
        .default_track(TrackType::Audio)
        .or_else(|| reader.first_track(TrackType::Audio))
        .cloned()
    else {
        return Err(err(Repr::NotAudio {
            what: Some("a media file without an audio track"),
        }));
    };
    let Some(params) = track.codec_params.as_ref().and_then(|p| p.audio()).cloned() else {
        return Err(err(Repr::NotAudio {
            what: Some("a media file without an audio track"),
        }));
    };
    if codecs().get_audio_decoder(params.codec).is_none() {
        return Err(err(Repr::Codec {
            container,
            codec: codec_label(&params),
        }));
    }
    Ok(Opened {
        reader,
        track,
        params,
        container,
        created: None,
        edit: None,
        exact_length: true,
    })
}

/// symphonia's decoders plus libopus for Opus (symphonia has none of its own).
fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
        registry
    })
}

fn codec_name(params: &AudioCodecParameters) -> &'static str {
    match params.codec {
        c if c == CODEC_ID_MP3 => "mp3",
        c if c == CODEC_ID_MP1 || c == CODEC_ID_MP2 => "mp2",
        c if c == CODEC_ID_AAC => "aac",
        c if c == CODEC_ID_FLAC => "flac",
        c if c == CODEC_ID_VORBIS => "vorbis",
        c if c == CODEC_ID_OPUS => "opus",
        c if c == CODEC_ID_ALAC => "alac",
        _ => "pcm",
    }
}

/// A name for a codec we cannot decode, for the message.
fn codec_label(params: &AudioCodecParameters) -> String {
    let raw = params.codec.to_string();
    if raw.is_empty() {
        "this codec's".to_string()
    } else {
        raw
    }
}

/// Seconds the headers declare, corrected by the edit (MP4 edit list, AAC priming).
fn playable_seconds(opened: &Opened) -> Option<f64> {
    let declared = declared_seconds(&opened.track, &opened.params);
    match opened.edit {
        Some(Edit {
            play_s: Some(play), ..
        }) => Some(play),
        Some(edit) => declared.map(|d| (d - edit.skip_s).max(0.0)),
        None => declared,
    }
}

/// Seconds of playable audio the headers declare, if they do.
fn declared_seconds(track: &Track, params: &AudioCodecParameters) -> Option<f64> {
    if let (Some(frames), Some(rate)) = (track.num_frames, params.sample_rate) {
        if rate > 0 {
            return Some(frames as f64 / rate as f64);
        }
    }
    let (tb, dur) = (track.time_base?, track.duration?);
    tb.calc_duration(dur).map(|t| t.as_secs_f64())
}

/// Recognises containers by their magic bytes.
fn sniff(head: &[u8]) -> Magic {
    let starts = |m: &[u8]| head.starts_with(m);
    let at = |i: usize, m: &[u8]| head.get(i..i + m.len()) == Some(m);
    if starts(b"RIFF") && at(8, b"WAVE") {
        Magic::Wav
    } else if starts(b"RF64") || starts(b"RIFX") {
        // Our WAV reader explains why it does not read these.
        Magic::Wav
    } else if starts(b"RIFF") && at(8, b"AVI ") {
        Magic::Video("AVI")
    } else if starts(b"#!AMR") {
        Magic::Amr
    } else if at(4, b"ftyp") {
        // 3GP phone recordings are AMR inside MP4 boxes: symphonia names the codec it refuses.
        Magic::Demux("MP4/M4A")
    } else if starts(b"ID3") || is_mpeg_audio_sync(head) {
        Magic::Demux("MP3")
    } else if is_adts_sync(head) {
        Magic::Demux("AAC")
    } else if starts(b"fLaC") {
        Magic::Demux("FLAC")
    } else if starts(b"OggS") {
        Magic::Demux("Ogg")
    } else if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Magic::Demux("Matroska/WebM")
    } else if starts(b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
        Magic::Demux("AIFF")
    } else if starts(b"caff") {
        Magic::Demux("CAF")
    } else if starts(b"FLV") {
        Magic::Video("FLV")
    } else if starts(&[0x00, 0x00, 0x01, 0xBA]) || starts(&[0x00, 0x00, 0x01, 0xB3]) {
        Magic::Video("MPEG program stream")
    } else if head.len() > 376 && head[0] == 0x47 && head[188] == 0x47 && head[376] == 0x47 {
        Magic::Video("MPEG transport stream")
    } else if starts(&[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11]) {
        Magic::Video("ASF/WMV")
    } else if starts(b"%PDF") {
        Magic::NotAudio(Some("a PDF document"))
    } else if starts(b"PK\x03\x04") {
        Magic::NotAudio(Some("a ZIP archive or Office document"))
    } else if starts(&[0xFF, 0xD8, 0xFF]) || starts(b"\x89PNG") || starts(b"GIF8") {
        Magic::NotAudio(Some("an image"))
    } else if looks_like_text(head) {
        Magic::NotAudio(Some("text"))
    } else {
        // Headerless or rarer formats: let symphonia try.
        Magic::Demux("unknown")
    }
}

/// An MPEG audio frame header at the start (an MP3 without ID3 tag).
fn is_mpeg_audio_sync(head: &[u8]) -> bool {
    head.len() >= 4
        && head[0] == 0xFF
        && head[1] & 0xE0 == 0xE0
        // Layer bits 00 are reserved; 0b01/10/11 are layers III/II/I.
        && head[1] & 0x06 != 0
        && head[2] & 0xF0 != 0xF0
        && head[2] & 0x0C != 0x0C
}

/// An ADTS (raw AAC) frame header at the start: sync 0xFFF, layer 00.
fn is_adts_sync(head: &[u8]) -> bool {
    head.len() >= 2 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0
}

/// UTF-8 text without control characters other than line breaks and tabs.
fn looks_like_text(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(s) => s,
        // A multi-byte character cut by the sniff window is still text.
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(s) => s,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0C'))
}

/// What the MP4 boxes say that symphonia does not: a picture track, the movie's creation time,
/// and the audio track's edit list (symphonia ignores it, so AAC would keep the encoder's
/// priming samples and end padding: 50–100 ms of extra silence and a shifted timeline).
#[derive(Debug, Default)]
struct Mp4Info {
    video: bool,
    /// AMR speech in a 3GP/MP4 (phone recordings): refused like a `#!AMR` file.
    amr: bool,
    created: Option<DateTime<FixedOffset>>,
    edit: Option<Edit>,
}

/// The playable part of a track: skip `skip_s` of decoded audio, then play `play_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Edit {
    skip_s: f64,
    play_s: Option<f64>,
}

/// Walks the top-level MP4 boxes to the `moov` box (wherever it is) and reads its track handlers
/// and movie header. Cheap: seeks over `mdat`, reads only `moov`.
fn scan_mp4(file: &mut File, len: u64) -> io::Result<Mp4Info> {
    // The sample tables of a 10-hour file fit well under this; more means a broken size field.
    const MAX_MOOV: u64 = 256 << 20;
    let mut pos = 0u64;
    for _ in 0..4096 {
        if pos + 8 > len {
            break;
        }
        file.seek(SeekFrom::Start(pos))?;
        let mut header = [0u8; 16];
        let got = read_up_to(file, &mut header)?;
        if got < 8 {
            break;
        }
        let (size, body_at) = match u32::from_be_bytes([header[0], header[1], header[2], header[3]])
        {
            0 => (len - pos, 8),
            1 if got == 16 => (
                u64::from_be_bytes(header[8..16].try_into().unwrap_or_default()),
                16,
            ),
            n => (u64::from(n), 8),
        };
        if size < body_at {
            break;
        }
        if &header[4..8] == b"moov" {
            let body_len = size.min(len - pos) - body_at;
            if body_len > MAX_MOOV {
                break;
            }
            let mut body = vec![0u8; body_len as usize];
            file.seek(SeekFrom::Start(pos + body_at))?;
            let got = read_up_to(file, &mut body)?;
            body.truncate(got);
            return Ok(parse_moov(&body));
        }
        pos += size;
    }
    Ok(Mp4Info::default())
}

fn parse_moov(moov: &[u8]) -> Mp4Info {
    let mut info = Mp4Info::default();
    let movie_scale = boxes(moov)
        .find(|(k, _)| *k == b"mvhd")
        .and_then(|(_, mvhd)| header_timescale(mvhd));
    for (kind, body) in boxes(moov) {
        match kind {
            b"mvhd" => info.created = mvhd_created(body),
            b"trak" => {
                let mdia = child(body, b"mdia");
                let handler = mdia
                    .and_then(|m| child(m, b"hdlr"))
                    .and_then(|h| h.get(8..12));
                match handler {
                    Some(b"vide") => info.video = true,
                    Some(b"soun") if info.edit.is_none() => {
                        // The sample entry's type is the codec: samr/sawb are AMR-NB/WB.
                        let codec = mdia
                            .and_then(|m| child(m, b"minf"))
                            .and_then(|m| child(m, b"stbl"))
                            .and_then(|s| child(s, b"stsd"))
                            .and_then(|s| s.get(12..16));
                        if matches!(codec, Some(b"samr" | b"sawb")) {
                            info.amr = true;
                        }
                        let media_scale = mdia
                            .and_then(|m| child(m, b"mdhd"))
                            .and_then(header_timescale);
                        info.edit = child(body, b"edts")
                            .and_then(|e| child(e, b"elst"))
                            .and_then(|elst| parse_elst(elst, movie_scale?, media_scale?));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    info
}

/// The body of the first child box of that type.
fn child<'a>(data: &'a [u8], name: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| *k == name).map(|(_, b)| b)
}

/// The timescale of an `mvhd` or `mdhd` box (same layout up to it).
fn header_timescale(body: &[u8]) -> Option<u32> {
    let at = match body.first()? {
        0 => 12,
        1 => 20,
        _ => return None,
    };
    let scale = u32::from_be_bytes(body.get(at..at + 4)?.try_into().ok()?);
    (scale > 0).then_some(scale)
}

/// The one edit encoders write for audio: skip the priming, play the real length. Leading empty
/// edits (a delayed start) and multi-part edits are rare in recordings and left alone.
fn parse_elst(body: &[u8], movie_scale: u32, media_scale: u32) -> Option<Edit> {
    let version = *body.first()?;
    let count = u32::from_be_bytes(body.get(4..8)?.try_into().ok()?);
    if count != 1 {
        return None;
    }
    let (duration, media_time) = match version {
        0 => (
            u64::from(u32::from_be_bytes(body.get(8..12)?.try_into().ok()?)),
            i64::from(i32::from_be_bytes(body.get(12..16)?.try_into().ok()?)),
        ),
        1 => (
            u64::from_be_bytes(body.get(8..16)?.try_into().ok()?),
            i64::from_be_bytes(body.get(16..24)?.try_into().ok()?),
        ),
        _ => return None,
    };
    if media_time < 0 {
        return None;
    }
    Some(Edit {
        skip_s: media_time as f64 / media_scale as f64,
        play_s: (duration > 0).then(|| duration as f64 / movie_scale as f64),
    })
}

/// The child boxes of a box body: (type, body).
fn boxes(mut data: &[u8]) -> impl Iterator<Item = (&[u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let kind: &[u8; 4] = data[4..8].try_into().ok()?;
        let (start, end) = match size {
            0 => (8, data.len()),
            1 => {
                let large = u64::from_be_bytes(data.get(8..16)?.try_into().ok()?);
                (16, usize::try_from(large).ok()?)
            }
            n => (8, n),
        };
        if end < start || end > data.len() {
            return None;
        }
        let body = &data[start..end];
        data = &data[end..];
        Some((kind, body))
    })
}

/// The movie header's creation time (seconds since 1904, UTC), in local time.
fn mvhd_created(body: &[u8]) -> Option<DateTime<FixedOffset>> {
    let secs = match body.first()? {
        0 => u64::from(u32::from_be_bytes(body.get(4..8)?.try_into().ok()?)),
        1 => u64::from_be_bytes(body.get(4..12)?.try_into().ok()?),
        _ => return None,
    };
    // 0 is "not set"; anything before 1990 is a recorder whose clock was never set.
    const FROM_1904_TO_1970: i64 = 2_082_844_800;
    let unix = i64::try_from(secs).ok()? - FROM_1904_TO_1970;
    if unix < 631_152_000 {
        return None;
    }
    let utc = Utc.timestamp_opt(unix, 0).single()?;
    Some(utc.with_timezone(&Local).fixed_offset())
}

/// A WAV's recording time: `bext` origination date and time (broadcast WAV, common on field
/// recorders), else the INFO list's `ICRD`. Chunks may sit before or after the audio.
fn wav_created(file: &mut File) -> Option<DateTime<FixedOffset>> {
    let len = file.metadata().ok()?.len();
    let mut pos = 12u64;
    let mut icrd = None;
    for _ in 0..64 {
        if pos + 8 > len {
            break;
        }
        file.seek(SeekFrom::Start(pos)).ok()?;
        let mut header = [0u8; 8];
        file.read_exact(&mut header).ok()?;
        let size = u64::from(u32::from_le_bytes(header[4..8].try_into().ok()?));
        let body_len = size.min(len - pos - 8);
        match &header[0..4] {
            b"bext" if body_len >= 338 => {
                let mut body = vec![0u8; 338];
                file.read_exact(&mut body).ok()?;
                let digits: String = body[320..338]
                    .iter()
                    .filter(|b| b.is_ascii_digit())
                    .map(|&b| b as char)
                    .collect();
                if digits.len() == 14 {
                    let d = &digits;
                    let text = format!(
                        "{}-{}-{} {}:{}:{}",
                        &d[0..4],
                        &d[4..6],
                        &d[6..8],
                        &d[8..10],
                        &d[10..12],
                        &d[12..14]
                    );
                    if let Some(t) = parse_time(&text) {
                        return Some(t);
                    }
                }
            }
            b"LIST" if body_len <= 1 << 20 => {
                let mut body = vec![0u8; body_len as usize];
                file.read_exact(&mut body).ok()?;
                if body.starts_with(b"INFO") {
                    let mut at = 4;
                    while at + 8 <= body.len() {
                        let n = u32::from_le_bytes(body[at + 4..at + 8].try_into().ok()?) as usize;
                        let value = body.get(at + 8..(at + 8 + n).min(body.len()))?;
                        if &body[at..at + 4] == b"ICRD" {
                            icrd = icrd.or_else(|| parse_time(&String::from_utf8_lossy(value)));
                        }
                        at += 8 + n + n % 2;
                    }
                }
            }
            _ => {}
        }
        pos += 8 + size + size % 2;
    }
    icrd
}

/// The first metadata tag that holds a recording/creation date with a time of day.
fn created_from_tags(reader: &mut dyn FormatReader) -> Option<DateTime<FixedOffset>> {
    let mut metadata = reader.metadata();
    loop {
        if let Some(rev) = metadata.current() {
            let tags = rev
                .media
                .tags
                .iter()
                .chain(rev.per_track.iter().flat_map(|t| t.metadata.tags.iter()));
            if let Some(t) = tags.filter_map(tag_time).next() {
                return Some(t);
            }
        }
        metadata.pop()?;
    }
}

fn tag_time(tag: &Tag) -> Option<DateTime<FixedOffset>> {
    let value = match &tag.std {
        Some(
            StandardTag::RecordingDate(v)
            | StandardTag::RecordingTime(v)
            | StandardTag::EncodingDate(v)
            | StandardTag::TaggingDate(v)
            | StandardTag::OriginalRecordingDate(v)
            | StandardTag::OriginalRecordingTime(v),
        ) => v.to_string(),
        _ => {
            let key = tag.raw.key.to_ascii_lowercase();
            let known = [
                "creation_time",
                "date",
                "tdrc",
                "tden",
                "icrd",
                "date_recorded",
                "originationdate",
            ];
            if !known.contains(&key.as_str()) {
                return None;
            }
            tag.raw.value.to_string()
        }
    };
    parse_time(&value)
}

/// A date with a time of day, with or without zone (without: local time). A bare date or year
/// is not a clock time and gives `None`.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim().trim_end_matches('\0');
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t);
        }
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y:%m:%d %H:%M:%S",
    ];
    let n = naive
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())?;
    Local
        .from_local_datetime(&n)
        .earliest()
        .map(|t| t.fixed_offset())
}

/// A compressed recording decoded incrementally to 16 kHz mono frames.
struct CodecSource {
    frames: Framed<CodecDecoder>,
}

impl CodecSource {
    fn new(path: &Path, opened: Opened) -> Result<CodecSource, AudioError> {
        let decoder = CodecDecoder::new(path, opened)?;
        Ok(CodecSource {
            frames: Framed::new(path, decoder)?,
        })
    }
}

impl Iterator for CodecSource {
    type Item = Result<AudioFrame, AudioError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.frames.next()
    }
}

impl AudioSource for CodecSource {}

/// symphonia's side: packets of the chosen track, decoded and averaged to mono.
struct CodecDecoder {
    path: PathBuf,
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    format: &'static str,
    time_base: Option<TimeBase>,
    rate: u32,
    /// Samples decoded at open (to check the file is decodable at all), handed out first.
    primed: Vec<f32>,
    interleaved: Vec<f32>,
    /// Seconds of input handed out so far, silence for damaged packets included.
    seconds: f64,
    declared_s: Option<f64>,
    damaged: u64,
    first_damage_s: Option<f64>,
    bad_run: u32,
    /// Decoded input frames still to drop (MP4 edit list: encoder priming).
    skip: u64,
    /// Input frames still to keep (MP4 edit list: the real length); `None`: all.
    left: Option<u64>,
}

/// One packet's outcome.
enum Packet {
    /// Samples appended (possibly none: a packet wholly trimmed as encoder delay).
    Audio,
    /// Undecodable; silence of its length appended.
    Damaged(String),
    End(Option<AudioError>),
}

impl CodecDecoder {
    fn new(path: &Path, opened: Opened) -> Result<CodecDecoder, AudioError> {
        let err = |repr| AudioError::new(path, repr);
        let declared_s = opened
            .exact_length
            .then(|| playable_seconds(&opened))
            .flatten();
        let Opened {
            reader,
            track,
            params,
            container,
            edit,
            ..
        } = opened;
        let decoder = codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| {
                err(Repr::BrokenFile {
                    format: container,
                    detail: e.to_string(),
                })
            })?;
        let rate = params
            .sample_rate
            .filter(|&r| r > 0)
            .unwrap_or(super::SAMPLE_RATE);
        let mut this = CodecDecoder {
            path: path.to_path_buf(),
            reader,
            decoder,
            track_id: track.id,
            format: container,
            time_base: track.time_base,
            rate,
            primed: Vec::new(),
            interleaved: Vec::new(),
            seconds: 0.0,
            declared_s,
            damaged: 0,
            first_damage_s: None,
            bad_run: 0,
            skip: edit.map_or(0, |e| (e.skip_s * rate as f64).round() as u64),
            left: edit
                .and_then(|e| e.play_s)
                .map(|s| (s * rate as f64).round() as u64),
        };
        this.prime()?;
        Ok(this)
    }

    /// Decodes until the first packet with audio, so that a file that is no audio at all (or
    /// holds none) fails at open, like a WAV without samples.
    fn prime(&mut self) -> Result<(), AudioError> {
        let mut first_failure = None;
        for _ in 0..MAX_PRIME_PACKETS {
            let mut out = Vec::new();
            match self.packet(&mut out) {
                Packet::Audio if out.is_empty() => continue,
                Packet::Audio => {
                    self.primed = out;
                    return Ok(());
                }
                Packet::Damaged(why) => {
                    first_failure.get_or_insert(why);
                }
                Packet::End(Some(e)) if first_failure.is_none() => return Err(e),
                Packet::End(_) => break,
            }
        }
        Err(AudioError::new(
            &self.path,
            match first_failure {
                Some(detail) => Repr::BrokenFile {
                    format: self.format,
                    detail: format!("no packet decodes: {detail}"),
                },
                None => Repr::Empty {
                    detail: "no audio packets",
                },
            },
        ))
    }

    /// Reads and decodes the next packet of our track into `out` (mono, at `self.rate`).
    fn packet(&mut self, out: &mut Vec<f32>) -> Packet {
        loop {
            let packet = match self.reader.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Packet::End(self.end_error()),
                Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Packet::End(self.end_error())
                }
                Err(SymError::IoError(e)) => {
                    return Packet::End(Some(AudioError::new(
                        &self.path,
                        Repr::Read {
                            after_s: self.seconds,
                            err: e,
                        },
                    )))
                }
                // The demuxer lost its way (garbage between frames); it resynchronises itself.
                Err(SymError::DecodeError(why)) => {
                    self.note_damage();
                    if self.bad_run > MAX_BAD_RUN {
                        return Packet::End(Some(self.stopped(why.to_string())));
                    }
                    continue;
                }
                Err(SymError::ResetRequired) => {
                    return Packet::End(Some(
                        self.stopped("the stream changes its format part-way".into()),
                    ))
                }
                Err(e) => return Packet::End(Some(self.stopped(e.to_string()))),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(buf) => {
                    let rate = buf.spec().rate();
                    let channels = buf.spec().channels().count().max(1);
                    buf.copy_to_vec_interleaved(&mut self.interleaved);
                    Ok((rate, channels))
                }
                Err(e @ (SymError::DecodeError(_) | SymError::IoError(_))) => Err(e.to_string()),
                Err(SymError::ResetRequired) => {
                    return Packet::End(Some(
                        self.stopped("the stream changes its format part-way".into()),
                    ))
                }
                Err(e) => return Packet::End(Some(self.stopped(e.to_string()))),
            };
            return match decoded {
                Ok((rate, channels)) => {
                    self.bad_run = 0;
                    if rate > 0 {
                        self.rate = rate;
                    }
                    let before = out.len();
                    out.extend(
                        self.interleaved
                            .chunks_exact(channels)
                            .map(|f| f.iter().sum::<f32>() / channels as f32),
                    );
                    self.keep_edited(out, before);
                    Packet::Audio
                }
                Err(why) => {
                    self.note_damage();
                    if self.bad_run > MAX_BAD_RUN {
                        return Packet::End(Some(self.stopped(why)));
                    }
                    // Keep the timeline: the packet's length of silence instead of its audio.
                    let secs = match self.time_base {
                        Some(tb) => tb
                            .calc_duration(packet.dur)
                            .map_or(0.0, |t| t.as_secs_f64()),
                        None => packet.dur.get() as f64 / self.rate as f64,
                    };
                    let n = (secs * self.rate as f64).round() as usize;
                    let before = out.len();
                    out.extend(std::iter::repeat_n(0.0, n.min(self.rate as usize * 10)));
                    self.keep_edited(out, before);
                    Packet::Damaged(why)
                }
            };
        }
    }

    /// Applies the edit list to the samples appended from `before` on, and counts what stays.
    fn keep_edited(&mut self, out: &mut Vec<f32>, before: usize) {
        let drop = (self.skip.min((out.len() - before) as u64)) as usize;
        out.drain(before..before + drop);
        self.skip -= drop as u64;
        if let Some(left) = self.left.as_mut() {
            let new = (out.len() - before) as u64;
            if new > *left {
                out.truncate(before + *left as usize);
            }
            *left -= (out.len() - before) as u64;
        }
        self.seconds += (out.len() - before) as f64 / self.rate as f64;
    }

    fn note_damage(&mut self) {
        self.damaged += 1;
        self.bad_run += 1;
        self.first_damage_s.get_or_insert(self.seconds);
    }

    /// The error that ends a stream that gave up part-way.
    fn stopped(&self, why: String) -> AudioError {
        AudioError::new(
            &self.path,
            Repr::Corrupt {
                format: self.format,
                damaged: self.damaged,
                first_s: self.seconds,
                stopped: Some(why),
            },
        )
    }

    /// At the end of the stream: truncated if shorter than declared, else damaged if any
    /// packet failed, else clean.
    fn end_error(&self) -> Option<AudioError> {
        if let Some(declared_s) = self.declared_s {
            if self.seconds < declared_s - truncation_slack(declared_s) {
                return Some(AudioError::new(
                    &self.path,
                    Repr::Truncated {
                        read_s: self.seconds,
                        declared_s,
                    },
                ));
            }
        }
        (self.damaged > 0).then(|| {
            AudioError::new(
                &self.path,
                Repr::Corrupt {
                    format: self.format,
                    damaged: self.damaged,
                    first_s: self.first_damage_s.unwrap_or(0.0),
                    stopped: None,
                },
            )
        })
    }
}

impl Decode for CodecDecoder {
    fn read(&mut self, out: &mut Vec<f32>) -> Step {
        if !self.primed.is_empty() {
            out.append(&mut self.primed);
            return Step::More;
        }
        match self.packet(out) {
            Packet::Audio | Packet::Damaged(_) => Step::More,
            Packet::End(e) => Step::End(e),
        }
    }

    fn rate(&self) -> u32 {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// A file that counts the bytes read from it.
    struct Counting {
        file: File,
        len: u64,
        read: Arc<AtomicU64>,
    }

    impl Read for Counting {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.file.read(buf)?;
            self.read.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
    }

    impl Seek for Counting {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.file.seek(pos)
        }
    }

    impl MediaSource for Counting {
        fn is_seekable(&self) -> bool {
            true
        }
        fn byte_len(&self) -> Option<u64> {
            Some(self.len)
        }
    }

    #[test]
    fn frames_arrive_while_the_file_is_still_mostly_unread() {
        // Six minutes of noise bursts as Ogg/Opus (about 700 KB): long enough that reading it
        // all up front would show, short enough to encode in a test.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.opus");
        let secs = 360usize;
        let mut x = 1u32;
        let samples: Vec<f32> = (0..secs * 16_000)
            .map(|i| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let on = (i / 8_000) % 2 == 0;
                if on {
                    (x >> 8) as f32 / (1u32 << 24) as f32 * 0.4 - 0.2
                } else {
                    0.0
                }
            })
            .collect();
        super::super::clip::write_opus(&path, &samples).unwrap();
        drop(samples);

        let file = File::open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        let read = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            file,
            len,
            read: read.clone(),
        };
        let opened = demux(&path, Box::new(counting), "Ogg").unwrap();
        let mut source = CodecSource::new(&path, opened).unwrap();

        let first = source.next().unwrap().unwrap();
        assert_eq!(first.start, 0.0);
        // The demuxer looks at the last page for the duration and buffers 64 KB ahead; the
        // rest is read only as frames are pulled.
        let at_first = read.load(Ordering::Relaxed);
        assert!(len > 512 << 10, "{len} bytes: too short to tell");
        assert!(
            at_first < 128 << 10,
            "{at_first} of {len} bytes read for the first frame"
        );

        let mut end = first.end();
        let mut at_half = None;
        for frame in source {
            let frame = frame.unwrap();
            end = frame.end();
            if at_half.is_none() && end >= secs as f64 / 2.0 {
                at_half = Some(read.load(Ordering::Relaxed));
            }
        }
        let at_half = at_half.unwrap();
        // Half the audio, half the bytes: give or take the stream's read-ahead buffer.
        assert!(
            (len / 2 - (64 << 10)..len / 2 + (128 << 10)).contains(&at_half),
            "{at_half} of {len} bytes read at half time"
        );
        assert!((end - secs as f64).abs() < 0.03, "{end} s");
    }

    #[test]
    fn sniffing_names_what_a_file_is() {
        assert!(matches!(sniff(b"#!AMR\n\x3c\x3c"), Magic::Amr));
        assert!(matches!(sniff(b"#!AMR-WB\n"), Magic::Amr));
        assert!(matches!(
            sniff(b"RIFF\0\0\0\0AVI LIST"),
            Magic::Video("AVI")
        ));
        assert!(matches!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Magic::Wav));
        assert!(matches!(
            sniff(b"\0\0\0\x20ftypM4A "),
            Magic::Demux("MP4/M4A")
        ));
        assert!(matches!(
            sniff(&[0xFF, 0xFB, 0x90, 0x64]),
            Magic::Demux("MP3")
        ));
        assert!(matches!(
            sniff(&[0xFF, 0xF1, 0x50, 0x80]),
            Magic::Demux("AAC")
        ));
        assert!(matches!(
            sniff("窗口 7 的备注\n".as_bytes()),
            Magic::NotAudio(Some("text"))
        ));
        // A multi-byte character cut by the sniff window is still text.
        let cut = &"备注".as_bytes()[..4];
        assert!(matches!(sniff(cut), Magic::NotAudio(Some("text"))));
        assert!(matches!(sniff(&[1, 2, 3, 0, 9]), Magic::Demux("unknown")));
    }

    #[test]
    fn broadcast_wav_origination_time() {
        let mut bext = vec![0u8; 602];
        bext[320..330].copy_from_slice(b"2026-11-30");
        bext[330..338].copy_from_slice(b"08:30:00");
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend_from_slice(b"bext");
        wav.extend_from_slice(&(bext.len() as u32).to_le_bytes());
        wav.extend_from_slice(&bext);
        wav.extend_from_slice(b"data\x04\0\0\0\0\0\0\0");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.wav");
        std::fs::write(&path, &wav).unwrap();
        let t = wav_created(&mut File::open(&path).unwrap()).unwrap();
        assert_eq!(t.naive_local().to_string(), "2026-11-30 08:30:00");
    }

    #[test]
    fn tag_times_need_a_time_of_day() {
        let t = parse_time("2026-11-30T08:30:00+08:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-30T08:30:00+08:00");
        let utc = parse_time("2026-11-30T00:30:00.000000Z").unwrap();
        assert_eq!(utc, t);
        let local = parse_time("2026-11-30 08:30:00").unwrap();
        assert_eq!(local.naive_local().to_string(), "2026-11-30 08:30:00");
        assert!(parse_time("2026-11-30").is_none());
        assert!(parse_time("2026").is_none());
        assert!(parse_time("soon").is_none());
    }

    #[test]
    fn mp4_boxes_give_video_tracks_and_creation_time() {
        fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
            let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.extend_from_slice(body);
            b
        }
        let hdlr = |t: &[u8; 4]| {
            let mut body = vec![0u8; 8];
            body.extend_from_slice(t);
            body.extend_from_slice(&[0u8; 13]);
            mp4_box(b"trak", &mp4_box(b"mdia", &mp4_box(b"hdlr", &body)))
        };
        // 2026-11-30T00:30:00Z in seconds since 1904.
        let ctime = (1_795_998_600u64 + 2_082_844_800) as u32;
        let mut mvhd = vec![0u8; 4];
        mvhd.extend_from_slice(&ctime.to_be_bytes());
        mvhd.extend_from_slice(&[0u8; 92]);
        let mut moov = mp4_box(b"mvhd", &mvhd);
        moov.extend(hdlr(b"soun"));
        let info = parse_moov(&moov);
        assert!(!info.video);
        assert_eq!(
            info.created.unwrap().with_timezone(&Utc).to_rfc3339(),
            "2026-11-30T00:30:00+00:00"
        );
        moov.extend(hdlr(b"vide"));
        assert!(parse_moov(&moov).video);
        // Garbage sizes end the walk instead of panicking.
        assert!(!parse_moov(&[0, 0, 0, 200, b't', b'r', b'a', b'k', 1, 2]).video);
    }

    #[test]
    fn mp4_audio_edit_lists_and_amr_sample_entries() {
        fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
            let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.extend_from_slice(body);
            b
        }
        // Header boxes with only what we read: version 0, timescale at byte 12.
        let header = |scale: u32| {
            let mut b = vec![0u8; 12];
            b.extend_from_slice(&scale.to_be_bytes());
            b.extend_from_slice(&[0u8; 8]);
            b
        };
        let track = |entry: &[u8; 4]| {
            let mut hdlr = vec![0u8; 8];
            hdlr.extend_from_slice(b"soun");
            hdlr.extend_from_slice(&[0u8; 13]);
            let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
            stsd.extend(mp4_box(entry, &[0u8; 28]));
            let stbl = mp4_box(b"stbl", &mp4_box(b"stsd", &stsd));
            let mut mdia = mp4_box(b"mdhd", &header(22_050));
            mdia.extend(mp4_box(b"hdlr", &hdlr));
            mdia.extend(mp4_box(b"minf", &stbl));
            // One edit: 2.1525 s at the movie's 1000/s, from media time 1024.
            let mut elst = vec![0, 0, 0, 0, 0, 0, 0, 1];
            elst.extend_from_slice(&2_152u32.to_be_bytes());
            elst.extend_from_slice(&1_024i32.to_be_bytes());
            elst.extend_from_slice(&0x0001_0000u32.to_be_bytes());
            let mut trak = mp4_box(b"edts", &mp4_box(b"elst", &elst));
            trak.extend(mp4_box(b"mdia", &mdia));
            let mut moov = mp4_box(b"mvhd", &header(1_000));
            moov.extend(mp4_box(b"trak", &trak));
            moov
        };
        let aac = parse_moov(&track(b"mp4a"));
        assert!(!aac.amr);
        let edit = aac.edit.unwrap();
        assert!((edit.skip_s - 1024.0 / 22_050.0).abs() < 1e-12);
        assert_eq!(edit.play_s, Some(2.152));
        assert!(parse_moov(&track(b"samr")).amr);
        assert!(parse_moov(&track(b"sawb")).amr);
    }
}
