//! Rate limiting on `/api` (`spec/cirqll.md` §9): a fixed window of one minute per token owner,
//! Laravel's throttle semantics, with GitHub's header set on every response.
//!
//! Two stores count the same windows (aligned to the epoch minute, so both agree exactly on
//! when a window resets): in process by default, or in Redis so that several instances share
//! one budget. If Redis cannot be reached the request is let through and a warning logged:
//! an outage of the counter store must not become an outage of the API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use redis::aio::ConnectionManager;

use crate::clock::Clock;
use crate::error::Error;

/// The length of a window, in seconds.
pub const WINDOW: u64 = 60;

/// The most keys the in-process store keeps before it forgets finished windows.
const MEMORY_KEYS: usize = 100_000;

/// What one request used of its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub limit: u64,
    /// Requests counted in this window, this one included.
    pub used: u64,
    /// Epoch second at which the window ends.
    pub reset: u64,
    pub now: u64,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.used <= self.limit
    }

    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    pub fn retry_after(&self) -> u64 {
        self.reset.saturating_sub(self.now).max(1)
    }

    /// The 429 for a request over its budget.
    pub fn check(&self) -> Result<(), Error> {
        if self.allowed() {
            Ok(())
        } else {
            Err(Error::TooManyRequests {
                retry_after: self.retry_after(),
            })
        }
    }
}

/// The in-process counts: per key, its window and count; and the last window swept.
#[derive(Default)]
pub struct Windows {
    counts: HashMap<String, (u64, u64)>,
    swept: u64,
}

/// Counts requests per key and window, the windows read off `clock`.
pub struct Limiter {
    store: Store,
    clock: Arc<dyn Clock>,
}

/// Where the counts are kept.
enum Store {
    Memory {
        limit: u64,
        windows: Mutex<Windows>,
    },
    Redis {
        limit: u64,
        connection: ConnectionManager,
        prefix: String,
    },
}

/// `INCR` the window's counter and let it expire after the window; one round trip.
const HIT_SCRIPT: &str = r"
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return used
";

impl Limiter {
    pub fn memory(limit: u64, clock: Arc<dyn Clock>) -> Limiter {
        let windows = Mutex::new(Windows::default());
        Limiter {
            store: Store::Memory { limit, windows },
            clock,
        }
    }

    pub async fn redis(
        url: &str,
        prefix: &str,
        limit: u64,
        clock: Arc<dyn Clock>,
    ) -> Result<Limiter, Error> {
        let client = redis::Client::open(url).map_err(|e| Error::Config(format!("redis: {e}")))?;
        let connection = ConnectionManager::new(client)
            .await
            .map_err(|e| Error::Config(format!("cannot reach Redis at {url}: {e}")))?;
        let prefix = prefix.to_string();
        Ok(Limiter {
            store: Store::Redis {
                limit,
                connection,
                prefix,
            },
            clock,
        })
    }

    /// Counts one request for `key` now, against the configured limit.
    pub async fn hit(&self, key: &str) -> Decision {
        self.hit_at(key, self.clock.epoch_seconds()).await
    }

    /// Counts one request for `key` now against its own `limit` (login attempts, token
    /// requests), in the same store.
    pub async fn hit_with(&self, key: &str, limit: u64) -> Decision {
        Decision {
            limit,
            ..self.hit_at(key, self.clock.epoch_seconds()).await
        }
    }

    /// Counts one request for `key` against `limit`; over it, the 429.
    pub async fn enforce(&self, key: &str, limit: u64) -> Result<(), Error> {
        self.hit_with(key, limit).await.check()
    }

    /// Counts one request for `key` at epoch second `now`.
    async fn hit_at(&self, key: &str, now: u64) -> Decision {
        let window = now / WINDOW;
        let (limit, used) = match &self.store {
            Store::Memory { limit, windows } => (*limit, count_in_memory(windows, key, window)),
            Store::Redis {
                limit,
                connection,
                prefix,
            } => {
                let key = format!("{prefix}:rl:{key}:{window}");
                let mut connection = connection.clone();
                let used = redis::Script::new(HIT_SCRIPT)
                    .key(&key)
                    .arg(WINDOW * 2)
                    .invoke_async::<u64>(&mut connection)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "rate limit store unreachable; request let through");
                        0
                    });
                (*limit, used)
            }
        };
        Decision {
            limit,
            used,
            reset: (window + 1) * WINDOW,
            now,
        }
    }

    /// Keys the in-process store holds (0 for Redis).
    pub fn keys(&self) -> usize {
        match &self.store {
            Store::Memory { windows, .. } => windows.lock().map(|w| w.counts.len()).unwrap_or(0),
            Store::Redis { .. } => 0,
        }
    }
}

