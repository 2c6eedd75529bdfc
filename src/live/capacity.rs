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
//! is an estimate on stated assumptions, said at start (`capacity` event, `basis: timed`); once
//! the windows have spoken, [`Measure`] puts the hall's own figures in place of the assumptions —
//! utterances and speech per window over the last ten minutes, and what a call really cost, second
//! hearings included — and says the estimate again (`basis: measured`) once the number of windows
//! it gives has stayed off the last one said for a minute. What really happens is reported as it
//! happens (`load` events when the box falls behind and catches up, `dropped` when a window's
//! queue overflows).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

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

/// The windows `calls` workers can serve when one utterance's call takes `call_seconds` and
/// every utterance costs `work_seconds` of a worker in all (a second hearing adds work to the
/// queue but not to the first alert's latency).
pub fn estimate(
    call_seconds: f64,
    work_seconds: f64,
    calls: usize,
    windows: usize,
    a: Assumptions,
) -> Capacity {
    let per_window = a.speech_share / a.utterance_seconds;
    let latency = |n: usize| {
        wait_p95(n as f64 * per_window, work_seconds, calls)
            .map(|wait| a.trailing_silence + call_seconds + wait)
    };
    let holds = |n: usize| latency(n).is_some_and(|l| l <= a.latency_target);
    let supported = if per_window > 0.0 && call_seconds > 0.0 && work_seconds > 0.0 {
        (1..=MAX_WINDOWS)
            .take_while(|&n| holds(n))
            .last()
            .unwrap_or(0)
    } else {
        0
    };
    Capacity {
        time: crate::sink::event::now_rfc3339(),
        basis: "timed".into(),
        call_seconds,
        work_seconds,
        calls,
        windows_supported: supported,
        windows,
        latency_target: a.latency_target,
        speech_share: a.speech_share,
        utterance_seconds: a.utterance_seconds,
    }
}

/// How long [`Measure`] looks back.
const MEASURED_OVER: Duration = Duration::from_secs(600);
/// The least [`Measure`] needs before it says anything: a minute of running and this many
/// utterances heard.
const MEASURED_AFTER: Duration = Duration::from_secs(60);
const MEASURED_UTTERANCES: usize = 20;
/// How long the estimate must stay off the number last said before the new one is said: near a
/// boundary the measured figure flips between two numbers within seconds, and a supervisor
/// should read a change of the hall, not the noise of the last few calls.
const MEASURED_HOLDS: Duration = Duration::from_secs(60);

/// The run's own figures for the capacity estimate: what the windows said and what Whisper took,
/// over the last [`MEASURED_OVER`].
#[derive(Debug)]
pub struct Measure {
    started: Instant,
    /// (when, worker seconds, utterances first heard, seconds of their speech) per call.
    calls: VecDeque<(Instant, f64, usize, f64)>,
    /// The windows supported that the last `capacity` event said.
    said: usize,
    /// Whether a measured estimate has been said yet (the first is said at once).
    measured: bool,
    /// Since when the estimate has given other numbers than `said` without a break.
    pending: Option<Instant>,
}

impl Measure {
    /// From the start of the run, after the estimate at start said `said` windows.
    pub fn new(started: Instant, said: usize) -> Measure {
        Measure {
            started,
            calls: VecDeque::new(),
            said,
            measured: false,
            pending: None,
        }
    }

    /// One Whisper call ended at `now` after `seconds`, first hearing `utterances` utterances
    /// of `speech` seconds in all (a second hearing: 0 and 0 — its cost counts all the same).
    pub fn call(&mut self, now: Instant, seconds: f64, utterances: usize, speech: f64) {
        self.calls.push_back((now, seconds, utterances, speech));
        while self
            .calls
            .front()
            .is_some_and(|c| now.duration_since(c.0) > MEASURED_OVER)
        {
            self.calls.pop_front();
        }
    }

