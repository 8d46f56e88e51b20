//! Eager loading: one statement per relation level, never one per record.
//!
//! Parents are loaded first; each relation then fetches the related rows of all parents at once
//! with `IN (…)` on their keys. To-many relations are paginated per parent inside that one
//! statement (`ROW_NUMBER() OVER (PARTITION BY parent)`), with the per-parent total from
//! `COUNT(*) OVER` the same partition, so a list of 100 customers with their contacts is two
//! statements whatever the number of contacts. A fixed plan's `whole` relation reads every
//! related row in that same one statement.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;

use kring_core::Value;
use kring_core::resource::{Relation, RelationKind};
use kring_core::schema::{Column, ColumnType};
use sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement};
use serde_json::{Map, Value as Json};

use super::criteria::quoted;
use super::read::{scoped_select, to_json};
use crate::db::Db;
use crate::error::Error;
use crate::registry::{ResourceDef, find};
use crate::tenant::Tenant;

/// How many related records a to-many relation shows per parent (`spec/cirqll.md` §4.1).
pub const RELATED_LIMIT: u64 = 50;

/// One relation to load, with its column selection and what to load below it.
pub use kring_core::query::WithNode as Load;

/// `relation` loaded with every column and nothing below it, whole (every related record, for
/// a dialect's fixed plan) or paged as `with` pages it; `None` for a target the registry lacks.
pub fn load(relation: &'static Relation, whole: bool) -> Option<Load> {
    Some(Load {
        relation,
        target: find(relation.target)?,
        select: None,
        children: Vec::new(),
        whole,
    })
}

/// A record on its way out: its typed values (for keys) and the JSON that will be served.
#[derive(Debug)]
pub struct Row {
    pub record: Vec<Value>,
    pub json: Map<String, Json>,
}

impl Row {
    /// `select` limits the served columns (a `show` selection); keys stay in `record`.
    pub fn new(def: &ResourceDef, record: Vec<Value>, select: Option<&[&Column]>) -> Row {
        let mut json = to_json(def, &record);
        if let Some(select) = select {
            json.retain(|key, _| select.iter().any(|c| c.name == key));
        }
        Row { record, json }
    }

    fn int(&self, def: &ResourceDef, column: &str) -> Option<i64> {
        def.position(column)
            .and_then(|i| self.record.get(i))
            .and_then(Value::as_int)
    }

    pub fn id(&self) -> Option<i64> {
        self.record.first().and_then(Value::as_int)
    }
}

type Loading<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// Adds every relation of `loads` to `rows`, recursively.
pub fn attach<'a>(
    db: &'a Db,
    def: &'static ResourceDef,
    tenant: Tenant,
    rows: &'a mut [Row],
    loads: &'a [Load],
) -> Loading<'a> {
    Box::pin(async move {
        if rows.is_empty() {
            return Ok(());
        }
        for load in loads {
            match load.relation.kind {
                RelationKind::BelongsTo { key } => {
                    attach_one(db, def, tenant, rows, load, key).await?
                }
                _ => attach_many(db, def, tenant, rows, load).await?,
            }
        }
        Ok(())
    })
}

async fn attach_one(
    db: &Db,
    def: &'static ResourceDef,
    tenant: Tenant,
    rows: &mut [Row],
    load: &Load,
    key: &str,
) -> Result<(), Error> {
    let ids: BTreeSet<i64> = rows.iter().filter_map(|r| r.int(def, key)).collect();
    let mut related: HashMap<i64, Json> = HashMap::new();
    if !ids.is_empty() {
        let mut query = scoped_select(load.target, tenant);
        query.and_where(Expr::col((load.target.table, "id")).is_in(ids));
        let records = db.fetch(&query, &load.target.types()).await?;
        let mut targets: Vec<Row> = records
            .into_iter()
            .map(|r| Row::new(load.target, r, load.select.as_deref()))
            .collect();
        attach(db, load.target, tenant, &mut targets, &load.children).await?;
        related = targets
            .into_iter()
            .filter_map(|t| Some((t.id()?, Json::Object(t.json))))
            .collect();
    }
    for row in rows.iter_mut() {
        let value = row
            .int(def, key)
            .and_then(|id| related.get(&id).cloned())
            .unwrap_or(Json::Null);
        row.json.insert(load.relation.name.to_string(), value);
    }
    Ok(())
}

