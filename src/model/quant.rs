//! Quantized weights: the ggml block encoders (q8_0, q5_0, q5_1) and the f16 → quantized rewrite.
//!
//! The blocks are byte for byte what ggml's reference quantizers (`quantize_row_*_ref` in
//! `ggml-quants.c`, the ones whisper.cpp's `quantize` tool uses) write: 32 weights per block, the
//! scale as an IEEE half rounded to nearest even. Which tensors are quantized follows that tool
//! too: every 2-D tensor stored as f16 (the linear layers and the token embedding); the
//! convolution kernels (3-D) stay f16, and biases, norms and positional embeddings stay f32 —
//! whisper.cpp's loader expects exactly that split for a quantized `ftype`.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use indicatif::ProgressBar;

use super::check;
use super::error::ModelError;
use super::ggml::{self, f16_to_f32, Written};

/// Weights per block, for every block type here.
pub const BLOCK: usize = 32;

/// How the weight matrices of a ggml Whisper file are stored.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Quant {
    /// IEEE half: the weights exactly as published (148 MB for base).
    F16,
    /// 8-bit integers with one f16 scale per 32 weights (8.5 bits per weight). The default: as
    /// accurate as f16 on our sets and faster, since the decoder reads every weight once per token
    /// and q8_0 is about half the bytes (README, "Figures").
    #[default]
    #[serde(rename = "q8_0")]
    Q8_0,
    /// 5-bit integers, one f16 scale per block, symmetric (5.5 bits per weight).
    #[serde(rename = "q5_0")]
    Q5_0,
    /// 5-bit integers, one f16 scale and one f16 minimum per block (6 bits per weight).
    #[serde(rename = "q5_1")]
    Q5_1,
}

/// ggml's version of the quantized formats, stored in the thousands of `ftype`.
const QNT_VERSION: i32 = 2;

impl Quant {
    /// Every kind, f16 first.
    pub const ALL: [Quant; 4] = [Quant::F16, Quant::Q8_0, Quant::Q5_0, Quant::Q5_1];

    /// The name used on the command line, in the config and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Quant::F16 => "f16",
            Quant::Q8_0 => "q8_0",
            Quant::Q5_0 => "q5_0",
            Quant::Q5_1 => "q5_1",
        }
    }

    /// The model's file name: `ggml-base.bin` for f16 (the name every install so far used),
    /// `ggml-base-q8_0.bin` and so on for the others.
    pub fn file_name(self) -> String {
        match self {
            Quant::F16 => super::GGML_FILE.to_string(),
            q => format!("ggml-base-{}.bin", q.name()),
        }
    }

    /// The ggml tensor type of the weight matrices.
    pub(crate) fn ggml_type(self) -> i32 {
        match self {
            Quant::F16 => 1,
            Quant::Q5_0 => 6,
            Quant::Q5_1 => 7,
            Quant::Q8_0 => 8,
        }
    }

    /// The `ftype` of the file header: ggml's `GGML_FTYPE_MOSTLY_*`, plus the quantization
    /// version in the thousands for quantized files (as whisper.cpp's `quantize` writes it).
    pub(crate) fn ftype(self) -> i32 {
        match self {
            Quant::F16 => 1,
            Quant::Q8_0 => QNT_VERSION * 1000 + 7,
            Quant::Q5_0 => QNT_VERSION * 1000 + 8,
            Quant::Q5_1 => QNT_VERSION * 1000 + 9,
        }
    }

    /// The kind a header's `ftype` announces, if it is one of ours.
    pub(crate) fn from_ftype(ftype: i32) -> Option<Quant> {
        Quant::ALL.into_iter().find(|q| q.ftype() == ftype)
    }

    /// Bytes of one block of [`BLOCK`] weights (f16: 32 halves).
    pub(crate) fn block_bytes(self) -> usize {
        match self {
            Quant::F16 => 2 * BLOCK,
            Quant::Q8_0 => 34,
            Quant::Q5_0 => 22,
            Quant::Q5_1 => 24,
        }
    }

    /// Size of Whisper base in this format (our converter's output; f16 is the official size).
    pub fn base_size(self) -> u64 {
        match self {
            Quant::F16 => ggml::BASE_GGML_SIZE,
            Quant::Q8_0 => BASE_Q8_0_SIZE,
            Quant::Q5_0 => BASE_Q5_0_SIZE,
            Quant::Q5_1 => BASE_Q5_1_SIZE,
        }
    }

    /// Appends the encoding of one block of [`BLOCK`] weights to `out`.
    pub fn encode_block(self, x: &[f32; BLOCK], out: &mut Vec<u8>) {
        match self {
            Quant::F16 => {
                for v in x {
                    out.extend_from_slice(&f32_to_f16(*v).to_le_bytes());
                }
            }
            Quant::Q8_0 => q8_0(x, out),
            Quant::Q5_0 => q5_0(x, out),
            Quant::Q5_1 => q5_1(x, out),
        }
    }

    /// The weights one encoded block stands for (what ggml computes with).
    pub fn decode_block(self, b: &[u8]) -> [f32; BLOCK] {
        let half = |i: usize| f16_to_f32(u16::from_le_bytes([b[i], b[i + 1]]));
        let mut y = [0f32; BLOCK];
        match self {
            Quant::F16 => {
                for (j, v) in y.iter_mut().enumerate() {
                    *v = half(2 * j);
                }
            }
            Quant::Q8_0 => {
                let d = half(0);
                for (j, v) in y.iter_mut().enumerate() {
                    *v = b[2 + j] as i8 as f32 * d;
                }
            }
            Quant::Q5_0 | Quant::Q5_1 => {
                let (d, m, at) = match self {
                    Quant::Q5_0 => (half(0), -16.0, 2),
                    _ => (half(0), half(2), 4),
                };
                let qh = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                let qs = &b[at + 4..at + 4 + BLOCK / 2];
                for j in 0..BLOCK / 2 {
                    let lo = (qs[j] & 0x0f) as u32 | ((qh >> j) & 1) << 4;
                    let hi = (qs[j] >> 4) as u32 | ((qh >> (j + BLOCK / 2)) & 1) << 4;
                    // q5_0 is symmetric around 16 (m = −16 quanta); q5_1 adds its minimum.
                    let (a, z) = match self {
                        Quant::Q5_0 => ((lo as f32 + m) * d, (hi as f32 + m) * d),
                        _ => (lo as f32 * d + m, hi as f32 * d + m),
                    };
                    y[j] = a;
                    y[j + BLOCK / 2] = z;
                }
            }
        }
        y
    }
}

