//! Resolution: the query syntax checked against a resource and turned into a typed [`Plan`].
//!
//! Everything the server needs is looked up here once: the `&'static` relations and columns,
//! the resources relations lead to, filter values coerced to their column's type. The server
//! builds SQL from a plan without checking anything again, and a plan cannot name a hidden,
//! unsortable or unfilterable column or a relation the resource does not have.

mod conditions;
mod loads;

#[cfg(test)]
mod tests;

use super::syntax::{Direction, List, OrderItem, Path, QuerySyntax};
use super::{Page, QueryError, echo};
use crate::resource::{Registry, Relation, ResourceDef};
use crate::schema::Column;

pub use conditions::{
    Comparison, Condition, Filter, MAX_FILTER_HOPS, MAX_FILTER_JOINS, MAX_FILTER_TO_MANY_HOPS,
    Operand, Pattern, Test,
};
pub use loads::{MAX_WEIGHT, WithNode};

/// What is answered: a page of records or one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    Index,
    Show,
}

/// One relation followed from a resource, and the resource it leads to.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub relation: &'static Relation,
    pub target: &'static ResourceDef,
}

/// A `count` item: a to-many relation whose size is returned as [`Count::key`].
#[derive(Debug, Clone, Copy)]
pub struct Count {
    pub relation: &'static Relation,
    pub target: &'static ResourceDef,
}

impl Count {
    /// The response key, as Laravel's `withCount` names it: `<relation>_count`.
    pub fn key(&self) -> String {
        format!("{}_count", self.relation.name)
    }
}

/// An `order_by` item: a sortable column of the resource itself.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    pub column: &'static Column,
    pub direction: Direction,
}

/// Everything a list or show request asked for, checked. The default asks for nothing extra:
/// every visible column, no relations, no filter.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The resource's columns to return, in column order; `None` returns every visible column.
    /// A selection always holds `id` and the foreign key of every to-one relation in
    /// [`Plan::with`], which the response shows next to the embedded object.
    pub select: Option<Vec<&'static Column>>,
    /// The relations to embed, as a tree (`contacts,contacts.user` is one `contacts` node with
    /// a `user` child), in the order first named.
    pub with: Vec<WithNode>,
    /// The eager-loading weight (`X-Eager-Loading-Weight`), when anything is loaded.
    pub weight: Option<u32>,
    pub count: Vec<Count>,
    pub filter: Option<Filter>,
    /// Empty when the client gave none; the server then orders by `id`.
    pub order_by: Vec<Order>,
    /// `Some` for [`PlanKind::Index`]; a show ignores `limit`, `offset` and `per_page`.
    pub page: Option<Page>,
}

impl Plan {
    /// Every resource the plan reads besides its own, through `with`, a dotted `show`, `count`
    /// or a filter's path: what the caller must be allowed to read.
    pub fn reached(&self) -> std::collections::BTreeSet<&'static str> {
        fn walk(nodes: &[WithNode], into: &mut std::collections::BTreeSet<&'static str>) {
            for node in nodes {
                into.insert(node.target.name);
                walk(&node.children, into);
            }
        }
        fn hops(filter: &Filter, into: &mut std::collections::BTreeSet<&'static str>) {
            match filter {
                Filter::All(items) | Filter::Any(items) => items.iter().for_each(|f| hops(f, into)),
                Filter::Cond(condition) => {
                    into.extend(condition.hops.iter().map(|h| h.target.name))
                }
            }
        }
        let mut targets = std::collections::BTreeSet::new();
        walk(&self.with, &mut targets);
        targets.extend(self.count.iter().map(|c| c.target.name));
        if let Some(filter) = &self.filter {
            hops(filter, &mut targets);
        }
        targets
    }
}

/// The parameters as written, and the page a list asks for.
fn syntax_and_page(
    pairs: &[(String, String)],
    kind: PlanKind,
) -> Result<(QuerySyntax, Option<Page>), QueryError> {
    let syntax = QuerySyntax::parse(pairs)?;
    let page = match kind {
        PlanKind::Index => Some(Page::parse(pairs)?),
        PlanKind::Show => None,
    };
    Ok((syntax, page))
}

/// Reads and checks the query parameters of a request on `def`. `registry` resolves relation
/// targets. Parameters Kring does not know are ignored; the first problem found is the error.
pub fn plan(
    pairs: &[(String, String)],
    def: &'static ResourceDef,
    registry: &dyn Registry,
    kind: PlanKind,
) -> Result<Plan, QueryError> {
    let (syntax, page) = syntax_and_page(pairs, kind)?;
    let loads = loads::resolve(&syntax.with, &syntax.show, def, registry)?;
    let operands = conditions::cirqll_operands(def, registry);
    let filter = syntax
        .filter
        .as_ref()
        .map(|expr| conditions::resolve_bounded(expr, &operands))
        .transpose()?;
    Ok(Plan {
        select: loads.select,
        with: loads.tree,
        weight: loads.weight,
        count: counts(&syntax.count, def, registry)?,
        filter,
        order_by: orders(&syntax.order_by, def)?,
        page,
    })
}

