//! Word segmentation with jieba, knowing the lexicon's phrases as words.

use std::sync::Arc;

use jieba_rs::Jieba;

/// Splits folded text into words. Cheap to clone (the dictionary is shared).
#[derive(Clone)]
pub struct Segmenter {
    jieba: Arc<Jieba>,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segmenter")
    }
}

impl Segmenter {
    /// Loads jieba's dictionary and adds `words` (lexicon phrases and their parts) so that jieba keeps
    /// them whole when they occur.
    pub fn new<'a>(words: impl IntoIterator<Item = &'a str>) -> Segmenter {
        let mut jieba = Jieba::new();
        for word in words {
            if word.chars().count() >= 2 {
                jieba.add_word(word, None, None);
            }
        }
        Segmenter {
            jieba: Arc::new(jieba),
        }
    }

    /// Word boundaries of `text`, as character offsets: `bounds[i]` is true when a word starts at
    /// character `i` (and `bounds[len]` is true, the end).
    pub fn boundaries(&self, text: &str) -> Vec<bool> {
        let len = text.chars().count();
        let mut bounds = vec![false; len + 1];
        for token in self.jieba.cut(text, false) {
            if token.start <= len {
                bounds[token.start] = true;
            }
        }
        bounds[len] = true;
        bounds
    }

    /// The words of `text` (concatenated, they give back `text`).
    pub fn words<'t>(&self, text: &'t str) -> Vec<&'t str> {
        self.jieba
            .cut(text, false)
            .into_iter()
            .map(|t| t.word)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lexicon_words_stay_whole() {
        let s = Segmenter::new(["有意见找领导去"]);
        assert!(s.words("他说有意见找领导去吧").contains(&"有意见找领导去"));
    }

    #[test]
    fn boundaries_cover_start_and_end() {
        let s = Segmenter::new([]);
        let b = s.boundaries("您好请坐");
        assert!(b[0] && b[4]);
    }

    proptest! {
        #[test]
        fn words_concatenate_to_input(text in "[您好请坐不知道我管办理业务a-z0-9]{0,30}") {
            static S: std::sync::OnceLock<Segmenter> = std::sync::OnceLock::new();
            let s = S.get_or_init(|| Segmenter::new(["不知道"]));
            prop_assert_eq!(s.words(&text).concat(), text);
        }
    }
}
