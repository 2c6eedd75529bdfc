//! Checks a ggml Whisper file before whisper.cpp loads it: header, hparams, and every tensor to the
//! end.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::Path;

use super::error::ModelError;
use super::ggml::{BASE_HPARAMS, GGML_MAGIC};
use super::quant::Quant;

/// Where everything is in a ggml Whisper file that passed the check.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The 11 header integers; `hparams[10]` is the ftype.
    pub hparams: [i32; 11],
    /// Offset of the first tensor header (the end of the vocabulary).
    pub tensors_at: u64,
    pub tensors: Vec<TensorInfo>,
}

/// One tensor of a ggml file.
#[derive(Debug, Clone)]
pub(crate) struct TensorInfo {
    pub name: String,
    pub ttype: i32,
    /// ggml order: the innermost (row) dimension first.
    pub dims: Vec<u64>,
    /// Offset and length of its data.
    pub data_at: u64,
    pub data_len: u64,
}

impl TensorInfo {
    pub(crate) fn elements(&self) -> u64 {
        self.dims.iter().product()
    }

    pub(crate) fn header_len(&self) -> u64 {
        12 + 4 * self.dims.len() as u64 + self.name.len() as u64
    }

    /// Writes this tensor's header with type `ttype`.
    pub(crate) fn write_header<W: Write>(&self, w: &mut W, ttype: i32) -> io::Result<()> {
        for v in [self.dims.len() as i32, self.name.len() as i32, ttype] {
            w.write_all(&v.to_le_bytes())?;
        }
        for d in &self.dims {
            w.write_all(&(*d as i32).to_le_bytes())?;
        }
        w.write_all(self.name.as_bytes())
    }
}

/// Bytes per element block and elements per block of the ggml types Whisper files use.
fn type_block(ttype: i32) -> Option<(u64, u64)> {
    Some(match ttype {
        0 => (4, 1),      // f32
        1 => (2, 1),      // f16
        2 => (18, 32),    // q4_0
        3 => (20, 32),    // q4_1
        6 => (22, 32),    // q5_0
        7 => (24, 32),    // q5_1
        8 => (34, 32),    // q8_0
        10 => (84, 256),  // q2_K
        11 => (110, 256), // q3_K
        12 => (144, 256), // q4_K
        13 => (176, 256), // q5_K
        14 => (210, 256), // q6_K
        _ => return None,
    })
}

/// Tensors whisper.cpp requires for the given layer counts (see the table in the module's
/// `convert`).
pub(crate) fn expected_tensors(n_audio_layer: i32, n_text_layer: i32) -> u64 {
    // encoder: 2 convs × (w, b) + positions + 15 per block + ln_post (w, b);
    // decoder: positions + token embedding + 24 per block + ln (w, b).
    (5 + 15 * n_audio_layer as i64 + 2 + 2 + 24 * n_text_layer as i64 + 2).max(0) as u64
}

/// Validates a ggml Whisper file without loading it: magic, hparams, mel filters, vocabulary, then
/// every tensor header and data length up to the exact end of the file.
pub(crate) fn check(path: &Path) -> Result<(), ModelError> {
    layout(path).map(|_| ())
}

