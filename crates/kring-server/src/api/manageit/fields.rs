//! ManageIt custom fields: the company's customer fields (Cirqll `field` records with
//! `model = customer`) in the seed's shape, and `/api/custom-fields` to read and change them.

use kring_core::Value;
use kring_core::i18n::Message;
use kring_core::manageit::{FieldConfig, type_id, type_name};
use kring_core::schema::ColumnType;
use kring_core::validate::ValidationErrors;
use sea_query::{Expr, ExprTrait, Order};
use serde_json::{Map, Value as Json, json};

use crate::db::{Reader, dialect};
use crate::engine::scoped_select;
use crate::error::Error;
use crate::registry::ResourceDef;
use crate::registry::defs::field::FIELD;
use crate::tenant::Tenant;

/// A customer field with everything either dialect shows of it.
#[derive(Debug, Clone)]
pub struct CustomField {
    record: Vec<Value>,
    pub options: Vec<String>,
}

/// A record's value by column name, as the resource description orders them.
pub fn column<'a>(def: &ResourceDef, record: &'a [Value], name: &str) -> &'a Value {
    def.position(name)
        .and_then(|i| record.get(i))
        .unwrap_or(&Value::Null)
}

pub fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Text(s) => Some(s.clone()),
        _ => None,
    }
}

impl CustomField {
    fn get(&self, name: &str) -> &Value {
        column(&FIELD, &self.record, name)
    }

    pub fn id(&self) -> i64 {
        self.get("id").as_int().unwrap_or(0)
    }

    fn ty(&self) -> String {
        text_of(self.get("type")).unwrap_or_default()
    }

    /// The accepted format labels; the column holds a JSON list (the engine stores nothing
    /// else there), of which only the strings count.
    fn accept(&self) -> Option<Vec<String>> {
        let stored = text_of(self.get("accept_file"))?;
        let labels: Vec<Json> = serde_json::from_str(&stored).ok()?;
        Some(
            labels
                .into_iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect(),
        )
    }

    /// What the validation of a customer needs to know of this field.
    pub fn config(&self) -> FieldConfig {
        FieldConfig {
            id: self.id(),
            name: text_of(self.get("name")).unwrap_or_default(),
            ty: self.ty(),
            required: matches!(self.get("required"), Value::Bool(true)),
            options: self.options.clone(),
            accept: self.accept().unwrap_or_default(),
            allow_multiple: matches!(self.get("allow_multiple"), Value::Bool(true)),
            max_files: self.get("max_files").as_int().unwrap_or(0),
        }
    }

    /// The seed's shape (`spec/manageit.md` §6.2), `required` added where the configuration
    /// endpoint shows it (§2.6).
    pub fn to_json(&self, with_required: bool) -> Map<String, Json> {
        let ty = self.ty();
        let options = (!self.options.is_empty()).then(|| json!(self.options));
        let file_config = (ty == "file").then(|| {
            json!({
                "acceptFile": self.accept().unwrap_or_default(),
                "allowMultiple": self.get("allow_multiple").to_json(),
                "maxFiles": self.get("max_files").to_json(),
            })
        });
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id()));
        out.insert("user_id".into(), self.get("user_id").to_json());
        out.insert("location".into(), self.get("location").to_json());
        out.insert("type".into(), json!(type_id(&ty)));
        out.insert("name".into(), self.get("name").to_json());
        out.insert("key".into(), self.get("field_key").to_json());
        if with_required {
            out.insert("required".into(), self.get("required").to_json());
        }
        out.insert("description".into(), self.get("description").to_json());
        out.insert("placeholder".into(), self.get("placeholder").to_json());
        out.insert(
            "fields".into(),
            json!({ "options": options, "fileConfig": file_config }),
        );
        out.insert("group".into(), self.get("field_group").to_json());
        out.insert("created_at".into(), self.get("created_at").to_json());
        out.insert("updated_at".into(), self.get("updated_at").to_json());
        out
    }
}

