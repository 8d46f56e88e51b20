//! Role (`spec/cirqll.md` §6.4): a named set of permissions, given as names or ids in the body's
//! `permissions` list and synced on create and update.

use kring_core::schema::{Column, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Link, Relation, ResourceDef};

pub static ROLE: ResourceDef = ResourceDef {
    name: "role",
    table: "roles",
    columns: &[
        Column::id(),
        text("name").required().unique(),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::many_to_many(
            "permissions",
            "permission",
            "role_permissions",
            "role_id",
            "permission_id",
        ),
        Relation::has_many("users", "user", "role_id"),
    ],
    links: &[Link {
        key: "permissions",
        relation: "permissions",
        primary: None,
    }],
    shapes_principals: true,
    ..ResourceDef::BASE
};
