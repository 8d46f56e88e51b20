//! Field: a custom field definition (`spec/cirqll.md` §6.11). `model` names the resource whose
//! records carry it; `type` is one of [`FIELD_TYPES`].

use kring_core::custom_field::FIELD_TYPES;
use kring_core::schema::{Column, boolean, int, text, timestamp};

use crate::resource::{ResourceDef, Routes};

/// Resources whose records can carry custom field values.
pub const MODELS_WITH_FIELDS: &[&str] = &["customer"];

pub static FIELD: ResourceDef = ResourceDef {
    name: "field",
    table: "fields",
    columns: &[
        Column::id(),
        text("name").required(),
        text("type").required().one_of(FIELD_TYPES),
        text("model").required().one_of(MODELS_WITH_FIELDS),
        boolean("required").writable(),
        int("position").writable().not_null(),
        timestamp("created_at").not_null(),
        timestamp("updated_at").not_null(),
    ],
    owner: None,
    custom_fields: false,
    relations: &[],
    routes: Routes::Crud,
    tenant: true,
};
