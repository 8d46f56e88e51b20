//! ManageIt customers: the seed's shape read from Kring's customers, and writes that keep every
//! row of a request (the customer, its field values, files and permissions) in one transaction.

use chrono::Utc;
use kring_core::Value;
use kring_core::custom_field::{self, StoredFile};
use kring_core::manageit::{
    CustomerInput, FieldInput, Limits, Photo, UploadedFile, permission_name, validate_customer,
};
use kring_core::query::View;
use kring_core::schema::ColumnType;
use kring_core::validate::Mode;
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{Map, Value as Json, json};

use super::fields::{CustomField, column, customer_fields};
use super::input::Input;
use crate::api::files::{FileFacts, FileKeys, Links, complete_files};
use crate::db::{Db, Reader, Tx};
use crate::engine::loader::{Load, Row, attach, load};
use crate::engine::write::{self, Beside};
use crate::engine::{self, by_id};
use crate::error::Error;
use crate::files::{self, NewMedia};
use crate::http::unit_of_work::UnitOfWork;
use crate::registry::defs::customer::CUSTOMER;
use crate::registry::defs::customer_permission::PERMISSIONS;
use crate::state::AppState;
use crate::tenant::Tenant;

/// The media collection of a customer's profile photo.
const PHOTO: &str = "profile_photo";

/// `business_information`'s keys and the customer columns behind them.
const BUSINESS: &[(&str, &str)] = &[
    ("company_name", "name"),
    ("company_phone", "company_phone"),
    ("company_email", "company_email"),
    ("company_website", "company_website"),
    ("address_1", "address_1"),
    ("address_2", "address_2"),
    ("country", "country"),
    ("city", "city"),
    ("state", "state"),
    ("zip_code", "zip_code"),
    ("fax", "fax"),
];

/// The names a ManageIt customer shows, and the columns behind them: what its `filter` and
/// `order_by` take, and what its activity log is shown in. Built once.
pub fn view() -> &'static View {
    static VIEW: std::sync::LazyLock<View> = std::sync::LazyLock::new(customer_view);
    &VIEW
}

fn customer_view() -> View {
    let person = [
        ("id", "id"),
        ("name", "first_name"),
        ("last_name", "last_name"),
        ("phone", "phone"),
        ("email", "email"),
        ("stripe_customer_flag", "stripe_customer_flag"),
    ];
    let business = BUSINESS
        .iter()
        .map(|(key, column)| (format!("business_information.{key}"), *column));
    View {
        names: person
            .iter()
            .map(|(name, column)| (name.to_string(), *column))
            .chain(business)
            .collect(),
        custom_fields: "custom_fields",
    }
}

/// What a response shows besides the record itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Lists and shows (`spec/manageit.md` §2.3: `permissions` right after `custom_fields`).
    Plain,
    /// A create: `notes` and `activity_log`, empty as the seed shows.
    Created,
    /// An update: the customer's activity log as it is now, and its notes when `notes` says
    /// the caller may read them.
    Updated { notes: bool },
}

/// What a ManageIt customer is read with beside its row, one statement per relation whatever
/// the number of customers: every field value, permission and file (the photo among them); on
/// an update's answer also its notes and activity log as Cirqll's `with` shows them.
pub fn loads(detail: Detail) -> Vec<Load> {
    let paged: &[&str] = match detail {
        Detail::Updated { notes: true } => &["notes", "activity_log"],
        Detail::Updated { notes: false } => &["activity_log"],
        Detail::Plain | Detail::Created => &[],
    };
    let whole = ["field_values", "media"]
        .into_iter()
        .filter_map(|name| CUSTOMER.relation(name))
        .chain([&PERMISSIONS])
        .map(|relation| (relation, true));
    let paged = paged
        .iter()
        .filter_map(|name| CUSTOMER.relation(name))
        .map(|relation| (relation, false));
    whole
        .chain(paged)
        .filter_map(|(relation, whole)| load(relation, whole))
        .collect()
}