impl std::fmt::Display for Quant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Quant {
    type Err = String;
    fn from_str(s: &str) -> Result<Quant, String> {
        Quant::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown weights `{s}` — use f16, q8_0, q5_0 or q5_1"))
    }
}

/// Sizes of Whisper base in the quantized formats (measured from the converter's output; the
/// check refuses a base file of another size).
const BASE_Q8_0_SIZE: u64 = 81_768_585;
const BASE_Q5_0_SIZE: u64 = 55_295_433;
const BASE_Q5_1_SIZE: u64 = 59_707_625;

/// IEEE single → half, rounded to nearest even (what ggml's `GGML_FP32_TO_FP16` and F16C do).
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x007f_ffff;
    if exp == 0xff {
        // Inf stays inf; NaN keeps the top of its payload and stays a NaN.
        let nan = if man != 0 {
            0x0200 | (man >> 13) as u16
        } else {
            0
        };
        return sign | 0x7c00 | nan;
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // A half subnormal (or zero): count units of 2^-24.
        if e < -10 {
            return sign;
        }
        let m = man | 0x0080_0000;
        let shift = (14 - e) as u32;
        let (q, rem, half) = (m >> shift, m & ((1 << shift) - 1), 1u32 << (shift - 1));
        let q = q + u32::from(rem > half || (rem == half && q & 1 == 1));
        return sign | q as u16;
    }
    let h = sign | ((e as u16) << 10) | (man >> 13) as u16;
    let rem = man & 0x1fff;
    // A carry out of the mantissa rolls into the exponent, up to infinity: still correct.
    h + u16::from(rem > 0x1000 || (rem == 0x1000 && h & 1 == 1))
}

/// `quantize_row_q8_0_ref`: d = max|x| / 127, q = round(x / d), half-away-from-zero.
fn q8_0(x: &[f32; BLOCK], out: &mut Vec<u8>) {
    let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f32_to_f16(d).to_le_bytes());
    out.extend(x.iter().map(|v| (v * id).round() as i8 as u8));
}

