//! Evaluation: banned recall, civil recall and false banned hits on the labelled set (from text or
//! audio), banned hits per 10,000 sentences of negative corpora, and both per matching method.
//!
//! The set is a folder with `labels.tsv` (`id, text, banned, civil, kind`; phrases `|`-separated,
//! canonical lexicon spellings) and one `<id>.wav` per row. A negative corpus is a text file of
//! sentences, one a line, that hold no banned phrase (real service language: every hit is false).
//! With a noise recording ([`Noise`]) the clips are heard through a hall's noise at a chosen SNR.

mod noise;

pub use noise::{active_power, Noise};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::lexicon::Kind;
use crate::matcher::{Hit, Matcher, Method};

/// One labelled sentence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Labelled {
    pub id: String,
    pub text: String,
    pub banned: BTreeSet<String>,
    pub civil: BTreeSet<String>,
    /// banned | civil | trap | neutral
    pub kind: String,
}

/// What was found for one sentence.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub id: String,
    pub kind: String,
    /// What the matcher read: the label text, or Whisper's transcript.
    pub heard: String,
    pub banned_missed: Vec<String>,
    pub banned_false: Vec<String>,
    pub civil_missed: Vec<String>,
    pub civil_found: usize,
}

/// The figures of one evaluation.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub sentences: usize,
    pub banned_expected: usize,
    pub banned_found: usize,
    pub banned_recall: f64,
    pub civil_expected: usize,
    pub civil_found: usize,
    pub civil_recall: f64,
    /// Banned hits on a phrase the sentence does not contain.
    pub false_banned_hits: usize,
    /// Sentences without any banned phrase (civil, trap, neutral) that got a banned hit.
    pub polite_sentences_with_banned_hit: usize,
    pub polite_sentences: usize,
    /// Banned hits per matching method (exact, gapped, sound).
    pub by_method: Vec<MethodFigures>,
    pub outcomes: Vec<Outcome>,
}

/// Banned hits of one matching method on a labelled set.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MethodFigures {
    pub method: Method,
    /// Hits on a phrase the sentence holds.
    pub true_hits: usize,
    /// Hits on a phrase it does not hold.
    pub false_hits: usize,
    /// Share of the expected banned phrases this method found.
    pub recall: f64,
}

/// The methods in report order.
pub const METHODS: [Method; 3] = [Method::Exact, Method::Gapped, Method::Sound];

/// The label of a method in reports.
pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::Exact => "exact",
        Method::Gapped => "gapped",
        Method::Sound => "sound",
    }
}

/// A `labels.tsv` as read: the sentences to evaluate, and the lines refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSet {
    pub labels: Vec<Labelled>,
    /// One line per refused line (`labels.tsv:N: what is wrong — the fix`); the other lines are
    /// still evaluated.
    pub refused: Vec<String>,
}

/// Reads `dir/labels.tsv`. A line whose id would put its audio outside `dir` (`../x`, `/abs`) is
/// refused, the others are read; a file with no sentence to evaluate is an error, not a perfect
/// score.
pub fn load(dir: &Path) -> Result<LabelSet, String> {
    let path = dir.join("labels.tsv");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: cannot read it ({e})", path.display()))?;
    parse(&path, &text)
}

/// The labelled set shipped with the program (a copy of `samples/labelled/labels.tsv` taken at
/// build time): the sentences every rule change is checked against, wherever it is made.
pub fn builtin() -> Vec<Labelled> {
    const LABELS: &str = include_str!("../../samples/labelled/labels.tsv");
    parse(Path::new("samples/labelled/labels.tsv"), LABELS)
        .map(|set| set.labels)
        .unwrap_or_default()
}

/// The audio file of sentence `id`, relative to the labelled folder.
fn audio_name(id: &str) -> PathBuf {
    PathBuf::from(format!("{id}.wav"))
}

