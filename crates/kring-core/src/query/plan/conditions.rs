//! `filter`: each condition's path resolved to relations and a column (or a custom field), its
//! operator checked against the column's type and its values coerced (`spec/cirqll.md` §4.4).

use serde_json::Value as Json;

use super::{Step, follow, unknown_column};
use crate::query::filter::{FilterExpr, Literal, Op, RawCondition};
use crate::query::{QueryError, echo};
use crate::resource::{Registry, ResourceDef};
use crate::schema::{Column, ColumnType};
use crate::validate::coerce;
use crate::value::Value;

/// How many relations one filter path may follow (`a.b.c.d.column` at most): each is a join in
/// the path's semi-join, and longer paths have no use but to load the database.
pub const MAX_FILTER_HOPS: usize = 4;

/// How many of a path's relations may be to-many: each multiplies the rows the join walks
/// (`contacts.customers.name` is two; a third reaches, in practice, the whole company).
pub const MAX_FILTER_TO_MANY_HOPS: usize = 2;

/// How many joins a whole filter may ask for, summed over its conditions (each relation hop and
/// each custom-field lookup is one): what bounds a hundred `,or,`-joined relation terms.
pub const MAX_FILTER_JOINS: usize = 16;

/// A resolved filter; the same shape as [`FilterExpr`].
#[derive(Debug, Clone)]
pub enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Cond(Condition),
}

/// One resolved condition.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The relations from the resource to the operand's resource, outermost first (any kind,
    /// to-many included). They become one semi-join, so a record without a related record
    /// never matches.
    pub hops: Vec<Step>,
    pub operand: Operand,
    /// `not:`. It negates the test inside the innermost subquery, as Laravel's `whereHas` with
    /// a negated operator does: `contacts.name:not:eq:x` means "has a contact not named x".
    pub negated: bool,
    pub test: Test,
}

/// What a condition tests.
#[derive(Debug, Clone, Copy)]
pub enum Operand {
    /// A filterable column of the last hop's resource (or of the resource itself).
    Column(&'static Column),
    /// The value of custom field `id` (`field_values.12`) of the last hop's record (or of the
    /// record itself). `field_values` is not among the hops; the server knows the field's type.
    FieldValue(i64),
}

/// The test applied to the operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `eq:null`; with `not:` it is `IS NOT NULL`.
    IsNull,
    /// `eq`, `gt`, `lt`, `gte`, `lte`. The value has the column's type; for a field value it is
    /// the text as written.
    Compare(Comparison, Value),
    /// `like` and `contains`, `starts_with`, `ends_with`: the text as written, which the server
    /// escapes (`%`, `_`) before building the pattern. Text columns and field values only.
    Match(Pattern, String),
    /// `in`: one or more values, typed as for [`Test::Compare`].
    In(Vec<Value>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Gt,
    Lt,
    Gte,
    Lte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// `like` and `contains`: case-insensitive "contains" in Cirqll's documentation.
    Contains,
    StartsWith,
    EndsWith,
}

/// How a condition's path is read: its relation hops and its operand. `field` is the path as
/// written, for errors.
pub(super) type Operands<'a> =
    dyn Fn(&[String], &str) -> Result<(Vec<Step>, Operand), QueryError> + 'a;

/// Cirqll's paths: relations, then a column or `field_values.<id>` (see [`operand`]).
pub(super) fn cirqll_operands<'a>(
    def: &'static ResourceDef,
    registry: &'a dyn Registry,
) -> impl Fn(&[String], &str) -> Result<(Vec<Step>, Operand), QueryError> + 'a {
    move |segments, field| operand(segments, field, def, registry)
}

/// Resolves a whole filter and checks what it would cost (see [`MAX_FILTER_JOINS`]).
pub(super) fn resolve_bounded(
    expr: &FilterExpr,
    operands: &Operands<'_>,
) -> Result<Filter, QueryError> {
    let filter = resolve(expr, operands)?;
    let joins = filter.joins();
    if joins > MAX_FILTER_JOINS {
        return Err(QueryError::new("query.filter_too_costly", "filter")
            .with("joins", joins.to_string())
            .with("max", MAX_FILTER_JOINS.to_string()));
    }
    Ok(filter)
}

