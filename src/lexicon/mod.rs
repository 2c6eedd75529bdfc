//! Lexicons: the civil and banned phrases of the regulation, loaded from hand-editable TOML.
//!
//! `lexicons/civil.toml` and `lexicons/banned.toml` hold one `[[phrase]]` table per phrase (see the
//! comments at the top of each file). Loading folds every wording the way transcripts are folded,
//! splits it into [`Part`]s at punctuation (a few words may be inserted there), `…` (likewise) and
//! `××` slots (the speaker fills in a name), and checks every field, naming file and line of a bad one.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::text::Normalizer;

/// Whether a phrase is one staff must use or one they must never use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Civil,
    Banned,
}

/// The situations of the regulation's 办公用语 and 电话用语, in its order.
pub const SITUATIONS: &[&str] = &[
    "greeting",
    "wrong_window",
    "serving",
    "form_error",
    "missing_papers",
    "not_today",
    "farewell",
    "thanked",
    "complaint",
    "enquiry",
    "telephone",
];

/// Most words that may stand between two parts of a phrase (有牌子…自己看).
pub const MAX_INSERTED: usize = 4;
/// Most characters a `××` slot may hold (请您到十三号综合窗口办理).
pub const MAX_SLOT: usize = 10;

/// What may stand before a part of a phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// Nothing: the part follows the previous one directly (or it is the first part).
    None,
    /// Up to [`MAX_INSERTED`] inserted characters (at punctuation or `…` in the lexicon).
    Inserted,
    /// One to [`MAX_SLOT`] characters filling a `××` slot.
    Slot,
}

/// A run of folded characters that must be heard, and what may precede it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub gap_before: Gap,
    pub chars: Vec<char>,
}

/// One wording of a phrase (the canonical one or a variant), split into parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// As written in the lexicon.
    pub written: String,
    pub parts: Vec<Part>,
    /// A slot at the very end (您好，这里是××) must be followed by something.
    pub trailing_slot: bool,
}

impl Form {
    /// Number of characters that must be heard.
    pub fn heard_len(&self) -> usize {
        self.parts.iter().map(|p| p.chars.len()).sum()
    }
}

/// A lexicon phrase with everything a report needs to defend a hit on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// The canonical text, as the regulation writes it.
    pub phrase: String,
    /// For banned phrases the kind of rudeness; for civil ones the situation.
    pub category: String,
    /// Banned: severity 1–3. Civil: weight 1–3.
    pub severity: u8,
    pub clause: String,
    pub forms: Vec<Form>,
    /// Folded polite sentences that contain the phrase: a hit inside one is no hit.
    pub exceptions: Vec<Vec<char>>,
    /// Where the entry was written.
    pub source: String,
}

/// Every civil and banned phrase, ready for the matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexicon {
    entries: Vec<Entry>,
    /// The TOML texts the entries came from, kept so a record can store the rules it used.
    civil_text: String,
    banned_text: String,
    version: String,
}

/// A lexicon file that could not be used. Displays as one line naming the file, the line and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct LexiconError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// An optional label such as "2026-11" that people use to name this edition of the rules.
    #[serde(default)]
    version: Option<toml::Spanned<String>>,
    #[serde(default)]
    phrase: Vec<toml::Spanned<RawEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    phrase: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    situation: Option<String>,
    #[serde(default)]
    severity: Option<i64>,
    #[serde(default)]
    weight: Option<i64>,
    clause: String,
    #[serde(default)]
    variants: Vec<String>,
    #[serde(default)]
    exceptions: Vec<String>,
}

const BUILTIN_CIVIL: &str = include_str!("../../lexicons/civil.toml");
const BUILTIN_BANNED: &str = include_str!("../../lexicons/banned.toml");

