//! Debouncing: one alert for a phrase repeated at one window within a short interval.
//!
//! A clerk who says 不知道 three times in one sentence, or in three sentences in a row, has done one
//! thing a supervisor needs to hear about, not three. Repeats are measured from the last *allowed*
//! alert, so a phrase said every few seconds for a minute still alerts once per interval.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The fewest keys kept before pruning is considered.
const MIN_PRUNE_AT: usize = 64;

/// Suppresses the same phrase at the same window within an interval of the last allowed one.
///
/// Memory is bounded by the (window, phrase) pairs allowed within the last interval: older keys
/// are pruned as the map grows.
///
/// # Example
/// ```
/// use std::time::{Duration, Instant};
/// use courtesy::sink::Debouncer;
/// let mut d = Debouncer::new(Duration::from_secs(30));
/// let t = Instant::now();
/// assert!(d.allow("w07", "不知道", t));
/// assert!(!d.allow("w07", "不知道", t + Duration::from_secs(5)));
/// assert!(d.allow("w08", "不知道", t + Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone)]
pub struct Debouncer {
    interval: Duration,
    /// window → phrase → when it was last allowed. Nested so lookups borrow `&str`.
    last: HashMap<String, HashMap<String, Instant>>,
    keys: usize,
    prune_at: usize,
}

impl Debouncer {
    /// A debouncer that allows a (window, phrase) pair at most once per `interval`.
    /// A zero interval allows everything.
    pub fn new(interval: Duration) -> Debouncer {
        Debouncer {
            interval,
            last: HashMap::new(),
            keys: 0,
            prune_at: MIN_PRUNE_AT,
        }
    }

    /// The interval this debouncer was built with.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Whether an alert for `phrase` at `window` at time `at` should go out. Allowing it starts a
    /// new interval; a suppressed one does not (so a steady repeat still alerts once per interval).
    /// An `at` earlier than the last allowed one (out of order) counts as within the interval.
    pub fn allow(&mut self, window: &str, phrase: &str, at: Instant) -> bool {
        if let Some(last) = self.last.get(window).and_then(|m| m.get(phrase)) {
            if at.saturating_duration_since(*last) < self.interval {
                return false;
            }
        }
        if self.keys >= self.prune_at {
            self.prune(at);
        }
        // `entry` wants an owned key: allocate only for a window not seen before.
        if !self.last.contains_key(window) {
            self.last.insert(window.to_string(), HashMap::new());
        }
        let phrases = self.last.get_mut(window).expect("inserted above");
        if phrases.insert(phrase.to_string(), at).is_none() {
            self.keys += 1;
        }
        true
    }

    /// How many (window, phrase) pairs are remembered (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.keys
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Forgets every pair whose interval has run out by `now`; they could not suppress anything.
    pub fn prune(&mut self, now: Instant) {
        let interval = self.interval;
        self.last.retain(|_, phrases| {
            phrases.retain(|_, last| now.saturating_duration_since(*last) < interval);
            !phrases.is_empty()
        });
        self.keys = self.last.values().map(HashMap::len).sum();
        // Doubling keeps pruning amortized O(1) per call however many pairs are live.
        self.prune_at = (self.keys * 2).max(MIN_PRUNE_AT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn repeats_within_the_interval_are_one_alert() {
        let mut d = Debouncer::new(secs(30));
        let t = Instant::now();
        assert!(d.allow("w07", "不知道", t));
        assert!(!d.allow("w07", "不知道", t));
        assert!(!d.allow("w07", "不知道", t + Duration::from_millis(300)));
        assert!(!d.allow("w07", "不知道", t + secs(29)));
        assert!(d.allow("w07", "不知道", t + secs(30)));
    }

    #[test]
    fn the_interval_runs_from_the_last_allowed_alert() {
        let mut d = Debouncer::new(secs(10));
        let t = Instant::now();
        assert!(d.allow("w07", "不知道", t));
        // Suppressed repeats do not extend the interval.
        for s in [3, 6, 9] {
            assert!(!d.allow("w07", "不知道", t + secs(s)));
        }
        assert!(d.allow("w07", "不知道", t + secs(12)));
        assert!(!d.allow("w07", "不知道", t + secs(21)));
        assert!(d.allow("w07", "不知道", t + secs(22)));
    }

    #[test]
    fn other_windows_and_phrases_never_suppress() {
        let mut d = Debouncer::new(secs(30));
        let t = Instant::now();
        assert!(d.allow("w07", "不知道", t));
        assert!(d.allow("w08", "不知道", t));
        assert!(d.allow("w07", "有意见找领导去", t));
        assert!(d.allow("w08", "有意见找领导去", t + secs(1)));
        assert!(!d.allow("w08", "有意见找领导去", t + secs(2)));
        assert_eq!(d.len(), 4);
    }

    #[test]
    fn out_of_order_times_are_suppressed_not_panicking() {
        let mut d = Debouncer::new(secs(30));
        let t = Instant::now() + secs(100);
        assert!(d.allow("w07", "不知道", t));
        assert!(!d.allow("w07", "不知道", t - secs(50)));
    }

    #[test]
    fn zero_interval_allows_everything() {
        let mut d = Debouncer::new(Duration::ZERO);
        let t = Instant::now();
        assert!(d.allow("w07", "不知道", t));
        assert!(d.allow("w07", "不知道", t));
    }

    #[test]
    fn memory_stays_bounded() {
        let mut d = Debouncer::new(secs(1));
        let t = Instant::now();
        // A distinct phrase every 100 ms for 10,000 s: only ~10 can be live at once.
        for i in 0..100_000u64 {
            let at = t + Duration::from_millis(100 * i);
            assert!(d.allow("w07", &format!("p{i}"), at));
            assert!(d.len() <= 2 * MIN_PRUNE_AT, "{} keys at {i}", d.len());
        }
        // Pruning never forgets a pair that could still suppress.
        let last = t + Duration::from_millis(100 * 99_999);
        assert!(!d.allow("w07", "p99999", last + Duration::from_millis(500)));
        d.prune(last + secs(2));
        assert!(d.is_empty());
    }
}
