//! The generic engine's read side: index and show for any [`ResourceDef`] (writes are in
//! [`super::write`]).
//!
//! Tenant scoping lives here, below the handlers: every statement starts from
//! [`scoped_select`], which carries `company_id = <caller's company>`, so a record of another
//! company is indistinguishable from one that does not exist (404).

use kring_core::Value;
use kring_core::query::Plan;
use kring_core::schema::{Column, ColumnType};
use sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement};
use serde_json::{Map, Value as Json};

use super::criteria::{self, Context};
use super::loader::{Row, attach};
use crate::db::{Db, Deadline, Raw};
use crate::error::Error;
use crate::registry::ResourceDef;
use crate::tenant::Tenant;

/// `SELECT <every column> FROM <table>`, limited to the caller's company. Every read of a
/// resource starts here, which is what keeps tenants apart.
pub fn scoped_select(def: &ResourceDef, tenant: Tenant) -> SelectStatement {
    let mut query = Query::select();
    query
        .columns(def.columns.iter().map(|c| (def.table, c.name)))
        .from(def.table);
    if def.tenant {
        query.and_where(Expr::col((def.table, "company_id")).eq(tenant.company_id));
    }
    query
}

pub fn by_id(def: &ResourceDef, tenant: Tenant, id: i64) -> SelectStatement {
    let mut query = scoped_select(def, tenant);
    query.and_where(Expr::col((def.table, "id")).eq(id));
    query
}

/// One column's value as JSON (a JSON column's text parsed).
pub fn column_json(column: &Column, value: &Value) -> Json {
    match (column.ty, value) {
        (ColumnType::Json, Value::Text(text)) => serde_json::from_str(text).unwrap_or(Json::Null),
        _ => value.to_json(),
    }
}

/// The JSON form of a record: every column but the hidden ones, in column order.
pub fn to_json(def: &ResourceDef, record: &[Value]) -> Map<String, Json> {
    let mut json: Map<String, Json> = def
        .columns
        .iter()
        .zip(record)
        .filter(|(column, _)| !column.hidden)
        .map(|(column, value)| (column.name.to_string(), column_json(column, value)))
        .collect();
    if let Some(present) = def.present {
        present(def, record, &mut json);
    }
    json
}

pub fn not_found(def: &ResourceDef, id: i64) -> Error {
    Error::NotFound {
        resource: def.name,
        id: id.to_string(),
    }
}

/// `{"data": […], "limit": N, "total": N, "offset": N}` for a checked plan.
pub async fn index(
    db: &Db,
    def: &'static ResourceDef,
    tenant: Tenant,
    plan: &Plan,
) -> Result<Json, Error> {
    let listed = list(db, def, tenant, plan).await?;
    let data: Vec<Json> = listed
        .rows
        .into_iter()
        .map(|r| Json::Object(r.json))
        .collect();
    Ok(serde_json::json!({
        "data": data, "limit": listed.limit, "total": listed.total, "offset": listed.offset,
    }))
}

/// A page of records, with their typed values and what the plan loads: for a dialect that
/// shapes records its own way.
pub struct Listed {
    pub rows: Vec<Row>,
    pub total: i64,
    pub limit: u64,
    pub offset: u64,
}

/// The page a checked plan asks for.
///
/// Without a filter, the page's ids are found on the `(company_id, id)` index inside the
/// statement that reads the rows ("deferred join": a deep `OFFSET` skips index entries, not
/// rows) and `total` is the counter every insert and delete keeps. With a filter, one statement
/// finds the page's ids and counts every match (see [`page_ids`]), and a second reads those
/// rows.
pub async fn list(
    db: &Db,
    def: &'static ResourceDef,
    tenant: Tenant,
    plan: &Plan,
) -> Result<Listed, Error> {
    let page = plan.page.unwrap_or_default();
    let ctx = Context::new(db, tenant, plan.filter.as_ref()).await?;
    // A filter or an order can make the database walk the whole company: such a list gets a
    // time budget and one of the company's places among expensive reads.
    let bound = match plan.filter.is_some() || !plan.order_by.is_empty() {
        true => Some(db.deadline()),
        false => None,
    };
    let _place = match bound {
        Some(deadline) => Some(db.admit(tenant.company_id, deadline).await?),
        None => None,
    };
    let ids = page_ids(&ctx, def, plan)?;
    let mut query = planned_select(&ctx, def, plan);
    criteria::order(&ctx, def.table, &mut query, &plan.order_by);

    let (rows, total) = match &plan.filter {
        None => {
            query.and_where(Expr::col((def.table, "id")).in_subquery(ids));
            let rows = fetch_rows(db, def, tenant, &query, plan, bound).await?;
            (rows, counted_total(db, def, tenant).await?)
        }
        Some(filter) => {
            let found = fetch(db, &ids, &[ColumnType::Int, ColumnType::Int], bound).await?;
            let total = match found.first().and_then(|r| r.get(1)).and_then(Value::as_int) {
                Some(total) => total,
                // A page past the end has no row to carry the count.
                None => filtered_total(&ctx, db, def, filter, bound).await?,
            };
            let page_ids: Vec<i64> = found
                .iter()
                .filter_map(|r| r.first().and_then(Value::as_int))
                .collect();
            let rows = if page_ids.is_empty() {
                Vec::new()
            } else {
                query.and_where(Expr::col((def.table, "id")).is_in(page_ids));
                fetch_rows(db, def, tenant, &query, plan, None).await?
            };
            (rows, total)
        }
    };
    Ok(Listed {
        rows,
        total,
        limit: page.limit,
        offset: page.offset,
    })
}