impl Lexicon {
    /// The lexicons shipped with the program (a copy of `lexicons/` taken at build time).
    pub fn builtin() -> Result<Lexicon, LexiconError> {
        Lexicon::from_texts(
            (Path::new("lexicons/civil.toml"), BUILTIN_CIVIL.to_string()),
            (
                Path::new("lexicons/banned.toml"),
                BUILTIN_BANNED.to_string(),
            ),
        )
    }

    /// Loads `civil.toml` and `banned.toml` from `dir`.
    pub fn load_dir(dir: &Path) -> Result<Lexicon, LexiconError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map(|text| (path.clone(), text))
                .map_err(|e| LexiconError {
                    path: path.clone(),
                    line: 0,
                    message: format!("cannot read it ({e}): point --lexicons at a folder with civil.toml and banned.toml"),
                })
        };
        let (civil_path, civil) = read("civil.toml")?;
        let (banned_path, banned) = read("banned.toml")?;
        Lexicon::from_texts((&civil_path, civil), (&banned_path, banned))
    }

    /// Builds a lexicon from one TOML text of the given kind (for tests and tools); the other
    /// kind is empty.
    pub fn from_toml(path: &Path, text: &str, kind: Kind) -> Result<Lexicon, LexiconError> {
        let (entries, label) = parse(path, text, kind)?;
        let (civil_text, banned_text) = match kind {
            Kind::Civil => (text.to_string(), String::new()),
            Kind::Banned => (String::new(), text.to_string()),
        };
        let version = version_of(&civil_text, &banned_text, label.into_iter().collect());
        Ok(Lexicon {
            entries,
            civil_text,
            banned_text,
            version,
        })
    }

    fn from_texts(
        (civil_path, civil_text): (&Path, String),
        (banned_path, banned_text): (&Path, String),
    ) -> Result<Lexicon, LexiconError> {
        let (mut entries, civil_label) = parse(civil_path, &civil_text, Kind::Civil)?;
        let (banned, banned_label) = parse(banned_path, &banned_text, Kind::Banned)?;
        entries.extend(banned);
        let mut labels: Vec<String> = civil_label.into_iter().chain(banned_label).collect();
        labels.dedup();
        let version = version_of(&civil_text, &banned_text, labels);
        Ok(Lexicon {
            entries,
            civil_text,
            banned_text,
            version,
        })
    }

    /// All entries, civil first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Entries of one kind.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.kind == kind)
    }

    /// The version every stored result carries: `{label}+{hash}` where `label` is the files'
    /// top-level `version = "…"` (both joined by `/` when they differ) and `hash` the first 12 hex
    /// digits of sha256(civil text ‖ banned text); just `{hash}` when neither file has a label.
    ///
    /// The hash changes with any edit, so results matched with different rules never share a
    /// version even when someone forgets to bump the label.
    ///
    /// ```
    /// let lexicon = courtesy::lexicon::Lexicon::builtin().unwrap();
    /// assert!(lexicon.version().starts_with("2026-11+"));
    /// ```
    pub fn version(&self) -> String {
        self.version.clone()
    }

    /// The people's name for this edition of the rules (the files' `version = "…"`), if any.
    pub fn label(&self) -> Option<&str> {
        self.version.split_once('+').map(|(label, _)| label)
    }

    /// The civil and banned TOML texts this lexicon was built from, as read (empty for a kind
    /// that was not loaded), so a record can keep the rules behind every hit.
    pub fn sources(&self) -> (&str, &str) {
        (&self.civil_text, &self.banned_text)
    }
}

/// Longest `version = "…"` label accepted; it ends up in every stored hit.
const MAX_LABEL: usize = 32;

