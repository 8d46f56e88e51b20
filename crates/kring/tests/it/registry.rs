//! The resource registry (`kring_server::registry::REGISTRY`) against what it describes: the
//! real migrated schema on SQLite and PostgreSQL, the other side of every relation, and the
//! English and Dutch catalogues. Each test collects every mismatch before failing, so one run
//! shows them all. Known, genuine differences are listed in commented allow-lists; an entry that
//! no longer matches anything fails too, so the lists cannot go stale.

use std::collections::{BTreeMap, BTreeSet};

use kring_core::Value;
use kring_core::i18n::{self, Locale};
use kring_core::resource::{Relation, RelationKind, ResourceDef, Routes};
use kring_core::schema::{Column, ColumnType, OnDelete};
use kring_server::db::{Backend as Engine, Raw};
use kring_server::registry::{self, REGISTRY};
use kring_server::{Db, db};

use crate::support::{Backend, fresh_database};

// ---------------------------------------------------------------------------------------------
// The schema as the database reports it.

struct DbColumn {
    /// The declared type: SQLite's `PRAGMA table_info.type`, PostgreSQL's
    /// `information_schema.columns.data_type`.
    ty: String,
    not_null: bool,
}

struct ForeignKey {
    column: String,
    table: String,
    to: String,
    on_delete: String,
}

#[derive(Default)]
struct Table {
    columns: BTreeMap<String, DbColumn>,
    primary_key: BTreeSet<String>,
    foreign_keys: Vec<ForeignKey>,
}

impl Table {
    fn foreign_key(&self, column: &str) -> Option<&ForeignKey> {
        self.foreign_keys.iter().find(|fk| fk.column == column)
    }
}

type Schema = BTreeMap<String, Table>;

fn text(value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        Value::Null => String::new(),
        other => format!("{other:?}"),
    }
}

fn int(value: &Value) -> i64 {
    match value {
        Value::Int(i) => *i,
        _ => 0,
    }
}

async fn fetch(db: &Db, sql: String, types: &[ColumnType]) -> Vec<Vec<Value>> {
    // Only Kring's own table names (from the registry) are formatted into `sql`.
    db.fetch(&Raw::owned(sql.clone(), vec![]), types)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}

/// SQLite: `PRAGMA table_info` and `PRAGMA foreign_key_list` of each of `tables`. A table that
/// does not exist has no `table_info` rows and is left out.
async fn sqlite_schema(db: &Db, tables: &[&str]) -> Schema {
    use ColumnType::{Int, Text};
    let mut schema = Schema::new();
    for name in tables {
        // cid, name, type, notnull, dflt_value, pk
        let info = fetch(
            db,
            format!("PRAGMA table_info(\"{name}\")"),
            &[Int, Text, Text, Int, Text, Int],
        )
        .await;
        if info.is_empty() {
            continue;
        }
        let mut table = Table::default();
        for row in &info {
            let column = text(&row[1]);
            if int(&row[5]) > 0 {
                table.primary_key.insert(column.clone());
            }
            // An INTEGER PRIMARY KEY reports notnull = 0 but can never hold NULL (it is the rowid).
            let not_null = int(&row[3]) == 1 || int(&row[5]) > 0;
            let ty = text(&row[2]);
            table.columns.insert(column, DbColumn { ty, not_null });
        }
        // id, seq, table, from, to, on_update, on_delete, match
        let keys = fetch(
            db,
            format!("PRAGMA foreign_key_list(\"{name}\")"),
            &[Int, Int, Text, Text, Text, Text, Text, Text],
        )
        .await;
        let mut composite: BTreeMap<i64, usize> = BTreeMap::new();
        for row in &keys {
            *composite.entry(int(&row[0])).or_default() += 1;
        }
        for row in &keys {
            // Registry references are single columns; a composite key says nothing about one.
            if composite.get(&int(&row[0])) != Some(&1) {
                continue;
            }
            table.foreign_keys.push(ForeignKey {
                column: text(&row[3]),
                table: text(&row[2]),
                to: text(&row[4]),
                on_delete: text(&row[6]),
            });
        }
        schema.insert((*name).to_string(), table);
    }
    schema
}

