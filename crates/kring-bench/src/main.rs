//! `kring-bench`: drives Kring over HTTP on loopback and, beside it, the ceiling: a bare axum
//! handler that runs the same SQL by hand with no engine, on the same database file and the same
//! pool settings. Prints requests/s, p50 and p99 for both.
//!
//! Then the query-language requests (filter on a custom field or a to-many relation, eager
//! loading, counts, ordering) on SQLite and, when `KRING_BENCH_POSTGRES_URL` names a PostgreSQL
//! server, on a fresh schema there.
//!
//! `cargo run --release -p kring-bench -- [CUSTOMERS] [SECONDS] [CONCURRENCY]`
//! (defaults 100000, 10, 16).
//!
//! `cargo run --release -p kring-bench -- isolation [CUSTOMERS] [SECONDS]` (defaults 20000,
//! 10): one company's expensive filters against another company's reads (see `isolation`).

// A measuring tool: its statistics turn counts and durations into floats and read the JSON it
// gets back by key, which the server's stricter lints forbid.
#![allow(clippy::as_conversions, clippy::indexing_slicing)]

mod ceiling;
mod isolation;
mod queries;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kring_server::{Config, admin};

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

/// The ManageIt dialect over the same customers: a page of the seed's shape, and a multipart
/// create with a 16 KiB profile photo (streamed to disk, sniffed, kept in the transaction).
async fn manageit(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    customers: u64,
    concurrency: usize,
    seconds: u64,
) -> Vec<(String, Stats)> {
    let (c, t, b) = (client.clone(), token.to_string(), base.to_string());
    let list = move |r: u64| {
        let offset = r % (customers - 25);
        c.get(format!("{b}/api/customers?limit=25&offset={offset}"))
            .bearer_auth(&t)
    };
    let (c, t, b) = (client.clone(), token.to_string(), base.to_string());
    let mut photo = b"\x89PNG\r\n\x1a\n".to_vec();
    photo.resize(16 * 1024, 0);
    let create = move |r: u64| {
        let form = reqwest::multipart::Form::new()
            .text("email", format!("bench{r}@example.test"))
            .text("name", "Bench")
            .text("last_name", "Mark")
            .text("phone", "555")
            .text("business_information[company_name]", format!("Bench {r}"))
            .text("permissions[invoice][view-invoice]", "1")
            .part(
                "profile_photo_path",
                reqwest::multipart::Part::bytes(photo.clone()).file_name("me.png"),
            );
        c.post(format!("{b}/api/customers"))
            .bearer_auth(&t)
            .multipart(form)
    };
    vec![
        (
            "`GET /api/customers?limit=25&offset=N` (ManageIt)".to_string(),
            drive(concurrency, seconds, list).await,
        ),
        (
            "`POST /api/customers`, multipart with a 16 KiB photo (ManageIt)".to_string(),
            drive(concurrency, seconds, create).await,
        ),
    ]
}