/// Reads the text of a `labels.tsv` read from `path`.
fn parse(path: &Path, text: &str) -> Result<LabelSet, String> {
    let set = |s: &str| {
        s.split('|')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut out = LabelSet::default();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 5 {
            return Err(format!(
                "{}:{}: expected 5 tab-separated columns (id, text, banned, civil, kind)",
                path.display(),
                n + 1
            ));
        }
        // The id names the audio file: it must stay inside the labelled folder.
        if !crate::inside::is_plain(&audio_name(cols[0])) {
            out.refused.push(format!(
                "{}:{}: id {:?} names a file outside the labelled folder — give the WAV's name inside the folder, without its .wav (e.g. L001), no `..`, `/` at the start or `\\`; the other lines are evaluated",
                path.display(),
                n + 1,
                crate::message::one_line(cols[0])
            ));
            continue;
        }
        out.labels.push(Labelled {
            id: cols[0].into(),
            text: cols[1].into(),
            banned: set(cols[2]),
            civil: set(cols[3]),
            kind: cols[4].trim().into(),
        });
    }
    // Recall over nothing would read as 100 %.
    if out.labels.is_empty() {
        return Err(match out.refused.first() {
            Some(first) => format!("{first} — and no other line is left to evaluate"),
            None => format!(
                "no labelled sentences in {} — add one line per sentence after the header (id, text, banned, civil, kind; tab-separated)",
                path.display()
            ),
        });
    }
    Ok(out)
}

/// The audio file of a labelled sentence, inside `dir` (a link in it may not lead out). A missing
/// file is returned as it is, for the reader to report.
pub fn audio_path(dir: &Path, l: &Labelled) -> Result<PathBuf, String> {
    let rel = audio_name(&l.id);
    match crate::inside::existing(dir, &rel) {
        Ok(path) => Ok(path),
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(dir.join(rel)),
        Err(e) => Err(format!("labelled sentence {}: {e}", l.id)),
    }
}

/// Scores what the matcher finds in `heard[i]` (the text read for `labels[i]`).
pub fn evaluate(labels: &[Labelled], heard: &[String], matcher: &Matcher) -> Summary {
    let mut s = Summary {
        sentences: labels.len(),
        ..Summary::default()
    };
    // (method, true hits, false hits).
    let mut methods = METHODS.map(|m| (m, 0usize, 0usize));
    for (l, text) in labels.iter().zip(heard) {
        let hits = matcher.find(text);
        let mut credited = BTreeSet::new();
        for h in hits.iter().filter(|h| h.kind == Kind::Banned) {
            let slot = methods
                .iter_mut()
                .find(|m| m.0 == h.method)
                .expect("every method");
            // One phrase said once is found once: a second hit on it counts neither way.
            if l.banned.contains(&h.phrase) {
                if credited.insert(h.phrase.clone()) {
                    slot.1 += 1;
                }
            } else {
                slot.2 += 1;
            }
        }
        let found = |kind: Kind| -> BTreeSet<String> {
            hits.iter()
                .filter(|h| h.kind == kind)
                .map(|h| h.phrase.clone())
                .collect()
        };
        let (banned, civil) = (found(Kind::Banned), found(Kind::Civil));
        let o = Outcome {
            id: l.id.clone(),
            kind: l.kind.clone(),
            heard: text.clone(),
            banned_missed: l.banned.difference(&banned).cloned().collect(),
            banned_false: banned.difference(&l.banned).cloned().collect(),
            civil_missed: l.civil.difference(&civil).cloned().collect(),
            civil_found: l.civil.intersection(&civil).count(),
        };
        s.banned_expected += l.banned.len();
        s.banned_found += l.banned.len() - o.banned_missed.len();
        s.civil_expected += l.civil.len();
        s.civil_found += o.civil_found;
        s.false_banned_hits += o.banned_false.len();
        if l.banned.is_empty() {
            s.polite_sentences += 1;
            if !banned.is_empty() {
                s.polite_sentences_with_banned_hit += 1;
            }
        }
        s.outcomes.push(o);
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    s.banned_recall = ratio(s.banned_found, s.banned_expected);
    s.by_method = methods
        .iter()
        .map(|&(method, true_hits, false_hits)| MethodFigures {
            method,
            true_hits,
            false_hits,
            recall: ratio(true_hits, s.banned_expected),
        })
        .collect();
    s.civil_recall = ratio(s.civil_found, s.civil_expected);
    s
}

impl Summary {
    /// The figures and every miss, readable.
    pub fn render(&self, title: &str) -> String {
        let mut out = String::new();
        let pct = |x: f64| format!("{:.1} %", x * 100.0);
        out += &format!("{title}: {} sentences\n", self.sentences);
        out += &format!(
            "  banned recall      {} ({}/{})\n",
            pct(self.banned_recall),
            self.banned_found,
            self.banned_expected
        );
        out += &format!(
            "  civil recall       {} ({}/{})\n",
            pct(self.civil_recall),
            self.civil_found,
            self.civil_expected
        );
        out += &format!("  false banned hits  {}\n", self.false_banned_hits);
        out += &format!(
            "  polite sentences with a banned hit  {}/{}\n",
            self.polite_sentences_with_banned_hit, self.polite_sentences
        );
        for m in &self.by_method {
            out += &format!(
                "  banned hits by {:<6} {} true, {} false (recall {})\n",
                method_name(m.method),
                m.true_hits,
                m.false_hits,
                pct(m.recall)
            );
        }
        for o in &self.outcomes {
            if o.banned_missed.is_empty() && o.banned_false.is_empty() && o.civil_missed.is_empty()
            {
                continue;
            }
            let mut notes = Vec::new();
            if !o.banned_missed.is_empty() {
                notes.push(format!("missed banned {}", o.banned_missed.join("|")));
            }
            if !o.banned_false.is_empty() {
                notes.push(format!("FALSE banned {}", o.banned_false.join("|")));
            }
            if !o.civil_missed.is_empty() {
                notes.push(format!("missed civil {}", o.civil_missed.join("|")));
            }
            out += &format!(
                "  {} [{}] {} — {}\n",
                o.id,
                o.kind,
                o.heard,
                notes.join("; ")
            );
        }
        out
    }
}

/// One banned hit on a sentence of a negative corpus: a false alarm.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FalseHit {
    /// 1-based line of the sentence in its file.
    pub line: usize,
    pub sentence: String,
    pub phrase: String,
    pub matched: String,
    pub method: Method,
    pub confidence: f32,
}

