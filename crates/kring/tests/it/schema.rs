//! The two migration folders describe the same schema once both are applied: the same tables
//! and columns (in the same order), nullability, column type classes, defaults, primary keys,
//! foreign keys (with their ON DELETE / ON UPDATE actions), unique constraints and unique
//! indexes, named indexes (name, table, columns, uniqueness) and triggers. A migration added to
//! one folder and not the other, or written differently, fails here, and the failure lists every
//! difference at once.

use std::collections::{BTreeMap, BTreeSet};

use kring_core::Value;
use kring_core::schema::ColumnType;
use kring_server::db::Raw;
use kring_server::{Db, db};

use crate::support::{Backend, fresh_database};

/// Differences between the two migration folders that are known and accepted, as
/// `(key, reason)`. The key is exactly the one a failure prints before the colon
/// (`type contracts.price`, `foreign key tasks(user_id)`, …), so an entry names one table,
/// column or constraint. An entry that no longer matches a difference fails the test as well,
/// so the list can only shrink. Migrations 1 to 10 are frozen (deployed databases hold their
/// checksums), so a genuine difference in them is fixed by a new migration and its entry
/// removed then.
///
/// Empty: the migrations as they stand agree on everything compared here.
const ACCEPTED: &[(&str, &str)] = &[];

fn text(value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        other => panic!("expected text, got {other:?}"),
    }
}

fn optional_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        other => Some(text(other)),
    }
}

fn int(value: &Value) -> i64 {
    match value {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn flag(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        other => panic!("expected a boolean, got {other:?}"),
    }
}

/// An identifier quoted for SQLite, for the per-table PRAGMAs. The names come from SQLite's own
/// catalogue, never from input.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn migrated(backend: Backend) -> Option<Db> {
    let (url, _) = fresh_database(backend).await?;
    let db = Db::connect(&url).await.expect("connect");
    db::migrate(&db).await.expect("migrate");
    Some(db)
}

async fn rows(db: &Db, stmt: Raw, types: &[ColumnType]) -> Vec<Vec<Value>> {
    let sql = stmt.text.to_string();
    db.fetch(&stmt, types)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}

async fn names(db: &Db, sql: &'static str) -> BTreeSet<String> {
    rows(db, Raw::new(sql, vec![]), &[ColumnType::Text])
        .await
        .iter()
        .map(|r| text(&r[0]))
        .collect()
}

/// The type class of a column, in one vocabulary for both engines: `integer` (64-bit), `float`
/// (double), `boolean`, `text`, and on PostgreSQL `text-on-sqlite` for what SQLite keeps as
/// text (see [`pg_class`]). Anything else keeps its engine's own spelling (`sqlite:NUMERIC`,
/// `pg:integer`), which matches nothing on the other engine and so fails.
fn sqlite_class(declared: &str) -> String {
    match declared.to_ascii_uppercase().as_str() {
        // SQLite's INTEGER is always 64 bits wide.
        "INTEGER" | "BIGINT" => "integer".into(),
        "REAL" | "DOUBLE" | "DOUBLE PRECISION" => "float".into(),
        "BOOLEAN" => "boolean".into(),
        "TEXT" => "text".into(),
        other => format!("sqlite:{other}"),
    }
}

/// PostgreSQL's `data_type` in the vocabulary of [`sqlite_class`]. Only the types of the two
/// engines' conventions map (BIGINT, DOUBLE PRECISION, BOOLEAN, TEXT): a PostgreSQL `integer`
/// (32 bits) or `real` (single precision) would hold less than SQLite's INTEGER and REAL, so
/// they stay `pg:…` and fail.
///
/// SQLite has no timestamp, date or JSON type: Kring keeps timestamps and dates as fixed-width
/// text and JSON as text (`docs/decisions.md`, `db::dialect::TYPE_TOKENS`). Exactly those three
/// PostgreSQL types, `timestamp with time zone` (TIMESTAMPTZ), `date` and `json`, map to the
/// class `text-on-sqlite`, which is the one class that matches a different SQLite class (`text`,
/// see [`same_class`]). A `timestamp without time zone` or `jsonb` is outside the conventions
/// and fails.
fn pg_class(data_type: &str) -> String {
    match data_type {
        "bigint" => "integer".into(),
        "double precision" => "float".into(),
        "boolean" => "boolean".into(),
        "text" => "text".into(),
        "timestamp with time zone" | "date" | "json" => "text-on-sqlite".into(),
        other => format!("pg:{other}"),
    }
}

