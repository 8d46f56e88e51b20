//! What a body writes beside the record's own row: nested children (a task's `subtasks`, a
//! field's `options`, a template's `items`) and many-to-many links (a contact's `customer_ids`,
//! a role's `permissions`).
//!
//! Nested lists are synced: items with an `id` update that child, items without one create a
//! child, children left out are deleted. Links are replaced by the given set. A key that is not
//! in the body leaves its children or links as they are.

use std::collections::BTreeSet;

use chrono::Utc;
use kring_core::Value;
use kring_core::i18n::Message;
use kring_core::resource::{Link, Relation, RelationKind};
use kring_core::schema::{Column, ColumnType};
use kring_core::validate::{self as rules, Mode, Validated, ValidationErrors};
use sea_query::{Cond, Expr, ExprTrait, Query};
use serde_json::{Map, Value as Json};

use super::write::insert_record;
use crate::db::{Tx, bind};
use crate::error::Error;
use crate::registry::{ResourceDef, find};
use crate::tenant::Tenant;

/// The most items one nested list or link list may hold.
pub const MAX_ITEMS: usize = 1000;

/// The checked children and links of one body.
#[derive(Default)]
pub struct Prepared {
    nested: Vec<NestedSync>,
    links: Vec<LinkSync>,
}

struct NestedSync {
    target: &'static ResourceDef,
    parent_key: &'static str,
    /// Existing children that are not in the body any more.
    removed: Vec<i64>,
    items: Vec<NestedItem>,
}

struct NestedItem {
    /// `None` for a new child.
    id: Option<i64>,
    values: Validated,
    position: usize,
}

struct LinkSync {
    pivot: &'static str,
    own_key: &'static str,
    other_key: &'static str,
    /// The set the body gives; `None` when it gives none and only `kept` is ensured.
    ids: Option<BTreeSet<i64>>,
    kept: Kept,
}

/// Links a set always holds, whatever the body gives (see [`Link::primary`]).
#[derive(Clone, Copy)]
enum Kept {
    Nothing,
    /// The target the record's own column names (a contact's primary customer), as the write
    /// leaves it.
    Own {
        column: &'static str,
    },
    /// The records of the target whose column names this one (a customer's contacts whose
    /// primary customer it is).
    Inverse {
        table: &'static str,
        column: &'static str,
    },
}

impl Kept {
    /// What `link` of `def` (through `pivot`, to `target`) always holds.
    fn of(link: &Link, target: &ResourceDef, pivot: &str) -> Kept {
        if let Some(column) = link.primary {
            return Kept::Own { column };
        }
        let inverse = target.links.iter().find(|other| {
            target.relation(other.relation).is_some_and(
                |r| matches!(r.kind, RelationKind::ManyToMany { pivot: p, .. } if p == pivot),
            )
        });
        match inverse.and_then(|other| other.primary) {
            Some(column) => Kept::Inverse {
                table: target.table,
                column,
            },
            None => Kept::Nothing,
        }
    }

    async fn ids(
        self,
        tx: &mut Tx,
        tenant: Tenant,
        parent: &Parent<'_>,
    ) -> Result<BTreeSet<i64>, Error> {
        let (table, column) = match self {
            Kept::Nothing => return Ok(BTreeSet::new()),
            Kept::Own { column } => return Ok(parent.value(column).into_iter().collect()),
            Kept::Inverse { table, column } => (table, column),
        };
        let mut query = Query::select();
        query
            .column("id")
            .from(table)
            .and_where(Expr::col(column).eq(parent.id))
            .and_where(Expr::col("company_id").eq(tenant.company_id));
        Ok(tx
            .fetch(&query, &[ColumnType::Int])
            .await?
            .iter()
            .filter_map(|r| r.first().and_then(Value::as_int))
            .collect())
    }
}

/// The relations a write's response shows: the nested lists and the links whose body key is
/// the relation's name (a role's `permissions`). A customer's `contact_ids` is not echoed, so
/// the customer keeps the seed's exact shape.
pub fn written_relations(def: &ResourceDef) -> impl Iterator<Item = &'static Relation> + '_ {
    def.nested
        .iter()
        .copied()
        .chain(
            def.links
                .iter()
                .filter(|l| l.key == l.relation)
                .map(|l| l.relation),
        )
        .filter_map(|name| def.relation(name))
}

