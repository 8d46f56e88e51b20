//! The generic engine's write side: store, update and destroy for any [`ResourceDef`].
//!
//! Every write is one transaction: the row, its custom field values, its nested children and
//! links, the row counter, the activity-log entry, and on delete everything that depended on the
//! record. Validation runs inside the transaction, so the checks that need the database
//! (references, uniqueness, field definitions) see the same state the write will.

use chrono::Utc;
use kring_core::Value;
use kring_core::i18n::Message;
use kring_core::query::Pattern;
use kring_core::schema::{Column, ColumnType, Default, Fill, OnDelete};
use kring_core::validate::{Mode, Validated, ValidationErrors, validate};
use sea_query::{Expr, ExprTrait, Func, LockType, Query};
use serde_json::{Map, Value as Json};

use super::children::{self, Prepared};
use super::criteria;
use super::field_values::{self, FieldValueChange, Target, Uploads};
use super::read::{by_id, column_json, not_found, to_json};
use crate::crypto::hash_password;
use crate::db::{Tx, bind, dialect};
use crate::error::Error;
use crate::ledger::activity::{self, Event};
use crate::ledger::events::{self, Change};
use crate::registry::{REGISTRY, ResourceDef};
use crate::tenant::Tenant;

/// One record, its values in the order of the resource's columns.
type Record = Vec<Value>;

/// Everything a body asks for, checked: the row's values, field values, children and links.
struct Checked {
    validated: Validated,
    field_values: Vec<field_values::FieldValueInput>,
    children: Prepared,
}

/// `existing` is the record an update changes (its id and values).
async fn check(
    tx: &mut Tx,
    def: &'static ResourceDef,
    tenant: Tenant,
    body: &Map<String, Json>,
    existing: Option<(i64, &[Value])>,
    uploads: Uploads<'_>,
) -> Result<Checked, Error> {
    let mode = if existing.is_some() {
        Mode::Update
    } else {
        Mode::Create
    };
    let (validated, mut errors) = validate(def.columns, body, mode);
    if let Some((_, record)) = existing {
        check_fixed(def, record, &validated, &mut errors);
    }
    let existing = existing.map(|(id, _)| id);
    check_references(tx, def, tenant, &validated, &mut errors).await?;
    check_unique(tx, def, tenant, &validated, existing, &mut errors).await?;
    let target = Target {
        record: existing,
        uploads,
    };
    let field_values =
        field_values::validate(tx, def, tenant, body, mode, target, &mut errors).await?;
    let children = children::validate(tx, def, tenant, body, existing, &mut errors).await?;
    if errors.is_empty() {
        Ok(Checked {
            validated,
            field_values,
            children,
        })
    } else {
        Err(Error::Validation(errors))
    }
}

/// Validates `body` and inserts the record with everything that belongs to it, in `tx`, which
/// the caller commits; returns its id and the record as served.
pub async fn store(
    tx: &mut Tx,
    def: &'static ResourceDef,
    tenant: Tenant,
    body: &Map<String, Json>,
) -> Result<(i64, Map<String, Json>), Error> {
    store_with(tx, def, tenant, body, &[]).await
}

/// [`store`], with files the request uploaded for the record's file fields.
pub async fn store_with(
    tx: &mut Tx,
    def: &'static ResourceDef,
    tenant: Tenant,
    body: &Map<String, Json>,
    uploads: Uploads<'_>,
) -> Result<(i64, Map<String, Json>), Error> {
    mark_access(tx, def);
    let filled = fill_absent(tx, def, tenant, body).await?;
    let body = filled.as_ref().unwrap_or(body);
    let checked = check(tx, def, tenant, body, None, uploads).await?;
    let now = Value::Timestamp(Utc::now());
    let mut record: Record = def
        .columns
        .iter()
        .map(|column| match column.name {
            "created_at" | "updated_at" => now.clone(),
            "company_id" => Value::Int(tenant.company_id),
            name if Some(name) == def.owner && checked.validated.get(name).is_none() => {
                Value::Int(tenant.user_id)
            }
            name => checked
                .validated
                .get(name)
                .cloned()
                .unwrap_or_else(|| default_for(column)),
        })
        .collect();
    hash_passwords(def, &mut record)?;
    if let Some(derive) = def.derive {
        derive(def, &mut record);
    }
    let generated = generate_values(def, &mut record)?;

    let id = insert_record(tx, def, tenant, &record).await?;
    if let Some(slot) = record.first_mut() {
        *slot = Value::Int(id);
    }
    let changes = field_values::write(tx, def, tenant, id, &checked.field_values).await?;
    let parent = children::Parent {
        def,
        id,
        record: &record,
    };
    children::write(tx, tenant, &parent, &checked.children).await?;
    let served = to_json(def, &record);
    let attributes = with_field_changes(recorded_json(def, &record), &changes, false);
    // A generated secret is in this one response and nowhere else (not the log, not events).
    let mut shown = served.clone();
    shown.extend(generated);
    let properties = serde_json::json!({ "attributes": attributes });
    activity::record(tx, def, tenant, id, Event::Created, properties).await?;
    let created = Change {
        def,
        id,
        event: Event::Created,
        data: &served,
        previous: None,
    };
    events::record(tx, tenant, created).await?;
    Ok((id, shown))
}

