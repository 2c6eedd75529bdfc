//! Guard against Whisper's inventions: text over silence, unsure decoding, loops and stock lines.

use super::{Piece, Transcript};
use crate::text::Normalizer;

/// Lines Whisper is known to produce from silence, noise or its training subtitles, folded.
/// Seen on this project's machines or widely reported; add more in the config (`asr.guard.known`).
pub const KNOWN_HALLUCINATIONS: &[&str] = &[
    "这些人都不想要",
    "心情智慧",
    "请订阅",
    "订阅按讚及订阅打开小铃铛",
    "按讚",
    "打开小铃铛",
    "点赞订阅",
    "字幕由amara.org社群提供",
    "请不吝点赞订阅转发打赏支持明镜与点点栏目",
    "明镜与点点",
    "谢谢观看",
    "感谢观看",
    "谢谢收看",
    "优优独播剧场",
    "中文字幕",
    "字幕志愿者",
    "以下是普通话的句子",
    "我爱你的写真",
];

/// Why a piece was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Whisper itself thinks there was no speech, and it was unsure of the words.
    NoSpeech,
    /// The words are too unlikely to be evidence.
    LowConfidence,
    /// A line Whisper is known to invent.
    KnownHallucination,
    /// The same text again and again.
    Repetition,
}

/// Thresholds of the guard.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// A piece whose no-speech probability is at least this …
    pub max_no_speech: f32,
    /// … and whose mean token log-probability is below this is dropped.
    pub no_speech_logprob: f32,
    /// A piece whose mean token log-probability is below this is dropped whatever else.
    pub min_avg_logprob: f32,
    /// A unit repeated this many times in a row is a decoding loop: keep one copy.
    pub max_repeats: usize,
    /// More known hallucinated lines, in addition to [`KNOWN_HALLUCINATIONS`].
    pub known: Vec<String>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_no_speech: 0.6,
            no_speech_logprob: -0.5,
            min_avg_logprob: -1.2,
            max_repeats: 4,
            known: Vec::new(),
        }
    }
}

/// One Whisper segment before the guard.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPiece {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub no_speech_prob: f32,
    pub avg_logprob: f32,
}

/// Judges each raw piece and joins the accepted ones into a transcript.
pub fn assemble(start: f64, end: f64, raw: Vec<RawPiece>, config: &GuardConfig) -> Transcript {
    let normalizer = Normalizer::shared();
    let mut t = Transcript {
        start,
        end,
        text: String::new(),
        pieces: Vec::new(),
        rejected: Vec::new(),
    };
    let known = known_folded(config);
    let mut last_folded = String::new();
    let mut same_in_a_row = 0;
    for p in raw {
        let text = collapse_loops(p.text.trim(), config.max_repeats);
        let folded = normalizer.fold(&text);
        if folded.is_empty() {
            continue;
        }
        same_in_a_row = if folded == last_folded {
            same_in_a_row + 1
        } else {
            0
        };
        last_folded = folded.clone();
        let reason = if p.no_speech_prob >= config.max_no_speech
            && p.avg_logprob < config.no_speech_logprob
        {
            Some(Reason::NoSpeech)
        } else if p.avg_logprob < config.min_avg_logprob {
            Some(Reason::LowConfidence)
        } else if is_known(&folded, &known) {
            Some(Reason::KnownHallucination)
        } else if same_in_a_row >= 2 {
            Some(Reason::Repetition)
        } else {
            None
        };
        if let Some(reason) = reason {
            t.rejected.push((text, reason));
            continue;
        }
        let from = t.text.len();
        t.text.push_str(&text);
        t.pieces.push(Piece {
            start: p.start,
            end: p.end.max(p.start),
            span: from..t.text.len(),
            text,
            no_speech_prob: p.no_speech_prob,
            avg_logprob: p.avg_logprob,
        });
    }
    t
}

