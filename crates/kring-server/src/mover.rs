//! `kring move`: a whole SQLite deployment copied onto an empty PostgreSQL database, every
//! table with its ids, the sequences advanced past them, in one transaction (all of it or
//! nothing), and then verified: each table's row count and checksum, equal on both sides.
//!
//! The target's catalogue (`pg_catalog`: `information_schema` takes seconds on a server with
//! many schemas) is the source of the column lists: both engines' migrations make the
//! same tables and columns (the schema-parity test holds them to it), PostgreSQL says what each
//! column's type is, and the order of the copy follows its foreign keys.

use std::collections::BTreeMap;

use kring_core::Value;
use kring_core::schema::ColumnType;
use sha2::{Digest, Sha256};

use crate::db::{Backend, Db, Raw, bind};
use crate::error::Error;

/// Rows per read and per multi-row insert (PostgreSQL takes up to 65,535 bound values).
const PAGE: usize = 500;

/// One table as the target's catalogue describes it.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    columns: Vec<(String, ColumnType)>,
    key: Vec<String>,
    /// Nullable references into a table copied later (a reference cycle: a company's address
    /// belongs to the company): inserted as NULL, set once every table is in.
    deferred: Vec<String>,
}

/// Where a move is, for a progress display: the table, rows copied of its rows.
pub struct Progress<'a> {
    pub table: &'a str,
    pub done: u64,
    pub total: u64,
}

/// One table's verification: rows and checksum on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub table: String,
    pub source_rows: u64,
    pub target_rows: u64,
    pub source_checksum: String,
    pub target_checksum: String,
}

impl Verified {
    pub fn equal(&self) -> bool {
        self.source_rows == self.target_rows && self.source_checksum == self.target_checksum
    }
}

/// Tables migrations fill: the target's copies give way to the source's (the same rows, and
/// the ids the source's references use).
const SEEDED: [&str; 1] = ["permissions"];
const MIGRATIONS: &str = "_sqlx_migrations";

/// Kring's triggers derive rows the copy brings itself (an event's outbox deliveries, row
/// counters, data versions): they are off on every table while it copies, so nothing is
/// written twice (the references' system triggers stay on).
const TRIGGERS: &str = "TRIGGER USER";