/// The company's customer fields, by id, each with its options in their order: one statement.
pub async fn customer_fields(
    reader: &mut Reader<'_>,
    tenant: Tenant,
    only: Option<i64>,
) -> Result<Vec<CustomField>, Error> {
    let options = dialect::json_list(reader.backend(), "o.value", "o.position, o.id");
    let mut query = scoped_select(&FIELD, tenant);
    query
        .expr(Expr::cust(format!(
            "(SELECT {options} FROM field_options o WHERE o.company_id = {table}.company_id \
             AND o.field_id = {table}.id)",
            table = FIELD.table
        )))
        .and_where(Expr::col((FIELD.table, "model")).eq("customer"))
        .order_by((FIELD.table, "id"), Order::Asc);
    if let Some(id) = only {
        query.and_where(Expr::col((FIELD.table, "id")).eq(id));
    }
    let mut types = FIELD.types();
    types.push(ColumnType::Text);
    let fields = reader
        .fetch(&query, &types)
        .await?
        .into_iter()
        .map(|mut record| {
            let listed = record.pop().as_ref().and_then(text_of).unwrap_or_default();
            let options: Vec<String> = serde_json::from_str::<Vec<Json>>(&listed)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|o| o.as_str().map(String::from))
                .collect();
            CustomField { record, options }
        })
        .collect();
    Ok(fields)
}

/// A `/api/custom-fields` body as the Cirqll field body the engine writes: `type` as a number,
/// `key`, `fields.options` and `fields.fileConfig` under their column names.
pub fn field_body(input: &Map<String, Json>, creating: bool) -> Result<Map<String, Json>, Error> {
    let mut errors = ValidationErrors::default();
    let mut body = Map::new();
    if creating {
        body.insert("model".into(), json!("customer"));
    }
    if let Some(ty) = input.get("type") {
        let id = match ty {
            Json::Number(n) => n.as_i64(),
            Json::String(s) => s.parse().ok(),
            _ => None,
        };
        match id.and_then(type_name) {
            Some(name) => {
                body.insert("type".into(), json!(name));
            }
            None if ty.is_null() => {}
            None => errors.add("type", Message::new("validation.in")),
        }
    }
    for (from, to) in [
        ("name", "name"),
        ("key", "field_key"),
        ("required", "required"),
        ("description", "description"),
        ("placeholder", "placeholder"),
        ("location", "location"),
    ] {
        if let Some(value) = input.get(from) {
            body.insert(to.into(), value.clone());
        }
    }
    let settings = input.get("fields").and_then(Json::as_object);
    if let Some(options) = settings.and_then(|f| f.get("options")) {
        match options {
            Json::Null => {
                body.insert("options".into(), json!([]));
            }
            Json::Array(items) if items.iter().all(|i| i.is_string() || i.is_null()) => {
                let values: Vec<Json> = items
                    .iter()
                    .filter_map(Json::as_str)
                    .map(|v| json!({ "value": v }))
                    .collect();
                body.insert("options".into(), Json::Array(values));
            }
            _ => errors.add("fields.options", Message::new("validation.array")),
        }
    }
    if let Some(config) = settings.and_then(|f| f.get("fileConfig")) {
        file_config(config, &mut body, &mut errors);
    }
    if errors.is_empty() {
        Ok(body)
    } else {
        Err(Error::Validation(errors))
    }
}

fn file_config(config: &Json, body: &mut Map<String, Json>, errors: &mut ValidationErrors) {
    let Some(config) = config.as_object() else {
        if !config.is_null() {
            errors.add("fields.fileConfig", Message::new("validation.array"));
        }
        return;
    };
    match config.get("acceptFile") {
        None => {}
        Some(Json::Array(items)) if items.iter().all(Json::is_string) => {
            body.insert("accept_file".into(), Json::Array(items.clone()));
        }
        Some(Json::Null) => {
            body.insert("accept_file".into(), Json::Null);
        }
        Some(_) => errors.add(
            "fields.fileConfig.acceptFile",
            Message::new("validation.array"),
        ),
    }
    if let Some(multiple) = config.get("allowMultiple") {
        body.insert("allow_multiple".into(), multiple.clone());
    }
    if let Some(max) = config.get("maxFiles") {
        body.insert("max_files".into(), max.clone());
    }
}

/// The ManageIt name of a Cirqll field column, for errors the engine reports.
pub fn manageit_path(path: &str) -> String {
    let renamed = match path {
        "field_key" => "key",
        "accept_file" => "fields.fileConfig.acceptFile",
        "allow_multiple" => "fields.fileConfig.allowMultiple",
        "max_files" => "fields.fileConfig.maxFiles",
        other => {
            return match other.strip_prefix("options.") {
                Some(rest) => format!("fields.options.{}", rest.trim_end_matches(".value")),
                None => other.to_string(),
            };
        }
    };
    renamed.to_string()
}