/// PostgreSQL: the columns of `information_schema.columns`, and primary and foreign keys from
/// `pg_catalog.pg_constraint` (constraint names are unique per table, not per schema, so
/// joining the `information_schema` views by name could mix up two tables' keys), all for
/// `current_schema()`, the test's own schema.
async fn postgres_schema(db: &Db) -> Schema {
    use ColumnType::{Bool, Text};
    let mut schema = Schema::new();
    let columns = fetch(
        db,
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT), CAST(data_type AS TEXT), \
         is_nullable = 'NO' \
         FROM information_schema.columns WHERE table_schema = current_schema()"
            .to_string(),
        &[Text, Text, Text, Bool],
    )
    .await;
    for row in &columns {
        schema.entry(text(&row[0])).or_default().columns.insert(
            text(&row[1]),
            DbColumn {
                ty: text(&row[2]),
                not_null: row[3] == Value::Bool(true),
            },
        );
    }
    let primary_keys = fetch(
        db,
        "SELECT CAST(t.relname AS TEXT), CAST(a.attname AS TEXT) \
         FROM pg_catalog.pg_constraint c \
         JOIN pg_catalog.pg_class t ON t.oid = c.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
         WHERE c.contype = 'p' AND n.nspname = current_schema()"
            .to_string(),
        &[Text, Text],
    )
    .await;
    for row in &primary_keys {
        schema
            .entry(text(&row[0]))
            .or_default()
            .primary_key
            .insert(text(&row[1]));
    }
    let foreign_keys = fetch(
        db,
        "SELECT CAST(src.relname AS TEXT), CAST(sa.attname AS TEXT), CAST(dst.relname AS TEXT), \
         CAST(da.attname AS TEXT), \
         CAST(CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' \
              WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' \
              ELSE 'UNKNOWN' END AS TEXT) \
         FROM pg_catalog.pg_constraint c \
         JOIN pg_catalog.pg_class src ON src.oid = c.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = src.relnamespace \
         JOIN pg_catalog.pg_class dst ON dst.oid = c.confrelid \
         JOIN pg_catalog.pg_attribute sa ON sa.attrelid = c.conrelid AND sa.attnum = c.conkey[1] \
         JOIN pg_catalog.pg_attribute da ON da.attrelid = c.confrelid AND da.attnum = c.confkey[1] \
         WHERE c.contype = 'f' AND n.nspname = current_schema() AND cardinality(c.conkey) = 1"
            .to_string(),
        &[Text, Text, Text, Text, Text],
    )
    .await;
    for row in &foreign_keys {
        schema
            .entry(text(&row[0]))
            .or_default()
            .foreign_keys
            .push(ForeignKey {
                column: text(&row[1]),
                table: text(&row[2]),
                to: text(&row[3]),
                on_delete: text(&row[4]),
            });
    }
    schema
}

// ---------------------------------------------------------------------------------------------
// What the registry implies for the schema.

/// The declared types a column of `ty` may have: exactly what the migrations
/// (`crates/kring-server/migrations/{sqlite,postgres}`) write for it. SQLite keeps timestamps
/// and dates as fixed-width TEXT (`0001_foundation.sql`); JSON is TEXT on both engines (no
/// `JSON`/`JSONB` column exists); PostgreSQL integers are all BIGINT, which the storage layer
/// decodes as `i64` (an INTEGER column would not decode).
fn accepted_types(engine: Engine, ty: ColumnType) -> &'static [&'static str] {
    use ColumnType::*;
    match (engine, ty) {
        (Engine::Sqlite, Int) => &["INTEGER"],
        (Engine::Sqlite, Float) => &["REAL"],
        (Engine::Sqlite, Bool) => &["BOOLEAN"],
        (Engine::Sqlite, Text | Json | Timestamp | Date) => &["TEXT"],
        (Engine::Postgres, Int) => &["bigint"],
        (Engine::Postgres, Float) => &["double precision"],
        (Engine::Postgres, Bool) => &["boolean"],
        (Engine::Postgres, Text | Json) => &["text"],
        (Engine::Postgres, Timestamp) => &["timestamp with time zone"],
        (Engine::Postgres, Date) => &["date"],
    }
}