/// Copies everything in `source` (SQLite) to `target` (PostgreSQL, migrated and empty), then
/// verifies it; every table's verification.
pub async fn move_all(
    source: &Db,
    target: &Db,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<Verified>, Error> {
    if source.backend() != Backend::Sqlite || target.backend() != Backend::Postgres {
        return Err(Error::Config(
            "kring move copies a SQLite database (--from sqlite://…) to PostgreSQL (--to postgres://…)"
                .into(),
        ));
    }
    same_migrations(source, target).await?;
    let tables = tables(target).await?;
    refuse_data(target, &tables).await?;
    let mut tx = target.begin().await?;
    for table in &tables {
        tx.execute(&Raw::owned(
            format!("ALTER TABLE \"{}\" DISABLE {TRIGGERS}", table.name),
            vec![],
        ))
        .await?;
    }
    let mut fixups = Vec::new();
    for seeded in SEEDED {
        tx.execute(&Raw::owned(format!("DELETE FROM \"{seeded}\""), vec![]))
            .await?;
    }
    for table in &tables {
        let total = count(source, &table.name).await?;
        let mut done = 0;
        progress(Progress {
            table: &table.name,
            done,
            total,
        });
        let mut after: Option<Vec<Value>> = None;
        loop {
            let mut rows = page(source, table, after.as_deref()).await?;
            let Some(last) = rows.last() else { break };
            after = Some(key_of(table, last));
            fixups.extend(defer(table, &mut rows));
            tx.execute(&insert(table, &rows)).await?;
            done += u64::try_from(rows.len()).unwrap_or(0);
            progress(Progress {
                table: &table.name,
                done,
                total,
            });
        }
        if table.columns.iter().any(|(name, _)| name == "id") && table.key == ["id"] {
            tx.execute(&Raw::owned(
                format!(
                    "SELECT setval(pg_get_serial_sequence('\"{0}\"', 'id'), \
                     COALESCE((SELECT MAX(id) FROM \"{0}\"), 0) + 1, false)",
                    table.name
                ),
                vec![],
            ))
            .await?;
        }
    }
    for fixup in &fixups {
        tx.execute(fixup).await?;
    }
    for table in &tables {
        tx.execute(&Raw::owned(
            format!("ALTER TABLE \"{}\" ENABLE {TRIGGERS}", table.name),
            vec![],
        ))
        .await?;
    }
    tx.commit().await?;
    verify(source, target, &tables).await
}

/// Empties `rows`' deferred columns; the updates that set them once every table is in.
fn defer(table: &Table, rows: &mut [Vec<Value>]) -> Vec<Raw> {
    let mut updates = Vec::new();
    for column in &table.deferred {
        let Some(at) = table.columns.iter().position(|(n, _)| n == column) else {
            continue;
        };
        let ty = column_type_of(table, column);
        for row in rows.iter_mut() {
            let Some(value) = row.get_mut(at) else {
                continue;
            };
            if *value == Value::Null {
                continue;
            }
            let kept = std::mem::replace(value, Value::Null);
            let key = key_of(table, row);
            let condition: Vec<String> = table.key.iter().map(|k| format!("\"{k}\" = ?")).collect();
            let mut values = vec![bind(&kept, ty)];
            values.extend(
                key.iter()
                    .zip(&table.key)
                    .map(|(v, k)| bind(v, column_type_of(table, k))),
            );
            updates.push(Raw::owned(
                format!(
                    "UPDATE \"{}\" SET \"{column}\" = ? WHERE {}",
                    table.name,
                    condition.join(" AND ")
                ),
                values,
            ));
        }
    }
    updates
}

/// Row counts and checksums of every table on both sides.
pub async fn verify(source: &Db, target: &Db, tables: &[Table]) -> Result<Vec<Verified>, Error> {
    let mut verified = Vec::new();
    for table in tables {
        let (source_rows, source_checksum) = checksum(source, table).await?;
        let (target_rows, target_checksum) = checksum(target, table).await?;
        verified.push(Verified {
            table: table.name.clone(),
            source_rows,
            target_rows,
            source_checksum,
            target_checksum,
        });
    }
    Ok(verified)
}

async fn same_migrations(source: &Db, target: &Db) -> Result<(), Error> {
    let (from, to) = (
        latest_migration(source).await?,
        latest_migration(target).await?,
    );
    if from != to {
        return Err(Error::Config(format!(
            "the source is at migration {from:?} and the target at {to:?}: run kring migrate on the source first"
        )));
    }
    Ok(())
}

async fn latest_migration(db: &Db) -> Result<Option<i64>, Error> {
    let rows = db
        .fetch(
            &Raw::new("SELECT MAX(version) FROM _sqlx_migrations", vec![]),
            &[ColumnType::Int],
        )
        .await?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_int))
}

