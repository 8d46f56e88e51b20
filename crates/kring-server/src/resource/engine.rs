//! The generic engine: index, show, store, update and destroy for any [`ResourceDef`].
//!
//! Tenant scoping lives here, below the handlers: every statement this module builds carries
//! `company_id = <caller's company>`, so a record of another company is indistinguishable from
//! one that does not exist (404). Every write is one transaction with its field values, its
//! row count and its activity-log entry.

use chrono::Utc;
use kring_core::Value;
use kring_core::i18n::Message;
use kring_core::query::Page;
use kring_core::schema::{Column, ColumnType};
use kring_core::validate::{Mode, Validated, ValidationErrors, validate};
use sea_query::{Expr, ExprTrait, LockType, Order, Query, SelectStatement};
use serde_json::{Map, Value as Json};

use super::ResourceDef;
use super::field_values::{self, FieldValueChange};
use crate::activity::{self, Event};
use crate::db::{Db, Raw, Tx, bind};
use crate::error::Error;

/// Who is asking: the tenant every statement is scoped to, and the acting user.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub company_id: i64,
    pub user_id: i64,
}

/// One record, its values in the order of the resource's columns.
type Record = Vec<Value>;

fn select(def: &ResourceDef, scope: Scope) -> SelectStatement {
    let mut query = Query::select();
    query
        .columns(def.columns.iter().map(|c| (def.table, c.name)))
        .from(def.table)
        .and_where(Expr::col((def.table, "company_id")).eq(scope.company_id));
    query
}

fn by_id(def: &ResourceDef, scope: Scope, id: i64) -> SelectStatement {
    let mut query = select(def, scope);
    query.and_where(Expr::col((def.table, "id")).eq(id));
    query
}

/// The JSON form of a record: every column but the hidden ones, in column order.
pub fn to_json(def: &ResourceDef, record: &[Value]) -> Map<String, Json> {
    def.columns
        .iter()
        .zip(record)
        .filter(|(column, _)| !column.hidden)
        .map(|(column, value)| (column.name.to_string(), value.to_json()))
        .collect()
}

fn not_found(def: &ResourceDef, id: i64) -> Error {
    Error::NotFound {
        resource: def.name,
        id: id.to_string(),
    }
}

/// `{"data": […], "limit": N, "total": N, "offset": N}`, ordered by id.
///
/// The page is found first on the `(company_id, id)` index alone and only its rows are read
/// ("deferred join"): a deep `OFFSET` then skips index entries instead of whole rows.
pub async fn index(db: &Db, def: &ResourceDef, scope: Scope, page: Page) -> Result<Json, Error> {
    let mut ids = Query::select();
    ids.column("id")
        .from(def.table)
        .and_where(Expr::col("company_id").eq(scope.company_id))
        .order_by("id", Order::Asc)
        .limit(page.limit)
        .offset(page.offset);
    let mut query = select(def, scope);
    query
        .and_where(Expr::col((def.table, "id")).in_subquery(ids))
        .order_by((def.table, "id"), Order::Asc);
    let records = db.fetch(&query, &def.types()).await?;
    let total = counted_total(db, def, scope).await?;
    let data: Vec<Json> = records
        .iter()
        .map(|r| Json::Object(to_json(def, r)))
        .collect();
    Ok(
        serde_json::json!({ "data": data, "limit": page.limit, "total": total, "offset": page.offset }),
    )
}

/// The unfiltered total, from the counter kept by every insert and delete.
async fn counted_total(db: &Db, def: &ResourceDef, scope: Scope) -> Result<i64, Error> {
    let query = Raw::new(
        "SELECT total FROM resource_counts WHERE company_id = ? AND resource = ?",
        vec![scope.company_id.into(), def.name.into()],
    );
    let rows = db.fetch(&query, &[ColumnType::Int]).await?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
        .unwrap_or(0))
}

pub async fn show(db: &Db, def: &ResourceDef, scope: Scope, id: i64) -> Result<Json, Error> {
    let rows = db.fetch(&by_id(def, scope, id), &def.types()).await?;
    let record = rows.first().ok_or_else(|| not_found(def, id))?;
    Ok(Json::Object(to_json(def, record)))
}

/// Validates `body`, inserts the record with its field values, and returns it as show would.
pub async fn store(
    db: &Db,
    def: &ResourceDef,
    scope: Scope,
    body: &Map<String, Json>,
) -> Result<Json, Error> {
    let (validated, mut errors) = validate(def.columns, body, Mode::Create);
    let mut tx = db.begin().await?;
    check_references(&mut tx, def, scope, &validated, &mut errors).await?;
    let field_values =
        field_values::validate(&mut tx, def, scope, body, Mode::Create, &mut errors).await?;
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }

    let now = Value::Timestamp(Utc::now());
    let record: Record = def
        .columns
        .iter()
        .map(|column| match column.name {
            "created_at" | "updated_at" => now.clone(),
            name if Some(name) == def.owner && validated.get(name).is_none() => {
                Value::Int(scope.user_id)
            }
            name => validated
                .get(name)
                .cloned()
                .unwrap_or_else(|| default_for(column)),
        })
        .collect();

    let mut insert = Query::insert();
    let stored: Vec<(&Column, &Value)> = def
        .columns
        .iter()
        .zip(&record)
        .filter(|(c, _)| c.name != "id")
        .collect();
    insert
        .into_table(def.table)
        .columns(std::iter::once("company_id").chain(stored.iter().map(|(c, _)| c.name)))
        .values(
            std::iter::once(Expr::val(scope.company_id))
                .chain(stored.iter().map(|(c, v)| Expr::val(bind(v, c.ty)))),
        )
        .map_err(|e| Error::Internal(format!("insert statement: {e}")))?
        .returning_col("id");
    let id = tx.insert(&insert).await?;
    let mut record = record;
    if let Some(slot) = record.first_mut() {
        *slot = Value::Int(id);
    }

    let changes = field_values::write(&mut tx, def, scope, id, &field_values).await?;
    adjust_count(&mut tx, def, scope, 1).await?;
    let attributes = to_json(def, &record);
    let properties = serde_json::json!({ "attributes": with_field_changes(attributes.clone(), &changes, false) });
    activity::record(&mut tx, def, scope, id, Event::Created, properties).await?;
    tx.commit().await?;
    Ok(Json::Object(attributes))
}

