//! What this box can serve: one timed Whisper call at start, turned into windows at the latency target.
//!
//! The cost of a live utterance is almost all one Whisper call, and a call costs about the same
//! whatever is said: the encoder runs over a fixed context (`[live] encoder_seconds` with
//! `fit_encoder`, else 30 s) and the decoder over a sentence's few tokens. So one call, timed on
//! the built-in clip with the run's own settings, prices every utterance. From it:
//!
//! - windows send `speech_share / utterance_seconds` utterances per second each, and `calls`
//!   workers serve them, so `n` windows keep the workers busy `ρ = n · rate · cost / calls` of
//!   the time;
//! - the latency of an utterance is the VAD's trailing silence, the wait for a free worker and
//!   its own call. Below [`MAX_LOAD`] the wait stays under one call at the 95th percentile (a
//!   queue of fixed-length jobs), and with `calls` workers one of them frees up within
//!   `cost / calls`, so the target holds while `silence + cost + cost / calls ≤ target`.
//!
//! The figure is an estimate, said once at start (`capacity` event); what really happens is
//! reported as it happens (`load` events when the box falls behind and catches up, `dropped`
//! when a window's queue overflows).

use crate::sink::event::Capacity;

/// The share of time the workers may be busy before waits grow past one call.
pub const MAX_LOAD: f64 = 0.75;

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
    let per_window = a.speech_share / a.utterance_seconds * call_seconds;
    let wait = call_seconds / calls.max(1) as f64;
    let fits = a.trailing_silence + call_seconds + wait <= a.latency_target;
    let supported = if fits && per_window > 0.0 {
        (MAX_LOAD * calls as f64 / per_window).floor() as usize
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

#[cfg(test)]
mod tests {
    use super::*;

    const A: Assumptions = Assumptions {
        latency_target: 2.0,
        speech_share: 0.3,
        utterance_seconds: 3.0,
        trailing_silence: 0.7,
    };

    #[test]
    fn windows_scale_with_workers_and_inverse_cost() {
        // 0.3 s per call: each window keeps a worker busy 3 % of the time → 25 at 75 %.
        let c = estimate(0.3, 1, 16, A);
        assert_eq!(c.windows_supported, 25);
        assert_eq!(estimate(0.3, 2, 16, A).windows_supported, 50);
        assert_eq!(estimate(0.6, 1, 16, A).windows_supported, 12);
        assert_eq!(c.windows, 16);
    }

    #[test]
    fn a_call_too_slow_for_the_target_serves_no_window() {
        // 0.7 + 0.7 + 0.7 > 2 s: even one window misses the target.
        assert_eq!(estimate(0.7, 1, 1, A).windows_supported, 0);
        assert_eq!(estimate(0.65, 1, 1, A).windows_supported, 11);
        // Two one-thread calls of 0.67 s (OpenBLAS, this 2-core box): a worker frees up within
        // 0.34 s, 0.7 + 0.67 + 0.34 ≤ 2 s.
        assert_eq!(estimate(0.67, 2, 16, A).windows_supported, 22);
    }
}
