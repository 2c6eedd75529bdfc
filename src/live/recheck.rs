//! Hearing again: which utterances, heard with a short encoder context, are worth a full-context call.
//!
//! Live fits Whisper's encoder to each utterance (at least `[live] encoder_seconds`) to serve many
//! windows; the short context mishears more (不行，重便 for 不行，重填), and what it mishears is
//! lost to the supervisor. Batch hears with the full 30 s. An utterance is heard again with
//! `[live] recheck_encoder_seconds` of context when its first transcript *nearly* holds a banned
//! phrase — one piece of a wording found ([`Lexicon::nearly`]: 不行 of 不行，重填, 有意见 of
//! 有意见找领导去) while the phrase itself is not — and the queue allows it (the box is not behind).
//! What the second hearing finds is alerted; the utterance stays as first heard. Only a few
//! utterances in a hundred qualify, so the second calls cost little capacity; their alerts come
//! one call later than the others.

use crate::lexicon::{Kind, Lexicon};
use crate::matcher::{MatchConfig, Matcher};

/// Decides which transcripts are worth hearing again.
#[derive(Debug, Clone)]
pub struct Recheck {
    matcher: Matcher,
    pieces: Matcher,
}

impl Recheck {
    /// For a run whose `matcher` was built from `lexicon`, tuned by `config`.
    pub fn new(matcher: &Matcher, lexicon: &Lexicon, config: MatchConfig) -> Recheck {
        Recheck {
            matcher: matcher.clone(),
            pieces: Matcher::with_config(&lexicon.nearly(), config),
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
        let lexicon = Lexicon::builtin().unwrap();
        Recheck::new(&Matcher::new(&lexicon), &lexicon, MatchConfig::default())
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
