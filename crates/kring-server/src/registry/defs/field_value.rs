//! FieldValue (`spec/cirqll.md` §5): one record's value for one custom field, written through
//! the record's `field_values`.

use kring_core::Value;
use kring_core::custom_field;
use kring_core::schema::{Column, int, long_text, text};
use serde_json::{Map, Value as Json};

use super::{CREATED_AT, UPDATED_AT};
use crate::registry::{Relation, ResourceDef, Routes};

pub static FIELD_VALUE: ResourceDef = ResourceDef {
    name: "field_value",
    table: "field_values",
    columns: &[
        Column::id(),
        int("field_id").not_null(),
        long_text("value"),
        text("model_type").not_null(),
        int("model_id").not_null(),
        CREATED_AT,
        UPDATED_AT,
        // The field's type, written with the value (a field's type never changes).
        text("field_type").not_null().hidden(),
    ],
    relations: &[Relation::belongs_to("field", "field", "field_id")],
    routes: Routes::None,
    present: Some(in_fields_type),
    ..ResourceDef::BASE
};

/// The value in its field's type (`custom_field::present`).
fn in_fields_type(def: &ResourceDef, record: &[Value], json: &mut Map<String, Json>) {
    let cell = |name: &str| def.position(name).and_then(|i| record.get(i));
    if let (Some(Value::Text(ty)), Some(Value::Text(stored))) = (cell("field_type"), cell("value"))
    {
        json.insert("value".into(), custom_field::present(ty, stored));
    }
}
