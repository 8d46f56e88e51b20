//! The query-language benchmark of the query-language issue: a filtered, ordered, eager-loaded
//! page of customers, with the filter on a custom field value or on a to-many relation.

use anyhow::{Context, bail};
use kring_server::Db;

use crate::{Stats, drive, random_u64};

/// The two requests, with the `Tier` field's id filled in.
pub fn requests(tier: i64) -> [(String, String); 2] {
    let page = "with=user,contacts&count=tasks&order_by=next_contact:desc&limit=25";
    [
        (
            format!("`filter=(name:contains:\"bv\",and,field_values.{tier}:eq:gold)`"),
            format!(
                "/api/customer?{page}&filter=(name:contains:%22bv%22,and,field_values.{tier}:eq:gold)"
            ),
        ),
        (
            "`filter=(name:contains:\"bv\",and,contacts.email:starts_with:sales)`".to_string(),
            format!(
                "/api/customer?{page}&filter=(name:contains:%22bv%22,and,contacts.email:starts_with:sales)"
            ),
        ),
    ]
}

/// The id of the seeded `Tier` field.
pub async fn tier_id(db: &Db) -> anyhow::Result<i64> {
    db.fetch(
        &kring_server::db::Raw::new("SELECT id FROM fields WHERE name = 'Tier'", vec![]),
        &[kring_core::schema::ColumnType::Int],
    )
    .await?
    .first()
    .and_then(|r| r.first())
    .and_then(kring_core::Value::as_int)
    .context("the Tier field")
}

/// A fresh PostgreSQL schema on the server of `base_url`, as a database URL.
pub async fn fresh_postgres(base_url: &str) -> anyhow::Result<String> {
    let schema = format!("bench_{:x}", random_u64());
    let admin_db = Db::connect(base_url).await?;
    let Db::Postgres { pool, .. } = &admin_db else {
        bail!("KRING_BENCH_POSTGRES_URL is not a PostgreSQL URL");
    };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(pool)
        .await?;
    admin_db.close().await;
    let separator = if base_url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{base_url}{separator}options=-c%20search_path%3D{schema}"
    ))
}

/// One request's latency, one at a time: the total remembered, and counted afresh.
pub struct Alone {
    pub remembered_ms: f64,
    pub counted_ms: f64,
}

/// How many requests one at a time each median of [`Alone`] is taken over.
const ALONE_SAMPLES: usize = 15;

/// The median latency of `url` asked one request at a time: again and again (the total is
/// remembered), and right after a write that moves the company's data version (counted again;
/// the write, to a customer's description, leaves the matches as they were).
async fn alone(
    client: &reqwest::Client,
    base: &str,
    url: &str,
    token: &str,
    touched: i64,
) -> anyhow::Result<Alone> {
    let mut remembered = Vec::new();
    let mut counted = Vec::new();
    for n in 0..ALONE_SAMPLES {
        remembered.push(timed_get(client, url, token).await?);
        client
            .patch(format!("{base}/api/customer/{touched}"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "description": format!("Touched {n}") }))
            .send()
            .await?
            .error_for_status()?;
        counted.push(timed_get(client, url, token).await?);
    }
    Ok(Alone {
        remembered_ms: median(&mut remembered),
        counted_ms: median(&mut counted),
    })
}

/// How long one `GET` of `url` took to be answered in full, in milliseconds.
async fn timed_get(client: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<f64> {
    let started = std::time::Instant::now();
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

/// Runs both requests against one Kring; checks first that each answers with matches.
pub async fn run(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    tier: i64,
    touched: i64,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<Vec<(String, Stats, Alone)>> {
    let mut results = Vec::new();
    for (name, path) in requests(tier) {
        if !crate::setup::chosen(&name) {
            continue;
        }
        let url = format!("{base}{path}");
        let probe: serde_json::Value = client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let total = probe["total"].as_i64().unwrap_or(0);
        if total == 0 {
            bail!("{name} matched nothing: {probe}");
        }
        eprintln!("{name}: {total} matches");
        let alone = alone(client, base, &url, token, touched).await?;
        let (client, token) = (client.clone(), token.to_string());
        drive(concurrency, 2, {
            let (client, token, url) = (client.clone(), token.clone(), url.clone());
            move |_| client.get(&url).bearer_auth(&token)
        })
        .await;
        let stats = drive(concurrency, seconds, move |_| {
            client.get(&url).bearer_auth(&token)
        })
        .await;
        results.push((name, stats, alone));
    }
    Ok(results)
}