/// The database `ON DELETE` actions that agree with a reference's `on_delete`. The engine carries
/// out `on_delete` itself before it deletes a row (`engine::write::delete_records`), and the
/// migrations write business references as plain `REFERENCES` (NO ACTION), "the foreign key only
/// catches a mistake" (`0002_resources.sql`). So NO ACTION always agrees; otherwise the database
/// may only do what the description says, and never cascade a business reference (a database
/// cascade would skip the engine's row counters, events and activity log).
fn accepted_on_delete(on_delete: OnDelete) -> &'static [&'static str] {
    match on_delete {
        OnDelete::Detach => &["NO ACTION", "SET NULL"],
        OnDelete::Cascade => &["NO ACTION"],
        OnDelete::Restrict => &["NO ACTION", "RESTRICT"],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    MissingTable,
    MissingColumn,
    Type,
    Nullability,
    PrimaryKey,
    ForeignKey,
    OnDelete,
    Tenant,
    Pivot,
    /// A relation key the engine does not manage on delete (no `references`), which the database
    /// must then cascade, or a delete of the parent fails or leaves orphans.
    UnmanagedKey,
}

struct Mismatch {
    table: &'static str,
    column: &'static str,
    kind: Kind,
    detail: String,
}

/// Genuine, understood differences between the registry and the schema: (table, column, kind,
/// why). Each entry must match a mismatch on every engine checked.
const KNOWN_SCHEMA_MISMATCHES: &[(&str, &str, Kind, &str)] = &[
    // activity_log.causer_id (registry/defs/activity_log.rs: `int("causer_id")`, relation
    // `causer` → user) has no foreign key at all (migrations/*/0001_foundation.sql, table
    // activity_log): the log keeps a deleted user's entries, their causer dangling, as
    // spatie/laravel-activitylog does.
    (
        "activity_log",
        "causer_id",
        Kind::UnmanagedKey,
        "the log outlives its causer",
    ),
];

fn target(relation: &Relation) -> Option<&'static ResourceDef> {
    registry::find(relation.target)
}

fn check_schema(schema: &Schema, engine: Engine) -> Vec<Mismatch> {
    let mut found = Vec::new();
    let mut report = |table: &'static str, column: &'static str, kind: Kind, detail: String| {
        found.push(Mismatch {
            table,
            column,
            kind,
            detail,
        });
    };
    let pretty = |column: &DbColumn| {
        format!(
            "{} {}",
            column.ty,
            if column.not_null { "NOT NULL" } else { "NULL" }
        )
    };

    for def in REGISTRY {
        let Some(table) = schema.get(def.table) else {
            report(
                def.table,
                "",
                Kind::MissingTable,
                format!("the table of {} does not exist", def.name),
            );
            continue;
        };

        if def.column("id").is_some() {
            let expected = BTreeSet::from(["id".to_string()]);
            if table.primary_key != expected {
                report(
                    def.table,
                    "id",
                    Kind::PrimaryKey,
                    format!("primary key is {:?}, not (id)", table.primary_key),
                );
            }
        }

        for column in def.columns {
            let Some(actual) = table.columns.get(column.name) else {
                report(
                    def.table,
                    column.name,
                    Kind::MissingColumn,
                    format!("{}.{} has no column", def.name, column.name),
                );
                continue;
            };
            let accepted = accepted_types(engine, column.ty);
            if !accepted.iter().any(|t| t.eq_ignore_ascii_case(&actual.ty)) {
                report(
                    def.table,
                    column.name,
                    Kind::Type,
                    format!(
                        "{:?} is declared {}, not {accepted:?}",
                        column.ty, actual.ty
                    ),
                );
            }
            if column.nullable == actual.not_null {
                report(
                    def.table,
                    column.name,
                    Kind::Nullability,
                    format!(
                        "registry says {} (required: {}), database says {}",
                        if column.nullable {
                            "nullable"
                        } else {
                            "not null"
                        },
                        column.required,
                        pretty(actual)
                    ),
                );
            }
            if let Some(referenced) = column.references {
                check_reference(table, def.table, column, referenced, actual, &mut report);
            }
        }

        let company_id = table.columns.get("company_id");
        match (def.tenant, company_id) {
            (true, None) => report(
                def.table,
                "company_id",
                Kind::Tenant,
                "a tenant resource without company_id".into(),
            ),
            (false, Some(_)) => report(
                def.table,
                "company_id",
                Kind::Tenant,
                "a shared resource (tenant: false) with a company_id".into(),
            ),
            (true, Some(actual)) => {
                if !actual.not_null
                    || !accepted_types(engine, ColumnType::Int)
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(&actual.ty))
                {
                    report(
                        def.table,
                        "company_id",
                        Kind::Tenant,
                        format!("company_id is {}", pretty(actual)),
                    );
                }
                // Deleting a company deletes everything it owns: the database does that.
                match table.foreign_key("company_id") {
                    Some(fk)
                        if fk.table == "companies"
                            && fk.to == "id"
                            && fk.on_delete == "CASCADE" => {}
                    other => report(
                        def.table,
                        "company_id",
                        Kind::Tenant,
                        format!(
                            "expected REFERENCES companies(id) ON DELETE CASCADE, found {}",
                            describe(other)
                        ),
                    ),
                }
            }
            (false, None) => {}
        }

        for relation in def.relations {
            match relation.kind {
                RelationKind::ManyToMany {
                    pivot,
                    own_key,
                    other_key,
                } => {
                    let Some(pivot_table) = schema.get(pivot) else {
                        report(
                            pivot,
                            "",
                            Kind::MissingTable,
                            format!("pivot of {}.{}", def.name, relation.name),
                        );
                        continue;
                    };
                    let other_table = target(relation).map_or("", |t| t.table);
                    for (key, points_to) in [(own_key, def.table), (other_key, other_table)] {
                        check_pivot_key(pivot_table, pivot, key, points_to, engine, &mut report);
                    }
                }
                // The engine deletes or detaches only what a `references` column names; any other
                // relation key is the database's to cascade.
                RelationKind::BelongsTo { key } => {
                    let unmanaged = def.column(key).is_some_and(|c| c.references.is_none());
                    if let (true, Some(parent)) = (unmanaged, target(relation)) {
                        check_unmanaged_key(table, def.table, key, parent.table, &mut report);
                    }
                }
                RelationKind::HasMany { key } => {
                    let Some(child) = target(relation) else {
                        continue;
                    };
                    let unmanaged = child.column(key).is_some_and(|c| c.references.is_none());
                    if let (true, Some(child_table)) = (unmanaged, schema.get(child.table)) {
                        check_unmanaged_key(child_table, child.table, key, def.table, &mut report);
                    }
                }
                RelationKind::Morph { .. } => {}
            }
        }
    }

    // A key checked from both sides (BelongsTo and the HasMany back) is reported once.
    let mut seen = BTreeSet::new();
    found.retain(|m| seen.insert((m.table, m.column, m.kind, m.detail.clone())));
    found
}

