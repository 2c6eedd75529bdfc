//! Sinks: how results leave the program — reports of a batch run, and live events (alerts).

pub mod event;
mod report;

pub use event::{Event, EventSink};
pub use report::{write, Format};