impl Filter {
    /// Whether the filter only picks records by key: `eq` or `in` on the record's own id or a
    /// reference (its owner, a foreign key), which indexes answer. Counting such matches
    /// again costs little beside the page; any other test is worth evaluating only once.
    pub fn by_keys_only(&self) -> bool {
        match self {
            Filter::All(items) | Filter::Any(items) => items.iter().all(Filter::by_keys_only),
            Filter::Cond(c) => {
                let keyed = matches!(c.operand, Operand::Column(column)
                    if column.name == "id" || column.references.is_some());
                let exact = matches!(c.test, Test::Compare(Comparison::Eq, _) | Test::In(_));
                c.hops.is_empty() && !c.negated && keyed && exact
            }
        }
    }

    /// The joins the filter's SQL holds: one per relation hop and one per custom-field test.
    pub fn joins(&self) -> usize {
        match self {
            Filter::All(items) | Filter::Any(items) => items.iter().map(Filter::joins).sum(),
            Filter::Cond(c) => {
                c.hops.len() + usize::from(matches!(c.operand, Operand::FieldValue(_)))
            }
        }
    }
}

fn resolve(expr: &FilterExpr, operands: &Operands<'_>) -> Result<Filter, QueryError> {
    let parts = |parts: &[FilterExpr]| {
        parts
            .iter()
            .map(|part| resolve(part, operands))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match expr {
        FilterExpr::All(all) => Filter::All(parts(all)?),
        FilterExpr::Any(any) => Filter::Any(parts(any)?),
        FilterExpr::Cond(raw) => Filter::Cond(condition(raw, operands)?),
    })
}

fn condition(raw: &RawCondition, operands: &Operands<'_>) -> Result<Condition, QueryError> {
    let field = raw.path.to_string();
    let (hops, operand) = operands(raw.path.segments(), &field)?;
    Ok(Condition {
        hops,
        operand,
        negated: raw.negated,
        test: test(raw, operand, &field)?,
    })
}

/// Leading segments are relations; the rest is a filterable column or `field_values.<id>` on a
/// resource with custom fields.
fn operand(
    segments: &[String],
    field: &str,
    def: &'static ResourceDef,
    registry: &dyn Registry,
) -> Result<(Vec<Step>, Operand), QueryError> {
    if let [relations @ .., marker, id] = segments
        && marker == "field_values"
    {
        let (hops, resource) = walk(relations, field, def, registry)?;
        if !resource.custom_fields {
            return Err(QueryError::new("query.filter_no_custom_fields", "filter")
                .with("field", echo(field))
                .with("resource", resource.name));
        }
        let id = field_id(id).ok_or_else(|| {
            QueryError::new("query.filter_field_id", "filter").with("field", echo(field))
        })?;
        return Ok((hops, Operand::FieldValue(id)));
    }
    let (name, relations) = match segments.split_last() {
        Some(split) => split,
        None => (&String::new(), &[][..]),
    };
    let (hops, resource) = walk(relations, field, def, registry)?;
    let filterable = |c: &&Column| c.filterable && !c.hidden;
    let column = resource.column(name).filter(filterable).ok_or_else(|| {
        unknown_column(
            "query.unknown_column",
            "filter",
            field,
            resource,
            resource.columns.iter().filter(filterable),
        )
    })?;
    Ok((hops, Operand::Column(column)))
}

/// A positive whole number, written with digits only.
pub(super) fn field_id(segment: &str) -> Option<i64> {
    if !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse::<i64>().ok().filter(|id| *id > 0)
}

/// Follows `relations` from `def`; the hops and the resource they end on.
fn walk(
    relations: &[String],
    field: &str,
    def: &'static ResourceDef,
    registry: &dyn Registry,
) -> Result<(Vec<Step>, &'static ResourceDef), QueryError> {
    if relations.len() > MAX_FILTER_HOPS {
        return Err(QueryError::new("query.filter_path_too_long", "filter")
            .with("field", echo(field))
            .with("max", MAX_FILTER_HOPS.to_string()));
    }
    let mut hops = Vec::with_capacity(relations.len());
    let mut from = def;
    for name in relations {
        let step = follow("filter", from, name, registry)?;
        from = step.target;
        hops.push(step);
    }
    if hops.iter().filter(|s| s.relation.is_to_many()).count() > MAX_FILTER_TO_MANY_HOPS {
        return Err(QueryError::new("query.filter_path_too_wide", "filter")
            .with("field", echo(field))
            .with("max", MAX_FILTER_TO_MANY_HOPS.to_string()));
    }
    Ok((hops, from))
}

