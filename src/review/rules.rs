//! Fixing the rules from a false alarm: a checked, recorded change to the effective lexicon.
//!
//! The effective lexicon is the TOML files plus the record's rule changes in order
//! ([`effective_lexicon`]); batch, rescore and the desk all load it. A change is made from a hit
//! judged 误报: the office adds a polite context (exception) or another wording (variant) to its
//! phrase, and the sentence joins the regression set, expecting the phrase not to be found in it.
//! The change is refused, with the reasons, when any regression sentence would break or the
//! labelled set would lose a banned hit it finds today.

use std::collections::BTreeSet;

use crate::eval::Labelled;
use crate::lexicon::{Change, ChangeKind, Kind, Lexicon};
use crate::matcher::{MatchConfig, Matcher};
use crate::store::{
    Expect, ItemKey, NewRegression, NewRuleChange, RegressionRow, RuleChangeRow, Store, Verdict,
    WindowNumbers,
};

use super::ReviewError;

/// The record's rule changes as the lexicon applies them.
pub fn changes(rows: &[RuleChangeRow]) -> Result<Vec<Change>, ReviewError> {
    rows.iter()
        .map(|r| {
            Ok(Change {
                phrase: r.phrase.clone(),
                kind: ChangeKind::parse(&r.kind).ok_or_else(|| {
                    ReviewError::Input(format!(
                        "rule change {}: kind “{}” is neither exception nor variant — a newer \
                         courtesy wrote it; upgrade this one",
                        r.id, r.kind
                    ))
                })?,
                text: r.text.clone(),
            })
        })
        .collect()
}

/// The lexicon in force: `base` (the TOML files) with the record's rule changes applied in order.
pub fn effective_lexicon(store: &Store, base: &Lexicon) -> Result<Lexicon, ReviewError> {
    Ok(base.with_changes(&changes(&store.rule_changes()?)?)?)
}

/// A regression sentence the lexicon no longer judges as expected.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RegressionFailure {
    pub sentence: String,
    pub phrase: String,
    pub expect: Expect,
    /// The review item the sentence came from.
    pub source: Option<String>,
}

impl std::fmt::Display for RegressionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.expect {
            Expect::Absent => "is found in",
            Expect::Present => "is no longer found in",
        };
        write!(f, "“{}” {what} “{}”", self.phrase, self.sentence)?;
        if let Some(s) = &self.source {
            write!(f, " (from {s})")?;
        }
        Ok(())
    }
}

/// The regression sentences `matcher` judges otherwise than they expect.
pub fn check_regressions(
    matcher: &Matcher,
    regressions: &[RegressionRow],
) -> Vec<RegressionFailure> {
    regressions
        .iter()
        .filter(|r| {
            let found = matcher
                .find(&r.sentence)
                .iter()
                .any(|h| h.phrase == r.phrase);
            found != (r.expect == Expect::Present)
        })
        .map(|r| RegressionFailure {
            sentence: r.sentence.clone(),
            phrase: r.phrase.clone(),
            expect: r.expect,
            source: r.source.clone(),
        })
        .collect()
}

/// The labelled sentences' banned phrases that `before` finds and `after` no longer does.
pub fn lost_banned_hits(labelled: &[Labelled], before: &Matcher, after: &Matcher) -> Vec<String> {
    let banned = |m: &Matcher, text: &str| -> BTreeSet<String> {
        m.find(text)
            .into_iter()
            .filter(|h| h.kind == Kind::Banned)
            .map(|h| h.phrase)
            .collect()
    };
    let mut lost = Vec::new();
    for l in labelled {
        let now = banned(before, &l.text);
        let next = banned(after, &l.text);
        for p in now.intersection(&l.banned).filter(|p| !next.contains(*p)) {
            lost.push(format!("labelled {} “{}” loses “{p}”", l.id, l.text));
        }
    }
    lost
}

