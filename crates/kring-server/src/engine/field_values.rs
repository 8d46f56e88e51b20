//! Custom field values of a record: validated against the company's field definitions and
//! written in the record's transaction (`spec/cirqll.md` §5).
//!
//! Body shape: `"field_values": [{"field_id": 3, "value": "gold"}, …]`. Fields not mentioned keep
//! their value; `null` or `""` clears one.

use std::collections::HashMap;

use chrono::Utc;
use kring_core::Value;
use kring_core::custom_field;
use kring_core::i18n::Message;
use kring_core::schema::ColumnType;
use kring_core::validate::{Mode, ValidationErrors};
use sea_query::{Expr, ExprTrait, OnConflict, Query};
use serde_json::{Map, Value as Json};

use crate::db::Tx;
use crate::error::Error;
use crate::registry::ResourceDef;
use crate::tenant::Tenant;

/// A checked value for one field; `stored: None` clears it.
pub struct FieldValueInput {
    field_id: i64,
    stored: Option<String>,
}

/// What a write changed, for the activity log.
pub struct FieldValueChange {
    pub field_id: i64,
    pub old: Option<String>,
    pub new: Option<String>,
}

struct FieldDef {
    id: i64,
    name: String,
    ty: String,
    required: bool,
    /// `(id, value)` of a select or multiselect field's options.
    options: Vec<(i64, String)>,
}

impl FieldDef {
    fn has_options(&self) -> bool {
        matches!(self.ty.as_str(), "select" | "multiselect")
    }

    /// The option a client named by value or by id, as its value.
    fn option(&self, given: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(id, value)| value == given || id.to_string() == given)
            .map(|(_, value)| value.as_str())
    }

    /// Maps a checked select/multiselect value onto the field's options (`spec/cirqll.md` §5:
    /// a client may name an option by its value or its id; the value is stored).
    fn choose(&self, stored: String) -> Result<String, Message> {
        if !self.has_options() {
            return Ok(stored);
        }
        let invalid = || Message::new("validation.in");
        if self.ty == "select" {
            return self.option(&stored).map(str::to_string).ok_or_else(invalid);
        }
        let given: Vec<String> = serde_json::from_str(&stored).map_err(|_| invalid())?;
        let chosen = given
            .iter()
            .map(|g| self.option(g).map(|v| Json::String(v.to_string())))
            .collect::<Option<Vec<Json>>>()
            .ok_or_else(invalid)?;
        Ok(Json::Array(chosen).to_string())
    }
}

async fn fields_of(tx: &mut Tx, def: &ResourceDef, tenant: Tenant) -> Result<Vec<FieldDef>, Error> {
    let mut query = Query::select();
    query
        .columns(["id", "name", "type", "required"])
        .from("fields")
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("model").eq(def.name));
    let rows = tx
        .fetch(
            &query,
            &[
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Bool,
            ],
        )
        .await?;
    let mut fields: Vec<FieldDef> = rows
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [
                Value::Int(id),
                Value::Text(name),
                Value::Text(ty),
                Value::Bool(required),
            ] => Some(FieldDef {
                id: *id,
                name: name.clone(),
                ty: ty.clone(),
                required: *required,
                options: Vec::new(),
            }),
            _ => None,
        })
        .collect();
    let with_options: Vec<i64> = fields
        .iter()
        .filter(|f| f.has_options())
        .map(|f| f.id)
        .collect();
    if with_options.is_empty() {
        return Ok(fields);
    }
    let mut query = Query::select();
    query
        .columns(["field_id", "id", "value"])
        .from("field_options")
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("field_id").is_in(with_options));
    let options = tx
        .fetch(
            &query,
            &[ColumnType::Int, ColumnType::Int, ColumnType::Text],
        )
        .await?;
    for row in options {
        if let [Value::Int(field_id), Value::Int(id), Value::Text(value)] = row.as_slice()
            && let Some(field) = fields.iter_mut().find(|f| f.id == *field_id)
        {
            field.options.push((*id, value.clone()));
        }
    }
    Ok(fields)
}

