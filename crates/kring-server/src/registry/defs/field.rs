//! Field: a custom field definition (`spec/cirqll.md` §6.11). `model` names the resource whose
//! records carry it; `type` is one of [`FIELD_TYPES`]; select types have `options`, written
//! through the field's body.

use kring_core::custom_field::FIELD_TYPES;
use kring_core::schema::{Column, ColumnType, Default, Fill, boolean, int, long_text, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef};

pub static FIELD: ResourceDef = ResourceDef {
    name: "field",
    table: "fields",
    columns: &[
        Column::id(),
        text("name").required(),
        // Fixed: the values already stored were checked against them.
        text("type").required().one_of(FIELD_TYPES).fixed(),
        text("model")
            .required()
            .one_of_computed(crate::registry::models_with_fields)
            .fixed(),
        boolean("required").writable(),
        int("position").writable().not_null(),
        CREATED_AT,
        UPDATED_AT,
        // What ManageIt's configuration adds (`spec/manageit.md` §2.6, §6.2); Cirqll does not
        // show these keys.
        int("user_id").references("users").hidden(),
        // ManageIt's `key`: unique in the company, made from the name when none is sent.
        text("field_key")
            .writable()
            .unique()
            .filled(Fill::KeyOf("name"))
            .hidden(),
        long_text("description").writable().hidden(),
        text("placeholder").writable().hidden(),
        int("location")
            .writable()
            .not_null()
            .default(Default::Int(3))
            .hidden(),
        text("field_group").writable().filled(Fill::Uuid).hidden(),
        // The file configuration (ManageIt's `fileConfig`), shown in both dialects: the
        // accepted format labels, a JSON list as the client wrote them; several files or one;
        // at most how many (0: no limit but the request's).
        Column::new("accept_file", ColumnType::Json).writable(),
        boolean("allow_multiple").writable(),
        int("max_files").writable().not_null(),
    ],
    relations: &[Relation::has_many("options", "field_option", "field_id")],
    owner: Some("user_id"),
    nested: &["options"],
    ..ResourceDef::BASE
};
