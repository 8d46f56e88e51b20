//! Versioned migrations, embedded in the binary. `kring migrate` and `kring serve` apply them;
//! applying twice is a no-op.
//!
//! Migrations 1 to 10 were written once per engine (`migrations/sqlite`, `migrations/postgres`)
//! and stay as they are: deployed databases hold their checksums. From 11 on a migration is
//! one file, `migrations/<version>_<name>.sql`, written with type tokens (`{id}`, `{int}`,
//! `{timestamp}`, …) that [`dialect::render_migration`] spells for each engine; what truly
//! differs (a trigger) goes into a file of the same name in the engine's folder, run after it.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};

use super::{Backend, Db, dialect};
use crate::error::Error;

/// How a migration is written.
enum Source {
    /// Once per engine (migrations 1 to 10, and 13: a table rebuild SQLite must run outside
    /// a transaction).
    PerEngine {
        sqlite: &'static str,
        postgres: &'static str,
    },
    /// Once, with type tokens, and what differs per engine after it.
    Portable {
        sql: &'static str,
        sqlite: Option<&'static str>,
        postgres: Option<&'static str>,
    },
}

impl Source {
    fn sql(&self, backend: Backend) -> Result<String, String> {
        match (self, backend) {
            (Source::PerEngine { sqlite, .. }, Backend::Sqlite) => Ok(sqlite.to_string()),
            (Source::PerEngine { postgres, .. }, Backend::Postgres) => Ok(postgres.to_string()),
            (
                Source::Portable {
                    sql,
                    sqlite,
                    postgres,
                },
                _,
            ) => {
                let extra = match backend {
                    Backend::Sqlite => sqlite,
                    Backend::Postgres => postgres,
                };
                let mut rendered = dialect::render_migration(sql, backend)?;
                if let Some(extra) = extra {
                    rendered.push('\n');
                    rendered.push_str(extra);
                }
                Ok(rendered)
            }
        }
    }
}

/// (version, description, SQL). Never edit an applied migration: add one.
const MIGRATIONS: &[(i64, &str, Source)] = &[
    (
        1,
        "foundation",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0001_foundation.sql"),
            postgres: include_str!("../../migrations/postgres/0001_foundation.sql"),
        },
    ),
    (
        2,
        "resources",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0002_resources.sql"),
            postgres: include_str!("../../migrations/postgres/0002_resources.sql"),
        },
    ),
    (
        3,
        "oauth",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0003_oauth.sql"),
            postgres: include_str!("../../migrations/postgres/0003_oauth.sql"),
        },
    ),
    (
        4,
        "idempotency",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0004_idempotency.sql"),
            postgres: include_str!("../../migrations/postgres/0004_idempotency.sql"),
        },
    ),
    (
        5,
        "events",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0005_events.sql"),
            postgres: include_str!("../../migrations/postgres/0005_events.sql"),
        },
    ),
    (
        6,
        "webhook deliveries",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0006_webhook_deliveries.sql"),
            postgres: include_str!("../../migrations/postgres/0006_webhook_deliveries.sql"),
        },
    ),
    (
        7,
        "webhook operations",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0007_webhook_operations.sql"),
            postgres: include_str!("../../migrations/postgres/0007_webhook_operations.sql"),
        },
    ),
    (
        8,
        "manageit",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0008_manageit.sql"),
            postgres: include_str!("../../migrations/postgres/0008_manageit.sql"),
        },
    ),
    (
        9,
        "webhook responses",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0009_webhook_responses.sql"),
            postgres: include_str!("../../migrations/postgres/0009_webhook_responses.sql"),
        },
    ),
    (
        10,
        "idempotent effects",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0010_idempotent_effects.sql"),
            postgres: include_str!("../../migrations/postgres/0010_idempotent_effects.sql"),
        },
    ),
    (
        11,
        "builtin roles",
        Source::Portable {
            sql: include_str!("../../migrations/0011_builtin_roles.sql"),
            sqlite: None,
            postgres: None,
        },
    ),
    (
        12,
        "storage probe",
        Source::Portable {
            sql: include_str!("../../migrations/0012_storage_probe.sql"),
            sqlite: None,
            postgres: None,
        },
    ),
    (
        13,
        "user email per company",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0013_user_email_per_company.sql"),
            postgres: include_str!("../../migrations/postgres/0013_user_email_per_company.sql"),
        },
    ),
    (
        14,
        "primary customers linked",
        Source::Portable {
            sql: include_str!("../../migrations/0014_primary_customers_linked.sql"),
            sqlite: None,
            postgres: None,
        },
    ),
    (
        15,
        "field value types",
        Source::Portable {
            sql: include_str!("../../migrations/0015_field_value_types.sql"),
            sqlite: None,
            postgres: None,
        },
    ),
    (
        16,
        "server keys",
        Source::Portable {
            sql: include_str!("../../migrations/0016_server_keys.sql"),
            sqlite: None,
            postgres: None,
        },
    ),
    (
        17,
        "sorted pages",
        Source::Portable {
            sql: include_str!("../../migrations/0017_sorted_pages.sql"),
            sqlite: None,
            postgres: None,
        },
    ),
    (
        18,
        "events fill the outbox",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0018_events_fill_the_outbox.sql"),
            postgres: include_str!("../../migrations/postgres/0018_events_fill_the_outbox.sql"),
        },
    ),
    (
        19,
        "data versions",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0019_data_versions.sql"),
            postgres: include_str!("../../migrations/postgres/0019_data_versions.sql"),
        },
    ),
    (
        20,
        "next contact nulls first",
        Source::PerEngine {
            sqlite: include_str!("../../migrations/sqlite/0020_next_contact_nulls_first.sql"),
            postgres: include_str!("../../migrations/postgres/0020_next_contact_nulls_first.sql"),
        },
    ),
    (
        21,
        "counts kept by triggers",
        Source::Portable {
            sql: include_str!("../../migrations/0021_counts_kept_by_triggers.sql"),
            sqlite: Some(include_str!(
                "../../migrations/sqlite/0021_counts_kept_by_triggers.sql"
            )),
            postgres: Some(include_str!(
                "../../migrations/postgres/0021_counts_kept_by_triggers.sql"
            )),
        },
    ),
];