/// The statement that picks a page's ids in the plan's order; under a filter each row also
/// carries the number of matches (its second column).
pub fn page_ids(
    ctx: &Context,
    def: &'static ResourceDef,
    plan: &Plan,
) -> Result<SelectStatement, Error> {
    let page = plan.page.unwrap_or_default();
    // The page's ids come from the table under its own alias, so nothing in the filter can be
    // read as referring to the outer statement's rows.
    let mut ids = Query::select();
    ids.column((PAGE, "id"))
        .from_as(def.table, PAGE)
        .and_where(Expr::col((PAGE, "company_id")).eq(ctx.tenant.company_id));
    if let Some(filter) = &plan.filter {
        ids.cond_where(criteria::condition(ctx, def, PAGE, filter)?);
        if filter.by_keys_only() {
            // An index answers the filter: the count is a subquery of its own, evaluated
            // once, and the page stops at its last row when an index gives its order too.
            let count = matching_count(ctx, def, filter, COUNTED)?;
            ids.expr(Expr::SubQuery(None, Box::new(count.into())));
        } else {
            // The filter itself is the cost (a scan): it is evaluated once, and a window in
            // the page's own order counts the matches, so an index's order still spares the
            // sort of every match.
            let order = criteria::order_text(ctx, PAGE, &plan.order_by);
            ids.expr(Expr::cust(format!(
                "COUNT(*) OVER (ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
            )));
        }
    }
    criteria::order(ctx, PAGE, &mut ids, &plan.order_by);
    ids.limit(page.limit).offset(page.offset);
    Ok(ids)
}

/// The alias of the table in the subquery that picks a page's ids, and in the one that counts
/// the matches.
const PAGE: &str = "page";
const COUNTED: &str = "counted";

/// The resource's columns and the plan's counts.
fn planned_select(ctx: &Context, def: &ResourceDef, plan: &Plan) -> SelectStatement {
    let mut query = scoped_select(def, ctx.tenant);
    for count in &plan.count {
        query.expr_as(
            criteria::count_expr(ctx, def, count),
            Alias::new(count.key()),
        );
    }
    query
}

/// A read, within `bound` when it has one.
async fn fetch(
    db: &Db,
    query: &SelectStatement,
    types: &[ColumnType],
    bound: Option<Deadline>,
) -> Result<Vec<Vec<Value>>, Error> {
    match bound {
        Some(deadline) => db.fetch_within(query, types, deadline).await,
        None => db.fetch(query, types).await,
    }
}

/// Runs a [`planned_select`] (within `bound`) and loads the plan's relations: the rows as
/// served.
async fn fetch_rows(
    db: &Db,
    def: &'static ResourceDef,
    tenant: Tenant,
    query: &SelectStatement,
    plan: &Plan,
    bound: Option<Deadline>,
) -> Result<Vec<Row>, Error> {
    let mut types = def.types();
    types.extend(plan.count.iter().map(|_| ColumnType::Int));
    let width = def.columns.len();
    let mut rows = Vec::new();
    for mut record in fetch(db, query, &types, bound).await? {
        let counts = record.split_off(width.min(record.len()));
        let mut row = Row::new(def, record, plan.select.as_deref());
        for (count, value) in plan.count.iter().zip(counts) {
            row.json.insert(count.key(), value.to_json());
        }
        rows.push(row);
    }
    attach(db, def, tenant, &mut rows, &plan.with).await?;
    Ok(rows)
}

/// The unfiltered total, from the counter kept by every insert and delete.
pub async fn counted_total(db: &Db, def: &ResourceDef, tenant: Tenant) -> Result<i64, Error> {
    let query = Raw::new(
        "SELECT total FROM resource_counts WHERE company_id = ? AND resource = ?",
        vec![tenant.company_id.into(), def.name.into()],
    );
    let rows = db.fetch(&query, &[ColumnType::Int]).await?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
        .unwrap_or(0))
}

async fn filtered_total(
    ctx: &Context,
    db: &Db,
    def: &'static ResourceDef,
    filter: &kring_core::query::Filter,
    bound: Option<Deadline>,
) -> Result<i64, Error> {
    let query = matching_count(ctx, def, filter, PAGE)?;
    let rows = fetch(db, &query, &[ColumnType::Int], bound).await?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
        .unwrap_or(0))
}

/// `SELECT COUNT(…)` of the company's records that match `filter`, the table under `alias`.
fn matching_count(
    ctx: &Context,
    def: &'static ResourceDef,
    filter: &kring_core::query::Filter,
    alias: &'static str,
) -> Result<SelectStatement, Error> {
    let mut query = Query::select();
    query
        .expr(Func::count(Expr::col((alias, "id"))))
        .from_as(def.table, alias)
        .and_where(Expr::col((alias, "company_id")).eq(ctx.tenant.company_id))
        .cond_where(criteria::condition(ctx, def, alias, filter)?);
    Ok(query)
}

/// One record as a plan asks for it. A show reads `with`, `show` and `count`; `filter` and
/// `order_by` are checked but have nothing to act on.
pub async fn show(
    db: &Db,
    def: &'static ResourceDef,
    tenant: Tenant,
    id: i64,
    plan: &Plan,
) -> Result<Json, Error> {
    let ctx = Context::new(db, tenant, None).await?;
    let mut query = planned_select(&ctx, def, plan);
    query.and_where(Expr::col((def.table, "id")).eq(id));
    let mut rows = fetch_rows(db, def, tenant, &query, plan, None).await?;
    let row = rows.pop().ok_or_else(|| not_found(def, id))?;
    Ok(Json::Object(row.json))
}
