//! Crash consistency through the real binary (security plan §2.4 and §3, C1–C7): `kring serve`
//! is killed with SIGKILL under write load and restarted over the same database (T68, T69),
//! clients retry every write with its `Idempotency-Key` until it is acknowledged (T70), uploads
//! are killed mid-stream (T74), SIGTERM drains (T75), security state survives restarts (T76),
//! a start-up migration killed early recovers (T78), and a disk that fills up is survived (T77). Counts are small (a few kill cycles):
//! the point is the properties, checked on every run, not a soak.

mod full_disk;
mod migration;
mod security;
mod shutdown;
mod uploads;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kring_core::Value as Cell;
use kring_core::schema::ColumnType;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::process::{Deployment, Server};
use crate::support::{Backend, unique};

/// Kill cycles per run: enough to land kills in every phase of a write, few enough for CI.
const KILL_CYCLES: usize = 4;
/// Clients writing at once.
const CLIENTS: usize = 3;

/// A write the server acknowledged: a complete 2xx response was received.
#[derive(Debug, Clone)]
struct Acked {
    key: String,
    method: Method,
    path: String,
    body: Option<Value>,
    status: StatusCode,
    answer: Value,
}

/// What one client was told, in order, and the state it expects to find afterwards.
#[derive(Debug, Default)]
struct ClientLog {
    acked: Vec<Acked>,
    /// Customer id → the description of its last acknowledged write.
    customers: BTreeMap<i64, String>,
    deleted: Vec<i64>,
    /// Task id → its name.
    tasks: BTreeMap<i64, String>,
    /// Requests that never got a 2xx within the bounded wait, and their last answer.
    stuck: Vec<String>,
}

/// Sends one write with `key` until it is acknowledged: connection errors (the server is down
/// or was killed mid-request), 409 (the key is still running) and 5xx are retried with the same
/// key and body. Gives up after a bounded wait, which the test then reports.
async fn until_acknowledged(
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Acked, String> {
    let key = unique("k-");
    let client = crate::support::client();
    let mut last = String::new();
    for _ in 0..400 {
        let mut request = client
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth(token)
            .header("idempotency-key", &key)
            .timeout(Duration::from_secs(10));
        if let Some(body) = &body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                // Acknowledged only once the whole body has arrived.
                match response.text().await {
                    Ok(text) if status.is_success() => {
                        return Ok(Acked {
                            key,
                            method,
                            path: path.to_string(),
                            body,
                            status,
                            answer: serde_json::from_str(&text).unwrap_or(Value::Null),
                        });
                    }
                    Ok(text) if status == StatusCode::CONFLICT || status.is_server_error() => {
                        last = format!("{status} {text}");
                    }
                    Ok(text) => return Err(format!("{method} {path}: refused {status} {text}")),
                    Err(e) => last = format!("body lost: {e}"),
                }
            }
            Err(e) => last = format!("no answer: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "{method} {path} key {key}: never acknowledged; last {last}"
    ))
}

/// One client's loop until `stop`: create a customer, update it, give it a task, and now and
/// then delete its oldest customer; each write retried until acknowledged.
async fn client_loop(base: String, token: String, stop: Arc<AtomicBool>) -> ClientLog {
    let mut log = ClientLog::default();
    let mut live: Vec<(i64, u32)> = Vec::new();
    let mut step = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let outcome = match step % 4 {
            0 => create_customer(&base, &token, &mut log, &mut live).await,
            1 => update_customer(&base, &token, &mut log, &mut live).await,
            2 => create_task(&base, &token, &mut log, &live).await,
            _ if step % 8 == 7 && live.len() > 1 => {
                delete_customer(&base, &token, &mut log, &mut live).await
            }
            _ => update_customer(&base, &token, &mut log, &mut live).await,
        };
        if let Err(stuck) = outcome {
            log.stuck.push(stuck);
            break;
        }
        step += 1;
    }
    log
}

async fn create_customer(
    base: &str,
    token: &str,
    log: &mut ClientLog,
    live: &mut Vec<(i64, u32)>,
) -> Result<(), String> {
    let name = unique("crash customer ");
    let body = json!({"name": name, "description": "v0"});
    let acked = until_acknowledged(base, token, Method::POST, "/api/customer", Some(body)).await?;
    let id = acked.answer["id"].as_i64().expect("a created id");
    log.customers.insert(id, "v0".into());
    live.push((id, 0));
    log.acked.push(acked);
    Ok(())
}

