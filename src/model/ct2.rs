//! Reads the index of a CTranslate2 `model.bin` (names, shapes, dtypes, offsets) without loading
//! the weights.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};

/// Sanity bounds so a corrupt header cannot make us allocate or loop without end.
const MAX_VARIABLES: u32 = 100_000;
const MAX_ALIASES: u32 = 100_000;
const MAX_RANK: u8 = 8;

/// Element types of CTranslate2 (`ctranslate2::DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::BF16,
            _ => return None,
        })
    }

    pub(crate) fn size(self) -> u64 {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }
}

/// One variable: where its bytes start in the file and how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variable {
    pub shape: Vec<u64>,
    pub dtype: DType,
    pub offset: u64,
    pub nbytes: u64,
}

impl Variable {
    pub(crate) fn elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

/// The parsed header of a CTranslate2 model file.
#[derive(Debug, Clone)]
pub(crate) struct Ct2Index {
    pub spec: String,
    pub variables: HashMap<String, Variable>,
    /// Alias name → target variable name (e.g. the tied projection weight).
    pub aliases: HashMap<String, String>,
}

impl Ct2Index {
    /// Parses the header of `r`, seeking over the data. `file_len` bounds every offset.
    pub(crate) fn read<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<Self, String> {
        let version = read_u32(r).map_err(|e| format!("reading version: {e}"))?;
        // Version 1 and 2 files had no spec name/revision; we only know the layout from version 3
        // on.
        if !(3..=6).contains(&version) {
            return Err(format!(
                "unsupported CTranslate2 format version {version} (expected 3 to 6)"
            ));
        }
        let spec = read_string(r).map_err(|e| format!("reading spec name: {e}"))?;
        // The spec revision only matters to CTranslate2's own upgrade path; the variable names tell
        // us enough.
        let _revision = read_u32(r).map_err(|e| format!("reading spec revision: {e}"))?;
        let count = read_u32(r).map_err(|e| format!("reading variable count: {e}"))?;
        if count > MAX_VARIABLES {
            return Err(format!("implausible variable count {count}"));
        }
        let mut variables = HashMap::with_capacity(count as usize);
        for i in 0..count {
            let (name, var) =
                read_variable(r, file_len).map_err(|e| format!("variable {i}: {e}"))?;
            variables.insert(name, var);
        }
        let alias_count = read_u32(r).map_err(|e| format!("reading alias count: {e}"))?;
        if alias_count > MAX_ALIASES {
            return Err(format!("implausible alias count {alias_count}"));
        }
        let mut aliases = HashMap::with_capacity(alias_count as usize);
        for i in 0..alias_count {
            let alias = read_string(r).map_err(|e| format!("alias {i}: {e}"))?;
            let target = read_string(r).map_err(|e| format!("alias {i} target: {e}"))?;
            aliases.insert(alias, target);
        }
        Ok(Ct2Index {
            spec,
            variables,
            aliases,
        })
    }

    pub(crate) fn get(&self, name: &str) -> Result<&Variable, String> {
        let name = self.aliases.get(name).map(String::as_str).unwrap_or(name);
        self.variables
            .get(name)
            .ok_or_else(|| format!("variable `{name}` is missing"))
    }

