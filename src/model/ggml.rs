//! Writes the ggml Whisper file whisper.cpp loads, converting from a CTranslate2 model.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use super::ct2::{Ct2Index, DType, Variable};
use super::error::ModelError;
use super::{mel, vocab};

pub(crate) const GGML_MAGIC: u32 = 0x6767_6d6c;
/// The hparams of Whisper base in file order: n_vocab, n_audio_ctx, n_audio_state, n_audio_head,
/// n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype (1 = f16).
pub(crate) const BASE_HPARAMS: [i32; 11] = [51865, 1500, 512, 8, 6, 448, 512, 8, 6, 80, 1];
/// Size of a correct f16 Whisper base file (ours and the official ggml-base.bin alike).
pub const BASE_GGML_SIZE: u64 = 147_951_465;

const TYPE_F32: i32 = 0;
const TYPE_F16: i32 = 1;
/// Elements converted per read while streaming a tensor: 128 KiB of f16, so memory stays small.
const CHUNK_ELEMS: usize = 64 * 1024;

/// What a successful conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    pub bytes: u64,
    pub sha256: String,
}

/// One output tensor: which rows of which CTranslate2 variable, stored as which type.
#[derive(Debug)]
struct Plan {
    name: String,
    var: Variable,
    /// Element range inside the variable (fused q/k/v matrices are split by rows).
    first: u64,
    count: u64,
    /// numpy-order shape; written reversed (ggml puts the innermost dimension first).
    shape: Vec<u64>,
    ttype: i32,
}

impl Plan {
    fn header_len(&self) -> u64 {
        12 + 4 * self.shape.len() as u64 + self.name.len() as u64
    }
    fn data_len(&self) -> u64 {
        self.count * if self.ttype == TYPE_F32 { 4 } else { 2 }
    }
}

/// Everything the ggml file needs from the CTranslate2 side, validated before a byte is written.
struct Source {
    hparams: [i32; 11],
    plans: Vec<Plan>,
    /// Variables that must be all zeros because whisper.cpp has no tensor for them (the key
    /// biases).
    zero_checks: Vec<(String, Variable, u64, u64)>,
}

fn to_i32(v: u64, what: &str) -> Result<i32, String> {
    i32::try_from(v).map_err(|_| format!("{what} {v} does not fit the ggml header"))
}

/// Counts `{prefix}/layer_{i}` blocks by probing a variable every layer has.
fn count_layers(idx: &Ct2Index, prefix: &str) -> usize {
    (0..)
        .take_while(|i| {
            idx.get(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))
                .is_ok()
        })
        .count()
}