async fn update_customer(
    base: &str,
    token: &str,
    log: &mut ClientLog,
    live: &mut [(i64, u32)],
) -> Result<(), String> {
    let Some((id, version)) = live.last_mut() else {
        return Ok(());
    };
    *version += 1;
    let description = format!("v{version}");
    let path = format!("/api/customer/{id}");
    let body = json!({"description": description});
    let acked = until_acknowledged(base, token, Method::PATCH, &path, Some(body)).await?;
    log.customers.insert(*id, description);
    log.acked.push(acked);
    Ok(())
}

async fn create_task(
    base: &str,
    token: &str,
    log: &mut ClientLog,
    live: &[(i64, u32)],
) -> Result<(), String> {
    let name = unique("crash task ");
    let mut body = json!({"name": name});
    if let Some((customer, _)) = live.last() {
        body["customer_id"] = json!(customer);
    }
    let acked = until_acknowledged(base, token, Method::POST, "/api/task", Some(body)).await?;
    let id = acked.answer["id"].as_i64().expect("a created id");
    log.tasks.insert(id, name);
    log.acked.push(acked);
    Ok(())
}

async fn delete_customer(
    base: &str,
    token: &str,
    log: &mut ClientLog,
    live: &mut Vec<(i64, u32)>,
) -> Result<(), String> {
    let (id, _) = live.remove(0);
    let path = format!("/api/customer/{id}");
    let acked = until_acknowledged(base, token, Method::DELETE, &path, None).await?;
    log.customers.remove(&id);
    log.deleted.push(id);
    log.acked.push(acked);
    Ok(())
}