fn row(name: &str, target: &str, s: &Stats) -> String {
    format!(
        "| {name} | {target} | {:.0} | {:.2} | {:.2} | {} |",
        s.requests as f64 / s.seconds,
        s.p50_ms,
        s.p99_ms,
        s.errors
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if std::env::args().nth(1).as_deref() == Some("isolation") {
        let customers = args.first().copied().unwrap_or(20_000);
        let seconds = args.get(1).copied().unwrap_or(10);
        return isolation::run(customers, seconds).await;
    }
    let customers = args.first().copied().unwrap_or(100_000);
    let seconds = args.get(1).copied().unwrap_or(10);
    let concurrency = args.get(2).copied().unwrap_or(16) as usize;
    if customers < 100 {
        bail!("use at least 100 customers");
    }

    let dir = std::env::temp_dir().join(format!("kring-bench-{}", random_u64()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("kring.db").display());
    let mut config = unthrottled(url.clone());
    config.files_dir = dir.join("files");
    let state = kring_server::prepare(config).await.context("prepare")?;
    admin::create_user(
        &state.db,
        COMPANY,
        "Bench",
        EMAIL,
        "bench-password",
        "company_owner",
    )
    .await?;
    let seeding = Instant::now();
    kring_server::seed::demo(&state.db, COMPANY, customers).await?;
    eprintln!(
        "seeded {customers} customers in {:.1}s",
        seeding.elapsed().as_secs_f64()
    );
    let token = admin::create_token(&state.db, EMAIL, "bench").await?;
    let tier = queries::tier_id(&state.db).await?;

    let kring_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let kring = format!("http://{}", kring_listener.local_addr()?);
    tokio::spawn(kring_server::serve(
        state,
        kring_listener,
        std::future::pending(),
    ));
    let ceiling_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let ceiling = format!("http://{}", ceiling_listener.local_addr()?);
    let ceiling_app = ceiling::router(&url).await?;
    tokio::spawn(async move { axum::serve(ceiling_listener, ceiling_app).await });

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let list = |base: &str| {
        let (client, token, base) = (client.clone(), token.clone(), base.to_string());
        move |r: u64| {
            let offset = r % (customers - 25);
            client
                .get(format!("{base}/api/customer?limit=25&offset={offset}"))
                .bearer_auth(&token)
        }
    };
    let create = |base: &str| {
        let (client, token, base) = (client.clone(), token.clone(), base.to_string());
        move |r: u64| {
            client
                .post(format!("{base}/api/customer"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"name": format!("Bench {r}"), "email": format!("bench{r}@example.test"), "show_on_map": true}))
        }
    };

    // Warm both servers' caches and connection pools.
    drive(concurrency, 2, list(&kring)).await;
    drive(concurrency, 2, list(&ceiling)).await;

    let mut lines = vec![
        format!(
            "{customers} customers (with 2 contacts, 3 tasks and a tier each) on SQLite, concurrency {concurrency}, {seconds} s per run, one 2-core machine (driver included)"
        ),
        String::new(),
        "| request | server | requests/s | p50 ms | p99 ms | errors |".to_string(),
        "|---|---|---:|---:|---:|---:|".to_string(),
    ];
    let get_name = "`GET /api/customer?limit=25&offset=N`";
    let kring_get = drive(concurrency, seconds, list(&kring)).await;
    let ceiling_get = drive(concurrency, seconds, list(&ceiling)).await;
    lines.push(row(get_name, "Kring", &kring_get));
    lines.push(row(get_name, "ceiling", &ceiling_get));
    let post_name = "`POST /api/customer`";
    let kring_post = drive(concurrency, seconds, create(&kring)).await;
    let ceiling_post = drive(concurrency, seconds, create(&ceiling)).await;
    lines.push(row(post_name, "Kring", &kring_post));
    lines.push(row(post_name, "ceiling", &ceiling_post));
    for (name, stats) in manageit(&client, &kring, &token, customers, concurrency, seconds).await {
        lines.push(row(&name, "Kring", &stats));
    }
    let ratio = |a: &Stats, b: &Stats| {
        100.0 * (a.requests as f64 / a.seconds) / (b.requests as f64 / b.seconds).max(1e-9)
    };
    lines.push(String::new());
    lines.push(format!(
        "Kring / ceiling: list {:.0}%, create {:.0}%",
        ratio(&kring_get, &ceiling_get),
        ratio(&kring_post, &ceiling_post)
    ));
    println!("{}", lines.join("\n"));

    let mut lines = vec![
        String::new(),
        format!(
            "Query language, {customers} customers (2 contacts, 3 tasks, a tier each), `with=user,contacts&count=tasks&order_by=next_contact:desc&limit=25` and:"
        ),
        String::new(),
        "| filter | database | requests/s | p50 ms | p99 ms | errors |".to_string(),
        "|---|---|---:|---:|---:|---:|".to_string(),
    ];
    // The same Kring as above: its customers were seeded with their relations.
    for (name, stats) in queries::run(&client, &kring, &token, tier, concurrency, seconds).await? {
        lines.push(row(&name, "SQLite", &stats));
    }
    if let Some(postgres) = std::env::var("KRING_BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let url = queries::fresh_postgres(&postgres).await?;
        let (base, token, tier) = queries::start(&url, customers).await?;
        for (name, stats) in
            queries::run(&client, &base, &token, tier, concurrency, seconds).await?
        {
            lines.push(row(&name, "PostgreSQL", &stats));
        }
    }
    println!("{}", lines.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
