//! Company (`spec/cirqll.md` §6.17): the tenant. Read through `user.company`; its id is the
//! tenant key of every other table, so it has no `company_id` of its own.

use kring_core::schema::{Column, int, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef, Routes};

pub static COMPANY: ResourceDef = ResourceDef {
    name: "company",
    table: "companies",
    columns: &[
        Column::id(),
        text("name").not_null(),
        text("coc"),
        text("email"),
        text("phone"),
        int("address_id").references("addresses"),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("address", "address", "address_id"),
        Relation::has_many("users", "user", "company_id"),
    ],
    routes: Routes::None,
    tenant: false,
    ..ResourceDef::BASE
};
