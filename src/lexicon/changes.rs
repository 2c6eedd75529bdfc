//! Rule changes made at the desk, applied in order on top of the TOML files: the effective lexicon.
//!
//! The office fixes a false alarm by adding a polite context (an exception) or another wording (a
//! variant) to one phrase. The changes live in the record, so every box applies the same ones;
//! [`Lexicon::with_changes`] writes them under the TOML text as comments, so the stored texts and
//! the version hash (which covers them) say exactly which rules a result was found with.

use std::path::PathBuf;

use super::{split_form, version_of, Kind, Lexicon, LexiconError};
use crate::text::Normalizer;

/// What a change adds to a phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A polite sentence (or part of one) holding the phrase: a banned find inside it is no hit.
    Exception,
    /// Another wording of the phrase.
    Variant,
}

impl ChangeKind {
    /// The name stored in the record (`exception`, `variant`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Exception => "exception",
            ChangeKind::Variant => "variant",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Option<ChangeKind> {
        match s {
            "exception" => Some(ChangeKind::Exception),
            "variant" => Some(ChangeKind::Variant),
            _ => None,
        }
    }
}

/// One rule change: `text` added to the canonical phrase `phrase` as `kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub phrase: String,
    pub kind: ChangeKind,
    pub text: String,
}

/// Longest text a change may add (an exception is a context, not a transcript).
pub const MAX_CHANGE_CHARS: usize = 60;

impl Lexicon {
    /// This lexicon with `changes` applied in order. A change that is already in the TOML files
    /// (the office copied it there) changes nothing but still counts in the version, so the
    /// version always names the TOML texts and the list of changes behind a result. No changes:
    /// the same lexicon and version.
    ///
    /// ```
    /// use courtesy::lexicon::{Change, ChangeKind, Lexicon};
    /// let base = Lexicon::builtin().unwrap();
    /// let fixed = base
    ///     .with_changes(&[Change {
    ///         phrase: "不知道".into(),
    ///         kind: ChangeKind::Exception,
    ///         text: "不知道他们怎么规定".into(),
    ///     }])
    ///     .unwrap();
    /// assert_ne!(fixed.version(), base.version());
    /// assert!(fixed.sources().1.contains("不知道他们怎么规定"));
    /// ```
    pub fn with_changes(&self, changes: &[Change]) -> Result<Lexicon, LexiconError> {
        if changes.is_empty() {
            return Ok(self.clone());
        }
        let normalizer = Normalizer::shared();
        let mut out = self.clone();
        let mut trailers = [String::new(), String::new()];
        for (i, change) in changes.iter().enumerate() {
            let n = i + 1;
            let err = |message: String| LexiconError {
                path: PathBuf::from("rule_changes"),
                line: n,
                message: format!(
                    "{} “{}” for phrase “{}”: {message}",
                    change.kind.as_str(),
                    change.text.escape_debug(),
                    change.phrase
                ),
            };
            check_text(&change.text).map_err(err)?;
            let Some(at) = out.entries.iter().position(|e| e.phrase == change.phrase) else {
                return Err(err(
                    "the phrase is not in the lexicon files — put it back into civil.toml or \
                     banned.toml (the change was made against it)"
                        .into(),
                ));
            };
            let kind = out.entries[at].kind;
            match change.kind {
                ChangeKind::Exception => {
                    if kind != Kind::Banned {
                        return Err(err(
                            "only banned phrases have exceptions — add a variant instead".into(),
                        ));
                    }
                    let folded: Vec<char> = normalizer.fold(&change.text).chars().collect();
                    let entry = &mut out.entries[at];
                    let contains = entry.forms.iter().any(|f| {
                        f.parts.iter().any(|p| {
                            folded
                                .windows(p.chars.len())
                                .any(|w| w == p.chars.as_slice())
                        })
                    });
                    if !contains {
                        return Err(err(
                            "it does not contain the phrase or a part of it, so it could never \
                             apply — write the polite words around the phrase"
                                .into(),
                        ));
                    }
                    if !entry.exceptions.contains(&folded) {
                        entry.exceptions.push(folded);
                    }
                }
                ChangeKind::Variant => {
                    let form = split_form(normalizer, &change.text).map_err(err)?;
                    let clash = out.entries.iter().enumerate().find_map(|(j, e)| {
                        e.forms
                            .iter()
                            .any(|f| f.parts == form.parts && f.trailing_slot == form.trailing_slot)
                            .then_some(j)
                    });
                    match clash {
                        Some(j) if j == at => {} // already a wording of this phrase
                        Some(j) => {
                            return Err(err(format!(
                                "phrase “{}” already has this wording — one span would count twice",
                                out.entries[j].phrase
                            )))
                        }
                        None => out.entries[at].forms.push(form),
                    }
                }
            }
            let trailer = &mut trailers[(kind == Kind::Banned) as usize];
            if trailer.is_empty() {
                trailer.push_str(
                    "\n# ── rule changes from the record (rule_changes), applied in order ──\n",
                );
            }
            trailer.push_str(&format!(
                "# {n}. {} “{}” + “{}”\n",
                change.kind.as_str(),
                change.phrase,
                change.text
            ));
        }
        let with = |text: &str, trailer: &str| {
            if trailer.is_empty() {
                text.to_string()
            } else if text.is_empty() || text.ends_with('\n') {
                format!("{text}{trailer}")
            } else {
                format!("{text}\n{trailer}")
            }
        };
        out.civil_text = with(&self.civil_text, &trailers[0]);
        out.banned_text = with(&self.banned_text, &trailers[1]);
        out.version = version_of(
            &out.civil_text,
            &out.banned_text,
            self.label().map(str::to_string).into_iter().collect(),
        );
        Ok(out)
    }
}

