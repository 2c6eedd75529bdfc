//! Text into HTML: one escape for every string from the record, one encoder for URL parts.

pub use crate::report::html::esc as escape;
pub use crate::report::html::percent;

/// A player for a clip of the record (`/clips/…`, from `[batch] clips`), or 无片段 when there is
/// none or its stored path would leave the clip folder.
pub fn clip_player(clip: Option<&str>) -> String {
    match clip.and_then(|c| crate::report::html::clip_href("clips", c)) {
        Some(href) => format!("<audio controls preload=\"none\" src=\"/{href}\"></audio>"),
        None => "<span class=\"notice\">无片段</span>".into(),
    }
}