/// A record as its changes are recorded (activity log, events, webhooks): as served, and with
/// the hidden columns a dialect writes (ManageIt's person and business details), never a
/// password or a generated secret.
fn recorded_json(def: &ResourceDef, record: &[Value]) -> Map<String, Json> {
    let mut json = to_json(def, record);
    for (column, value) in def.columns.iter().zip(record) {
        if column.hidden && column.writable && !column.password {
            json.insert(column.name.to_string(), column_json(column, value));
        }
    }
    json
}

impl Beside {
    fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.old.is_empty()
    }
}

/// Inserts one record (all columns but `id`; the tenant from the scope) and returns its id.
pub async fn insert_record(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    record: &[Value],
) -> Result<i64, Error> {
    let stored: Vec<(&Column, &Value)> = def
        .columns
        .iter()
        .zip(record)
        .filter(|(c, _)| c.name != "id" && c.name != "company_id")
        .collect();
    let tenant = def.tenant.then_some(("company_id", tenant.company_id));
    let mut insert = Query::insert();
    insert
        .into_table(def.table)
        .columns(
            tenant
                .map(|(name, _)| name)
                .into_iter()
                .chain(stored.iter().map(|(c, _)| c.name)),
        )
        .values(
            tenant
                .map(|(_, id)| Expr::val(id))
                .into_iter()
                .chain(stored.iter().map(|(c, v)| Expr::val(bind(v, c.ty)))),
        )
        .map_err(|e| Error::Internal(format!("insert statement: {e}")))?
        .returning_col("id");
    tx.insert(&insert).await
}

/// A partial update, in `tx`, which the caller commits: only the keys present in `body`
/// change. Returns the record as served.
pub async fn update(
    tx: &mut Tx,
    def: &'static ResourceDef,
    tenant: Tenant,
    id: i64,
    body: &Map<String, Json>,
) -> Result<Map<String, Json>, Error> {
    update_with(tx, def, tenant, id, body, &[], &Beside::default()).await
}

/// What a dialect changed beside the record's columns, values and children in the same write
/// (ManageIt's permissions, photo and files), under its own names: recorded with the update as
/// one change, in its activity entry and its event.
#[derive(Debug, Default)]
pub struct Beside {
    pub attributes: Map<String, Json>,
    pub old: Map<String, Json>,
}