/// Alias of the parent key, the per-parent row number and the per-parent total.
const PARENT: &str = "kring_parent";
const ROW_NUMBER: &str = "kring_row";
const TOTAL: &str = "kring_total";

async fn attach_many(
    db: &Db,
    def: &'static ResourceDef,
    tenant: Tenant,
    rows: &mut [Row],
    load: &Load,
) -> Result<(), Error> {
    let parent_ids: BTreeSet<i64> = rows.iter().filter_map(Row::id).collect();
    let query = related_page(def, tenant, load, parent_ids);
    let mut types = load.target.types();
    types.extend([ColumnType::Int, ColumnType::Int]);
    let width = load.target.columns.len();
    let mut totals: HashMap<i64, i64> = HashMap::new();
    let mut parents: Vec<i64> = Vec::new();
    let mut targets: Vec<Row> = Vec::new();
    for mut record in db.fetch(&query, &types).await? {
        let total = record.pop().and_then(|v| v.as_int()).unwrap_or(0);
        let parent = record.pop().and_then(|v| v.as_int()).unwrap_or(0);
        record.truncate(width);
        totals.insert(parent, total);
        parents.push(parent);
        targets.push(Row::new(load.target, record, load.select.as_deref()));
    }
    attach(db, load.target, tenant, &mut targets, &load.children).await?;

    let mut grouped: HashMap<i64, Vec<Json>> = HashMap::new();
    for (parent, target) in parents.into_iter().zip(targets) {
        grouped
            .entry(parent)
            .or_default()
            .push(Json::Object(target.json));
    }
    for row in rows.iter_mut() {
        let id = row.id().unwrap_or(0);
        let data = grouped.remove(&id).unwrap_or_default();
        let envelope = serde_json::json!({
            "data": data,
            "limit": if load.whole { Json::Null } else { RELATED_LIMIT.into() },
            "total": totals.get(&id).copied().unwrap_or(0),
            "offset": 0,
        });
        row.json.insert(load.relation.name.to_string(), envelope);
    }
    Ok(())
}

/// `SELECT <target columns>, parent, total FROM (… ROW_NUMBER() …) WHERE row <= 50`, in the
/// order of the target's key (its first column, `id` but for a keyless link table).
fn related_page(
    def: &ResourceDef,
    tenant: Tenant,
    load: &Load,
    parent_ids: BTreeSet<i64>,
) -> SelectStatement {
    let target = load.target;
    let mut inner = scoped_select(target, tenant);
    let parent_column = match load.relation.kind {
        RelationKind::HasMany { key } => {
            inner.and_where(Expr::col((target.table, key)).is_in(parent_ids));
            quoted(target.table, key)
        }
        RelationKind::ManyToMany {
            pivot,
            own_key,
            other_key,
        } => {
            inner
                .inner_join(
                    pivot,
                    Expr::col((pivot, other_key)).equals((target.table, "id")),
                )
                .and_where(Expr::col((pivot, own_key)).is_in(parent_ids));
            quoted(pivot, own_key)
        }
        RelationKind::Morph {
            type_column,
            id_column,
        } => {
            inner
                .and_where(Expr::col((target.table, type_column)).eq(def.name))
                .and_where(Expr::col((target.table, id_column)).is_in(parent_ids));
            quoted(target.table, id_column)
        }
        RelationKind::BelongsTo { .. } => quoted(target.table, "id"),
    };
    let key = target.columns.first().map_or("id", |c| c.name);
    let id = quoted(target.table, key);
    inner
        .expr_as(Expr::cust(parent_column.clone()), Alias::new(PARENT))
        .expr_as(
            Expr::cust(format!(
                "ROW_NUMBER() OVER (PARTITION BY {parent_column} ORDER BY {id})"
            )),
            Alias::new(ROW_NUMBER),
        )
        .expr_as(
            Expr::cust(format!("COUNT(*) OVER (PARTITION BY {parent_column})")),
            Alias::new(TOTAL),
        );
    let mut outer = Query::select();
    outer
        .columns(target.columns.iter().map(|c| Alias::new(c.name)))
        .columns([Alias::new(PARENT), Alias::new(TOTAL)])
        .from_subquery(inner, Alias::new("related"))
        .order_by(Alias::new(PARENT), Order::Asc)
        .order_by(Alias::new(key), Order::Asc);
    if !load.whole {
        outer.and_where(Expr::col(Alias::new(ROW_NUMBER)).lte(RELATED_LIMIT));
    }
    outer
}
