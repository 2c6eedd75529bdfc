//! What this box can serve: Whisper calls timed at start, turned into windows at the latency target.
//!
//! The cost of a live utterance is almost all one Whisper call, and a call costs about the same
//! whatever is said: the encoder runs over a fixed context (`[live] encoder_seconds` with
//! `fit_encoder`, else 30 s) and the decoder over a sentence's tokens. So calls timed on the
//! built-in clip said over and over to an utterance's length ([`priced_utterance`]: the decoder's
//! share follows how much is said, and the bare 1.5 s clip priced a call at 0.30 s that cost 0.5 s
//! on real utterances), with the run's own settings — all workers at once, as when the box is
//! busy (they share the memory bus), twice — price every utterance. From that cost:
//!
//! - windows send `speech_share / utterance_seconds` utterances per second each, at random
//!   moments (a Poisson stream), and `calls` workers serve them;
//! - the latency of an utterance is the VAD's trailing silence, the wait for a free worker and
//!   its own call. The wait's 95th percentile is Erlang's C formula for `calls` servers (the
//!   chance that an utterance waits at all) with an exponential tail (calls vary from a word to a
//!   second hearing with the whole window): `P(wait > t) = C · e^(−(calls/cost − rate)·t)`;
//! - the box serves `n` windows while `silence + cost + wait₉₅(n) ≤ target`.
//!
//! Measured against it (README): a 2-core box whose calls cost 0.55 s under load, fed 0.14
//! utterances a second per window, is predicted 2.9 s at 16 windows and gave 2.76 s. The figure
//! is an estimate on stated assumptions, said once at start (`capacity` event); what really
//! happens is reported as it happens (`load` events when the box falls behind and catches up,
//! `dropped` when a window's queue overflows).

use crate::sink::event::Capacity;
use crate::vad::SpeechSegment;

/// Pause laid between repeats of the clip in [`priced_utterance`], as between two phrases.
const REPEAT_GAP_SECONDS: f64 = 0.3;
/// Longest priced utterance (the VAD's longest segment).
const MAX_UTTERANCE_SECONDS: f64 = 25.0;

/// `clip` said again and again, a short pause apart, until it lasts at least `seconds` (whole
/// repeats, at most 25 s): an utterance of the assumed length to time a call on.
pub fn priced_utterance(clip: &SpeechSegment, seconds: f64) -> SpeechSegment {
    let rate = crate::audio::SAMPLE_RATE as f64;
    let gap = vec![0.0f32; (REPEAT_GAP_SECONDS * rate) as usize];
    let most = (MAX_UTTERANCE_SECONDS * rate) as usize;
    let want = ((seconds.max(0.0) * rate) as usize).min(most);
    let mut samples = clip.samples.clone();
    while samples.len() < want && samples.len() + gap.len() + clip.samples.len() <= most {
        samples.extend_from_slice(&gap);
        samples.extend_from_slice(&clip.samples);
    }
    SpeechSegment {
        start: 0.0,
        end: samples.len() as f64 / rate,
        samples,
        levels: Default::default(),
    }
}

/// No box is said to serve more windows than this.
const MAX_WINDOWS: usize = 1000;

/// What the capacity estimate assumes about the windows (from `[live]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assumptions {
    /// Target for the 95th percentile of the time from the end of speech to the alert.
    pub latency_target: f64,
    /// Share of the time a window's microphone hears speech.
    pub speech_share: f64,
    /// Mean length of an utterance.
    pub utterance_seconds: f64,
    /// Silence that closes an utterance (the VAD's hang-over), part of every latency.
    pub trailing_silence: f64,
}

/// The windows `calls` workers can serve when one utterance costs `call_seconds` of a worker.
pub fn estimate(call_seconds: f64, calls: usize, windows: usize, a: Assumptions) -> Capacity {
    let per_window = a.speech_share / a.utterance_seconds;
    let latency = |n: usize| {
        wait_p95(n as f64 * per_window, call_seconds, calls)
            .map(|wait| a.trailing_silence + call_seconds + wait)
    };
    let holds = |n: usize| latency(n).is_some_and(|l| l <= a.latency_target);
    let supported = if per_window > 0.0 && call_seconds > 0.0 {
        (1..=MAX_WINDOWS)
            .take_while(|&n| holds(n))
            .last()
            .unwrap_or(0)
    } else {
        0
    };
    Capacity {
        time: crate::sink::event::now_rfc3339(),
        call_seconds,
        calls,
        windows_supported: supported,
        windows,
        latency_target: a.latency_target,
        speech_share: a.speech_share,
        utterance_seconds: a.utterance_seconds,
    }
}

