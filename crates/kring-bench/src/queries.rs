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

/// Runs both requests against one Kring; checks first that each answers with matches.
pub async fn run(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    tier: i64,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<Vec<(String, Stats)>> {
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
        results.push((name, stats));
    }
    Ok(results)
}
