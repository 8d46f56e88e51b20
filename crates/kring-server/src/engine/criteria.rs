//! A checked query [`Plan`] as SQL: `filter` as a condition (a relation path as one semi-join
//! over its joined hops), `count` as correlated subqueries folded into the list statement, `order_by`
//! with one null and text ordering on both engines.
//!
//! Both engines must answer alike (the differential test holds them to it), so the few places
//! they differ are settled here: text compares and sorts by code point (`COLLATE "C"` on
//! PostgreSQL, SQLite's default `BINARY`); nulls sort first ascending and last descending
//! (SQLite's default, spelled out for PostgreSQL); `like`-family operators are case-insensitive
//! (`ILIKE` on PostgreSQL; `LIKE` on SQLite, which folds ASCII letters only).

use std::collections::HashMap;

use kring_core::Value;
use kring_core::custom_field;
use kring_core::i18n::Message;
use kring_core::query::{
    Comparison, Condition, Count, Direction, Filter, Operand, Order as OrderItem, Pattern,
    QueryError, Step, Test,
};
use kring_core::resource::RelationKind;
use kring_core::schema::{Column, ColumnType};
use sea_query::{
    Alias, Cond, Expr, ExprTrait, Func, JoinType, NullOrdering, Order, Query, SelectStatement,
};
use serde_json::Value as Json;

use crate::db::{Backend, Db, bind, dialect};
use crate::error::Error;
use crate::registry::ResourceDef;
use crate::tenant::Tenant;

/// What building SQL for one request needs besides the plan.
#[derive(Clone)]
pub struct Context {
    pub backend: Backend,
    pub tenant: Tenant,
    /// The type of every custom field a filter names, by field id.
    pub field_types: HashMap<i64, String>,
    pub semi_joins: SemiJoins,
}

/// How a condition on related rows (a relation path, a custom field's value) is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SemiJoins {
    /// `<key> IN (SELECT … )`: the related rows that pass are listed once, so the database can
    /// start from them when they are few. What a count, which reads every match, wants.
    Lists,
    /// `(SELECT 1 … WHERE <related key> = <key> LIMIT 1) IS NOT NULL`, one probe per row the
    /// statement reaches: for a page walked in its order's index when matches are dense, which
    /// stops at its last row. (Not `EXISTS`: SQLite 3.51 turns that into a join that ignores
    /// `OFFSET` under `LIMIT`.)
    Probes,
}

impl Context {
    /// Looks up the custom fields `filter` names; an id that is not a field of the caller's
    /// company is a 400, like any unknown field.
    pub async fn new(db: &Db, tenant: Tenant, filter: Option<&Filter>) -> Result<Context, Error> {
        let mut ids = Vec::new();
        if let Some(filter) = filter {
            field_ids(filter, &mut ids);
        }
        let mut field_types = HashMap::new();
        if !ids.is_empty() {
            let mut query = Query::select();
            query
                .columns(["id", "type"])
                .from("fields")
                .and_where(Expr::col("company_id").eq(tenant.company_id))
                .and_where(Expr::col("id").is_in(ids.iter().copied()));
            for row in db
                .fetch(&query, &[ColumnType::Int, ColumnType::Text])
                .await?
            {
                if let [Value::Int(id), Value::Text(ty)] = row.as_slice() {
                    field_types.insert(*id, ty.clone());
                }
            }
            if let Some(unknown) = ids.iter().find(|id| !field_types.contains_key(id)) {
                return Err(Error::BadQuery(QueryError(
                    Message::new("query.filter_unknown_custom_field")
                        .with("param", "filter")
                        .with("field", format!("field_values.{unknown}")),
                )));
            }
        }
        Ok(Context {
            backend: db.backend(),
            tenant,
            field_types,
            semi_joins: SemiJoins::Lists,
        })
    }

    /// The same context, asking conditions on related rows as `semi_joins`.
    pub fn with_semi_joins(&self, semi_joins: SemiJoins) -> Context {
        Context {
            semi_joins,
            ..self.clone()
        }
    }
}

