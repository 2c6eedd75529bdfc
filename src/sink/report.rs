//! Reports of a run: a readable ranking with evidence, one JSON document, or JSON lines.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::lexicon::Kind;
use crate::pipeline::{Analysis, Failure};
use crate::score::WindowScore;
use crate::utterance::{TimedHit, Utterance};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A ranking of windows with the evidence for every banned hit.
    #[default]
    Text,
    /// One JSON document: windows, hits, utterances, failures, stats.
    Json,
    /// One JSON object per line, each with a `type`.
    Jsonl,
}

/// A hit with the utterance it was found in, as reported.
#[derive(Debug, Serialize)]
struct HitRecord<'a> {
    window: &'a str,
    file: &'a Path,
    #[serde(flatten)]
    hit: &'a TimedHit,
    /// The utterance's whole transcript, for context.
    text: &'a str,
}

#[derive(Debug, Serialize)]
struct RankedWindow<'a> {
    rank: Option<usize>,
    #[serde(flatten)]
    score: &'a WindowScore,
}

#[derive(Serialize)]
struct Document<'a> {
    windows: Vec<RankedWindow<'a>>,
    hits: Vec<HitRecord<'a>>,
    utterances: &'a [Utterance],
    failures: &'a [Failure],
    stats: &'a crate::pipeline::Stats,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line<'a> {
    Utterance(&'a Utterance),
    Hit(HitRecord<'a>),
    Window(RankedWindow<'a>),
    Failure(&'a Failure),
    Stats(&'a crate::pipeline::Stats),
}

fn hit_records(a: &Analysis) -> Vec<HitRecord<'_>> {
    a.utterances
        .iter()
        .flat_map(|u| {
            u.hits.iter().map(move |h| HitRecord {
                window: &u.window,
                file: &u.file,
                hit: h,
                text: &u.text,
            })
        })
        .collect()
}

/// Windows best first; windows with nothing said last, unranked.
fn ranked(a: &Analysis) -> Vec<RankedWindow<'_>> {
    let mut ws: Vec<&WindowScore> = a.windows.iter().collect();
    ws.sort_by(|x, y| match (x.score, y.score) {
        (Some(p), Some(q)) => q.total_cmp(&p).then(x.window.cmp(&y.window)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => x.window.cmp(&y.window),
    });
    let mut rank = 0;
    ws.into_iter()
        .map(|score| {
            let rank = score.score.map(|_| {
                rank += 1;
                rank
            });
            RankedWindow { rank, score }
        })
        .collect()
}

/// Writes `analysis` to `out` in `format`.
pub fn write(analysis: &Analysis, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            let doc = Document {
                windows: ranked(analysis),
                hits: hit_records(analysis),
                utterances: &analysis.utterances,
                failures: &analysis.failures,
                stats: &analysis.stats,
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Jsonl => {
            let mut line = |l: Line| -> io::Result<()> {
                serde_json::to_writer(&mut *out, &l)?;
                writeln!(out)
            };
            for u in &analysis.utterances {
                line(Line::Utterance(u))?;
            }
            for h in hit_records(analysis) {
                line(Line::Hit(h))?;
            }
            for w in ranked(analysis) {
                line(Line::Window(w))?;
            }
            for f in &analysis.failures {
                line(Line::Failure(f))?;
            }
            line(Line::Stats(&analysis.stats))
        }
        Format::Text => write_text(analysis, out),
    }
}

fn write_text(a: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    let s = &a.stats;
    if s.files > 0 {
        writeln!(
            out,
            "{} file(s), {:.1} s of audio, {:.1} s of speech, {:.1} s wall (real-time factor {:.3})",
            s.files, s.audio_seconds, s.speech_seconds, s.wall_seconds, s.real_time_factor
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<5} {:<20} {:>6} {:>9} {:>9} {:>9} {:>6} {:>7}",
        "rank", "window", "score", "sessions", "greeting", "farewell", "civil", "banned"
    )?;
    for w in ranked(a) {
        let sc = w.score;
        let n = sc.sessions.len();
        let greet = sc.sessions.iter().filter(|x| x.greeting).count();
        let bye = sc.sessions.iter().filter(|x| x.farewell).count();
        writeln!(
            out,
            "{:<5} {:<20} {:>6} {:>9} {:>9} {:>9} {:>6} {:>7}",
            w.rank.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
            sc.window,
            sc.score
                .map(|x| format!("{x:.1}"))
                .unwrap_or_else(|| "-".into()),
            n,
            format!("{greet}/{n}"),
            format!("{bye}/{n}"),
            sc.civil_hits,
            sc.banned_hits,
        )?;
    }
    for w in ranked(a) {
        let sc = w.score;
        writeln!(out)?;
        let failed = if sc.failed_files > 0 {
            format!(", {} file(s) failed", sc.failed_files)
        } else {
            String::new()
        };
        match sc.score {
            Some(x) => writeln!(
                out,
                "== {}: score {x:.1} ({} utterances, {:.1} s of speech{failed})",
                sc.window, sc.utterances, sc.speech_seconds
            )?,
            None => writeln!(out, "== {}: no speech heard{failed}", sc.window)?,
        }
        let utts: Vec<&Utterance> = a
            .utterances
            .iter()
            .filter(|u| u.window == sc.window)
            .collect();
        let mut civil: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for u in &utts {
            for h in &u.hits {
                match h.hit.kind {
                    Kind::Banned => {
                        writeln!(
                            out,
                            "  BANNED {}  [{}, severity {}, confidence {:.2}, {}]",
                            h.hit.phrase,
                            h.hit.category,
                            h.hit.severity,
                            h.hit.confidence,
                            h.hit.clause
                        )?;
                        writeln!(
                            out,
                            "         {} {:.1}–{:.1} s: {}",
                            u.file.display(),
                            h.start,
                            h.end,
                            highlight(&u.text, &h.hit.span)
                        )?;
                    }
                    Kind::Civil => {
                        *civil
                            .entry((h.hit.category.as_str(), h.hit.phrase.as_str()))
                            .or_default() += 1
                    }
                }
            }
        }
        if !civil.is_empty() {
            let list: Vec<String> = civil
                .iter()
                .map(|((sit, p), n)| {
                    if *n > 1 {
                        format!("{p}×{n} ({sit})")
                    } else {
                        format!("{p} ({sit})")
                    }
                })
                .collect();
            writeln!(out, "  civil: {}", list.join("、"))?;
        }
        for session in &sc.sessions {
            let mut missing = Vec::new();
            if !session.greeting {
                missing.push("no greeting (来有迎声)");
            }
            if !session.farewell {
                missing.push("no farewell (走有送声)");
            }
            if !missing.is_empty() {
                writeln!(
                    out,
                    "  session {} {:.1}–{:.1} s: {}",
                    session.file.display(),
                    session.start,
                    session.end,
                    missing.join(", ")
                )?;
            }
        }
    }
    if !a.failures.is_empty() {
        writeln!(out)?;
        for f in &a.failures {
            writeln!(out, "FAILED {}", f.error)?;
        }
    }
    Ok(())
}

/// The transcript with the hit marked 【like this】.
pub fn highlight(text: &str, span: &std::ops::Range<usize>) -> String {
    if span.end > text.len()
        || !text.is_char_boundary(span.start)
        || !text.is_char_boundary(span.end)
    {
        return text.to_string();
    }
    format!(
        "{}【{}】{}",
        &text[..span.start],
        &text[span.start..span.end],
        &text[span.end..]
    )
}