fn list<'a>(
    body: &'a Map<String, Json>,
    key: &str,
    errors: &mut ValidationErrors,
) -> Option<&'a [Json]> {
    match body.get(key)? {
        Json::Array(items) if items.len() <= MAX_ITEMS => Some(items),
        Json::Array(_) => {
            errors.add(
                key,
                Message::new("validation.max.array").with("max", MAX_ITEMS.to_string()),
            );
            None
        }
        _ => {
            errors.add(key, Message::new("validation.array"));
            None
        }
    }
}

/// Checks the nested lists and links `body` carries for a record of `def` (`parent` is the
/// record's id on update).
pub async fn validate(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    body: &Map<String, Json>,
    parent: Option<i64>,
    errors: &mut ValidationErrors,
) -> Result<Prepared, Error> {
    let mut prepared = Prepared::default();
    for name in def.nested {
        let Some(relation) = def.relation(name) else {
            continue;
        };
        let (RelationKind::HasMany { key }, Some(target)) = (relation.kind, find(relation.target))
        else {
            continue;
        };
        let Some(items) = list(body, name, errors) else {
            continue;
        };
        let existing = match parent {
            Some(parent) => child_ids(tx, target, tenant, key, parent).await?,
            None => BTreeSet::new(),
        };
        let sync = nested_items(name, target, key, items, &existing, errors);
        prepared.nested.push(sync);
    }
    for link in def.links {
        if let Some(sync) = link_ids(tx, def, tenant, link, body, errors).await? {
            prepared.links.push(sync);
        }
    }
    Ok(prepared)
}

fn nested_items(
    name: &str,
    target: &'static ResourceDef,
    parent_key: &'static str,
    items: &[Json],
    existing: &BTreeSet<i64>,
    errors: &mut ValidationErrors,
) -> NestedSync {
    let mut kept = BTreeSet::new();
    let mut checked = Vec::with_capacity(items.len());
    for (position, item) in items.iter().enumerate() {
        let prefix = format!("{name}.{position}.");
        let Some(item) = item.as_object() else {
            errors.add(
                format!("{name}.{position}"),
                Message::new("validation.array"),
            );
            continue;
        };
        let id = match item.get("id") {
            None | Some(Json::Null) => None,
            Some(raw) => match rules::coerce(ColumnType::Int, raw) {
                Some(Value::Int(id)) if existing.contains(&id) && kept.insert(id) => Some(id),
                _ => {
                    errors.add(format!("{prefix}id"), Message::new("validation.exists"));
                    continue;
                }
            },
        };
        let mode = if id.is_some() {
            Mode::Update
        } else {
            Mode::Create
        };
        let (values, item_errors) = rules::validate(target.columns, item, mode);
        errors.merge_prefixed(&prefix, item_errors);
        checked.push(NestedItem {
            id,
            values,
            position,
        });
    }
    NestedSync {
        target,
        parent_key,
        removed: existing.difference(&kept).copied().collect(),
        items: checked,
    }
}

async fn child_ids(
    tx: &mut Tx,
    target: &ResourceDef,
    tenant: Tenant,
    key: &'static str,
    parent: i64,
) -> Result<BTreeSet<i64>, Error> {
    let mut query = Query::select();
    query
        .column("id")
        .from(target.table)
        .and_where(Expr::col(key).eq(parent))
        .and_where(Expr::col("company_id").eq(tenant.company_id));
    let rows = tx.fetch(&query, &[ColumnType::Int]).await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.first().and_then(Value::as_int))
        .collect())
}