/// Whether a SQLite class and a PostgreSQL class agree: the same class, or SQLite text for one
/// of the PostgreSQL types SQLite keeps as text. Strict everywhere else: integer is only
/// integer, float only float, boolean only boolean, text only text.
fn same_class(sqlite: &str, pg: &str) -> bool {
    sqlite == pg || (sqlite == "text" && pg == "text-on-sqlite")
}

/// The default of an auto-incrementing primary key, which neither engine reports as a default
/// expression: SQLite's `INTEGER PRIMARY KEY AUTOINCREMENT` and PostgreSQL's `GENERATED BY
/// DEFAULT AS IDENTITY` (or a serial's `nextval`) both hand out ids that are never reused and
/// both accept an explicit id.
const AUTOINCREMENT: &str = "<autoincrement>";

/// Strips the parentheses SQLite keeps around `DEFAULT (expr)` and PostgreSQL puts around
/// negative numbers.
fn without_parentheses(mut value: &str) -> &str {
    while value.len() >= 2 && value.starts_with('(') && value.ends_with(')') {
        value = value[1..value.len() - 1].trim();
    }
    value
}

/// Strips PostgreSQL's trailing casts (`'x'::text`, `'-1'::bigint`, `'{}'::json`).
fn without_casts(mut value: &str) -> &str {
    while let Some(at) = value.rfind("::") {
        let cast = &value[at + 2..];
        let is_type = !cast.is_empty()
            && cast
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '"' | '[' | ']'));
        if !is_type {
            break;
        }
        value = value[..at].trim_end();
    }
    value
}

/// A default in one spelling for both engines, given the column's class: booleans as
/// `true`/`false` (SQLite writes `0`/`1`), numbers by value, `NULL` as no default, PostgreSQL's
/// casts dropped. Anything else (a string literal, `CURRENT_TIMESTAMP`, `now()`) is kept as
/// written, so two different expressions differ.
fn normalised_default(raw: Option<&str>, class: &str) -> Option<String> {
    let value = without_parentheses(without_casts(without_parentheses(raw?.trim())));
    if value.eq_ignore_ascii_case("null") {
        return None;
    }
    let unquoted = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value);
    Some(match class {
        "boolean" => match unquoted.to_ascii_lowercase().as_str() {
            "0" | "false" | "f" => "false".into(),
            "1" | "true" | "t" => "true".into(),
            _ => value.to_string(),
        },
        "integer" => unquoted
            .parse::<i64>()
            .map_or_else(|_| value.to_string(), |n| n.to_string()),
        "float" => unquoted
            .parse::<f64>()
            .map_or_else(|_| value.to_string(), |n| format!("{n:?}")),
        _ => value.to_string(),
    })
}

/// A foreign key's target and actions, as compared.
fn reference(table: &str, columns: &[String], on_delete: &str, on_update: &str) -> String {
    format!(
        "{table}({}) ON DELETE {on_delete} ON UPDATE {on_update}",
        columns.join(", ")
    )
}

fn column_list(table: &str, columns: &[String]) -> String {
    format!("{table}({})", columns.join(", "))
}

/// What an index is, as compared; expression columns are `<expression>` on both engines.
fn index_shape(table: &str, columns: &[String], unique: bool, partial: bool) -> String {
    format!(
        "{}{}{}",
        column_list(table, columns),
        if unique { " UNIQUE" } else { "" },
        if partial { " PARTIAL" } else { "" }
    )
}

