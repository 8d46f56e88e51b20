//! The two migration folders describe the same schema: the same tables, columns, nullability
//! and named indexes once both are applied. A migration added to one folder and not the other,
//! or written differently, fails here.

use std::collections::BTreeSet;

use kring_core::Value;
use kring_core::schema::ColumnType;
use kring_server::db::Raw;
use kring_server::{Db, db};

use crate::support::{Backend, fresh_database};

type Columns = BTreeSet<(String, String, bool)>;

fn text(value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        other => panic!("expected text, got {other:?}"),
    }
}

async fn migrated(backend: Backend) -> Option<Db> {
    let (url, _) = fresh_database(backend).await?;
    let db = Db::connect(&url).await.expect("connect");
    db::migrate(&db).await.expect("migrate");
    Some(db)
}

async fn columns(db: &Db, sql: &'static str) -> Columns {
    let rows = db
        .fetch(
            &Raw::new(sql, vec![]),
            &[ColumnType::Text, ColumnType::Text, ColumnType::Bool],
        )
        .await
        .expect("columns");
    rows.iter()
        .map(|r| (text(&r[0]), text(&r[1]), r[2] == Value::Bool(true)))
        .collect()
}

async fn names(db: &Db, sql: &'static str) -> BTreeSet<String> {
    let rows = db
        .fetch(&Raw::new(sql, vec![]), &[ColumnType::Text])
        .await
        .expect("names");
    rows.iter().map(|r| text(&r[0])).collect()
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_define_the_same_schema() {
    let Some(pg) = migrated(Backend::Postgres).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: schema parity not checked");
        return;
    };
    let sqlite = migrated(Backend::Sqlite).await.expect("sqlite");

    // A primary-key column is NOT NULL in PostgreSQL; SQLite reports it through `pk`.
    let sqlite_columns = columns(
        &sqlite,
        "SELECT m.name, p.name, (p.\"notnull\" = 1 OR p.pk > 0) FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
    )
    .await;
    let pg_columns = columns(
        &pg,
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT), is_nullable = 'NO' \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
    )
    .await;
    assert!(
        sqlite_columns.len() > 50,
        "the schema was read: {}",
        sqlite_columns.len()
    );
    let only_sqlite: Vec<_> = sqlite_columns.difference(&pg_columns).collect();
    let only_pg: Vec<_> = pg_columns.difference(&sqlite_columns).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_sqlite:?}\nonly in PostgreSQL: {only_pg:?}"
    );

    let sqlite_indexes = names(
        &sqlite,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .await;
    let pg_indexes = names(
        &pg,
        "SELECT CAST(indexname AS TEXT) FROM pg_indexes WHERE schemaname = current_schema() \
         AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' AND tablename <> '_sqlx_migrations'",
    )
    .await;
    assert!(!sqlite_indexes.is_empty());
    assert_eq!(sqlite_indexes, pg_indexes, "named indexes differ");
    sqlite.close().await;
    pg.close().await;
}
