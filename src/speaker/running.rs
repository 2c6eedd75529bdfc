//! One microphone, live: each utterance is judged by its voice as it comes, against the staff voice enrolled for whoever is on duty (or for the window), else the voice learnt from the sessions heard so far today.
//!
//! Learning is the batch rule ([`super::voices::staff_voice`]) applied to what has been heard so
//! far: the staff's voice is the one present across most sessions, so a window's first session
//! of the day is unknown until a second one has been heard — unless the window's staff voice of
//! an earlier day (from the record) recurs in it: the same person on duty again counts as a
//! voice present in two sessions ([`super::voices::staff_voice_since`]). Enrolment avoids the
//! wait altogether. A session ends after `session_gap` seconds without speech.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::voices::{attribute, staff_voice_since, Heard, Thresholds};
use super::{Role, Speaker};
use crate::roster::Roster;

/// Voices kept per window and day to learn from (the oldest go first): about a day of a busy
/// window's utterances, and the cost of learning stays a few milliseconds.
const KEEP: usize = 400;

/// The enrolled voices and what each one-microphone window has said today.
#[derive(Debug, Clone, Default)]
pub struct RunningVoices {
    /// Enrolled voiceprints, by staff id or window id ([`super::enroll`]).
    enrolled: HashMap<String, Vec<f32>>,
    /// Who is on duty where (staff voices are looked up through it).
    roster: Roster,
    /// Each window's staff voice of its latest earlier day in the record.
    earlier: HashMap<String, Vec<f32>>,
    session_gap: f64,
    windows: HashMap<String, WindowDay>,
}

/// One window's day so far.
#[derive(Debug, Clone)]
struct WindowDay {
    date: NaiveDate,
    /// (session, voice) of the day's utterances with a voice, oldest first.
    heard: Vec<(usize, Vec<f32>)>,
    session: usize,
    /// When the last utterance ended.
    last_end: Option<DateTime<FixedOffset>>,
    /// The voice learnt from `heard`, and how many sessions it was learnt from.
    learnt: Option<Vec<f32>>,
    learnt_sessions: usize,
}

impl RunningVoices {
    pub fn new(enrolled: HashMap<String, Vec<f32>>, roster: Roster, session_gap: f64) -> Self {
        RunningVoices {
            enrolled,
            roster,
            earlier: HashMap::new(),
            session_gap,
            windows: HashMap::new(),
        }
    }

    /// Starts each window from its staff voice of an earlier day (by window id, see
    /// [`crate::store::Store::earlier_staff_voices`]): learnt from the day's first session when
    /// it recurs there.
    pub fn with_earlier(mut self, earlier: HashMap<String, Vec<f32>>) -> Self {
        self.earlier = earlier;
        self
    }

    /// Who said the utterance of `window` that began at `start` and lasted `seconds`, whose
    /// voice is `voice` (`None`: too short to embed — unknown, but it still counts as speech
    /// that keeps the session going).
    pub fn attribute(
        &mut self,
        window: &str,
        voice: Option<Vec<f32>>,
        start: DateTime<FixedOffset>,
        seconds: f64,
    ) -> Speaker {
        let t = Thresholds::default();
        let end = start + chrono::Duration::milliseconds((seconds * 1000.0) as i64);
        let date = start.date_naive();
        let day = self
            .windows
            .entry(window.to_string())
            .or_insert_with(|| WindowDay::new(date));
        if day.date != date {
            *day = WindowDay::new(date);
        }
        if let Some(last) = day.last_end {
            if (start - last).num_milliseconds() as f64 / 1000.0 > self.session_gap {
                day.session += 1;
            }
        }
        day.last_end = Some(end.max(day.last_end.unwrap_or(end)));
        let Some(voice) = voice else {
            return Speaker::new(Role::Unknown, 0.1);
        };
        let enrolled = self
            .roster
            .on_duty(window, start)
            .and_then(|e| self.enrolled.get(&e.staff_id))
            .or_else(|| self.enrolled.get(window));
        day.heard.push((day.session, voice));
        if day.heard.len() > KEEP {
            day.heard.remove(0);
        }
        let staff = match enrolled {
            Some(v) => Some(v.as_slice()),
            None => {
                // Learn again when a session has been added since.
                let sessions = day.session + 1;
                if day.learnt.is_none() || sessions != day.learnt_sessions {
                    let heard: Vec<Heard> = day
                        .heard
                        .iter()
                        .map(|(session, v)| Heard {
                            session: *session,
                            voice: Some(v),
                        })
                        .collect();
                    let earlier = self.earlier.get(window).map(Vec::as_slice);
                    day.learnt = staff_voice_since(&heard, earlier, t);
                    day.learnt_sessions = sessions;
                }
                day.learnt.as_deref()
            }
        };
        let (_, voice) = day.heard.last().expect("pushed above");
        attribute(
            &[Heard {
                session: day.session,
                voice: Some(voice),
            }],
            staff,
            t,
        )[0]
    }
}

