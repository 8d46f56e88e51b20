//! The generic engine's read side: index and show for any [`ResourceDef`] (writes are in
//! [`super::write`]).
//!
//! Tenant scoping lives here, below the handlers: every statement starts from
//! [`scoped_select`], which carries `company_id = <caller's company>`, so a record of another
//! company is indistinguishable from one that does not exist (404).

use kring_core::Value;
use kring_core::query::Plan;
use kring_core::schema::ColumnType;
use sea_query::{Alias, Cond, Expr, ExprTrait, Func, Query, SelectStatement};
use serde_json::{Map, Value as Json};

use super::ResourceDef;
use super::criteria::{self, Context};
use super::loader::{Row, attach};
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

/// `{"data": […], "limit": N, "total": N, "offset": N}` for a checked plan.
///
/// The page is found first on the ids alone and only its rows are read ("deferred join"): a
/// deep `OFFSET` then skips index entries instead of whole rows. `total` counts the filtered
/// rows; without a filter it is the counter every insert and delete keeps.
pub async fn index(
    db: &Db,
    def: &'static ResourceDef,
    scope: Scope,
    plan: &Plan,
) -> Result<Json, Error> {
    let page = plan.page.unwrap_or_default();
    let ctx = Context::new(db, scope, plan.filter.as_ref()).await?;
    // The page's ids come from the table under its own alias: a correlated filter inside this
    // subquery must never be read as referring to the outer statement's rows.
    let filter = |root: &str| {
        plan.filter
            .as_ref()
            .map(|f| criteria::condition(&ctx, def, root, f))
            .transpose()
    };
    let mut ids = Query::select();
    ids.column((PAGE, "id"))
        .from_as(def.table, PAGE)
        .and_where(Expr::col((PAGE, "company_id")).eq(scope.company_id));
    if let Some(condition) = filter(PAGE)? {
        ids.cond_where(condition);
    }
    criteria::order(&ctx, PAGE, &mut ids, &plan.order_by);
    ids.limit(page.limit).offset(page.offset);
    let mut query = planned_select(&ctx, def, plan);
    query.and_where(Expr::col((def.table, "id")).in_subquery(ids));
    criteria::order(&ctx, def.table, &mut query, &plan.order_by);
    let rows = fetch_rows(db, def, scope, &query, plan).await?;
    let total = match filter(def.table)? {
        None => counted_total(db, def, scope).await?,
        Some(condition) => filtered_total(db, def, scope, condition).await?,
    };
    let data: Vec<Json> = rows.into_iter().map(|r| Json::Object(r.json)).collect();
    Ok(
        serde_json::json!({ "data": data, "limit": page.limit, "total": total, "offset": page.offset }),
    )
}

/// The alias of the table in the subquery that picks a page's ids.
const PAGE: &str = "page";

/// The resource's columns and the plan's counts.
fn planned_select(ctx: &Context, def: &ResourceDef, plan: &Plan) -> SelectStatement {
    let mut query = scoped_select(def, ctx.scope);
    for count in &plan.count {
        query.expr_as(
            criteria::count_expr(ctx, def, count),
            Alias::new(count.key()),
        );
    }
    query
}

/// Runs a [`planned_select`] and loads the plan's relations: the rows as served.
async fn fetch_rows(
    db: &Db,
    def: &'static ResourceDef,
    scope: Scope,
    query: &SelectStatement,
    plan: &Plan,
) -> Result<Vec<Row>, Error> {
    let mut types = def.types();
    types.extend(plan.count.iter().map(|_| ColumnType::Int));
    let width = def.columns.len();
    let mut rows = Vec::new();
    for mut record in db.fetch(query, &types).await? {
        let counts = record.split_off(width.min(record.len()));
        let mut row = Row::new(def, record, plan.select.as_deref());
        for (count, value) in plan.count.iter().zip(counts) {
            row.json.insert(count.key(), value.to_json());
        }
        rows.push(row);
    }
    attach(db, def, scope, &mut rows, &plan.with).await?;
    Ok(rows)
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

async fn filtered_total(
    db: &Db,
    def: &ResourceDef,
    scope: Scope,
    filter: Cond,
) -> Result<i64, Error> {
    let mut query = Query::select();
    query
        .expr(Func::count(Expr::col((def.table, "id"))))
        .from(def.table)
        .and_where(Expr::col((def.table, "company_id")).eq(scope.company_id))
        .cond_where(filter);
    let rows = db.fetch(&query, &[ColumnType::Int]).await?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
        .unwrap_or(0))
}

/// One record as a plan asks for it. A show reads `with`, `show` and `count`; `filter` and
/// `order_by` are checked but have nothing to act on.
pub async fn show(
    db: &Db,
    def: &'static ResourceDef,
    scope: Scope,
    id: i64,
    plan: &Plan,
) -> Result<Json, Error> {
    let ctx = Context::new(db, scope, None).await?;
    let mut query = planned_select(&ctx, def, plan);
    query.and_where(Expr::col((def.table, "id")).eq(id));
    let mut rows = fetch_rows(db, def, scope, &query, plan).await?;
    let row = rows.pop().ok_or_else(|| not_found(def, id))?;
    Ok(Json::Object(row.json))
}