/// One engine's schema, keyed so that the two engines' maps compare entry by entry.
#[derive(Default)]
struct Schema {
    /// table → column names in table order.
    columns: BTreeMap<String, Vec<String>>,
    /// `table.column` → type class.
    classes: BTreeMap<String, String>,
    /// `table.column` → whether NULL is refused.
    not_null: BTreeMap<String, bool>,
    /// `table.column` → normalised default.
    defaults: BTreeMap<String, Option<String>>,
    /// table → primary-key columns in key order (empty: none).
    primary_keys: BTreeMap<String, Vec<String>>,
    /// `table(columns)` → its foreign keys' targets (more than one if declared twice).
    foreign_keys: BTreeMap<String, Vec<String>>,
    /// `table(columns)` → one entry per unique constraint or unique index (other than the
    /// primary key) on exactly those columns: `full` or `partial`.
    uniques: BTreeMap<String, Vec<String>>,
    /// index name → shape, for indexes created by CREATE INDEX (not by a constraint).
    indexes: BTreeMap<String, String>,
    /// trigger name → table.
    triggers: BTreeMap<String, String>,
}

impl Schema {
    fn column_count(&self) -> usize {
        self.columns.values().map(Vec::len).sum()
    }
}

async fn sqlite_schema(db: &Db) -> Schema {
    let mut schema = Schema::default();
    // `wr`: WITHOUT ROWID; `strict`: STRICT. Both make primary-key columns NOT NULL.
    let tables = rows(
        db,
        Raw::new(
            "SELECT name, wr, strict FROM pragma_table_list WHERE schema = 'main' \
             AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name <> '_sqlx_migrations'",
            vec![],
        ),
        &[ColumnType::Text, ColumnType::Int, ColumnType::Int],
    )
    .await;
    // PRAGMA table_info does not say AUTOINCREMENT; the table's CREATE statement does (it is
    // only allowed on the INTEGER PRIMARY KEY, at most once per table).
    let autoincrement = names(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'",
    )
    .await;
    let table_names: Vec<String> = tables.iter().map(|r| text(&r[0])).collect();
    let mut raw_foreign_keys = Vec::new();
    for row in &tables {
        let table = text(&row[0]);
        let pk_not_null = int(&row[1]) != 0 || int(&row[2]) != 0;
        let info = rows(
            db,
            Raw::owned(format!("PRAGMA table_info({})", quoted(&table)), vec![]),
            &[
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Int,
            ],
        )
        .await;
        let mut info: Vec<_> = info
            .iter()
            .map(|r| {
                (
                    int(&r[0]),
                    text(&r[1]),
                    text(&r[2]),
                    int(&r[3]) != 0,
                    optional_text(&r[4]),
                    int(&r[5]),
                )
            })
            .collect();
        info.sort_by_key(|c| c.0);
        let mut pk: Vec<(i64, String)> = info
            .iter()
            .filter(|c| c.5 > 0)
            .map(|c| (c.5, c.1.clone()))
            .collect();
        pk.sort();
        let pk: Vec<String> = pk.into_iter().map(|(_, name)| name).collect();
        for (_, name, declared, not_null, default, pk_position) in &info {
            let key = format!("{table}.{name}");
            let class = sqlite_class(declared);
            // An INTEGER PRIMARY KEY is the rowid: never NULL, its id handed out by SQLite.
            let rowid = pk.len() == 1
                && *pk_position == 1
                && declared.eq_ignore_ascii_case("INTEGER")
                && int(&row[1]) == 0;
            // Unlike PostgreSQL, SQLite lets NULL into any other primary-key column that is not
            // declared NOT NULL (unless the table is WITHOUT ROWID or STRICT), so a primary key
            // alone does not count as NOT NULL here.
            let refuses_null = *not_null || rowid || (*pk_position > 0 && pk_not_null);
            let default = if rowid && default.is_none() {
                // Without AUTOINCREMENT the largest id is reused after a delete, which
                // PostgreSQL's identity never does: that shows as a different default.
                Some(if autoincrement.contains(&table) {
                    AUTOINCREMENT.to_string()
                } else {
                    "<rowid, reusable>".to_string()
                })
            } else {
                normalised_default(default.as_deref(), &class)
            };
            schema.classes.insert(key.clone(), class);
            schema.not_null.insert(key.clone(), refuses_null);
            schema.defaults.insert(key, default);
        }
        schema.columns.insert(
            table.clone(),
            info.iter().map(|c| c.1.clone()).collect::<Vec<_>>(),
        );
        schema.primary_keys.insert(table.clone(), pk);

        let index_list = rows(
            db,
            Raw::owned(format!("PRAGMA index_list({})", quoted(&table)), vec![]),
            &[
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Int,
            ],
        )
        .await;
        for index in &index_list {
            let name = text(&index[1]);
            let unique = int(&index[2]) != 0;
            let origin = text(&index[3]);
            let partial = int(&index[4]) != 0;
            // A key folded for case (`COLLATE NOCASE`) is an expression on PostgreSQL
            // (`lower(…)`), so it compares as one.
            let mut members: Vec<(i64, String)> = rows(
                db,
                Raw::owned(format!("PRAGMA index_xinfo({})", quoted(&name)), vec![]),
                &[
                    ColumnType::Int,
                    ColumnType::Int,
                    ColumnType::Text,
                    ColumnType::Int,
                    ColumnType::Text,
                    ColumnType::Int,
                ],
            )
            .await
            .iter()
            .filter(|r| int(&r[5]) != 0)
            .map(|r| {
                let folded = optional_text(&r[4]).is_some_and(|c| c.eq_ignore_ascii_case("NOCASE"));
                let column = optional_text(&r[2]).filter(|_| !folded);
                (int(&r[0]), column.unwrap_or_else(|| "<expression>".into()))
            })
            .collect();
            members.sort();
            let members: Vec<String> = members.into_iter().map(|(_, c)| c).collect();
            // origin: `c` CREATE INDEX, `u` a UNIQUE constraint, `pk` the PRIMARY KEY (already
            // read from table_info; an INTEGER PRIMARY KEY has no index at all).
            if unique && origin != "pk" {
                schema
                    .uniques
                    .entry(column_list(&table, &members))
                    .or_default()
                    .push(if partial { "partial" } else { "full" }.into());
            }
            if origin == "c" {
                schema
                    .indexes
                    .insert(name, index_shape(&table, &members, unique, partial));
            }
        }

        let foreign_keys = rows(
            db,
            Raw::owned(
                format!("PRAGMA foreign_key_list({})", quoted(&table)),
                vec![],
            ),
            &[
                ColumnType::Int,
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Text,
            ],
        )
        .await;
        for fk in &foreign_keys {
            raw_foreign_keys.push((
                table.clone(),
                int(&fk[0]),
                int(&fk[1]),
                text(&fk[2]),
                text(&fk[3]),
                optional_text(&fk[4]),
                text(&fk[5]),
                text(&fk[6]),
            ));
        }
    }

    // Foreign keys, one per (table, id), their columns in `seq` order. SQLite resolves the
    // referenced table case-insensitively, and `to` is NULL for `REFERENCES parent` without
    // columns, which means the parent's primary key.
    raw_foreign_keys.sort_by_key(|fk| (fk.0.clone(), fk.1, fk.2));
    #[allow(clippy::type_complexity)]
    let mut grouped: BTreeMap<
        (String, i64),
        (Vec<String>, String, Vec<String>, String, String),
    > = BTreeMap::new();
    for (table, id, _, parent, from, to, on_update, on_delete) in raw_foreign_keys {
        let parent = table_names
            .iter()
            .find(|t| t.eq_ignore_ascii_case(&parent))
            .cloned()
            .unwrap_or(parent);
        let entry = grouped.entry((table, id)).or_insert_with(|| {
            (
                Vec::new(),
                parent.clone(),
                Vec::new(),
                on_delete.clone(),
                on_update.clone(),
            )
        });
        entry.0.push(from);
        if let Some(to) = to {
            entry.2.push(to);
        }
    }
    for ((table, _), (from, parent, mut to, on_delete, on_update)) in grouped {
        if to.is_empty() {
            to = schema
                .primary_keys
                .get(&parent)
                .cloned()
                .unwrap_or_default();
        }
        schema
            .foreign_keys
            .entry(column_list(&table, &from))
            .or_default()
            .push(reference(&parent, &to, &on_delete, &on_update));
    }

    let triggers = rows(
        db,
        Raw::new(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'",
            vec![],
        ),
        &[ColumnType::Text, ColumnType::Text],
    )
    .await;
    for t in &triggers {
        schema.triggers.insert(text(&t[0]), text(&t[1]));
    }
    schema
}

