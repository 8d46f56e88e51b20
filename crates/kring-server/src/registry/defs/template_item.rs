//! TemplateItem: one step of a template, written only through the template body.
//! `offset_days` places it relative to the day the template is applied.

use kring_core::schema::{Column, Default, int, long_text, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef, Routes};

pub static TEMPLATE_ITEM: ResourceDef = ResourceDef {
    name: "template_item",
    table: "template_items",
    columns: &[
        Column::id(),
        int("template_id").not_null(),
        text("name").required(),
        long_text("description").writable(),
        int("position")
            .writable()
            .ordinal()
            .not_null()
            .default(Default::Int(0)),
        int("offset_days")
            .writable()
            .not_null()
            .range(-3650, 3650)
            .default(Default::Int(0)),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[Relation::belongs_to("template", "template", "template_id")],
    routes: Routes::None,
    ..ResourceDef::BASE
};