    /// Reads a small integer scalar such as `encoder/num_heads`.
    pub(crate) fn read_scalar_int<R: Read + Seek>(
        &self,
        r: &mut R,
        name: &str,
    ) -> Result<i64, String> {
        let v = self.get(name)?;
        if v.elements() != 1 || v.nbytes > 8 {
            return Err(format!("`{name}` is not a scalar"));
        }
        r.seek(SeekFrom::Start(v.offset))
            .map_err(|e| format!("seeking to `{name}`: {e}"))?;
        let mut buf = [0u8; 8];
        r.read_exact(&mut buf[..v.nbytes as usize])
            .map_err(|e| format!("reading `{name}`: {e}"))?;
        Ok(match v.dtype {
            DType::I8 => buf[0] as i8 as i64,
            DType::I16 => i16::from_le_bytes([buf[0], buf[1]]) as i64,
            DType::I32 => i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as i64,
            other => return Err(format!("`{name}` has type {other:?}, expected an integer")),
        })
    }
}

fn read_variable<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<(String, Variable), String> {
    let name = read_string(r).map_err(|e| format!("reading name: {e}"))?;
    let rank = read_u8(r).map_err(|e| format!("`{name}`: reading rank: {e}"))?;
    if rank > MAX_RANK {
        return Err(format!("`{name}`: implausible rank {rank}"));
    }
    let mut shape = Vec::with_capacity(rank as usize);
    for _ in 0..rank {
        shape.push(read_u32(r).map_err(|e| format!("`{name}`: reading shape: {e}"))? as u64);
    }
    let dtype_id = read_u8(r).map_err(|e| format!("`{name}`: reading dtype: {e}"))?;
    let dtype =
        DType::from_id(dtype_id).ok_or_else(|| format!("`{name}`: unknown dtype id {dtype_id}"))?;
    let nbytes = read_u32(r).map_err(|e| format!("`{name}`: reading byte size: {e}"))? as u64;
    let elements = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    if elements.and_then(|n| n.checked_mul(dtype.size())) != Some(nbytes) {
        return Err(format!(
            "`{name}`: byte size {nbytes} does not match shape {shape:?} of {dtype:?}"
        ));
    }
    let offset = r.stream_position().map_err(|e| format!("`{name}`: {e}"))?;
    if offset.checked_add(nbytes).is_none_or(|end| end > file_len) {
        return Err(format!(
            "`{name}`: data runs past the end of the file (truncated?)"
        ));
    }
    r.seek(SeekFrom::Current(nbytes as i64))
        .map_err(|e| format!("`{name}`: seeking over data: {e}"))?;
    Ok((
        name,
        Variable {
            shape,
            dtype,
            offset,
            nbytes,
        },
    ))
}

fn read_u8<R: Read>(r: &mut R) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn read_u16<R: Read>(r: &mut R) -> io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn read_u32<R: Read>(r: &mut R) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// A CTranslate2 string: u16 length counting a trailing NUL, then the bytes and the NUL.
pub(crate) fn read_string<R: Read>(r: &mut R) -> Result<String, String> {
    let len = read_u16(r).map_err(|e| e.to_string())? as usize;
    if len == 0 {
        return Err("string has length 0 (no terminating NUL)".into());
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).map_err(|e| e.to_string())?;
    if buf.pop() != Some(0) {
        return Err("string is not NUL-terminated".into());
    }
    String::from_utf8(buf).map_err(|_| "string is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn string(s: &str) -> Vec<u8> {
        let mut v = ((s.len() + 1) as u16).to_le_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        v
    }

    #[test]
    fn reads_a_nul_terminated_string() {
        let mut c = Cursor::new(string("WhisperSpec"));
        assert_eq!(read_string(&mut c).unwrap(), "WhisperSpec");
        assert_eq!(c.position(), 2 + 12);
    }

    #[test]
    fn rejects_bad_strings() {
        assert!(read_string(&mut Cursor::new(vec![0u8, 0])).is_err()); // length 0
        assert!(read_string(&mut Cursor::new(vec![3u8, 0, b'a', b'b', b'c'])).is_err()); // no NUL
        assert!(read_string(&mut Cursor::new(vec![9u8, 0, b'a'])).is_err()); // truncated
        assert!(read_string(&mut Cursor::new(vec![3u8, 0, 0xff, 0xfe, 0])).is_err());
        // not UTF-8
    }

    fn tiny_model() -> Vec<u8> {
        let mut v = 6u32.to_le_bytes().to_vec();
        v.extend(string("WhisperSpec"));
        v.extend(3u32.to_le_bytes());
        v.extend(2u32.to_le_bytes());
        // a (2,3) f16 matrix
        v.extend(string("w"));
        v.push(2);
        v.extend(2u32.to_le_bytes());
        v.extend(3u32.to_le_bytes());
        v.push(4);
        v.extend(12u32.to_le_bytes());
        v.extend([0x00, 0x3c].repeat(6)); // 1.0 in f16
                                          // an int16 scalar
        v.extend(string("num_heads"));
        v.push(0);
        v.push(2);
        v.extend(2u32.to_le_bytes());
        v.extend(8i16.to_le_bytes());
        v.extend(1u32.to_le_bytes());
        v.extend(string("alias"));
        v.extend(string("w"));
        v
    }

    #[test]
    fn reads_index_scalars_and_aliases() {
        let bytes = tiny_model();
        let len = bytes.len() as u64;
        let mut c = Cursor::new(bytes);
        let idx = Ct2Index::read(&mut c, len).unwrap();
        assert_eq!(idx.spec, "WhisperSpec");
        let w = idx.get("alias").unwrap();
        assert_eq!(
            (w.shape.clone(), w.dtype, w.nbytes),
            (vec![2, 3], DType::F16, 12)
        );
        assert_eq!(idx.read_scalar_int(&mut c, "num_heads").unwrap(), 8);
        assert!(idx.get("nope").is_err());
    }

    #[test]
    fn truncated_index_is_an_error_not_a_panic() {
        let bytes = tiny_model();
        for cut in 0..bytes.len() - 1 {
            let mut c = Cursor::new(bytes[..cut].to_vec());
            assert!(Ct2Index::read(&mut c, cut as u64).is_err(), "cut at {cut}");
        }
    }
}