/// A dialect's own names for a resource's columns, as its responses show them (ManageIt's
/// `name` is a customer's `first_name`, `business_information.company_name` its `name`), and
/// the prefix under which it names custom fields (`custom_fields.<id>`).
pub struct View {
    pub names: Vec<(String, &'static str)>,
    pub custom_fields: &'static str,
}

impl View {
    fn column(&self, def: &'static ResourceDef, name: &str) -> Option<&'static Column> {
        let (_, column) = self.names.iter().find(|(shown, _)| shown == name)?;
        def.column(column)
    }

    fn unknown(
        &self,
        key: &'static str,
        param: &'static str,
        field: &str,
        def: &ResourceDef,
    ) -> QueryError {
        let shown = self.names.iter().map(|(name, _)| name.as_str());
        QueryError::new(key, param)
            .with("field", echo(field))
            .with("resource", def.name)
            .with("allowed", names(shown))
    }
}

/// [`plan`] for a dialect that names columns its own way ([`View`]): `filter` and `order_by`
/// take only the view's names (and its custom fields). The view is their allow-list: what a
/// dialect shows, it may filter and sort by, though the resource hides it from Cirqll. The page
/// parameters are as in [`plan`]; relations are not the view's to follow.
pub fn plan_view(
    pairs: &[(String, String)],
    def: &'static ResourceDef,
    view: &View,
    kind: PlanKind,
) -> Result<Plan, QueryError> {
    let (syntax, page) = syntax_and_page(pairs, kind)?;
    let operands = |segments: &[String], field: &str| {
        if let [prefix, id] = segments
            && prefix == view.custom_fields
            && def.custom_fields
        {
            let id = conditions::field_id(id).ok_or_else(|| {
                QueryError::new("query.filter_field_id", "filter").with("field", echo(field))
            })?;
            return Ok((Vec::new(), Operand::FieldValue(id)));
        }
        let column = view
            .column(def, field)
            .ok_or_else(|| view.unknown("query.unknown_column", "filter", field, def))?;
        Ok((Vec::new(), Operand::Column(column)))
    };
    let filter = syntax
        .filter
        .as_ref()
        .map(|expr| conditions::resolve_bounded(expr, &operands))
        .transpose()?;
    let mut seen: Vec<&str> = Vec::new();
    let mut order_by = Vec::new();
    for item in syntax.order_by.iter() {
        if seen.contains(&item.field.as_str()) {
            continue;
        }
        seen.push(item.field.as_str());
        let column = view
            .column(def, &item.field)
            .ok_or_else(|| view.unknown("query.order_field", "order_by", &item.field, def))?;
        order_by.push(Order {
            column,
            direction: item.direction,
        });
    }
    Ok(Plan {
        filter,
        order_by,
        page,
        ..Plan::default()
    })
}

/// Follows relation `name` from `from`, for parameter `param`.
fn follow(
    param: &'static str,
    from: &'static ResourceDef,
    name: &str,
    registry: &dyn Registry,
) -> Result<Step, QueryError> {
    from.relation(name)
        .and_then(|relation| {
            let target = registry.resource(relation.target)?;
            Some(Step { relation, target })
        })
        .ok_or_else(|| {
            let allowed = names(from.relations.iter().map(|r| r.name));
            if allowed.is_empty() {
                QueryError::new("query.no_relations", param)
                    .with("relation", echo(name))
                    .with("resource", from.name)
            } else {
                QueryError::new("query.unknown_relation", param)
                    .with("relation", echo(name))
                    .with("resource", from.name)
                    .with("allowed", allowed)
            }
        })
}

/// `a, b, c` for messages.
fn names<'n>(items: impl Iterator<Item = &'n str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// An unknown, hidden or otherwise refused column: the message lists `allowed` instead.
fn unknown_column<'c>(
    key: &'static str,
    param: &'static str,
    field: &str,
    resource: &ResourceDef,
    allowed: impl Iterator<Item = &'c Column>,
) -> QueryError {
    QueryError::new(key, param)
        .with("field", echo(field))
        .with("resource", resource.name)
        .with("allowed", names(allowed.map(|c| c.name)))
}

/// `count` items: to-many relations of the resource, each counted once.
fn counts(
    items: &List<Path>,
    def: &'static ResourceDef,
    registry: &dyn Registry,
) -> Result<Vec<Count>, QueryError> {
    let mut counts: Vec<Count> = Vec::new();
    for path in items.iter() {
        let count = count(&path.to_string(), def, registry)?;
        if !counts
            .iter()
            .any(|c| c.relation.name == count.relation.name)
        {
            counts.push(count);
        }
    }
    Ok(counts)
}

fn count(
    name: &str,
    def: &'static ResourceDef,
    registry: &dyn Registry,
) -> Result<Count, QueryError> {
    let countable = names(
        def.relations
            .iter()
            .filter(|r| r.is_to_many())
            .map(|r| r.name),
    );
    let refused = |key| {
        QueryError::new(key, "count")
            .with("relation", echo(name))
            .with("resource", def.name)
            .with("allowed", countable.clone())
    };
    match def.relation(name) {
        Some(relation) if relation.is_to_many() => registry
            .resource(relation.target)
            .map(|target| Count { relation, target })
            .ok_or_else(|| refused("query.unknown_relation")),
        _ if countable.is_empty() => Err(refused("query.count_none")),
        Some(_) => Err(refused("query.count_to_one")),
        None => Err(refused("query.unknown_relation")),
    }
}

/// `order_by` items: sortable columns of the resource itself. A column named again is dropped:
/// it cannot change the order, and the list stays as short as the resource's columns.
fn orders(items: &List<OrderItem>, def: &'static ResourceDef) -> Result<Vec<Order>, QueryError> {
    let sortable = |c: &&Column| c.sortable && !c.hidden;
    let mut seen: Vec<&str> = Vec::new();
    items
        .iter()
        .filter(|item| {
            let first = !seen.contains(&item.field.as_str());
            seen.push(item.field.as_str());
            first
        })
        .map(|item| {
            let column = def.column(&item.field).filter(sortable).ok_or_else(|| {
                unknown_column(
                    "query.order_field",
                    "order_by",
                    &item.field,
                    def,
                    def.columns.iter().filter(sortable),
                )
            })?;
            Ok(Order {
                column,
                direction: item.direction,
            })
        })
        .collect()
}