/// The known lines, built-in and configured, folded like transcripts (once per transcript, the
/// built-in ones once per process).
fn known_folded(config: &GuardConfig) -> Vec<String> {
    static BUILTIN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let normalizer = Normalizer::shared();
    let builtin = BUILTIN.get_or_init(|| {
        KNOWN_HALLUCINATIONS
            .iter()
            .map(|k| normalizer.fold(k))
            .collect()
    });
    builtin
        .iter()
        .cloned()
        .chain(config.known.iter().map(|k| normalizer.fold(k)))
        .filter(|k| !k.is_empty())
        .collect()
}

fn is_known(folded: &str, known: &[String]) -> bool {
    known
        .iter()
        .any(|k| folded == k || (k.chars().count() >= 4 && folded.contains(k.as_str())))
}

/// Keeps one copy of any unit of 1–12 characters repeated `max_repeats` or more times in a row
/// (我爱你的写真我爱你的写真… → 我爱你的写真). Twice or three times is speech (快点快点).
pub fn collapse_loops(text: &str, max_repeats: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let max_repeats = max_repeats.max(2);
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    'outer: while i < chars.len() {
        for unit in 1..=12usize {
            if i + unit * max_repeats > chars.len() {
                break;
            }
            let reps = 1
                + (1..)
                    .take_while(|r| {
                        let s = i + r * unit;
                        s + unit <= chars.len() && chars[s..s + unit] == chars[i..i + unit]
                    })
                    .count();
            let needed = if unit == 1 {
                max_repeats + 2
            } else {
                max_repeats
            };
            if reps >= needed {
                out.extend_from_slice(&chars[i..i + unit]);
                i += reps * unit;
                continue 'outer;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(text: &str, nsp: f32, lp: f32) -> RawPiece {
        RawPiece {
            start: 0.0,
            end: 1.0,
            text: text.into(),
            no_speech_prob: nsp,
            avg_logprob: lp,
        }
    }

    #[test]
    fn loops_collapse_but_doubles_stay() {
        assert_eq!(
            collapse_loops(&"我爱你的写真".repeat(20), 4),
            "我爱你的写真"
        );
        assert_eq!(
            collapse_loops("快点快点，要下班了", 4),
            "快点快点，要下班了"
        );
        assert_eq!(collapse_loops("好的好的好的", 4), "好的好的好的");
    }

    #[test]
    fn known_lines_and_silence_are_refused() {
        let g = GuardConfig::default();
        let t = assemble(0.0, 5.0, vec![piece("这些人都不想要", 0.1, -0.3)], &g);
        assert!(t.text.is_empty());
        assert_eq!(t.rejected[0].1, Reason::KnownHallucination);
        let t = assemble(
            0.0,
            5.0,
            vec![piece("请订阅 订阅 按讚 及订阅 打开小铃铛", 0.1, -0.3)],
            &g,
        );
        assert!(t.text.is_empty());
        let t = assemble(0.0, 5.0, vec![piece("心情智慧", 0.9, -0.9)], &g);
        assert!(t.text.is_empty());
        let t = assemble(0.0, 5.0, vec![piece("以下是普通话的句子。", 0.0, -0.1)], &g);
        assert!(t.text.is_empty(), "the prompt echoed back is not speech");
    }

    #[test]
    fn real_speech_passes_with_spans() {
        let g = GuardConfig::default();
        let t = assemble(
            0.0,
            5.0,
            vec![piece("您好，", 0.01, -0.2), piece("请坐。", 0.02, -0.3)],
            &g,
        );
        assert_eq!(t.text, "您好，请坐。");
        assert_eq!(&t.text[t.pieces[1].span.clone()], "请坐。");
    }

    #[test]
    fn the_same_piece_over_and_over_is_a_loop() {
        let g = GuardConfig::default();
        let raw = (0..5).map(|_| piece("谢谢", 0.1, -0.2)).collect();
        let t = assemble(0.0, 5.0, raw, &g);
        assert_eq!(t.pieces.len(), 2);
    }
}
