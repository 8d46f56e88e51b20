//! Rate limiting on `/api` (`spec/cirqll.md` §9): a fixed window of one minute per token owner,
//! Laravel's throttle semantics, with GitHub's header set on every response.
//!
//! Two stores count the same windows (aligned to the epoch minute, so both agree exactly on
//! when a window resets): in process by default, or in Redis so that several instances share
//! one budget. A call to Redis gets a tenth of a second (a loopback answer takes well under one
//! millisecond); when Redis does not answer,
//! the instance counts in process until Redis is back (checked again every few seconds), logs
//! that once a minute, and `/ready` says so: an outage of the counter store must neither
//! become an outage of the API nor lift the limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::clock::Clock;
use crate::error::Error;

/// The length of a window, in seconds.
pub const WINDOW: u64 = 60;

/// How long one call to Redis may take before the request is counted in process instead.
const REDIS_BUDGET: Duration = Duration::from_millis(100);

/// After Redis failed to answer, how many seconds the instance counts in process before it
/// asks Redis again; and how often it says so in the log.
const REDIS_RETRY: u64 = 5;
const REDIS_LOG_EVERY: u64 = 60;

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
            crate::telemetry::rejected("rate_limit");
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
        /// Where requests are counted while Redis does not answer.
        fallback: Mutex<Windows>,
        /// Epoch second since which Redis has not answered (0: it answers), the second before
        /// which it is not asked again, and the last second that was logged.
        away_since: AtomicU64,
        retry_at: AtomicU64,
        logged_at: AtomicU64,
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
        let bounded = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_BUDGET * 4))
            .set_response_timeout(Some(REDIS_BUDGET))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(client, bounded)
            .await
            .map_err(|e| {
                let url = crate::config::redacted(url);
                Error::Config(format!("cannot reach Redis at {url}: {e}"))
            })?;
        let prefix = prefix.to_string();
        Ok(Limiter {
            store: Store::Redis {
                limit,
                connection,
                prefix,
                fallback: Mutex::default(),
                away_since: AtomicU64::new(0),
                retry_at: AtomicU64::new(0),
                logged_at: AtomicU64::new(0),
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

    /// Whether one more request for `key` would stay within `limit`, counting nothing: for
    /// budgets of failures, which are counted only once a request has failed.
    pub async fn peek(&self, key: &str, limit: u64) -> Decision {
        let now = self.clock.epoch_seconds();
        let window = now / WINDOW;
        let used = match &self.store {
            Store::Memory { windows, .. } => peek_in_memory(windows, key, window),
            Store::Redis {
                connection,
                prefix,
                fallback,
                retry_at,
                ..
            } => {
                let stored = match retry_at.load(Ordering::Relaxed) > now {
                    true => None,
                    false => redis_get(connection, &format!("{prefix}:rl:{key}:{window}")).await,
                };
                stored.unwrap_or_else(|| peek_in_memory(fallback, key, window))
            }
        };
        Decision {
            limit,
            used: used.saturating_add(1),
            reset: (window + 1) * WINDOW,
            now,
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
                fallback,
                away_since,
                retry_at,
                logged_at,
            } => {
                let used = match retry_at.load(Ordering::Relaxed) > now {
                    true => None,
                    false => redis_hit(connection, &format!("{prefix}:rl:{key}:{window}")).await,
                };
                match used {
                    Some(used) => {
                        if away_since.swap(0, Ordering::Relaxed) != 0 {
                            tracing::info!("rate limit store answers again; counting in Redis");
                        }
                        (*limit, used)
                    }
                    None => {
                        let _ = away_since.compare_exchange(
                            0,
                            now,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                        retry_at.store(now + REDIS_RETRY, Ordering::Relaxed);
                        if now >= logged_at.load(Ordering::Relaxed) + REDIS_LOG_EVERY {
                            logged_at.store(now, Ordering::Relaxed);
                            tracing::warn!(
                                "rate limit store unreachable; counting in process until it answers"
                            );
                        }
                        (*limit, count_in_memory(fallback, key, window))
                    }
                }
            }
        };
        Decision {
            limit,
            used,
            reset: (window + 1) * WINDOW,
            now,
        }
    }

    /// `None` when the counts are where they are configured to be; otherwise why not (for
    /// `/ready`'s detail).
    pub fn degraded(&self) -> Option<String> {
        match &self.store {
            Store::Redis { away_since, .. } => match away_since.load(Ordering::Relaxed) {
                0 => None,
                since => Some(format!(
                    "Redis has not answered since epoch second {since}; counting in process"
                )),
            },
            Store::Memory { .. } => None,
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

/// `INCR`s `key` in Redis within [`REDIS_BUDGET`]; `None` when Redis did not answer in time.
async fn redis_hit(connection: &ConnectionManager, key: &str) -> Option<u64> {
    let mut connection = connection.clone();
    let script = redis::Script::new(HIT_SCRIPT);
    let mut invocation = script.key(key);
    invocation.arg(WINDOW * 2);
    let call = invocation.invoke_async::<u64>(&mut connection);
    match tokio::time::timeout(REDIS_BUDGET, call).await {
        Ok(Ok(used)) => Some(used),
        _ => None,
    }
}

/// The count of `key` in Redis (0 when it has none), or `None` when Redis does not answer in
/// time.
async fn redis_get(connection: &ConnectionManager, key: &str) -> Option<u64> {
    let mut connection = connection.clone();
    let mut command = redis::cmd("GET");
    command.arg(key);
    let call = command.query_async::<Option<u64>>(&mut connection);
    match tokio::time::timeout(REDIS_BUDGET, call).await {
        Ok(Ok(used)) => Some(used.unwrap_or(0)),
        _ => None,
    }
}

fn peek_in_memory(windows: &Mutex<Windows>, key: &str, window: u64) -> u64 {
    let Ok(windows) = windows.lock() else {
        return 0;
    };
    match windows.counts.get(key) {
        Some((w, used)) if *w == window => *used,
        _ => 0,
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
        .map(|ConnectInfo(address)| network(address.ip()));
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

/// The address a client is counted under: itself for IPv4, its /64 for IPv6, since one
/// machine commonly holds a whole /64 (and could otherwise count under a new address at will).
pub fn network(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn ipv6_clients_count_per_64() {
        let ip = |text: &str| text.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(
            network(ip("2001:db8:1:2::1")),
            network(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            network(ip("2001:db8:1:2::1")),
            network(ip("2001:db8:1:3::1"))
        );
        assert_eq!(network(ip("192.0.2.7")), "192.0.2.7");
    }

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
