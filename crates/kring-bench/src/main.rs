//! `kring-bench`: drives Kring over HTTP on loopback and, beside it, the ceiling: a bare axum
//! handler that runs the same SQL by hand with no engine, on the same database file and the same
//! pool settings. Each server runs in a process of its own pinned to core 0, the driver on
//! core 1 (where `taskset` exists). Every scenario runs on every server once per round, the
//! rounds interleaved; it prints the medians of requests/s and p99, the median of the
//! same-round ratios, and the statements one request costs.
//!
//! When `KRING_BENCH_POSTGRES_URL` names a PostgreSQL server, a Kring on a fresh schema there
//! joins the rounds (PostgreSQL itself is not pinned). Then ManageIt's list beside Cirqll's
//! list of the same customers, and the query-language requests.
//!
//! `cargo run --release -p kring-bench -- [CUSTOMERS] [SECONDS] [CONCURRENCY] [ROUNDS]`
//! (defaults 100000, 10, 16, 3).
//!
//! `cargo run --release -p kring-bench -- isolation [CUSTOMERS] [SECONDS]` (defaults 20000,
//! 10): one company's expensive filters against another company's reads (see `isolation`).

// A measuring tool: its statistics turn counts and durations into floats and read the JSON it
// gets back by key, which the server's stricter lints forbid.
#![allow(clippy::as_conversions, clippy::indexing_slicing)]

mod ceiling;
mod isolation;
mod queries;
mod servers;
mod setup;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use kring_server::Config;

/// The benchmark measures the server, not its rate limit.
pub fn unthrottled(url: String) -> Config {
    let mut config = Config::new(url);
    config.rate_limit = u64::MAX / 2;
    config.concurrency_limit = usize::MAX;
    config
}

pub const COMPANY: &str = "Bench Co";
pub const EMAIL: &str = "bench@kring.test";