fn describe(fk: Option<&ForeignKey>) -> String {
    match fk {
        Some(fk) => format!(
            "REFERENCES {}({}) ON DELETE {}",
            fk.table, fk.to, fk.on_delete
        ),
        None => "no foreign key".into(),
    }
}

fn check_reference(
    table: &Table,
    table_name: &'static str,
    column: &'static Column,
    referenced: &'static str,
    actual: &DbColumn,
    report: &mut impl FnMut(&'static str, &'static str, Kind, String),
) {
    let fk = table.foreign_key(column.name);
    let Some(fk) = fk.filter(|fk| fk.table == referenced && fk.to == "id") else {
        report(
            table_name,
            column.name,
            Kind::ForeignKey,
            format!("references {referenced}(id), database has {}", describe(fk)),
        );
        return;
    };
    let accepted = accepted_on_delete(column.on_delete);
    if !accepted.contains(&fk.on_delete.as_str()) {
        report(
            table_name,
            column.name,
            Kind::OnDelete,
            format!(
                "on_delete {:?} wants ON DELETE {accepted:?}, database has ON DELETE {}",
                column.on_delete, fk.on_delete
            ),
        );
    }
    if column.on_delete == OnDelete::Detach && actual.not_null {
        report(
            table_name,
            column.name,
            Kind::OnDelete,
            "detached on delete, but NOT NULL in the database".into(),
        );
    }
}