/// The operators an operand's type supports: ordering has no meaning for booleans, and text
/// patterns none for numbers and dates.
fn allowed_ops(operand: Operand) -> &'static [Op] {
    const ORDERED: &[Op] = &[Op::Eq, Op::Gt, Op::Lt, Op::Gte, Op::Lte, Op::In];
    match operand {
        Operand::FieldValue(_) => &Op::ALL,
        Operand::Column(column) => match column.ty {
            ColumnType::Text => &Op::ALL,
            ColumnType::Bool => &[Op::Eq, Op::In],
            // JSON documents (activity-log properties) are served, not searched.
            ColumnType::Json => &[],
            ColumnType::Int | ColumnType::Float | ColumnType::Timestamp | ColumnType::Date => {
                ORDERED
            }
        },
    }
}

fn test(raw: &RawCondition, operand: Operand, field: &str) -> Result<Test, QueryError> {
    let allowed = allowed_ops(operand);
    if !allowed.contains(&raw.op) {
        return Err(QueryError::new("query.filter_operator_type", "filter")
            .with("operator", raw.op.as_str())
            .with("field", echo(field))
            .with("allowed", Op::list(allowed)));
    }
    let condition_error =
        |key| QueryError::new(key, "filter").with("condition", echo(&raw.to_string()));
    let mut texts = Vec::with_capacity(raw.values.len());
    for value in &raw.values {
        match value {
            Literal::Text(text) => texts.push(text.as_str()),
            Literal::Null if raw.op == Op::Eq && raw.values.len() == 1 => return Ok(Test::IsNull),
            Literal::Null => return Err(condition_error("query.filter_null")),
        }
    }
    if raw.op == Op::In && !texts.is_empty() {
        let values = texts.iter().map(|text| typed(operand, text, field));
        return Ok(Test::In(values.collect::<Result<_, _>>()?));
    }
    let [text] = texts.as_slice() else {
        return Err(condition_error("query.filter_incomplete"));
    };
    let compare = |comparison| -> Result<Test, QueryError> {
        Ok(Test::Compare(comparison, typed(operand, text, field)?))
    };
    let matching = |pattern| Ok(Test::Match(pattern, text.to_string()));
    match raw.op {
        Op::Eq => compare(Comparison::Eq),
        Op::Gt => compare(Comparison::Gt),
        Op::Lt => compare(Comparison::Lt),
        Op::Gte => compare(Comparison::Gte),
        Op::Lte => compare(Comparison::Lte),
        Op::Like | Op::Contains => matching(Pattern::Contains),
        Op::StartsWith => matching(Pattern::StartsWith),
        Op::EndsWith => matching(Pattern::EndsWith),
        // An `in` with values returned above; one without is incomplete.
        Op::In => Err(condition_error("query.filter_incomplete")),
    }
}

/// `text` as a value of the operand's type, as a request body's string would be read.
fn typed(operand: Operand, text: &str, field: &str) -> Result<Value, QueryError> {
    let column = match operand {
        Operand::FieldValue(_) => return Ok(Value::Text(text.to_string())),
        Operand::Column(column) => column,
    };
    coerce(column.ty, &Json::String(text.to_string())).ok_or_else(|| {
        let key = match column.ty {
            ColumnType::Int => "query.filter_value.int",
            ColumnType::Float => "query.filter_value.float",
            ColumnType::Bool => "query.filter_value.bool",
            ColumnType::Timestamp => "query.filter_value.timestamp",
            ColumnType::Date => "query.filter_value.date",
            ColumnType::Text | ColumnType::Json => "query.filter_value.text",
        };
        QueryError::new(key, "filter")
            .with("value", echo(text))
            .with("field", echo(field))
    })
}
