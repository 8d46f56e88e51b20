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

use super::criteria::{self, Context, SemiJoins};
use super::loader::{Row, attach};
use crate::db::{Backend, Db, Deadline, Explain, Remembered};
use crate::error::Error;
use crate::registry::ResourceDef;
use crate::telemetry;
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
/// rows) and `total` is the counter every insert and delete keeps, read by the same statement.
/// With a filter, one statement finds the page's ids and counts every match (see [`page_ids`]),
/// or takes the count it remembered, and a second reads those rows.
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
    let mut query = planned_select(&ctx, def, plan);
    criteria::order(&ctx, def.table, &mut query, &plan.order_by);

    let (rows, total) = match &plan.filter {
        None => {
            let ids = page_ids(&ctx, def, plan, Counting::No)?;
            query
                .and_where(Expr::col((def.table, "id")).in_subquery(ids))
                .expr(records_of(def, tenant));
            let (rows, total) = fetch_rows(db, def, tenant, &query, plan, bound, true).await?;
            let total = match total {
                Some(total) => total,
                // A page past the end has no row to carry the counter.
                None => counted_total(db, def, tenant).await?,
            };
            (rows, total)
        }
        Some(filter) => {
            let (page_ids, total) = filtered_page(&ctx, db, def, plan, filter, bound).await?;
            let rows = if page_ids.is_empty() {
                Vec::new()
            } else {
                query.and_where(Expr::col((def.table, "id")).is_in(page_ids));
                fetch_rows(db, def, tenant, &query, plan, None, false)
                    .await?
                    .0
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

/// Whether a page's statement also counts every match.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    Yes,
    No,
}

/// The statement that picks a page's ids in the plan's order. Under a filter each row also
/// carries the company's data version (its second column) and, when `counting`, the number
/// of matches (its third).
pub fn page_ids(
    ctx: &Context,
    def: &'static ResourceDef,
    plan: &Plan,
    counting: Counting,
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
        ids.expr(data_version(ctx.tenant));
        ids.expr(records_of(def, ctx.tenant));
        match (counting, filter.by_keys_only()) {
            (Counting::No, _) => {}
            // An index answers the filter: the count is a subquery of its own, evaluated
            // once, and the page stops at its last row when an index gives its order too.
            (Counting::Yes, true) => {
                let count = matching_count(ctx, def, filter, COUNTED)?;
                ids.expr(Expr::SubQuery(None, Box::new(count.into())));
            }
            // The filter itself is the cost (a scan): it is evaluated once, and a window in
            // the page's own order counts the matches, so an index's order still spares the
            // sort of every match.
            (Counting::Yes, false) => {
                let order = criteria::order_text(ctx, PAGE, &plan.order_by);
                ids.expr(Expr::cust(format!(
                    "COUNT(*) OVER (ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
                )));
            }
        }
    }
    criteria::order(ctx, PAGE, &mut ids, &plan.order_by);
    ids.limit(page.limit).offset(page.offset);
    Ok(ids)
}

/// The company's data version (migration 19), read in the statement it is returned with.
fn data_version(tenant: Tenant) -> Expr {
    let mut version = Query::select();
    version
        .column("version")
        .from("data_versions")
        .and_where(Expr::col("company_id").eq(tenant.company_id));
    or_zero(version)
}

/// The company's records of `def` (the counter every insert and delete keeps), in the
/// statement it is returned with.
fn records_of(def: &ResourceDef, tenant: Tenant) -> Expr {
    let mut records = Query::select();
    records
        .column("total")
        .from("resource_counts")
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("resource").eq(def.name));
    or_zero(records)
}

/// A one-number subquery, 0 where it finds no row.
fn or_zero(query: SelectStatement) -> Expr {
    Func::coalesce([Expr::SubQuery(None, Box::new(query.into())), Expr::val(0)]).into()
}

/// A filtered page's ids and the number of matches. The count is the expensive part (every
/// match, where the page stops at its last row), so it is remembered under the data version it
/// saw, and a page that reads the same version takes it instead of counting again.
async fn filtered_page(
    ctx: &Context,
    db: &Db,
    def: &'static ResourceDef,
    plan: &Plan,
    filter: &kring_core::query::Filter,
    bound: Option<Deadline>,
) -> Result<(Vec<i64>, i64), Error> {
    let key = db.inlined(&matching_count(ctx, def, filter, PAGE)?);
    if let Some(remembered) = db.totals().get(&key)
        && let Some(ids) = remembered_page(ctx, db, def, plan, (&key, remembered), bound).await?
    {
        telemetry::list_total("remembered");
        return Ok((ids, remembered.total));
    }
    let ids = page_ids(ctx, def, plan, Counting::Yes)?;
    let found = fetch(db, &ids, &[ColumnType::Int; 4], bound).await?;
    let counted = match found.first() {
        Some(row) => counted_at(row, 1),
        // A page past the end has no row to carry the count.
        None => filtered_total(ctx, db, def, filter, bound).await?,
    };
    telemetry::list_total("counted");
    db.totals().remember(key, counted);
    Ok((first_ints(&found), counted.total))
}

/// A walk in the page's order that reads more rows than this to find its page asks its
/// related rows as lists, not probes (a probe per row read).
const PROBED_WALK: i64 = 5_000;

