//! Text into HTML: one escape for every string from the record, one encoder for URL parts.

pub use crate::report::html::esc as escape;
pub use crate::report::html::percent;
