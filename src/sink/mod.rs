//! Sinks: how a run's results leave the program (readable text, one JSON document, JSON lines).

mod report;

pub use report::{write, Format};