/// `quantize_row_q5_0_ref`: d = (the value of largest magnitude) / −16, q = x/d + 16 in 0..=31.
fn q5_0(x: &[f32; BLOCK], out: &mut Vec<u8>) {
    let (mut amax, mut max) = (0f32, 0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -16.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f32_to_f16(d).to_le_bytes());
    // C's `(int8_t)(v + 16.5f)` truncates toward zero; the value is never below 0 here.
    pack5(x, |v| ((v * id + 16.5) as i8).min(31) as u8, out);
}

/// `quantize_row_q5_1_ref`: d = (max − min) / 31, m = min, q = (x − m)/d rounded half up.
fn q5_1(x: &[f32; BLOCK], out: &mut Vec<u8>) {
    let min = x.iter().fold(f32::MAX, |a, &v| a.min(v));
    let max = x.iter().fold(-f32::MAX, |a, &v| a.max(v));
    let d = (max - min) / 31.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f32_to_f16(d).to_le_bytes());
    out.extend_from_slice(&f32_to_f16(min).to_le_bytes());
    pack5(x, |v| ((v - min) * id + 0.5) as u8, out);
}

/// The 5-bit layout shared by q5_0 and q5_1: the 32 high bits as one little-endian u32 (bit j
/// for weight j), then 16 bytes of low nibbles, weight j in the low half of byte j and weight
/// j + 16 in its high half.
fn pack5(x: &[f32; BLOCK], q: impl Fn(f32) -> u8, out: &mut Vec<u8>) {
    let mut qh = 0u32;
    let mut qs = [0u8; BLOCK / 2];
    for j in 0..BLOCK / 2 {
        let (a, b) = (q(x[j]), q(x[j + BLOCK / 2]));
        qs[j] = (a & 0x0f) | ((b & 0x0f) << 4);
        qh |= u32::from((a & 0x10) >> 4) << j;
        qh |= u32::from((b & 0x10) >> 4) << (j + BLOCK / 2);
    }
    out.extend_from_slice(&qh.to_le_bytes());
    out.extend_from_slice(&qs);
}

/// Writes `out`, the f16 ggml Whisper file `f16_model` with its weight matrices stored as
/// `quant`, through a temp file renamed into place. The source must pass the model check and be
/// f16; everything but the `ftype` and the matrices is copied byte for byte.
pub(crate) fn requantize(
    f16_model: &Path,
    out: &Path,
    quant: Quant,
    bar: &ProgressBar,
) -> Result<Written, ModelError> {
    let layout = check::layout(f16_model)?;
    if layout.hparams[10] != Quant::F16.ftype() {
        return Err(ModelError::corrupt(
            f16_model,
            format!(
                "ftype {} is not f16, and only an f16 model can be quantized",
                layout.hparams[10]
            ),
        ));
    }
    let mut src = File::open(f16_model).map_err(|e| ModelError::io("open", f16_model, e))?;
    let plan: Vec<(bool, &check::TensorInfo)> = layout
        .tensors
        .iter()
        .map(|t| (quantized(t) && quant != Quant::F16, t))
        .collect();
    for (q, t) in &plan {
        if *q && t.dims[0] % BLOCK as u64 != 0 {
            return Err(ModelError::corrupt(
                f16_model,
                format!(
                    "tensor `{}` has rows of {} weights, not a multiple of {BLOCK}: it cannot be quantized",
                    t.name, t.dims[0]
                ),
            ));
        }
    }
    let total: u64 = layout.tensors_at
        + plan
            .iter()
            .map(|(q, t)| {
                t.header_len()
                    + if *q {
                        t.elements() / BLOCK as u64 * quant.block_bytes() as u64
                    } else {
                        t.data_len
                    }
            })
            .sum::<u64>();
    bar.set_length(total);
    bar.set_position(0);

    let tmp = ggml::temp_path(out);
    let result = (|| -> Result<Written, ggml::CopyError> {
        use ggml::CopyError::{Read as R, Write as W};
        let mut w = ggml::Tee::new(BufWriter::with_capacity(1 << 20, File::create(&tmp)?), bar);
        let mut r = BufReader::with_capacity(1 << 20, &mut src);
        // The header up to the tensors, with the new ftype (the 12th i32).
        let mut head = vec![0u8; layout.tensors_at as usize];
        r.read_exact(&mut head).map_err(R)?;
        head[44..48].copy_from_slice(&quant.ftype().to_le_bytes());
        w.write_all(&head)?;
        let mut buf = Vec::new();
        let mut enc = Vec::new();
        let mut block = [0f32; BLOCK];
        for (q, t) in &plan {
            r.seek(SeekFrom::Start(t.data_at)).map_err(R)?;
            let ttype = if *q { quant.ggml_type() } else { t.ttype };
            t.write_header(&mut w, ttype)?;
            let mut left = t.data_len;
            while left > 0 {
                // Chunks are whole blocks (a multiple of 64 bytes of f16), so no block straddles two.
                let n = left.min(1 << 17) as usize;
                buf.resize(n, 0);
                r.read_exact(&mut buf).map_err(R)?;
                left -= n as u64;
                if !q {
                    w.write_all(&buf)?;
                    continue;
                }
                enc.clear();
                for chunk in buf.chunks_exact(2 * BLOCK) {
                    for (v, h) in block.iter_mut().zip(chunk.chunks_exact(2)) {
                        *v = f16_to_f32(u16::from_le_bytes([h[0], h[1]]));
                    }
                    quant.encode_block(&block, &mut enc);
                }
                w.write_all(&enc)?;
            }
        }
        w.finish().map_err(W)
    })();
    let written = ggml::finish_temp(result, &tmp, out, f16_model, total)?;
    Ok(written)
}

