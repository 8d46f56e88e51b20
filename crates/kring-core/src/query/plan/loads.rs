//! `with` and `show`: which relations to embed, which columns to return, and the eager-loading
//! weight (`spec/cirqll.md` §4.1 and §4.2).

use std::collections::HashSet;

use super::{Step, follow, unknown_column};
use crate::i18n::Message;
use crate::query::syntax::{List, Path};
use crate::query::{QueryError, echo};
use crate::resource::{Registry, Relation, RelationKind, ResourceDef};
use crate::schema::Column;

/// The eager-loading budget; Cirqll's documentation says it "might change in the future".
pub const MAX_WEIGHT: u32 = 16;

/// One embedded relation and what is embedded below it.
#[derive(Debug, Clone)]
pub struct WithNode {
    pub relation: &'static Relation,
    pub target: &'static ResourceDef,
    /// The target's columns to return, in column order, from a dotted `show`
    /// (`show=company.name`); `None` returns every visible column. A selection always holds
    /// `id` and the foreign keys of this node's to-one children.
    pub select: Option<Vec<&'static Column>>,
    pub children: Vec<WithNode>,
    /// Every related record rather than a page of them: for a dialect's fixed plan, which
    /// shapes a record from all it holds (a record's field values, files, permissions: bounded
    /// by what one record can hold, never by the tenant).
    pub whole: bool,
}

/// What `with` and `show` resolve to.
pub(super) struct Loads {
    pub select: Option<Vec<&'static Column>>,
    pub tree: Vec<WithNode>,
    pub weight: Option<u32>,
}

/// A `show` item: the relations its path walks (none for a column of the resource itself) and
/// the column it names.
struct Shown {
    steps: Vec<Step>,
    column: &'static Column,
}

/// Resolves every path first and checks the weight before building the tree, so the tree is
/// never deeper than the budget allows whatever the client sent.
pub(super) fn resolve(
    with: &List<Path>,
    show: &List<Path>,
    def: &'static ResourceDef,
    registry: &dyn Registry,
) -> Result<Loads, QueryError> {
    let loaded = with
        .iter()
        .map(|path| load_path("with", path.segments(), def, registry))
        .collect::<Result<Vec<_>, _>>()?;
    let shown = show
        .iter()
        .map(|path| shown(path, def, registry))
        .collect::<Result<Vec<_>, _>>()?;
    let paths = loaded
        .iter()
        .chain(shown.iter().map(|item| &item.steps))
        .filter(|steps| !steps.is_empty());
    let weight = weight(paths);
    if let Some(weight) = weight.filter(|w| *w > MAX_WEIGHT) {
        return Err(QueryError(
            Message::new("query.weight")
                .with("weight", weight.to_string())
                .with("max", MAX_WEIGHT.to_string()),
        ));
    }

    let mut select = (!show.is_empty()).then(Vec::new);
    let mut tree = Vec::new();
    for steps in &loaded {
        insert(&mut tree, steps);
    }
    for item in shown {
        let columns = match insert(&mut tree, &item.steps) {
            Some(node) => node.select.get_or_insert_with(Vec::new),
            None => select.get_or_insert_with(Vec::new),
        };
        add(columns, item.column);
    }
    complete(&mut select, def, &mut tree);
    Ok(Loads {
        select,
        tree,
        weight,
    })
}

/// The relations of a `with` path (or of a dotted `show` path without its column), checked
/// against the allowed-path rule (§4.1): a to-many relation only as the first step, any number
/// of to-one steps anywhere, and `field_values` anywhere but only as the last step.
fn load_path(
    param: &'static str,
    segments: &[String],
    def: &'static ResourceDef,
    registry: &dyn Registry,
) -> Result<Vec<Step>, QueryError> {
    let mut steps: Vec<Step> = Vec::with_capacity(segments.len());
    let mut from = def;
    for name in segments {
        let step = follow(param, from, name, registry)?;
        if let Some(previous) = steps.last() {
            let refused = |key| {
                QueryError::new(key, param)
                    .with("path", echo(&segments.join(".")))
                    .with("relation", step.relation.name)
            };
            if previous.relation.light {
                return Err(refused("query.field_values_leaf"));
            }
            if step.relation.is_to_many() && !step.relation.light {
                return Err(refused("query.nested_to_many"));
            }
        }
        from = step.target;
        steps.push(step);
    }
    Ok(steps)
}

