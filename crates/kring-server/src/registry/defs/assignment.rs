//! Assignment (`spec/cirqll.md` §6.9): a job or order ("opdracht"), priced like a contract.

use kring_core::schema::{Column, Default, float, int, long_text, text, timestamp};

use super::contract::PRICE_TYPES;
use super::{CREATED_AT, UPDATED_AT, optional, owner};
use crate::registry::{Relation, ResourceDef};

pub const ASSIGNMENT_STATUSES: &[&str] = &["open", "in_progress", "done", "cancelled"];

pub static ASSIGNMENT: ResourceDef = ResourceDef {
    name: "assignment",
    table: "assignments",
    columns: &[
        Column::id(),
        owner(),
        optional("customer_id", "customers"),
        optional("contact_id", "contacts"),
        optional("chance_id", "chances"),
        text("name").required(),
        long_text("description").writable(),
        float("price").writable(),
        int("price_type")
            .writable()
            .not_null()
            .range(1, PRICE_TYPES)
            .default(Default::Int(1)),
        timestamp("start_date").writable(),
        timestamp("end_date").writable(),
        text("status")
            .writable()
            .not_null()
            .one_of(ASSIGNMENT_STATUSES)
            .default(Default::Text("open")),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::belongs_to("customer", "customer", "customer_id"),
        Relation::belongs_to("contact", "contact", "contact_id"),
        Relation::belongs_to("chance", "chance", "chance_id"),
        Relation::has_many("notes", "note", "assignment_id"),
        Relation::FIELD_VALUES,
        Relation::ACTIVITY_LOG,
    ],
    owner: Some("user_id"),
    custom_fields: true,
    ..ResourceDef::BASE
};
