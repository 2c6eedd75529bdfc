//! Evidence clips: 16 kHz mono samples written as small Ogg/Opus files (speech, ~24 kbit/s), atomically.
//!
//! Ogg/Opus plays in every browser's `<audio>` element and costs about 3 KB a second, so the
//! clip of every banned hit can be kept for months. libopus encodes (through `opusic-sys`, the
//! library the Opus decoder already links); the `ogg` crate pages. The file follows RFC 7845:
//! an `OpusHead` page, an `OpusTags` page, then 20 ms packets whose granule positions count
//! 48 kHz samples including the encoder's pre-skip, the last one trimmed to the exact length.

use std::ffi::c_int;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::error::{AudioError, Repr};
use super::{sanitize, SAMPLE_RATE};

/// Target bitrate: speech stays intelligible with room to spare for a trainer listening back.
pub const CLIP_BITRATE: i32 = 24_000;

/// 20 ms at 16 kHz: the Opus frame size browsers and `opusenc` use.
const FRAME: usize = SAMPLE_RATE as usize / 50;

/// Ogg/Opus granule positions always count at 48 kHz, whatever rate was encoded.
const GRANULE_PER_SAMPLE: u64 = 48_000 / SAMPLE_RATE as u64;

/// Packets per Ogg page: one second, so a player can seek without reading far.
const PACKETS_PER_PAGE: usize = 50;

/// The largest Opus packet (RFC 6716 §3.4: 1275 bytes per frame).
const MAX_PACKET: usize = 1275;

/// Any fixed serial will do for a single-stream file; a fixed one keeps clips reproducible.
const SERIAL: u32 = 0x636c_6970;

/// Writes `samples` (16 kHz mono, [-1, 1]) to `path` as Ogg/Opus and returns its size in bytes.
///
/// The parent folder is created. The file appears complete or not at all: it is written to a
/// temporary name in the same folder, flushed to disk, then renamed over `path`.
///
/// # Example
/// ```no_run
/// let samples = courtesy::audio::read_wav(std::path::Path::new("samples/labelled/L003.wav"))?;
/// let bytes = courtesy::audio::clip::write_opus(std::path::Path::new("clips/L003.opus"), &samples)?;
/// println!("{bytes} bytes");
/// # Ok::<(), courtesy::audio::AudioError>(())
/// ```
pub fn write_opus(path: &Path, samples: &[f32]) -> Result<u64, AudioError> {
    let write_err = |err| AudioError::new(path, Repr::Write { err });
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(write_err)?;
    }
    let tmp = temp_name(path);
    let result = write_to(path, &tmp, samples)
        .and_then(|bytes| fs::rename(&tmp, path).map(|()| bytes).map_err(write_err));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `.NAME.PID-N.tmp` next to `path`: hidden, unique per process and call, same filesystem.
