//! Two microphones: an utterance belongs to the side whose microphone heard it louder, block by block, bleed tolerated.
//!
//! A staff microphone also hears the citizen (and the other way round), 10–20 dB down. Each
//! 10 ms block of the utterance that is loud enough (within 30 dB of its loudest block, above
//! −70 dBFS) votes for the microphone that leads by more than the margin, weighted by its
//! energy; blocks where neither leads (both talking, or the room) do not vote. The side with
//! most of the votes said it; the confidence is its share of them, and below 0.65 the
//! utterance stays unknown.

use crate::audio::Levels;

use super::{Role, Speaker, WindowChannels};

/// Blocks quieter than this (mean square, −70 dBFS) never vote.
const FLOOR: f32 = 1e-7;
/// Blocks more than 30 dB below the utterance's loudest block never vote.
const RANGE: f32 = 1e-3;
/// Below this share of the votes the utterance stays unknown.
const MIN_SHARE: f32 = 0.65;

/// Who said the utterance whose channel `levels` these are.
pub fn attribute(levels: &Levels, channels: WindowChannels, margin_db: f32) -> Speaker {
    if levels.channels <= channels.staff.max(channels.citizen) {
        return Speaker::UNKNOWN;
    }
    let pair = |i: usize| {
        let b = levels.block(i);
        (b[channels.staff], b[channels.citizen])
    };
    let loudest = (0..levels.blocks())
        .map(|i| {
            let (s, c) = pair(i);
            s.max(c)
        })
        .fold(0.0f32, f32::max);
    let lead = 10f32.powf(margin_db / 10.0);
    let (mut staff, mut citizen) = (0.0f64, 0.0f64);
    for i in 0..levels.blocks() {
        let (s, c) = pair(i);
        let top = s.max(c);
        if top < FLOOR || top < loudest * RANGE {
            continue;
        }
        if s > c * lead {
            staff += top as f64;
        } else if c > s * lead {
            citizen += top as f64;
        }
    }
    if staff + citizen <= 0.0 {
        return Speaker::UNKNOWN;
    }
    let share = (staff.max(citizen) / (staff + citizen)) as f32;
    let role = if share < MIN_SHARE {
        Role::Unknown
    } else if staff > citizen {
        Role::Staff
    } else {
        Role::Citizen
    };
    Speaker::new(role, share)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIR: WindowChannels = WindowChannels {
        staff: 0,
        citizen: 1,
    };

    /// A voice-like signal: a few harmonics, syllable-shaped (4 Hz), `secs` long.
    fn voice(secs: f64, f0: f64, amp: f32) -> Vec<f32> {
        (0..(secs * 16_000.0) as usize)
            .map(|i| {
                let t = i as f64 / 16_000.0;
                let env = (std::f64::consts::PI * 4.0 * t).sin().abs();
                let h: f64 = (1..5)
                    .map(|k| (2.0 * std::f64::consts::PI * f0 * k as f64 * t).sin() / k as f64)
                    .sum();
                (amp as f64 * env * h * 0.5) as f32
            })
            .collect()
    }

    fn gain(x: &[f32], db: f32) -> Vec<f32> {
        let g = 10f32.powf(db / 20.0);
        x.iter().map(|v| v * g).collect()
    }

    #[test]
    fn the_nearer_microphone_wins_through_bleed() {
        let v = voice(1.5, 180.0, 0.3);
        let bleed = gain(&v, -12.0);
        let staff = attribute(&Levels::measure(&[&v, &bleed]), PAIR, 3.0);
        assert_eq!(staff.role, Role::Staff);
        assert!(staff.confidence > 0.95, "{staff:?}");
        let citizen = attribute(&Levels::measure(&[&bleed, &v]), PAIR, 3.0);
        assert_eq!(citizen.role, Role::Citizen);
        // The channels may be any two of the recorder's, in any order.
        let three = attribute(
            &Levels::measure(&[&bleed, &vec![0.0; v.len()], &v]),
            WindowChannels {
                staff: 2,
                citizen: 0,
            },
            3.0,
        );
        assert_eq!(three.role, Role::Staff);
    }

    #[test]
    fn equal_levels_silence_and_missing_channels_are_unknown() {
        let v = voice(1.0, 200.0, 0.3);
        let same = attribute(&Levels::measure(&[&v, &v]), PAIR, 3.0);
        assert_eq!(same, Speaker::UNKNOWN);
        let quiet = vec![0.0; 16_000];
        assert_eq!(
            attribute(&Levels::measure(&[&quiet, &quiet]), PAIR, 3.0),
            Speaker::UNKNOWN
        );
        assert_eq!(
            attribute(&Levels::measure(&[&v]), PAIR, 3.0),
            Speaker::UNKNOWN
        );
        assert_eq!(attribute(&Levels::default(), PAIR, 3.0), Speaker::UNKNOWN);
    }

    #[test]
    fn a_short_reply_inside_a_long_turn_does_not_flip_it() {
        // Staff speaks 2 s, the citizen answers 0.5 s in the same utterance: staff's.
        let s = voice(2.0, 150.0, 0.3);
        let c = voice(0.5, 230.0, 0.3);
        let mut near: Vec<f32> = s.clone();
        near.extend(gain(&c, -12.0));
        let mut far: Vec<f32> = gain(&s, -12.0);
        far.extend(&c);
        let who = attribute(&Levels::measure(&[&near, &far]), PAIR, 3.0);
        assert_eq!(who.role, Role::Staff);
        assert!(who.confidence > 0.7 && who.confidence < 0.9, "{who:?}");
    }
}