/// Resolves a link list to ids of the target (ids, or names where the target has a `name`).
async fn link_ids(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    link: &Link,
    body: &Map<String, Json>,
    errors: &mut ValidationErrors,
) -> Result<Option<LinkSync>, Error> {
    let Some(relation) = def.relation(link.relation) else {
        return Ok(None);
    };
    let (
        RelationKind::ManyToMany {
            pivot,
            own_key,
            other_key,
        },
        Some(target),
    ) = (relation.kind, find(relation.target))
    else {
        return Ok(None);
    };
    let kept = Kept::of(link, target, pivot);
    let Some(items) = list(body, link.key, errors) else {
        // No set given: only what it always holds is ensured (a contact's new primary).
        return Ok(link.primary.is_some().then_some(LinkSync {
            pivot,
            own_key,
            other_key,
            ids: None,
            kept,
        }));
    };
    let by_name = target.column("name").is_some();
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        match (rules::coerce(ColumnType::Int, item), item) {
            (Some(Value::Int(id)), _) => {
                ids.insert(id);
            }
            (_, Json::String(name)) if by_name => {
                names.insert(name.clone());
            }
            _ => errors.add(
                format!("{}.{i}", link.key),
                Message::new("validation.integer"),
            ),
        }
    }
    let mut query = Query::select();
    query
        .columns(["id", "name"].into_iter().filter(|c| *c == "id" || by_name))
        .from(target.table);
    let mut matches = Cond::any().add(Expr::col("id").is_in(ids.iter().copied()));
    if by_name {
        matches = matches.add(Expr::col("name").is_in(names.iter().cloned()));
    }
    query.cond_where(matches);
    if target.tenant {
        query.and_where(Expr::col("company_id").eq(tenant.company_id));
    }
    let types: &[ColumnType] = if by_name {
        &[ColumnType::Int, ColumnType::Text]
    } else {
        &[ColumnType::Int]
    };
    let found = if ids.is_empty() && names.is_empty() {
        Vec::new()
    } else {
        tx.fetch(&query, types).await?
    };
    let mut resolved = BTreeSet::new();
    let (mut known_ids, mut known_names) = (BTreeSet::new(), BTreeSet::new());
    for row in &found {
        if let Some(id) = row.first().and_then(Value::as_int) {
            resolved.insert(id);
            known_ids.insert(id);
        }
        if let Some(Value::Text(name)) = row.get(1) {
            known_names.insert(name.clone());
        }
    }
    for (i, item) in items.iter().enumerate() {
        let known = match (rules::coerce(ColumnType::Int, item), item) {
            (Some(Value::Int(id)), _) => known_ids.contains(&id),
            (_, Json::String(name)) if by_name => known_names.contains(name),
            _ => true,
        };
        if !known {
            errors.add(
                format!("{}.{i}", link.key),
                Message::new("validation.exists"),
            );
        }
    }
    Ok(Some(LinkSync {
        pivot,
        own_key,
        other_key,
        ids: Some(resolved),
        kept,
    }))
}

/// The record whose children are written, as the write leaves it.
pub struct Parent<'a> {
    pub def: &'a ResourceDef,
    pub id: i64,
    pub record: &'a [Value],
}

impl Parent<'_> {
    fn value(&self, column: &str) -> Option<i64> {
        let position = self.def.position(column)?;
        self.record.get(position).and_then(Value::as_int)
    }
}

/// Writes the prepared children and links of `parent`; says whether anything changed.
pub async fn write(
    tx: &mut Tx,
    tenant: Tenant,
    parent: &Parent<'_>,
    prepared: &Prepared,
) -> Result<bool, Error> {
    let mut changed = false;
    for sync in &prepared.nested {
        changed |= write_nested(tx, tenant, parent.id, sync).await?;
    }
    for link in &prepared.links {
        changed |= write_link(tx, tenant, parent, link).await?;
    }
    Ok(changed)
}

