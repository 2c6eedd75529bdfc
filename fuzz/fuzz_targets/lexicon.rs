//! The lexicon TOML parser on arbitrary text (either kind); a lexicon that loads must build a
//! matcher that can match its own phrases.
#![no_main]

use courtesy::lexicon::{Kind, Lexicon};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let kind = if first & 1 == 0 {
        Kind::Civil
    } else {
        Kind::Banned
    };
    let Ok(lexicon) = Lexicon::from_toml("fuzz.toml".as_ref(), text, kind) else {
        return;
    };
    let matcher = courtesy::matcher::Matcher::new(&lexicon);
    for entry in lexicon.entries().iter().take(8) {
        let _ = matcher.find(&entry.phrase);
    }
});
