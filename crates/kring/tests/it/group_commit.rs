//! Group commit (issue 15): concurrent writes share one `COMMIT`, and each is still its own
//! all-or-nothing unit, acknowledged only once its batch is on disk. The crash tests prove no
//! acknowledged write is lost; these prove the units stay apart inside a batch and a batch is
//! never left open.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::{Backend, TestApp, fresh_database};

backend_tests!(every_acknowledged_create_is_readable_at_once);

/// Creates sent at once are acknowledged only when they are committed: each one's show, on a
/// read connection, finds it the moment its 201 arrives, and the total counts every one.
async fn every_acknowledged_create_is_readable_at_once(app: TestApp) {
    let token = app.owner().await;
    let writes = (0..48).map(|n| {
        let (client, base, token) = (app.client.clone(), app.base.clone(), token.clone());
        tokio::spawn(async move {
            let created = client
                .post(format!("{base}/api/customer"))
                .bearer_auth(&token)
                .json(&json!({"name": format!("Together {n}")}))
                .send()
                .await
                .expect("a create");
            assert_eq!(created.status(), StatusCode::CREATED);
            let id = created.json::<serde_json::Value>().await.expect("JSON")["id"]
                .as_i64()
                .expect("id");
            let shown = client
                .get(format!("{base}/api/customer/{id}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("a show");
            assert_eq!(
                shown.status(),
                StatusCode::OK,
                "{id} not readable once acknowledged"
            );
            id
        })
    });
    let mut ids = Vec::new();
    for write in writes.collect::<Vec<_>>() {
        ids.push(write.await.expect("a writer"));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 48);
    let (status, list) = app.get(&token, "/api/customer?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 48);
}

/// Units that commit, units that roll back, units dropped mid-way and one abandoned while it
/// holds the writer, all at once on SQLite's one writer: exactly the committed ones are kept,
/// every commit is acknowledged, and the write lock is free afterwards (another connection
/// takes it at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_in_one_batch_keep_or_undo_only_their_own_work() {
    let (url, dir) = fresh_database(Backend::Sqlite).await.expect("sqlite");
    let db = kring_server::Db::connect(&url).await.expect("connect");
    kring_server::migrate(&db).await.expect("migrate");
    let units = (0..40).map(|n| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await.expect("begin");
            tx.execute(&kring_server::db::Raw::owned(
                "INSERT INTO storage_probe (filler) VALUES (?)".into(),
                vec![format!("unit {n}").into()],
            ))
            .await
            .expect("insert");
            match n % 4 {
                0 | 1 => tx.commit().await.map(|()| Some(n)),
                2 => tx.rollback().await.map(|()| None),
                _ => Ok(None),
            }
        })
    });
    let mut kept = Vec::new();
    for unit in units.collect::<Vec<_>>() {
        if let Some(n) = unit.await.expect("a unit").expect("acknowledged") {
            kept.push(format!("unit {n}"));
        }
    }
    // A unit whose request goes away while it holds the writer.
    let abandoned = tokio::time::timeout(Duration::from_millis(200), async {
        let mut tx = db.begin().await.expect("begin");
        tx.execute(&kring_server::db::Raw::new(
            "INSERT INTO storage_probe (filler) VALUES ('abandoned')",
            vec![],
        ))
        .await
        .expect("insert");
        std::future::pending::<()>().await;
    })
    .await;
    assert!(abandoned.is_err(), "the unit was cut off");

    let path = kring_server::backup::sqlite_file(&url)
        .expect("a file")
        .expect("sqlite");
    let mut other = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .busy_timeout(Duration::from_secs(2));
    other = other.read_only(false);
    let mut other = sqlx::ConnectOptions::connect(&other).await.expect("open");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("the write lock is free: no batch was left open");
    let mut stored: Vec<String> = sqlx::query_scalar("SELECT filler FROM storage_probe")
        .fetch_all(&mut other)
        .await
        .expect("read");
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("rollback");
    stored.sort();
    kept.sort();
    assert_eq!(stored, kept);
    db.close().await;
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A full disk can make SQLite end the whole batch on its own, savepoints and all: the unit
/// that found it so fails (507), and the next unit, even one that takes the writer before
/// anything else runs (one thread), starts a batch afresh instead of failing on the old one.
#[tokio::test]
async fn a_unit_after_sqlite_ended_the_batch_on_its_own_starts_afresh() {
    use kring_server::db::Raw;
    let (url, dir) = fresh_database(Backend::Sqlite).await.expect("sqlite");
    let db = kring_server::Db::connect(&url).await.expect("connect");
    kring_server::migrate(&db).await.expect("migrate");
    let pages: Vec<(i64,)> = db
        .fetch_as(&Raw::new("PRAGMA page_count", vec![]))
        .await
        .expect("pages");
    let mut tx = db.begin().await.expect("begin");
    tx.execute(&Raw::owned(
        format!("PRAGMA max_page_count = {}", pages[0].0),
        vec![],
    ))
    .await
    .expect("cap");
    tx.commit().await.expect("commit");
    let filler = "x".repeat(64 * 1024);
    let mut tx = db.begin().await.expect("begin");
    let full = tx
        .execute(&Raw::new(
            "INSERT INTO storage_probe (filler) VALUES (?)",
            vec![filler.clone().into()],
        ))
        .await;
    assert!(
        matches!(full, Err(kring_server::error::Error::StorageFull)),
        "{full:?}"
    );
    drop(tx);
    let mut tx = db.begin().await.expect("the next unit begins");
    tx.execute(&Raw::new("PRAGMA max_page_count = 1000000", vec![]))
        .await
        .expect("room");
    tx.commit().await.expect("commit");
    let mut tx = db.begin().await.expect("begin");
    tx.execute(&Raw::new(
        "INSERT INTO storage_probe (filler) VALUES (?)",
        vec![filler.into()],
    ))
    .await
    .expect("a write fits again");
    tx.commit().await.expect("commit");
    db.close().await;
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}