fn version_of(civil: &str, banned: &str, labels: Vec<String>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(civil.as_bytes());
    hasher.update(banned.as_bytes());
    let hash: String = hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    if labels.is_empty() {
        hash
    } else {
        format!("{}+{hash}", labels.join("/"))
    }
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// Parses one lexicon file into its entries and its optional `version` label.
fn parse(
    path: &Path,
    text: &str,
    kind: Kind,
) -> Result<(Vec<Entry>, Option<String>), LexiconError> {
    let err = |line: usize, message: String| LexiconError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        err(line, format!("{} — fix the TOML", e.message().trim()))
    })?;
    let label = match raw.version {
        None => None,
        Some(spanned) => {
            let line = line_of(text, spanned.span().start);
            let label = spanned.into_inner();
            let ok = !label.is_empty()
                && label.chars().count() <= MAX_LABEL
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if !ok {
                return Err(err(
                    line,
                    format!("version “{label}” is not a usable label — write 1 to {MAX_LABEL} letters, digits, '.', '-' or '_', e.g. version = \"2026-11\""),
                ));
            }
            Some(label)
        }
    };
    let normalizer = Normalizer::shared();
    let mut entries = Vec::with_capacity(raw.phrase.len());
    let mut seen = std::collections::HashMap::new();
    for spanned in raw.phrase {
        let line = line_of(text, spanned.span().start);
        let r = spanned.into_inner();
        let what = |m: &str| err(line, format!("phrase “{}”: {m}", r.phrase));
        let (category, severity) = match kind {
            Kind::Banned => {
                if r.situation.is_some() || r.weight.is_some() {
                    return Err(what(
                        "a banned phrase has `category` and `severity`, not `situation`/`weight`",
                    ));
                }
                let category = r
                    .category
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .ok_or_else(|| what("missing `category` — add e.g. category = \"推诿\""))?;
                (
                    category,
                    r.severity
                        .ok_or_else(|| what("missing `severity` — add severity = 1, 2 or 3"))?,
                )
            }
            Kind::Civil => {
                if r.category.is_some() || r.severity.is_some() || !r.exceptions.is_empty() {
                    return Err(what("a civil phrase has `situation` and `weight`, not `category`/`severity`/`exceptions`"));
                }
                let situation = r.situation.clone().ok_or_else(|| {
                    what(&format!(
                        "missing `situation` — one of {}",
                        SITUATIONS.join(", ")
                    ))
                })?;
                if !SITUATIONS.contains(&situation.as_str()) {
                    return Err(what(&format!(
                        "unknown situation “{situation}” — use one of {}",
                        SITUATIONS.join(", ")
                    )));
                }
                (situation, r.weight.unwrap_or(1))
            }
        };
        if !(1..=3).contains(&severity) {
            return Err(what(&format!(
                "{} {severity} is out of range — use 1, 2 or 3",
                if kind == Kind::Banned {
                    "severity"
                } else {
                    "weight"
                }
            )));
        }
        let mut forms = Vec::new();
        for written in std::iter::once(&r.phrase).chain(&r.variants) {
            let form = split_form(normalizer, written).map_err(|m| {
                err(
                    line,
                    format!("phrase “{}”, wording “{written}”: {m}", r.phrase),
                )
            })?;
            forms.push(form);
        }
        let mut exceptions = Vec::new();
        for ex in &r.exceptions {
            let folded: Vec<char> = normalizer.fold(ex).chars().collect();
            let contained = forms.iter().any(|f| {
                f.parts.iter().any(|p| {
                    folded
                        .windows(p.chars.len())
                        .any(|w| w == p.chars.as_slice())
                })
            });
            if !contained {
                return Err(what(&format!("exception “{ex}” does not contain the phrase or a part of it, so it could never apply — remove it or fix it")));
            }
            exceptions.push(folded);
        }
        if let Some(prev) = seen.insert(normalizer.fold(&r.phrase), line) {
            return Err(what(&format!(
                "the same phrase is already defined on line {prev} — merge the two entries"
            )));
        }
        entries.push(Entry {
            kind,
            phrase: r.phrase,
            category,
            severity: severity as u8,
            clause: r.clause,
            forms,
            exceptions,
            source: format!("{}:{line}", path.display()),
        });
    }
    Ok((entries, label))
}

