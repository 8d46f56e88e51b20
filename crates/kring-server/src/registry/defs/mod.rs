//! One small file per resource (`spec/cirqll.md` §6). Where §6 says INFERRED, the choice is
//! recorded in `docs/decisions.md`.

use kring_core::schema::{Column, int, timestamp};

pub mod activity_log;
pub mod address;
pub mod appointment;
pub mod assignment;
pub mod chance;
pub mod company;
pub mod contact;
pub mod contract;
pub mod customer;
pub mod customer_permission;
pub mod email;
pub mod field;
pub mod field_option;
pub mod field_value;
pub mod media;
pub mod note;
pub mod origin;
pub mod permission;
pub mod role;
pub mod setting;
pub mod subtask;
pub mod task;
pub mod template;
pub mod template_item;
pub mod todo;
pub mod user;
pub mod webhook;

pub const CREATED_AT: Column = timestamp("created_at").not_null();
pub const UPDATED_AT: Column = timestamp("updated_at").not_null();

/// `user_id`: the owning user, the caller unless the body names another of the company.
pub const fn owner() -> Column {
    int("user_id").writable().references("users")
}

/// An optional reference, detached when its target is deleted.
pub const fn optional(name: &'static str, table: &'static str) -> Column {
    int(name).writable().references(table)
}

/// A required reference; the record is deleted with its target.
pub const fn mandatory(name: &'static str, table: &'static str) -> Column {
    int(name).required().references(table)
}
