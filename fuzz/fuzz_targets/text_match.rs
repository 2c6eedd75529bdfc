//! Normalization, masking, line cutting and matching on arbitrary text: spans always land on
//! character boundaries of the original, masking keeps the byte length.
#![no_main]

use std::sync::OnceLock;

use courtesy::lexicon::Lexicon;
use courtesy::matcher::Matcher;
use courtesy::text::{mask_personal, Normalizer, Pieces};
use libfuzzer_sys::fuzz_target;

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| Matcher::new(&Lexicon::builtin().expect("built-in lexicon")))
}

fuzz_target!(|data: &[u8]| {
    // Line cutting reads bytes (invalid UTF-8 is an error, not a panic).
    for piece in Pieces::with_limit(data, 32).take(64) {
        let Ok(piece) = piece else { break };
        assert!(piece.text.len() <= 32, "{:?}", piece.text);
    }
    let text = String::from_utf8_lossy(data);
    let normalized = Normalizer::shared().normalize(&text);
    let n = normalized.len();
    for start in [0, n / 3, n / 2] {
        let span = normalized.original_span(start..n);
        assert!(span.start <= span.end && span.end <= text.len());
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
    }
    let masked = mask_personal(&text);
    assert_eq!(masked.text.len(), text.len());
    for hit in matcher().find(&text) {
        assert!(hit.span.start <= hit.span.end && hit.span.end <= text.len());
        assert!(text.is_char_boundary(hit.span.start) && text.is_char_boundary(hit.span.end));
        assert_eq!(&text[hit.span.clone()], hit.matched);
        assert!((0.0..=1.0).contains(&hit.confidence));
    }
});