/// A partial update: only the keys present in `body` change.
pub async fn update(
    db: &Db,
    def: &ResourceDef,
    scope: Scope,
    id: i64,
    body: &Map<String, Json>,
) -> Result<Json, Error> {
    let (validated, mut errors) = validate(def.columns, body, Mode::Update);
    let mut tx = db.begin().await?;
    let mut query = by_id(def, scope, id);
    query.lock(LockType::Update);
    let rows = tx.fetch(&query, &def.types()).await?;
    let mut record = rows.into_iter().next().ok_or_else(|| not_found(def, id))?;

    check_references(&mut tx, def, scope, &validated, &mut errors).await?;
    let field_values =
        field_values::validate(&mut tx, def, scope, body, Mode::Update, &mut errors).await?;
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }

    let before = to_json(def, &record);
    let mut changed: Vec<(&Column, Value)> = Vec::new();
    for (column, slot) in def.columns.iter().zip(record.iter_mut()) {
        if let Some(new) = validated.get(column.name)
            && new != slot
        {
            *slot = new.clone();
            changed.push((column, new.clone()));
        }
    }
    let field_changes = field_values::write(&mut tx, def, scope, id, &field_values).await?;
    if changed.is_empty() && field_changes.is_empty() {
        tx.commit().await?;
        return Ok(Json::Object(before));
    }

    let now = Value::Timestamp(Utc::now());
    if let Some((column, slot)) = def
        .columns
        .iter()
        .zip(record.iter_mut())
        .find(|(c, _)| c.name == "updated_at")
    {
        *slot = now.clone();
        changed.push((column, now));
    }
    let mut statement = Query::update();
    statement
        .table(def.table)
        .values(
            changed
                .iter()
                .map(|(c, v)| (c.name, Expr::val(bind(v, c.ty)))),
        )
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("company_id").eq(scope.company_id));
    tx.execute(&statement).await?;

    let after = to_json(def, &record);
    let names: Vec<&str> = changed
        .iter()
        .map(|(c, _)| c.name)
        .filter(|n| *n != "updated_at")
        .collect();
    let pick = |map: &Map<String, Json>| -> Map<String, Json> {
        names
            .iter()
            .filter_map(|n| map.get(*n).map(|v| (n.to_string(), v.clone())))
            .collect()
    };
    let properties = serde_json::json!({
        "attributes": with_field_changes(pick(&after), &field_changes, false),
        "old": with_field_changes(pick(&before), &field_changes, true),
    });
    activity::record(&mut tx, def, scope, id, Event::Updated, properties).await?;
    tx.commit().await?;
    Ok(Json::Object(after))
}

pub async fn destroy(db: &Db, def: &ResourceDef, scope: Scope, id: i64) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    let mut query = by_id(def, scope, id);
    query.lock(LockType::Update);
    let rows = tx.fetch(&query, &def.types()).await?;
    let record = rows.first().ok_or_else(|| not_found(def, id))?;
    let old = to_json(def, record);

    field_values::delete_all(&mut tx, def, scope, id).await?;
    let mut statement = Query::delete();
    statement
        .from_table(def.table)
        .and_where(Expr::col("id").eq(id))
        .and_where(Expr::col("company_id").eq(scope.company_id));
    tx.execute(&statement).await?;
    adjust_count(&mut tx, def, scope, -1).await?;
    activity::record(
        &mut tx,
        def,
        scope,
        id,
        Event::Deleted,
        serde_json::json!({ "old": old }),
    )
    .await?;
    tx.commit().await
}

/// The value a column gets when a create leaves it out.
fn default_for(column: &Column) -> Value {
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

/// `user_id` and other references must name a record of the caller's own company; a foreign or
/// unknown id reads as "The selected … is invalid." like any other bad value.
async fn check_references(
    tx: &mut Tx,
    def: &ResourceDef,
    scope: Scope,
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
            .and_where(Expr::col("company_id").eq(scope.company_id));
        if tx.fetch(&query, &[ColumnType::Int]).await?.is_empty() {
            errors.add(column.name, Message::new("validation.exists"));
        }
    }
    Ok(())
}

async fn adjust_count(
    tx: &mut Tx,
    def: &ResourceDef,
    scope: Scope,
    delta: i64,
) -> Result<(), Error> {
    let statement = Raw::new(
        "INSERT INTO resource_counts (company_id, resource, total) VALUES (?, ?, ?) \
         ON CONFLICT (company_id, resource) DO UPDATE SET total = resource_counts.total + excluded.total",
        vec![scope.company_id.into(), def.name.into(), delta.into()],
    );
    tx.execute(&statement).await.map(|_| ())
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
