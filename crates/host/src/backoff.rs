//! Retrying with backoff: the wait doubles after each failure, up to a maximum.

use std::time::{Duration, Instant};

/// First and longest wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait before the first attempt.
    pub first: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(250),
            max: Duration::from_secs(4),
        }
    }
}

/// Attempts in progress.
#[derive(Debug, Clone)]
pub(crate) struct Retry {
    pub(crate) since: Instant,
    pub(crate) next_try: Instant,
    wait: Duration,
    pub(crate) attempts: u32,
    max: Duration,
}

impl Retry {
    pub(crate) fn new(backoff: Backoff) -> Self {
        let now = Instant::now();
        Retry {
            since: now,
            next_try: now + backoff.first,
            wait: backoff.first,
            attempts: 0,
            max: backoff.max,
        }
    }

    pub(crate) fn due(&self) -> bool {
        Instant::now() >= self.next_try
    }

    pub(crate) fn failed(&mut self) {
        self.attempts += 1;
        self.wait = (self.wait * 2).min(self.max);
        self.next_try = Instant::now() + self.wait;
    }
}