/// A random wait between `min` and `max` milliseconds, so kills land in every phase of a write.
pub fn random_wait(min: u64, max: u64) -> Duration {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random");
    Duration::from_millis(min + u64::from_le_bytes(bytes) % (max - min))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t68_t70_kill_9_under_write_load_loses_nothing_on_sqlite() {
    kill_9_under_write_load(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t69_t70_kill_9_under_write_load_loses_nothing_on_postgres() {
    kill_9_under_write_load(Backend::Postgres).await;
}

async fn kill_9_under_write_load(backend: Backend) {
    let Some(deployment) = Deployment::new(backend).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let mut server = deployment.serve(&[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (base, token) = (server.base.clone(), deployment.token.clone());
            tokio::spawn(client_loop(base, token, stop.clone()))
        })
        .collect();
    for _ in 0..KILL_CYCLES {
        tokio::time::sleep(random_wait(300, 900)).await;
        server.kill_9();
        server.restart().await;
    }
    // Let the clients finish what the last kill interrupted, on the restarted server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut logs = Vec::new();
    for client in clients {
        logs.push(client.await.expect("client"));
    }
    let stuck: Vec<&String> = logs.iter().flat_map(|l| &l.stuck).collect();
    assert!(stuck.is_empty(), "writes never acknowledged: {stuck:#?}");
    let acked: usize = logs.iter().map(|l| l.acked.len()).sum();
    eprintln!("{backend:?}: {acked} acknowledged writes over {KILL_CYCLES} kill -9 cycles");
    assert!(acked >= 10, "the clients wrote something: {acked}");

    for log in &logs {
        acknowledged_state_is_present(&server, &deployment.token, log).await;
        replays_equal_the_originals(&server, &deployment.token, log).await;
    }
    let db = deployment.db().await;
    exactly_one_row_per_acknowledged_create(&db, &logs).await;
    counters_equal_row_counts(&db).await;
    if backend == Backend::Sqlite {
        sqlite_is_intact(&db).await;
    }
    db.close().await;
}

/// C1: every acknowledged create is there with its last acknowledged content; every
/// acknowledged delete stays deleted.
async fn acknowledged_state_is_present(server: &Server, token: &str, log: &ClientLog) {
    for (id, description) in &log.customers {
        let (status, customer) = server.get(token, &format!("/api/customer/{id}")).await;
        assert_eq!(status, StatusCode::OK, "customer {id} was acknowledged");
        assert_eq!(customer["description"], *description, "customer {id}");
    }
    for id in &log.deleted {
        let (status, _) = server.get(token, &format!("/api/customer/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "customer {id} was deleted");
    }
    for (id, name) in &log.tasks {
        let (status, task) = server.get(token, &format!("/api/task/{id}")).await;
        assert_eq!(status, StatusCode::OK, "task {id} was acknowledged");
        assert_eq!(task["name"], *name, "task {id}");
    }
}

/// C3: the same key and body again is answered from the key, with the original's status and
/// body, and runs nothing.
async fn replays_equal_the_originals(server: &Server, token: &str, log: &ClientLog) {
    let client = crate::support::client();
    for acked in &log.acked {
        let mut request = client
            .request(
                acked.method.clone(),
                format!("{}{}", server.base, acked.path),
            )
            .bearer_auth(token)
            .header("idempotency-key", &acked.key);
        if let Some(body) = &acked.body {
            request = request.json(body);
        }
        let response = request.send().await.expect("replay");
        let status = response.status();
        let replayed = response.headers().get("idempotent-replayed").cloned();
        let text = response.text().await.expect("replayed body");
        let answer = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(
            (status, &answer),
            (acked.status, &acked.answer),
            "replay of {} {} (key {})",
            acked.method,
            acked.path,
            acked.key
        );
        assert_eq!(replayed.as_ref().map(|v| v.as_bytes()), Some(&b"true"[..]));
    }
}

/// C3: a create retried across crashes made exactly one row (names are unique per request), and
/// nothing unacknowledged is left over.
async fn exactly_one_row_per_acknowledged_create(db: &kring_server::Db, logs: &[ClientLog]) {
    for (table, expected) in [
        (
            "customers",
            logs.iter().flat_map(|l| l.customers.keys()).count(),
        ),
        ("tasks", logs.iter().flat_map(|l| l.tasks.keys()).count()),
    ] {
        let sql = match table {
            "customers" => "SELECT name, COUNT(*) FROM customers GROUP BY name",
            _ => "SELECT name, COUNT(*) FROM tasks GROUP BY name",
        };
        let rows = fetch(db, sql, &[ColumnType::Text, ColumnType::Int]).await;
        let per_name: HashMap<String, i64> = rows
            .into_iter()
            .filter_map(|r| match r.as_slice() {
                [Cell::Text(name), Cell::Int(n)] => Some((name.clone(), *n)),
                _ => None,
            })
            .collect();
        let repeated: Vec<_> = per_name.iter().filter(|(_, n)| **n != 1).collect();
        assert!(repeated.is_empty(), "{table} made twice: {repeated:?}");
        assert_eq!(
            per_name.len(),
            expected,
            "{table}: one row per acknowledged create"
        );
    }
}

/// C4: the counters behind an unfiltered list's `total` equal the rows they count.
async fn counters_equal_row_counts(db: &kring_server::Db) {
    let rows = fetch(
        db,
        "SELECT r.resource, r.total, \
         CASE r.resource \
           WHEN 'customer' THEN (SELECT COUNT(*) FROM customers c WHERE c.company_id = r.company_id) \
           WHEN 'task' THEN (SELECT COUNT(*) FROM tasks t WHERE t.company_id = r.company_id) \
         END \
         FROM resource_counts r WHERE r.resource IN ('customer', 'task')",
        &[ColumnType::Text, ColumnType::Int, ColumnType::Int],
    )
    .await;
    assert_eq!(rows.len(), 2, "both counters exist: {rows:?}");
    for row in rows {
        assert_eq!(row[1], row[2], "counter of {:?} against COUNT(*)", row[0]);
    }
}

/// C4 on SQLite: the file is intact and no foreign key dangles.
async fn sqlite_is_intact(db: &kring_server::Db) {
    let integrity = fetch(db, "PRAGMA integrity_check", &[ColumnType::Text]).await;
    assert_eq!(integrity, vec![vec![Cell::Text("ok".into())]]);
    let dangling = fetch(db, "PRAGMA foreign_key_check", &[ColumnType::Text]).await;
    assert!(dangling.is_empty(), "foreign keys dangle: {dangling:?}");
}

pub async fn fetch(
    db: &kring_server::Db,
    sql: &'static str,
    types: &[ColumnType],
) -> Vec<Vec<Cell>> {
    db.fetch(&kring_server::db::Raw::new(sql, vec![]), types)
        .await
        .expect(sql)
}