/// PostgreSQL's `confdeltype` / `confupdtype` in SQLite's words.
fn pg_action(code: &str) -> String {
    match code {
        "a" => "NO ACTION".into(),
        "r" => "RESTRICT".into(),
        "c" => "CASCADE".into(),
        "n" => "SET NULL".into(),
        "d" => "SET DEFAULT".into(),
        other => format!("pg:{other}"),
    }
}

async fn pg_schema(db: &Db) -> Schema {
    let mut schema = Schema::default();
    let columns = rows(
        db,
        Raw::new(
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT), \
             CAST(ordinal_position AS BIGINT), CAST(data_type AS TEXT), \
             CAST(column_default AS TEXT), is_nullable = 'NO', CAST(is_identity AS TEXT), \
             CAST(identity_generation AS TEXT) \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
            vec![],
        ),
        &[
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Int,
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Bool,
            ColumnType::Text,
            ColumnType::Text,
        ],
    )
    .await;
    let mut ordered: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for c in &columns {
        let (table, name) = (text(&c[0]), text(&c[1]));
        let key = format!("{table}.{name}");
        let class = pg_class(&text(&c[3]));
        let default = optional_text(&c[4]);
        // An identity column has no column_default; it is told by is_identity. BY DEFAULT
        // accepts an explicit id as SQLite does; ALWAYS refuses one, which is a difference.
        let default = match (
            optional_text(&c[6]).as_deref(),
            optional_text(&c[7]).as_deref(),
        ) {
            (Some("YES"), Some("BY DEFAULT")) => Some(AUTOINCREMENT.to_string()),
            (Some("YES"), generation) => Some(format!("<identity {generation:?}>")),
            _ if default
                .as_deref()
                .is_some_and(|d| d.starts_with("nextval(")) =>
            {
                Some(AUTOINCREMENT.to_string())
            }
            _ => normalised_default(default.as_deref(), &class),
        };
        ordered
            .entry(table.clone())
            .or_default()
            .push((int(&c[2]), name.clone()));
        schema.classes.insert(key.clone(), class);
        schema.not_null.insert(key.clone(), flag(&c[5]));
        schema.defaults.insert(key, default);
    }
    for (table, mut cols) in ordered {
        cols.sort();
        schema.primary_keys.insert(table.clone(), Vec::new());
        schema
            .columns
            .insert(table, cols.into_iter().map(|(_, name)| name).collect());
    }

    // Every index with its key columns (0 in indkey: an expression) and whether a PRIMARY KEY,
    // UNIQUE or EXCLUDE constraint made it.
    let index_rows = rows(
        db,
        Raw::new(
            "SELECT CAST(t.relname AS TEXT), CAST(ic.relname AS TEXT), i.indisunique, \
             i.indisprimary, (i.indpred IS NOT NULL), CAST(k.n AS BIGINT), \
             CAST(COALESCE(a.attname, '<expression>') AS TEXT), \
             EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid \
                     AND c.contype IN ('p', 'u', 'x')) \
             FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_class ic ON ic.oid = i.indexrelid \
             JOIN pg_namespace ns ON ns.oid = t.relnamespace \
             CROSS JOIN LATERAL unnest(CAST(i.indkey AS int2[])) WITH ORDINALITY AS k(attnum, n) \
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE ns.nspname = current_schema() AND t.relname <> '_sqlx_migrations' \
             AND k.n <= i.indnkeyatts",
            vec![],
        ),
        &[
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Bool,
            ColumnType::Bool,
            ColumnType::Bool,
            ColumnType::Int,
            ColumnType::Text,
            ColumnType::Bool,
        ],
    )
    .await;
    #[allow(clippy::type_complexity)]
    let mut indexes: BTreeMap<String, (String, bool, bool, bool, bool, Vec<(i64, String)>)> =
        BTreeMap::new();
    for r in &index_rows {
        indexes
            .entry(text(&r[1]))
            .or_insert_with(|| {
                (
                    text(&r[0]),
                    flag(&r[2]),
                    flag(&r[3]),
                    flag(&r[4]),
                    flag(&r[7]),
                    Vec::new(),
                )
            })
            .5
            .push((int(&r[5]), text(&r[6])));
    }
    for (name, (table, unique, primary, partial, of_constraint, mut members)) in indexes {
        members.sort();
        let members: Vec<String> = members.into_iter().map(|(_, c)| c).collect();
        if primary {
            schema.primary_keys.insert(table.clone(), members.clone());
        } else if unique {
            schema
                .uniques
                .entry(column_list(&table, &members))
                .or_default()
                .push(if partial { "partial" } else { "full" }.into());
        }
        if !of_constraint {
            schema
                .indexes
                .insert(name, index_shape(&table, &members, unique, partial));
        }
    }

    let foreign_keys = rows(
        db,
        Raw::new(
            "SELECT CAST(c.conname AS TEXT), CAST(src.relname AS TEXT), CAST(sa.attname AS TEXT), \
             CAST(dst.relname AS TEXT), CAST(da.attname AS TEXT), CAST(c.confdeltype AS TEXT), \
             CAST(c.confupdtype AS TEXT), CAST(k.n AS BIGINT) \
             FROM pg_constraint c \
             JOIN pg_class src ON src.oid = c.conrelid \
             JOIN pg_class dst ON dst.oid = c.confrelid \
             JOIN pg_namespace ns ON ns.oid = c.connamespace \
             CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(src_att, dst_att, n) \
             JOIN pg_attribute sa ON sa.attrelid = c.conrelid AND sa.attnum = k.src_att \
             JOIN pg_attribute da ON da.attrelid = c.confrelid AND da.attnum = k.dst_att \
             WHERE c.contype = 'f' AND ns.nspname = current_schema()",
            vec![],
        ),
        &[
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Int,
        ],
    )
    .await;
    #[allow(clippy::type_complexity)]
    let mut grouped: BTreeMap<
        (String, String),
        (String, String, String, Vec<(i64, String, String)>),
    > = BTreeMap::new();
    for r in &foreign_keys {
        grouped
            .entry((text(&r[1]), text(&r[0])))
            .or_insert_with(|| {
                (
                    text(&r[3]),
                    pg_action(&text(&r[5])),
                    pg_action(&text(&r[6])),
                    Vec::new(),
                )
            })
            .3
            .push((int(&r[7]), text(&r[2]), text(&r[4])));
    }
    for ((table, _), (parent, on_delete, on_update, mut pairs)) in grouped {
        pairs.sort();
        let from: Vec<String> = pairs.iter().map(|p| p.1.clone()).collect();
        let to: Vec<String> = pairs.iter().map(|p| p.2.clone()).collect();
        schema
            .foreign_keys
            .entry(column_list(&table, &from))
            .or_default()
            .push(reference(&parent, &to, &on_delete, &on_update));
    }

    let triggers = rows(
        db,
        Raw::new(
            "SELECT CAST(tg.tgname AS TEXT), CAST(t.relname AS TEXT) FROM pg_trigger tg \
             JOIN pg_class t ON t.oid = tg.tgrelid JOIN pg_namespace ns ON ns.oid = t.relnamespace \
             WHERE NOT tg.tgisinternal AND ns.nspname = current_schema()",
            vec![],
        ),
        &[ColumnType::Text, ColumnType::Text],
    )
    .await;
    for t in &triggers {
        schema.triggers.insert(text(&t[0]), text(&t[1]));
    }
    schema
}