/// The target's tables, parents before the tables that reference them.
pub async fn tables(target: &Db) -> Result<Vec<Table>, Error> {
    let columns = target
        .fetch(
            &Raw::new(
                "SELECT cl.relname, a.attname, format_type(a.atttypid, a.atttypmod) \
                 FROM pg_attribute a JOIN pg_class cl ON cl.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = cl.relnamespace \
                 WHERE n.nspname = current_schema() AND cl.relkind = 'r' AND a.attnum > 0 \
                 AND NOT a.attisdropped ORDER BY cl.relname, a.attnum",
                vec![],
            ),
            &[ColumnType::Text, ColumnType::Text, ColumnType::Text],
        )
        .await?;
    let mut described: BTreeMap<String, Table> = BTreeMap::new();
    for row in columns {
        let [Value::Text(table), Value::Text(column), Value::Text(ty)] = row.as_slice() else {
            continue;
        };
        if table == MIGRATIONS {
            continue;
        }
        let ty = column_type(ty)?;
        described
            .entry(table.clone())
            .or_insert_with(|| Table {
                name: table.clone(),
                columns: Vec::new(),
                key: Vec::new(),
                deferred: Vec::new(),
            })
            .columns
            .push((column.clone(), ty));
    }
    let keys = target
        .fetch(
            &Raw::new(
                "SELECT cl.relname, a.attname FROM pg_index i \
                 JOIN pg_class cl ON cl.oid = i.indrelid \
                 JOIN pg_namespace n ON n.oid = cl.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                 WHERE i.indisprimary AND n.nspname = current_schema() \
                 ORDER BY cl.relname, array_position(i.indkey::int2[], a.attnum)",
                vec![],
            ),
            &[ColumnType::Text, ColumnType::Text],
        )
        .await?;
    for row in keys {
        if let [Value::Text(table), Value::Text(column)] = row.as_slice()
            && let Some(described) = described.get_mut(table)
        {
            described.key.push(column.clone());
        }
    }
    let references = target
        .fetch(
            &Raw::new(
                "SELECT child.relname, a.attname, parent.relname, \
                 CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END \
                 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
                 JOIN pg_class child ON child.oid = c.conrelid \
                 JOIN pg_class parent ON parent.oid = c.confrelid \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) \
                 WHERE c.contype = 'f' AND n.nspname = current_schema()",
                vec![],
            ),
            &[
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Text,
            ],
        )
        .await?;
    let mut references_of: BTreeMap<String, Vec<Reference>> = BTreeMap::new();
    for row in references {
        if let [
            Value::Text(child),
            Value::Text(column),
            Value::Text(parent),
            Value::Text(nullable),
        ] = row.as_slice()
            && child != parent
        {
            references_of
                .entry(child.clone())
                .or_default()
                .push(Reference {
                    column: column.clone(),
                    parent: parent.clone(),
                    nullable: nullable == "YES",
                });
        }
    }
    if let Some(keyless) = described.values().find(|t| t.key.is_empty()) {
        return Err(Error::Internal(format!(
            "{} has no primary key",
            keyless.name
        )));
    }
    ordered(described, &references_of)
}

/// One foreign key column of a table.
struct Reference {
    column: String,
    parent: String,
    nullable: bool,
}

/// Tables in an order where each comes after every table it references; where references go
/// round, a table whose references into the rest are all nullable goes first, those columns
/// deferred.
fn ordered(
    mut tables: BTreeMap<String, Table>,
    references: &BTreeMap<String, Vec<Reference>>,
) -> Result<Vec<Table>, Error> {
    let mut order: Vec<Table> = Vec::new();
    while !tables.is_empty() {
        let waiting_on = |name: &str, tables: &BTreeMap<String, Table>| -> Vec<&Reference> {
            references
                .get(name)
                .map(|refs| {
                    refs.iter()
                        .filter(|r| tables.contains_key(&r.parent))
                        .collect()
                })
                .unwrap_or_default()
        };
        let ready: Vec<String> = tables
            .keys()
            .filter(|name| waiting_on(name, &tables).is_empty())
            .cloned()
            .collect();
        if ready.is_empty() {
            let breakable = tables
                .keys()
                .find(|name| waiting_on(name, &tables).iter().all(|r| r.nullable))
                .cloned()
                .ok_or_else(|| {
                    Error::Internal(format!(
                        "the tables' references go round through required columns: {:?}",
                        tables.keys().collect::<Vec<_>>()
                    ))
                })?;
            let deferred: Vec<String> = waiting_on(&breakable, &tables)
                .iter()
                .map(|r| r.column.clone())
                .collect();
            if let Some(mut table) = tables.remove(&breakable) {
                table.deferred = deferred;
                order.push(table);
            }
            continue;
        }
        for name in ready {
            if let Some(table) = tables.remove(&name) {
                order.push(table);
            }
        }
    }
    Ok(order)
}

fn column_type(data_type: &str) -> Result<ColumnType, Error> {
    Ok(match data_type {
        "bigint" | "integer" | "smallint" => ColumnType::Int,
        "boolean" => ColumnType::Bool,
        "double precision" | "real" | "numeric" => ColumnType::Float,
        "text" | "character varying" => ColumnType::Text,
        "timestamp with time zone" => ColumnType::Timestamp,
        "date" => ColumnType::Date,
        other => {
            return Err(Error::Internal(format!(
                "kring move does not know the column type {other}"
            )));
        }
    })
}