fn check_pivot_key(
    pivot_table: &Table,
    pivot: &'static str,
    key: &'static str,
    points_to: &'static str,
    engine: Engine,
    report: &mut impl FnMut(&'static str, &'static str, Kind, String),
) {
    let Some(actual) = pivot_table.columns.get(key) else {
        report(
            pivot,
            key,
            Kind::Pivot,
            "the pivot has no such column".into(),
        );
        return;
    };
    let int_types = accepted_types(engine, ColumnType::Int);
    if !actual.not_null || !int_types.iter().any(|t| t.eq_ignore_ascii_case(&actual.ty)) {
        report(
            pivot,
            key,
            Kind::Pivot,
            format!(
                "pivot key is {} {}, not a NOT NULL integer",
                actual.ty,
                if actual.not_null { "NOT NULL" } else { "NULL" }
            ),
        );
    }
    // The engine never deletes pivot rows when it deletes a record: the database must.
    match pivot_table.foreign_key(key) {
        Some(fk) if fk.table == points_to && fk.to == "id" && fk.on_delete == "CASCADE" => {}
        other => report(
            pivot,
            key,
            Kind::Pivot,
            format!(
                "expected REFERENCES {points_to}(id) ON DELETE CASCADE, found {}",
                describe(other)
            ),
        ),
    }
}

fn check_unmanaged_key(
    table: &Table,
    table_name: &'static str,
    key: &'static str,
    parent: &'static str,
    report: &mut impl FnMut(&'static str, &'static str, Kind, String),
) {
    match table.foreign_key(key) {
        Some(fk) if fk.table == parent && fk.to == "id" && fk.on_delete == "CASCADE" => {}
        other => report(
            table_name,
            key,
            Kind::UnmanagedKey,
            format!(
                "no `references` in the registry, so the database must have \
                 REFERENCES {parent}(id) ON DELETE CASCADE; found {}",
                describe(other)
            ),
        ),
    }
}

async fn migrated(backend: Backend) -> Option<(Db, Option<std::path::PathBuf>)> {
    let (url, dir) = fresh_database(backend).await?;
    let db = Db::connect(&url).await.expect("connect");
    db::migrate(&db).await.expect("migrate");
    Some((db, dir))
}

async fn registry_matches_the_schema(db: Db) {
    let engine = db.backend();
    let schema = match engine {
        Engine::Sqlite => sqlite_schema(&db, &registry::tables()).await,
        Engine::Postgres => postgres_schema(&db).await,
    };
    assert!(
        schema.values().map(|t| t.columns.len()).sum::<usize>() > 50,
        "the schema was read"
    );
    let found = check_schema(&schema, engine);
    let mut failures: Vec<String> = found
        .iter()
        .filter(|m| {
            !KNOWN_SCHEMA_MISMATCHES
                .iter()
                .any(|(t, c, k, _)| (*t, *c, *k) == (m.table, m.column, m.kind))
        })
        .map(|m| {
            format!(
                "{engine:?} {}.{} [{:?}]: {}",
                m.table, m.column, m.kind, m.detail
            )
        })
        .collect();
    for (table, column, kind, why) in KNOWN_SCHEMA_MISMATCHES {
        if !found
            .iter()
            .any(|m| (m.table, m.column, m.kind) == (*table, *column, *kind))
        {
            failures.push(format!(
                "{engine:?} {table}.{column} [{kind:?}] is allowed ({why}) but matches nothing: \
                 remove it from KNOWN_SCHEMA_MISMATCHES"
            ));
        }
    }
    db.close().await;
    assert!(
        failures.is_empty(),
        "{} registry/schema mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_registry_matches_the_schema_on_sqlite() {
    let (db, dir) = migrated(Backend::Sqlite).await.expect("sqlite");
    registry_matches_the_schema(db).await;
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test]
async fn the_registry_matches_the_schema_on_postgres() {
    let Some((db, _)) = migrated(Backend::Postgres).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: PostgreSQL half skipped");
        return;
    };
    registry_matches_the_schema(db).await;
}

// ---------------------------------------------------------------------------------------------
// Relations, from both sides.

/// Relations whose other side is deliberately not declared: (resource, relation, why). A
/// `BelongsTo` listed here has no `HasMany` back on its (routed) target; a `HasMany` listed here
/// has no `BelongsTo` back on its target.
const ONE_SIDED_RELATIONS: &[(&str, &str, &str)] = &[
    // The causer is written by the engine; a user's log entries are not a relation of user
    // (user has no activity_log morph either).
    (
        "activity_log",
        "causer",
        "the activity log is read from its subject",
    ),
    // user (registry/defs/user.rs) lists customers, contacts, tasks, appointments, chances and
    // todos as its records, not these.
    ("assignment", "user", "user does not list its assignments"),
    ("contract", "user", "user does not list its contracts"),
    ("email", "user", "user does not list its emails"),
    ("note", "user", "user does not list its notes"),
    ("template", "user", "user does not list its templates"),
    ("webhook", "user", "user does not list its webhooks"),
    // contact (registry/defs/contact.rs) lists notes, tasks, appointments, chances and emails,
    // not these.
    (
        "assignment",
        "contact",
        "contact does not list its assignments",
    ),
    ("contract", "contact", "contact does not list its contracts"),
    // A contact's customer_id is its primary customer; customer.contacts is the many-to-many
    // through customer_contact, which covers every linked contact.
    (
        "contact",
        "customer",
        "customer reaches contacts through the pivot",
    ),
    // Field values are read from their record (the field_values morph), not from the field.
    (
        "field_value",
        "field",
        "values are read through their record",
    ),
];