/// [`update`], with files the request uploaded for the record's file fields and what the
/// write changed beside the record.
pub async fn update_with(
    tx: &mut Tx,
    def: &'static ResourceDef,
    tenant: Tenant,
    id: i64,
    body: &Map<String, Json>,
    uploads: Uploads<'_>,
    beside: &Beside,
) -> Result<Map<String, Json>, Error> {
    mark_access(tx, def);
    let mut query = by_id(def, tenant, id);
    query.lock(LockType::Update);
    let rows = tx.fetch(&query, &def.types()).await?;
    let mut record = rows.into_iter().next().ok_or_else(|| not_found(def, id))?;
    let checked = check(tx, def, tenant, body, Some((id, &record)), uploads).await?;

    let before = record.clone();
    for (column, slot) in def.columns.iter().zip(record.iter_mut()) {
        if let Some(new) = checked.validated.get(column.name) {
            *slot = new.clone();
        }
    }
    hash_passwords(def, &mut record)?;
    if let Some(derive) = def.derive {
        derive(def, &mut record);
    }
    let mut changed: Vec<&'static Column> = def
        .columns
        .iter()
        .zip(record.iter().zip(&before))
        .filter(|(column, (new, old))| {
            new != old || (column.password && checked.validated.get(column.name).is_some())
        })
        .map(|(column, _)| column)
        .collect();
    let field_changes = field_values::write(tx, def, tenant, id, &checked.field_values).await?;
    let parent = children::Parent {
        def,
        id,
        record: &record,
    };
    let children_changed = children::write(tx, tenant, &parent, &checked.children).await?;
    if changed.is_empty() && field_changes.is_empty() && !children_changed && beside.is_empty() {
        return Ok(to_json(def, &record));
    }

    if let Some(position) = def.position("updated_at") {
        if let Some(slot) = record.get_mut(position) {
            *slot = Value::Timestamp(Utc::now());
        }
        changed.extend(def.columns.get(position));
    }
    if !changed.is_empty() {
        let mut statement = Query::update();
        statement
            .table(def.table)
            .values(changed.iter().filter_map(|c| {
                let value = def.position(c.name).and_then(|i| record.get(i))?;
                Some((c.name, Expr::val(bind(value, c.ty))))
            }))
            .and_where(Expr::col("id").eq(id));
        if def.tenant {
            statement.and_where(Expr::col("company_id").eq(tenant.company_id));
        }
        tx.execute(&statement).await?;
    }

    let (after, before) = (recorded_json(def, &record), recorded_json(def, &before));
    let pick = |map: &Map<String, Json>| -> Map<String, Json> {
        changed
            .iter()
            .filter(|c| c.name != "updated_at")
            .filter_map(|c| map.get(c.name).map(|v| (c.name.to_string(), v.clone())))
            .collect()
    };
    let mut previous = with_field_changes(pick(&before), &field_changes, true);
    let mut attributes = with_field_changes(pick(&after), &field_changes, false);
    previous.extend(beside.old.clone());
    attributes.extend(beside.attributes.clone());
    // The event's record as a show returns it, with the new values of what changed that a
    // show does not hold (a hidden column, ManageIt's permissions), so every changed field
    // has its value beside its previous one.
    let served = to_json(def, &record);
    let mut data = served.clone();
    for (key, value) in pick(&after).into_iter().chain(beside.attributes.clone()) {
        data.entry(key).or_insert(value);
    }
    let properties = serde_json::json!({ "attributes": attributes, "old": previous });
    activity::record(tx, def, tenant, id, Event::Updated, properties).await?;
    let updated = Change {
        def,
        id,
        event: Event::Updated,
        data: &data,
        previous: Some(&previous),
    };
    events::record(tx, tenant, updated).await?;
    Ok(served)
}

/// Deletes the record and, as its references say, deletes or detaches what depends on it, in
/// `tx`, which the caller commits.
pub async fn destroy(
    tx: &mut Tx,
    def: &'static ResourceDef,
    tenant: Tenant,
    id: i64,
) -> Result<(), Error> {
    mark_access(tx, def);
    let mut query = by_id(def, tenant, id);
    query.lock(LockType::Update);
    let rows = tx.fetch(&query, &def.types()).await?;
    let record = rows.first().ok_or_else(|| not_found(def, id))?;
    let old = to_json(def, record);
    delete_records(tx, def, tenant, vec![id]).await?;
    let properties = serde_json::json!({ "old": old });
    activity::record(tx, def, tenant, id, Event::Deleted, properties).await
}

/// A write to a resource that shapes principals (users, roles, settings) makes every
/// remembered principal stale once it commits.
fn mark_access(tx: &mut Tx, def: &ResourceDef) {
    if def.shapes_principals {
        tx.changes_access();
    }
}

/// Every column of every resource that references `def`'s table.
fn dependents(def: &ResourceDef) -> impl Iterator<Item = (&'static ResourceDef, &'static Column)> {
    REGISTRY.iter().flat_map(move |other| {
        other
            .columns
            .iter()
            .filter(move |c| c.references == Some(def.table))
            .map(move |c| (*other, c))
    })
}