/// The 95th percentile of the wait for a free worker (seconds) when utterances arrive at random
/// at `rate` a second and each takes one of `calls` workers `cost` seconds; `None` when the
/// workers cannot keep up at all.
pub fn wait_p95(rate: f64, cost: f64, calls: usize) -> Option<f64> {
    let c = calls.max(1);
    let load = rate * cost; // workers' worth of work arriving (erlangs)
    if load >= c as f64 {
        return None;
    }
    // Erlang C: Σ_{k<c} load^k/k!, and load^c/c! over (1 − load/c).
    let (mut sum, mut term) = (0.0, 1.0);
    for k in 0..c {
        if k > 0 {
            term *= load / k as f64;
        }
        sum += term;
    }
    let queued = term * load / c as f64 / (1.0 - load / c as f64);
    let waits = queued / (sum + queued);
    if waits <= 0.05 {
        return Some(0.0);
    }
    Some((waits / 0.05).ln() / (c as f64 / cost - rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_priced_utterance_is_the_clip_said_to_the_assumed_length() {
        let rate = crate::audio::SAMPLE_RATE as usize;
        let clip = SpeechSegment {
            start: 0.0,
            end: 1.5,
            samples: vec![0.5; rate * 3 / 2],
            levels: Default::default(),
        };
        let u = priced_utterance(&clip, 3.0);
        // 1.5 + 0.3 + 1.5: two whole repeats.
        assert_eq!(u.samples.len(), rate * 33 / 10);
        assert!((u.duration() - 3.3).abs() < 1e-9);
        assert_eq!(
            priced_utterance(&clip, 1.0).samples.len(),
            clip.samples.len()
        );
        assert!(priced_utterance(&clip, 1e9).duration() <= 25.0);
    }

    const A: Assumptions = Assumptions {
        latency_target: 2.0,
        speech_share: 0.3,
        utterance_seconds: 3.0,
        trailing_silence: 0.7,
    };

    #[test]
    fn the_wait_follows_erlangs_formula() {
        // One worker (M/M/1): P(wait) = load; 0.3 s calls at 2 a second → load 0.6,
        // p95 = ln(0.6/0.05) / (1/0.3 − 2) = 1.864 s.
        let w = wait_p95(2.0, 0.3, 1).unwrap();
        assert!((w - 1.864).abs() < 0.01, "{w}");
        // Two workers at load 1.24 (C = 0.475): ln(9.5) / (2/0.55 − 2.27) = 1.64 s — with 0.7 s
        // of silence and the call, 2.9 s; the 16-window replay measured 2.76 s.
        let w = wait_p95(2.27, 0.55, 2).unwrap();
        assert!((w - 1.64).abs() < 0.03, "{w}");
        // Hardly loaded: most utterances find a free worker, no wait at the 95th percentile.
        assert_eq!(wait_p95(0.1, 0.3, 2), Some(0.0));
        // Overloaded: the queue grows without end.
        assert_eq!(wait_p95(4.0, 0.5, 2), None);
    }

    #[test]
    fn windows_grow_with_workers_and_shrink_with_cost() {
        let one = estimate(0.3, 1, 16, A).windows_supported;
        let two = estimate(0.3, 2, 16, A).windows_supported;
        let slow = estimate(0.6, 1, 16, A).windows_supported;
        assert!(two > 2 * one && slow < one, "{one} {two} {slow}");
        // Each one is the last count that holds the target.
        for (cost, calls, n) in [(0.3, 1, one), (0.3, 2, two), (0.6, 1, slow)] {
            let at = |n: usize| {
                0.7 + cost + wait_p95(n as f64 * 0.1, cost, calls).unwrap_or(f64::INFINITY)
            };
            assert!(at(n) <= 2.0 && at(n + 1) > 2.0, "{cost} {calls} {n}");
        }
        assert_eq!(estimate(0.3, 1, 16, A).windows, 16);
    }

    #[test]
    fn a_call_too_slow_for_the_target_serves_no_window() {
        // 0.7 + 1.4 > 2 s: even one window misses the target.
        assert_eq!(estimate(1.4, 1, 1, A).windows_supported, 0);
        // Two one-thread calls of 0.45 s (this 2-core box, both busy): 22 windows at the
        // default assumptions (0.1 utterances a second each).
        assert_eq!(estimate(0.45, 2, 16, A).windows_supported, 22);
    }
}
