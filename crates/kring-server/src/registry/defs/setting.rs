//! Setting (`spec/cirqll.md` §6.15): one object per company, read with `GET /api/setting` and
//! changed with `PATCH /api/setting`. Every key is known and validated; unknown keys are refused.

use kring_core::schema::{Column, Default, int, text};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{ResourceDef, Routes};

pub const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN"];
pub const DATE_FORMATS: &[&str] = &["d-m-Y", "Y-m-d", "d/m/Y", "m/d/Y", "d.m.Y"];

pub static SETTING: ResourceDef = ResourceDef {
    name: "setting",
    table: "settings",
    columns: &[
        Column::id(),
        text("locale")
            .writable()
            .not_null()
            .one_of(super::user::LOCALES)
            .default(Default::Text("nl")),
        text("timezone")
            .writable()
            .not_null()
            .max(64)
            .default(Default::Text("Europe/Amsterdam")),
        text("currency")
            .writable()
            .not_null()
            .one_of(CURRENCIES)
            .default(Default::Text("EUR")),
        text("date_format")
            .writable()
            .not_null()
            .one_of(DATE_FORMATS)
            .default(Default::Text("d-m-Y")),
        int("week_starts_on")
            .writable()
            .not_null()
            .range(0, 6)
            .default(Default::Int(1)),
        int("default_task_days")
            .writable()
            .not_null()
            .range(0, 365)
            .default(Default::Int(7)),
        CREATED_AT,
        UPDATED_AT,
    ],
    routes: Routes::Singleton,
    shapes_principals: true,
    ..ResourceDef::BASE
};