impl WindowDay {
    fn new(date: NaiveDate) -> WindowDay {
        WindowDay {
            date,
            heard: Vec::new(),
            session: 0,
            last_end: None,
            learnt: None,
            learnt_sessions: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::RosterEntry;

    /// A unit voice along axis `k` of 8, nudged a little along the next one.
    fn voice(k: usize, nudge: f32) -> Vec<f32> {
        let mut v = vec![0.0; 8];
        v[k] = 1.0;
        v[(k + 1) % 8] = nudge;
        crate::speaker::encoder::normalised(v).unwrap()
    }

    fn at(seconds: i64) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-12-01T09:00:00+08:00").unwrap()
            + chrono::Duration::seconds(seconds)
    }

    #[test]
    fn learns_the_staff_voice_once_a_second_session_has_been_heard() {
        let mut r = RunningVoices::new(HashMap::new(), Roster::default(), 15.0);
        // Session 1: staff (axis 0) and a citizen (axis 1): nothing to tell them apart yet.
        let first = r.attribute("W1", Some(voice(0, 0.05)), at(0), 3.0);
        assert_eq!(first.role, Role::Unknown);
        assert_eq!(
            r.attribute("W1", Some(voice(1, 0.05)), at(4), 3.0).role,
            Role::Unknown
        );
        // 60 s later, session 2: staff again, then another citizen (axis 2).
        assert_eq!(
            r.attribute("W1", Some(voice(0, 0.1)), at(60), 3.0).role,
            Role::Staff
        );
        assert_eq!(
            r.attribute("W1", Some(voice(2, 0.05)), at(64), 3.0).role,
            Role::Citizen
        );
        // Another window learns on its own.
        assert_eq!(
            r.attribute("W2", Some(voice(0, 0.05)), at(70), 3.0).role,
            Role::Unknown
        );
        // A new day starts over.
        let tomorrow = at(86_400);
        assert_eq!(
            r.attribute("W1", Some(voice(0, 0.05)), tomorrow, 3.0).role,
            Role::Unknown
        );
    }

    #[test]
    fn an_earlier_days_staff_voice_tells_the_first_session_apart() {
        let earlier = HashMap::from([
            ("W1".to_string(), voice(0, 0.0)),
            ("W2".to_string(), voice(5, 0.0)),
        ]);
        let mut r =
            RunningVoices::new(HashMap::new(), Roster::default(), 15.0).with_earlier(earlier);
        // W1: the citizen speaks first — nothing like yesterday's staff yet, unknown.
        assert_eq!(
            r.attribute("W1", Some(voice(1, 0.05)), at(0), 3.0).role,
            Role::Unknown
        );
        // Yesterday's staff speaks: the same voice, so staff from the first session on.
        assert_eq!(
            r.attribute("W1", Some(voice(0, 0.1)), at(4), 3.0).role,
            Role::Staff
        );
        assert_eq!(
            r.attribute("W1", Some(voice(1, 0.05)), at(8), 3.0).role,
            Role::Citizen
        );
        // W2: someone else is on duty today; yesterday's voice changes nothing.
        assert_eq!(
            r.attribute("W2", Some(voice(0, 0.05)), at(0), 3.0).role,
            Role::Unknown
        );
        assert_eq!(
            r.attribute("W2", Some(voice(1, 0.05)), at(4), 3.0).role,
            Role::Unknown
        );
    }

    #[test]
    fn a_pause_shorter_than_the_gap_is_the_same_session() {
        let mut r = RunningVoices::new(HashMap::new(), Roster::default(), 15.0);
        r.attribute("W1", Some(voice(0, 0.05)), at(0), 3.0);
        r.attribute("W1", Some(voice(1, 0.05)), at(10), 3.0);
        // Same session: one session holds both voices, nothing is learnt.
        assert_eq!(
            r.attribute("W1", Some(voice(0, 0.05)), at(20), 3.0).role,
            Role::Unknown
        );
    }

    #[test]
    fn the_voice_enrolled_for_whoever_is_on_duty_decides_from_the_first_utterance() {
        let roster = Roster::from_entries(vec![RosterEntry {
            window: "W1".into(),
            staff_id: "S7".into(),
            name: "王芳".into(),
            from: at(-3600),
            to: at(3600),
        }])
        .unwrap();
        let enrolled = HashMap::from([
            ("S7".to_string(), voice(3, 0.0)),
            ("W1".to_string(), voice(0, 0.0)),
        ]);
        let mut r = RunningVoices::new(enrolled, roster, 15.0);
        assert_eq!(
            r.attribute("W1", Some(voice(3, 0.05)), at(0), 3.0).role,
            Role::Staff
        );
        assert_eq!(
            r.attribute("W1", Some(voice(0, 0.05)), at(5), 3.0).role,
            Role::Citizen
        );
        // After the shift, the window's own voiceprint.
        assert_eq!(
            r.attribute("W1", Some(voice(0, 0.05)), at(4000), 3.0).role,
            Role::Staff
        );
        // Too short to embed: unknown.
        assert_eq!(r.attribute("W1", None, at(4010), 0.5).role, Role::Unknown);
    }
}