fn plan(idx: &Ct2Index, file: &mut File) -> Result<Source, String> {
    if idx.spec != "WhisperSpec" {
        return Err(format!(
            "model spec is `{}`, expected `WhisperSpec`",
            idx.spec
        ));
    }
    let enc_pos = idx.get("encoder/position_encodings/encodings")?.clone();
    let dec_pos = idx.get("decoder/position_encodings/encodings")?.clone();
    let emb = idx.get("decoder/embeddings/weight")?.clone();
    let conv1 = idx.get("encoder/conv1/weight")?.clone();
    for (n, v) in [
        ("encoder positions", &enc_pos),
        ("decoder positions", &dec_pos),
        ("token embedding", &emb),
    ] {
        if v.shape.len() != 2 {
            return Err(format!("{n} have shape {:?}, expected 2-D", v.shape));
        }
    }
    if conv1.shape.len() != 3 {
        return Err(format!(
            "conv1 weight has shape {:?}, expected 3-D",
            conv1.shape
        ));
    }
    let (n_audio_layer, n_text_layer) =
        (count_layers(idx, "encoder"), count_layers(idx, "decoder"));
    if n_audio_layer == 0 || n_text_layer == 0 {
        return Err("no encoder or decoder layers".into());
    }
    let n_audio_state = enc_pos.shape[1];
    let n_text_state = dec_pos.shape[1];
    let hparams = [
        to_i32(emb.shape[0], "n_vocab")?,
        to_i32(enc_pos.shape[0], "n_audio_ctx")?,
        to_i32(n_audio_state, "n_audio_state")?,
        to_i32(
            idx.read_scalar_int(file, "encoder/num_heads")?.max(0) as u64,
            "n_audio_head",
        )?,
        to_i32(n_audio_layer as u64, "n_audio_layer")?,
        to_i32(dec_pos.shape[0], "n_text_ctx")?,
        to_i32(n_text_state, "n_text_state")?,
        to_i32(
            idx.read_scalar_int(file, "decoder/num_heads")?.max(0) as u64,
            "n_text_head",
        )?,
        to_i32(n_text_layer as u64, "n_text_layer")?,
        to_i32(conv1.shape[1], "n_mels")?,
        1,
    ];

    let mut b = Builder {
        idx,
        plans: Vec::new(),
        zero_checks: Vec::new(),
    };
    // Encoder: convolutions (biases as (n,1) f32 columns, as whisper.cpp declares them), positions,
    // blocks.
    for c in ["conv1", "conv2"] {
        b.whole(
            &format!("encoder.{c}.weight"),
            &format!("encoder/{c}/weight"),
        )?;
        let bias = b.var(&format!("encoder/{c}/bias"))?;
        let n = bias.elements();
        b.push(
            &format!("encoder.{c}.bias"),
            bias,
            0,
            n,
            vec![n, 1],
            TYPE_F32,
        );
    }
    b.push_f32(
        "encoder.positional_embedding",
        "encoder/position_encodings/encodings",
    )?;
    for i in 0..n_audio_layer {
        let (p, o) = (format!("encoder/layer_{i}"), format!("encoder.blocks.{i}"));
        b.self_attention(&p, &o, n_audio_state)?;
        b.ffn(&p, &o)?;
    }
    b.layer_norm("encoder.ln_post", "encoder/layer_norm")?;

    // Decoder: the projection is an alias of the embedding (tied weights), so it is not written.
    b.push_f32(
        "decoder.positional_embedding",
        "decoder/position_encodings/encodings",
    )?;
    b.whole(
        "decoder.token_embedding.weight",
        "decoder/embeddings/weight",
    )?;
    for i in 0..n_text_layer {
        let (p, o) = (format!("decoder/layer_{i}"), format!("decoder.blocks.{i}"));
        let s = n_text_state;
        b.self_attention(&p, &o, s)?;
        b.layer_norm(
            &format!("{o}.cross_attn_ln"),
            &format!("{p}/attention/layer_norm"),
        )?;
        b.linear(
            &format!("{o}.cross_attn.query"),
            &format!("{p}/attention/linear_0"),
        )?;
        // linear_1 fuses key and value of the encoder output: rows [0, s) key, [s, 2s) value.
        b.split(
            &format!("{o}.cross_attn.key"),
            &format!("{p}/attention/linear_1"),
            0,
            2,
            s,
            false,
        )?;
        b.split(
            &format!("{o}.cross_attn.value"),
            &format!("{p}/attention/linear_1"),
            1,
            2,
            s,
            true,
        )?;
        b.linear(
            &format!("{o}.cross_attn.out"),
            &format!("{p}/attention/linear_2"),
        )?;
        b.ffn(&p, &o)?;
    }
    b.layer_norm("decoder.ln", "decoder/layer_norm")?;

    Ok(Source {
        hparams,
        plans: b.plans,
        zero_checks: b.zero_checks,
    })
}

struct Builder<'a> {
    idx: &'a Ct2Index,
    plans: Vec<Plan>,
    zero_checks: Vec<(String, Variable, u64, u64)>,
}