/// A rule change asked for from a false alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// A hit judged 误报.
    pub item: ItemKey,
    pub kind: ChangeKind,
    /// The polite context (exception) or the other wording (variant).
    pub text: String,
    pub reason: Option<String>,
    pub user: String,
}

/// What became of a fix.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum FixOutcome {
    /// Recorded: the effective lexicon is now `change.version`.
    Accepted {
        change: Box<RuleChangeRow>,
        /// Regression sentences checked (the new one included).
        regressions: usize,
        /// Labelled sentences checked.
        labelled: usize,
    },
    /// Not recorded, for these reasons (each one line).
    Refused { reasons: Vec<String> },
}

/// How many times a fix is checked again when someone else changed the rules meanwhile.
const TRIES: usize = 3;

/// Checks and records a rule change made from a false alarm: `base` is the TOML files, `labelled`
/// the set whose banned finds must survive (usually [`crate::eval::builtin`]). The new effective
/// lexicon's texts are stored under its version. Apply it to past days with `courtesy rescore`.
pub fn fix_false_alarm(
    store: &Store,
    base: &Lexicon,
    config: MatchConfig,
    labelled: &[Labelled],
    fix: &Fix,
) -> Result<FixOutcome, ReviewError> {
    let refuse = |reason: String| {
        Ok(FixOutcome::Refused {
            reasons: vec![reason],
        })
    };
    let ItemKey::Hit { phrase, .. } = &fix.item else {
        return refuse(format!(
            "{}: a session has no phrase to fix — only a hit judged 误报 can become a rule change",
            fix.item
        ));
    };
    if fix.user.trim().is_empty() {
        return Err(ReviewError::Input(
            "a rule change needs the name of who made it — log in first".into(),
        ));
    }
    let Some(place) = store.locate_item(&fix.item)? else {
        return Err(ReviewError::Input(format!(
            "{}: no such item in the record — reload the queue",
            fix.item
        )));
    };
    let latest = store.verdict_history(&fix.item)?.pop().map(|v| v.verdict);
    if latest != Some(Verdict::FalseAlarm) {
        return refuse(format!(
            "{}: only a hit judged 误报 becomes a rule change (it is {}) — judge it first",
            fix.item,
            latest.map_or("unjudged", |v| super::verdict_label(v))
        ));
    }
    let Some(sentence) = place.text.filter(|t| !t.trim().is_empty()) else {
        return refuse(format!(
            "{}: the transcript was cleared by retention, so there is no sentence to keep as a \
             regression — fix the rule in the lexicon files instead",
            fix.item
        ));
    };
    let regression = NewRegression {
        sentence,
        phrase: phrase.clone(),
        expect: Expect::Absent,
        source: Some(fix.item.to_string()),
        added_by: fix.user.clone(),
    };
    let change = Change {
        phrase: phrase.clone(),
        kind: fix.kind,
        text: fix.text.trim().to_string(),
    };
    for _ in 0..TRIES {
        let rows = store.rule_changes()?;
        let mut list = changes(&rows)?;
        let current = base.with_changes(&list)?;
        list.push(change.clone());
        let next = match base.with_changes(&list) {
            Ok(l) => l,
            Err(e) => return refuse(e.message),
        };
        let matcher = Matcher::with_config(&next, config);
        let mut regressions = store.regressions()?;
        if !regressions
            .iter()
            .any(|r| r.sentence == regression.sentence && r.phrase == regression.phrase)
        {
            regressions.push(RegressionRow {
                id: 0,
                sentence: regression.sentence.clone(),
                phrase: regression.phrase.clone(),
                expect: regression.expect,
                source: regression.source.clone(),
                added_by: regression.added_by.clone(),
                added_at: String::new(),
            });
        }
        let mut reasons: Vec<String> = check_regressions(&matcher, &regressions)
            .iter()
            .map(|f| format!("regression: {f}"))
            .collect();
        if change.kind == ChangeKind::Variant
            && !matcher
                .find(&change.text)
                .iter()
                .any(|h| &h.phrase == phrase)
        {
            reasons.push(format!(
                "the new wording “{}” is not found as “{phrase}” even in itself — one of the \
                 phrase's exceptions covers it",
                change.text
            ));
        }
        reasons.extend(lost_banned_hits(
            labelled,
            &Matcher::with_config(&current, config),
            &matcher,
        ));
        if !reasons.is_empty() {
            return Ok(FixOutcome::Refused { reasons });
        }
        let recorded = store.add_rule_change(
            &NewRuleChange {
                user_name: fix.user.clone(),
                phrase: phrase.clone(),
                kind: change.kind.as_str().to_string(),
                text: change.text.clone(),
                reason: fix.reason.clone().filter(|r| !r.trim().is_empty()),
                item: Some(fix.item.to_string()),
                base_version: current.version(),
                version: next.version(),
            },
            Some(&regression),
            rows.len(),
        )?;
        if let Some(change) = recorded {
            let (civil, banned) = next.sources();
            store.save_lexicon(&next.version(), next.label(), civil, banned)?;
            return Ok(FixOutcome::Accepted {
                change: Box::new(change),
                regressions: regressions.len(),
                labelled: labelled.len(),
            });
        }
    }
    refuse(format!(
        "the rules kept changing while this change was checked ({TRIES} tries) — try again"
    ))
}

