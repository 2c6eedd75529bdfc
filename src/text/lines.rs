//! Lines of a text input read in bounded memory: a line longer than a limit is cut at sentence
//! punctuation (else a comma or a space, else anywhere) into pieces no longer than the limit.

use std::io::{self, BufRead};

/// Longest piece of a line handed to the matcher, in bytes (about 1,300 Chinese characters).
pub const MAX_PIECE_BYTES: usize = 4096;

/// One line of the input, or one piece of a line too long to match whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// 1-based line number.
    pub line: usize,
    /// Characters of the line before this piece.
    pub offset: usize,
    pub text: String,
    /// True when the piece ends at a cut rather than at the end of its line.
    pub cut: bool,
}

/// Reads `input` piece by piece; never holds more than one piece and one buffer of the reader.
pub struct Pieces<R> {
    input: R,
    limit: usize,
    /// Bytes of the current line not yet handed out.
    pending: Vec<u8>,
    line: usize,
    offset: usize,
    /// The newline of the current line has been read.
    line_ended: bool,
    done: bool,
}

impl<R: BufRead> Pieces<R> {
    /// Pieces of at most [`MAX_PIECE_BYTES`].
    pub fn new(input: R) -> Pieces<R> {
        Pieces::with_limit(input, MAX_PIECE_BYTES)
    }

    /// Pieces of at most `limit` bytes (at least 16, room for a few characters).
    pub fn with_limit(input: R, limit: usize) -> Pieces<R> {
        Pieces {
            input,
            limit: limit.max(16),
            pending: Vec::new(),
            line: 1,
            offset: 0,
            line_ended: false,
            done: false,
        }
    }

    fn piece(&mut self, len: usize, cut: bool) -> io::Result<Piece> {
        let rest = self.pending.split_off(len);
        let mut bytes = std::mem::replace(&mut self.pending, rest);
        if !cut && bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let text = String::from_utf8(bytes).map_err(|e| self.not_utf8(&e))?;
        let piece = Piece {
            line: self.line,
            offset: self.offset,
            cut,
            text,
        };
        if cut {
            self.offset += piece.text.chars().count();
        } else {
            self.line += 1;
            self.offset = 0;
        }
        Ok(piece)
    }

    fn not_utf8(&self, e: &std::string::FromUtf8Error) -> io::Error {
        let column = self.offset + e.utf8_error().valid_up_to() + 1;
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "line {}, near byte {column}: not UTF-8 text — convert it with `iconv -f GBK -t UTF-8`",
                self.line
            ),
        )
    }

    /// Where to cut `pending` (longer than the limit): after the last sentence end within the
    /// limit, else the last comma or space, else the last character that fits.
    fn cut_at(&self) -> io::Result<usize> {
        let window = &self.pending[..self.limit];
        let valid = match std::str::from_utf8(window) {
            Ok(s) => s,
            // A character cut by the window's edge is fine; a bad byte inside is not.
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&window[..e.valid_up_to()]).expect("valid up to here")
            }
            Err(e) => {
                return Err(self.not_utf8(
                    &String::from_utf8(window[..e.valid_up_to() + 1].to_vec()).unwrap_err(),
                ))
            }
        };
        let after = |pred: fn(char) -> bool| {
            valid
                .char_indices()
                .rev()
                .find(|&(_, c)| pred(c))
                .map(|(i, c)| i + c.len_utf8())
        };
        let strong = |c| matches!(c, '。' | '！' | '？' | '!' | '?' | '；' | ';');
        let weak = |c: char| matches!(c, '，' | ',' | '、') || c.is_whitespace();
        Ok(after(strong)
            .or_else(|| after(weak))
            .filter(|&i| i > 0)
            .unwrap_or(valid.len())
            .max(1))
    }
}

impl<R: BufRead> Iterator for Pieces<R> {
    type Item = io::Result<Piece>;

    fn next(&mut self) -> Option<io::Result<Piece>> {
        loop {
            if self.pending.len() > self.limit {
                return Some(self.cut_at().and_then(|at| self.piece(at, true)));
            }
            if self.line_ended || (self.done && !self.pending.is_empty()) {
                self.line_ended = false;
                let len = self.pending.len();
                return Some(self.piece(len, false));
            }
            if self.done {
                return None;
            }
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            };
            if available.is_empty() {
                self.done = true;
                continue;
            }
            // Take at most what overfills the piece, so a line with no newline stays bounded.
            let room = (self.limit + 1).saturating_sub(self.pending.len()).max(1);
            let take = &available[..available.len().min(room)];
            let (len, used) = match take.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    self.line_ended = true;
                    (nl, nl + 1)
                }
                None => (take.len(), take.len()),
            };
            self.pending.extend_from_slice(&take[..len]);
            self.input.consume(used);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, limit: usize) -> Vec<Piece> {
        Pieces::with_limit(text.as_bytes(), limit)
            .collect::<io::Result<_>>()
            .unwrap()
    }

    #[test]
    fn short_lines_come_whole_with_their_numbers() {
        let p = pieces("您好\r\n\n请坐", 4096);
        let got: Vec<(usize, &str, bool)> =
            p.iter().map(|p| (p.line, p.text.as_str(), p.cut)).collect();
        assert_eq!(
            got,
            [(1, "您好", false), (2, "", false), (3, "请坐", false)]
        );
    }

    #[test]
    fn a_long_line_is_cut_at_sentence_ends_and_gives_back_the_line() {
        let line = "您好，请坐。".repeat(20); // 360 bytes
        let p = pieces(&format!("{line}\n下一行\n"), 64);
        let again: String = p
            .iter()
            .filter(|p| p.line == 1)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(again, line);
        for piece in p.iter().filter(|p| p.line == 1) {
            assert!(piece.text.len() <= 64);
            assert!(piece.text.ends_with('。'), "{piece:?}");
        }
        assert!(p
            .iter()
            .filter(|p| p.line == 1)
            .rev()
            .skip(1)
            .all(|p| p.cut));
        let second = p.iter().find(|p| p.line == 1 && p.offset > 0).unwrap();
        assert_eq!(second.offset, p[0].text.chars().count());
        assert_eq!(p.last().unwrap().text, "下一行");
        assert_eq!(p.last().unwrap().line, 2);
    }

    #[test]
    fn without_punctuation_the_cut_is_hard_but_on_a_character() {
        let line = "啊".repeat(1000);
        let p = pieces(&line, 100);
        assert!(p.iter().all(|p| p.text.len() <= 100 && p.line == 1));
        assert_eq!(p.iter().map(|p| p.text.as_str()).collect::<String>(), line);
    }

    #[test]
    fn bad_bytes_name_the_line() {
        let e = Pieces::new(&b"ok\nbad \xB2\xBB here\n"[..])
            .collect::<io::Result<Vec<_>>>()
            .unwrap_err();
        assert!(
            e.to_string().starts_with("line 2, near byte 5: not UTF-8"),
            "{e}"
        );
    }
}