/// Customers read with [`loads`]'s relations, in their order, shaped as the seed shows them.
pub fn shaped(rows: Vec<Row>, fields: &[CustomField], links: &Links) -> Vec<Map<String, Json>> {
    rows.into_iter()
        .map(|mut row| shape(&mut row, fields, links))
        .collect()
}

/// One customer as a write answers it: its row and each relation of [`loads`], one statement
/// each, and the company's fields.
pub async fn shaped_one(
    db: &Db,
    tenant: Tenant,
    id: i64,
    links: &Links,
    detail: Detail,
) -> Result<Json, Error> {
    let records = db
        .fetch(&by_id(&CUSTOMER, tenant, id), &CUSTOMER.types())
        .await?;
    let mut rows: Vec<Row> = records
        .into_iter()
        .map(|record| Row::new(&CUSTOMER, record, None))
        .collect();
    attach(db, &CUSTOMER, tenant, &mut rows, &loads(detail)).await?;
    let mut row = rows.pop().ok_or_else(|| engine::not_found(&CUSTOMER, id))?;
    let fields = customer_fields(&mut Reader::Db(db), tenant, None).await?;
    let mut customer = shape(&mut row, &fields, links);
    if detail != Detail::Plain {
        let mut activity = related(&mut row.json, "activity_log");
        let view = view();
        activity
            .iter_mut()
            .for_each(|entry| in_manageit_names(view, entry));
        let permissions = customer.remove("permissions").unwrap_or(json!({}));
        customer.insert("notes".into(), json!(related(&mut row.json, "notes")));
        customer.insert("activity_log".into(), json!(activity));
        customer.insert("permissions".into(), permissions);
    }
    Ok(json!({ "data": customer }))
}

