//! Contact (`spec/cirqll.md` §6.2): a person. `customer_id` is the primary customer; the
//! many-to-many `customers` links further ones.

use kring_core::schema::{Column, long_text, text};

use super::{CREATED_AT, UPDATED_AT, optional, owner};
use crate::registry::{Link, Relation, ResourceDef};

pub static CONTACT: ResourceDef = ResourceDef {
    name: "contact",
    table: "contacts",
    columns: &[
        Column::id(),
        owner(),
        optional("customer_id", "customers"),
        text("first_name").required(),
        text("last_name").writable(),
        text("email").writable().email(),
        text("phone").writable(),
        text("mobile").writable(),
        text("function").writable(),
        long_text("description").writable(),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::belongs_to("customer", "customer", "customer_id"),
        Relation::many_to_many(
            "customers",
            "customer",
            "customer_contact",
            "contact_id",
            "customer_id",
        ),
        Relation::has_many("notes", "note", "contact_id"),
        Relation::has_many("tasks", "task", "contact_id"),
        Relation::has_many("appointments", "appointment", "contact_id"),
        Relation::has_many("chances", "chance", "contact_id"),
        Relation::has_many("emails", "email", "contact_id"),
        Relation::FIELD_VALUES,
        Relation::ACTIVITY_LOG,
    ],
    owner: Some("user_id"),
    custom_fields: true,
    links: &[Link {
        key: "customer_ids",
        relation: "customers",
        primary: Some("customer_id"),
    }],
    ..ResourceDef::BASE
};