pub struct Stats {
    requests: usize,
    errors: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// Runs `concurrency` workers for `seconds`, each sending `request(i)` in a loop.
pub async fn drive<F>(concurrency: usize, seconds: u64, request: F) -> Stats
where
    F: Fn(u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let request = request.clone();
        let errors = errors.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(100_000);
            while Instant::now() < deadline {
                let sent = Instant::now();
                let ok = match request(random_u64()).send().await {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap_or_default());
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pick = |q: f64| -> f64 {
        let index = ((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1));
        all.get(index).copied().unwrap_or(0) as f64 / 1000.0
    };
    Stats {
        requests: all.len(),
        errors: errors.load(Ordering::Relaxed),
        seconds,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
    }
}

/// A request a driver worker sends, from a random number.
pub type Request = Arc<dyn Fn(u64) -> reqwest::RequestBuilder + Send + Sync>;

/// One server's results of one scenario, a `Stats` per round.
#[derive(Default)]
struct Runs(Vec<Stats>);

impl Runs {
    fn rate(s: &Stats) -> f64 {
        s.requests as f64 / s.seconds.max(1e-9)
    }

    fn median_rate(&self) -> f64 {
        median(self.0.iter().map(Runs::rate).collect())
    }

    fn median_p99(&self) -> f64 {
        median(self.0.iter().map(|s| s.p99_ms).collect())
    }

    fn errors(&self) -> u64 {
        self.0.iter().map(|s| s.errors).sum()
    }

    /// The median of the same-round ratios of this server's rate to `other`'s.
    fn ratio_to(&self, other: &Runs) -> f64 {
        median(
            self.0
                .iter()
                .zip(&other.0)
                .map(|(a, b)| Runs::rate(a) / Runs::rate(b).max(1e-9))
                .collect(),
        )
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Runs each scenario on each server that serves it, `rounds` times, alternating which server
/// goes first; results per scenario, per server.
async fn rounds(
    scenarios: &[setup::Scenario],
    servers: usize,
    rounds: u64,
    concurrency: usize,
    seconds: u64,
) -> Vec<Vec<Runs>> {
    let mut results: Vec<Vec<Runs>> = scenarios
        .iter()
        .map(|_| (0..servers).map(|_| Runs::default()).collect())
        .collect();
    for round in 0..rounds {
        for (scenario, runs) in scenarios.iter().zip(results.iter_mut()) {
            let mut order: Vec<usize> = (0..servers).collect();
            order.rotate_left(round as usize % servers.max(1));
            for server in order {
                let Some(request) = scenario.requests.get(server).cloned().flatten() else {
                    continue;
                };
                let stats = drive(concurrency, seconds, move |r| request(r)).await;
                eprintln!(
                    "round {}: {} on server {server}: {:.0}/s",
                    round + 1,
                    scenario.name,
                    Runs::rate(&stats)
                );
                runs[server].0.push(stats);
            }
        }
    }
    results
}

fn figure(runs: &Runs) -> (String, String) {
    if runs.0.is_empty() {
        return ("".into(), "".into());
    }
    (
        format!("{:.0}", runs.median_rate()),
        format!("{:.1}", runs.median_p99()),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("serve") {
        let arg = |i: usize| argv.get(i).map(String::as_str).unwrap_or("");
        return servers::serve(arg(1), arg(2), arg(3)).await;
    }
    let args: Vec<u64> = argv.iter().filter_map(|a| a.parse().ok()).collect();
    if argv.first().map(String::as_str) == Some("isolation") {
        let customers = args.first().copied().unwrap_or(20_000);
        let seconds = args.get(1).copied().unwrap_or(10);
        return isolation::run(customers, seconds).await;
    }
    let customers = args.first().copied().unwrap_or(100_000);
    let seconds = args.get(1).copied().unwrap_or(10);
    let concurrency = args.get(2).copied().unwrap_or(16) as usize;
    let round_count = args.get(3).copied().unwrap_or(3).max(1);
    if customers < 1000 {
        bail!("use at least 1000 customers");
    }
    let pinned = servers::taskset_exists();
    if pinned {
        servers::pin_driver()?;
    }

    let dir = std::env::temp_dir().join(format!("kring-bench-{}", random_u64()));
    std::fs::create_dir_all(&dir)?;
    let files = dir.join("files");
    let url = format!("sqlite://{}", dir.join("kring.db").display());
    let sqlite = setup::seeded(&url, customers, &files).await?;
    let postgres = match std::env::var("KRING_BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(server) => {
            let url = queries::fresh_postgres(&server).await?;
            Some((setup::seeded(&url, customers, &files).await?, url))
        }
        None => None,
    };

    let kring = servers::spawn("kring", &url, &files, pinned)?;
    let ceiling = servers::spawn("ceiling", &url, &files, pinned)?;
    let kring_pg = match &postgres {
        Some((_, pg_url)) => Some(servers::spawn("kring", pg_url, &files, pinned)?),
        None => None,
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let scenarios = setup::scenarios(
        &client,
        &sqlite,
        &kring.base,
        &ceiling.base,
        postgres
            .as_ref()
            .zip(kring_pg.as_ref())
            .map(|((seeded, _), server)| (seeded, server.base.as_str())),
    )
    .await?;
    let servers = if postgres.is_some() { 3 } else { 2 };
    // Warm every server's caches and pools.
    rounds(&scenarios, servers, 1, concurrency, 2).await;
    let results = rounds(&scenarios, servers, round_count, concurrency, seconds).await;

    let mut lines = vec![
        format!(
            "{customers} customers ({} owners; 2 contacts, 3 tasks and a tier each), concurrency {concurrency}, {seconds} s per run, {round_count} interleaved rounds, {}",
            sqlite.owners.len(),
            if pinned {
                "servers pinned to core 0, driver to core 1"
            } else {
                "unpinned (no taskset)"
            }
        ),
        String::new(),
        "| request | Kring req/s | p99 ms | ceiling req/s | p99 ms | Kring/ceiling | PostgreSQL req/s | p99 ms | PostgreSQL/SQLite | statements | errors |".to_string(),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for (scenario, runs) in scenarios.iter().zip(&results) {
        let (k, kp) = figure(&runs[0]);
        let (c, cp) = figure(&runs[1]);
        let (p, pp) = runs.get(2).map(figure).unwrap_or_default();
        let vs_ceiling = if runs[1].0.is_empty() {
            String::new()
        } else {
            format!("{:.2}", runs[0].ratio_to(&runs[1]))
        };
        let vs_sqlite = match runs.get(2) {
            Some(pg) if !pg.0.is_empty() => format!("{:.2}", pg.ratio_to(&runs[0])),
            _ => String::new(),
        };
        let errors: u64 = runs.iter().map(Runs::errors).sum();
        lines.push(format!(
            "| {} | {k} | {kp} | {c} | {cp} | {vs_ceiling} | {p} | {pp} | {vs_sqlite} | {} | {errors} |",
            scenario.name, scenario.statements
        ));
    }
    println!("{}", lines.join("\n"));

    let mut lines = vec![
        String::new(),
        format!(
            "Query language, `with=user,contacts&count=tasks&order_by=next_contact:desc&limit=25` and:"
        ),
        String::new(),
        "| filter | database | requests/s | p50 ms | p99 ms | alone ms, total remembered | alone ms, total counted | errors |".to_string(),
        "|---|---|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for (name, stats, alone) in queries::run(
        &client,
        &kring.base,
        &sqlite.token,
        sqlite.tier,
        sqlite.first_id,
        concurrency,
        seconds,
    )
    .await?
    {
        lines.push(row(&name, "SQLite", &stats, &alone));
    }
    if let (Some((seeded, _)), Some(server)) = (&postgres, &kring_pg) {
        for (name, stats, alone) in queries::run(
            &client,
            &server.base,
            &seeded.token,
            seeded.tier,
            seeded.first_id,
            concurrency,
            seconds,
        )
        .await?
        {
            lines.push(row(&name, "PostgreSQL", &stats, &alone));
        }
    }
    println!("{}", lines.join("\n"));
    drop((kring, ceiling, kring_pg));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn row(name: &str, target: &str, s: &Stats, alone: &queries::Alone) -> String {
    format!(
        "| {name} | {target} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
        s.requests as f64 / s.seconds,
        s.p50_ms,
        s.p99_ms,
        alone.remembered_ms,
        alone.counted_ms,
        s.errors
    )
}
