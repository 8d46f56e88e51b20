//! Email (`spec/cirqll.md` §6.10): a message sent to or received from a customer or contact.

use kring_core::schema::{Column, long_text, text, timestamp};

use super::{CREATED_AT, UPDATED_AT, optional, owner};
use crate::registry::{Relation, ResourceDef};

pub static EMAIL: ResourceDef = ResourceDef {
    name: "email",
    table: "emails",
    columns: &[
        Column::id(),
        owner(),
        optional("customer_id", "customers"),
        optional("contact_id", "contacts"),
        text("subject").required(),
        long_text("body").writable(),
        text("from").writable().email(),
        long_text("to").writable(),
        long_text("cc").writable(),
        long_text("bcc").writable(),
        timestamp("sent_at").writable(),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::belongs_to("customer", "customer", "customer_id"),
        Relation::belongs_to("contact", "contact", "contact_id"),
        Relation::ACTIVITY_LOG,
        Relation::MEDIA,
    ],
    owner: Some("user_id"),
    ..ResourceDef::BASE
};
