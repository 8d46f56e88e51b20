//! What Kring counts, in one place: every metric's name, labels and kind, recorded through the
//! `metrics` facade into a Prometheus recorder and rendered by `/metrics`. Labels are bounded
//! by construction: route templates (never paths or ids), methods from a fixed list, statuses,
//! and a few fixed words.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: from a cached read to the query budget.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder, once (several servers in one test process share it).
pub fn install() {
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .ok()?
            .install_recorder()
            .ok()?;
        gauge!("kring_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        Some(handle)
    });
}

/// The Prometheus text of every metric; `None` when no recorder could be installed.
pub fn render() -> Option<String> {
    let handle = HANDLE.get()?.as_ref()?;
    handle.run_upkeep();
    Some(handle.render())
}

/// A method as a label: the standard ones by name, anything else as `other`.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN
        .iter()
        .find(|known| **known == method)
        .copied()
        .unwrap_or("other")
}

/// One answered request: by route template (`unmatched` for none), method and status.
pub fn request(route: &str, method: &str, status: u16, took: Duration) {
    let method = method_label(method);
    counter!(
        "kring_http_requests_total",
        "route" => route.to_string(), "method" => method, "status" => status.to_string()
    )
    .increment(1);
    histogram!(
        "kring_http_request_duration_seconds",
        "route" => route.to_string(), "method" => method
    )
    .record(took.as_secs_f64());
}

/// Why a request was refused before its handler ran: `rate_limit` or `concurrency`.
pub fn rejected(reason: &'static str) {
    counter!("kring_rejections_total", "reason" => reason).increment(1);
}

/// A write answered from its kept idempotent answer.
/// A filtered list's total: `counted`, or `remembered` from a count at the same data version.
pub fn list_total(source: &'static str) {
    counter!("kring_list_totals_total", "source" => source).increment(1);
}

pub fn idempotent_replay() {
    counter!("kring_idempotency_replays_total").increment(1);
}

/// Bytes of an upload that was kept.
pub fn uploaded(bytes: u64) {
    counter!("kring_upload_bytes_total").increment(bytes);
}

/// One webhook delivery attempt: `delivered`, `retrying`, `failed` or `gone`.
pub fn webhook_attempt(outcome: &'static str) {
    counter!("kring_webhook_attempts_total", "outcome" => outcome).increment(1);
}

/// One database statement's time, by `read` or `write`.
pub fn statement(kind: &'static str, took: Duration) {
    histogram!("kring_db_statement_duration_seconds", "kind" => kind).record(took.as_secs_f64());
}

/// One SQLite group commit: how many requests' transactions its one `COMMIT` held.
pub fn committed_together(units: usize) {
    let units = u32::try_from(units).unwrap_or(u32::MAX);
    histogram!("kring_db_commit_units").record(f64::from(units));
}

/// Waiting for a pooled connection, by pool (`read` or `write`).
pub fn pool_wait(pool: &'static str, took: Duration) {
    histogram!("kring_db_pool_wait_seconds", "pool" => pool).record(took.as_secs_f64());
}

/// What a scrape reads from the database and the pools, as gauges.
pub struct Scraped {
    pub pools: Vec<(&'static str, u32, u32)>,
    pub outbox_pending: i64,
    pub outbox_oldest_seconds: f64,
    pub webhooks_disabled: i64,
}

pub fn set_scraped(scraped: &Scraped) {
    for (pool, size, idle) in &scraped.pools {
        gauge!("kring_db_pool_connections", "pool" => *pool).set(f64::from(*size));
        gauge!("kring_db_pool_in_use", "pool" => *pool).set(f64::from(size.saturating_sub(*idle)));
    }
    gauge!("kring_webhook_outbox_pending").set(i64_to_f64(scraped.outbox_pending));
    gauge!("kring_webhook_outbox_oldest_pending_seconds").set(scraped.outbox_oldest_seconds);
    gauge!("kring_webhooks_disabled").set(i64_to_f64(scraped.webhooks_disabled));
}

/// A count as a gauge's value (exact up to four billion, far beyond what Kring counts here).
fn i64_to_f64(n: i64) -> f64 {
    u32::try_from(n.max(0)).map_or(f64::from(u32::MAX), f64::from)
}
