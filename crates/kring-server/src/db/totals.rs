//! Filtered totals remembered under the company's data version (migration 19): a list that
//! counted its matches at version `v` may answer the same count again while the company is
//! still at `v`, since every write to a table the API reads moves the version in its own
//! transaction. Exact on every instance, whatever wrote; bounded in entries and key size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// At most this many totals are remembered; a new one past it pushes out an arbitrary one.
const ENTRIES: usize = 2048;

/// A count's statement longer than this is never remembered (it bounds the memory to about
/// `ENTRIES × KEY_BYTES`).
const KEY_BYTES: usize = 2048;

/// A count's statement, with its values inlined: the company is one of them.
pub type TotalKey = String;

#[derive(Clone, Debug, Default)]
pub struct Totals(Arc<Mutex<HashMap<TotalKey, Remembered>>>);

/// A total, the data version it was counted at, and the company's records of the resource
/// then (how densely the matches lie); once asked, whether the page's probed statement walks
/// an index in the page's order (or would sort every match).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remembered {
    pub version: i64,
    pub total: i64,
    pub records: i64,
    pub walks_in_order: Option<bool>,
}

impl Totals {
    pub fn get(&self, key: &str) -> Option<Remembered> {
        self.0.lock().ok()?.get(key).copied()
    }

    /// Notes what the database said of the probed page of `key`'s total.
    pub fn note_walk(&self, key: &str, walks_in_order: bool) {
        if let Ok(mut totals) = self.0.lock()
            && let Some(entry) = totals.get_mut(key)
        {
            entry.walks_in_order = Some(walks_in_order);
        }
    }

    pub fn remember(&self, key: TotalKey, remembered: Remembered) {
        if key.len() > KEY_BYTES {
            return;
        }
        let Ok(mut totals) = self.0.lock() else {
            return;
        };
        if totals.len() >= ENTRIES && !totals.contains_key(&key) {
            let evicted = totals.keys().next().cloned();
            if let Some(evicted) = evicted {
                totals.remove(&evicted);
            }
        }
        totals.insert(key, remembered);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_entries_and_skips_long_keys() {
        let totals = Totals::default();
        let at = |total| Remembered {
            version: 1,
            total,
            records: total,
            walks_in_order: None,
        };
        for n in 0..(ENTRIES + 10) {
            totals.remember(format!("count {n}"), at(n as i64));
        }
        assert_eq!(totals.0.lock().map(|t| t.len()).ok(), Some(ENTRIES));
        let last = format!("count {}", ENTRIES + 9);
        assert_eq!(totals.get(&last), Some(at((ENTRIES + 9) as i64)));
        totals.remember("x".repeat(KEY_BYTES + 1), at(7));
        assert_eq!(totals.get(&"x".repeat(KEY_BYTES + 1)), None);
    }
}