/// The records a loaded relation holds, taken out of `json` (none when it was not loaded).
fn related(json: &mut Map<String, Json>, relation: &str) -> Vec<Json> {
    match json.remove(relation) {
        Some(Json::Object(mut envelope)) => match envelope.remove("data") {
            Some(Json::Array(records)) => records,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A customer row (read with [`loads`]) in the seed's shape; its fixed relations are taken out
/// of the row, the update's notes and activity stay.
fn shape(row: &mut Row, fields: &[CustomField], links: &Links) -> Map<String, Json> {
    let values = related(&mut row.json, "field_values");
    let granted = related(&mut row.json, PERMISSIONS.name);
    let media = related(&mut row.json, "media");
    let record = &row.record;
    let get = |name: &str| column(&CUSTOMER, record, name).to_json();
    let id = column(&CUSTOMER, record, "id").as_int().unwrap_or(0);
    let owner = get("user_id");
    let business: Map<String, Json> = BUSINESS
        .iter()
        .map(|(key, column)| (key.to_string(), get(column)))
        .collect();
    let custom_fields: Vec<Json> = fields
        .iter()
        .filter_map(|field| {
            let mine: Vec<Json> = values
                .iter()
                .filter(|v| v.get("field_id").and_then(Json::as_i64) == Some(field.id()))
                .map(|v| value_json(v, field, id, &owner))
                .collect();
            if mine.is_empty() {
                return None;
            }
            let mut shown = field.to_json(false);
            shown.insert("custom_field_values".into(), Json::Array(mine));
            Some(Json::Object(shown))
        })
        .collect();
    let permissions: Map<String, Json> = granted
        .iter()
        .filter_map(|p| p.get("permission_id").and_then(Json::as_i64))
        .filter_map(|p| Some((p.to_string(), json!(permission_name(p)?))))
        .collect();
    let text = |file: &Json, key: &str| file.get(key).and_then(Json::as_str).map(String::from);
    let photo = media
        .iter()
        .filter(|file| text(file, "collection_name").as_deref() == Some(PHOTO))
        .filter_map(|file| text(file, "uuid"))
        .next_back();
    let facts: FileFacts = media
        .iter()
        .filter_map(|file| {
            let size = file.get("size").and_then(Json::as_i64)?;
            Some((text(file, "uuid")?, (size, text(file, "mime_type"))))
        })
        .collect();
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("name".into(), get("first_name"));
    out.insert("last_name".into(), get("last_name"));
    out.insert("phone".into(), get("phone"));
    out.insert(
        "profile_photo_path".into(),
        photo
            .map(|uuid| json!(links.url(&uuid)))
            .unwrap_or(Json::Null),
    );
    out.insert("email".into(), get("email"));
    out.insert("stripe_customer_flag".into(), get("stripe_customer_flag"));
    out.insert("business_information".into(), Json::Object(business));
    let mut custom_fields = Json::Array(custom_fields);
    complete_files(&mut custom_fields, &facts, links, FileKeys::ManageIt);
    out.insert("custom_fields".into(), custom_fields);
    out.insert("permissions".into(), Json::Object(permissions));
    out
}

/// A loaded field value in the seed's shape (its value already in the field's type; a file
/// field's files are completed by [`complete_files`]).
fn value_json(value: &Json, field: &CustomField, customer: i64, owner: &Json) -> Json {
    let cell = |key: &str| value.get(key).cloned().unwrap_or(Json::Null);
    json!({
        "id": cell("id"),
        "owner_id": owner,
        "user_id": customer,
        "custom_field_id": field.id(),
        "value": cell("value"),
        "created_at": cell("created_at"),
        "updated_at": cell("updated_at"),
    })
}

/// An activity entry's changed attributes under the names this dialect shows (`first_name` is
/// `name`, `name` is `business_information.company_name`, `field_values.3` is
/// `custom_fields.3`); what it does not show keeps Cirqll's name.
fn in_manageit_names(view: &View, entry: &mut Json) {
    let Some(properties) = entry.get_mut("properties").and_then(Json::as_object_mut) else {
        return;
    };
    for part in ["attributes", "old"] {
        if let Some(Json::Object(changed)) = properties.get_mut(part) {
            *changed = std::mem::take(changed)
                .into_iter()
                .map(|(key, value)| (manageit_name(view, &key), value))
                .collect();
        }
    }
}

fn manageit_name(view: &View, key: &str) -> String {
    if let Some(id) = key.strip_prefix("field_values.") {
        return format!("{}.{id}", view.custom_fields);
    }
    view.names
        .iter()
        .find(|(_, column)| *column == key)
        .map(|(shown, _)| shown.clone())
        .unwrap_or_else(|| key.to_string())
}

/// The profile photos of customers `ids`, oldest first.
fn photo_query(tenant: Tenant, ids: &[i64]) -> sea_query::SelectStatement {
    let mut query = Query::select();
    query
        .columns(["model_id", "uuid"])
        .from("media")
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("model_type").eq("customer"))
        .and_where(Expr::col("collection_name").eq(PHOTO))
        .and_where(Expr::col("model_id").is_in(ids.to_vec()))
        .order_by("id", sea_query::Order::Asc);
    query
}

/// A client that PUTs back the customer it fetched sends the photo's download URL: that names
/// the photo the customer has, so it changes nothing (any other text is not an image).
async fn keep_echoed_photo(
    tx: &mut Tx,
    tenant: Tenant,
    id: i64,
    input: &mut Input,
) -> Result<(), Error> {
    let Some(Json::String(sent)) = input.values.get("profile_photo_path") else {
        return Ok(());
    };
    let rows = tx
        .fetch(
            &photo_query(tenant, &[id]),
            &[ColumnType::Int, ColumnType::Text],
        )
        .await?;
    let current = rows.last().and_then(|row| match row.as_slice() {
        [_, Value::Text(uuid)] => Some(uuid.clone()),
        _ => None,
    });
    let echoed = current.is_some_and(|uuid| kring_core::file_url::links_to(sent, &uuid));
    if echoed {
        input.values.remove("profile_photo_path");
    }
    Ok(())
}

/// Validates the input and writes the customer (new when `existing` is `None`) with its field
/// values, files and permissions, in one transaction; returns its id. The request's files are
/// put in place first; those the committed record does not name (all of them, when the write
/// fails) are removed again.
pub async fn write_customer(
    state: &AppState,
    work: &mut UnitOfWork<'_>,
    tenant: Tenant,
    input: &mut Input,
    existing: Option<i64>,
) -> Result<i64, Error> {
    let (kept, staged) = keep_staged(state, tenant, input).await;
    let written = match staged {
        Ok(()) => write_kept(state, work, tenant, input, existing).await,
        Err(e) => Err(e),
    };
    let unrecorded: Vec<String> = match written {
        Ok(_) => kept
            .into_iter()
            .filter(|key| input.take(key).is_some())
            .collect(),
        Err(_) => kept,
    };
    for key in &unrecorded {
        input.take(key);
        let _ = state.files.remove(tenant.company_id, key).await;
    }
    if written.is_ok() {
        state.files.wake_sweeper();
    }
    written
}

/// [`write_customer`]'s transaction, its files already in place.
async fn write_kept(
    state: &AppState,
    work: &mut UnitOfWork<'_>,
    tenant: Tenant,
    input: &mut Input,
    existing: Option<i64>,
) -> Result<i64, Error> {
    let mut tx = work.begin().await?;
    if let Some(id) = existing {
        let mut query = by_id(&CUSTOMER, tenant, id);
        query.lock(sea_query::LockType::Update);
        if tx.fetch(&query, &[ColumnType::Int]).await?.is_empty() {
            return Err(engine::not_found(&CUSTOMER, id));
        }
    }
    if let Some(id) = existing {
        keep_echoed_photo(&mut tx, tenant, id, input).await?;
    }
    let fields = customer_fields(&mut Reader::Tx(&mut tx), tenant, None).await?;
    let configs: Vec<_> = fields.iter().map(CustomField::config).collect();
    let mode = if existing.is_some() {
        Mode::Update
    } else {
        Mode::Create
    };
    let limits = Limits {
        file_kb: state.config.upload_file_limit.div_ceil(1024),
        photo_kb: PHOTO_KB,
        max_files: kring_core::form::Limits::default().max_files,
    };
    let checked = validate_customer(&input.values, &configs, mode, &limits, &|key| {
        input.kind(key)
    })
    .map_err(Error::Validation)?;
    let written = async {
        let collections = collections(&checked);
        // An update writes what Cirqll's customer does not hold first, so that the record's
        // own change (its activity entry, its event) can say all that changed.
        let id = match existing {
            Some(id) => {
                let before = replace_permissions_of(&mut tx, tenant, id, &checked).await?;
                record_files(&mut tx, tenant, input, id, &collections).await?;
                let beside = extras_changed(&checked, before.as_deref(), &collections);
                write_row(&mut tx, tenant, Some(id), &checked, &beside).await?
            }
            None => {
                let id = write_row(&mut tx, tenant, None, &checked, &Beside::default()).await?;
                replace_permissions_of(&mut tx, tenant, id, &checked).await?;
                record_files(&mut tx, tenant, input, id, &collections).await?;
                id
            }
        };
        Ok(id)
    }
    .await;
    match written {
        Ok(id) => work
            .commit(tx, existing.is_none().then_some(id))
            .await
            .map(|()| id),
        Err(e) => Err(e),
    }
}

/// The customer row and its field values, through the engine, with what the write changed
/// beside them; the customer's id.
async fn write_row(
    tx: &mut Tx,
    tenant: Tenant,
    existing: Option<i64>,
    checked: &CustomerInput,
    beside: &Beside,
) -> Result<i64, Error> {
    let (body, uploads) = engine_body(checked);
    match existing {
        None => write::store_with(tx, &CUSTOMER, tenant, &body, &uploads)
            .await
            .map(|(id, _)| id),
        Some(id) => write::update_with(tx, &CUSTOMER, tenant, id, &body, &uploads, beside)
            .await
            .map(|_| id),
    }
    .map_err(|e| manageit_errors(e, checked))
}

/// The media collections a request fills (a photo, a file field's files), each with the
/// uploads it now holds; an empty list clears one.
fn collections(checked: &CustomerInput) -> Vec<(String, Vec<UploadedFile>)> {
    let fields = checked
        .fields
        .iter()
        .filter_map(|(field_id, input)| match input {
            FieldInput::Files(list) => Some((format!("custom_field_{field_id}"), list.clone())),
            FieldInput::Value(_) => None,
        });
    let photo = match &checked.photo {
        Photo::Unchanged => None,
        Photo::New(photo) => Some((PHOTO.to_string(), vec![photo.clone()])),
        Photo::Removed => Some((PHOTO.to_string(), Vec::new())),
    };
    fields.chain(photo).collect()
}

/// The activity-log properties of what an update changed that Cirqll's customer does not
/// hold (permissions, a photo, files), if anything.
fn extras_changed(
    checked: &CustomerInput,
    permissions_before: Option<&[i64]>,
    collections: &[(String, Vec<UploadedFile>)],
) -> Beside {
    let mut attributes = Map::new();
    let mut old = Map::new();
    if let (Some(granted), Some(before)) = (&checked.permissions, permissions_before)
        && before != granted.as_slice()
    {
        old.insert("permissions".into(), permission_names(before));
        attributes.insert("permissions".into(), permission_names(granted));
    }
    for (collection, files) in collections {
        let names: Vec<String> = files
            .iter()
            .map(|f| files::display_name(&f.original_name))
            .collect();
        let key = match collection.strip_prefix("custom_field_") {
            Some(field_id) => format!("field_values.{field_id}"),
            None => "profile_photo".to_string(),
        };
        let shown = if key == "profile_photo" {
            json!(names.first())
        } else {
            json!(names)
        };
        attributes.insert(key, shown);
    }
    Beside { attributes, old }
}

/// Replaces the customer's permissions when the request names them; the ones it had then.
async fn replace_permissions_of(
    tx: &mut Tx,
    tenant: Tenant,
    customer: i64,
    checked: &CustomerInput,
) -> Result<Option<Vec<i64>>, Error> {
    match &checked.permissions {
        Some(granted) => Ok(Some(
            replace_permissions(tx, tenant, customer, granted).await?,
        )),
        None => Ok(None),
    }
}

/// Records each collection's uploads as the customer's media (replacing what the collection
/// held).
async fn record_files(
    tx: &mut Tx,
    tenant: Tenant,
    input: &mut Input,
    customer: i64,
    collections: &[(String, Vec<UploadedFile>)],
) -> Result<(), Error> {
    for (collection, files) in collections {
        files::forget(tx, tenant, "customer", customer, collection).await?;
        for file in files {
            record(tx, tenant, input, customer, collection, file).await?;
        }
    }
    Ok(())
}

/// Puts every file the request staged in place, before the write begins (see
/// [`files::FileStore::keep`]); the storage keys kept, all of them unless an error stopped it.
async fn keep_staged(
    state: &AppState,
    tenant: Tenant,
    input: &Input,
) -> (Vec<String>, Result<(), Error>) {
    let mut kept = Vec::new();
    for key in input.staged_keys() {
        let Some(staged) = input.staged(&key) else {
            continue;
        };
        let content_type = input.content_type(&key);
        if let Err(e) = state
            .files
            .keep(tenant.company_id, staged, content_type)
            .await
        {
            return (kept, Err(e));
        }
        kept.push(key);
    }
    (kept, Ok(()))
}

/// Jetstream's profile photo limit (`spec/manageit.md` §5.6): 1024 kilobytes.
const PHOTO_KB: u64 = 1024;

/// The Cirqll body of a checked request, its columns and its field values in their stored
/// form, and the files it uploads for its file fields (which those values name).
fn engine_body(checked: &CustomerInput) -> (Map<String, Json>, Vec<(i64, StoredFile)>) {
    let mut body = checked.columns.clone();
    let mut uploads = Vec::new();
    let values: Vec<Json> = checked
        .fields
        .iter()
        .map(|(field_id, input)| {
            let value = match input {
                FieldInput::Value(value) => json!(value),
                FieldInput::Files(list) => {
                    let files: Vec<StoredFile> = list
                        .iter()
                        .map(|f| StoredFile {
                            name: files::display_name(&f.original_name),
                            uuid: f.storage_key.clone(),
                        })
                        .collect();
                    let stored = custom_field::files_text(&files);
                    uploads.extend(files.into_iter().map(|file| (*field_id, file)));
                    json!(stored)
                }
            };
            json!({ "field_id": field_id, "value": value })
        })
        .collect();
    if !values.is_empty() {
        body.insert("field_values".into(), Json::Array(values));
    }
    (body, uploads)
}

/// Records one upload, kept before the transaction began, as the customer's media.
async fn record(
    tx: &mut Tx,
    tenant: Tenant,
    input: &mut Input,
    customer: i64,
    collection: &str,
    file: &UploadedFile,
) -> Result<(), Error> {
    let staged = input
        .staged(&file.storage_key)
        .ok_or_else(|| Error::Internal("an upload was recorded twice".into()))?;
    let name = files::display_name(&file.original_name);
    let media = NewMedia {
        model: "customer",
        model_id: customer,
        collection,
        name: &name,
        staged,
        mime_type: input.content_type(&file.storage_key),
    };
    files::record(tx, tenant, media).await?;
    // The record's now: no longer the request's to remove.
    input.take(&file.storage_key);
    Ok(())
}

/// Replaces the customer's permissions; returns the ones it had.
async fn replace_permissions(
    tx: &mut Tx,
    tenant: Tenant,
    customer: i64,
    granted: &[i64],
) -> Result<Vec<i64>, Error> {
    let mut query = Query::select();
    query
        .column("permission_id")
        .from("customer_permissions")
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("customer_id").eq(customer))
        .order_by("permission_id", sea_query::Order::Asc);
    let before: Vec<i64> = tx
        .fetch(&query, &[ColumnType::Int])
        .await?
        .iter()
        .filter_map(|r| r.first().and_then(Value::as_int))
        .collect();
    if before == granted {
        return Ok(before);
    }
    let mut delete = Query::delete();
    delete
        .from_table("customer_permissions")
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("customer_id").eq(customer));
    tx.execute(&delete).await?;
    if granted.is_empty() {
        return Ok(before);
    }
    let now = Utc::now();
    let mut insert = Query::insert();
    insert.into_table("customer_permissions").columns([
        "company_id",
        "customer_id",
        "permission_id",
        "created_at",
    ]);
    for permission in granted {
        insert
            .values([
                tenant.company_id.into(),
                customer.into(),
                (*permission).into(),
                now.into(),
            ])
            .map_err(|e| Error::Internal(format!("insert statement: {e}")))?;
    }
    tx.execute(&insert).await?;
    Ok(before)
}

fn permission_names(ids: &[i64]) -> Json {
    ids.iter().filter_map(|id| permission_name(*id)).collect()
}

/// The engine's validation errors under ManageIt's names (what the ManageIt rules did not
/// already refuse, such as a value the engine's stricter type check rejects).
fn manageit_errors(error: Error, checked: &CustomerInput) -> Error {
    let Error::Validation(errors) = error else {
        return error;
    };
    Error::Validation(errors.renamed(|path| {
        if let Some(rest) = path.strip_prefix("field_values.") {
            let (index, tail) = rest.split_once('.').unwrap_or((rest, "value"));
            let field = index
                .parse::<usize>()
                .ok()
                .and_then(|i| checked.fields.get(i))
                .map(|(id, _)| id.to_string())
                .unwrap_or_else(|| index.to_string());
            return format!("custom_fields.{field}.{tail}");
        }
        match path {
            "name" => "business_information.company_name".into(),
            "first_name" => "name".into(),
            other if BUSINESS.iter().any(|(key, _)| *key == other) => {
                format!("business_information.{other}")
            }
            other => other.into(),
        }
    }))
}
