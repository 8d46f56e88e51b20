//! Versioned migrations, one folder per engine, embedded in the binary. `kring migrate` and
//! `kring serve` apply them; applying twice is a no-op.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::Db;
use crate::error::Error;

/// (version, description, SQLite SQL, PostgreSQL SQL). Never edit an applied migration: add one.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../../migrations/sqlite/0001_foundation.sql"),
        include_str!("../../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "resources",
        include_str!("../../migrations/sqlite/0002_resources.sql"),
        include_str!("../../migrations/postgres/0002_resources.sql"),
    ),
    (
        3,
        "oauth",
        include_str!("../../migrations/sqlite/0003_oauth.sql"),
        include_str!("../../migrations/postgres/0003_oauth.sql"),
    ),
    (
        4,
        "idempotency",
        include_str!("../../migrations/sqlite/0004_idempotency.sql"),
        include_str!("../../migrations/postgres/0004_idempotency.sql"),
    ),
    (
        5,
        "events",
        include_str!("../../migrations/sqlite/0005_events.sql"),
        include_str!("../../migrations/postgres/0005_events.sql"),
    ),
    (
        6,
        "webhook deliveries",
        include_str!("../../migrations/sqlite/0006_webhook_deliveries.sql"),
        include_str!("../../migrations/postgres/0006_webhook_deliveries.sql"),
    ),
    (
        7,
        "webhook operations",
        include_str!("../../migrations/sqlite/0007_webhook_operations.sql"),
        include_str!("../../migrations/postgres/0007_webhook_operations.sql"),
    ),
    (
        8,
        "manageit",
        include_str!("../../migrations/sqlite/0008_manageit.sql"),
        include_str!("../../migrations/postgres/0008_manageit.sql"),
    ),
    (
        9,
        "webhook responses",
        include_str!("../../migrations/sqlite/0009_webhook_responses.sql"),
        include_str!("../../migrations/postgres/0009_webhook_responses.sql"),
    ),
    (
        10,
        "idempotent effects",
        include_str!("../../migrations/sqlite/0010_idempotent_effects.sql"),
        include_str!("../../migrations/postgres/0010_idempotent_effects.sql"),
    ),
];

fn migrator(postgres: bool) -> Migrator {
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
        .map(|(version, description, sqlite, pg)| {
            let sql = if postgres { *pg } else { *sqlite };
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    // sqlx builds this struct the same way in its `migrate!` macro; we list the files ourselves
    // to avoid compiling sqlx's proc-macro crate.
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Applies every pending migration (PostgreSQL: under sqlx's advisory lock, so instances
/// starting together migrate once). `crate::app::migrate` also brings the permission catalogue
/// up to date, as a server or `kring migrate` needs.
pub async fn migrate(db: &Db) -> Result<(), Error> {
    match db {
        Db::Sqlite { write, .. } => migrator(false).run(write).await?,
        Db::Postgres { pool, .. } => migrator(true).run(pool).await?,
    }
    Ok(())
}