async fn write_nested(
    tx: &mut Tx,
    tenant: Tenant,
    parent: i64,
    sync: &NestedSync,
) -> Result<bool, Error> {
    let target = sync.target;
    let mut changed = false;
    if !sync.removed.is_empty() {
        let mut delete = Query::delete();
        delete
            .from_table(target.table)
            .and_where(Expr::col("id").is_in(sync.removed.iter().copied()))
            .and_where(Expr::col("company_id").eq(tenant.company_id));
        tx.execute(&delete).await?;
        changed = true;
    }
    let now = Value::Timestamp(Utc::now());
    for item in &sync.items {
        // The list's order is the children's order: positions 0, 1, 2, … as sent, so kept,
        // moved and new children never share one.
        let place = Value::Int(i64::try_from(item.position).unwrap_or(i64::MAX));
        match item.id {
            Some(id) => {
                if let Some(ordinal) = target.columns.iter().find(|c| c.ordinal) {
                    changed |=
                        place_child(tx, target, tenant, id, ordinal.name, &place, &now).await?;
                }
                let values: Vec<(&Column, &Value)> = target
                    .columns
                    .iter()
                    .filter(|c| !c.ordinal)
                    .filter_map(|c| item.values.get(c.name).map(|v| (c, v)))
                    .collect();
                if values.is_empty() {
                    continue;
                }
                let mut update = Query::update();
                update
                    .table(target.table)
                    .values(
                        values
                            .iter()
                            .map(|(c, v)| (c.name, Expr::val(bind(v, c.ty)))),
                    )
                    .value("updated_at", bind(&now, ColumnType::Timestamp))
                    .and_where(Expr::col("id").eq(id))
                    .and_where(Expr::col("company_id").eq(tenant.company_id));
                changed |= tx.execute(&update).await? > 0;
            }
            None => {
                let record = new_child(target, sync.parent_key, parent, item, &now);
                insert_record(tx, target, tenant, &record).await?;
                changed = true;
            }
        }
    }
    Ok(changed)
}

/// Moves a kept child to `place`; says whether it moved (the statement matches only a child
/// that is elsewhere, so an unchanged list writes nothing).
async fn place_child(
    tx: &mut Tx,
    target: &ResourceDef,
    tenant: Tenant,
    id: i64,
    column: &'static str,
    place: &Value,
    now: &Value,
) -> Result<bool, Error> {
    let mut update = Query::update();
    update
        .table(target.table)
        .value(column, bind(place, ColumnType::Int))
        .value("updated_at", bind(now, ColumnType::Timestamp))
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .cond_where(
            Cond::any()
                .add(Expr::col(column).ne(bind(place, ColumnType::Int)))
                .add(Expr::col(column).is_null()),
        );
    Ok(tx.execute(&update).await? > 0)
}

/// A new child's record: the body's values, the parent key, its place in the list as its
/// position, and the column defaults.
fn new_child(
    target: &ResourceDef,
    parent_key: &str,
    parent: i64,
    item: &NestedItem,
    now: &Value,
) -> Vec<Value> {
    target
        .columns
        .iter()
        .map(|column| match column.name {
            "created_at" | "updated_at" => now.clone(),
            name if name == parent_key => Value::Int(parent),
            _ if column.ordinal => Value::Int(i64::try_from(item.position).unwrap_or(i64::MAX)),
            name => match item.values.get(name) {
                Some(value) => value.clone(),
                None => super::write::default_for(column),
            },
        })
        .collect()
}

async fn write_link(
    tx: &mut Tx,
    tenant: Tenant,
    parent: &Parent<'_>,
    link: &LinkSync,
) -> Result<bool, Error> {
    let kept = link.kept.ids(tx, tenant, parent).await?;
    let parent = parent.id;
    let mut query = Query::select();
    query
        .column(link.other_key)
        .from(link.pivot)
        .and_where(Expr::col(link.own_key).eq(parent));
    let current: BTreeSet<i64> = tx
        .fetch(&query, &[ColumnType::Int])
        .await?
        .iter()
        .filter_map(|r| r.first().and_then(Value::as_int))
        .collect();
    let wanted: BTreeSet<i64> = match &link.ids {
        Some(given) => given.union(&kept).copied().collect(),
        None => current.union(&kept).copied().collect(),
    };
    let removed: Vec<i64> = current.difference(&wanted).copied().collect();
    let added: Vec<i64> = wanted.difference(&current).copied().collect();
    if !removed.is_empty() {
        let mut delete = Query::delete();
        delete
            .from_table(link.pivot)
            .and_where(Expr::col(link.own_key).eq(parent))
            .and_where(Expr::col(link.other_key).is_in(removed.iter().copied()));
        tx.execute(&delete).await?;
    }
    if !added.is_empty() {
        let mut insert = Query::insert();
        insert
            .into_table(link.pivot)
            .columns([link.own_key, link.other_key]);
        for id in &added {
            insert
                .values([Expr::val(parent), Expr::val(*id)])
                .map_err(|e| Error::Internal(format!("link statement: {e}")))?;
        }
        tx.execute(&insert).await?;
    }
    Ok(!removed.is_empty() || !added.is_empty())
}
