//! T78: `kring serve` killed with SIGKILL during its start-up migration, again and again at
//! different moments, over a fresh database; then a normal start completes, `kring migrate`
//! twice changes nothing, and the schema is at the last migration with every step applied
//! once.

use std::time::Duration;

use kring_core::Value as Cell;
use kring_core::schema::ColumnType;
use reqwest::StatusCode;
use serde_json::json;

use super::fetch;
use crate::process::{Deployment, Server, free_port};
use crate::support::Backend;

/// Moments after the spawn to kill at: from before the database is opened to mid-migration.
const KILL_AFTER_MS: [u64; 5] = [0, 15, 40, 80, 150];

/// The versions of the migration files, in order (each engine's folder has the same).
fn migration_versions() -> Vec<i64> {
    // Migrations 1 to 10 are per engine; from 11 on one file in the folder above serves both.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../kring-server/migrations");
    let mut versions: Vec<i64> = [root.to_string(), format!("{root}/sqlite")]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).expect("migrations folder").flatten())
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".sql")))
        .filter_map(|e| e.file_name().to_str()?.split('_').next()?.parse().ok())
        .collect();
    versions.sort();
    versions.dedup();
    versions
}

async fn applied_versions(deployment: &Deployment) -> Vec<Vec<Cell>> {
    let db = deployment.db().await;
    let rows = fetch(
        &db,
        "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        &[ColumnType::Int],
    )
    .await;
    db.close().await;
    rows
}

fn migrate(deployment: &Deployment) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kring"))
        .arg("migrate")
        .env("KRING_DATABASE_URL", &deployment.database_url)
        .output()
        .expect("run kring migrate");
    assert!(
        out.status.success(),
        "kring migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t78_kill_9_during_start_up_migration_recovers_on_sqlite() {
    killed_migration_recovers(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t78_kill_9_during_start_up_migration_recovers_on_postgres() {
    killed_migration_recovers(Backend::Postgres).await;
}

async fn killed_migration_recovers(backend: Backend) {
    let Some(deployment) = Deployment::unmigrated(backend).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    for delay in KILL_AFTER_MS {
        let mut server = Server::spawn(&deployment, &[], free_port());
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server.kill_9();
    }
    let server = deployment.serve(&[]).await;
    let (status, _) = server.get("no-token", "/api/customer").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the server answers");
    let expected: Vec<Vec<Cell>> = migration_versions()
        .into_iter()
        .map(|v| vec![Cell::Int(v)])
        .collect();
    assert_eq!(applied_versions(&deployment).await, expected);
    drop(server);

    migrate(&deployment);
    migrate(&deployment);
    assert_eq!(
        applied_versions(&deployment).await,
        expected,
        "migrate is a no-op"
    );
    usable_after_recovery(&deployment).await;
}

/// The recovered schema takes an owner, a token and a write.
async fn usable_after_recovery(deployment: &Deployment) {
    let db = deployment.db().await;
    kring_server::admin::create_user(
        &db,
        "After",
        "Owner",
        "after@crash.test",
        "password123",
        "company_owner",
    )
    .await
    .expect("a user");
    let token = kring_server::admin::create_token(&db, "after@crash.test", "t")
        .await
        .expect("a token");
    db.close().await;
    let server = deployment.serve(&[]).await;
    let (status, created) = server
        .post(&token, "/api/customer", json!({"name": "Recovered"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}
