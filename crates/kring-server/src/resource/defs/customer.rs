//! Customer: `spec/cirqll.md` §6.1 (VERIFIED from the seed), keys in the seed's order.

use kring_core::schema::{Column, boolean, long_text, text, timestamp};

use crate::resource::{Relation, ResourceDef, Routes};

pub static CUSTOMER: ResourceDef = ResourceDef {
    name: "customer",
    table: "customers",
    columns: &[
        Column::id(),
        kring_core::schema::int("user_id")
            .writable()
            .references("users"),
        text("name").required(),
        long_text("description").writable(),
        text("coc").writable(),
        text("email").writable().email(),
        text("phone").writable(),
        timestamp("next_contact").writable(),
        boolean("show_on_map").writable(),
        timestamp("created_at").not_null(),
        timestamp("updated_at").not_null(),
        long_text("next_contact_note").writable(),
    ],
    owner: Some("user_id"),
    custom_fields: true,
    relations: &[Relation::FIELD_VALUES],
    routes: Routes::Crud,
    tenant: true,
};
