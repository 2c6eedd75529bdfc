//! The WAV reader on arbitrary bytes: open, read every frame; never a panic, never a NaN out.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let file = common::temp_file(data);
    if let Ok(source) = courtesy::audio::WavSource::open(file.path()) {
        common::drain(Box::new(source));
    }
});
