//! Appointment (`spec/cirqll.md` §6.7).

use kring_core::schema::{Column, boolean, long_text, text, timestamp};

use super::{CREATED_AT, UPDATED_AT, optional, owner};
use crate::registry::{Relation, ResourceDef};

pub static APPOINTMENT: ResourceDef = ResourceDef {
    name: "appointment",
    table: "appointments",
    columns: &[
        Column::id(),
        owner(),
        optional("customer_id", "customers"),
        optional("contact_id", "contacts"),
        text("name").required(),
        long_text("description").writable(),
        text("location").writable(),
        timestamp("start_date").required(),
        timestamp("end_date").writable(),
        boolean("all_day").writable(),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::belongs_to("customer", "customer", "customer_id"),
        Relation::belongs_to("contact", "contact", "contact_id"),
        Relation::has_many("notes", "note", "appointment_id"),
        Relation::FIELD_VALUES,
        Relation::ACTIVITY_LOG,
    ],
    owner: Some("user_id"),
    custom_fields: true,
    ..ResourceDef::BASE
};
