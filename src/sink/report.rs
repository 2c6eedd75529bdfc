//! Reports of a run: a readable ranking with evidence, one JSON document, or JSON lines.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::lexicon::Kind;
use crate::pipeline::{Analysis, Failure, Stats, TextOrigin};
use crate::score::WindowScore;
use crate::text::MAX_PIECE_BYTES;
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

/// Characters of the transcript shown on each side of a hit.
pub const CONTEXT_CHARS: usize = 40;

/// A hit with where it was found, as reported: a bounded context rather than the whole
/// transcript, which for a long text line would be repeated in every hit.
#[derive(Debug, Serialize)]
struct HitRecord<'a> {
    window: &'a str,
    file: &'a Path,
    /// Text input: the line (1-based) the hit is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    /// Characters before the hit in its line (text input) or its transcript.
    offset: usize,
    #[serde(flatten)]
    hit: &'a TimedHit,
    /// Who said the utterance (`speaker`, `speaker_confidence`).
    #[serde(flatten)]
    speaker: crate::speaker::Speaker,
    /// Up to [`CONTEXT_CHARS`] characters each side of the hit, the hit marked 【like this】.
    context: String,
}

impl<'a> HitRecord<'a> {
    fn new(u: &'a Utterance, h: &'a TimedHit, origin: Option<TextOrigin>) -> HitRecord<'a> {
        let before = u
            .text
            .get(..h.hit.span.start)
            .map_or(0, |s| s.chars().count());
        HitRecord {
            window: &u.window,
            file: &u.file,
            line: origin.map(|o| o.line),
            offset: origin.map_or(0, |o| o.offset) + before,
            hit: h,
            speaker: u.speaker,
            context: context(&u.text, &h.hit.span),
        }
    }
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
        .flat_map(|u| u.hits.iter().map(move |h| HitRecord::new(u, h, None)))
        .collect()
}

/// Windows best first; windows with nothing said last, unranked.
fn ranked(windows: &[WindowScore]) -> Vec<RankedWindow<'_>> {
    let mut ws: Vec<&WindowScore> = windows.iter().collect();
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
                windows: ranked(&analysis.windows),
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
            for w in ranked(&analysis.windows) {
                line(Line::Window(w))?;
            }
            for f in &analysis.failures {
                line(Line::Failure(f))?;
            }
            line(Line::Stats(&analysis.stats))
        }
        Format::Text => {
            let mut evidence = Evidence::default();
            for u in &analysis.utterances {
                evidence.add(u, None);
            }
            write_text(
                &analysis.windows,
                &evidence,
                &analysis.failures,
                &analysis.stats,
                out,
            )
        }
    }
}

/// What the text report shows of each window's hits: every banned hit with its bounded context,
/// civil hits counted.
#[derive(Default)]
struct Evidence {
    banned: BTreeMap<String, Vec<String>>,
    civil: BTreeMap<String, BTreeMap<(String, String), usize>>,
}

impl Evidence {
    fn add(&mut self, u: &Utterance, origin: Option<TextOrigin>) {
        let citizen = u.speaker.role == crate::speaker::Role::Citizen;
        for h in &u.hits {
            match h.hit.kind {
                Kind::Banned if citizen => {
                    self.banned.entry(u.window.clone()).or_default().push(format!(
                        "  citizen said {} (not counted, speaker confidence {:.2})\n         {}: {}",
                        h.hit.phrase,
                        u.speaker.confidence,
                        place(u, h, origin),
                        context(&u.text, &h.hit.span)
                    ));
                }
                Kind::Civil if citizen => {}
                Kind::Banned => {
                    let speaker = match u.speaker.role {
                        crate::speaker::Role::Staff => " staff",
                        _ => "",
                    };
                    let place = place(u, h, origin);
                    self.banned.entry(u.window.clone()).or_default().push(format!(
                        "  BANNED{speaker} {}  [{}, severity {}, confidence {:.2}, {}]\n         {place}: {}",
                        h.hit.phrase,
                        h.hit.category,
                        h.hit.severity,
                        h.hit.confidence,
                        h.hit.clause,
                        context(&u.text, &h.hit.span)
                    ));
                }
                Kind::Civil => {
                    *self
                        .civil
                        .entry(u.window.clone())
                        .or_default()
                        .entry((h.hit.category.clone(), h.hit.phrase.clone()))
                        .or_default() += 1
                }
            }
        }
    }
}