/// Deletes `ids` of `def` after dealing with their dependants: a restricting reference refuses
/// the delete (409), a cascading one deletes its records the same way, a detaching one is set to
/// null. Bounded by the depth of the resource graph, which has no cascade cycles.
fn delete_records<'a>(
    tx: &'a mut Tx,
    def: &'static ResourceDef,
    tenant: Tenant,
    ids: Vec<i64>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send + 'a>> {
    Box::pin(async move {
        if ids.is_empty() {
            return Ok(());
        }
        let doomed = records(tx, def, tenant, column_in("id", &ids)).await?;
        for (dependent, column) in dependents(def) {
            let mut matching = Query::select();
            matching
                .column("id")
                .from(dependent.table)
                .and_where(Expr::col(column.name).is_in(ids.clone()));
            if dependent.tenant {
                matching.and_where(Expr::col("company_id").eq(tenant.company_id));
            }
            match column.on_delete {
                OnDelete::Restrict => {
                    let found = tx.fetch(&matching, &[ColumnType::Int]).await?;
                    if !found.is_empty() {
                        return Err(Error::Conflict(
                            Message::new("http.delete_restricted")
                                .with("resource", def.name)
                                .with("count", found.len().to_string())
                                .with("dependents", dependent.table),
                        ));
                    }
                }
                OnDelete::Cascade => {
                    let found = tx.fetch(&matching, &[ColumnType::Int]).await?;
                    let child_ids = found
                        .iter()
                        .filter_map(|r| r.first().and_then(Value::as_int))
                        .collect();
                    delete_records(tx, dependent, tenant, child_ids).await?;
                }
                OnDelete::Detach => {
                    let detached =
                        records(tx, dependent, tenant, column_in(column.name, &ids)).await?;
                    let mut detach = Query::update();
                    detach
                        .table(dependent.table)
                        .value(column.name, bind(&Value::Null, column.ty))
                        .and_where(Expr::col(column.name).is_in(ids.clone()));
                    if dependent.tenant {
                        detach.and_where(Expr::col("company_id").eq(tenant.company_id));
                    }
                    tx.execute(&detach).await?;
                    announce_detached(tx, dependent, tenant, column, &detached).await?;
                }
            }
        }
        for relation in def.relations {
            if let kring_core::resource::RelationKind::Morph {
                type_column,
                id_column,
            } = relation.kind
                && !relation.outlives_parent
            {
                let Some(target) = crate::registry::find(relation.target) else {
                    continue;
                };
                let mut delete = Query::delete();
                delete
                    .from_table(target.table)
                    .and_where(Expr::col(type_column).eq(def.name))
                    .and_where(Expr::col(id_column).is_in(ids.clone()))
                    .and_where(Expr::col("company_id").eq(tenant.company_id));
                tx.execute(&delete).await?;
            }
        }
        let mut delete = Query::delete();
        delete
            .from_table(def.table)
            .and_where(Expr::col("id").is_in(ids.clone()))
            .and_where(Expr::col("company_id").eq(tenant.company_id));
        tx.execute(&delete).await?;
        for record in &doomed {
            let data = to_json(def, record);
            let id = record.first().and_then(Value::as_int).unwrap_or(0);
            let tombstone = Change {
                def,
                id,
                event: Event::Deleted,
                data: &data,
                previous: None,
            };
            events::record(tx, tenant, tombstone).await?;
        }
        Ok(())
    })
}

fn column_in(column: &'static str, ids: &[i64]) -> sea_query::SimpleExpr {
    Expr::col(column).is_in(ids.iter().copied())
}

/// The records of `def` matching `condition`, within the caller's company.
async fn records(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    condition: sea_query::SimpleExpr,
) -> Result<Vec<Record>, Error> {
    let mut query = super::read::scoped_select(def, tenant);
    query.and_where(condition);
    tx.fetch(&query, &def.types()).await
}

/// Reports records whose `column` a delete set to null as updated.
async fn announce_detached(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    column: &Column,
    detached: &[Record],
) -> Result<(), Error> {
    for record in detached {
        let before = to_json(def, record);
        let mut after = before.clone();
        after.insert(column.name.to_string(), Json::Null);
        let previous: Map<String, Json> = before
            .get(column.name)
            .map(|old| (column.name.to_string(), old.clone()))
            .into_iter()
            .collect();
        let id = record.first().and_then(Value::as_int).unwrap_or(0);
        let change = Change {
            def,
            id,
            event: Event::Updated,
            data: &after,
            previous: Some(&previous),
        };
        events::record(tx, tenant, change).await?;
    }
    Ok(())
}

