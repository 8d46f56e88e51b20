//! What a resource is, as data.

use kring_core::schema::{Column, ColumnType};

/// One resource: its table, its columns in response order, and what the engine must do beside
/// the plain row (owner default, custom fields).
#[derive(Debug)]
pub struct ResourceDef {
    /// URL segment (`/api/customer`), permission prefix (`customer.view`), activity-log and
    /// field-value subject type.
    pub name: &'static str,
    pub table: &'static str,
    /// The response's keys, in order. `id`, `created_at` and `updated_at` are managed by the
    /// engine; the tenant column (`company_id`) is never listed and never exposed.
    pub columns: &'static [Column],
    /// A column that defaults to the calling user's id on create.
    pub owner: Option<&'static str>,
    /// Whether records carry custom `field_values`.
    pub custom_fields: bool,
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

    pub fn types(&self) -> Vec<ColumnType> {
        self.columns.iter().map(|c| c.ty).collect()
    }
}