impl Builder<'_> {
    fn var(&self, name: &str) -> Result<Variable, String> {
        let v = self.idx.get(name)?.clone();
        if v.dtype != DType::F16 {
            return Err(format!(
                "`{name}` is {:?}; only float16 CTranslate2 models are supported",
                v.dtype
            ));
        }
        Ok(v)
    }

    fn push(
        &mut self,
        name: &str,
        var: Variable,
        first: u64,
        count: u64,
        shape: Vec<u64>,
        ttype: i32,
    ) {
        self.plans.push(Plan {
            name: name.to_string(),
            var,
            first,
            count,
            shape,
            ttype,
        });
    }

    /// Copies a variable as is: 1-D ones become f32 (ggml adds and norms them in f32), the rest
    /// stay f16.
    fn whole(&mut self, out: &str, src: &str) -> Result<(), String> {
        let v = self.var(src)?;
        let ttype = if v.shape.len() == 1 {
            TYPE_F32
        } else {
            TYPE_F16
        };
        let (n, shape) = (v.elements(), v.shape.clone());
        self.push(out, v, 0, n, shape, ttype);
        Ok(())
    }

    fn push_f32(&mut self, out: &str, src: &str) -> Result<(), String> {
        let v = self.var(src)?;
        let (n, shape) = (v.elements(), v.shape.clone());
        self.push(out, v, 0, n, shape, TYPE_F32);
        Ok(())
    }

    fn linear(&mut self, out: &str, src: &str) -> Result<(), String> {
        self.whole(&format!("{out}.weight"), &format!("{src}/weight"))?;
        self.whole(&format!("{out}.bias"), &format!("{src}/bias"))
    }

    fn layer_norm(&mut self, out: &str, src: &str) -> Result<(), String> {
        self.whole(&format!("{out}.weight"), &format!("{src}/gamma"))?;
        self.whole(&format!("{out}.bias"), &format!("{src}/beta"))
    }

    fn ffn(&mut self, p: &str, o: &str) -> Result<(), String> {
        self.layer_norm(&format!("{o}.mlp_ln"), &format!("{p}/ffn/layer_norm"))?;
        self.linear(&format!("{o}.mlp.0"), &format!("{p}/ffn/linear_0"))?;
        self.linear(&format!("{o}.mlp.2"), &format!("{p}/ffn/linear_1"))
    }

    fn self_attention(&mut self, p: &str, o: &str, s: u64) -> Result<(), String> {
        let a = format!("{p}/self_attention");
        self.layer_norm(&format!("{o}.attn_ln"), &format!("{a}/layer_norm"))?;
        // linear_0 fuses query, key and value: rows [0, s), [s, 2s), [2s, 3s).
        self.split(
            &format!("{o}.attn.query"),
            &format!("{a}/linear_0"),
            0,
            3,
            s,
            true,
        )?;
        self.split(
            &format!("{o}.attn.key"),
            &format!("{a}/linear_0"),
            1,
            3,
            s,
            false,
        )?;
        self.split(
            &format!("{o}.attn.value"),
            &format!("{a}/linear_0"),
            2,
            3,
            s,
            true,
        )?;
        self.linear(&format!("{o}.attn.out"), &format!("{a}/linear_1"))
    }

    /// Takes part `part` of `parts` equal row blocks of a fused linear layer. Without `keep_bias`
    /// the bias slice must be zero (Whisper's key projections have no bias) and is dropped.
    fn split(
        &mut self,
        out: &str,
        src: &str,
        part: u64,
        parts: u64,
        s: u64,
        keep_bias: bool,
    ) -> Result<(), String> {
        let w = self.var(&format!("{src}/weight"))?;
        if w.shape.len() != 2 || w.shape[0] != parts * s {
            return Err(format!(
                "`{src}/weight` has shape {:?}, expected ({}, _)",
                w.shape,
                parts * s
            ));
        }
        let row = w.shape[1];
        self.push(
            &format!("{out}.weight"),
            w,
            part * s * row,
            s * row,
            vec![s, row],
            TYPE_F16,
        );
        let bias_name = format!("{src}/bias");
        let bias = self.var(&bias_name)?;
        if bias.shape != [parts * s] {
            return Err(format!(
                "`{bias_name}` has shape {:?}, expected ({})",
                bias.shape,
                parts * s
            ));
        }
        if keep_bias {
            self.push(&format!("{out}.bias"), bias, part * s, s, vec![s], TYPE_F32);
        } else {
            self.zero_checks.push((bias_name, bias, part * s, s));
        }
        Ok(())
    }
}