/// The value a column gets when a create leaves it out.
pub fn default_for(column: &Column) -> Value {
    match column.default {
        Some(Default::Int(i)) => return Value::Int(i),
        Some(Default::Text(t)) => return Value::Text(t.to_string()),
        Some(Default::Bool(b)) => return Value::Bool(b),
        None => {}
    }
    if column.nullable {
        return Value::Null;
    }
    match column.ty {
        ColumnType::Bool => Value::Bool(false),
        ColumnType::Int => Value::Int(0),
        ColumnType::Float => Value::Float(0.0),
        _ => Value::Text(String::new()),
    }
}

/// Fills generated columns; returns the hidden ones, to be shown once.
fn generate_values(def: &ResourceDef, record: &mut [Value]) -> Result<Map<String, Json>, Error> {
    let mut shown = Map::new();
    for (column, slot) in def.columns.iter().zip(record.iter_mut()) {
        if let Some(generator) = column.generate {
            let value = generator()
                .ok_or_else(|| Error::Internal(format!("cannot generate {}", column.name)))?;
            if column.hidden {
                shown.insert(column.name.to_string(), Json::String(value.clone()));
            }
            *slot = Value::Text(value);
        }
    }
    Ok(shown)
}

/// Replaces plain passwords by their argon2id hash. Hashes are never compared to a new value,
/// so a given password always counts as a change.
fn hash_passwords(def: &ResourceDef, record: &mut [Value]) -> Result<(), Error> {
    for (column, slot) in def.columns.iter().zip(record.iter_mut()) {
        if let (true, Value::Text(plain)) = (column.password, &slot)
            && !plain.starts_with("$argon2")
        {
            *slot = Value::Text(hash_password(plain)?);
        }
    }
    Ok(())
}

/// A fixed column may be sent again with its value, never with another.
fn check_fixed(
    def: &ResourceDef,
    record: &[Value],
    validated: &Validated,
    errors: &mut ValidationErrors,
) {
    for (column, current) in def.columns.iter().zip(record) {
        if column.fixed
            && let Some(given) = validated.get(column.name)
            && given != current
        {
            errors.add(column.name, Message::new("validation.fixed"));
        }
    }
}

/// `user_id` and other references must name a record of the caller's own company; a foreign or
/// unknown id reads as "The selected … is invalid." like any other bad value.
async fn check_references(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    validated: &Validated,
    errors: &mut ValidationErrors,
) -> Result<(), Error> {
    for column in def.columns {
        let (Some(table), Some(Value::Int(id))) = (column.references, validated.get(column.name))
        else {
            continue;
        };
        let mut query = Query::select();
        query
            .column("id")
            .from(table)
            .and_where(Expr::col("id").eq(*id))
            .and_where(Expr::col("company_id").eq(tenant.company_id));
        if tx.fetch(&query, &[ColumnType::Int]).await?.is_empty() {
            errors.add(column.name, Message::new("validation.exists"));
        }
    }
    Ok(())
}

/// Refuses a value of a unique column that another record of the company holds (never the
/// record itself). Text is compared as Laravel on MySQL's default collation compares it,
/// ignoring case, in both dialects. On PostgreSQL a transaction lock per company and column
/// keeps two writes from both passing the check (SQLite runs one write at a time).
async fn check_unique(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    validated: &Validated,
    existing: Option<i64>,
    errors: &mut ValidationErrors,
) -> Result<(), Error> {
    for column in def.columns {
        let Some(value) = validated.get(column.name).filter(|_| column.unique) else {
            continue;
        };
        let lock = unique_lock(def.table, column.name) ^ tenant.company_id;
        dialect::lock_until_commit(tx, lock).await?;
        let same = match value {
            Value::Text(text) => Expr::expr(Func::lower(Expr::col(column.name)))
                .eq(Func::lower(Expr::val(text.clone()))),
            other => Expr::col(column.name).eq(bind(other, column.ty)),
        };
        let mut query = Query::select();
        query
            .column("id")
            .from(def.table)
            .and_where(same)
            .and_where(Expr::col("company_id").eq(tenant.company_id));
        if let Some(id) = existing {
            query.and_where(Expr::col("id").ne(id));
        }
        if !tx.fetch(&query, &[ColumnType::Int]).await?.is_empty() {
            errors.add(column.name, Message::new("validation.unique"));
        }
    }
    Ok(())
}