/// Where a hit was said: the file and line of a text input, else the file and seconds.
fn place(u: &Utterance, h: &TimedHit, origin: Option<TextOrigin>) -> String {
    match origin {
        Some(o) => format!("{}:{}", u.file.display(), o.line),
        None => format!("{} {:.1}–{:.1} s", u.file.display(), h.start, h.end),
    }
}

fn write_text(
    windows: &[WindowScore],
    evidence: &Evidence,
    failures: &[Failure],
    s: &crate::pipeline::Stats,
    out: &mut dyn Write,
) -> io::Result<()> {
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
    if s.cut_lines > 0 {
        writeln!(
            out,
            "{} line(s) read, {} longer than {MAX_PIECE_BYTES} bytes matched in pieces",
            s.lines, s.cut_lines
        )?;
    }
    for w in ranked(windows) {
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
    for w in ranked(windows) {
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
        for l in evidence.banned.get(&sc.window).into_iter().flatten() {
            writeln!(out, "{l}")?;
        }
        let none = BTreeMap::new();
        let civil = evidence.civil.get(&sc.window).unwrap_or(&none);
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
    if !failures.is_empty() {
        writeln!(out)?;
        for f in failures {
            writeln!(out, "FAILED {}", f.error)?;
        }
    }
    Ok(())
}

/// The hit marked 【like this】 with up to [`CONTEXT_CHARS`] characters of the transcript on each
/// side (`…` where more was cut off): bounded however long the transcript. A span that does
/// not fit shows the transcript's start, unmarked.
pub fn context(text: &str, span: &std::ops::Range<usize>) -> String {
    context_within(text, span, CONTEXT_CHARS)
}

/// [`context`] with `chars` characters each side (the terminal's alert lines keep fewer): the
/// one place a hit is cut out of its transcript for people to read.
pub(crate) fn context_within(text: &str, span: &std::ops::Range<usize>, chars: usize) -> String {
    if span.start > span.end
        || span.end > text.len()
        || !text.is_char_boundary(span.start)
        || !text.is_char_boundary(span.end)
    {
        return text.chars().take(2 * chars).collect();
    }
    let before = &text[..span.start];
    let after = &text[span.end..];
    let from = match chars.checked_sub(1) {
        Some(n) => before.char_indices().rev().nth(n).map_or(0, |(i, _)| i),
        None => before.len(),
    };
    let to = after
        .char_indices()
        .nth(chars)
        .map_or(after.len(), |(i, _)| i);
    format!(
        "{}{}【{}】{}{}",
        if from > 0 { "…" } else { "" },
        &before[from..],
        &text[span.clone()],
        &after[..to],
        if to < after.len() { "…" } else { "" },
    )
}

/// A report written while the input is read, for inputs too large to hold (`courtesy text`):
/// `jsonl` writes each utterance and its hits as they are found and keeps nothing, so it is the
/// format for huge inputs; `json` writes each utterance at once and keeps the hits (each with a
/// bounded context) in a temporary file for its `hits` list; `text` keeps in memory the evidence
/// it prints (every banned hit, civil hits counted).
pub struct Stream<'w> {
    format: Format,
    out: &'w mut dyn Write,
    /// `json`: the hits, serialized into a temporary file until the end, so that memory stays
    /// flat however many there are.
    hits: Option<io::BufWriter<std::fs::File>>,
    hit_count: usize,
    evidence: Evidence,
    utterances: usize,
}

impl<'w> Stream<'w> {
    /// Starts a report in `format` on `out`.
    pub fn new(format: Format, out: &'w mut dyn Write) -> io::Result<Stream<'w>> {
        let hits = match format {
            Format::Json => {
                write!(out, "{{\n  \"utterances\": [")?;
                Some(io::BufWriter::new(tempfile::tempfile()?))
            }
            _ => None,
        };
        Ok(Stream {
            format,
            out,
            hits,
            hit_count: 0,
            evidence: Evidence::default(),
            utterances: 0,
        })
    }

    /// Reports one utterance (and its hits) of a text input read at `origin`.
    pub fn utterance(&mut self, u: &Utterance, origin: Option<TextOrigin>) -> io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut *self.out, &Line::Utterance(u))?;
                writeln!(self.out)?;
                for h in &u.hits {
                    let hit = HitRecord::new(u, h, origin);
                    serde_json::to_writer(&mut *self.out, &Line::Hit(hit))?;
                    writeln!(self.out)?;
                }
            }
            Format::Json => {
                let sep = if self.utterances == 0 { "" } else { "," };
                write!(self.out, "{sep}\n    ")?;
                serde_json::to_writer(&mut *self.out, u)?;
                if let Some(spill) = &mut self.hits {
                    for h in &u.hits {
                        let sep = if self.hit_count == 0 { "" } else { "," };
                        write!(spill, "{sep}\n    ")?;
                        serde_json::to_writer(&mut *spill, &HitRecord::new(u, h, origin))?;
                        self.hit_count += 1;
                    }
                }
            }
            Format::Text => self.evidence.add(u, origin),
        }
        self.utterances += 1;
        Ok(())
    }

    /// Passes on what is written so far (`text` writes only at the end).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Ends the report with the windows' scores, the failures and the stats.
    pub fn finish(
        self,
        windows: &[WindowScore],
        failures: &[Failure],
        stats: &Stats,
    ) -> io::Result<()> {
        let out = self.out;
        match self.format {
            Format::Jsonl => {
                let mut line = |l: Line| -> io::Result<()> {
                    serde_json::to_writer(&mut *out, &l)?;
                    writeln!(out)
                };
                for w in ranked(windows) {
                    line(Line::Window(w))?;
                }
                for f in failures {
                    line(Line::Failure(f))?;
                }
                line(Line::Stats(stats))
            }
            Format::Json => {
                // Item by item: the hits may be many, and are not copied again into one string.
                let list = |out: &mut dyn Write, name: &str, items: &[String]| -> io::Result<()> {
                    write!(out, ",\n  \"{name}\": [")?;
                    for (i, item) in items.iter().enumerate() {
                        let sep = if i == 0 { "" } else { "," };
                        write!(out, "{sep}\n    {item}")?;
                    }
                    write!(out, "{}", if items.is_empty() { "]" } else { "\n  ]" })
                };
                write!(out, "{}", if self.utterances == 0 { "]" } else { "\n  ]" })?;
                write!(out, ",\n  \"hits\": [")?;
                if let Some(spill) = self.hits {
                    let mut file = spill.into_inner().map_err(|e| e.into_error())?;
                    io::Seek::rewind(&mut file)?;
                    io::copy(&mut file, out)?;
                }
                write!(out, "{}", if self.hit_count == 0 { "]" } else { "\n  ]" })?;
                let windows: Vec<String> = ranked(windows)
                    .iter()
                    .map(serde_json::to_string)
                    .collect::<Result<_, _>>()?;
                list(out, "windows", &windows)?;
                let failures: Vec<String> = failures
                    .iter()
                    .map(serde_json::to_string)
                    .collect::<Result<_, _>>()?;
                list(out, "failures", &failures)?;
                writeln!(out, ",\n  \"stats\": {}\n}}", serde_json::to_string(stats)?)
            }
            Format::Text => write_text(windows, &self.evidence, failures, stats, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_is_bounded_on_both_sides() {
        let text = format!("{}不知道{}", "甲".repeat(100), "乙".repeat(100));
        let start = 300;
        let c = context(&text, &(start..start + 9));
        assert_eq!(
            c,
            format!("…{}【不知道】{}…", "甲".repeat(40), "乙".repeat(40))
        );
        assert_eq!(context("啊不知道", &(3..12)), "啊【不知道】");
        assert_eq!(context("不知道", &(1..9)), "不知道");
        assert_eq!(
            context_within("啊啊啊不知道哦哦哦", &(9..18), 1),
            "…啊【不知道】哦…"
        );
        assert_eq!(context_within("啊不知道哦", &(3..12), 0), "…【不知道】…");
        // A span that does not fit: the start of the text, bounded, unmarked.
        assert_eq!(context_within("不知道", &(1..9), 1), "不知");
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 6..3;
        assert_eq!(context_within("不知道", &reversed, 5), "不知道");
    }
}