fn temp_name(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// Encodes into `tmp`; errors name `path`, the file the caller asked for.
fn write_to(path: &Path, tmp: &Path, samples: &[f32]) -> Result<u64, AudioError> {
    let write_err = |err| AudioError::new(path, Repr::Write { err });
    let mut encoder = Encoder::new().map_err(|e| AudioError::new(path, Repr::Encode(e)))?;
    let lookahead = encoder.lookahead();
    let pre_skip = lookahead as u64 * GRANULE_PER_SAMPLE;

    let file = File::create(tmp).map_err(write_err)?;
    let mut ogg = PacketWriter::new(BufWriter::new(file));
    ogg.write_packet(
        opus_head(pre_skip as u16),
        SERIAL,
        PacketWriteEndInfo::EndPage,
        0,
    )
    .map_err(write_err)?;
    ogg.write_packet(opus_tags(), SERIAL, PacketWriteEndInfo::EndPage, 0)
        .map_err(write_err)?;

    // The decoder's output lags the input by the lookahead: encode that much silence after the
    // end so the last samples come out, then trim with the final granule position.
    let total = samples.len() + lookahead;
    let frames = total.div_ceil(FRAME).max(1);
    let end_granule = pre_skip + samples.len() as u64 * GRANULE_PER_SAMPLE;
    let mut pcm = [0.0f32; FRAME];
    let mut packet = vec![0u8; MAX_PACKET * 3];
    for i in 0..frames {
        let start = i * FRAME;
        for (k, slot) in pcm.iter_mut().enumerate() {
            *slot = samples.get(start + k).map_or(0.0, |&x| sanitize(x));
        }
        let len = encoder
            .encode(&pcm, &mut packet)
            .map_err(|e| AudioError::new(path, Repr::Encode(e)))?;
        let last = i + 1 == frames;
        let granule = if last {
            end_granule
        } else {
            ((i + 1) * FRAME) as u64 * GRANULE_PER_SAMPLE
        };
        let end = if last {
            PacketWriteEndInfo::EndStream
        } else if (i + 1) % PACKETS_PER_PAGE == 0 {
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        ogg.write_packet(packet[..len].to_vec(), SERIAL, end, granule)
            .map_err(write_err)?;
    }

    let mut out = ogg.into_inner();
    out.flush().map_err(write_err)?;
    let file = out
        .into_inner()
        .map_err(|e| write_err(io::Error::other(e.to_string())))?;
    // On disk before the rename, so a crash never leaves a complete-looking empty clip.
    file.sync_all().map_err(write_err)?;
    Ok(file.metadata().map_err(write_err)?.len())
}

/// RFC 7845 §5.1: version 1, mono, pre-skip, the input rate (informational), no gain, family 0.
fn opus_head(pre_skip: u16) -> Vec<u8> {
    let mut h = Vec::with_capacity(19);
    h.extend_from_slice(b"OpusHead");
    h.push(1);
    h.push(1);
    h.extend_from_slice(&pre_skip.to_le_bytes());
    h.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    h.extend_from_slice(&0i16.to_le_bytes());
    h.push(0);
    h
}

/// RFC 7845 §5.2: vendor string and no comments.
fn opus_tags() -> Vec<u8> {
    let vendor = concat!("courtesy ", env!("CARGO_PKG_VERSION"), " (libopus)");
    let mut t = Vec::with_capacity(16 + vendor.len());
    t.extend_from_slice(b"OpusTags");
    t.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    t.extend_from_slice(vendor.as_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    t
}

/// A libopus encoder for 16 kHz mono speech, freed on drop.
struct Encoder {
    ptr: *mut opusic_sys::OpusEncoder,
}

impl Encoder {
    fn new() -> Result<Encoder, String> {
        let mut error: c_int = 0;
        // SAFETY: plain constructor; `error` outlives the call. A null pointer is handled below.
        let ptr = unsafe {
            opusic_sys::opus_encoder_create(
                SAMPLE_RATE as i32,
                1,
                opusic_sys::OPUS_APPLICATION_VOIP,
                &mut error,
            )
        };
        if error != opusic_sys::OPUS_OK || ptr.is_null() {
            return Err(format!("opus_encoder_create returned {error}"));
        }
        let encoder = Encoder { ptr };
        encoder.set(opusic_sys::OPUS_SET_BITRATE_REQUEST, CLIP_BITRATE)?;
        encoder.set(
            opusic_sys::OPUS_SET_SIGNAL_REQUEST,
            opusic_sys::OPUS_SIGNAL_VOICE,
        )?;
        Ok(encoder)
    }

    fn set(&self, request: c_int, value: c_int) -> Result<(), String> {
        // SAFETY: `ptr` is a live encoder; SET requests take one `opus_int32` argument.
        let rc = unsafe { opusic_sys::opus_encoder_ctl(self.ptr, request, value) };
        if rc == opusic_sys::OPUS_OK {
            Ok(())
        } else {
            Err(format!("opus_encoder_ctl({request}) returned {rc}"))
        }
    }

    /// Samples (at 16 kHz) the decoder's output lags the input.
    fn lookahead(&self) -> usize {
        let mut value: opusic_sys::opus_int32 = 0;
        // SAFETY: GET_LOOKAHEAD writes one `opus_int32` through the pointer, which outlives the call.
        let rc = unsafe {
            opusic_sys::opus_encoder_ctl(
                self.ptr,
                opusic_sys::OPUS_GET_LOOKAHEAD_REQUEST,
                &mut value as *mut opusic_sys::opus_int32,
            )
        };
        // libopus's lookahead at 16 kHz is 2.5 ms + 4 ms of delay compensation; fall back to it.
        if rc == opusic_sys::OPUS_OK && value >= 0 {
            value as usize
        } else {
            104
        }
    }

    /// Encodes one 20 ms frame; returns the packet length written to `out`.
    fn encode(&mut self, pcm: &[f32; FRAME], out: &mut [u8]) -> Result<usize, String> {
        // SAFETY: `pcm` holds exactly FRAME samples for one channel and `out` has `out.len()`
        // writable bytes; libopus reads and writes within those bounds.
        let n = unsafe {
            opusic_sys::opus_encode_float(
                self.ptr,
                pcm.as_ptr(),
                FRAME as c_int,
                out.as_mut_ptr(),
                out.len() as opusic_sys::opus_int32,
            )
        };
        usize::try_from(n).map_err(|_| format!("opus_encode_float returned {n}"))
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create and destroyed exactly once.
        unsafe { opusic_sys::opus_encoder_destroy(self.ptr) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_granules(bytes: &[u8]) -> Vec<(u64, u8)> {
        // (granule, header type) of every page, read straight from the bytes.
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + 27 <= bytes.len() {
            assert_eq!(&bytes[pos..pos + 4], b"OggS", "page at {pos}");
            let granule = u64::from_le_bytes(bytes[pos + 6..pos + 14].try_into().unwrap());
            let segments = bytes[pos + 26] as usize;
            let body: usize = bytes[pos + 27..pos + 27 + segments]
                .iter()
                .map(|&b| b as usize)
                .sum();
            out.push((granule, bytes[pos + 5]));
            pos += 27 + segments + body;
        }
        assert_eq!(pos, bytes.len());
        out
    }

    #[test]
    fn headers_and_granules_follow_rfc_7845() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/clip.opus");
        let samples: Vec<f32> = (0..16_000 * 3 + 123)
            .map(|i| 0.3 * (i as f32 * 0.05).sin())
            .collect();
        let bytes = write_opus(&path, &samples).unwrap();
        let data = fs::read(&path).unwrap();
        assert_eq!(bytes, data.len() as u64);
        assert_eq!(&data[28..36], b"OpusHead");
        let pre_skip = u16::from_le_bytes([data[38], data[39]]) as u64;
        assert!(pre_skip > 0 && pre_skip < 1000, "pre-skip {pre_skip}");

        let pages = page_granules(&data);
        assert_eq!(pages[0], (0, 0x02), "OpusHead page starts the stream");
        assert_eq!(pages[1].0, 0, "OpusTags page has granule 0");
        let (last_granule, last_flags) = *pages.last().unwrap();
        assert_eq!(last_flags & 0x04, 0x04, "last page ends the stream");
        assert_eq!(last_granule, pre_skip + samples.len() as u64 * 3);
        let granules: Vec<u64> = pages.iter().map(|p| p.0).collect();
        assert!(granules.windows(2).all(|w| w[0] <= w[1]), "{granules:?}");
        // No temporary file is left next to it.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn about_24_kbit_per_second_of_speech_like_signal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("noise.opus");
        // Pseudo-random noise: the hardest case for the bitrate, unlike silence.
        let mut x = 12345u32;
        let samples: Vec<f32> = (0..16_000 * 10)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 8) as f32 / (1u32 << 24) as f32 * 0.4 - 0.2
            })
            .collect();
        let bytes = write_opus(&path, &samples).unwrap();
        let kbit_s = bytes as f64 * 8.0 / 10.0 / 1000.0;
        assert!((18.0..32.0).contains(&kbit_s), "{kbit_s:.1} kbit/s");
    }

    #[test]
    fn an_unwritable_place_is_one_line_naming_the_clip() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let path = blocker.join("clip.opus");
        let err = write_opus(&path, &[0.0; 320]).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&path.display().to_string()), "{text}");
        assert!(!text.contains('\n'));
        assert_eq!(err.kind(), super::super::AudioErrorKind::Write);
    }
}
