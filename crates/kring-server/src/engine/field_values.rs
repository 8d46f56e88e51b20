//! Custom field values of a record: validated against the company's field definitions and
//! written in the record's transaction (`spec/cirqll.md` §5).
//!
//! Body shape: `"field_values": [{"field_id": 3, "value": "gold"}, …]`. Fields not mentioned keep
//! their value; `null` or `""` clears one.

use std::collections::HashMap;

use chrono::Utc;
use kring_core::Value;
use kring_core::custom_field::{self, StoredFile};
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
    field_type: String,
    stored: Option<String>,
}

/// Files a request itself uploaded for a record's file fields, as `(field id, file)`: the only
/// files a file value may name besides those its field already holds. A client's JSON body
/// cannot name one, so only the dialect that takes uploads hands them on.
pub type Uploads<'a> = &'a [(i64, StoredFile)];

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

/// Where a write's values go: the record (`None` before it exists) and the files the request
/// uploaded for it.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub record: Option<i64>,
    pub uploads: Uploads<'a>,
}

/// Checks `body["field_values"]`, adding problems to `errors` under `field_values.N.…`.
pub async fn validate(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    body: &Map<String, Json>,
    mode: Mode,
    target: Target<'_>,
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
    let current = match target.record {
        Some(id) if fields.iter().any(|f| f.ty == "file") => {
            current_values(tx, def, tenant, id).await?
        }
        _ => HashMap::new(),
    };
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
        let raw = item.get("value").unwrap_or(&Json::Null);
        let checked = if field.ty == "file" {
            let held = held_by(&current, target.uploads, field.id);
            custom_field::held_files(raw, &held).map(|files| custom_field::files_text(&files))
        } else {
            custom_field::check(&field.ty, raw)
        };
        match checked {
            Ok(None) if field.required => {
                errors.add(
                    path("value"),
                    Message::new("validation.required").with("attribute", field.name.clone()),
                );
            }
            Ok(stored) => match stored.map(|s| field.choose(s)).transpose() {
                Ok(stored) => inputs.push(FieldValueInput {
                    field_id,
                    field_type: field.ty.clone(),
                    stored,
                }),
                Err(message) => errors.add(path("value"), message),
            },
            Err(message) if field.ty == "file" => {
                errors.add(path("value"), message.with("attribute", field.name.clone()))
            }
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

/// The files a file field may name: those its value holds now and those the request uploaded.
fn held_by(
    current: &HashMap<i64, Option<String>>,
    uploads: Uploads<'_>,
    field_id: i64,
) -> Vec<StoredFile> {
    let now = current
        .get(&field_id)
        .and_then(Option::as_deref)
        .map(custom_field::stored_files)
        .unwrap_or_default();
    let uploaded = uploads
        .iter()
        .filter(|(field, _)| *field == field_id)
        .map(|(_, file)| file.clone());
    now.into_iter().chain(uploaded).collect()
}

/// Record `id`'s stored values by field id.
async fn current_values(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    id: i64,
) -> Result<HashMap<i64, Option<String>>, Error> {
    let mut query = Query::select();
    query
        .columns(["field_id", "value"])
        .from("field_values")
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("model_type").eq(def.name))
        .and_where(Expr::col("model_id").eq(id));
    Ok(tx
        .fetch(&query, &[ColumnType::Int, ColumnType::Text])
        .await?
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [Value::Int(field_id), Value::Text(v)] => Some((*field_id, Some(v.clone()))),
            [Value::Int(field_id), Value::Null] => Some((*field_id, None)),
            _ => None,
        })
        .collect())
}

/// Writes checked values for record `id`: one upsert for the values, one delete for the
/// cleared, and the release of the files a replaced file value held (their media rows go, and
/// with them, once committed, the files).
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
    let existing = current_values(tx, def, tenant, id).await?;

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
                "field_type",
                "created_at",
                "updated_at",
            ])
            .on_conflict(
                OnConflict::columns(["model_type", "model_id", "field_id"])
                    .update_columns(["value", "updated_at"])
                    .to_owned(),
            );
        for change in &upserts {
            let field_type = inputs
                .iter()
                .find(|input| input.field_id == change.field_id)
                .map(|input| input.field_type.as_str());
            insert
                .values([
                    Expr::val(tenant.company_id),
                    Expr::val(change.field_id),
                    Expr::val(def.name),
                    Expr::val(id),
                    Expr::val(change.new.clone()),
                    Expr::val(field_type.unwrap_or("text")),
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
        let mut delete = rows_of_record("field_values", def, tenant, id);
        delete.and_where(Expr::col("field_id").is_in(cleared));
        tx.execute(&delete).await?;
    }
    release_files(tx, def, tenant, id, inputs, &changes).await?;
    Ok(changes)
}

/// Deletes the media rows of the files that changed file values no longer hold.
async fn release_files(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    id: i64,
    inputs: &[FieldValueInput],
    changes: &[FieldValueChange],
) -> Result<(), Error> {
    let files_of = |text: &Option<String>| {
        text.as_deref()
            .map(custom_field::stored_files)
            .unwrap_or_default()
    };
    let released: Vec<String> = changes
        .iter()
        .filter(|change| {
            inputs
                .iter()
                .any(|i| i.field_id == change.field_id && i.field_type == "file")
        })
        .flat_map(|change| {
            let kept = files_of(&change.new);
            files_of(&change.old)
                .into_iter()
                .filter(move |file| !kept.contains(file))
                .map(|file| file.uuid)
        })
        .collect();
    if released.is_empty() {
        return Ok(());
    }
    let mut delete = rows_of_record("media", def, tenant, id);
    delete.and_where(Expr::col("uuid").is_in(released));
    tx.execute(&delete).await?;
    Ok(())
}

/// A delete of the rows of `table` that belong to record `id` of `def` (its field values, its
/// media), narrowed further by the caller.
fn rows_of_record(
    table: &str,
    def: &ResourceDef,
    tenant: Tenant,
    id: i64,
) -> sea_query::DeleteStatement {
    let mut delete = Query::delete();
    delete
        .from_table(sea_query::Alias::new(table))
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("model_type").eq(def.name))
        .and_where(Expr::col("model_id").eq(id));
    delete
}
