//! `kring-bench isolation`: one company floods Kring with expensive filters (eight in flight)
//! while another company reads; prints the quiet company's latency alone and under the flood.
//! Loopback only, bounded by its seconds, on a fresh SQLite database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::Context;
use kring_server::admin;

use crate::{Stats, drive, random_u64, unthrottled};

const HEAVY: &str = "Heavy Co";
const QUIET: &str = "Quiet Co";

/// Eight terms that each follow two to-many relations: sixteen joins, the most a filter may
/// ask for.
fn heavy_filter() -> String {
    (b'a'..b'i')
        .map(|c| format!("contacts.customers.name:contains:{}", char::from(c)))
        .collect::<Vec<_>>()
        .join(",or,")
}

pub async fn run(customers: u64, seconds: u64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("kring-isolation-{}", random_u64()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("kring.db").display());
    let mut config = unthrottled(url);
    config.files_dir = dir.join("files");
    let state = kring_server::prepare(config).await.context("prepare")?;
    let mut tokens = Vec::new();
    for (company, email, count) in [
        (HEAVY, "heavy@kring.test", customers),
        (QUIET, "quiet@kring.test", 1_000),
    ] {
        admin::create_user(
            &state.db,
            company,
            "Bench",
            email,
            "bench-password",
            "company_owner",
        )
        .await?;
        kring_server::seed::demo(&state.db, company, count).await?;
        tokens.push(admin::create_token(&state.db, email, "bench").await?);
    }
    state.db.analyze(true).await?;
    let (heavy, quiet) = (tokens[0].clone(), tokens[1].clone());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(kring_server::serve(state, listener, std::future::pending()));
    let client = reqwest::Client::new();

    // The quiet company's reads: a filtered, ordered page (which takes a place among the
    // company's expensive reads) and a show.
    let quiet_reads = {
        let (client, base) = (client.clone(), base.clone());
        move |r: u64| {
            let path = match r % 2 {
                0 => "/api/customer?limit=10&order_by=name&filter=name:contains:a".to_string(),
                _ => format!("/api/customer?limit=1&offset={}", r % 900),
            };
            client.get(format!("{base}{path}")).bearer_auth(&quiet)
        }
    };
    drive(2, 2, quiet_reads.clone()).await;
    let alone = drive(2, seconds, quiet_reads.clone()).await;

    let flooding = Arc::new(AtomicBool::new(true));
    let (answered, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // Letters, dots, colons and commas only: the filter needs no escaping in a query string.
    let path = format!(
        "{base}/api/customer?order_by=name&filter={}",
        heavy_filter()
    );
    let mut flood = Vec::new();
    for _ in 0..8 {
        let (client, path, heavy) = (client.clone(), path.clone(), heavy.clone());
        let (flooding, answered, refused) = (flooding.clone(), answered.clone(), refused.clone());
        flood.push(tokio::spawn(async move {
            while flooding.load(Ordering::Relaxed) {
                match client.get(&path).bearer_auth(&heavy).send().await {
                    Ok(r) if r.status().is_success() => answered.fetch_add(1, Ordering::Relaxed),
                    _ => refused.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let flooded = drive(2, seconds, quiet_reads).await;
    flooding.store(false, Ordering::Relaxed);
    for worker in flood {
        let _ = worker.await;
    }

    println!(
        "Isolation: {customers} customers in {HEAVY} with eight expensive filters in flight \
         (`{}`), {QUIET}'s reads at concurrency 2, {seconds} s per phase",
        short(&heavy_filter())
    );
    println!();
    println!("| {QUIET}'s reads | requests/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|");
    for (name, stats) in [("alone", &alone), ("under the flood", &flooded)] {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} |",
            stats.requests as f64 / stats.seconds,
            stats.p50_ms,
            stats.p99_ms,
            stats.errors
        );
    }
    println!();
    println!(
        "p99 under the flood / alone: {:.2}; {HEAVY}'s expensive reads answered: {}, refused \
         (503 over budget): {}",
        ratio(&flooded, &alone),
        answered.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn ratio(under: &Stats, alone: &Stats) -> f64 {
    if alone.p99_ms > 0.0 {
        under.p99_ms / alone.p99_ms
    } else {
        0.0
    }
}

/// The filter's first term and how many there are, for the heading.
fn short(filter: &str) -> String {
    let terms: Vec<&str> = filter.split(",or,").collect();
    format!(
        "{},or,… ({} terms)",
        terms.first().copied().unwrap_or(""),
        terms.len()
    )
}