/// IEEE half → single; exact for every input, NaN payloads and subnormals included.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if man == 0 => sign,
        0 => {
            // Subnormal: man × 2^-24, which is exact in f32.
            let v = man as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        0x1f => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// Which side of a copy failed: reading the source or writing the output.
pub(crate) enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

impl From<io::Error> for CopyError {
    fn from(e: io::Error) -> Self {
        CopyError::Write(e)
    }
}

/// Reads `count` f16 elements starting at element `first` of `var`, in chunks, handing each to `f`.
fn stream_f16(
    file: &mut File,
    var: &Variable,
    first: u64,
    count: u64,
    buf: &mut Vec<u8>,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<(), CopyError> {
    file.seek(SeekFrom::Start(var.offset + first * 2))
        .map_err(CopyError::Read)?;
    let mut left = count;
    while left > 0 {
        let n = left.min(CHUNK_ELEMS as u64) as usize;
        buf.resize(n * 2, 0);
        file.read_exact(buf).map_err(CopyError::Read)?;
        f(buf).map_err(CopyError::Write)?;
        left -= n as u64;
    }
    Ok(())
}

/// A writer that counts and hashes what passes through, for the progress bar and the marker.
pub(crate) struct Tee<W: Write> {
    inner: W,
    hasher: Sha256,
    written: u64,
    bar: ProgressBar,
}

impl Tee<BufWriter<File>> {
    pub(crate) fn new(inner: BufWriter<File>, bar: &ProgressBar) -> Self {
        Tee {
            inner,
            hasher: Sha256::new(),
            written: 0,
            bar: bar.clone(),
        }
    }

    /// Flushes and syncs the file (durable before the rename, so a crash cannot leave a renamed
    /// but empty file); returns its size and sha256.
    pub(crate) fn finish(mut self) -> io::Result<Written> {
        self.flush()?;
        let Tee {
            inner,
            hasher,
            written,
            ..
        } = self;
        let f = inner.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(Written {
            bytes: written,
            sha256: hex(&hasher.finalize()),
        })
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        self.bar.inc(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn put_i32<W: Write>(w: &mut W, v: i32) -> io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

/// Converts `ct2_model_bin` + `vocabulary` to ggml at `out`, writing `.<name>.<pid>.tmp` next to it
/// and renaming at the end, so an interrupted run never leaves a half file under the final name.
pub(crate) fn convert_to(
    ct2_model_bin: &Path,
    vocabulary: &Path,
    out: &Path,
    bar: &ProgressBar,
) -> Result<Written, ModelError> {
    let src_err = |reason: String| ModelError::bad_source(ct2_model_bin, reason);
    let mut file = File::open(ct2_model_bin).map_err(|e| open_error(ct2_model_bin, e))?;
    let file_len = file
        .metadata()
        .map_err(|e| ModelError::io("read", ct2_model_bin, e))?
        .len();
    let idx = {
        let mut r = BufReader::new(&mut file);
        Ct2Index::read(&mut r, file_len).map_err(src_err)?
    };
    let source = plan(&idx, &mut file).map_err(src_err)?;

    let vocab_text = std::fs::read(vocabulary).map_err(|e| open_error(vocabulary, e))?;
    let vocab_text = String::from_utf8(vocab_text)
        .map_err(|_| ModelError::bad_source(vocabulary, "not UTF-8"))?;
    let tokens =
        vocab::load_tokens(&vocab_text).map_err(|r| ModelError::bad_source(vocabulary, r))?;
    drop(vocab_text);
    if tokens.len() as u64 > source.hparams[0] as u64 {
        return Err(ModelError::bad_source(
            vocabulary,
            format!(
                "{} tokens for a model with {}",
                tokens.len(),
                source.hparams[0]
            ),
        ));
    }

    let mut buf = Vec::with_capacity(CHUNK_ELEMS * 2);
    for (name, var, first, count) in &source.zero_checks {
        let mut nonzero = false;
        stream_f16(&mut file, var, *first, *count, &mut buf, |b| {
            nonzero |= b
                .chunks_exact(2)
                .any(|h| u16::from_le_bytes([h[0], h[1]]) & 0x7fff != 0);
            Ok(())
        })
        .map_err(|e| match e {
            CopyError::Read(e) | CopyError::Write(e) => ModelError::io("read", ct2_model_bin, e),
        })?;
        if nonzero {
            return Err(src_err(format!(
                "`{name}` has a non-zero key bias, which ggml Whisper cannot hold"
            )));
        }
    }

    let n_mels = source.hparams[9] as usize;
    let filters = mel::mel_filters(mel::SAMPLE_RATE, mel::N_FFT, n_mels);
    let n_bins = mel::N_FFT / 2 + 1;
    let total = 4
        + 4 * 11
        + 8
        + 4 * filters.len() as u64
        + 4
        + tokens.iter().map(|t| 4 + t.len() as u64).sum::<u64>()
        + source
            .plans
            .iter()
            .map(|p| p.header_len() + p.data_len())
            .sum::<u64>();
    bar.set_length(total);
    bar.set_position(0);

    let tmp = temp_path(out);
    let result = (|| -> Result<Written, CopyError> {
        let mut w = Tee::new(BufWriter::with_capacity(1 << 20, File::create(&tmp)?), bar);
        put_i32(&mut w, GGML_MAGIC as i32)?;
        for h in source.hparams {
            put_i32(&mut w, h)?;
        }
        put_i32(&mut w, n_mels as i32)?;
        put_i32(&mut w, n_bins as i32)?;
        for x in &filters {
            w.write_all(&x.to_le_bytes())?;
        }
        put_i32(&mut w, tokens.len() as i32)?;
        for t in &tokens {
            put_i32(&mut w, t.len() as i32)?;
            w.write_all(t)?;
        }
        let mut out_buf = Vec::with_capacity(CHUNK_ELEMS * 4);
        for p in &source.plans {
            put_i32(&mut w, p.shape.len() as i32)?;
            put_i32(&mut w, p.name.len() as i32)?;
            put_i32(&mut w, p.ttype)?;
            for d in p.shape.iter().rev() {
                put_i32(&mut w, *d as i32)?;
            }
            w.write_all(p.name.as_bytes())?;
            stream_f16(&mut file, &p.var, p.first, p.count, &mut buf, |b| {
                if p.ttype == TYPE_F16 {
                    return w.write_all(b);
                }
                out_buf.clear();
                for h in b.chunks_exact(2) {
                    out_buf.extend_from_slice(
                        &f16_to_f32(u16::from_le_bytes([h[0], h[1]])).to_le_bytes(),
                    );
                }
                w.write_all(&out_buf)
            })?;
        }
        Ok(w.finish()?)
    })();
    finish_temp(result, &tmp, out, ct2_model_bin, total)
}

/// Ends a write through the temp file `tmp`: on success (and exactly `total` bytes) renames it
/// to `out`; on failure removes it and names the side that failed (`src` for reads).
pub(crate) fn finish_temp(
    result: Result<Written, CopyError>,
    tmp: &Path,
    out: &Path,
    src: &Path,
    total: u64,
) -> Result<Written, ModelError> {
    let written = match result {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(tmp);
            return Err(match e {
                CopyError::Read(e) => ModelError::io("read", src, e),
                CopyError::Write(e) if super::error::is_disk_full(&e) => ModelError::DiskFull {
                    path: tmp.to_path_buf(),
                    dir: parent_dir(out),
                    needed_bytes: total,
                },
                CopyError::Write(e) => ModelError::io("write", tmp, e),
            });
        }
    };
    if written.bytes != total {
        let _ = std::fs::remove_file(tmp);
        return Err(ModelError::corrupt(
            tmp,
            format!("wrote {} bytes, planned {total}", written.bytes),
        ));
    }
    std::fs::rename(tmp, out).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        ModelError::io("rename into place", out, e)
    })?;
    sync_dir(out);
    Ok(written)
}

pub(crate) fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `dir/.name.<pid>.tmp`: hidden, and per process so two installs cannot write the same temp file.
pub(crate) fn temp_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    parent_dir(out).join(format!(".{name}.{}.tmp", std::process::id()))
}

/// Best effort: make the rename itself durable.
pub(crate) fn sync_dir(file_in_dir: &Path) {
    if let Ok(d) = File::open(parent_dir(file_in_dir)) {
        let _ = d.sync_all();
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn open_error(path: &Path, e: io::Error) -> ModelError {
    if e.kind() == io::ErrorKind::NotFound {
        ModelError::bad_source(path, "file not found")
    } else {
        ModelError::io("open", path, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_is_exact() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8); // smallest subnormal, 2^-24
        assert_eq!(f16_to_f32(0x03ff), 1023.0 / 16_777_216.0); // largest subnormal
        assert_eq!(f16_to_f32(0x0400), 6.103_515_6e-5); // smallest normal, 2^-14
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
