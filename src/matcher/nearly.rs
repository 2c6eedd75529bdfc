//! Hearing again: which transcripts, heard with a short encoder context, are worth a full-context call.
//!
//! Whisper's encoder costs the same for 2 s of speech as for its whole 30 s window unless it is
//! fitted to the audio (`[asr] fit_encoder`), and the shorter context mishears more (不行，重便 for
//! 不行，重填). A transcript *nearly* holds a banned phrase when one piece of a wording is found
//! ([`Lexicon::nearly`]: 不行 of 不行，重填, 有意见 of 有意见找领导去) while the phrase itself is not;
//! such a call is worth making again with the full context. Batch decodes the window again and
//! keeps the second hearing (`[asr] hear_again`); live alerts what the second hearing finds when
//! its queue allows (`[live] recheck_encoder_seconds`). Only a few transcripts in a hundred
//! qualify, so the second calls cost little.

use crate::lexicon::{Kind, Lexicon};
use crate::matcher::Matcher;

/// Decides which transcripts are worth hearing again.
#[derive(Debug, Clone)]
pub struct Recheck {
    matcher: Matcher,
    pieces: Matcher,
}

impl Recheck {
    /// For a run that matches with `matcher`: the pieces come from its lexicon, tuned alike.
    pub fn new(matcher: &Matcher) -> Recheck {
        let lexicon = Lexicon::of_entries(matcher.inner.rules.entries.clone());
        Recheck {
            matcher: matcher.clone(),
            pieces: Matcher::with_config(&lexicon.nearly(), matcher.inner.rules.config),
        }
    }

    /// The banned phrase `transcript` nearly holds, if any: a piece of one of its wordings is
    /// heard but the phrase is not found (nor is it excused as polite: then it was heard).
    pub fn nearly(&self, transcript: &str) -> Option<String> {
        let pieces = self.pieces.find(transcript);
        if pieces.is_empty() {
            return None;
        }
        let found = self.matcher.find(transcript);
        let heard = |phrase: &str| {
            found
                .iter()
                .any(|h| h.kind == Kind::Banned && h.phrase == phrase)
        };
        pieces
            .into_iter()
            .map(|h| h.phrase)
            .find(|phrase| !heard(phrase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recheck() -> Recheck {
        Recheck::new(&Matcher::new(&Lexicon::builtin().unwrap()))
    }

    #[test]
    fn a_piece_heard_without_its_phrase_is_worth_a_second_hearing() {
        let r = recheck();
        // The two misses the issue saw in live replay.
        assert_eq!(r.nearly("不行，重便。").as_deref(), Some("不行，重填"));
        assert_eq!(r.nearly("快点 要下班龙").as_deref(), Some("快点，要下班了"));
        // Half of a long one-part phrase (有意见找令到区 would be the phrase itself, by sound).
        assert_eq!(
            r.nearly("有意见找那个组长").as_deref(),
            Some("有意见找领导去")
        );
        assert_eq!(
            r.nearly("没看见我正在忙").as_deref(),
            Some("没看见我正忙着吗？")
        );
    }

    #[test]
    fn a_phrase_heard_or_nothing_like_it_needs_no_second_hearing() {
        let r = recheck();
        for text in [
            "不行，重填。",
            "快点，要下班了。",
            "您好，请问您要办理什么业务？",
            "请稍候，我马上帮您查一下。",
            // 不知道 has no pieces: one short part.
            "我不知道。",
        ] {
            assert_eq!(r.nearly(text), None, "{text}");
        }
    }
}
