//! Subtask: an item of a task's checklist, written only through the task body.

use kring_core::schema::{Column, Default, boolean, int, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef, Routes};

pub static SUBTASK: ResourceDef = ResourceDef {
    name: "subtask",
    table: "subtasks",
    columns: &[
        Column::id(),
        int("task_id").not_null(),
        text("name").required(),
        boolean("done").writable(),
        int("position")
            .writable()
            .ordinal()
            .not_null()
            .default(Default::Int(0)),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[Relation::belongs_to("task", "task", "task_id")],
    routes: Routes::None,
    ..ResourceDef::BASE
};
