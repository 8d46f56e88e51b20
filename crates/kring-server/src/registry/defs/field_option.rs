//! FieldOption: one choice of a select or multiselect field.

use kring_core::schema::{Column, Default, int, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef, Routes};

pub static FIELD_OPTION: ResourceDef = ResourceDef {
    name: "field_option",
    table: "field_options",
    columns: &[
        Column::id(),
        int("field_id").not_null(),
        text("value").required(),
        int("position")
            .writable()
            .ordinal()
            .not_null()
            .default(Default::Int(0)),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[Relation::belongs_to("field", "field", "field_id")],
    routes: Routes::None,
    ..ResourceDef::BASE
};