/// A `show` item: a visible column of the resource, or `relation(.relation)*.column`.
fn shown(
    path: &Path,
    def: &'static ResourceDef,
    registry: &dyn Registry,
) -> Result<Shown, QueryError> {
    let (name, relations) = match path.segments().split_last() {
        Some(split) => split,
        None => (&String::new(), &[][..]),
    };
    let steps = load_path("show", relations, def, registry)?;
    let resource = steps.last().map_or(def, |step| step.target);
    let column = resource.column(name).filter(|c| !c.hidden).ok_or_else(|| {
        unknown_column(
            "query.unknown_column",
            "show",
            &path.to_string(),
            resource,
            resource.visible_columns(),
        )
    })?;
    Ok(Shown { steps, column })
}

/// The sum over every distinct path of `points × depth` per step (depth 1 at the top), or
/// `None` when nothing is loaded. Paths are counted as written, so `contacts,contacts.user`
/// weighs `3 + (3 + 2)`; only an exact repeat (`with=user&show=user.name`) counts once.
fn weight<'p>(paths: impl Iterator<Item = &'p Vec<Step>>) -> Option<u32> {
    let mut seen: HashSet<Vec<&'static str>> = HashSet::new();
    let mut total: Option<u32> = None;
    for steps in paths {
        if seen.insert(steps.iter().map(|s| s.relation.name).collect()) {
            let path_weight = steps
                .iter()
                .zip(1u32..)
                .map(|(step, depth)| step.relation.points().saturating_mul(depth))
                .fold(0u32, u32::saturating_add);
            total = Some(total.unwrap_or(0).saturating_add(path_weight));
        }
    }
    total
}

/// Adds the nodes of `steps` to `nodes`, sharing those already there; the last step's node.
fn insert<'n>(nodes: &'n mut Vec<WithNode>, steps: &[Step]) -> Option<&'n mut WithNode> {
    let (first, rest) = steps.split_first()?;
    let index = match nodes
        .iter()
        .position(|node| node.relation.name == first.relation.name)
    {
        Some(index) => index,
        None => {
            nodes.push(WithNode {
                relation: first.relation,
                target: first.target,
                select: None,
                children: Vec::new(),
                whole: false,
            });
            nodes.len() - 1
        }
    };
    let node = nodes.get_mut(index)?;
    if rest.is_empty() {
        Some(node)
    } else {
        insert(&mut node.children, rest)
    }
}

fn add(columns: &mut Vec<&'static Column>, column: &'static Column) {
    if !columns.iter().any(|c| c.name == column.name) {
        columns.push(column);
    }
}

/// Adds `id` and the to-one children's foreign keys to each selection (the response needs the
/// key to show what an embedded object belongs to, and the server needs it to load it), and
/// puts the selection in column order.
fn complete(
    select: &mut Option<Vec<&'static Column>>,
    def: &'static ResourceDef,
    children: &mut [WithNode],
) {
    if let Some(columns) = select {
        let keys = children
            .iter()
            .filter_map(|child| match child.relation.kind {
                RelationKind::BelongsTo { key } => Some(key),
                _ => None,
            });
        for name in std::iter::once("id").chain(keys) {
            if let Some(column) = def.column(name) {
                add(columns, column);
            }
        }
        columns.sort_by_key(|column| {
            def.columns
                .iter()
                .position(|c| c.name == column.name)
                .unwrap_or(usize::MAX)
        });
    }
    for child in children {
        complete(&mut child.select, child.target, &mut child.children);
    }
}