/// Refuses a target holding any row besides what its migrations put there.
async fn refuse_data(target: &Db, tables: &[Table]) -> Result<(), Error> {
    for table in tables.iter().filter(|t| !SEEDED.contains(&t.name.as_str())) {
        if count(target, &table.name).await? > 0 {
            return Err(Error::Config(format!(
                "the target is not empty ({} has rows): kring move only fills a new database",
                table.name
            )));
        }
    }
    Ok(())
}

async fn count(db: &Db, table: &str) -> Result<u64, Error> {
    let rows = db
        .fetch(
            &Raw::owned(format!("SELECT COUNT(*) FROM \"{table}\""), vec![]),
            &[ColumnType::Int],
        )
        .await?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0))
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The next rows of `table` in key order, after the key `after` (from the start without one).
async fn page(db: &Db, table: &Table, after: Option<&[Value]>) -> Result<Vec<Vec<Value>>, Error> {
    let names: Vec<String> = table.columns.iter().map(|(n, _)| n.clone()).collect();
    let key = quoted_list(&table.key);
    let mut values = Vec::new();
    let condition = match after {
        Some(last) => {
            for (value, name) in last.iter().zip(&table.key) {
                let ty = column_type_of(table, name);
                values.push(bind(value, ty));
            }
            let marks = vec!["?"; table.key.len()].join(", ");
            format!("WHERE ({key}) > ({marks})")
        }
        None => String::new(),
    };
    let sql = format!(
        "SELECT {} FROM \"{}\" {condition} ORDER BY {key} LIMIT {PAGE}",
        quoted_list(&names),
        table.name
    );
    let types: Vec<ColumnType> = table.columns.iter().map(|(_, t)| *t).collect();
    db.fetch(&Raw::owned(sql, values), &types).await
}

fn column_type_of(table: &Table, name: &str) -> ColumnType {
    table
        .columns
        .iter()
        .find(|(n, _)| n == name)
        .map_or(ColumnType::Text, |(_, t)| *t)
}

fn key_of(table: &Table, row: &[Value]) -> Vec<Value> {
    table
        .key
        .iter()
        .filter_map(|name| {
            let at = table.columns.iter().position(|(n, _)| n == name)?;
            row.get(at).cloned()
        })
        .collect()
}

fn insert(table: &Table, rows: &[Vec<Value>]) -> Raw {
    let names: Vec<String> = table.columns.iter().map(|(n, _)| n.clone()).collect();
    let marks = format!("({})", vec!["?"; names.len()].join(", "));
    let mut values = Vec::with_capacity(rows.len() * names.len());
    for row in rows {
        for (value, (_, ty)) in row.iter().zip(&table.columns) {
            values.push(bind(value, *ty));
        }
    }
    Raw::owned(
        format!(
            "INSERT INTO \"{}\" ({}) VALUES {}",
            table.name,
            quoted_list(&names),
            vec![marks; rows.len()].join(", ")
        ),
        values,
    )
}

/// A table's rows and a checksum of their contents that does not depend on their order: the
/// sum of each row's SHA-256 (its first eight bytes), each row as its values' JSON.
async fn checksum(db: &Db, table: &Table) -> Result<(u64, String), Error> {
    let (mut rows, mut sum) = (0u64, 0u64);
    let mut after: Option<Vec<Value>> = None;
    loop {
        let page = page(db, table, after.as_deref()).await?;
        let Some(last) = page.last() else { break };
        after = Some(key_of(table, last));
        for row in &page {
            let json: Vec<serde_json::Value> = row.iter().map(Value::to_json).collect();
            let digest = Sha256::digest(serde_json::to_string(&json).unwrap_or_default());
            let mut first = [0u8; 8];
            first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
            sum = sum.wrapping_add(u64::from_be_bytes(first));
            rows += 1;
        }
    }
    Ok((rows, format!("{sum:016x}")))
}
