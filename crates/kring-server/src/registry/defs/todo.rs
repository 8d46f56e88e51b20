//! Todo (`spec/cirqll.md` §6.13): a personal to-do item.

use kring_core::schema::{Column, boolean, date, long_text, text};

use super::{CREATED_AT, UPDATED_AT, owner};
use crate::registry::{Relation, ResourceDef};

pub static TODO: ResourceDef = ResourceDef {
    name: "todo",
    table: "todos",
    columns: &[
        Column::id(),
        owner(),
        text("name").required(),
        long_text("description").writable(),
        boolean("done").writable(),
        date("due_date").writable(),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::ACTIVITY_LOG,
    ],
    owner: Some("user_id"),
    ..ResourceDef::BASE
};
