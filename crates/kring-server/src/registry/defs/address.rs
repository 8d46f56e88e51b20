//! Address (`spec/cirqll.md` §6.17), of a company or a customer.

use kring_core::schema::{Column, float, int, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef, Routes};

pub static ADDRESS: ResourceDef = ResourceDef {
    name: "address",
    table: "addresses",
    columns: &[
        Column::id(),
        int("company_id").not_null(),
        text("street"),
        text("house_number"),
        text("postal_code"),
        text("city"),
        text("country"),
        float("latitude"),
        float("longitude"),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[Relation::belongs_to("company", "company", "company_id")],
    routes: Routes::None,
    ..ResourceDef::BASE
};