fn count_in_memory(windows: &Mutex<Windows>, key: &str, window: u64) -> u64 {
    let Ok(mut windows) = windows.lock() else {
        return 0;
    };
    let Windows { counts, swept } = &mut *windows;
    if counts.len() >= MEMORY_KEYS && !counts.contains_key(key) {
        // Finished windows count for nothing; forgetting them bounds the memory. At most one
        // sweep per window, so a flood of new keys cannot make every request scan the map.
        if *swept != window {
            counts.retain(|_, (w, _)| *w == window);
            *swept = window;
        }
        if counts.len() >= MEMORY_KEYS {
            // Full of this window's keys: a newcomer is not remembered (it is let through).
            return 1;
        }
    }
    let entry = counts.entry(key.to_string()).or_insert((window, 0));
    if entry.0 != window {
        *entry = (window, 0);
    }
    entry.1 += 1;
    entry.1
}

/// Where authentication leaves the request's decision for the middleware to report, and the
/// request's place among its owner's requests in flight, held until the response is made.
#[derive(Clone, Default)]
pub struct Slot(Arc<OnceLock<Decision>>, Arc<Mutex<Option<InFlight>>>);

impl Slot {
    pub fn set(&self, decision: Decision) {
        let _ = self.0.set(decision);
    }

    pub fn hold(&self, place: InFlight) {
        if let Ok(mut held) = self.1.lock() {
            *held = Some(place);
        }
    }
}

/// How many requests of one owner may be in progress at once on this instance (GitHub's
/// "secondary" limit): a client that opens many slow requests cannot take every worker.
#[derive(Default)]
pub struct Concurrency {
    limit: usize,
    counts: Arc<Mutex<HashMap<i64, usize>>>,
}

/// One request in flight; leaving it frees the place.
pub struct InFlight {
    owner: i64,
    counts: Arc<Mutex<HashMap<i64, usize>>>,
}

impl Concurrency {
    pub fn new(limit: usize) -> Concurrency {
        Concurrency {
            limit,
            counts: Arc::default(),
        }
    }

    /// A place for one more request of `owner`, unless it already has `limit` in flight.
    pub fn enter(&self, owner: i64) -> Option<InFlight> {
        let mut counts = self.counts.lock().ok()?;
        let count = counts.entry(owner).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(InFlight {
            owner,
            counts: self.counts.clone(),
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(count) = counts.get_mut(&self.owner)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.owner);
            }
        }
    }
}

/// Counts the request against its owner's budget (authentication fills the [`Slot`]) or,
/// without a valid token, against the client's IP address, and says so in the headers.
pub async fn middleware(
    axum::extract::State(limiter): axum::extract::State<Arc<Limiter>>,
    mut request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let slot = Slot::default();
    request.extensions_mut().insert(slot.clone());
    let client = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_string());
    let mut response = next.run(request).await;
    let decision = match slot.0.get() {
        Some(decision) => *decision,
        None => {
            let key = format!("ip:{}", client.unwrap_or_default());
            let decision = limiter.hit(&key).await;
            if let Err(refusal) = decision.check() {
                response = refusal.into_response();
            }
            decision
        }
    };
    set_headers(&mut response, &decision);
    response
}

fn set_headers(response: &mut Response, decision: &Decision) {
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: u64| {
        headers.insert(name, HeaderValue::from(value));
    };
    set("x-ratelimit-limit", decision.limit);
    set("x-ratelimit-remaining", decision.remaining());
    set("x-ratelimit-used", decision.used.min(decision.limit));
    set("x-ratelimit-reset", decision.reset);
    if !decision.allowed() {
        set("retry-after", decision.retry_after());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn a_window_counts_and_resets_on_the_minute() {
        let start = 1_000 * WINDOW;
        let clock = Arc::new(ManualClock::at(start));
        let limiter = Limiter::memory(3, clock.clone());
        let mut used = Vec::new();
        for _ in 0..3 {
            used.push(limiter.hit("user:1").await.used);
            clock.advance(1);
        }
        assert_eq!(used, [1, 2, 3]);
        clock.advance(56);
        let fourth = limiter.hit("user:1").await;
        assert_eq!(fourth.used, 4);
        assert!(!fourth.allowed());
        assert_eq!(fourth.retry_after(), 1);
        assert_eq!(fourth.reset, start + WINDOW);
        clock.advance(1);
        let next = limiter.hit("user:1").await;
        assert_eq!((next.used, next.remaining()), (1, 2));
        assert_eq!(limiter.hit("user:2").await.used, 1, "keys are independent");
    }

    /// T61: the in-process store stays bounded however many keys pass through it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn t61_memory_is_bounded() {
        let clock = Arc::new(ManualClock::at(0));
        let limiter = Limiter::memory(10, clock.clone());
        for i in 0..(MEMORY_KEYS as u64) {
            limiter.hit(&format!("ip:{i}")).await;
        }
        assert_eq!(limiter.keys(), MEMORY_KEYS);
        for i in 0..10u64 {
            limiter.hit(&format!("ip:late{i}")).await;
        }
        assert_eq!(limiter.keys(), MEMORY_KEYS, "a full window does not grow");
        clock.advance(WINDOW);
        for i in 0..1000u64 {
            limiter.hit(&format!("ip:new{i}")).await;
        }
        assert_eq!(limiter.keys(), 1000, "finished windows are forgotten");
    }
}
