//! What bounds an expensive read: a deadline shared by a request's statements, a flag the
//! engine's progress callback reads to stop a statement whose request is gone, and a cap on
//! how many expensive reads one owner may have in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::Error;

/// When a request's expensive reads must be done; every statement of the request gets what
/// is left of it.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn after(budget: Duration) -> Deadline {
        Deadline(Instant::now() + budget)
    }

    pub fn instant(self) -> Instant {
        self.0
    }

    pub fn passed(self) -> bool {
        Instant::now() >= self.0
    }
}

/// The life of one bounded statement, as its connection's progress callback sees it.
#[derive(Debug)]
pub struct Watch {
    deadline: Deadline,
    state: AtomicU8,
}

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const ABANDONED: u8 = 2;

impl Watch {
    pub fn new(deadline: Deadline) -> Arc<Watch> {
        Arc::new(Watch {
            deadline,
            state: AtomicU8::new(RUNNING),
        })
    }

    /// Whether the statement may go on. A finished watch never stops anything: its callback
    /// stays installed on the connection until the next bounded statement replaces it.
    pub fn keep_going(&self) -> bool {
        match self.state.load(Ordering::Relaxed) {
            FINISHED => true,
            ABANDONED => false,
            _ => !self.deadline.passed(),
        }
    }

    pub fn finish(&self) {
        self.state.store(FINISHED, Ordering::Relaxed);
    }

    /// Called when the request is dropped mid-statement; true if the statement was still
    /// running (its connection must then not be reused).
    pub fn abandon(&self) -> bool {
        self.state
            .compare_exchange(RUNNING, ABANDONED, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// Caps the expensive reads one owner (a company) has in flight, below the pool's size, so
/// that one tenant's heavy filters cannot hold every connection.
#[derive(Debug)]
pub struct Admission {
    per_owner: usize,
    owners: Mutex<HashMap<i64, Arc<Semaphore>>>,
}

impl Admission {
    pub fn new(per_owner: usize) -> Arc<Admission> {
        Arc::new(Admission {
            per_owner: per_owner.max(1),
            owners: Mutex::default(),
        })
    }

    pub fn places(&self) -> usize {
        self.per_owner
    }

    /// Waits for one of `owner`'s places until `deadline`; a 503 after it.
    pub async fn enter(self: &Arc<Self>, owner: i64, deadline: Deadline) -> Result<Place, Error> {
        let semaphore = {
            let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
            owners
                .entry(owner)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_owner)))
                .clone()
        };
        let permit = tokio::time::timeout_at(deadline.instant(), semaphore.acquire_owned())
            .await
            .map_err(|_| Error::QueryTimeout)?
            .map_err(|_| Error::Internal("admission semaphore closed".into()))?;
        Ok(Place {
            permit: Some(permit),
            owner,
            admission: self.clone(),
        })
    }
}

/// One expensive read in flight; leaving frees the place (and forgets an owner with none).
#[derive(Debug)]
pub struct Place {
    permit: Option<OwnedSemaphorePermit>,
    owner: i64,
    admission: Arc<Admission>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.permit.take();
        let mut owners = self
            .admission
            .owners
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let idle = owners.get(&self.owner).is_some_and(|s| {
            Arc::strong_count(s) == 1 && s.available_permits() == self.admission.per_owner
        });
        if idle {
            owners.remove(&self.owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_owner_waits_for_its_own_places_only() {
        let admission = Admission::new(2);
        let soon = || Deadline::after(Duration::from_millis(50));
        let first = admission.enter(1, soon()).await.expect("first");
        let _second = admission.enter(1, soon()).await.expect("second");
        assert!(matches!(
            admission.enter(1, soon()).await,
            Err(Error::QueryTimeout)
        ));
        // Another owner is not held up by the first one's reads.
        admission.enter(2, soon()).await.expect("other owner");
        drop(first);
        admission.enter(1, soon()).await.expect("a freed place");
    }

    #[tokio::test]
    async fn owners_without_reads_are_forgotten() {
        let admission = Admission::new(1);
        let place = admission
            .enter(7, Deadline::after(Duration::from_secs(1)))
            .await
            .expect("place");
        drop(place);
        assert!(admission.owners.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_finished_watch_never_stops_a_later_statement() {
        let watch = Watch::new(Deadline::after(Duration::ZERO));
        assert!(!watch.keep_going(), "past its deadline");
        watch.finish();
        assert!(watch.keep_going());
        assert!(!watch.abandon(), "nothing was running");
        let dropped = Watch::new(Deadline::after(Duration::from_secs(60)));
        assert!(dropped.keep_going());
        assert!(dropped.abandon());
        assert!(!dropped.keep_going());
    }
}
