//! The generic engine's read side: index and show for any [`ResourceDef`] (writes are in
//! [`super::write`]).
//!
//! Tenant scoping lives here, below the handlers: every statement starts from
//! [`scoped_select`], which carries `company_id = <caller's company>`, so a record of another
//! company is indistinguishable from one that does not exist (404).

use kring_core::Value;
use kring_core::query::Page;
use kring_core::schema::ColumnType;
use sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};
use serde_json::{Map, Value as Json};

use super::ResourceDef;
use super::loader::{Load, Row, attach};
use crate::db::{Db, Raw};
use crate::error::Error;

/// Who is asking: the tenant every statement is scoped to, and the acting user.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub company_id: i64,
    pub user_id: i64,
}

/// `SELECT <every column> FROM <table>`, limited to the caller's company. Every read of a
/// resource starts here, which is what keeps tenants apart.
pub fn scoped_select(def: &ResourceDef, scope: Scope) -> SelectStatement {
    let mut query = Query::select();
    query
        .columns(def.columns.iter().map(|c| (def.table, c.name)))
        .from(def.table);
    if def.tenant {
        query.and_where(Expr::col((def.table, "company_id")).eq(scope.company_id));
    }
    query
}

pub fn by_id(def: &ResourceDef, scope: Scope, id: i64) -> SelectStatement {
    let mut query = scoped_select(def, scope);
    query.and_where(Expr::col((def.table, "id")).eq(id));
    query
}

/// The JSON form of a record: every column but the hidden ones, in column order.
pub fn to_json(def: &ResourceDef, record: &[Value]) -> Map<String, Json> {
    def.columns
        .iter()
        .zip(record)
        .filter(|(column, _)| !column.hidden)
        .map(|(column, value)| {
            let json = match (column.ty, value) {
                (ColumnType::Json, Value::Text(text)) => {
                    serde_json::from_str(text).unwrap_or(Json::Null)
                }
                _ => value.to_json(),
            };
            (column.name.to_string(), json)
        })
        .collect()
}

pub fn not_found(def: &ResourceDef, id: i64) -> Error {
    Error::NotFound {
        resource: def.name,
        id: id.to_string(),
    }
}

/// `{"data": […], "limit": N, "total": N, "offset": N}`, ordered by id.
///
/// The page is found first on the `(company_id, id)` index alone and only its rows are read
/// ("deferred join"): a deep `OFFSET` then skips index entries instead of whole rows.
pub async fn index(
    db: &Db,
    def: &'static ResourceDef,
    scope: Scope,
    page: Page,
    loads: &[Load],
) -> Result<Json, Error> {
    let mut ids = Query::select();
    ids.column("id")
        .from(def.table)
        .and_where(Expr::col("company_id").eq(scope.company_id))
        .order_by("id", Order::Asc)
        .limit(page.limit)
        .offset(page.offset);
    let mut query = scoped_select(def, scope);
    query
        .and_where(Expr::col((def.table, "id")).in_subquery(ids))
        .order_by((def.table, "id"), Order::Asc);
    let mut rows: Vec<Row> = db
        .fetch(&query, &def.types())
        .await?
        .into_iter()
        .map(|r| Row::new(def, r))
        .collect();
    attach(db, def, scope, &mut rows, loads).await?;
    let total = counted_total(db, def, scope).await?;
    let data: Vec<Json> = rows.into_iter().map(|r| Json::Object(r.json)).collect();
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

pub async fn show(
    db: &Db,
    def: &'static ResourceDef,
    scope: Scope,
    id: i64,
    loads: &[Load],
) -> Result<Json, Error> {
    let records = db.fetch(&by_id(def, scope, id), &def.types()).await?;
    let mut rows: Vec<Row> = records.into_iter().map(|r| Row::new(def, r)).collect();
    if rows.is_empty() {
        return Err(not_found(def, id));
    }
    attach(db, def, scope, &mut rows, loads).await?;
    let row = rows.pop().ok_or_else(|| not_found(def, id))?;
    Ok(Json::Object(row.json))
}
