//! Fair scheduling of utterances onto Whisper: one queue per window, served round-robin, packed into shared calls.
//!
//! The policy, in order (also in ARCHITECTURE.md):
//! 1. **Fair.** Each window has its own queue. A batch takes at most one utterance per window per
//!    round, starting after the window served first last time, so a chatty window cannot starve a
//!    quiet one: a window's new utterance waits for at most one round of the others.
//! 2. **Pack when behind.** A free worker takes what is queued *now* (it never waits to fill a
//!    batch, so an idle box adds no latency) and packs up to `pack_seconds` of speech into one
//!    Whisper call. The busier the box, the fuller the calls and the cheaper each utterance.
//! 3. **Precision before coverage.** While more than `busy_backlog_seconds` of speech waits, the
//!    Whisper threads use the shorter encoder context `busy_encoder_seconds` (in `live`; it
//!    matters when `encoder_seconds` is set above it): cheaper calls, a few points less recall.
//! 4. **Bounded, never silent.** A window whose queue holds more than `max_queue_seconds` of
//!    speech loses its oldest utterance; the caller reports each one as a `dropped` event.
//! 5. **Hearing again only when idle.** Utterances sent back to be heard again with more context
//!    (`matcher::nearly`) wait in their own lane, served one at a time when no window has anything
//!    waiting. A second hearing in flight is not cut short when speech arrives: whisper.cpp
//!    checks its abort callback only after the encoder, the part that costs, so giving way
//!    would waste the encoder and delay the new utterance as much (measured: p95 worse). They
//!    were heard once already, so the lane is bounded (the oldest give way, and none older than
//!    [`AGAIN_WITHIN`]) and what is in it when the run stops is simply not heard again.
//!
//! A batch is *in flight* from the moment a worker takes it until the judge has finished with it
//! (the [`Batch`] is dropped): workers stop only when the scheduler is closed, empty and nothing
//! is in flight, since judging a batch may send an utterance back.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use crate::asr::packed_len;
use crate::vad::SpeechSegment;

/// One utterance of one window waiting for Whisper: the stage boundary between end-pointing and
/// transcription.
#[derive(Debug, Clone)]
pub struct Job {
    /// Index of the window in the run's window list.
    pub window: usize,
    /// The window's utterance number, from 1.
    pub seq: u64,
    pub segment: SpeechSegment,
    /// When the speaker stopped (the last voiced sample arrived): latency is measured from here.
    pub speech_end: Instant,
    /// Wall-clock time of `segment.start`.
    pub wall_start: chrono::DateTime<chrono::Local>,
}

impl Job {
    pub fn seconds(&self) -> f64 {
        self.segment.duration()
    }
}

/// The scheduling knobs (part of the `[live]` configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Most seconds of speech (with the gaps between them) packed into one Whisper call.
    pub pack_seconds: f64,
    /// Most seconds of speech one window may have waiting before its oldest is dropped.
    pub max_queue_seconds: f64,
}

/// The queues, shared by the end-pointing threads (push) and the Whisper workers (pop).
#[derive(Debug)]
pub struct Scheduler {
    state: Mutex<State>,
    ready: Condvar,
    policy: Policy,
}

#[derive(Debug)]
struct State {
    queues: Vec<VecDeque<Job>>,
    /// The window to look at first in the next batch.
    next: usize,
    closed: bool,
    /// Utterances to hear again, oldest first.
    again: VecDeque<Job>,
    /// Batches taken and not yet dropped.
    in_flight: usize,
    /// A stop's drain ran out: nothing more is handed out.
    abandoned: bool,
}

/// Most utterances waiting to be heard again; older ones give way.
const MAX_AGAIN: usize = 32;

/// An utterance whose speech ended longer ago than this is not heard again: its alert would no
/// longer be a live one.
pub const AGAIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// Utterances a worker took: to transcribe, then hand to the judge with the transcripts. In
/// flight until dropped.
#[derive(Debug)]
pub struct Batch<'a> {
    pub jobs: Vec<Job>,
    /// Heard once already, to be heard again with more context (one utterance).
    pub again: bool,
    scheduler: &'a Scheduler,
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let mut st = self.scheduler.lock();
        st.in_flight -= 1;
        let idle = st.in_flight == 0;
        drop(st);
        if idle {
            self.scheduler.ready.notify_all();
        }
    }
}

impl Scheduler {
    pub fn new(windows: usize, policy: Policy) -> Scheduler {
        Scheduler {
            state: Mutex::new(State {
                queues: (0..windows).map(|_| VecDeque::new()).collect(),
                next: 0,
                closed: false,
                again: VecDeque::new(),
                in_flight: 0,
                abandoned: false,
            }),
            ready: Condvar::new(),
            policy,
        }
    }

