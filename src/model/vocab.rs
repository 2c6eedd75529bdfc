//! Loads Whisper's byte-level BPE tokens (vocabulary.txt or tokenizer.json) as raw bytes for the
//! ggml file.

/// Whisper's first special token; every token before it is an ordinary byte-level BPE token, and
/// those are the only ones a ggml file stores (whisper.cpp adds the specials itself).
const END_OF_TEXT: &str = "<|endoftext|>";

/// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68 bytes to
/// U+0100… in byte order, so every byte string becomes printable text. Returns the char for each
/// byte.
pub(crate) fn byte_to_unicode() -> [char; 256] {
    let printable = |b: u32| {
        (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b)
    };
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..256u32 {
        let cp = if printable(b) {
            b
        } else {
            next += 1;
            next - 1
        };
        // Both ranges are valid scalar values (< 0x144), so the fallback is unreachable.
        table[b as usize] = char::from_u32(cp).unwrap_or('\0');
    }
    table
}

/// The inverse of [`byte_to_unicode`]: indexed by code point (all mapped chars are < 0x144).
pub(crate) struct ByteDecoder {
    table: [Option<u8>; 0x144],
}

impl ByteDecoder {
    pub(crate) fn new() -> Self {
        let mut table = [None; 0x144];
        for (b, c) in byte_to_unicode().iter().enumerate() {
            table[*c as usize] = Some(b as u8);
        }
        ByteDecoder { table }
    }

    /// Turns a token as written in the vocabulary back into its bytes; `None` if it holds a char
    /// that the byte-level mapping never produces.
    pub(crate) fn decode(&self, token: &str) -> Option<Vec<u8>> {
        token
            .chars()
            .map(|c| self.table.get(c as usize).copied().flatten())
            .collect()
    }
}

/// Returns the ordinary tokens (ids 0 .. id of `<|endoftext|>`) as raw bytes.
///
/// `text` is either CTranslate2's `vocabulary.txt` (one token per line, line number = id) or a
/// Hugging Face `tokenizer.json`.
pub(crate) fn load_tokens(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let written = if text.trim_start().starts_with('{') {
        from_tokenizer_json(text)?
    } else {
        from_vocabulary_txt(text)?
    };
    let decoder = ByteDecoder::new();
    written
        .iter()
        .enumerate()
        .map(|(id, t)| {
            decoder
                .decode(t)
                .ok_or_else(|| format!("token {id} ({t:?}) is not byte-level BPE text"))
        })
        .collect()
}

fn from_vocabulary_txt(text: &str) -> Result<Vec<String>, String> {
    // Split on '\n' only: the byte-level mapping never writes '\r' or other breaks into a token,
    // and the empty token 50256 must stay an (empty) line of its own.
    let lines: Vec<&str> = text.split('\n').collect();
    let n = lines
        .iter()
        .position(|l| *l == END_OF_TEXT)
        .ok_or_else(|| format!("no {END_OF_TEXT} line: not a Whisper vocabulary"))?;
    Ok(lines[..n].iter().map(|s| s.to_string()).collect())
}

fn from_tokenizer_json(text: &str) -> Result<Vec<String>, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("tokenizer.json: {e}"))?;
    let vocab = json
        .get("model")
        .and_then(|m| m.get("vocab"))
        .and_then(|v| v.as_object())
        .ok_or("tokenizer.json has no model.vocab object")?;
    let added = json
        .get("added_tokens")
        .and_then(|a| a.as_array())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let eot_id = added
        .iter()
        .find(|t| t.get("content").and_then(|c| c.as_str()) == Some(END_OF_TEXT))
        .and_then(|t| t.get("id"))
        .or_else(|| vocab.get(END_OF_TEXT))
        .and_then(|id| id.as_u64())
        .ok_or_else(|| format!("tokenizer.json has no {END_OF_TEXT} token"))?;
    let n = usize::try_from(eot_id)
        .ok()
        .filter(|&n| n <= vocab.len())
        .ok_or("implausible <|endoftext|> id")?;
    let mut tokens: Vec<Option<String>> = vec![None; n];
    for (tok, id) in vocab {
        if let Some(slot) = id.as_u64().and_then(|id| tokens.get_mut(id as usize)) {
            *slot = Some(tok.clone());
        }
    }
    tokens
        .into_iter()
        .enumerate()
        .map(|(id, t)| t.ok_or_else(|| format!("tokenizer.json lacks token id {id}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_mapping_matches_gpt2() {
        let t = byte_to_unicode();
        assert_eq!(t[b'!' as usize], '!');
        assert_eq!(t[b' ' as usize], 'Ġ'); // U+0120: space is byte 32, the 33rd unprintable byte
        assert_eq!(t[b'\n' as usize], 'Ċ'); // U+010A
        assert_eq!(t[0], 'Ā'); // U+0100
        assert_eq!(t[0xad], 'Ń'); // soft hyphen, the last unprintable byte: U+0143
        assert_eq!(t[0xe5], 'å');
        let mut seen: Vec<char> = t.to_vec();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 256, "mapping must be a bijection");
    }

    #[test]
    fn decoder_inverts_the_mapping() {
        let d = ByteDecoder::new();
        assert_eq!(d.decode("Ġhello").unwrap(), b" hello");
        assert_eq!(d.decode("").unwrap(), b"");
        // "你" is E4 BD A0: written as ä ½ ł (0xa0 is unprintable → U+0142).
        assert_eq!(String::from_utf8(d.decode("ä½ł").unwrap()).unwrap(), "你");
        let all: String = byte_to_unicode().iter().collect();
        assert_eq!(d.decode(&all).unwrap(), (0..=255u8).collect::<Vec<_>>());
        assert_eq!(d.decode("你"), None);
        assert_eq!(d.decode(" "), None);
    }

    #[test]
    fn reads_vocabulary_txt_up_to_end_of_text() {
        let toks = load_tokens("!\nĠa\n\n<|endoftext|>\n<|en|>\n").unwrap();
        assert_eq!(toks, vec![b"!".to_vec(), b" a".to_vec(), Vec::new()]);
        assert!(load_tokens("a\nb\n").is_err());
        assert!(load_tokens("a b\n<|endoftext|>\n").is_err());
    }

    #[test]
    fn reads_tokenizer_json() {
        let json = r#"{"added_tokens":[{"id":3,"content":"<|endoftext|>"}],
            "model":{"type":"BPE","vocab":{"!":0,"Ġa":1,"":2}}}"#;
        assert_eq!(
            load_tokens(json).unwrap(),
            vec![b"!".to_vec(), b" a".to_vec(), Vec::new()]
        );
        let gap = r#"{"added_tokens":[{"id":3,"content":"<|endoftext|>"}],"model":{"vocab":{"!":0,"":2}}}"#;
        assert!(load_tokens(gap).is_err());
        assert!(load_tokens("{not json").is_err());
    }
}
