//! The real model on real (synthesized) speech: the bundled window dialogues, silence and noise,
//! and the labelled set's recall and false alarms.

use std::path::PathBuf;

use courtesy::asr::Transcriber;
use courtesy::config::Config;
use courtesy::lexicon::{Kind, Lexicon};
use courtesy::matcher::Matcher;
use courtesy::pipeline::{self, Analysis};

use crate::{root, transcriber};

fn analyze(paths: &[PathBuf]) -> Analysis {
    analyze_with(paths, transcriber(), &Config::default())
}

fn analyze_with(paths: &[PathBuf], transcriber: &Transcriber, config: &Config) -> Analysis {
    let _whisper = crate::whisper_lock();
    let matcher = Matcher::new(&Lexicon::builtin().unwrap());
    let (recs, unreadable) = pipeline::recordings(paths, None);
    assert!(unreadable.is_empty(), "{unreadable:?}");
    pipeline::analyze(&recs, transcriber, &matcher, config).unwrap()
}

pub fn write_wav(path: &std::path::Path, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        w.write_sample((s * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn window_dialogues_score_as_scripted() {
    scores_as_scripted(&analyze(&[root().join("samples/windows")]));
}

/// Long-form decoding (a file's speech in 30 s windows, one call each) scores the dialogues as
/// scripted too, and maps every hit back to the time its phrase was said.
#[test]
fn window_dialogues_score_as_scripted_long_form() {
    let mut config = Config::default();
    config.asr.long_form = true;
    let t = Transcriber::load(&crate::model_path(), config.asr.clone()).unwrap();
    let a = analyze_with(&[root().join("samples/windows")], &t, &config);
    scores_as_scripted(&a);

    // EXPECTED.toml: when each scripted utterance was said.
    let expected: toml::Value = toml::from_str(
        &std::fs::read_to_string(root().join("samples/windows/EXPECTED.toml")).unwrap(),
    )
    .unwrap();
    let mut said = Vec::new();
    for s in expected["session"].as_array().unwrap() {
        for u in s["utterances"].as_array().unwrap() {
            said.push((
                s["file"].as_str().unwrap().to_string(),
                u["start_s"].as_float().unwrap(),
                u["end_s"].as_float().unwrap(),
                u["text"].as_str().unwrap().to_string(),
            ));
        }
    }
    let mut checked = 0;
    for u in &a.utterances {
        for h in u.hits.iter().filter(|h| h.hit.kind == Kind::Banned) {
            // The scripted utterance holding the phrase (its first two characters suffice here).
            let head: String = h.hit.phrase.chars().take(2).collect();
            let when: Vec<_> = said
                .iter()
                .filter(|(f, _, _, text)| u.file.ends_with(f) && text.contains(&head))
                .collect();
            assert!(!when.is_empty(), "{} in {}", h.hit.phrase, u.file.display());
            assert!(
                when.iter()
                    .any(|(_, s, e, _)| h.start < e + 0.5 && s - 0.5 < h.end),
                "{} at {:.2}–{:.2} s, said at {:?}",
                h.hit.phrase,
                h.start,
                h.end,
                when
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} banned hits");
}

fn scores_as_scripted(a: &Analysis) {
    assert!(a.failures.is_empty(), "{:?}", a.failures);
    let w = |id: &str| {
        a.windows
            .iter()
            .find(|w| w.window == id)
            .unwrap_or_else(|| panic!("no window {id}"))
    };
    let banned = |id: &str| -> Vec<String> {
        a.utterances
            .iter()
            .filter(|u| u.window == id)
            .flat_map(|u| u.hits.iter())
            .filter(|h| h.hit.kind == Kind::Banned)
            .map(|h| h.hit.phrase.clone())
            .collect()
    };

    assert_eq!(banned("w01-polite"), Vec::<String>::new(), "polite window");
    assert_eq!(
        banned("w04-traps"),
        Vec::<String>::new(),
        "polite sentences containing banned strings"
    );
    assert!(
        banned("w03-mixed").contains(&"不行，重填".to_string()),
        "{:?}",
        banned("w03-mixed")
    );
    let mut rude = banned("w02-rude");
    rude.sort();
    rude.dedup();
    assert!(
        rude.len() >= 7,
        "rude window: only {rude:?} of the 8 banned phrases"
    );

    let (polite, mixed, rude) = (w("w01-polite"), w("w03-mixed"), w("w02-rude"));
    assert!(
        polite.sessions.iter().all(|s| s.greeting && s.farewell),
        "{:?}",
        polite.sessions
    );
    assert!(
        rude.sessions.iter().all(|s| !s.greeting && !s.farewell),
        "{:?}",
        rude.sessions
    );
    assert!(
        polite.score > mixed.score && mixed.score > rude.score,
        "{:?} {:?} {:?}",
        polite.score,
        mixed.score,
        rude.score
    );
    // Every hit's time lies inside its utterance, and its text is where the span says.
    for u in &a.utterances {
        for h in &u.hits {
            assert!(
                u.start <= h.start && h.end <= u.end + 0.01,
                "{h:?} outside {}–{}",
                u.start,
                u.end
            );
            assert_eq!(&u.text[h.hit.span.clone()], h.hit.matched);
        }
    }
}

#[test]
fn silence_noise_and_hum_give_no_text() {
    let dir = tempfile::tempdir().unwrap();
    let silence = vec![0.0f32; 5 * 16_000];
    // Low white noise at about -45 dBFS, from a fixed linear congruential generator.
    let mut x: u32 = 12345;
    let noise: Vec<f32> = (0..10 * 16_000)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((x >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * 0.0097
        })
        .collect();
    let hum: Vec<f32> = (0..10 * 16_000)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            0.02 * (2.0 * std::f32::consts::PI * 50.0 * t).sin()
                + 0.01 * (2.0 * std::f32::consts::PI * 100.0 * t).sin()
        })
        .collect();
    for (name, s) in [
        ("silence.wav", &silence),
        ("noise.wav", &noise),
        ("hum.wav", &hum),
    ] {
        write_wav(&dir.path().join(name), s);
    }
    let a = analyze(&[dir.path().to_path_buf()]);
    assert!(a.failures.is_empty(), "{:?}", a.failures);
    assert!(
        a.utterances.is_empty(),
        "heard {:?}",
        a.utterances.iter().map(|u| &u.text).collect::<Vec<_>>()
    );
    assert!(a
        .windows
        .iter()
        .all(|w| w.score.is_none() && w.banned_hits == 0));
}

/// Batch fits the encoder to each window's audio; a window whose fitted hearing nearly holds a
/// banned phrase is decoded again with Whisper's whole 30 s window and the second hearing kept.
/// L031 (不行，重填): heard as 不行，重便 with the encoder fitted to it, right with the whole window.
#[test]
fn a_fitted_window_that_nearly_holds_a_banned_phrase_is_heard_again_whole() {
    let clip = root().join("samples/labelled/L031.wav");
    let found = |a: &Analysis| {
        a.utterances
            .iter()
            .flat_map(|u| &u.hits)
            .any(|h| h.hit.kind == Kind::Banned && h.hit.phrase == "不行，重填")
    };
    let text = |a: &Analysis| {
        let t: Vec<&str> = a.utterances.iter().map(|u| u.text.as_str()).collect();
        t.join(" / ")
    };
    let mut once = Config::default();
    once.asr.hear_again = false;
    let t = Transcriber::load(&crate::model_path(), once.asr.clone()).unwrap();
    let fitted = analyze_with(std::slice::from_ref(&clip), &t, &once);
    assert_eq!(fitted.stats.heard_again, 0);
    assert!(
        !found(&fitted),
        "the fitted hearing now gets it: {}",
        text(&fitted)
    );

    let again = analyze(&[clip]);
    assert_eq!(again.stats.heard_again, 1, "{}", text(&again));
    assert!(found(&again), "{}", text(&again));
}

#[test]
fn labelled_audio_meets_recall_and_false_alarm_targets() {
    let dir = root().join("samples/labelled");
    let set = courtesy::eval::load(&dir).unwrap();
    assert!(set.refused.is_empty(), "{:?}", set.refused);
    let labels = set.labels;
    assert!(labels.len() >= 60);
    let matcher = Matcher::new(&Lexicon::builtin().unwrap());
    let _whisper = crate::whisper_lock();
    let (heard, a) =
        courtesy::eval::transcribe(&dir, &labels, transcriber(), &matcher, &Config::default())
            .unwrap();
    assert!(a.failures.is_empty(), "{:?}", a.failures);
    let s = courtesy::eval::evaluate(&labels, &heard, &matcher);
    let report = s.render("labelled audio");
    assert!(s.banned_recall >= 0.9, "{report}");
    assert_eq!(s.polite_sentences_with_banned_hit, 0, "{report}");
}
