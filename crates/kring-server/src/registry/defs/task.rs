//! Task (`spec/cirqll.md` §6.6) with its subtasks, written through the task's body.

use kring_core::schema::{Column, boolean, int, long_text, text, timestamp};

use super::{CREATED_AT, UPDATED_AT, optional, owner};
use crate::registry::{Relation, ResourceDef};

pub static TASK: ResourceDef = ResourceDef {
    name: "task",
    table: "tasks",
    columns: &[
        Column::id(),
        owner(),
        optional("customer_id", "customers"),
        optional("contact_id", "contacts"),
        text("name").required(),
        long_text("description").writable(),
        timestamp("start_date").writable(),
        timestamp("end_date").writable(),
        boolean("done").writable(),
        int("priority").writable().range(1, 5),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::belongs_to("customer", "customer", "customer_id"),
        Relation::belongs_to("contact", "contact", "contact_id"),
        Relation::has_many("subtasks", "subtask", "task_id"),
        Relation::has_many("notes", "note", "task_id"),
        Relation::FIELD_VALUES,
        Relation::ACTIVITY_LOG,
    ],
    owner: Some("user_id"),
    custom_fields: true,
    nested: &["subtasks"],
    ..ResourceDef::BASE
};