/// A change's text is one short line of words.
fn check_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("the text is empty — write the words to add".into());
    }
    if text.chars().any(char::is_control) {
        return Err("the text holds a line break or a control character — write one line".into());
    }
    let n = text.chars().count();
    if n > MAX_CHANGE_CHARS {
        return Err(format!(
            "the text is {n} characters long — keep it to the words around the phrase (at most \
             {MAX_CHANGE_CHARS})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Matcher;

    fn change(phrase: &str, kind: ChangeKind, text: &str) -> Change {
        Change {
            phrase: phrase.into(),
            kind,
            text: text.into(),
        }
    }

    fn banned(m: &Matcher, text: &str) -> Vec<String> {
        m.find(text)
            .into_iter()
            .filter(|h| h.kind == Kind::Banned)
            .map(|h| h.phrase)
            .collect()
    }

    const FALSE_ALARM: &str = "这个我也不知道呀，我帮您问问。";

    #[test]
    fn an_exception_silences_the_false_alarm_and_nothing_else() {
        let base = Lexicon::builtin().unwrap();
        assert_eq!(banned(&Matcher::new(&base), FALSE_ALARM), ["不知道"]);
        let fixed = base
            .with_changes(&[change("不知道", ChangeKind::Exception, "不知道呀")])
            .unwrap();
        let m = Matcher::new(&fixed);
        assert!(banned(&m, FALSE_ALARM).is_empty());
        assert_eq!(banned(&m, "不知道，你问别人去。"), ["不知道"]);
    }

    #[test]
    fn a_variant_is_found_and_the_version_covers_every_change_in_order() {
        let base = Lexicon::builtin().unwrap();
        let said = "这事儿我管不了，找别人。";
        assert!(banned(&Matcher::new(&base), said).is_empty());
        let a = change("我不管", ChangeKind::Variant, "我管不了");
        let b = change("不知道", ChangeKind::Exception, "不知道呀");
        let one = base.with_changes(std::slice::from_ref(&a)).unwrap();
        assert_eq!(banned(&Matcher::new(&one), said), ["我不管"]);
        let ab = base.with_changes(&[a.clone(), b.clone()]).unwrap();
        let ba = base.with_changes(&[b, a]).unwrap();
        let versions = [base.version(), one.version(), ab.version(), ba.version()];
        for (i, v) in versions.iter().enumerate() {
            assert!(v.starts_with("2026-12-02+"), "{v}");
            assert!(!versions[..i].contains(v), "{versions:?}");
        }
        // The stored texts say what changed and hash to the version.
        assert!(ab
            .sources()
            .1
            .contains("# 1. variant “我不管” + “我管不了”"));
        assert_eq!(ab.sources().0, base.sources().0);
        assert_eq!(base.with_changes(&[]).unwrap(), base);
        assert_eq!(
            ab.version(),
            base.with_changes(&[
                change("我不管", ChangeKind::Variant, "我管不了"),
                change("不知道", ChangeKind::Exception, "不知道呀"),
            ])
            .unwrap()
            .version(),
            "the same changes give the same version"
        );
    }

    #[test]
    fn a_change_already_in_the_files_is_harmless() {
        let base = Lexicon::builtin().unwrap();
        let again = base
            .with_changes(&[
                change("不知道", ChangeKind::Exception, "不知道的话"),
                change("我不管", ChangeKind::Variant, "我可不管"),
            ])
            .unwrap();
        assert_eq!(again.entries(), base.entries());
        assert_ne!(again.version(), base.version());
    }

    #[test]
    fn bad_changes_name_the_change_and_the_fix() {
        let base = Lexicon::builtin().unwrap();
        let cases = [
            (
                change("不存在的话", ChangeKind::Exception, "不存在的话"),
                "not in the lexicon files",
            ),
            (
                change("不知道", ChangeKind::Exception, "您好"),
                "could never apply",
            ),
            (
                change("您好", ChangeKind::Exception, "您好啊"),
                "only banned phrases",
            ),
            (
                change("不知道", ChangeKind::Variant, "我不管"),
                "phrase “我不管” already has this wording",
            ),
            (
                change("不知道", ChangeKind::Exception, "不知道\n您"),
                "line break",
            ),
            (change("不知道", ChangeKind::Exception, " "), "empty"),
            (
                change("不知道", ChangeKind::Exception, &"不知道".repeat(21)),
                "63 characters",
            ),
        ];
        for (c, expected) in cases {
            let ok = change("我不管", ChangeKind::Variant, "我管不了");
            let msg = base.with_changes(&[ok, c]).unwrap_err().to_string();
            assert!(msg.starts_with("rule_changes:2: "), "{msg}");
            assert!(msg.contains(expected), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }
}
