//! Permission: `<resource>.<action>`, one per routed resource and action, shared by all
//! companies and kept in step with the registry at start-up.

use kring_core::schema::{Column, text};

use super::CREATED_AT;
use crate::registry::{ResourceDef, Routes};

pub static PERMISSION: ResourceDef = ResourceDef {
    name: "permission",
    table: "permissions",
    columns: &[Column::id(), text("name").not_null(), CREATED_AT],
    routes: Routes::None,
    tenant: false,
    ..ResourceDef::BASE
};
