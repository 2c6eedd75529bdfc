//! The subset of Python's pickle that PyTorch's legacy checkpoints use, read into plain values (no code runs).

/// A pickled value. Calls (`REDUCE`, `NEWOBJ`, `BUILD`) are kept as data, never executed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// `module.name`
    Global(String, String),
    /// `callable(*args)`
    Call(Box<Value>, Box<Value>),
    /// A persistent id (a tensor storage reference in a torch checkpoint).
    Persistent(Box<Value>),
    /// `obj.__setstate__(state)`
    Build(Box<Value>, Box<Value>),
    Mark,
}

impl Value {
    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn items(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }
}

/// Reads one pickle from the start of `data`; returns it and the bytes it took.
pub fn load(data: &[u8]) -> Result<(Value, usize), String> {
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: std::collections::HashMap<u32, Value> = Default::default();
    let mut pos = 0usize;
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], String> {
        let s = data
            .get(*pos..*pos + n)
            .ok_or_else(|| format!("pickle ends early at byte {}", *pos))?;
        *pos += n;
        Ok(s)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let pop = |stack: &mut Vec<Value>| {
        stack
            .pop()
            .ok_or_else(|| "pickle stack underflow".to_string())
    };
    let pop_mark = |stack: &mut Vec<Value>| -> Result<Vec<Value>, String> {
        let at = stack
            .iter()
            .rposition(|v| *v == Value::Mark)
            .ok_or("pickle: no mark")?;
        let items = stack.split_off(at + 1);
        stack.pop();
        Ok(items)
    };
    loop {
        let op = take(&mut pos, 1)?[0];
        match op {
            0x80 => {
                take(&mut pos, 1)?;
            }
            b'.' => return Ok((pop(&mut stack)?, pos)),
            b'}' => stack.push(Value::Dict(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b')' => stack.push(Value::Tuple(Vec::new())),
            b'(' => stack.push(Value::Mark),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'K' => stack.push(Value::Int(take(&mut pos, 1)?[0] as i64)),
            b'M' => {
                let b = take(&mut pos, 2)?;
                stack.push(Value::Int(u16::from_le_bytes([b[0], b[1]]) as i64))
            }
            b'J' => stack.push(Value::Int(u32_at(take(&mut pos, 4)?) as i32 as i64)),
            0x8a => {
                let n = take(&mut pos, 1)?[0] as usize;
                let b = take(&mut pos, n)?;
                let mut v: i64 = 0;
                for (i, &x) in b.iter().enumerate().take(8) {
                    v |= (x as i64) << (8 * i);
                }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                stack.push(Value::Int(v))
            }
            b'G' => {
                let b = take(&mut pos, 8)?;
                stack.push(Value::Float(f64::from_be_bytes(b.try_into().unwrap())))
            }
            b'X' => {
                let n = u32_at(take(&mut pos, 4)?) as usize;
                let s = String::from_utf8_lossy(take(&mut pos, n)?).into_owned();
                stack.push(Value::Str(s))
            }
            0x8c => {
                let n = take(&mut pos, 1)?[0] as usize;
                let s = String::from_utf8_lossy(take(&mut pos, n)?).into_owned();
                stack.push(Value::Str(s))
            }
            b'U' => {
                let n = take(&mut pos, 1)?[0] as usize;
                stack.push(Value::Bytes(take(&mut pos, n)?.to_vec()))
            }
            b'T' => {
                let n = u32_at(take(&mut pos, 4)?) as usize;
                stack.push(Value::Bytes(take(&mut pos, n)?.to_vec()))
            }
            b'c' => {
                let line = |pos: &mut usize| -> Result<String, String> {
                    let end = data[*pos..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .ok_or("pickle: unterminated GLOBAL")?;
                    let s = String::from_utf8_lossy(&data[*pos..*pos + end]).into_owned();
                    *pos += end + 1;
                    Ok(s)
                };
                let module = line(&mut pos)?;
                let name = line(&mut pos)?;
                stack.push(Value::Global(module, name))
            }
            b'q' => {
                let k = take(&mut pos, 1)?[0] as u32;
                memo.insert(k, stack.last().cloned().ok_or("pickle: empty memo put")?);
            }
            b'r' => {
                let k = u32_at(take(&mut pos, 4)?);
                memo.insert(k, stack.last().cloned().ok_or("pickle: empty memo put")?);
            }
            0x94 => {
                let k = memo.len() as u32;
                memo.insert(k, stack.last().cloned().ok_or("pickle: empty memo put")?);
            }
            b'h' | b'j' => {
                let k = if op == b'h' {
                    take(&mut pos, 1)?[0] as u32
                } else {
                    u32_at(take(&mut pos, 4)?)
                };
                stack.push(memo.get(&k).cloned().ok_or("pickle: unknown memo key")?)
            }
            b't' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Value::Tuple(items))
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let at = stack.len().checked_sub(n).ok_or("pickle stack underflow")?;
                let items = stack.split_off(at);
                stack.push(Value::Tuple(items))
            }
            b'Q' => {
                let id = pop(&mut stack)?;
                stack.push(Value::Persistent(Box::new(id)))
            }
            b'R' | 0x81 => {
                let args = pop(&mut stack)?;
                let f = pop(&mut stack)?;
                stack.push(Value::Call(Box::new(f), Box::new(args)))
            }
            b'b' => {
                let state = pop(&mut stack)?;
                let obj = pop(&mut stack)?;
                stack.push(Value::Build(Box::new(obj), Box::new(state)))
            }
            b's' | b'u' => {
                let items = if op == b's' {
                    let v = pop(&mut stack)?;
                    let k = pop(&mut stack)?;
                    vec![k, v]
                } else {
                    pop_mark(&mut stack)?
                };
                let target = stack.last_mut().ok_or("pickle stack underflow")?;
                let dict = match target {
                    Value::Dict(d) => d,
                    // An OrderedDict() call filled in place.
                    Value::Call(_, _) => {
                        let call = std::mem::replace(target, Value::Dict(Vec::new()));
                        *target = Value::Build(Box::new(call), Box::new(Value::Dict(Vec::new())));
                        match target {
                            Value::Build(_, state) => match &mut **state {
                                Value::Dict(d) => d,
                                _ => unreachable!(),
                            },
                            _ => unreachable!(),
                        }
                    }
                    Value::Build(_, state) => match &mut **state {
                        Value::Dict(d) => d,
                        _ => return Err("pickle: SETITEMS on a built object".into()),
                    },
                    _ => return Err("pickle: SETITEMS on a non-dict".into()),
                };
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    dict.push((k, v));
                }
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![pop(&mut stack)?]
                } else {
                    pop_mark(&mut stack)?
                };
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err("pickle: APPEND to a non-list".into()),
                }
            }
            other => {
                return Err(format!(
                    "pickle opcode 0x{other:02x} at byte {} is not supported",
                    pos - 1
                ))
            }
        }
    }
}

