//! What the rounds run on: a seeded database with its customers spread over owners, and the
//! scenarios, each with its request per server and the statements one request costs Kring.

use std::sync::Arc;

use anyhow::Context;
use kring_core::Value;
use kring_core::schema::ColumnType;
use kring_server::db::Raw;
use kring_server::{AppState, admin};

use crate::{COMPANY, EMAIL, Request, random_u64};

/// The owners a benchmark company's customers are spread over: 1,000 customers each at
/// 100,000, as the performance issue measures an owner's sorted page.
const OWNERS: u64 = 100;

/// A seeded database and what its requests name.
pub struct Seeded {
    pub state: AppState,
    pub token: String,
    pub tier: i64,
    pub first_id: i64,
    pub customers: u64,
    pub owners: Vec<i64>,
}

/// Migrates `url`, seeds `customers` with their relations, spreads them over [`OWNERS`] users
/// and refreshes the planner's statistics.
pub async fn seeded(url: &str, customers: u64, files: &std::path::Path) -> anyhow::Result<Seeded> {
    let mut config = crate::unthrottled(url.to_string());
    config.files_dir = files.to_path_buf();
    let state = kring_server::prepare(config).await.context("prepare")?;
    let db = &state.db;
    admin::create_user(
        db,
        COMPANY,
        "Bench",
        EMAIL,
        "bench-password",
        "company_owner",
    )
    .await?;
    let seeding = std::time::Instant::now();
    kring_server::seed::demo(db, COMPANY, customers).await?;
    for n in 1..OWNERS {
        let email = format!("owner{n}@kring.test");
        admin::create_user(
            db,
            COMPANY,
            "Owner",
            &email,
            "bench-password",
            "company_owner",
        )
        .await?;
    }
    let users = ints(db, "SELECT id FROM users ORDER BY id").await?;
    // One pass: `id % OWNERS` picks each customer's owner.
    let arms: String = (0..users.len())
        .map(|n| format!(" WHEN {n} THEN ?"))
        .collect();
    let mut tx = db.begin().await?;
    tx.execute(&Raw::owned(
        format!("UPDATE customers SET user_id = CASE id % {OWNERS}{arms} END"),
        users.iter().map(|id| (*id).into()).collect(),
    ))
    .await?;
    tx.commit().await?;
    db.analyze(true).await?;
    // What autovacuum does some time after a bulk load, done now: PostgreSQL's index-only
    // scans (a deep offset's) read the heap for every row until the visibility map is set.
    if let kring_server::Db::Postgres { pool, .. } = db {
        for table in kring_server::registry::tables() {
            sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE \"{table}\"")))
                .execute(pool)
                .await?;
        }
    }
    eprintln!(
        "seeded {customers} customers over {OWNERS} owners in {:.1}s",
        seeding.elapsed().as_secs_f64()
    );
    let first_id = ints(db, "SELECT MIN(id) FROM customers")
        .await?
        .first()
        .copied()
        .context("ids")?;
    let owners = users;
    let token = admin::create_token(db, EMAIL, "bench").await?;
    let tier = crate::queries::tier_id(db).await?;
    Ok(Seeded {
        state,
        token,
        tier,
        first_id,
        customers,
        owners,
    })
}

async fn ints(db: &kring_server::Db, sql: &'static str) -> anyhow::Result<Vec<i64>> {
    let rows = db.fetch(&Raw::new(sql, vec![]), &[ColumnType::Int]).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.first().and_then(Value::as_int))
        .collect())
}

/// One row of the results: a request per server (Kring on SQLite, the ceiling, Kring on
/// PostgreSQL), `None` where a server does not serve it.
pub struct Scenario {
    pub name: String,
    pub requests: Vec<Option<Request>>,
    pub statements: String,
}

/// What a scenario sends, given a server's base and its seeded data.
type Build = fn(&reqwest::Client, &str, &Seeded) -> Request;

fn show(client: &reqwest::Client, base: &str, seeded: &Seeded) -> Request {
    let (client, base, token) = (client.clone(), base.to_string(), seeded.token.clone());
    let (first, count) = (seeded.first_id, seeded.customers);
    Arc::new(move |r| {
        let id = first + (r % count) as i64;
        client
            .get(format!("{base}/api/customer/{id}"))
            .bearer_auth(&token)
    })
}

fn page(client: &reqwest::Client, base: &str, seeded: &Seeded) -> Request {
    offset_page(client, base, seeded, "/api/customer?limit=25")
}

fn manageit_page(client: &reqwest::Client, base: &str, seeded: &Seeded) -> Request {
    offset_page(client, base, seeded, "/api/customers?limit=25")
}

fn same_page_in_cirqll(client: &reqwest::Client, base: &str, seeded: &Seeded) -> Request {
    offset_page(
        client,
        base,
        seeded,
        "/api/customer?limit=25&with=field_values,media",
    )
}

fn offset_page(client: &reqwest::Client, base: &str, seeded: &Seeded, path: &str) -> Request {
    let (client, token) = (client.clone(), seeded.token.clone());
    let (url, count) = (format!("{base}{path}"), seeded.customers);
    Arc::new(move |r| {
        let offset = r % (count - 25);
        client
            .get(format!("{url}&offset={offset}"))
            .bearer_auth(&token)
    })
}

