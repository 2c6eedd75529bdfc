//! The matcher against what Whisper-base really writes for service phrases (see facts.md), and
//! polite sentences that contain banned strings.

use courtesy::lexicon::{Kind, Lexicon};
use courtesy::matcher::{Matcher, Method};

fn banned(text: &str) -> Vec<String> {
    static M: std::sync::OnceLock<Matcher> = std::sync::OnceLock::new();
    let m = M.get_or_init(|| Matcher::new(&Lexicon::builtin().unwrap()));
    m.find(text)
        .into_iter()
        .filter(|h| h.kind == Kind::Banned)
        .map(|h| h.phrase)
        .collect()
}

#[test]
fn asr_mishearings_still_match() {
    let cases = [
        ("有一件找令到去", "有意见找领导去"),
        ("有意見找領導去！", "有意见找领导去"),
        ("沒看見我正忙著嗎？", "没看见我正忙着吗？"),
        ("已经告诉你来，还不懂？", "已经告诉你了，还不懂？"),
        ("快点没有下班了", "快点，要下班了"),
        ("有牌子呢，你自己看", "有牌子，自己看"),
        ("不行，重新填", "不行，重填"),
        ("不行，虫填", "不行，重填"),
        ("这个我不管", "我不管"),
        ("不知道怎么办。", "不知道"),
    ];
    for (heard, phrase) in cases {
        let found = banned(heard);
        assert!(
            found.iter().any(|p| p == phrase),
            "{heard} → {found:?}, expected {phrase}"
        );
    }
}

#[test]
fn polite_sentences_with_banned_strings_raise_nothing() {
    for polite in [
        "不知道您带身份证了吗？",
        "不管多晚我们都给您办完。",
        "如果有不知道的地方，您尽管问。",
        "我不管多忙都会先帮您办好。",
        "您不知道的话可以问我。",
        "不知道您方不方便明天再来一趟？",
        "有意见可以找领导反映，这是意见簿。",
        "请您到三号窗口办理。",
        "您好像没有带户口本。",
    ] {
        assert!(banned(polite).is_empty(), "{polite} → {:?}", banned(polite));
    }
}

#[test]
fn hits_point_back_into_the_original_transcript() {
    let m = Matcher::new(&Lexicon::builtin().unwrap());
    let text = "好的。有意見，找領導去吧";
    let hit = m
        .find(text)
        .into_iter()
        .find(|h| h.kind == Kind::Banned)
        .unwrap();
    assert_eq!(&text[hit.span.clone()], "有意見，找領導去");
    assert_eq!(hit.matched, "有意見，找領導去");
}

#[test]
fn slots_match_filled_templates() {
    let m = Matcher::new(&Lexicon::builtin().unwrap());
    let hits = m.find("请您到十三号综合窗口办理");
    assert!(
        hits.iter()
            .any(|h| h.phrase == "请您到××窗口办理" && h.method == Method::Exact),
        "{hits:?}"
    );
    let hits = m.find("请出示您的身份证件");
    assert!(
        hits.iter().any(|h| h.phrase == "请出示您的××证件"),
        "{hits:?}"
    );
}

#[test]
fn sound_matches_have_lower_confidence() {
    let m = Matcher::new(&Lexicon::builtin().unwrap());
    let exact = m
        .find("有意见找领导去")
        .into_iter()
        .find(|h| h.kind == Kind::Banned)
        .unwrap();
    let sound = m
        .find("有一件找令到去")
        .into_iter()
        .find(|h| h.kind == Kind::Banned)
        .unwrap();
    assert_eq!(exact.confidence, 1.0);
    assert_eq!(sound.method, Method::Sound);
    assert!(sound.confidence < exact.confidence && sound.confidence >= 0.6);
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Matcher>();
    check::<Lexicon>();
    check::<courtesy::asr::Transcriber>();
}