/// Whether `record` (a key of the statement's row) is among the keys `related` yields at
/// `key` (an expression of `related`), or, not `present`, is not.
fn semi_join(
    ctx: &Context,
    record: Expr,
    mut related: SelectStatement,
    key: Expr,
    present: bool,
) -> Expr {
    match (ctx.semi_joins, present) {
        (SemiJoins::Lists, true) => record.in_subquery(related.expr(key).take()),
        (SemiJoins::Lists, false) => record.not_in_subquery(related.expr(key).take()),
        (SemiJoins::Probes, _) => {
            related
                .expr(Expr::val(1))
                .and_where(key.eq(record))
                .limit(1);
            let probe = Expr::SubQuery(None, Box::new(related.into()));
            match present {
                true => probe.is_not_null(),
                false => probe.is_null(),
            }
        }
    }
}

fn field_ids(filter: &Filter, ids: &mut Vec<i64>) {
    match filter {
        Filter::All(items) | Filter::Any(items) => items.iter().for_each(|f| field_ids(f, ids)),
        Filter::Cond(condition) => {
            if let Operand::FieldValue(id) = condition.operand
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
    }
}

/// `"table"."column"`; both come from the static resource descriptions, never from input.
pub fn quoted(table: &str, column: &str) -> String {
    format!("\"{table}\".\"{column}\"")
}

/// A column reference that compares and sorts by code point on both engines.
fn ordered_text(ctx: &Context, table: &str, column: &Column) -> Expr {
    let ordered = match column.ty {
        ColumnType::Text => dialect::code_point_text(ctx.backend, &quoted(table, column.name)),
        _ => None,
    };
    match ordered {
        Some(sql) => Expr::cust(sql),
        None => Expr::col((Alias::new(table), Alias::new(column.name))),
    }
}

/// The whole filter as one condition on `def`'s table, which the statement names `root`.
pub fn condition(
    ctx: &Context,
    def: &'static ResourceDef,
    root: &str,
    filter: &Filter,
) -> Result<Cond, Error> {
    let nested = |cond: Cond, f: &Filter| Ok::<_, Error>(cond.add(condition(ctx, def, root, f)?));
    Ok(match filter {
        Filter::All(items) => items.iter().try_fold(Cond::all(), nested)?,
        Filter::Any(items) => items.iter().try_fold(Cond::any(), nested)?,
        Filter::Cond(c) => Cond::all().add(condition_expr(ctx, def, root, c)?),
    })
}

/// One condition: the test on the last resource of its path, as one semi-join over the whole
/// path (`<root key> IN (SELECT … FROM h1 JOIN h2 … WHERE <test>)`). Hop tables are aliased
/// `h1`, `h2`, … so a path may pass a table twice.
///
/// The path is one subquery of joins, never one `IN` nested per hop: SQLite drives nested
/// lists from both sides of a pivot at once, so `contacts.customers.name:contains:a` over
/// 44,000 contacts walked the list once per list entry (23 s); joined, the planner starts from
/// the selective end and it costs what the join costs (0.07 s).
fn condition_expr(
    ctx: &Context,
    def: &'static ResourceDef,
    root: &str,
    c: &Condition,
) -> Result<Expr, Error> {
    let Some((first, rest)) = c.hops.split_first() else {
        return leaf_test(ctx, def, root, c);
    };
    // Listed, the last hop drives (its company's index may find the rows that pass); probed,
    // every hop is reached through its key from the row being probed for.
    let listed = ctx.semi_joins == SemiJoins::Lists;
    let (mut query, root_column, key) = related(ctx, def, first, "h1", listed && rest.is_empty());
    let mut parent = first.target;
    for (i, step) in rest.iter().enumerate() {
        let (from, to) = (format!("h{}", i + 1), format!("h{}", i + 2));
        let last = i + 1 == rest.len();
        join_hop(ctx, &mut query, parent, &from, step, &to, listed && last);
        parent = step.target;
    }
    query.and_where(leaf_test(ctx, parent, &format!("h{}", c.hops.len()), c)?);
    let record = Expr::col((Alias::new(root), Alias::new(root_column)));
    Ok(semi_join(ctx, record, query, key, true))
}

/// The condition's test on the resource its path ends at (named `alias`).
fn leaf_test(
    ctx: &Context,
    def: &'static ResourceDef,
    alias: &str,
    c: &Condition,
) -> Result<Expr, Error> {
    Ok(match c.operand {
        Operand::Column(column) => column_test(ctx, alias, column, &c.test, c.negated),
        Operand::FieldValue(field) => field_value_test(ctx, def, alias, field, &c.test, c.negated)?,
    })
}

/// How one relation step's rows hang on their parent's: the parent's column, the expression on
/// the step's side that must equal it, the pivot a many-to-many passes (joined on the target's
/// id), and the morph type a polymorphic step also requires.
struct Link {
    parent_column: &'static str,
    key: Expr,
    pivot: Option<(&'static str, Alias, Expr)>,
    condition: Option<Expr>,
}

fn link(parent: &ResourceDef, step: &Step, alias: &Alias) -> Link {
    let col = |c: &'static str| Expr::col((alias.clone(), Alias::new(c)));
    let plain = |parent_column, key| Link {
        parent_column,
        key,
        pivot: None,
        condition: None,
    };
    match step.relation.kind {
        RelationKind::BelongsTo { key } => plain(key, col("id")),
        RelationKind::HasMany { key } => plain("id", col(key)),
        RelationKind::ManyToMany {
            pivot,
            own_key,
            other_key,
        } => {
            let p = Alias::new(format!("{}p", alias.0));
            let on = Expr::col((p.clone(), Alias::new(other_key)))
                .equals((alias.clone(), Alias::new("id")));
            Link {
                parent_column: "id",
                key: Expr::col((p.clone(), Alias::new(own_key))),
                pivot: Some((pivot, p, on)),
                condition: None,
            }
        }
        RelationKind::Morph {
            type_column,
            id_column,
        } => Link {
            condition: Some(col(type_column).eq(parent.name)),
            ..plain("id", col(id_column))
        },
    }
}

/// The rows one relation step reaches, as a statement without a select list: `FROM` the
/// target (aliased) and, for a many-to-many, its pivot; the tenant condition. Returns it with
/// the parent's column and the expression in the statement that must equal it.
fn related(
    ctx: &Context,
    parent: &ResourceDef,
    step: &Step,
    alias: &str,
    driving: bool,
) -> (SelectStatement, &'static str, Expr) {
    let a = Alias::new(alias);
    let link = link(parent, step, &a);
    let mut query = Query::select();
    query.from_as(step.target.table, a.clone());
    if let Some((pivot, p, on)) = link.pivot {
        query.join_as(JoinType::InnerJoin, pivot, p, on);
    }
    if let Some(condition) = link.condition {
        query.and_where(condition);
    }
    scope_hop(ctx, &mut query, step.target, &a, driving);
    (query, link.parent_column, link.key)
}

/// Joins the rows `step` reaches from `parent` (named `parent_alias` in `query`) as `alias`.
fn join_hop(
    ctx: &Context,
    query: &mut SelectStatement,
    parent: &ResourceDef,
    parent_alias: &str,
    step: &Step,
    alias: &str,
    driving: bool,
) {
    let a = Alias::new(alias);
    let link = link(parent, step, &a);
    let to_parent = link
        .key
        .equals((Alias::new(parent_alias), Alias::new(link.parent_column)));
    let mut on = match link.pivot {
        Some((pivot, p, pivot_to_target)) => {
            query.join_as(JoinType::InnerJoin, pivot, p, to_parent);
            pivot_to_target
        }
        None => to_parent,
    };
    if let Some(condition) = link.condition {
        on = on.and(condition);
    }
    query.join_as(JoinType::InnerJoin, step.target.table, a.clone(), on);
    scope_hop(ctx, query, step.target, &a, driving);
}

/// Keeps a hop's rows to the caller's company. Only the path's last hop, where the test is,
/// may find its rows through the company's index; every other hop is reached through its
/// relation's key. Without fresh statistics SQLite took the company's index for selective
/// and crossed two whole tables (2.6 s instead of 14 ms for 4,000 customers).
fn scope_hop(
    ctx: &Context,
    query: &mut SelectStatement,
    target: &ResourceDef,
    alias: &Alias,
    driving: bool,
) {
    if !target.tenant {
        return;
    }
    let company = Expr::col((alias.clone(), Alias::new("company_id")));
    let company = match driving {
        true => company,
        false => dialect::unindexed(ctx.backend, company),
    };
    query.and_where(company.eq(ctx.tenant.company_id));
}

fn column_test(ctx: &Context, table: &str, column: &Column, test: &Test, negated: bool) -> Expr {
    let plain = Expr::col((Alias::new(table), Alias::new(column.name)));
    let expr = match test {
        Test::IsNull if negated => return plain.is_not_null(),
        Test::IsNull => return plain.is_null(),
        Test::Compare(comparison, value) => compare(
            ordered_text(ctx, table, column),
            *comparison,
            Expr::val(bind(value, column.ty)),
        ),
        Test::Match(pattern, text) => matches(ctx.backend, plain, *pattern, text),
        Test::In(values) => plain.is_in(values.iter().map(|v| bind(v, column.ty))),
    };
    if negated { expr.not() } else { expr }
}

fn compare(left: Expr, comparison: Comparison, right: Expr) -> Expr {
    match comparison {
        Comparison::Eq => left.eq(right),
        Comparison::Gt => left.gt(right),
        Comparison::Lt => left.lt(right),
        Comparison::Gte => left.gte(right),
        Comparison::Lte => left.lte(right),
    }
}

/// A case-insensitive pattern match; `%`, `_` and `\` in the client's text match themselves.
pub fn matches(backend: Backend, target: Expr, pattern: Pattern, text: &str) -> Expr {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = match pattern {
        Pattern::Contains => format!("%{escaped}%"),
        Pattern::StartsWith => format!("{escaped}%"),
        Pattern::EndsWith => format!("%{escaped}"),
    };
    dialect::like_ignoring_case(backend, target, pattern)
}

/// A test on a custom field's value, compared as the field's type: numbers as numbers,
/// dates and datetimes through their canonical (sortable) text, checkboxes as `1`/`0`.
fn field_value_test(
    ctx: &Context,
    def: &ResourceDef,
    alias: &str,
    field: i64,
    test: &Test,
    negated: bool,
) -> Result<Expr, Error> {
    let ty = ctx
        .field_types
        .get(&field)
        .map(String::as_str)
        .unwrap_or("text");
    let fv = Alias::new("fv");
    let value = Expr::col((fv.clone(), Alias::new("value")));
    let record = Expr::col((Alias::new(alias), Alias::new("id")));
    // The records with a value for the field, as a semi-join (see `SemiJoins`).
    let model_id = Expr::col((fv.clone(), Alias::new("model_id")));
    let mut query = Query::select();
    query
        .from_as("field_values", fv.clone())
        .and_where(Expr::col((fv.clone(), Alias::new("model_type"))).eq(def.name))
        .and_where(Expr::col((fv.clone(), Alias::new("field_id"))).eq(field))
        .and_where(Expr::col((fv, Alias::new("company_id"))).eq(ctx.tenant.company_id));
    let inner = match test {
        Test::Compare(Comparison::Eq, given) if ty == "multiselect" => {
            holds_choice(ctx, value, std::slice::from_ref(given))
        }
        Test::In(given) if ty == "multiselect" => holds_choice(ctx, value, given),
        Test::IsNull => {
            query.and_where(value.is_not_null());
            return Ok(semi_join(ctx, record, query, model_id, negated));
        }
        Test::Compare(comparison, given) => {
            let (left, right) = typed_operands(ctx, ty, value, given, field)?;
            compare(left, *comparison, right)
        }
        Test::Match(pattern, text) => matches(ctx.backend, value, *pattern, text),
        Test::In(given) => {
            // One `IN (…)`: an OR chain grows one nesting level per value in SQLite.
            let mut left = None;
            let mut rights = Vec::with_capacity(given.len());
            for one in given {
                let (l, r) = typed_operands(ctx, ty, value.clone(), one, field)?;
                left.get_or_insert(l);
                rights.push(r);
            }
            match left {
                Some(left) => left.is_in(rights),
                None => Expr::val(false),
            }
        }
    };
    query.and_where(if negated { inner.not() } else { inner });
    Ok(semi_join(ctx, record, query, model_id, true))
}

/// Whether a multiselect's stored list (compact JSON, `["red","blue"]`) holds one of
/// `choices`: each choice as a JSON string between the list's delimiters, so `red` does not
/// match `reddish` and a quote inside a choice cannot fake a boundary (JSON escapes it).
fn holds_choice(ctx: &Context, stored: Expr, choices: &[Value]) -> Expr {
    let mut any = Cond::any();
    for choice in choices {
        let text = match choice {
            Value::Text(text) => text.clone(),
            other => other.to_json().to_string(),
        };
        let literal = serde_json::Value::String(text).to_string();
        for (open, close) in [("[", ","), ("[", "]"), (",", ","), (",", "]")] {
            let needle = format!("{open}{literal}{close}");
            any = any.add(dialect::holds_text(ctx.backend, stored.clone(), needle));
        }
    }
    any.into()
}

/// The stored value and the client's value, made comparable for field type `ty`.
fn typed_operands(
    ctx: &Context,
    ty: &str,
    stored: Expr,
    given: &Value,
    field: i64,
) -> Result<(Expr, Expr), Error> {
    let text = match given {
        Value::Text(text) => text.clone(),
        other => other.to_json().to_string(),
    };
    let bad = |key: &'static str| {
        Error::BadQuery(QueryError(
            Message::new(key)
                .with("param", "filter")
                .with("value", kring_core::query::truncate(&text, 60))
                .with("field", format!("field_values.{field}")),
        ))
    };
    if ty == "number" {
        let number: f64 = text
            .trim()
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite())
            .ok_or_else(|| bad("query.filter_value.float"))?;
        return Ok((
            Func::cast_as(stored, Alias::new(dialect::float_type(ctx.backend))).into(),
            Expr::val(number),
        ));
    }
    let canonical = match ty {
        "date" | "datetime" | "checkbox" => custom_field::check(ty, &Json::String(text.clone()))
            .ok()
            .flatten()
            .ok_or_else(|| {
                bad(match ty {
                    "checkbox" => "query.filter_value.bool",
                    "date" => "query.filter_value.date",
                    _ => "query.filter_value.timestamp",
                })
            })?,
        _ => text,
    };
    let left = match dialect::code_point_text(ctx.backend, &quoted("fv", "value")) {
        Some(sql) => Expr::cust(sql),
        None => stored,
    };
    Ok((left, Expr::val(canonical)))
}

