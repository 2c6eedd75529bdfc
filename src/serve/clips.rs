//! Which file a `/clips/…` request may read — audio clips inside the clip folder, nothing else —
//! and the answer that serves it (with byte ranges, for seeking). The live page and the desk
//! both serve clips through [`respond`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The clip formats served, by extension: live clips are WAV, the batch's are Ogg/Opus.
const TYPES: &[(&str, &str)] = &[
    ("wav", "audio/wav"),
    ("opus", "audio/ogg; codecs=opus"),
    ("ogg", "audio/ogg"),
];

fn content_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?;
    TYPES
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map(|(_, t)| *t)
}

/// Why a clip request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The path tries to leave the clip folder or is not a plain relative path (400).
    BadPath,
    /// No such clip (404): missing, not a WAV file, or a link that points outside the folder.
    NotFound,
}

/// The file for `rel` (as the URL gave it, already percent-decoded) inside `dir`.
///
/// The path is checked twice ([`crate::inside::existing`]): by its components (no `..`, no root,
/// no drive, no backslash or NUL) and, after following links, by its real folder, which must
/// still lie inside the real clip folder.
pub fn resolve(dir: &Path, rel: &str) -> Result<PathBuf, Refused> {
    let rel_path = Path::new(rel);
    if !crate::inside::is_plain(rel_path) {
        return Err(Refused::BadPath);
    }
    if content_type(rel_path).is_none() {
        return Err(Refused::NotFound);
    }
    let full = crate::inside::existing(dir, rel_path).map_err(|_| Refused::NotFound)?;
    if !full.is_file() {
        return Err(Refused::NotFound);
    }
    Ok(full)
}

/// The answer to `GET /clips/<rel>`: the clip from `dir` (read off the async workers), a part
/// of it for a `Range` header, 400 for a path that tries to leave the folder, 404 otherwise.
pub async fn respond(dir: PathBuf, rel: String, range: Option<String>) -> Response {
    let read = tokio::task::spawn_blocking(move || {
        let path = resolve(&dir, &rel)?;
        let kind = content_type(&path).ok_or(Refused::NotFound)?;
        std::fs::read(path)
            .map(|b| (b, kind))
            .map_err(|_| Refused::NotFound)
    })
    .await;
    let (bytes, kind) = match read {
        Ok(Ok(found)) => found,
        Ok(Err(Refused::BadPath)) => {
            return (StatusCode::BAD_REQUEST, "bad clip path").into_response()
        }
        Ok(Err(Refused::NotFound)) | Err(_) => {
            return (StatusCode::NOT_FOUND, "no such clip").into_response()
        }
    };
    let len = bytes.len() as u64;
    let kind = HeaderValue::from_static(kind);
    match byte_range(range.as_deref(), len) {
        None => (
            [
                (header::CONTENT_TYPE, kind),
                (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
            ],
            bytes,
        )
            .into_response(),
        Some(Ok(r)) => {
            let content_range = format!("bytes {}-{}/{len}", r.start, r.end - 1);
            let part = bytes[r.start as usize..r.end as usize].to_vec();
            (
                StatusCode::PARTIAL_CONTENT,
                [
                    (header::CONTENT_TYPE, kind),
                    (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
                    (
                        header::CONTENT_RANGE,
                        HeaderValue::from_str(&content_range)
                            .unwrap_or(HeaderValue::from_static("bytes */0")),
                    ),
                ],
                part,
            )
                .into_response()
        }
        Some(Err(())) => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response(),
    }
}

/// The byte range a `Range` header asks for in a file of `len` bytes: `None` for the whole file
/// (no header, or one we do not serve, such as several ranges), `Some(Err(()))` when unsatisfiable.
/// Browsers ask for ranges to seek in `<audio>`.
pub fn byte_range(header: Option<&str>, len: u64) -> Option<Result<Range<u64>, ()>> {
    let spec = header?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // `bytes=-N`: the last N bytes.
        let n: u64 = end.parse().ok()?;
        len.saturating_sub(n)..len
    } else {
        let start: u64 = start.parse().ok()?;
        let end = if end.is_empty() {
            len
        } else {
            end.parse::<u64>().ok()?.saturating_add(1).min(len)
        };
        start..end
    };
    if range.start >= range.end {
        return Some(Err(()));
    }
    Some(Ok(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_wav_files_inside_the_folder_only() {
        let dir = tempfile::tempdir().unwrap();
        let clips = dir.path().join("clips");
        std::fs::create_dir_all(clips.join("w07")).unwrap();
        std::fs::write(clips.join("w07/a.wav"), b"RIFF").unwrap();
        std::fs::write(clips.join("w07/a.txt"), b"text").unwrap();
        std::fs::write(clips.join("w07/b.opus"), b"OggS").unwrap();
        std::fs::write(dir.path().join("secret.wav"), b"RIFF").unwrap();

        let ok = resolve(&clips, "w07/a.wav").unwrap();
        assert!(ok.ends_with("w07/a.wav"));
        assert!(resolve(&clips, "w07/b.opus")
            .unwrap()
            .ends_with("w07/b.opus"));
        assert_eq!(resolve(&clips, "../secret.wav"), Err(Refused::BadPath));
        assert_eq!(
            resolve(&clips, "w07/../../secret.wav"),
            Err(Refused::BadPath)
        );
        assert_eq!(resolve(&clips, "/etc/passwd.wav"), Err(Refused::BadPath));
        assert_eq!(resolve(&clips, "..\\secret.wav"), Err(Refused::BadPath));
        assert_eq!(resolve(&clips, ""), Err(Refused::BadPath));
        assert_eq!(resolve(&clips, "w07/a.txt"), Err(Refused::NotFound));
        assert_eq!(resolve(&clips, "w07/missing.wav"), Err(Refused::NotFound));
        assert_eq!(resolve(&clips, "w07"), Err(Refused::NotFound));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_links_out_of_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let clips = dir.path().join("clips");
        std::fs::create_dir_all(&clips).unwrap();
        std::fs::write(dir.path().join("secret.wav"), b"RIFF").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.wav"), clips.join("link.wav")).unwrap();
        assert_eq!(resolve(&clips, "link.wav"), Err(Refused::NotFound));
    }

    #[test]
    fn reads_single_byte_ranges() {
        assert_eq!(byte_range(None, 100), None);
        assert_eq!(byte_range(Some("bytes=0-"), 100), Some(Ok(0..100)));
        assert_eq!(byte_range(Some("bytes=10-19"), 100), Some(Ok(10..20)));
        assert_eq!(byte_range(Some("bytes=90-200"), 100), Some(Ok(90..100)));
        assert_eq!(byte_range(Some("bytes=-10"), 100), Some(Ok(90..100)));
        assert_eq!(byte_range(Some("bytes=100-"), 100), Some(Err(())));
        assert_eq!(byte_range(Some("bytes=0-1,5-6"), 100), None);
        assert_eq!(byte_range(Some("items=0-1"), 100), None);
        assert_eq!(byte_range(Some("bytes=x-1"), 100), None);
    }
}
