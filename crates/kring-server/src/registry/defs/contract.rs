//! Contract (`spec/cirqll.md` §6.5, VERIFIED: 18 of its 21 fields; `user_id`, `user` and
//! `field_values` complete it). `calculated_price` is the yearly value of `price` under
//! `price_type`.

use kring_core::Value;
use kring_core::schema::{Column, Default, float, int, long_text, text, timestamp};

use super::{CREATED_AT, UPDATED_AT, mandatory, owner};
use crate::registry::{Relation, ResourceDef};

/// `price_type`: 1 one-off, 2 monthly, 3 quarterly, 4 yearly.
pub const PRICE_TYPES: i64 = 4;

pub static CONTRACT: ResourceDef = ResourceDef {
    name: "contract",
    table: "contracts",
    columns: &[
        Column::id(),
        owner(),
        mandatory("customer_id", "customers"),
        mandatory("contact_id", "contacts"),
        mandatory("chance_id", "chances"),
        text("name").required(),
        long_text("description").writable(),
        float("price").required(),
        int("price_type")
            .writable()
            .not_null()
            .range(1, PRICE_TYPES)
            .default(Default::Int(1)),
        float("calculated_price"),
        timestamp("start_date").required(),
        timestamp("end_date").required(),
        timestamp("reminder_date").writable(),
        int("import_id").writable().range(0, i64::MAX),
        CREATED_AT,
        UPDATED_AT,
    ],
    relations: &[
        Relation::belongs_to("user", "user", "user_id"),
        Relation::belongs_to("customer", "customer", "customer_id"),
        Relation::belongs_to("contact", "contact", "contact_id"),
        Relation::belongs_to("chance", "chance", "chance_id"),
        Relation::has_many("notes", "note", "contract_id"),
        Relation::FIELD_VALUES,
        Relation::ACTIVITY_LOG,
    ],
    owner: Some("user_id"),
    custom_fields: true,
    derive: Some(calculated_price),
    ..ResourceDef::BASE
};

/// The yearly value: a one-off price counts once, monthly twelve times, quarterly four times.
fn calculated_price(def: &ResourceDef, record: &mut [Value]) {
    let get = |name: &str| def.position(name).and_then(|i| record.get(i).cloned());
    let price = match get("price") {
        Some(Value::Float(f)) => Some(f),
        // Prices are far inside f64's exact range (2^53).
        #[allow(clippy::as_conversions)]
        Some(Value::Int(i)) => Some(i as f64),
        _ => None,
    };
    let factor = match get("price_type") {
        Some(Value::Int(2)) => 12.0,
        Some(Value::Int(3)) => 4.0,
        _ => 1.0,
    };
    let derived = price.map_or(Value::Null, |p| {
        Value::Float((p * factor * 100.0).round() / 100.0)
    });
    if let Some(slot) = def
        .position("calculated_price")
        .and_then(|i| record.get_mut(i))
    {
        *slot = derived;
    }
}