/// Checks `body["field_values"]`, adding problems to `errors` under `field_values.N.…`.
pub async fn validate(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    body: &Map<String, Json>,
    mode: Mode,
    errors: &mut ValidationErrors,
) -> Result<Vec<FieldValueInput>, Error> {
    if !def.custom_fields {
        return Ok(Vec::new());
    }
    let items: &[Json] = match body.get("field_values") {
        None | Some(Json::Null) => &[],
        Some(Json::Array(items)) => items,
        Some(_) => {
            errors.add("field_values", Message::new("validation.array"));
            return Ok(Vec::new());
        }
    };
    if items.is_empty() && mode == Mode::Update {
        return Ok(Vec::new());
    }
    let fields = fields_of(tx, def, tenant).await?;
    let mut inputs: Vec<FieldValueInput> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = |key: &str| format!("field_values.{i}.{key}");
        let Some(item) = item.as_object() else {
            errors.add(
                format!("field_values.{i}"),
                Message::new("validation.array"),
            );
            continue;
        };
        let field_id = match item.get("field_id") {
            None | Some(Json::Null) => {
                errors.add(path("field_id"), Message::new("validation.required"));
                continue;
            }
            Some(raw) => match kring_core::validate::coerce(ColumnType::Int, raw) {
                Some(Value::Int(id)) => id,
                _ => {
                    errors.add(path("field_id"), Message::new("validation.integer"));
                    continue;
                }
            },
        };
        let Some(field) = fields.iter().find(|f| f.id == field_id) else {
            errors.add(path("field_id"), Message::new("validation.exists"));
            continue;
        };
        if inputs.iter().any(|input| input.field_id == field_id) {
            errors.add(path("field_id"), Message::new("validation.distinct"));
            continue;
        }
        match custom_field::check(&field.ty, item.get("value").unwrap_or(&Json::Null)) {
            Ok(None) if field.required => {
                errors.add(
                    path("value"),
                    Message::new("validation.required").with("attribute", field.name.clone()),
                );
            }
            Ok(stored) => match stored.map(|s| field.choose(s)).transpose() {
                Ok(stored) => inputs.push(FieldValueInput { field_id, stored }),
                Err(message) => errors.add(path("value"), message),
            },
            Err(message) => errors.add(path("value"), message),
        }
    }
    if mode == Mode::Create {
        for field in fields.iter().filter(|f| f.required) {
            if !inputs.iter().any(|input| input.field_id == field.id) && !errors.has("field_values")
            {
                errors.add(
                    "field_values",
                    Message::new("validation.required").with("attribute", field.name.clone()),
                );
            }
        }
    }
    Ok(inputs)
}

/// Writes checked values for record `id`: one upsert for the values, one delete for the cleared.
pub async fn write(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    id: i64,
    inputs: &[FieldValueInput],
) -> Result<Vec<FieldValueChange>, Error> {
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = Query::select();
    query
        .columns(["field_id", "value"])
        .from("field_values")
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("model_type").eq(def.name))
        .and_where(Expr::col("model_id").eq(id));
    let existing: HashMap<i64, Option<String>> = tx
        .fetch(&query, &[ColumnType::Int, ColumnType::Text])
        .await?
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [Value::Int(field_id), Value::Text(v)] => Some((*field_id, Some(v.clone()))),
            [Value::Int(field_id), Value::Null] => Some((*field_id, None)),
            _ => None,
        })
        .collect();

    let changes: Vec<FieldValueChange> = inputs
        .iter()
        .map(|input| FieldValueChange {
            field_id: input.field_id,
            old: existing.get(&input.field_id).cloned().flatten(),
            new: input.stored.clone(),
        })
        .filter(|change| change.old != change.new)
        .collect();

    let now = Utc::now();
    let upserts: Vec<&FieldValueChange> = changes.iter().filter(|c| c.new.is_some()).collect();
    if !upserts.is_empty() {
        let mut insert = Query::insert();
        insert
            .into_table("field_values")
            .columns([
                "company_id",
                "field_id",
                "model_type",
                "model_id",
                "value",
                "created_at",
                "updated_at",
            ])
            .on_conflict(
                OnConflict::columns(["model_type", "model_id", "field_id"])
                    .update_columns(["value", "updated_at"])
                    .to_owned(),
            );
        for change in &upserts {
            insert
                .values([
                    Expr::val(tenant.company_id),
                    Expr::val(change.field_id),
                    Expr::val(def.name),
                    Expr::val(id),
                    Expr::val(change.new.clone()),
                    Expr::val(now),
                    Expr::val(now),
                ])
                .map_err(|e| Error::Internal(format!("field value statement: {e}")))?;
        }
        tx.execute(&insert).await?;
    }
    let cleared: Vec<i64> = changes
        .iter()
        .filter(|c| c.new.is_none())
        .map(|c| c.field_id)
        .collect();
    if !cleared.is_empty() {
        let mut delete = Query::delete();
        delete
            .from_table("field_values")
            .and_where(Expr::col("company_id").eq(tenant.company_id))
            .and_where(Expr::col("model_type").eq(def.name))
            .and_where(Expr::col("model_id").eq(id))
            .and_where(Expr::col("field_id").is_in(cleared));
        tx.execute(&delete).await?;
    }
    Ok(changes)
}