/// The page's ids under a remembered count, if the data version still stands: an empty page
/// (past the last match) costs a read of the version alone; a page where the matches lie
/// densely, walked in an index's order, is asked with a probe per row and stops at its last
/// row.
async fn remembered_page(
    ctx: &Context,
    db: &Db,
    def: &'static ResourceDef,
    plan: &Plan,
    (key, remembered): (&str, Remembered),
    bound: Option<Deadline>,
) -> Result<Option<Vec<i64>>, Error> {
    let page = plan.page.unwrap_or_default();
    if i64::try_from(page.offset).unwrap_or(i64::MAX) >= remembered.total {
        let current = one_int(db, data_version(ctx.tenant)).await?;
        return Ok((current == remembered.version).then(Vec::new));
    }
    let reach = i64::try_from(page.offset.saturating_add(page.limit)).unwrap_or(i64::MAX);
    let walked = reach.saturating_mul(remembered.records) / Ord::max(remembered.total, 1);
    // PostgreSQL's planner weighs a listed semi-join both ways itself; SQLite's drives from
    // the list whenever it can.
    let probed = match ctx.backend == Backend::Sqlite && walked <= PROBED_WALK {
        true => {
            let probes = ctx.with_semi_joins(SemiJoins::Probes);
            let probed = page_ids(&probes, def, plan, Counting::No)?;
            walks_in_order(db, &probed, key, remembered)
                .await?
                .then_some(probed)
        }
        false => None,
    };
    let ids = match probed {
        Some(probed) => probed,
        None => page_ids(ctx, def, plan, Counting::No)?,
    };
    let found = fetch(db, &ids, &[ColumnType::Int; 3], bound).await?;
    let version = found.first().and_then(|r| r.get(1)).and_then(Value::as_int);
    Ok((version == Some(remembered.version)).then(|| first_ints(&found)))
}

/// Whether SQLite walks the probed page in an index's order, so that it stops at its last
/// row; one that sorts every match would probe every record of the company instead. Asked
/// once per remembered total.
async fn walks_in_order(
    db: &Db,
    probed: &SelectStatement,
    key: &str,
    remembered: Remembered,
) -> Result<bool, Error> {
    if let Some(known) = remembered.walks_in_order {
        return Ok(known);
    }
    let types = [
        ColumnType::Int,
        ColumnType::Int,
        ColumnType::Int,
        ColumnType::Text,
    ];
    let steps = db.fetch(&Explain(probed), &types).await?;
    let sorts = steps.iter().any(|step| {
        matches!(step.get(3), Some(Value::Text(s)) if s.contains("TEMP B-TREE FOR ORDER BY"))
    });
    db.totals().note_walk(key, !sorts);
    Ok(!sorts)
}

fn first_ints(rows: &[Vec<Value>]) -> Vec<i64> {
    rows.iter()
        .filter_map(|r| r.first().and_then(Value::as_int))
        .collect()
}

/// The data version, the company's records and the count a row carries from column `from`.
fn counted_at(row: &[Value], from: usize) -> Remembered {
    let int = |n: usize| row.get(from + n).and_then(Value::as_int).unwrap_or(0);
    Remembered {
        version: int(0),
        records: int(1),
        total: int(2),
        walks_in_order: None,
    }
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
/// served, and with `carries_total` the number its every row carries last (none without rows).
async fn fetch_rows(
    db: &Db,
    def: &'static ResourceDef,
    tenant: Tenant,
    query: &SelectStatement,
    plan: &Plan,
    bound: Option<Deadline>,
    carries_total: bool,
) -> Result<(Vec<Row>, Option<i64>), Error> {
    let mut types = def.types();
    types.extend(plan.count.iter().map(|_| ColumnType::Int));
    if carries_total {
        types.push(ColumnType::Int);
    }
    let width = def.columns.len();
    let mut rows = Vec::new();
    let mut total = None;
    for mut record in fetch(db, query, &types, bound).await? {
        if carries_total {
            total = record.pop().as_ref().and_then(Value::as_int);
        }
        let counts = record.split_off(width.min(record.len()));
        let mut row = Row::new(def, record, plan.select.as_deref());
        for (count, value) in plan.count.iter().zip(counts) {
            row.json.insert(count.key(), value.to_json());
        }
        rows.push(row);
    }
    attach(db, def, tenant, &mut rows, &plan.with).await?;
    Ok((rows, total))
}

/// The unfiltered total, from the counter kept by every insert and delete.
pub async fn counted_total(db: &Db, def: &ResourceDef, tenant: Tenant) -> Result<i64, Error> {
    one_int(db, records_of(def, tenant)).await
}

/// `SELECT <expr>`, one number.
async fn one_int(db: &Db, expr: Expr) -> Result<i64, Error> {
    let mut query = Query::select();
    query.expr(expr);
    let rows = db.fetch(&query, &[ColumnType::Int]).await?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
        .unwrap_or(0))
}

/// The number of matches and the data version it was counted at.
async fn filtered_total(
    ctx: &Context,
    db: &Db,
    def: &'static ResourceDef,
    filter: &kring_core::query::Filter,
    bound: Option<Deadline>,
) -> Result<Remembered, Error> {
    let mut query = Query::select();
    query
        .expr(data_version(ctx.tenant))
        .expr(records_of(def, ctx.tenant))
        .expr(Expr::SubQuery(
            None,
            Box::new(matching_count(ctx, def, filter, PAGE)?.into()),
        ));
    let rows = fetch(db, &query, &[ColumnType::Int; 3], bound).await?;
    Ok(rows
        .first()
        .map(|row| counted_at(row, 0))
        .unwrap_or(Remembered {
            version: 0,
            records: 0,
            total: 0,
            walks_in_order: None,
        }))
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
    let (mut rows, _) = fetch_rows(db, def, tenant, &query, plan, None, false).await?;
    let row = rows.pop().ok_or_else(|| not_found(def, id))?;
    Ok(Json::Object(row.json))
}