/// Banned hits on a negative corpus (sentences that hold no banned phrase).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Negative {
    pub file: String,
    pub sentences: usize,
    pub banned_hits: usize,
    pub per_10k: f64,
    /// (method, hits) in [`METHODS`] order.
    pub by_method: Vec<(Method, usize)>,
    pub hits: Vec<FalseHit>,
}

/// Reads a negative corpus: one sentence a line, blank lines skipped.
pub fn load_negative(path: &Path) -> Result<Vec<(usize, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: cannot read it ({e}) — give a UTF-8 text file, one sentence a line (scripts/corpus.sh fetches the real ones into target/corpus)",
            path.display()
        )
    })?;
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| (n + 1, l.trim().to_string()))
        .collect();
    if lines.is_empty() {
        return Err(format!(
            "{}: no sentences in it — a negative corpus is one sentence a line",
            path.display()
        ));
    }
    Ok(lines)
}

/// Every banned hit on the sentences of a negative corpus (matched in parallel).
pub fn negative(file: &str, sentences: &[(usize, String)], matcher: &Matcher) -> Negative {
    use rayon::prelude::*;
    let hits: Vec<FalseHit> = sentences
        .par_iter()
        .flat_map_iter(|(line, sentence)| {
            matcher
                .find(sentence)
                .into_iter()
                .filter(|h| h.kind == Kind::Banned)
                .map(|h: Hit| FalseHit {
                    line: *line,
                    sentence: sentence.clone(),
                    phrase: h.phrase,
                    matched: h.matched,
                    method: h.method,
                    confidence: h.confidence,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let n = sentences.len();
    Negative {
        file: file.to_string(),
        sentences: n,
        banned_hits: hits.len(),
        per_10k: hits.len() as f64 * 10_000.0 / n.max(1) as f64,
        by_method: METHODS
            .iter()
            .map(|&m| (m, hits.iter().filter(|h| h.method == m).count()))
            .collect(),
        hits,
    }
}

impl Negative {
    /// The figures and every hit, readable.
    pub fn render(&self) -> String {
        let mut out = format!(
            "negative corpus {}: {} sentences, {} banned hits ({:.2} per 10,000)\n",
            self.file, self.sentences, self.banned_hits, self.per_10k
        );
        for (m, n) in &self.by_method {
            out += &format!("  by {:<6} {n}\n", method_name(*m));
        }
        for h in &self.hits {
            out += &format!(
                "  line {} [{} {} {:.2}] “{}” in {}\n",
                h.line,
                method_name(h.method),
                h.phrase,
                h.confidence,
                h.matched,
                h.sentence
            );
        }
        out
    }
}

/// Precision and recall of each matching method over a labelled set and negative corpora (all of
/// whose hits are false), as table lines.
pub fn render_methods(labelled: &Summary, negatives: &[Negative]) -> String {
    let pct = |x: f64| format!("{:.1} %", x * 100.0);
    let mut out = String::from(
        "per method (banned): true hits, false on labelled, false on negative, precision, recall\n",
    );
    for (i, m) in labelled.by_method.iter().enumerate() {
        let negative: usize = negatives.iter().map(|n| n.by_method[i].1).sum();
        let all = m.true_hits + m.false_hits + negative;
        let precision = match all {
            0 => "–".to_string(),
            _ => pct(m.true_hits as f64 / all as f64),
        };
        out += &format!(
            "  {:<6} {:>4} {:>4} {:>5}  {:>7}  {}\n",
            method_name(m.method),
            m.true_hits,
            m.false_hits,
            negative,
            precision,
            pct(m.recall)
        );
    }
    out
}

/// Reads what Whisper heard for each clip, saved by `courtesy eval --audio --save-heard`: a TSV of
/// `id<TAB>transcript`, one clip a line; returns the transcripts in label order (a clip missing
/// from the file was heard as nothing).
pub fn load_heard(path: &Path, labels: &[Labelled]) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read it ({e})", path.display()))?;
    let mut by_id = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (id, heard) = line.split_once('\t').ok_or_else(|| {
            format!(
                "{}:{}: expected id<TAB>transcript — write it with `courtesy eval --audio --save-heard`",
                path.display(),
                n + 1
            )
        })?;
        by_id.insert(id.to_string(), heard.to_string());
    }
    if !labels.iter().any(|l| by_id.contains_key(&l.id)) {
        return Err(format!(
            "{}: none of its ids is in the labelled set — is it the transcripts of this set?",
            path.display()
        ));
    }
    Ok(labels
        .iter()
        .map(|l| by_id.get(&l.id).cloned().unwrap_or_default())
        .collect())
}

/// The TSV [`load_heard`] reads.
pub fn heard_tsv(labels: &[Labelled], heard: &[String]) -> String {
    labels
        .iter()
        .zip(heard)
        .map(|(l, h)| format!("{}\t{}\n", l.id, h.replace(['\t', '\n'], " ")))
        .collect()
}

/// Runs each labelled sentence's audio through the pipeline (one window per sentence) and returns
/// what Whisper heard for each, in label order, with the run itself (failures, timing).
pub fn transcribe(
    dir: &Path,
    labels: &[Labelled],
    transcriber: &crate::asr::Transcriber,
    matcher: &Matcher,
    config: &crate::config::Config,
) -> Result<(Vec<String>, crate::pipeline::Analysis), crate::asr::AsrError> {
    let mut recordings = Vec::new();
    let mut refused = Vec::new();
    for l in labels {
        match audio_path(dir, l) {
            Ok(file) => recordings.push(crate::pipeline::Recording {
                window: l.id.clone(),
                file,
            }),
            Err(error) => refused.push(crate::pipeline::Failure {
                window: l.id.clone(),
                file: dir.join(audio_name(&l.id)),
                error,
            }),
        }
    }
    let mut analysis = crate::pipeline::analyze(&recordings, transcriber, matcher, config)?;
    analysis.failures.extend(refused);
    let heard = labels
        .iter()
        .map(|l| {
            analysis
                .utterances
                .iter()
                .filter(|u| u.window == l.id)
                .map(|u| u.text.as_str())
                .collect()
        })
        .collect();
    Ok((heard, analysis))
}

/// Like [`transcribe`], but packs the clips' speech segments into shared Whisper calls of at most
/// `pack_seconds` (see [`crate::asr::Worker::transcribe_packed`]), the way `courtesy live` serves
/// many windows.
pub fn transcribe_packed(
    dir: &Path,
    labels: &[Labelled],
    transcriber: &crate::asr::Transcriber,
    config: &crate::config::Config,
    pack_seconds: f64,
) -> Result<Packed, crate::asr::AsrError> {
    use crate::asr::packed_len;
    let mut failures = Vec::new();
    let started = std::time::Instant::now();
    let mut audio_seconds = 0.0;
    // (label index, segment) in order.
    let mut segments = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let samples = match audio_path(dir, l)
            .and_then(|p| crate::audio::read_wav(&p).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        audio_seconds += samples.len() as f64 / crate::audio::SAMPLE_RATE as f64;
        for seg in crate::vad::segment_all(&samples, config.vad.clone()) {
            segments.push((i, seg));
        }
    }
    let mut worker = transcriber.worker()?;
    let mut heard = vec![String::new(); labels.len()];
    let mut k = 0;
    while k < segments.len() {
        let mut n = 1;
        while k + n < segments.len()
            && packed_len(segments[k..=k + n].iter().map(|(_, s)| s.duration())) <= pack_seconds
        {
            n += 1;
        }
        let batch: Vec<&crate::vad::SpeechSegment> =
            segments[k..k + n].iter().map(|(_, s)| s).collect();
        for ((i, _), t) in segments[k..k + n]
            .iter()
            .zip(worker.transcribe_packed(&batch)?)
        {
            heard[*i].push_str(&t.text);
        }
        k += n;
    }
    Ok(Packed {
        heard,
        audio_seconds,
        wall_seconds: started.elapsed().as_secs_f64(),
        failures,
    })
}

/// What [`transcribe_packed`] heard.
pub struct Packed {
    /// What was heard, per label.
    pub heard: Vec<String>,
    pub audio_seconds: f64,
    pub wall_seconds: f64,
    /// One line per clip that could not be read (its label is evaluated as heard nothing).
    pub failures: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11, defect 8: an empty label set reported 100 % recall.
    #[test]
    fn issue_11_an_empty_label_set_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("labels.tsv"),
            "id\ttext\tbanned\tcivil\tkind\n\n",
        )
        .unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(
            e.contains("no labelled sentences") && e.contains("labels.tsv"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    /// Issue 11: an id in labels.tsv was joined to the folder as it was, so `../x` or `/abs`
    /// read audio from anywhere. Such a line is now refused in one line naming labels.tsv:line
    /// and the fix, and the other lines are still read.
    #[test]
    fn issue_11_ids_that_leave_the_labelled_folder_are_refused_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("labels.tsv"),
            "id\ttext\tbanned\tcivil\tkind\n\
             L001\t不知道。\t不知道\t\tbanned\n\
             ../secret\t您好\t\t您好\tcivil\n\
             /etc/passwd\t您好\t\t您好\tcivil\n\
             sub/L002\t您好\t\t您好\tcivil\n\
             a\\..\\b\t您好\t\t您好\tcivil\n",
        )
        .unwrap();
        let set = load(dir.path()).unwrap();
        let ids: Vec<&str> = set.labels.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["L001", "sub/L002"]);
        assert_eq!(set.refused.len(), 3, "{:?}", set.refused);
        for (r, line) in set.refused.iter().zip([3, 4, 6]) {
            assert!(
                r.contains(&format!("labels.tsv:{line}:")) && r.contains("inside the folder"),
                "{r}"
            );
            assert_eq!(r.lines().count(), 1, "{r}");
        }
        // Only bad lines: an error, not an empty evaluation.
        std::fs::write(
            dir.path().join("labels.tsv"),
            "id\ttext\tbanned\tcivil\tkind\n../x\t您好\t\t您好\tcivil\n",
        )
        .unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(
            e.contains("labels.tsv:2:") && e.contains("no other line"),
            "{e}"
        );
    }

    /// A link inside the labelled folder may not lead out of it.
    #[cfg(unix)]
    #[test]
    fn issue_11_a_linked_audio_file_must_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let set = dir.path().join("set");
        std::fs::create_dir(&set).unwrap();
        std::fs::write(dir.path().join("secret.wav"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.wav"), set.join("L001.wav")).unwrap();
        let l = Labelled {
            id: "L001".into(),
            text: String::new(),
            banned: BTreeSet::new(),
            civil: BTreeSet::new(),
            kind: "neutral".into(),
        };
        let e = audio_path(&set, &l).unwrap_err();
        assert!(e.contains("L001") && e.contains("link"), "{e}");
        let missing = Labelled {
            id: "L002".into(),
            ..l
        };
        assert_eq!(audio_path(&set, &missing).unwrap(), set.join("L002.wav"));
    }

    #[test]
    fn the_builtin_set_is_the_samples_file() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/labelled");
        let set = builtin();
        assert_eq!(set, load(&dir).unwrap().labels);
        assert!(set.len() > 100, "{}", set.len());
    }
}
