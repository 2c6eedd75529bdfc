//! State a sink shares with its own delivery thread: a mutex, and a condition variable signalled
//! whenever the state changes (new work, progress, stop).

use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Default)]
pub(crate) struct Watched<T> {
    state: Mutex<T>,
    /// Signalled both ways: new work or stop for the thread, progress for whoever waits on it.
    pub(crate) changed: Condvar,
}

impl<T> Watched<T> {
    pub(crate) fn new(state: T) -> Watched<T> {
        Watched {
            state: Mutex::new(state),
            changed: Condvar::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        // A panic elsewhere while holding the lock leaves plain data: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
