//! What a resource is, as data: its table, its columns, its relations and how it is served.
//!
//! The descriptions themselves live in the server (`resource/defs/*.rs`); they are defined here
//! so that the pure query planner can check `with`, `show`, `count`, `filter` and `order_by`
//! against them without touching a database.

use crate::Value;
use crate::schema::{Column, ColumnType};

/// See [`ResourceDef::present`].
pub type Present = fn(&ResourceDef, &[Value], &mut serde_json::Map<String, serde_json::Value>);

/// One resource.
#[derive(Debug)]
pub struct ResourceDef {
    /// URL segment (`/api/customer`), permission prefix (`customer.view`), activity-log and
    /// field-value subject type.
    pub name: &'static str,
    pub table: &'static str,
    /// The response's keys, in order. `id`, `created_at` and `updated_at` are managed by the
    /// engine; the tenant column (`company_id`) is never listed and never exposed.
    pub columns: &'static [Column],
    /// Relations that `with`, `show`, `count` and `filter` may follow.
    pub relations: &'static [Relation],
    /// A column that defaults to the calling user's id on create.
    pub owner: Option<&'static str>,
    /// Whether records carry custom `field_values`.
    pub custom_fields: bool,
    pub routes: Routes,
    /// Whether rows carry `company_id`. Only shared catalogues (permissions) do not.
    pub tenant: bool,
    /// To-many relations whose items are written through this resource's body under the
    /// relation's name and synced: items with an `id` are updated, items without are created,
    /// items left out are deleted (a task's `subtasks`).
    pub nested: &'static [&'static str],
    /// Many-to-many relations set from a list of ids in the body (`customer_ids: [3, 4]`).
    pub links: &'static [Link],
    /// Recomputes derived columns from the others, before every write.
    pub derive: Option<fn(&ResourceDef, &mut [Value])>,
    /// Adjusts a record's JSON form from its values (a field value is shown in its field's
    /// type, which its text column alone does not say).
    pub present: Option<Present>,
    /// Creates per minute one user may make, for records whose creation is a sensitive
    /// business flow (inviting users): beyond it, 429 and nothing is created.
    pub create_quota: Option<u64>,
    /// The record is the caller's own: `GET /api/<name>/me` (and `/api/me`) shows it to any
    /// valid token, whatever its role (`spec/cirqll.md` §6.3: users).
    pub own_record: bool,
    /// A write can change what a token acts as (a user's role, a role's permissions, the
    /// company's language): its commit makes every remembered principal stale.
    pub shapes_principals: bool,
}

impl ResourceDef {
    /// What a description says unless it states otherwise: a tenant's records behind the five
    /// routes, with no owner column, custom fields, nested lists, links, derived columns or
    /// quota. A description names itself and its columns and writes `..ResourceDef::BASE`.
    pub const BASE: ResourceDef = ResourceDef {
        name: "",
        table: "",
        columns: &[],
        relations: &[],
        owner: None,
        custom_fields: false,
        routes: Routes::Crud,
        tenant: true,
        nested: &[],
        links: &[],
        derive: None,
        present: None,
        create_quota: None,
        own_record: false,
        shapes_principals: false,
    };
}

/// A body key that replaces the set of records linked through a many-to-many relation. Items
/// are ids, or names when the target has a `name` column (role `permissions`).
#[derive(Debug)]
pub struct Link {
    pub key: &'static str,
    pub relation: &'static str,
    /// A to-one column of the record whose target is always one of the linked (a contact's
    /// primary `customer_id` is among its `customers`), kept in the pivot from both sides.
    pub primary: Option<&'static str>,
}

/// Which HTTP routes the generic engine mounts for a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routes {
    /// `GET/POST /api/<name>`, `GET/PATCH/PUT/DELETE /api/<name>/{id}`.
    Crud,
    /// One record per company: `GET` and `PATCH /api/<name>` (settings).
    Singleton,
    /// Reachable only through relations (`with`) or a parent's body.
    None,
}