fn migrator(backend: Backend) -> Result<Migrator, Error> {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, source)| {
            let sql = source
                .sql(backend)
                .map_err(|e| Error::Internal(format!("migration {version}: {e}")))?;
            // sqlx's own marker: the file opens and commits its transaction itself.
            let no_tx = sql.starts_with("-- no-transaction");
            Ok(Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                AssertSqlSafe(sql).into_sql_str(),
                no_tx,
            ))
        })
        .collect::<Result<Vec<Migration>, Error>>()?;
    // sqlx builds this struct the same way in its `migrate!` macro; we list the files ourselves
    // to avoid compiling sqlx's proc-macro crate.
    Ok(Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    })
}

/// Applies every pending migration (PostgreSQL: under sqlx's advisory lock, so instances
/// starting together migrate once). `crate::app::migrate` also brings the permission catalogue
/// up to date, as a server or `kring migrate` needs.
pub async fn migrate(db: &Db) -> Result<(), Error> {
    match db {
        Db::Sqlite { write, .. } => {
            let mut writer = write.exclusive().await?;
            migrator(Backend::Sqlite)?.run(writer.connection()?).await?
        }
        Db::Postgres { pool, .. } => {
            // A migration may rebuild an index over a large table: no statement budget here.
            let mut connection = pool.acquire().await?;
            sqlx::query("SET statement_timeout = 0")
                .execute(&mut *connection)
                .await?;
            let migrated = migrator(Backend::Postgres)?.run(&mut *connection).await;
            sqlx::query("RESET statement_timeout")
                .execute(&mut *connection)
                .await?;
            migrated?
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every migration renders on both engines, the per-engine ones exactly as written (their
    /// checksums in deployed databases must not change).
    #[test]
    fn every_migration_renders_on_both_engines() {
        for (version, _, source) in MIGRATIONS {
            for backend in [Backend::Sqlite, Backend::Postgres] {
                let sql = source
                    .sql(backend)
                    .unwrap_or_else(|e| panic!("{version}: {e}"));
                if let Source::PerEngine { sqlite, postgres } = source {
                    let written = if backend == Backend::Sqlite {
                        sqlite
                    } else {
                        postgres
                    };
                    assert_eq!(&sql, written, "{version}");
                }
            }
        }
    }

    #[test]
    fn a_portable_migration_is_rendered_then_followed_by_its_engines_part() {
        let source = Source::Portable {
            sql: "CREATE TABLE t (id {id}, at {timestamp});",
            sqlite: None,
            postgres: Some("CREATE TRIGGER t_changed AFTER UPDATE ON t EXECUTE FUNCTION f();"),
        };
        assert_eq!(
            source.sql(Backend::Sqlite).unwrap(),
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT);"
        );
        assert_eq!(
            source.sql(Backend::Postgres).unwrap(),
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at \
             TIMESTAMPTZ);\nCREATE TRIGGER t_changed AFTER UPDATE ON t EXECUTE FUNCTION f();"
        );
    }
}