/// The advisory lock of one unique column: FNV-1a of its table and name.
fn unique_lock(table: &str, column: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in table.bytes().chain([b'.']).chain(column.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// The body of a create with the columns it left empty that say how to fill them
/// ([`Fill`]); `None` when there are none.
async fn fill_absent(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    body: &Map<String, Json>,
) -> Result<Option<Map<String, Json>>, Error> {
    let absent = |c: &&Column| c.fill.is_some() && body.get(c.name).is_none_or(Json::is_null);
    if !def.columns.iter().any(|c| absent(&c)) {
        return Ok(None);
    }
    let mut filled = body.clone();
    for column in def.columns.iter().filter(absent) {
        let value = match column.fill {
            Some(Fill::Uuid) => crate::crypto::uuid()?,
            Some(Fill::KeyOf(source)) => {
                let Some(Json::String(name)) = body.get(source) else {
                    continue;
                };
                free_key(tx, def, tenant, column, name).await?
            }
            None => continue,
        };
        filled.insert(column.name.to_string(), Json::String(value));
    }
    Ok(Some(filled))
}

/// Fills what records written before a column had a [`Fill`] left empty (fields made before
/// every field had a key and a group): once, at start, after the migrations.
pub async fn fill_missing(db: &crate::db::Db) -> Result<(), Error> {
    for def in REGISTRY.iter().filter(|d| d.tenant) {
        for column in def.columns.iter().filter(|c| c.fill.is_some()) {
            let mut query = Query::select();
            query
                .columns(["id", "company_id"])
                .from(def.table)
                .and_where(Expr::col(column.name).is_null());
            let mut types = vec![ColumnType::Int, ColumnType::Int];
            if let Some(Fill::KeyOf(source)) = column.fill {
                query.column(source);
                types.push(ColumnType::Text);
            }
            let mut tx = db.begin().await?;
            for row in tx.fetch(&query, &types).await? {
                let (Some(Value::Int(id)), Some(Value::Int(company_id))) =
                    (row.first(), row.get(1))
                else {
                    continue;
                };
                let tenant = Tenant {
                    company_id: *company_id,
                    user_id: 0,
                };
                let value = match (column.fill, row.get(2)) {
                    (Some(Fill::KeyOf(_)), Some(Value::Text(name))) => {
                        free_key(&mut tx, def, tenant, column, name).await?
                    }
                    (Some(Fill::KeyOf(_)), _) => free_key(&mut tx, def, tenant, column, "").await?,
                    _ => crate::crypto::uuid()?,
                };
                let mut update = Query::update();
                update
                    .table(def.table)
                    .value(column.name, value)
                    .and_where(Expr::col("id").eq(*id));
                tx.execute(&update).await?;
            }
            tx.commit().await?;
        }
    }
    Ok(())
}

/// A key for `name` in `column` that no record of the company has yet (ignoring case). The
/// column's uniqueness lock is taken first, so a concurrent create waits and then sees it.
async fn free_key(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    column: &Column,
    name: &str,
) -> Result<String, Error> {
    let lock = unique_lock(def.table, column.name) ^ tenant.company_id;
    dialect::lock_until_commit(tx, lock).await?;
    let mut key = kring_core::schema::key_from(name);
    if key.is_empty() {
        key = def.name.to_string();
    }
    let mut query = Query::select();
    query
        .expr(Func::lower(Expr::col(column.name)))
        .from(def.table)
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(criteria::matches(
            tx.backend(),
            Expr::col(column.name),
            Pattern::StartsWith,
            &key,
        ));
    let taken: Vec<String> = tx
        .fetch(&query, &[ColumnType::Text])
        .await?
        .into_iter()
        .filter_map(|row| match row.into_iter().next() {
            Some(Value::Text(text)) => Some(text),
            _ => None,
        })
        .collect();
    Ok(kring_core::schema::unique_key(&key, &taken))
}

/// Adds `field_values.<field_id>` entries to an activity-log attribute map.
fn with_field_changes(
    mut map: Map<String, Json>,
    changes: &[FieldValueChange],
    old: bool,
) -> Map<String, Json> {
    for change in changes {
        let value = if old { &change.old } else { &change.new };
        map.insert(
            format!("field_values.{}", change.field_id),
            value.clone().map(Json::String).unwrap_or(Json::Null),
        );
    }
    map
}
