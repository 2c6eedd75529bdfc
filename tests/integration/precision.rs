//! Precision on real service language nobody on the team wrote (the negative corpora that
//! `scripts/corpus.sh` fetches: InsuranceQA-zh's professionals' answers and customers' questions,
//! and the Taobao shops' customer-service chat) and the recall floor on the labelled set's text.

use std::path::PathBuf;

use courtesy::eval;
use courtesy::lexicon::Lexicon;
use courtesy::matcher::Matcher;

use crate::root;

fn corpus(name: &str) -> (String, Vec<(usize, String)>) {
    let path: PathBuf = root().join("target/corpus").join(name);
    let lines = eval::load_negative(&path)
        .unwrap_or_else(|e| panic!("{e} — run scripts/corpus.sh (scripts/test.sh does)"));
    (path.display().to_string(), lines)
}

#[test]
fn banned_hits_per_10k_real_service_sentences_stay_low() {
    let matcher = Matcher::new(&Lexicon::builtin().unwrap());
    let (file, agent) = corpus("agent.txt");
    assert!(agent.len() >= 10_000, "{}", agent.len());
    // Polite rules are written from agent-tune.txt only; the held-out half, agent-held.txt (whole
    // answers, split by scripts/corpus.sh), measures them. Held-out: 25 hits in 67,464 sentences
    // (3.71 per 10,000) before the rules written from the tuning half, 15 (2.22) with the rules of
    // 2026-11, 8 (1.19) with those of 2026-12, 6 (0.89) with those of 2026-12-02 (您 named last
    // before 不知道 is the citizen not knowing; a lacking word counts only where a word starts, so
    // 类别的 no longer holds 别的) — five of them agents saying 我不知道 to the customer, which the
    // regulation bans (`courtesy eval --negative target/corpus/agent-held.txt` lists each). Both
    // halves: 23 hits (1.70), then 12 (0.89), then 10 (0.74).
    let (held_file, held) = corpus("agent-held.txt");
    assert!(held.len() >= 10_000, "{}", held.len());
    let n = eval::negative(&held_file, &held, &matcher);
    assert!(n.per_10k <= 1.0, "{}", n.render());
    let n = eval::negative(&file, &agent, &matcher);
    assert!(n.per_10k <= 0.75, "{}", n.render());
    // Sound finds of short parts were the by-sound false alarms: none may come back.
    let by_sound = n
        .by_method
        .iter()
        .find(|m| m.0 == courtesy::matcher::Method::Sound);
    assert_eq!(by_sound.map(|m| m.1), Some(0), "{}", n.render());

    let (file, citizen) = corpus("citizen.txt");
    let n = eval::negative(&file, &citizen, &matcher);
    assert!(n.per_10k <= 1.0, "{}", n.render());
}

/// A second corpus no rule was written from until 2026-12-02: the agents of Taobao shops (the
/// E-commerce Dialogue Corpus, `scripts/corpus.sh` → target/corpus/taobao-agent.txt). 11 hits in
/// 20,859 sentences (5.27 per 10,000) with the rules of 2026-11 and of 2026-12 alike, and most of them
/// are what the regulation bans: an agent telling the customer 不知道 (暂时不知道亲, 不知道哦, 这个我们也不知道呢).
/// 10 (4.79) with 2026-12-02's condition rule (不然我不知道的哦, written from one of these hits).
/// Customers' side (taobao-customer.txt): 43 hits in 13,433 (32.0), 26 of them customers' own
/// 不知道/我不管 and 17 false by sound (怎么还不发货 / 怎么不包邮 as 怎么还不懂, 包小的 as 不晓得). Then 27
/// (20.1): Unihan's archaic readings no longer make homophones (不, 包 and 还 all read "fu") and a
/// find must end on the part's last syllable unless that is a particle (怎么还不发 is not 怎么还不懂);
/// one false by sound is left (怎么点不动: 还 heard as 点 inside, and 动 sounds as 懂). 29 (21.6) once
/// every polite rule of 不知道 lacks the same send-offs (你自己等着吧, 下一个, 明天再来): two more
/// customers' own 不知道 (我也不知道你是不是新来的); 28 (20.8) with the condition rule (不然不知道怎么会少).
#[test]
fn banned_hits_on_an_unseen_corpus_of_shop_agents_stay_where_they_are() {
    let matcher = Matcher::new(&Lexicon::builtin().unwrap());
    let (file, agent) = corpus("taobao-agent.txt");
    assert!(agent.len() >= 10_000, "{}", agent.len());
    let n = eval::negative(&file, &agent, &matcher);
    assert!(n.per_10k <= 4.8, "{}", n.render());
    let by_sound = n
        .by_method
        .iter()
        .find(|m| m.0 == courtesy::matcher::Method::Sound);
    assert_eq!(by_sound.map(|m| m.1), Some(0), "{}", n.render());

    let (file, customer) = corpus("taobao-customer.txt");
    let n = eval::negative(&file, &customer, &matcher);
    assert!(n.per_10k <= 20.9, "{}", n.render());
    let by_sound = n
        .by_method
        .iter()
        .find(|m| m.0 == courtesy::matcher::Method::Sound);
    assert!(by_sound.map_or(0, |m| m.1) <= 1, "{}", n.render());
}

#[test]
fn banned_recall_on_labelled_text_holds() {
    let matcher = Matcher::new(&Lexicon::builtin().unwrap());
    let labels = eval::load(&root().join("samples/labelled")).unwrap().labels;
    let text: Vec<String> = labels.iter().map(|l| l.text.clone()).collect();
    let s = eval::evaluate(&labels, &text, &matcher);
    assert!(s.banned_recall >= 0.95, "{}", s.render("text"));
    assert_eq!(s.false_banned_hits, 0, "{}", s.render("text"));
}

/// The same on what Whisper (base, default settings) heard for each clip, saved by
/// `courtesy eval --audio --save-heard samples/labelled/heard.tsv` (scripts/confusions.sh mines the
/// near sounds from it).
#[test]
fn banned_recall_on_whispers_transcripts_holds() {
    let matcher = Matcher::new(&Lexicon::builtin().unwrap());
    let dir = root().join("samples/labelled");
    let labels = eval::load(&dir).unwrap().labels;
    let heard = eval::load_heard(&dir.join("heard.tsv"), &labels).unwrap();
    let s = eval::evaluate(&labels, &heard, &matcher);
    assert!(s.banned_recall >= 0.90, "{}", s.render("audio"));
    assert_eq!(s.false_banned_hits, 0, "{}", s.render("audio"));
    // 91.1 % while a short civil part by sound had to be one word (请|稍后 was no 请稍候); 97.8 %
    // with word boundaries only (the one miss, 请问走, is not the sound of 请慢走).
    assert!(s.civil_recall >= 0.97, "{}", s.render("audio"));
}
