//! Sinks: how results leave the program — reports of a batch run, and live events (alerts).

mod debounce;
pub mod event;
pub mod file;
mod jsonl;
pub mod record;
mod report;
mod terminal;
mod watched;
mod webhook;

pub use debounce::Debouncer;
pub use event::{Event, EventSink};
pub use jsonl::{JsonLines, Keep};
pub use record::RecordSink;
pub use report::{write, Format, Stream};
pub use terminal::Terminal;
pub use webhook::{Webhook, WebhookOptions, WebhookStats};