    /// Queues an utterance. Returns the utterances dropped to keep the window's queue bounded
    /// (normally none); the caller reports them.
    pub fn push(&self, job: Job) -> Vec<Job> {
        let mut st = self.lock();
        let w = job.window;
        if w >= st.queues.len() {
            st.queues.resize_with(w + 1, VecDeque::new);
        }
        st.queues[w].push_back(job);
        let mut dropped = Vec::new();
        while st.queues[w].len() > 1
            && st.queues[w].iter().map(Job::seconds).sum::<f64>() > self.policy.max_queue_seconds
        {
            dropped.extend(st.queues[w].pop_front());
        }
        drop(st);
        self.ready.notify_one();
        dropped
    }

    /// Queues an utterance heard once to be heard again when the box is idle (see the module doc).
    pub fn push_again(&self, job: Job) {
        let mut st = self.lock();
        if st.abandoned {
            return;
        }
        st.again.push_back(job);
        while st.again.len() > MAX_AGAIN {
            st.again.pop_front();
        }
        drop(st);
        self.ready.notify_one();
    }

    /// Blocks until there is work, then takes a batch (see the module doc). `None` once the
    /// scheduler is closed, empty and nothing is in flight (or abandoned): the worker should exit.
    pub fn pop_batch(&self) -> Option<Batch<'_>> {
        let mut st = self.lock();
        loop {
            if st.abandoned {
                return None;
            }
            st.again.retain(|j| j.speech_end.elapsed() <= AGAIN_WITHIN);
            let (jobs, again) = if st.queues.iter().any(|q| !q.is_empty()) {
                (self.take(&mut st), false)
            } else if let Some(job) = st.again.pop_front() {
                (vec![job], true)
            } else if st.closed && st.in_flight == 0 {
                return None;
            } else {
                st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            st.in_flight += 1;
            return Some(Batch {
                jobs,
                again,
                scheduler: self,
            });
        }
    }

