//! PyTorch's legacy checkpoint format (`torch.save` before 1.6): pickled header, pickled state, raw float storages.

use std::collections::HashMap;

use super::pickle::{self, Value};

/// A float tensor of a checkpoint, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The float tensors of `model_state` (or of the top-level dict) of a legacy torch checkpoint.
pub fn load_state(bytes: &[u8]) -> Result<HashMap<String, Tensor>, String> {
    let mut pos = 0;
    // Magic number, protocol version, system info.
    for _ in 0..3 {
        pos += pickle::load(&bytes[pos..])?.1;
    }
    let (root, n) = pickle::load(&bytes[pos..])?;
    pos += n;
    let (keys, n) = pickle::load(&bytes[pos..])?;
    pos += n;
    let mut storages: HashMap<String, Vec<f32>> = HashMap::new();
    for key in keys.items().ok_or("storage keys are not a list")? {
        let key = key.as_str().ok_or("a storage key is not a string")?;
        let count = u64::from_le_bytes(
            bytes
                .get(pos..pos + 8)
                .ok_or("the file ends inside the storages")?
                .try_into()
                .unwrap(),
        ) as usize;
        pos += 8;
        let raw = bytes
            .get(pos..pos + count * 4)
            .ok_or("the file ends inside a storage")?;
        pos += count * 4;
        storages.insert(
            key.to_string(),
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        );
    }
    let state = pickle::get(&root, "model_state").unwrap_or(&root);
    let mut out = HashMap::new();
    for (name, value) in pickle::dict_entries(state).ok_or("no state dict in the checkpoint")? {
        let Some(name) = name.as_str() else { continue };
        if let Some(t) = tensor(value, &storages)? {
            out.insert(name.to_string(), t);
        }
    }
    Ok(out)
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, …)` over a float storage.
fn tensor(v: &Value, storages: &HashMap<String, Vec<f32>>) -> Result<Option<Tensor>, String> {
    let Value::Call(f, args) = v else {
        return Ok(None);
    };
    if !matches!(&**f, Value::Global(m, n) if m == "torch._utils" && n == "_rebuild_tensor_v2") {
        return Ok(None);
    }
    let args = args.items().ok_or("tensor arguments are not a tuple")?;
    let [Value::Persistent(id), offset, size, stride, ..] = args else {
        return Err("a tensor without a storage".into());
    };
    let id = id.items().ok_or("a storage id is not a tuple")?;
    let (Some(Value::Global(_, kind)), Some(key)) = (id.get(1), id.get(2).and_then(Value::as_str))
    else {
        return Err("a storage id without type and key".into());
    };
    if kind != "FloatStorage" {
        return Ok(None);
    }
    let storage = storages
        .get(key)
        .ok_or("a tensor names a missing storage")?;
    let dims = |v: &Value| -> Result<Vec<usize>, String> {
        v.items()
            .ok_or("tensor size is not a tuple")?
            .iter()
            .map(|x| {
                x.as_int()
                    .map(|i| i as usize)
                    .ok_or("a size is not a number".to_string())
            })
            .collect()
    };
    let (shape, stride) = (dims(size)?, dims(stride)?);
    let offset = offset.as_int().ok_or("tensor offset is not a number")? as usize;
    let count: usize = shape.iter().product();
    let mut data = Vec::with_capacity(count);
    for flat in 0..count {
        let (mut rest, mut at) = (flat, offset);
        for d in (0..shape.len()).rev() {
            at += (rest % shape[d]) * stride[d];
            rest /= shape[d];
        }
        data.push(*storage.get(at).ok_or("a tensor runs past its storage")?);
    }
    Ok(Some(Tensor { shape, data }))
}