/// The entries of a dict, or of an `OrderedDict()` filled by `SETITEMS`.
pub fn dict_entries(v: &Value) -> Option<&[(Value, Value)]> {
    match v {
        Value::Dict(d) => Some(d),
        // An OrderedDict filled by SETITEMS, then given its `_metadata` by BUILD.
        Value::Build(obj, state) => dict_entries(obj).or_else(|| dict_entries(state)),
        _ => None,
    }
}

/// The value under the string key `key` of a dict.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    dict_entries(v)?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_python_writes() {
        // pickle.dumps({'a': [1, -2, 300, 70000, 1.5, 'x', None, True], 'b': (7, 8)}, protocol=2)
        let bytes = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01J\xfe\xff\xff\xffM,\x01J\x70\x11\x01\x00G?\xf8\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03N\x88eX\x01\x00\x00\x00bq\x04K\x07K\x08\x86q\x05u.";
        let (v, used) = load(bytes).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(
            get(&v, "a"),
            Some(&Value::List(vec![
                Value::Int(1),
                Value::Int(-2),
                Value::Int(300),
                Value::Int(70000),
                Value::Float(1.5),
                Value::Str("x".into()),
                Value::None,
                Value::Bool(true),
            ]))
        );
        assert_eq!(
            get(&v, "b"),
            Some(&Value::Tuple(vec![Value::Int(7), Value::Int(8)]))
        );
        assert!(load(&bytes[..10]).is_err());
        assert!(load(b"\x80\x02\xff.").unwrap_err().contains("0xff"));
    }
}
