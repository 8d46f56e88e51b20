//! User (`spec/cirqll.md` §6.3). The password is write-only: hashed on the way in, never
//! served. Emails are unique across companies, because they are the login.

use kring_core::schema::{Column, int, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef};

pub const LOCALES: &[&str] = &["en", "nl"];

pub static USER: ResourceDef = ResourceDef {
    name: "user",
    table: "users",
    columns: &[
        Column::id(),
        int("company_id").not_null(),
        int("role_id").required().references("roles").restrict(),
        text("name").required(),
        text("email").required().email().unique(),
        text("password").required().min(8).password(),
        text("phone").writable(),
        text("locale").writable().one_of(LOCALES),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("company", "company", "company_id"),
        Relation::belongs_to("role", "role", "role_id"),
        Relation::has_many("customers", "customer", "user_id"),
        Relation::has_many("contacts", "contact", "user_id"),
        Relation::has_many("tasks", "task", "user_id"),
        Relation::has_many("appointments", "appointment", "user_id"),
        Relation::has_many("chances", "chance", "user_id"),
        Relation::has_many("todos", "todo", "user_id"),
    ],
    // Creating users is inviting people (OWASP API6): ten a minute per user.
    create_quota: Some(10),
    own_record: true,
    shapes_principals: true,
    ..ResourceDef::BASE
};
