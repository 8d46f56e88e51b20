//! Chance (`spec/cirqll.md` §6.8): a sales opportunity ("kans"). `chance` is the probability in
//! percent.

use kring_core::schema::{Column, Default, date, float, int, long_text, text};

use super::{CREATED_AT, UPDATED_AT, optional, owner};
use crate::registry::{Relation, ResourceDef};

pub const CHANCE_STATUSES: &[&str] = &["open", "won", "lost"];

pub static CHANCE: ResourceDef = ResourceDef {
    name: "chance",
    table: "chances",
    columns: &[
        Column::id(),
        owner(),
        optional("customer_id", "customers"),
        optional("contact_id", "contacts"),
        text("name").required(),
        long_text("description").writable(),
        float("price").writable(),
        int("chance").writable().range(0, 100),
        text("status")
            .writable()
            .not_null()
            .one_of(CHANCE_STATUSES)
            .default(Default::Text("open")),
        date("expected_date").writable(),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::belongs_to("customer", "customer", "customer_id"),
        Relation::belongs_to("contact", "contact", "contact_id"),
        Relation::has_many("contracts", "contract", "chance_id"),
        Relation::has_many("assignments", "assignment", "chance_id"),
        Relation::has_many("notes", "note", "chance_id"),
        Relation::FIELD_VALUES,
        Relation::ACTIVITY_LOG,
    ],
    owner: Some("user_id"),
    custom_fields: true,
    ..ResourceDef::BASE
};
