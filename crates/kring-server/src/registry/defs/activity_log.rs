//! ActivityLog (`spec/cirqll.md` §6.17, spatie/laravel-activitylog's shape): who created,
//! changed or deleted a record. Written by the engine, read through `with=activity_log`.

use kring_core::schema::{Column, ColumnType, int, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef, Routes};

pub static ACTIVITY_LOG: ResourceDef = ResourceDef {
    name: "activity_log",
    table: "activity_log",
    columns: &[
        Column::id(),
        text("log_name").not_null(),
        text("description").not_null(),
        text("subject_type").not_null(),
        int("subject_id").not_null(),
        text("event").not_null(),
        text("causer_type"),
        int("causer_id"),
        Column::new("properties", ColumnType::Json).not_null(),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[Relation::belongs_to("causer", "user", "causer_id")],
    routes: Routes::None,
    ..ResourceDef::BASE
};