/// A named path from one resource to another.
#[derive(Debug)]
pub struct Relation {
    pub name: &'static str,
    /// The related resource's `name`.
    pub target: &'static str,
    pub kind: RelationKind,
    /// Weighs like a to-one and may follow another to-many in `with` (`spec/cirqll.md` §4.1:
    /// a record's custom field values).
    pub light: bool,
    /// The related records stay when this record is deleted (the activity log keeps a deleted
    /// record's history).
    pub outlives_parent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    /// `self.key` holds the target's id (`customer.user`).
    BelongsTo { key: &'static str },
    /// `target.key` holds this record's id (`customer.tasks`).
    HasMany { key: &'static str },
    /// A pivot table links both sides (`customer.contacts`).
    ManyToMany {
        pivot: &'static str,
        /// The pivot column holding this record's id.
        own_key: &'static str,
        /// The pivot column holding the target's id.
        other_key: &'static str,
    },
    /// `target.type_column = <this resource's name>` and `target.id_column = this.id`
    /// (`field_values`, the activity log, media).
    Morph {
        type_column: &'static str,
        id_column: &'static str,
    },
}

impl Relation {
    pub const fn belongs_to(name: &'static str, target: &'static str, key: &'static str) -> Self {
        Relation {
            name,
            target,
            kind: RelationKind::BelongsTo { key },
            light: false,
            outlives_parent: false,
        }
    }

    pub const fn has_many(name: &'static str, target: &'static str, key: &'static str) -> Self {
        Relation {
            name,
            target,
            kind: RelationKind::HasMany { key },
            light: false,
            outlives_parent: false,
        }
    }

    pub const fn many_to_many(
        name: &'static str,
        target: &'static str,
        pivot: &'static str,
        own_key: &'static str,
        other_key: &'static str,
    ) -> Self {
        Relation {
            name,
            target,
            kind: RelationKind::ManyToMany {
                pivot,
                own_key,
                other_key,
            },
            light: false,
            outlives_parent: false,
        }
    }

    pub const fn morph(
        name: &'static str,
        target: &'static str,
        type_column: &'static str,
        id_column: &'static str,
    ) -> Self {
        Relation {
            name,
            target,
            kind: RelationKind::Morph {
                type_column,
                id_column,
            },
            light: false,
            outlives_parent: false,
        }
    }

    /// The custom field values of a record.
    pub const FIELD_VALUES: Relation =
        Relation::morph("field_values", "field_value", "model_type", "model_id").light();

    /// A record's activity-log entries.
    pub const ACTIVITY_LOG: Relation =
        Relation::morph("activity_log", "activity_log", "subject_type", "subject_id")
            .outlives_parent();

    /// A record's files.
    pub const MEDIA: Relation = Relation::morph("media", "media", "model_type", "model_id");

    pub fn is_to_many(&self) -> bool {
        !matches!(self.kind, RelationKind::BelongsTo { .. })
    }

    /// See [`Relation::light`].
    pub const fn light(mut self) -> Self {
        self.light = true;
        self
    }

    /// See [`Relation::outlives_parent`].
    pub const fn outlives_parent(mut self) -> Self {
        self.outlives_parent = true;
        self
    }

    /// Points per depth for the eager-loading weight.
    pub fn points(&self) -> u32 {
        if self.is_to_many() && !self.light {
            3
        } else {
            1
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    View,
    Create,
    Update,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::View, Action::Create, Action::Update, Action::Delete];

    pub fn name(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

impl ResourceDef {
    /// `customer.view`, `customer.create`, …
    pub fn permission(&self, action: Action) -> String {
        format!("{}.{}", self.name, action.name())
    }

    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn relation(&self, name: &str) -> Option<&'static Relation> {
        self.relations.iter().find(|r| r.name == name)
    }

    pub fn types(&self) -> Vec<ColumnType> {
        self.columns.iter().map(|c| c.ty).collect()
    }

    /// The OAuth scope an action needs: `customers:read` to view, `customers:write` to change.
    pub fn scope(&self, action: Action) -> String {
        let access = match action {
            Action::View => "read",
            Action::Create | Action::Update | Action::Delete => "write",
        };
        format!("{}s:{access}", self.name)
    }

    /// The actions its routes offer, each guarded by one permission.
    pub fn actions(&self) -> &'static [Action] {
        match self.routes {
            Routes::Crud => &Action::ALL,
            Routes::Singleton => &[Action::View, Action::Update],
            Routes::None => &[],
        }
    }

    /// The position of a column in this resource's records.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The columns a response shows (every column but the hidden ones).
    pub fn visible_columns(&self) -> impl Iterator<Item = &'static Column> + '_ {
        self.columns.iter().filter(|c| !c.hidden)
    }

    /// The names of relations that cannot be followed: the registry lacks their target, or a
    /// `BelongsTo` key is not a column. The query planner refuses such a relation as unknown, so
    /// a registry test should assert this is empty for every resource.
    pub fn broken_relations(&self, registry: &dyn Registry) -> Vec<&'static str> {
        self.relations
            .iter()
            .filter(|relation| {
                let key_missing = match relation.kind {
                    RelationKind::BelongsTo { key } => self.column(key).is_none(),
                    _ => false,
                };
                key_missing || registry.resource(relation.target).is_none()
            })
            .map(|relation| relation.name)
            .collect()
    }
}

/// Every resource, looked up by name. The server's static registry is one.
pub trait Registry {
    fn resource(&self, name: &str) -> Option<&'static ResourceDef>;
}

/// Lets a `&'static [&ResourceDef]` (the server's `REGISTRY`) be passed as `&dyn Registry`:
/// `&REGISTRY`.
impl<R: Registry + ?Sized> Registry for &R {
    fn resource(&self, name: &str) -> Option<&'static ResourceDef> {
        (**self).resource(name)
    }
}

impl Registry for [&'static ResourceDef] {
    fn resource(&self, name: &str) -> Option<&'static ResourceDef> {
        self.iter().copied().find(|def| def.name == name)
    }
}