fn owner_page(client: &reqwest::Client, base: &str, seeded: &Seeded) -> Request {
    let (client, base, token) = (client.clone(), base.to_string(), seeded.token.clone());
    let owners = seeded.owners.clone();
    Arc::new(move |r| {
        let owner = owners[(r % owners.len() as u64) as usize];
        client
            .get(format!(
                "{base}/api/customer?filter=user_id:eq:{owner}&order_by=name&limit=25"
            ))
            .bearer_auth(&token)
    })
}

fn create(client: &reqwest::Client, base: &str, seeded: &Seeded) -> Request {
    let (client, base, token) = (client.clone(), base.to_string(), seeded.token.clone());
    Arc::new(move |r| {
        client
            .post(format!("{base}/api/customer"))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "name": format!("Bench {r}"),
                "email": format!("bench{r}@example.test"),
                "show_on_map": true,
            }))
    })
}

fn manageit_create(client: &reqwest::Client, base: &str, seeded: &Seeded) -> Request {
    let (client, base, token) = (client.clone(), base.to_string(), seeded.token.clone());
    let mut photo = b"\x89PNG\r\n\x1a\n".to_vec();
    photo.resize(16 * 1024, 0);
    Arc::new(move |r| {
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
        client
            .post(format!("{base}/api/customers"))
            .bearer_auth(&token)
            .multipart(form)
    })
}

/// The scenarios on Kring (SQLite), the ceiling, and Kring on PostgreSQL when there is one.
pub async fn scenarios(
    client: &reqwest::Client,
    sqlite: &Seeded,
    kring: &str,
    ceiling: &str,
    postgres: Option<(&Seeded, &str)>,
) -> anyhow::Result<Vec<Scenario>> {
    let table: [(&str, Build, bool); 7] = [
        ("`GET /api/customer/{id}`", show, true),
        ("`GET /api/customer?limit=25&offset=N`", page, true),
        (
            "`GET /api/customer?filter=user_id:eq:N&order_by=name&limit=25`",
            owner_page,
            true,
        ),
        ("`POST /api/customer`", create, true),
        (
            "`GET /api/customers?limit=25&offset=N` (ManageIt)",
            manageit_page,
            false,
        ),
        (
            "`GET /api/customer?limit=25&offset=N&with=field_values,media` (the same in Cirqll)",
            same_page_in_cirqll,
            false,
        ),
        (
            "`POST /api/customers`, multipart with a 16 KiB photo (ManageIt)",
            manageit_create,
            false,
        ),
    ];
    let counter = Counter::start(sqlite).await?;
    let mut scenarios = Vec::new();
    for (name, build, on_ceiling) in table.into_iter().filter(|(name, ..)| chosen(name)) {
        let statements = counter
            .statements(&build(client, &counter.base, sqlite))
            .await?;
        let requests = vec![
            Some(build(client, kring, sqlite)),
            on_ceiling.then(|| build(client, ceiling, sqlite)),
            postgres.map(|(seeded, base)| build(client, base, seeded)),
        ];
        scenarios.push(Scenario {
            name: name.to_string(),
            requests,
            statements,
        });
    }
    Ok(scenarios)
}

/// An unpinned Kring in this process on the SQLite database, whose pool counts the statements
/// each request runs.
struct Counter {
    state: AppState,
    base: String,
}

impl Counter {
    async fn start(seeded: &Seeded) -> anyhow::Result<Counter> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = seeded.state.clone();
        tokio::spawn(kring_server::serve(
            state.clone(),
            listener,
            std::future::pending(),
        ));
        Ok(Counter { state, base })
    }

    /// The fewest statements of five requests (background work may add to one of them), as
    /// `reads + in transactions`.
    async fn statements(&self, request: &Request) -> anyhow::Result<String> {
        let db = &self.state.db;
        let mut fewest: Option<(u64, u64)> = None;
        for _ in 0..5 {
            let (reads, writes) = (db.reads(), db.transaction_statements());
            let response = request(random_u64()).send().await?;
            let status = response.status();
            anyhow::ensure!(status.is_success(), "a counted request got {status}");
            response.bytes().await?;
            let cost = (db.reads() - reads, db.transaction_statements() - writes);
            if fewest.is_none_or(|f| cost.0 + cost.1 < f.0 + f.1) {
                fewest = Some(cost);
            }
        }
        Ok(match fewest {
            Some((reads, 0)) => format!("{reads}"),
            Some((reads, writes)) => format!("{reads} + {writes} in a transaction"),
            None => String::new(),
        })
    }
}

/// `KRING_BENCH_ONLY=customer/{id}` runs only the scenarios whose name holds it (to profile
/// one request); `a|b` those that hold either. Unset, every scenario runs.
pub fn chosen(name: &str) -> bool {
    let only = std::env::var("KRING_BENCH_ONLY").unwrap_or_default();
    only.split('|').any(|part| name.contains(part))
}
