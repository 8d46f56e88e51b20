//! Principals of tokens seen a moment ago, so that a client's next request costs no statement
//! to authenticate.
//!
//! An entry holds for at most `--principal-cache` and never past its token's expiry, and only
//! while the pool's access epoch is the one it was read under: every committed change to what
//! tokens act as (a revocation, a user's role, a role's permissions, the company's language)
//! moves the epoch, here at once and on other instances through their PostgreSQL listener
//! (`db::ACCESS_CHANNEL`). While a listener is down nothing is remembered.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::principal::Principal;

/// The most tokens remembered; past it the cache starts over (a bound, not a policy).
const CAPACITY: usize = 10_000;

pub struct Principals {
    lifetime: Duration,
    /// Read by every request, written on a miss.
    entries: RwLock<HashMap<String, Remembered>>,
}

struct Remembered {
    principal: Principal,
    epoch: u64,
    until: Instant,
}

impl Principals {
    pub fn new(lifetime: Duration) -> Principals {
        Principals {
            lifetime,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The principal of `token_hash` if it was read under `epoch` and is still fresh.
    pub fn get(&self, token_hash: &str, epoch: u64) -> Option<Principal> {
        let entries = self.entries.read().ok()?;
        let remembered = entries.get(token_hash)?;
        (remembered.epoch == epoch && Instant::now() < remembered.until)
            .then(|| remembered.principal.clone())
    }

    /// Remembers a principal read under `epoch` (taken before the read, so a change that
    /// commits during it leaves the entry stale at once), for at most `valid_for` (the time to
    /// the token's expiry).
    pub fn put(&self, token_hash: String, principal: Principal, epoch: u64, valid_for: Duration) {
        let lifetime = self.lifetime.min(valid_for);
        if lifetime.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        let until = Instant::now() + lifetime;
        entries.insert(
            token_hash,
            Remembered {
                principal,
                epoch,
                until,
            },
        );
    }
}
