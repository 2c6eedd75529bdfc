//! One microphone: the staff's voice is the one heard across most of a window's sessions that day (citizens change every session); each utterance is judged by its closeness to it.

use super::encoder::{normalised, similarity};
use super::{Role, Speaker};

/// One utterance of a window's day, as the voice step sees it.
#[derive(Debug, Clone)]
pub struct Heard<'a> {
    /// The service session it belongs to (any id; sessions are told apart, not ordered).
    pub session: usize,
    /// Its voice; `None` when it was too short to embed.
    pub voice: Option<&'a [f32]>,
}

/// How close two voices must be to count as one speaker (cosine of GE2E embeddings).
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Two utterances are taken for the same voice from this similarity on.
    pub same: f32,
    /// Around the decision point (`same`), this band stays unknown.
    pub band: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            same: 0.75,
            band: 0.03,
        }
    }
}

/// The staff's voice of a window's day: enrolled, or learnt from the voices present in most
/// sessions. `None` when it cannot be told (fewer than two sessions with voices, no voice
/// recurring across them).
pub fn staff_voice(heard: &[Heard], t: Thresholds) -> Option<Vec<f32>> {
    let voiced: Vec<(usize, &[f32])> = heard
        .iter()
        .filter_map(|h| Some((h.session, h.voice?)))
        .collect();
    let mut sessions: Vec<usize> = voiced.iter().map(|v| v.0).collect();
    sessions.sort_unstable();
    sessions.dedup();
    if sessions.len() < 2 {
        return None;
    }
    // How many other sessions hold a voice like each utterance's.
    let coverage: Vec<usize> = voiced
        .iter()
        .map(|(s, v)| {
            let mut others: Vec<usize> = voiced
                .iter()
                .filter(|(o, w)| o != s && similarity(v, w) >= t.same)
                .map(|(o, _)| *o)
                .collect();
            others.sort_unstable();
            others.dedup();
            others.len()
        })
        .collect();
    let best = *coverage.iter().max()?;
    // Present in at least half of the other sessions: a citizen is in one.
    if best == 0 || best * 2 < sessions.len() - 1 {
        return None;
    }
    let mut centre = mean(
        voiced
            .iter()
            .zip(&coverage)
            .filter(|(_, &c)| c == best)
            .map(|((_, v), _)| *v),
    )?;
    // Settle on the voice: the mean of everything close to it, twice.
    for _ in 0..2 {
        let near: Vec<&[f32]> = voiced
            .iter()
            .map(|(_, v)| *v)
            .filter(|v| similarity(v, &centre) >= t.same)
            .collect();
        centre = mean(near.into_iter()).unwrap_or(centre);
    }
    Some(centre)
}

/// The mean of `voices`, L2-normalised (`None` for none).
pub fn mean<'a>(voices: impl Iterator<Item = &'a [f32]>) -> Option<Vec<f32>> {
    let mut sum: Vec<f32> = Vec::new();
    for v in voices {
        if sum.is_empty() {
            sum = vec![0.0; v.len()];
        }
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
    }
    normalised(sum)
}

/// As [`staff_voice`], with the staff's voice of an earlier day at this window (`earlier`, see
/// [`crate::store::Store::earlier_staff_voices`]) counted as one more session: when one of today's
/// voices is like it — the same person on duty again — the staff's voice is learnt from the day's
/// first session on; when none is (someone else on duty), it is left out and changes nothing.
pub fn staff_voice_since(
    heard: &[Heard],
    earlier: Option<&[f32]>,
    t: Thresholds,
) -> Option<Vec<f32>> {
    let recurs = |e: &[f32]| {
        heard
            .iter()
            .any(|h| h.voice.is_some_and(|v| similarity(v, e) >= t.same))
    };
    match earlier {
        Some(e) if recurs(e) => {
            let mut all = Vec::with_capacity(heard.len() + 1);
            // A session id no day reaches.
            all.push(Heard {
                session: usize::MAX,
                voice: Some(e),
            });
            all.extend_from_slice(heard);
            staff_voice(&all, t)
        }
        _ => staff_voice(heard, t),
    }
}

/// Who said each utterance, by its voice's closeness to the staff's: staff from
/// `same + band`, citizen under `same − band`, unknown between and for utterances without a voice.
pub fn attribute(heard: &[Heard], staff: Option<&[f32]>, t: Thresholds) -> Vec<Speaker> {
    heard
        .iter()
        .map(|h| {
            let (Some(v), Some(s)) = (h.voice, staff) else {
                return Speaker::new(Role::Unknown, 0.1);
            };
            let sim = similarity(v, s);
            let margin = sim - t.same;
            // 0.5 at the decision point, 1 a quarter of the scale away.
            let confidence = (0.5 + margin.abs() * 2.0).min(1.0);
            if margin >= t.band {
                Speaker::new(Role::Staff, confidence)
            } else if margin <= -t.band {
                Speaker::new(Role::Citizen, confidence)
            } else {
                Speaker::new(Role::Unknown, 0.5 - margin.abs())
            }
        })
        .collect()
}

/// Attributes by voice the utterances of one window's day: `(session, voice)` each; the
/// staff's voice learnt from them. Utterances without a voice are unknown, low confidence.
pub fn attribute_day(utterances: &[(usize, Option<&[f32]>)]) -> Vec<Speaker> {
    attribute_day_enrolled(utterances, &[], None)
}

