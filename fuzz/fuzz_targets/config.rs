//! The configuration parser on arbitrary text: an error or a validated config, never a panic; a
//! config that validates has finite numbers and safe window ids.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match courtesy::config::Config::parse("fuzz.toml".as_ref(), text) {
        Ok(config) => {
            for w in &config.window {
                assert!(courtesy::window_id::check(&w.id).is_ok(), "{:?}", w.id);
            }
            assert!(config.live.validate().is_ok());
        }
        Err(e) => assert!(!e.to_string().contains('\n') || text.contains('\n')),
    }
});
