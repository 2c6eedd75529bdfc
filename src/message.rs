//! One-line messages: text from devices, tools and transcripts made safe to show on one line.

/// Control characters (a newline in a device name or a transcript, an escape sequence) would break
/// a one-line message or drive the terminal: shows them as spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Collapses whitespace runs (newlines included) so a message built from tool output stays on one
/// line.
pub(crate) fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