/// As [`attribute_day`], with the enrolled staff voice of each utterance where there is one
/// (`enrolled[i]`: the staff member on duty's, or the window's; see [`super::enroll`]): those
/// utterances are judged against it, from the first session on; the others against the voice
/// learnt from the day.
pub fn attribute_day_enrolled(
    utterances: &[(usize, Option<&[f32]>)],
    enrolled: &[Option<&[f32]>],
    earlier: Option<&[f32]>,
) -> Vec<Speaker> {
    let heard: Vec<Heard> = utterances
        .iter()
        .map(|&(session, voice)| Heard { session, voice })
        .collect();
    let t = Thresholds::default();
    let enrolled_of = |i: usize| enrolled.get(i).copied().flatten();
    let learnt = if (0..heard.len()).all(|i| enrolled_of(i).is_some()) {
        None
    } else {
        staff_voice_since(&heard, earlier, t)
    };
    heard
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let staff = enrolled_of(i).or(learnt.as_deref());
            attribute(std::slice::from_ref(h), staff, t)[0]
        })
        .collect()
}

/// One utterance's place in its window's day, for telling sessions apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// The recording it came from (any key; a new recording is a new session).
    pub file: usize,
    pub start: f64,
    pub end: f64,
}

/// The session of each utterance of one window's day, in order: a new recording or a pause over
/// `gap` seconds starts the next one (as the score splits sessions).
pub fn sessions(spans: &[Span], gap: f64) -> Vec<usize> {
    let mut session = 0;
    spans
        .iter()
        .enumerate()
        .map(|(k, u)| {
            if k > 0 {
                let prev = &spans[k - 1];
                if prev.file != u.file || u.start - prev.end > gap {
                    session += 1;
                }
            }
            session
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(angle: f32) -> Vec<f32> {
        vec![angle.cos(), angle.sin(), 0.0]
    }

    #[test]
    fn an_enrolled_voice_tells_the_first_session_apart() {
        let (staff, citizen) = (unit(0.0), unit(1.2));
        let day = [(0, Some(&staff[..])), (0, Some(&citizen[..])), (0, None)];
        // One session: nothing recurs, so learning tells nobody apart.
        assert!(attribute_day(&day).iter().all(|s| s.role == Role::Unknown));
        let enrolled = [Some(&staff[..]); 3];
        let roles: Vec<Role> = attribute_day_enrolled(&day, &enrolled, None)
            .iter()
            .map(|s| s.role)
            .collect();
        assert_eq!(roles, [Role::Staff, Role::Citizen, Role::Unknown]);
    }

    #[test]
    fn sessions_break_at_a_new_recording_and_at_a_long_pause() {
        let span = |file, start: f64| Span {
            file,
            start,
            end: start + 2.0,
        };
        let spans = [span(0, 0.0), span(0, 3.0), span(0, 30.0), span(1, 32.0)];
        assert_eq!(sessions(&spans, 15.0), vec![0, 0, 1, 2]);
        assert!(sessions(&[], 15.0).is_empty());
    }

    #[test]
    fn the_voice_in_every_session_is_the_staffs() {
        // Staff near angle 0 in every session; a different citizen (far angles) in each.
        let voices: Vec<(usize, Vec<f32>)> = vec![
            (0, unit(0.05)),
            (0, unit(1.2)),
            (1, unit(-0.05)),
            (1, unit(2.0)),
            (2, unit(0.0)),
            (2, unit(-1.4)),
            (3, unit(0.1)),
            (3, unit(2.8)),
        ];
        let heard: Vec<Heard> = voices
            .iter()
            .map(|(s, v)| Heard {
                session: *s,
                voice: Some(v),
            })
            .chain([Heard {
                session: 3,
                voice: None,
            }])
            .collect();
        let t = Thresholds::default();
        let staff = staff_voice(&heard, t).unwrap();
        assert!(similarity(&staff, &unit(0.0)) > 0.99);
        let roles: Vec<Role> = attribute(&heard, Some(&staff), t)
            .iter()
            .map(|s| s.role)
            .collect();
        use Role::*;
        assert_eq!(
            roles,
            [Staff, Citizen, Staff, Citizen, Staff, Citizen, Staff, Citizen, Unknown]
        );
        // One session alone cannot tell staff from citizen.
        assert!(staff_voice(&heard[..2], t).is_none());
    }

    #[test]
    fn an_earlier_days_voice_tells_the_first_session_apart_only_when_it_recurs() {
        let t = Thresholds::default();
        let (staff, citizen) = (unit(0.05), unit(1.2));
        let first = [
            Heard {
                session: 0,
                voice: Some(&citizen[..]),
            },
            Heard {
                session: 0,
                voice: Some(&staff[..]),
            },
        ];
        // Yesterday's staff voice is today's: learnt from the first session.
        let yesterday = unit(0.0);
        let learnt = staff_voice_since(&first, Some(&yesterday), t).unwrap();
        let roles: Vec<Role> = attribute(&first, Some(&learnt), t)
            .iter()
            .map(|s| s.role)
            .collect();
        assert_eq!(roles, [Role::Citizen, Role::Staff]);
        // Someone else was on duty yesterday: nobody today is like them, nothing is learnt —
        // the citizen is not taken for the staff.
        let someone_else = unit(-1.3);
        assert!(staff_voice_since(&first, Some(&someone_else), t).is_none());
        // Before anyone like yesterday's staff has spoken, nothing either.
        assert!(staff_voice_since(&first[..1], Some(&yesterday), t).is_none());
        assert!(staff_voice_since(&first, None, t).is_none());
    }
}