    /// The estimate on the measured figures when it is news: the first one there is enough to go
    /// on for, then the number of the moment once the estimate has stayed off the last one said
    /// for [`MEASURED_HOLDS`]. `windows` windows served by `calls` workers, the target and the
    /// trailing silence from `a`.
    pub fn changed(
        &mut self,
        now: Instant,
        calls: usize,
        windows: usize,
        a: Assumptions,
    ) -> Option<Capacity> {
        let running = now.duration_since(self.started);
        let heard: usize = self.calls.iter().map(|c| c.2).sum();
        if running < MEASURED_AFTER || heard < MEASURED_UTTERANCES || windows == 0 {
            return None;
        }
        let span = running.min(MEASURED_OVER).as_secs_f64();
        let work: f64 = self.calls.iter().map(|c| c.1).sum();
        let speech: f64 = self.calls.iter().map(|c| c.3).sum();
        let first: Vec<f64> = self.calls.iter().filter(|c| c.2 > 0).map(|c| c.1).collect();
        let measured = Assumptions {
            speech_share: speech / span / windows as f64,
            utterance_seconds: speech / heard as f64,
            ..a
        };
        let call = first.iter().sum::<f64>() / first.len() as f64;
        let mut c = estimate(call, work / heard as f64, calls, windows, measured);
        let n = c.windows_supported;
        if self.measured {
            if n == self.said {
                self.pending = None;
                return None;
            }
            let since = *self.pending.get_or_insert(now);
            if now.duration_since(since) < MEASURED_HOLDS {
                return None;
            }
        }
        self.measured = true;
        self.pending = None;
        self.said = n;
        c.basis = "measured".into();
        Some(c)
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
        let one = estimate(0.3, 0.3, 1, 16, A).windows_supported;
        let two = estimate(0.3, 0.3, 2, 16, A).windows_supported;
        let slow = estimate(0.6, 0.6, 1, 16, A).windows_supported;
        assert!(two > 2 * one && slow < one, "{one} {two} {slow}");
        // Each one is the last count that holds the target.
        for (cost, calls, n) in [(0.3, 1, one), (0.3, 2, two), (0.6, 1, slow)] {
            let at = |n: usize| {
                0.7 + cost + wait_p95(n as f64 * 0.1, cost, calls).unwrap_or(f64::INFINITY)
            };
            assert!(at(n) <= 2.0 && at(n + 1) > 2.0, "{cost} {calls} {n}");
        }
        assert_eq!(estimate(0.3, 0.3, 1, 16, A).windows, 16);
    }

