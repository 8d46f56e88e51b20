//! FieldValue (`spec/cirqll.md` §5): one record's value for one custom field, written through
//! the record's `field_values`.

use kring_core::schema::{Column, int, long_text, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef, Routes};

pub static FIELD_VALUE: ResourceDef = ResourceDef {
    name: "field_value",
    table: "field_values",
    columns: &[
        Column::id(),
        int("field_id").not_null(),
        long_text("value"),
        text("model_type").not_null(),
        int("model_id").not_null(),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[Relation::belongs_to("field", "field", "field_id")],
    routes: Routes::None,
    ..ResourceDef::BASE
};