/// [`check`], returning where every part of the file is.
pub(crate) fn layout(path: &Path) -> Result<Layout, ModelError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ModelError::NotFound {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(ModelError::io("open", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| ModelError::io("read", path, e))?;
    if meta.is_dir() {
        return Err(ModelError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let len = meta.len();
    let mut r = BufReader::new(file);
    walk(&mut r, len).map_err(|reason| ModelError::corrupt(path, reason))
}

fn walk<R: Read + Seek>(r: &mut BufReader<R>, len: u64) -> Result<Layout, String> {
    let eof = |what: &'static str| {
        move |e: io::Error| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                format!("file ends inside the {what}, at {len} bytes")
            } else {
                format!("reading the {what}: {e}")
            }
        }
    };
    let i32_at = |r: &mut BufReader<R>, what: &'static str| -> Result<i32, String> {
        let mut b = [0u8; 4];
        r.read_exact(&mut b).map_err(eof(what))?;
        Ok(i32::from_le_bytes(b))
    };
    let magic = i32_at(r, "header")? as u32;
    if magic != GGML_MAGIC {
        return Err(format!(
            "bad magic 0x{magic:08x}, expected 0x{GGML_MAGIC:08x}: not a ggml Whisper file"
        ));
    }
    let mut hp = [0i32; 11];
    for h in hp.iter_mut() {
        *h = i32_at(r, "hyperparameters")?;
    }
    let names = [
        "n_vocab",
        "n_audio_ctx",
        "n_audio_state",
        "n_audio_head",
        "n_audio_layer",
        "n_text_ctx",
        "n_text_state",
        "n_text_head",
        "n_text_layer",
        "n_mels",
    ];
    for (n, v) in names.iter().zip(hp) {
        if !(1..=1_000_000).contains(&v) {
            return Err(format!("implausible hyperparameter {n} = {v}"));
        }
    }
    // ftype (0 f32, 1 f16, higher: quantized) may carry a quantization version in its thousands.
    if !(0..=30).contains(&(hp[10] % 1000)) || hp[10] < 0 {
        return Err(format!("unknown ftype {}", hp[10]));
    }
    // The matrices of a file we know are all of its ftype's type; the rest f16 or f32.
    let matrix_type = Quant::from_ftype(hp[10]).map(Quant::ggml_type);

    let n_mel = i32_at(r, "mel filters")?;
    let n_fft = i32_at(r, "mel filters")?;
    if n_mel != hp[9] || !(1..=4096).contains(&n_fft) {
        return Err(format!(
            "mel filter bank is {n_mel}×{n_fft}, expected {}×(1..4096)",
            hp[9]
        ));
    }
    skip(r, len, 4 * n_mel as u64 * n_fft as u64, "mel filters")?;

    let n_vocab = i32_at(r, "vocabulary")?;
    if !(0..=hp[0]).contains(&n_vocab) {
        return Err(format!(
            "vocabulary has {n_vocab} tokens, expected at most {}",
            hp[0]
        ));
    }
    for t in 0..n_vocab {
        let l = i32_at(r, "vocabulary")?;
        if !(0..=1 << 16).contains(&l) {
            return Err(format!("token {t} has length {l}"));
        }
        skip(r, len, l as u64, "vocabulary")?;
    }

    let tensors_at = r.stream_position().map_err(|e| e.to_string())?;
    let mut infos = Vec::new();
    let mut tensors = 0u64;
    loop {
        let mut first = [0u8; 4];
        match r.read(&mut first[..1]) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("reading tensor {tensors}: {e}")),
        }
        r.read_exact(&mut first[1..])
            .map_err(eof("tensor header"))?;
        let n_dims = i32::from_le_bytes(first);
        let name_len = i32_at(r, "tensor header")?;
        let ttype = i32_at(r, "tensor header")?;
        if !(1..=4).contains(&n_dims) || !(1..=1024).contains(&name_len) {
            return Err(format!(
                "tensor {tensors} has a garbled header (dims {n_dims}, name length {name_len})"
            ));
        }
        let (block_bytes, block_elems) = type_block(ttype)
            .ok_or_else(|| format!("tensor {tensors} has unknown type {ttype}"))?;
        let mut elems = 1u64;
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let d = i32_at(r, "tensor header")?;
            if d < 1 {
                return Err(format!("tensor {tensors} has dimension {d}"));
            }
            elems = elems.saturating_mul(d as u64);
            dims.push(d as u64);
        }
        let mut name = vec![0u8; name_len as usize];
        r.read_exact(&mut name).map_err(eof("tensor header"))?;
        let name = String::from_utf8_lossy(&name).into_owned();
        let data = elems.div_ceil(block_elems).saturating_mul(block_bytes);
        let pos = r.stream_position().map_err(|e| e.to_string())?;
        if pos.saturating_add(data) > len {
            return Err(format!("tensor `{name}` needs {data} bytes at offset {pos} but the file ends at {len} (truncated)"));
        }
        if let Some(m) = matrix_type {
            if ![0, 1, m].contains(&ttype) {
                return Err(format!(
                    "tensor `{name}` has type {ttype}, but the header's ftype {} stores matrices as type {m}",
                    hp[10]
                ));
            }
        }
        r.seek_relative(data as i64).map_err(|e| e.to_string())?;
        infos.push(TensorInfo {
            name,
            ttype,
            dims,
            data_at: pos,
            data_len: data,
        });
        tensors += 1;
    }
    let want = expected_tensors(hp[4], hp[8]);
    if tensors != want {
        return Err(format!(
            "{tensors} tensors, expected {want} (truncated at a tensor boundary?)"
        ));
    }
    if hp[..10] == BASE_HPARAMS[..10] {
        if let Some(q) = Quant::from_ftype(hp[10]) {
            if len != q.base_size() {
                return Err(format!(
                    "size {len} bytes, expected {} for Whisper base in {q}",
                    q.base_size()
                ));
            }
        }
    }
    Ok(Layout {
        hparams: hp,
        tensors_at,
        tensors: infos,
    })
}

fn skip<R: Read + Seek>(r: &mut BufReader<R>, len: u64, n: u64, what: &str) -> Result<(), String> {
    let pos = r.stream_position().map_err(|e| e.to_string())?;
    if pos.saturating_add(n) > len {
        return Err(format!("file ends inside the {what}, at {len} bytes"));
    }
    r.seek_relative(n as i64).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_has_245_tensors() {
        assert_eq!(expected_tensors(6, 6), 245);
    }

    fn tiny_ggml() -> Vec<u8> {
        let mut v = Vec::new();
        let mut p = |x: i32| v.extend_from_slice(&x.to_le_bytes());
        p(GGML_MAGIC as i32);
        for h in [4, 2, 2, 1, 0, 2, 2, 1, 0, 1, 1] {
            p(h);
        }
        v
    }

    #[test]
    fn walk_rejects_garbage_and_truncation_without_panicking() {
        let len_of = |b: &[u8]| b.len() as u64;
        for bytes in [
            vec![],
            vec![1, 2, 3],
            b"GGUF\x03\0\0\0".to_vec(),
            tiny_ggml(),
        ] {
            let l = len_of(&bytes);
            let err = walk(&mut BufReader::new(io::Cursor::new(bytes)), l).unwrap_err();
            assert!(!err.is_empty());
        }
    }
}