/// Whether whisper.cpp's quantizer would quantize this tensor of an f16 file: 2-D and f16.
fn quantized(t: &check::TensorInfo) -> bool {
    t.ttype == Quant::F16.ggml_type() && t.dims.len() == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(f: impl FnMut(usize) -> f32) -> [f32; BLOCK] {
        std::array::from_fn(f)
    }

    fn encode(q: Quant, x: &[f32; BLOCK]) -> Vec<u8> {
        let mut out = Vec::new();
        q.encode_block(x, &mut out);
        assert_eq!(out.len(), q.block_bytes(), "{q}");
        out
    }

    #[test]
    fn f32_to_f16_round_trips_every_half_and_rounds_to_even() {
        for h in 0..=u16::MAX {
            let x = f16_to_f32(h);
            if x.is_nan() {
                assert!(f16_to_f32(f32_to_f16(x)).is_nan(), "{h:#06x}");
            } else {
                assert_eq!(f32_to_f16(x), h, "{h:#06x} = {x}");
            }
        }
        // Ties go to the even mantissa: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11) + 2f32.powi(-20)), 0x3c01);
        assert_eq!(f32_to_f16(65520.0), 0x7c00, "rounds up to infinity");
        assert_eq!(f32_to_f16(65519.0), 0x7bff);
        assert_eq!(
            f32_to_f16(1e-8),
            0x0000,
            "under half the smallest subnormal"
        );
        assert_eq!(
            f32_to_f16(3.0 * 2f32.powi(-25)),
            0x0002,
            "subnormal tie to even"
        );
        assert_eq!(f32_to_f16(-0.0), 0x8000);
    }

    /// A known block, encoded by hand from the reference C code.
    #[test]
    fn known_blocks_have_the_reference_bytes() {
        // q8_0 with max |x| = 127: d = 1 (f16 0x3c00) and every quant is the weight itself.
        let b = encode(Quant::Q8_0, &block(|j| 127.0 - 8.0 * j as f32));
        let mut want = vec![0x00, 0x3c];
        want.extend((0..32).map(|j| (127 - 8 * j) as i8 as u8));
        assert_eq!(b, want);
        assert_eq!(b[33], (-121i8) as u8);

        // x_j = j − 16 (−16 … 15).
        let x = block(|j| j as f32 - 16.0);

        // q5_0: the largest magnitude is −16, so d = 1 (0x3c00) and q_j = x_j + 16 = j.
        let b = encode(Quant::Q5_0, &x);
        let mut want = vec![0x00, 0x3c, 0x00, 0x00, 0xff, 0xff];
        want.extend((0..16u8).map(|j| j | (j << 4)));
        assert_eq!(b, want);

        // q5_1: min −16 (0xcc00), d = 31/31 = 1 (0x3c00), q_j = j, as for q5_0 after its header.
        let b = encode(Quant::Q5_1, &x);
        let mut want5_1 = vec![0x00, 0x3c, 0x00, 0xcc];
        want5_1.extend_from_slice(&want[2..]);
        assert_eq!(b, want5_1);

        // All zeros: scale 0, every quant at its zero point.
        let z = [0f32; BLOCK];
        assert_eq!(encode(Quant::Q8_0, &z), vec![0; 34]);
        // q5_0 of zeros: d = 0 / −16 = −0 (0x8000), every quant 16: all high bits set, nibbles 0.
        let b = encode(Quant::Q5_0, &z);
        let mut want = vec![0x00, 0x80, 0xff, 0xff, 0xff, 0xff];
        want.extend([0u8; 16]);
        assert_eq!(b, want);
        assert_eq!(Quant::Q5_0.decode_block(&b), z);
    }

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// Decoding what was encoded gives each weight back within half a quantum (plus the f16
    /// rounding of the scale), over blocks of every scale and sign mix.
    #[test]
    fn round_trip_error_is_within_half_a_quantum() {
        let mut seed = 7u64;
        for round in 0..2000 {
            let scale = 10f32.powi(round % 7 - 3);
            let skew = if round % 3 == 0 { scale } else { 0.0 };
            let x = block(|_| lcg(&mut seed) * scale + skew);
            let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
            let (min, max) = x
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            for q in Quant::ALL {
                let y = q.decode_block(&encode(q, &x));
                // The scale is stored as f16: a relative error of 2^-11 on every reconstruction
                // (and half a subnormal unit per quantum when the scale is tiny). q5_0 clips the
                // weight opposite its largest one at 15 quanta, a whole quantum off.
                let tiny = 128.0 * 2f32.powi(-25);
                let bound = tiny
                    + match q {
                        Quant::F16 => amax * 2f32.powi(-11),
                        Quant::Q8_0 => amax / 127.0 * 0.5 + amax * 2f32.powi(-10),
                        Quant::Q5_0 => amax / 16.0 + amax * 2f32.powi(-10),
                        Quant::Q5_1 => {
                            (max - min) / 31.0 * 0.5 + (max.abs() + min.abs()) * 2f32.powi(-10)
                        }
                    };
                for (a, b) in x.iter().zip(&y) {
                    assert!(
                        (a - b).abs() <= bound * 1.0001,
                        "{q}: {a} came back as {b}, bound {bound} (round {round})"
                    );
                }
            }
        }
    }

    /// The encoders against ggml itself (the library whisper-rs links): the same bytes for the
    /// same rows, and the same halves.
    #[test]
    fn blocks_are_byte_identical_to_ggml_quantize_chunk() {
        use whisper_rs_sys as sys;
        let (rows, per_row) = (48usize, 512usize);
        let mut seed = 11u64;
        let x: Vec<f32> = (0..rows * per_row)
            .map(|i| {
                let row_scale = 10f32.powi((i / per_row) as i32 % 5 - 3);
                lcg(&mut seed) * row_scale + if i % 7 == 0 { row_scale } else { 0.0 }
            })
            .collect();
        for q in [Quant::Q8_0, Quant::Q5_0, Quant::Q5_1] {
            let mut ours = Vec::new();
            for b in x.chunks_exact(BLOCK) {
                q.encode_block(b.try_into().unwrap(), &mut ours);
            }
            let mut theirs = vec![0u8; ours.len()];
            // SAFETY: `x` holds rows × per_row floats, `theirs` the bytes those rows take in
            // this type (checked against the returned size below); no importance matrix.
            let n = unsafe {
                sys::ggml_quantize_chunk(
                    q.ggml_type() as sys::ggml_type,
                    x.as_ptr(),
                    theirs.as_mut_ptr().cast(),
                    0,
                    rows as i64,
                    per_row as i64,
                    std::ptr::null(),
                )
            };
            assert_eq!(n, ours.len(), "{q}");
            let first_diff = ours.iter().zip(&theirs).position(|(a, b)| a != b);
            assert_eq!(first_diff, None, "{q}: first differing byte");
        }
        for (i, v) in x.iter().enumerate() {
            // SAFETY: a pure conversion function.
            let h = unsafe { sys::ggml_fp32_to_fp16(*v) };
            assert_eq!(f32_to_f16(*v), h, "value {i}: {v}");
        }
    }

    #[test]
    fn names_parse_and_file_names_differ() {
        for q in Quant::ALL {
            assert_eq!(q.name().parse::<Quant>().unwrap(), q);
            assert_eq!(Quant::from_ftype(q.ftype()), Some(q));
        }
        assert_eq!(Quant::F16.file_name(), "ggml-base.bin");
        assert_eq!(Quant::Q5_1.file_name(), "ggml-base-q5_1.bin");
        let e = "q4_0".parse::<Quant>().unwrap_err();
        assert!(e.contains("q8_0"), "{e}");
        assert_eq!(Quant::Q8_0.ftype(), 2007);
    }
}
