//! Note (`spec/cirqll.md` §6.12): free text on a customer, contact or another record. Each record
//! kind it can sit on has its own nullable reference, so notes are eager-loadable from every side
//! and are deleted with any record they sit on.

use kring_core::schema::{Column, long_text};

use super::{CREATED_AT, UPDATED_AT, optional, owner};
use crate::registry::{Relation, ResourceDef};

pub static NOTE: ResourceDef = ResourceDef {
    name: "note",
    table: "notes",
    columns: &[
        Column::id(),
        owner(),
        optional("customer_id", "customers").cascade(),
        optional("contact_id", "contacts").cascade(),
        optional("task_id", "tasks").cascade(),
        optional("appointment_id", "appointments").cascade(),
        optional("chance_id", "chances").cascade(),
        optional("assignment_id", "assignments").cascade(),
        optional("contract_id", "contracts").cascade(),
        long_text("content").required(),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::belongs_to("customer", "customer", "customer_id"),
        Relation::belongs_to("contact", "contact", "contact_id"),
        Relation::belongs_to("task", "task", "task_id"),
        Relation::belongs_to("appointment", "appointment", "appointment_id"),
        Relation::belongs_to("chance", "chance", "chance_id"),
        Relation::belongs_to("assignment", "assignment", "assignment_id"),
        Relation::belongs_to("contract", "contract", "contract_id"),
        Relation::ACTIVITY_LOG,
    ],
    owner: Some("user_id"),
    ..ResourceDef::BASE
};
