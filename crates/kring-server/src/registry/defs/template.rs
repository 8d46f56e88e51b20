//! Template (`spec/cirqll.md` §6.14) with its items, written through the template's body.

use kring_core::schema::{Column, text};

use super::{CREATED_AT, UPDATED_AT, owner};
use crate::registry::{Relation, ResourceDef};

pub const TEMPLATE_TYPES: &[&str] = &["task", "email", "appointment"];

pub static TEMPLATE: ResourceDef = ResourceDef {
    name: "template",
    table: "templates",
    columns: &[
        Column::id(),
        owner(),
        text("name").required(),
        text("type").required().one_of(TEMPLATE_TYPES),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::has_many("items", "template_item", "template_id"),
    ],
    owner: Some("user_id"),
    nested: &["items"],
    ..ResourceDef::BASE
};