/// Applies the effective lexicon to the days `from..=to` (no Whisper; earlier results stay):
/// `courtesy rescore` for the desk, after a rule change. Returns what was done and the last
/// day's window numbers.
pub fn rescore(
    store: &Store,
    config: &crate::config::Config,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<(crate::batch::Rescored, Vec<WindowNumbers>), ReviewError> {
    let lexicon = effective_lexicon(store, &config.lexicon()?)?;
    let matcher = Matcher::with_config(&lexicon, config.matcher);
    let done = crate::batch::rescore(
        store,
        &lexicon,
        &matcher,
        &config.score,
        crate::batch::config_hash(config),
        from,
        to,
    )?;
    let numbers = store.window_numbers(&to.to_string())?;
    Ok((done, numbers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(sentence: &str, phrase: &str, expect: Expect) -> RegressionRow {
        RegressionRow {
            id: 1,
            sentence: sentence.into(),
            phrase: phrase.into(),
            expect,
            source: Some("hit:1:不知道".into()),
            added_by: "office".into(),
            added_at: String::new(),
        }
    }

    #[test]
    fn regressions_fail_both_ways_and_say_which() {
        let m = Matcher::new(&Lexicon::builtin().unwrap());
        let regs = [
            row("这个我也不知道，我帮您问问", "不知道", Expect::Absent),
            row("不知道您带身份证了吗", "不知道", Expect::Absent),
            row("有意见找领导去", "有意见找领导去", Expect::Present),
            row("您好，请坐", "有意见找领导去", Expect::Present),
        ];
        let failures = check_regressions(&m, &regs);
        let shown: Vec<String> = failures.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "“不知道” is found in “这个我也不知道，我帮您问问” (from hit:1:不知道)",
                "“有意见找领导去” is no longer found in “您好，请坐” (from hit:1:不知道)",
            ]
        );
    }

    #[test]
    fn an_exception_that_swallows_a_labelled_hit_is_caught() {
        let base = Lexicon::builtin().unwrap();
        let labelled = crate::eval::builtin();
        let before = Matcher::new(&base);
        assert!(lost_banned_hits(&labelled, &before, &before).is_empty());
        // “这个我不知道” is a labelled banned sentence (L002): an exception covering it loses it.
        let after = base
            .with_changes(&[Change {
                phrase: "不知道".into(),
                kind: ChangeKind::Exception,
                text: "我不知道".into(),
            }])
            .unwrap();
        let lost = lost_banned_hits(&labelled, &before, &Matcher::new(&after));
        assert!(
            lost.iter()
                .any(|l| l.starts_with("labelled L002 ") && l.ends_with("loses “不知道”")),
            "{lost:?}"
        );
    }
}