    /// No more pushes: workers finish what is queued and then get `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// The end of a shutdown's drain: closes the scheduler and takes out everything still queued
    /// (workers get `None` at once), for the caller to report as not transcribed.
    pub fn abandon(&self) -> Vec<Job> {
        let mut st = self.lock();
        st.closed = true;
        st.abandoned = true;
        st.again.clear();
        let left = st.queues.iter_mut().flat_map(|q| q.drain(..)).collect();
        drop(st);
        self.ready.notify_all();
        left
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Seconds of speech waiting, over all windows.
    pub fn backlog_seconds(&self) -> f64 {
        self.lock().queues.iter().flatten().map(Job::seconds).sum()
    }

    fn take(&self, st: &mut State) -> Vec<Job> {
        let n = st.queues.len();
        let mut batch: Vec<Job> = Vec::new();
        let mut first_window = None;
        'rounds: loop {
            let mut took = false;
            for k in 0..n {
                let w = (st.next + k) % n;
                let Some(head) = st.queues[w].front() else {
                    continue;
                };
                let fits = batch.is_empty()
                    || packed_len(batch.iter().map(Job::seconds).chain([head.seconds()]))
                        <= self.policy.pack_seconds;
                if !fits {
                    break 'rounds;
                }
                first_window.get_or_insert(w);
                batch.extend(st.queues[w].pop_front());
                took = true;
            }
            if !took {
                break;
            }
        }
        if let Some(w) = first_window {
            st.next = (w + 1) % n;
        }
        batch
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(window: usize, seq: u64, seconds: f64) -> Job {
        Job {
            window,
            seq,
            segment: SpeechSegment {
                start: 0.0,
                end: seconds,
                samples: vec![0.0; (seconds * 16_000.0) as usize],
                levels: Default::default(),
            },
            speech_end: Instant::now(),
            wall_start: chrono::Local::now(),
        }
    }

    fn ids(batch: &[Job]) -> Vec<(usize, u64)> {
        batch.iter().map(|j| (j.window, j.seq)).collect()
    }

    const ONE_AT_A_TIME: Policy = Policy {
        pack_seconds: 0.0,
        max_queue_seconds: 1000.0,
    };

    #[test]
    fn a_chatty_window_does_not_starve_the_others() {
        let s = Scheduler::new(3, ONE_AT_A_TIME);
        for seq in 1..=5 {
            s.push(job(0, seq, 2.0));
        }
        s.push(job(1, 1, 2.0));
        s.push(job(2, 1, 2.0));
        let order: Vec<(usize, u64)> = (0..7)
            .flat_map(|_| ids(&s.pop_batch().unwrap().jobs))
            .collect();
        assert_eq!(
            order,
            vec![(0, 1), (1, 1), (2, 1), (0, 2), (0, 3), (0, 4), (0, 5)]
        );
    }

    #[test]
    fn packs_across_windows_up_to_the_limit_in_turn() {
        let s = Scheduler::new(
            3,
            Policy {
                pack_seconds: 10.0,
                max_queue_seconds: 1000.0,
            },
        );
        s.push(job(0, 1, 3.0));
        s.push(job(0, 2, 3.0));
        s.push(job(1, 1, 3.0));
        s.push(job(2, 1, 3.0));
        // 3 + 1 + 3 + 1 + 3 = 11 > 10: two fit, one per window in the first round.
        assert_eq!(ids(&s.pop_batch().unwrap().jobs), vec![(0, 1), (1, 1)]);
        // The next batch starts after window 0.
        assert_eq!(ids(&s.pop_batch().unwrap().jobs), vec![(2, 1), (0, 2)]);
    }

    #[test]
    fn a_long_utterance_goes_alone_and_is_never_stuck() {
        let s = Scheduler::new(
            1,
            Policy {
                pack_seconds: 10.0,
                max_queue_seconds: 1000.0,
            },
        );
        s.push(job(0, 1, 25.0));
        assert_eq!(ids(&s.pop_batch().unwrap().jobs), vec![(0, 1)]);
    }

    #[test]
    fn overfull_window_drops_its_oldest_and_says_so() {
        let s = Scheduler::new(
            2,
            Policy {
                pack_seconds: 0.0,
                max_queue_seconds: 5.0,
            },
        );
        assert!(s.push(job(0, 1, 2.0)).is_empty());
        assert!(s.push(job(0, 2, 2.0)).is_empty());
        assert!(s.push(job(1, 1, 2.0)).is_empty());
        let dropped = s.push(job(0, 3, 2.0));
        assert_eq!(ids(&dropped), vec![(0, 1)]);
        assert!((s.backlog_seconds() - 6.0).abs() < 1e-9);
    }

    #[test]
    fn close_lets_workers_drain_then_stop() {
        let s = std::sync::Arc::new(Scheduler::new(1, ONE_AT_A_TIME));
        let s2 = std::sync::Arc::clone(&s);
        let worker = std::thread::spawn(move || {
            let mut n = 0;
            while let Some(b) = s2.pop_batch() {
                n += b.jobs.len();
            }
            n
        });
        s.push(job(0, 1, 1.0));
        s.push(job(0, 2, 1.0));
        s.close();
        assert_eq!(worker.join().unwrap(), 2);
    }

    #[test]
    fn heard_again_only_when_no_window_waits_and_workers_wait_for_the_judge() {
        let s = std::sync::Arc::new(Scheduler::new(2, ONE_AT_A_TIME));
        s.push(job(0, 1, 1.0));
        s.push(job(1, 1, 1.0));
        let first = s.pop_batch().unwrap();
        assert!(!first.again);
        // The judge sends utterance (0, 1) back while (1, 1) still waits.
        s.push_again(first.jobs[0].clone());
        drop(first);
        let b = s.pop_batch().unwrap();
        assert_eq!((ids(&b.jobs), b.again), (vec![(1, 1)], false));
        s.close();
        // Closed and empty but for the again lane: it is still served.
        let again = s.pop_batch().unwrap();
        assert_eq!((ids(&again.jobs), again.again), (vec![(0, 1)], true));
        // A worker waits while a batch is in flight (its judging may send one back) ...
        let s2 = std::sync::Arc::clone(&s);
        let worker = std::thread::spawn(move || s2.pop_batch().map(|b| ids(&b.jobs)));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!worker.is_finished());
        s.push_again(b.jobs[0].clone());
        drop(b);
        assert_eq!(worker.join().unwrap(), Some(vec![(1, 1)]));
        // ... and stops once nothing is in flight.
        drop(again);
        assert!(s.pop_batch().is_none());
    }

    #[test]
    fn abandon_hands_back_what_waits_and_stops_the_workers() {
        let s = Scheduler::new(2, ONE_AT_A_TIME);
        s.push(job(0, 1, 1.0));
        s.push(job(1, 1, 2.0));
        s.push(job(0, 2, 3.0));
        s.push_again(job(1, 0, 1.0));
        let in_flight = s.pop_batch().unwrap();
        let left = s.abandon();
        assert_eq!(ids(&left), vec![(0, 2), (1, 1)]);
        // Not even what waits to be heard again, nor after the batch in flight is done.
        assert!(s.pop_batch().is_none());
        drop(in_flight);
        assert!(s.pop_batch().is_none());
        assert_eq!(s.backlog_seconds(), 0.0);
    }
}
