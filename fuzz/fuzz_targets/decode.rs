//! Every decoder behind `audio::open` (sniffing, WAV, symphonia's MP3/AAC/MP4/FLAC/Ogg/…) and
//! `audio::probe` on arbitrary bytes: never a panic, frames within bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let file = common::temp_file(data);
    let _ = courtesy::audio::probe(file.path());
    if let Ok(source) = courtesy::audio::open(file.path()) {
        common::drain(source);
    }
});
