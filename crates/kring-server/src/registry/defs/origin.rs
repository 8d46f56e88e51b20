//! Origin (`spec/cirqll.md` §6.17): where a customer came from (lead source).

use kring_core::schema::{Column, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{ResourceDef, Routes};

pub static ORIGIN: ResourceDef = ResourceDef {
    name: "origin",
    table: "origins",
    columns: &[
        Column::id(),
        text("name").not_null(),
        CREATED_AT,
        UPDATED_AT,
    ],
    routes: Routes::None,
    ..ResourceDef::BASE
};