    #[test]
    fn the_measured_estimate_follows_the_hall_and_speaks_only_when_it_changes() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        // Said 22 at start (0.45 s calls at the default assumptions).
        let mut m = Measure::new(t0, 22);
        // 16 windows that speak 0.144 utterances a second each (2.3 in all) of 1.9 s, each
        // costing 0.55 s of a worker: a call every 1/2.3 s.
        let mut t = 0.0;
        let mut said = Vec::new();
        while t < 300.0 {
            t += 1.0 / 2.3;
            m.call(at(t), 0.55, 1, 1.9);
            if let Some(c) = m.changed(at(t), 2, 16, A) {
                said.push((t, c));
            }
        }
        // Nothing before a minute; then once, and not again while the hall stays the same.
        assert_eq!(said.len(), 1, "{said:?}");
        let (when, c) = &said[0];
        assert!(*when > 59.9 && *when < 61.0, "{when}");
        assert_eq!(c.basis, "measured");
        assert!((c.call_seconds - 0.55).abs() < 1e-9);
        assert!((c.utterance_seconds - 1.9).abs() < 1e-9);
        assert!(
            (c.speech_share - 2.3 * 1.9 / 16.0).abs() < 0.01,
            "{}",
            c.speech_share
        );
        // 0.7 + 0.55 + the wait: p95 2.9 s at 16 windows; what holds 2 s is far fewer.
        assert!(
            c.windows_supported < 16 && c.windows_supported >= 4,
            "{c:?}"
        );
        assert!((c.work_seconds - 0.55).abs() < 1e-9);
        // From now on one utterance in four is heard again, a 30 s call of 1.5 s: the work per
        // utterance rises, a first hearing's call does not, and the box serves fewer windows.
        let (mut again, mut k) = (None, 0);
        let t1 = t;
        while t < t1 + 300.0 {
            t += 1.0 / 2.3;
            k += 1;
            m.call(at(t), 0.55, 1, 1.9);
            if k % 4 == 0 {
                m.call(at(t), 1.5, 0, 0.0);
            }
            if let Some(c) = m.changed(at(t), 2, 16, A) {
                again.get_or_insert((t, c));
            }
        }
        let (when, again) = again.expect("said again when the hall changed");
        assert!(when - t1 >= 60.0, "{when}");
        assert!((again.call_seconds - 0.55).abs() < 1e-9, "{again:?}");
        assert!(again.work_seconds > 0.55, "{again:?}");
        assert!(again.windows_supported < c.windows_supported, "{again:?}");
        let c = again;
        // The old calls leave the ten minutes: a quiet hall serves more windows.
        let mut later = None;
        for k in 0..90 {
            let tk = t + 700.0 + 10.0 * k as f64;
            m.call(at(tk), 0.55, 1, 1.9);
            later = m.changed(at(tk), 2, 16, A).or(later);
        }
        let later = later.expect("said again when the hall quietened");
        assert!(later.windows_supported > c.windows_supported, "{later:?}");
    }

    #[test]
    fn a_number_that_flips_from_call_to_call_is_not_said_until_it_holds() {
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        // 8 windows, 1.2 utterances a second of 1.9 s: find the call cost where the estimate
        // turns from 4 windows to 3, and let the hall's calls sit right on it (15 s a little
        // faster, 15 s a little slower), as a real hall near a boundary does.
        let a = Assumptions {
            speech_share: 1.2 * 1.9 / 8.0,
            utterance_seconds: 1.9,
            ..A
        };
        let (mut lo, mut hi) = (0.5, 1.2);
        for _ in 0..40 {
            let mid = (lo + hi) / 2.0;
            if estimate(mid, mid, 2, 8, a).windows_supported >= 4 {
                lo = mid
            } else {
                hi = mid
            }
        }
        let mut m = Measure::new(t0, 22);
        let (mut t, mut raw, mut last_raw, mut said) = (0.0, 0, None, Vec::new());
        while t < 900.0 {
            t += 1.0 / 1.2;
            let slower = ((t / 15.0) as u64).is_multiple_of(2);
            let cost = lo + if slower { 0.01 } else { -0.01 };
            m.call(at(t), cost, 1, 1.9);
            if let Some(c) = m.changed(at(t), 2, 8, A) {
                said.push((t, c.windows_supported));
            }
            // What the last ten minutes give, call by call.
            if t >= 60.0 {
                let work: f64 = m.calls.iter().map(|c| c.1).sum();
                let cost = work / m.calls.len() as f64;
                let w = estimate(cost, cost, 2, 8, a).windows_supported;
                if last_raw.is_some_and(|l| l != w) {
                    raw += 1;
                }
                last_raw = Some(w);
            }
        }
        assert!(raw >= 6, "the hall should cross the boundary often: {raw}");
        assert!(!said.is_empty());
        // A change is said once it has held a minute: far less often than the number flips.
        assert!(said.len() * 3 <= raw, "said {said:?} for {raw} flips");
        for w in said.windows(2) {
            assert!(w[1].0 - w[0].0 >= 60.0, "{said:?}");
        }
    }

    #[test]
    fn second_hearings_load_the_queue_but_not_the_first_alert() {
        let plain = estimate(0.55, 0.55, 2, 16, A).windows_supported;
        let heard_again = estimate(0.55, 0.8, 2, 16, A).windows_supported;
        let all_slow = estimate(0.8, 0.8, 2, 16, A).windows_supported;
        assert!(
            plain > heard_again && heard_again > all_slow,
            "{plain} {heard_again} {all_slow}"
        );
    }

    #[test]
    fn a_call_too_slow_for_the_target_serves_no_window() {
        // 0.7 + 1.4 > 2 s: even one window misses the target.
        assert_eq!(estimate(1.4, 1.4, 1, 1, A).windows_supported, 0);
        // Two one-thread calls of 0.45 s (this 2-core box, both busy): 22 windows at the
        // default assumptions (0.1 utterances a second each).
        assert_eq!(estimate(0.45, 0.45, 2, 16, A).windows_supported, 22);
    }
}
