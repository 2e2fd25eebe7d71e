//! Per-key submission rate limit: at most `limit` submissions in any window of `window`
//! (upstream: 20 per 10 s). A sliding log of the accepted submissions' times, so the limit is
//! exact over every window, not just aligned ones; memory is bounded by `limit` per key.
//! Over the limit the request is rejected (429), never queued.
//!
//! In memory, per process: several `serve` processes behind a balancer each enforce it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limiter.
#[derive(Debug, Default)]
pub struct RateLimiter {
    logs: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// A limiter with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a submission by `key` at `now` if it fits; false when over the limit.
    pub fn try_acquire(&self, key: &str, limit: u32, window: Duration, now: Instant) -> bool {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let log = logs.entry(key.to_string()).or_default();
        while let Some(&t) = log.front() {
            if now.duration_since(t) >= window {
                log.pop_front();
            } else {
                break;
            }
        }
        if log.len() >= limit as usize {
            return false;
        }
        log.push_back(now);
        true
    }

    /// Forget keys idle for longer than `window` (keeps memory bounded by active keys).
    pub fn prune(&self, window: Duration, now: Instant) {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.retain(|_, log| log.back().is_some_and(|&t| now.duration_since(t) < window));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_over_a_sliding_window() {
        let r = RateLimiter::new();
        let w = Duration::from_secs(10);
        let t0 = Instant::now();
        for i in 0..20 {
            assert!(r.try_acquire("k", 20, w, t0 + Duration::from_millis(i * 100)));
        }
        assert!(!r.try_acquire("k", 20, w, t0 + Duration::from_secs(5)));
        assert!(
            r.try_acquire("other", 20, w, t0 + Duration::from_secs(5)),
            "per key"
        );
        // The first submission leaves the window at t0 + 10 s: one slot frees.
        assert!(r.try_acquire("k", 20, w, t0 + Duration::from_secs(10)));
        assert!(!r.try_acquire("k", 20, w, t0 + Duration::from_millis(10_050)));
        assert!(r.try_acquire("k", 20, w, t0 + Duration::from_millis(10_100)));
        r.prune(w, t0 + Duration::from_secs(100));
        assert!(r.logs.lock().unwrap().is_empty());
    }
}