/// The differences found, each `key: detail`; `key` is what [`ACCEPTED`] names.
#[derive(Default)]
struct Differences(Vec<(String, String)>);

impl Differences {
    fn add(&mut self, key: String, detail: String) {
        self.0.push((key, detail));
    }

    /// Compares two maps entry by entry: an entry on one engine only, or one whose values
    /// disagree by `same`, is a difference named `aspect key`.
    fn compare<V: std::fmt::Debug>(
        &mut self,
        aspect: &str,
        sqlite: &BTreeMap<String, V>,
        pg: &BTreeMap<String, V>,
        same: impl Fn(&V, &V) -> bool,
    ) {
        let keys: BTreeSet<&String> = sqlite.keys().chain(pg.keys()).collect();
        for key in keys {
            let name = format!("{aspect} {key}");
            match (sqlite.get(key), pg.get(key)) {
                (Some(s), Some(p)) if same(s, p) => {}
                (Some(s), Some(p)) => self.add(name, format!("SQLite {s:?}, PostgreSQL {p:?}")),
                (Some(s), None) => self.add(name, format!("only in SQLite: {s:?}")),
                (None, Some(p)) => self.add(name, format!("only in PostgreSQL: {p:?}")),
                (None, None) => unreachable!(),
            }
        }
    }
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_define_the_same_schema() {
    let Some(pg) = migrated(Backend::Postgres).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: schema parity not checked");
        return;
    };
    let sqlite = migrated(Backend::Sqlite).await.expect("sqlite");
    let s = sqlite_schema(&sqlite).await;
    let p = pg_schema(&pg).await;

