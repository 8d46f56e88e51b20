//! The time the rate limiter counts windows by and download links expire by: the system's, or
//! one a test sets and moves, so a test of a window's end need not wait for the wall clock's.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + fmt::Debug {
    /// Seconds since the Unix epoch.
    fn epoch_seconds(&self) -> u64;
}

/// The operating system's clock.
#[derive(Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn epoch_seconds(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that stands still until it is moved.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn at(epoch_seconds: u64) -> ManualClock {
        ManualClock(AtomicU64::new(epoch_seconds))
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn epoch_seconds(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