/// `count` items as correlated `(SELECT COUNT(*) …)` columns of the list statement.
pub fn count_expr(ctx: &Context, def: &ResourceDef, count: &Count) -> Expr {
    let step = Step {
        relation: count.relation,
        target: count.target,
    };
    let (mut query, parent_column, key) = related(ctx, def, &step, "c1", true);
    query
        .expr(Func::count(Expr::val(1)))
        .and_where(key.equals((Alias::new(def.table), Alias::new(parent_column))));
    Expr::from(query)
}

/// `ORDER BY` the client's columns of `def` (named `root` in the statement), text ignoring
/// case, then `id` so that ties keep one order and pages never overlap.
pub fn order(ctx: &Context, root: &str, query: &mut SelectStatement, items: &[OrderItem]) {
    for (sorted, order, nulls) in order_terms(ctx, root, items) {
        match nulls {
            Some(nulls) => query.order_by_expr_with_nulls(Expr::cust(sorted), order, nulls),
            None => query.order_by_expr(Expr::cust(sorted), order),
        };
    }
}

/// The same order as SQL text, for a window that must see the rows in it.
pub fn order_text(ctx: &Context, root: &str, items: &[OrderItem]) -> String {
    order_terms(ctx, root, items)
        .into_iter()
        .map(|(sorted, order, nulls)| {
            let direction = match order {
                Order::Desc => "DESC",
                _ => "ASC",
            };
            let nulls = match nulls {
                Some(NullOrdering::First) => " NULLS FIRST",
                Some(NullOrdering::Last) => " NULLS LAST",
                None => "",
            };
            format!("{sorted} {direction}{nulls}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each ordered expression with its direction and where NULLs go (as SQLite puts them, on
/// both engines); `id` last, the tiebreak, which holds no NULL.
fn order_terms(
    ctx: &Context,
    root: &str,
    items: &[OrderItem],
) -> Vec<(String, Order, Option<NullOrdering>)> {
    let mut terms: Vec<_> = items
        .iter()
        .map(|item| {
            let (order, nulls) = match item.direction {
                Direction::Asc => (Order::Asc, NullOrdering::First),
                Direction::Desc => (Order::Desc, NullOrdering::Last),
            };
            let column = quoted(root, item.column.name);
            let sorted = match item.column.ty {
                ColumnType::Text => dialect::folded_text(ctx.backend, &column),
                _ => column,
            };
            (sorted, order, Some(nulls))
        })
        .collect();
    if !items.iter().any(|item| item.column.name == "id") {
        terms.push((quoted(root, "id"), Order::Asc, None));
    }
    terms
}