    // The catalogues were read (an empty read on both sides would compare equal).
    for (engine, schema) in [("SQLite", &s), ("PostgreSQL", &p)] {
        assert!(
            schema.column_count() > 50,
            "{engine}: the columns were read: {}",
            schema.column_count()
        );
        assert!(
            schema.foreign_keys.len() > 50,
            "{engine}: the foreign keys were read"
        );
        assert!(
            schema.uniques.len() >= 5,
            "{engine}: the unique constraints were read"
        );
        assert!(schema.indexes.len() > 50, "{engine}: the indexes were read");
        assert!(
            schema
                .defaults
                .values()
                .any(|d| d.as_deref() == Some("false")),
            "{engine}: the defaults were read"
        );
        for class in ["integer", "float", "boolean", "text"] {
            assert!(
                schema.classes.values().any(|c| c == class),
                "{engine}: a {class} column was read"
            );
        }
        assert!(
            !schema.triggers.is_empty(),
            "{engine}: the triggers were read"
        );
    }
    assert!(p.classes.values().any(|c| c == "text-on-sqlite"));

    let mut differences = Differences::default();

    // Tables and columns, each on both engines.
    let column_keys = |schema: &Schema| -> BTreeMap<String, ()> {
        schema.classes.keys().map(|k| (k.clone(), ())).collect()
    };
    differences.compare("column", &column_keys(&s), &column_keys(&p), |_, _| true);
    // The facets of the columns both have (a column on one engine only is reported once above).
    let both = |map: &BTreeMap<String, String>, other: &Schema| -> BTreeMap<String, String> {
        map.iter()
            .filter(|(k, _)| other.classes.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    // The order of the columns both engines have, in the tables both have.
    let order = |schema: &Schema, other: &Schema| -> BTreeMap<String, Vec<String>> {
        schema
            .columns
            .iter()
            .filter(|(t, _)| other.columns.contains_key(*t))
            .map(|(t, cols)| {
                let shared = cols
                    .iter()
                    .filter(|c| other.classes.contains_key(&format!("{t}.{c}")))
                    .cloned()
                    .collect();
                (t.clone(), shared)
            })
            .collect()
    };
    differences.compare("column order", &order(&s, &p), &order(&p, &s), |a, b| {
        a == b
    });
    differences.compare(
        "type",
        &both(&s.classes, &p),
        &both(&p.classes, &s),
        |a, b| same_class(a, b),
    );
    let facet = |map: &BTreeMap<String, bool>, other: &Schema| -> BTreeMap<String, bool> {
        map.iter()
            .filter(|(k, _)| other.classes.contains_key(*k))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    differences.compare(
        "not null",
        &facet(&s.not_null, &p),
        &facet(&p.not_null, &s),
        |a, b| a == b,
    );
    let defaults = |map: &BTreeMap<String, Option<String>>, other: &Schema| {
        map.iter()
            .filter(|(k, _)| other.classes.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<String, Option<String>>>()
    };
    differences.compare(
        "default",
        &defaults(&s.defaults, &p),
        &defaults(&p.defaults, &s),
        |a, b| a == b,
    );
    differences.compare("primary key", &s.primary_keys, &p.primary_keys, |a, b| {
        a == b
    });
    let sorted = |map: &BTreeMap<String, Vec<String>>| -> BTreeMap<String, Vec<String>> {
        map.iter()
            .map(|(k, v)| {
                let mut v = v.clone();
                v.sort();
                (k.clone(), v)
            })
            .collect()
    };
    differences.compare(
        "foreign key",
        &sorted(&s.foreign_keys),
        &sorted(&p.foreign_keys),
        |a, b| a == b,
    );
    differences.compare(
        "unique",
        &sorted(&s.uniques),
        &sorted(&p.uniques),
        |a, b| a == b,
    );
    differences.compare("index", &s.indexes, &p.indexes, |a, b| a == b);
    differences.compare("trigger", &s.triggers, &p.triggers, |a, b| a == b);

    // The index names as before, from the catalogues directly: constraint indexes are
    // `sqlite_autoindex_*` on SQLite and `*_pkey` / `*_key` on PostgreSQL.
    let sqlite_index_names = names(
        &sqlite,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .await;
    let pg_index_names = names(
        &pg,
        "SELECT CAST(indexname AS TEXT) FROM pg_indexes WHERE schemaname = current_schema() \
         AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key' AND tablename <> '_sqlx_migrations'",
    )
    .await;
    assert!(!sqlite_index_names.is_empty());
    let as_map = |set: &BTreeSet<String>| -> BTreeMap<String, ()> {
        set.iter().map(|n| (n.clone(), ())).collect()
    };
    differences.compare(
        "index name",
        &as_map(&sqlite_index_names),
        &as_map(&pg_index_names),
        |_, _| true,
    );

    // What is accepted, and what of the accepted list no longer happens.
    let mut unexplained: Vec<String> = differences
        .0
        .iter()
        .filter(|(key, _)| !ACCEPTED.iter().any(|(accepted, _)| accepted == key))
        .map(|(key, detail)| format!("{key}: {detail}"))
        .collect();
    for (accepted, reason) in ACCEPTED {
        if !differences.0.iter().any(|(key, _)| key == accepted) {
            unexplained.push(format!(
                "{accepted}: accepted ({reason}) but no longer differs: remove it from ACCEPTED"
            ));
        }
    }
    assert!(
        unexplained.is_empty(),
        "the migrations differ between SQLite and PostgreSQL ({} differences):\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    sqlite.close().await;
    pg.close().await;
}