/// Splits one wording at punctuation, `…` and `××` slots, folding each part.
fn split_form(normalizer: &Normalizer, written: &str) -> Result<Form, String> {
    let mut parts: Vec<Part> = Vec::new();
    let mut gap = Gap::None;
    let mut current = String::new();
    let flush = |current: &mut String, gap: &mut Gap, parts: &mut Vec<Part>| {
        let chars: Vec<char> = normalizer.fold(current).chars().collect();
        current.clear();
        if !chars.is_empty() {
            let gap_before = if parts.is_empty() { Gap::None } else { *gap };
            parts.push(Part { gap_before, chars });
            *gap = Gap::None;
        }
    };
    let mut chars = written.chars().peekable();
    while let Some(c) = chars.next() {
        let slot = matches!(c, '×' | 'X' | 'x' | '＊' | '*') && chars.peek() == Some(&c);
        if slot {
            chars.next();
            flush(&mut current, &mut gap, &mut parts);
            gap = Gap::Slot;
        } else if matches!(
            c,
            '…' | '，' | '、' | '。' | '？' | '！' | ',' | '?' | '!' | '；' | ';' | '：'
        ) {
            flush(&mut current, &mut gap, &mut parts);
            if gap != Gap::Slot {
                gap = Gap::Inserted;
            }
        } else {
            current.push(c);
        }
    }
    flush(&mut current, &mut gap, &mut parts);
    if parts.is_empty() {
        return Err(
            "nothing left to match after removing punctuation and slots — write the words".into(),
        );
    }
    Ok(Form {
        written: written.to_string(),
        trailing_slot: gap == Gap::Slot,
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lexicons_load() {
        let lex = Lexicon::builtin().unwrap();
        assert_eq!(lex.of_kind(Kind::Banned).count(), 8);
        assert!(lex.of_kind(Kind::Civil).count() >= 35);
        for s in SITUATIONS {
            assert!(
                lex.of_kind(Kind::Civil).any(|e| e.category == *s),
                "no phrase for {s}"
            );
        }
    }

    #[test]
    fn slots_and_punctuation_split_parts() {
        let f = split_form(Normalizer::shared(), "请您到××窗口办理").unwrap();
        assert_eq!(f.parts.len(), 2);
        assert_eq!(f.parts[1].gap_before, Gap::Slot);
        let f = split_form(Normalizer::shared(), "有牌子，自己看").unwrap();
        assert_eq!(f.parts[1].gap_before, Gap::Inserted);
        let f = split_form(Normalizer::shared(), "您好，这里是××").unwrap();
        assert!(f.trailing_slot);
    }

    #[test]
    fn bad_entry_names_file_and_line() {
        let text = "[[phrase]]\nphrase = \"不知道\"\ncategory = \"推诿\"\nseverity = 3\nclause = \"x\"\n\n[[phrase]]\nphrase = \"我不管\"\ncategory = \"推诿\"\nseverity = 7\nclause = \"x\"\n";
        let e = Lexicon::from_toml(Path::new("banned.toml"), text, Kind::Banned).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("banned.toml:7:"), "{msg}");
        assert!(msg.contains("severity 7"), "{msg}");
    }

    #[test]
    fn toml_syntax_error_names_line() {
        let e = Lexicon::from_toml(
            Path::new("civil.toml"),
            "[[phrase]]\nphrase = \"您好\nclause=1",
            Kind::Civil,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("civil.toml:2:"), "{e}");
    }

    #[test]
    fn unknown_situation_is_rejected() {
        let text = "[[phrase]]\nphrase = \"您好\"\nsituation = \"greetings\"\nclause = \"x\"\n";
        let e = Lexicon::from_toml(Path::new("civil.toml"), text, Kind::Civil).unwrap_err();
        assert!(e.to_string().contains("unknown situation"), "{e}");
    }

    #[test]
    fn useless_exception_is_rejected() {
        let text = "[[phrase]]\nphrase = \"我不管\"\ncategory = \"推诿\"\nseverity = 3\nclause = \"x\"\nexceptions = [\"您好\"]\n";
        let e = Lexicon::from_toml(Path::new("banned.toml"), text, Kind::Banned).unwrap_err();
        assert!(e.to_string().contains("could never apply"), "{e}");
    }

    fn write_dir(civil: &str, banned: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("civil.toml"), civil).unwrap();
        std::fs::write(dir.path().join("banned.toml"), banned).unwrap();
        dir
    }

    fn is_hash(s: &str) -> bool {
        s.len() == 12
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    }

    #[test]
    fn builtin_version_is_label_plus_hash_and_stable() {
        let a = Lexicon::builtin().unwrap();
        let b = Lexicon::builtin().unwrap();
        let v = a.version();
        assert_eq!(v, b.version());
        let (label, hash) = v.split_once('+').unwrap();
        assert_eq!(label, "2026-11");
        assert!(is_hash(hash), "{v}");
        assert_eq!(a.sources(), (BUILTIN_CIVIL, BUILTIN_BANNED));
    }

    #[test]
    fn load_dir_matches_builtin_and_one_char_changes_the_version() {
        let builtin = Lexicon::builtin().unwrap();
        let dir = write_dir(BUILTIN_CIVIL, BUILTIN_BANNED);
        let same = Lexicon::load_dir(dir.path()).unwrap();
        assert_eq!(same.version(), builtin.version());
        assert_eq!(same.sources(), builtin.sources());

        // Severity 2 → 3 on the first banned phrase: same label, different hash.
        let edited = BUILTIN_BANNED.replacen("severity = 2", "severity = 3", 1);
        assert_ne!(edited, BUILTIN_BANNED);
        let dir = write_dir(BUILTIN_CIVIL, &edited);
        let changed = Lexicon::load_dir(dir.path()).unwrap();
        assert!(changed.version().starts_with("2026-11+"));
        assert_ne!(changed.version(), builtin.version());
        assert_eq!(changed.sources().1, edited);
    }

    #[test]
    fn version_without_label_is_the_hash_and_different_labels_are_joined() {
        let strip = |t: &str| t.replacen("version = \"2026-11\"\n", "", 1);
        let dir = write_dir(&strip(BUILTIN_CIVIL), &strip(BUILTIN_BANNED));
        let v = Lexicon::load_dir(dir.path()).unwrap().version();
        assert!(is_hash(&v), "{v}");

        let dir = write_dir(
            BUILTIN_CIVIL,
            &BUILTIN_BANNED.replacen("\"2026-11\"", "\"2026-12\"", 1),
        );
        let v = Lexicon::load_dir(dir.path()).unwrap().version();
        assert!(v.starts_with("2026-11/2026-12+"), "{v}");

        // A label on one file only is the label.
        let dir = write_dir(BUILTIN_CIVIL, &strip(BUILTIN_BANNED));
        let v = Lexicon::load_dir(dir.path()).unwrap().version();
        assert!(v.starts_with("2026-11+"), "{v}");
    }

    #[test]
    fn bad_version_label_names_the_line_and_the_fix() {
        let text = "# rules\nversion = \"Nov 2026\"\n[[phrase]]\nphrase = \"您好\"\nsituation = \"greeting\"\nclause = \"x\"\n";
        let e = Lexicon::from_toml(Path::new("civil.toml"), text, Kind::Civil).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("civil.toml:2:"), "{msg}");
        assert!(msg.contains("version = \"2026-11\""), "{msg}");
    }

    #[test]
    fn from_toml_keeps_its_text_as_the_source_of_its_kind() {
        let text = "version = \"7\"\n[[phrase]]\nphrase = \"您好\"\nsituation = \"greeting\"\nclause = \"x\"\n";
        let lex = Lexicon::from_toml(Path::new("civil.toml"), text, Kind::Civil).unwrap();
        assert_eq!(lex.sources(), (text, ""));
        assert!(lex.version().starts_with("7+"));
    }
}