#[test]
fn inverse_relations_are_declared_on_both_sides() {
    let mut problems: Vec<String> = Vec::new();
    // Relations without their other side, each with what is missing: allowed or a problem.
    let mut one_sided: Vec<(&str, &str, String)> = Vec::new();
    for def in REGISTRY {
        for relation in def.relations {
            let Some(other) = target(relation) else {
                problems.push(format!(
                    "{}.{}: no resource {}",
                    def.name, relation.name, relation.target
                ));
                continue;
            };
            match relation.kind {
                RelationKind::BelongsTo { key } => {
                    // The key, when it declares what it references, names the target's table.
                    if let Some(referenced) = def.column(key).and_then(|c| c.references)
                        && referenced != other.table
                    {
                        problems.push(format!(
                            "{}.{}: {key} references {referenced}, the target's table is {}",
                            def.name, relation.name, other.table
                        ));
                    }
                    if other.routes == Routes::None {
                        continue;
                    }
                    let inverse = other.relations.iter().any(|back| {
                        back.target == def.name
                            && match back.kind {
                                RelationKind::HasMany { key: k } => k == key,
                                RelationKind::Morph { id_column, .. } => id_column == key,
                                _ => false,
                            }
                    });
                    if !inverse {
                        one_sided.push((
                            def.name,
                            relation.name,
                            format!(
                                "{}.{} belongs to {} over {key}, but {} has no HasMany {} over {key}",
                                def.name, relation.name, other.name, other.name, def.name
                            ),
                        ));
                    }
                }
                RelationKind::HasMany { key } => {
                    let Some(column) = other.column(key) else {
                        problems.push(format!(
                            "{}.{}: {} has no column {key}",
                            def.name, relation.name, other.name
                        ));
                        continue;
                    };
                    if let Some(referenced) = column.references
                        && referenced != def.table
                    {
                        problems.push(format!(
                            "{}.{}: {}.{key} references {referenced}, not {}",
                            def.name, relation.name, other.name, def.table
                        ));
                    }
                    if other.relations.is_empty() {
                        continue;
                    }
                    let inverse = other.relations.iter().any(|back| {
                        back.target == def.name && back.kind == RelationKind::BelongsTo { key }
                    });
                    if !inverse {
                        one_sided.push((
                            def.name,
                            relation.name,
                            format!(
                                "{}.{} has many {} over {key}, but {} has no BelongsTo {} over {key}",
                                def.name, relation.name, other.name, other.name, def.name
                            ),
                        ));
                    }
                }
                RelationKind::ManyToMany {
                    pivot,
                    own_key,
                    other_key,
                } => {
                    if other.routes == Routes::None {
                        continue;
                    }
                    let mirrored = RelationKind::ManyToMany {
                        pivot,
                        own_key: other_key,
                        other_key: own_key,
                    };
                    if !other
                        .relations
                        .iter()
                        .any(|back| back.target == def.name && back.kind == mirrored)
                    {
                        one_sided.push((
                            def.name,
                            relation.name,
                            format!(
                                "{}.{} links {} through {pivot}, but {} has no mirrored relation",
                                def.name, relation.name, other.name, other.name
                            ),
                        ));
                    }
                }
                RelationKind::Morph { .. } => {}
            }
        }
    }
    let mut used: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (def, relation, problem) in one_sided {
        if ONE_SIDED_RELATIONS
            .iter()
            .any(|(d, r, _)| (*d, *r) == (def, relation))
        {
            used.insert((def, relation));
        } else {
            problems.push(problem);
        }
    }
    for (def, relation, why) in ONE_SIDED_RELATIONS {
        if !used.contains(&(*def, *relation)) {
            problems.push(format!(
                "{def}.{relation} is allowed to be one-sided ({why}) but is not: remove it from \
                 ONE_SIDED_RELATIONS"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} relation problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Catalogue entries.

/// The Dutch catalogue's source, consulted only where the public API cannot tell an entry from
/// its absence (see [`has_entry`]).
const NL_SOURCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../kring-core/lang/nl.json"
));

/// Whether `locale`'s own catalogue has `key`. `kring_core::i18n` keeps its per-locale lookup
/// private: `text` falls back to English and then to the key, `resource_name` to the resource's
/// name and `attribute` to Laravel's underscores-to-spaces. So English is exact through `text`;
/// Dutch is exact unless its text equals English's (`resources.contract`, `resources.webhook`),
/// where only the catalogue's source can tell.
fn has_entry(locale: Locale, key: &str) -> bool {
    let own = i18n::text(locale, key);
    let english = i18n::text(Locale::En, key);
    match locale {
        Locale::En => english != key,
        Locale::Nl if own == key => false,
        Locale::Nl if english == key || own != english => true,
        Locale::Nl => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(NL_SOURCE)
            .expect("lang/nl.json parses")
            .contains_key(key),
    }
}

/// Writable columns without a Dutch attribute name in `crates/kring-core/lang/nl.json`, whose
/// messages would name the column Laravel's way (`zip code`): none. (resource, column).
const MISSING_DUTCH_ATTRIBUTES: &[(&str, &str)] = &[];

/// The keys a resource's body takes, as validation errors name them: writable columns, nested
/// lists, link keys and `field_values`.
fn body_keys(def: &ResourceDef) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = def
        .columns
        .iter()
        .filter(|c| c.writable)
        .map(|c| c.name)
        .collect();
    keys.extend(def.nested.iter().copied());
    keys.extend(def.links.iter().map(|l| l.key));
    if def.custom_fields {
        keys.push("field_values");
    }
    keys
}

#[test]
fn every_resource_has_catalogue_entries_in_both_languages() {
    let mut problems: Vec<String> = Vec::new();
    let mut used: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut english_attributes: (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for def in REGISTRY {
        // Errors name a resource through `resource_name` (error.rs), `resources.<name>`.
        let key = format!("resources.{}", def.name);
        for locale in [Locale::En, Locale::Nl] {
            if !has_entry(locale, &key) {
                problems.push(format!("{}: no {key}", locale.code()));
            }
        }

        // Validation messages name a field through `attribute` (validate.rs), which looks up
        // `attributes.<path>`.
        for name in body_keys(def) {
            let key = format!("attributes.{name}");
            if has_entry(Locale::Nl, &key) {
                if i18n::attribute(Locale::Nl, name) != i18n::text(Locale::Nl, &key) {
                    problems.push(format!("nl: attribute({name}) does not use {key}"));
                }
            } else if MISSING_DUTCH_ATTRIBUTES.contains(&(def.name, name)) {
                used.insert((def.name, name));
            } else {
                problems.push(format!("nl: no {key} ({}.{name})", def.name));
            }
            let (with, without) = &mut english_attributes;
            if has_entry(Locale::En, &key) {
                with.push(format!("{}.{name}", def.name));
            } else {
                without.push(format!("{}.{name}", def.name));
            }
        }
        if def.custom_fields {
            for path in ["field_values.*.field_id", "field_values.*.value"] {
                if !has_entry(Locale::Nl, &format!("attributes.{path}")) {
                    problems.push(format!("nl: no attributes.{path}"));
                }
            }
        }
    }
    // English names attributes by Laravel's rule (`next_contact` → `next contact`, asserted by
    // kring-core's `attribute_names_follow_laravel_and_the_catalog`) and so has no
    // `attributes.*` entries at all. Either that stays so, or English names every one.
    let (with, without) = english_attributes;
    if !with.is_empty() && !without.is_empty() {
        problems.push(format!(
            "en names some attributes ({}) but not these: {}",
            with.join(", "),
            without.join(", ")
        ));
    }
    for (resource, column) in MISSING_DUTCH_ATTRIBUTES {
        if !used.contains(&(*resource, *column)) {
            problems.push(format!(
                "{resource}.{column} is listed as missing a Dutch name but is not: remove it \
                 from MISSING_DUTCH_ATTRIBUTES"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} catalogue problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
