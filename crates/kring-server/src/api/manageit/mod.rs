//! The ManageIt dialect (`spec/manageit.md`, DESIGN §1): `/api/customers` and
//! `/api/custom-fields` over the same customers and fields as Cirqll's `/api/customer` and
//! `/api/field`, with PHP bracket-notation bodies, files, Laravel's messages and `{"data": …}`.

mod customers;
mod fields;
mod input;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use kring_core::i18n::Message;
use kring_core::query::PlanKind;
use serde_json::{Value as Json, json};

use crate::AppState;
use crate::api::cirqll::resources::{may_reach, permitted, query_plan, record_id};
use crate::auth::{Caller, authorize, permits, readable_resources};
use crate::db::Reader;
use crate::engine;
use crate::engine::write;
use crate::error::Error;
use crate::http::{json_response, method_not_allowed};
use crate::ledger::idempotency::{self, Attempt};
use crate::registry::defs::customer::CUSTOMER;
use crate::registry::defs::field::FIELD;
use crate::registry::{Action, ResourceDef};
use crate::tenant::Tenant;
use customers::Detail;

const COLLECTION_METHODS: &str = "GET, HEAD, POST";
const RECORD_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/customers",
            get(list_customers)
                .post(create_customer)
                .fallback(|request: Request| async move {
                    method_not_allowed(&request, COLLECTION_METHODS)
                }),
        )
        .route(
            "/api/customers/{id}",
            get(show_customer)
                .put(update_customer)
                .patch(update_customer)
                .delete(delete_customer)
                .post(spoofed_customer)
                .fallback(|request: Request| async move {
                    method_not_allowed(&request, RECORD_METHODS)
                }),
        )
        .route(
            "/api/custom-fields",
            get(list_fields)
                .post(create_field)
                .fallback(|request: Request| async move {
                    method_not_allowed(&request, COLLECTION_METHODS)
                }),
        )
        .route(
            "/api/custom-fields/{id}",
            get(show_field)
                .put(update_field)
                .patch(update_field)
                .delete(delete_field)
                .fallback(|request: Request| async move {
                    method_not_allowed(&request, "GET, HEAD, PUT, PATCH, DELETE")
                }),
        )
        .route(
            "/api/files/{uuid}",
            get(crate::api::files::download).fallback(|request: Request| async move {
                method_not_allowed(&request, "GET, HEAD")
            }),
        )
}

/// Where download URLs start.
fn base_url(state: &AppState, request: &Request) -> String {
    crate::http::public_base(&state.config, request.headers())
}

fn data(status: StatusCode, body: Json) -> Result<Response, Error> {
    Ok(json_response(status, &body))
}

/// `GET /api/customers`: `{"data": […]}` as the seed shows; with `?page=` Laravel's paginator
/// (`links`, `meta`). Cirqll's `filter` and `order_by` work here too.
async fn list_customers(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, &CUSTOMER, Action::View).await?;
    let base = base_url(&state, &request);
    let mut plan = query_plan(&CUSTOMER, &request, PlanKind::Index)?;
    plan.with.clear();
    plan.count.clear();
    plan.weight = None;
    may_reach(&state, &Caller::of(&request), tenant, &plan).await?;
    let laravel_page = laravel_page(request.uri().query().unwrap_or(""))?;
    if let (Some((page, per_page)), Some(p)) = (laravel_page, plan.page.as_mut()) {
        p.limit = per_page;
        p.offset = (page - 1).saturating_mul(per_page);
    }
    let id_column = CUSTOMER.columns.first().into_iter().collect();
    plan.select = Some(id_column);
    let found = engine::index(&state.db, &CUSTOMER, tenant, &plan).await?;
    let ids: Vec<i64> = found["data"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["id"].as_i64()).collect())
        .unwrap_or_default();
    let rows = customers::shaped(&state.db, tenant, &ids, &base).await?;
    let mut body = json!({ "data": rows });
    if let Some((page, per_page)) = laravel_page {
        let total = found["total"].as_u64().unwrap_or(0);
        let path = format!("{base}/api/customers");
        paginate(&mut body, &path, page, per_page, total, ids.len() as u64);
    }
    data(StatusCode::OK, body)
}

/// `page` (from 1) and `per_page` (1–1000, Laravel's default 15) when `page` is given.
fn laravel_page(query: &str) -> Result<Option<(u64, u64)>, Error> {
    let pairs = kring_core::query::parse_query_string(query);
    let find = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(page) = find("page") else {
        return Ok(None);
    };
    let number = |name: &'static str, raw: &str, max: u64| {
        raw.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Error::BadQuery(kring_core::query::QueryError(
                    Message::new("query.integer_range")
                        .with("param", name)
                        .with("min", "1")
                        .with("max", max.to_string())
                        .with("value", kring_core::query::truncate(raw, 40)),
                ))
            })
    };
    let page = number("page", page, i64::MAX as u64 / 1000)?;
    let per_page = match find("per_page") {
        Some(raw) => number("per_page", raw, kring_core::query::MAX_LIMIT)?,
        None => 15,
    };
    Ok(Some((page, per_page)))
}

/// Laravel's `links` and `meta` of a length-aware paginator.
fn paginate(body: &mut Json, path: &str, page: u64, per_page: u64, total: u64, shown: u64) {
    let last = total.div_ceil(per_page).max(1);
    let url = |p: u64| json!(format!("{path}?page={p}"));
    let from = (page - 1) * per_page + 1;
    body["links"] = json!({
        "first": url(1),
        "last": url(last),
        "prev": if page > 1 { url(page - 1) } else { Json::Null },
        "next": if page < last { url(page + 1) } else { Json::Null },
    });
    body["meta"] = json!({
        "current_page": page,
        "from": if shown > 0 { json!(from) } else { Json::Null },
        "last_page": last,
        "path": path,
        "per_page": per_page,
        "to": if shown > 0 { json!(from + shown - 1) } else { Json::Null },
        "total": total,
    });
}

async fn show_customer(State(state): State<AppState>, request: Request) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, &CUSTOMER, Action::View).await?;
    let id = record_id(&CUSTOMER, &request)?;
    let base = base_url(&state, &request);
    let body = customers::shaped_one(&state.db, tenant, id, &base, Detail::Plain).await?;
    data(StatusCode::OK, body)
}

async fn create_customer(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    write_customer(state, request, None).await
}

async fn update_customer(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let id = record_id(&CUSTOMER, &request)?;
    write_customer(state, request, Some(id)).await
}

/// A create (`existing` is `None`) or update of a customer, permitted before the body is read.
async fn write_customer(
    state: AppState,
    request: Request,
    existing: Option<i64>,
) -> Result<Response, Error> {
    let action = if existing.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    let tenant = permitted(&state, &request, &CUSTOMER, action).await?;
    let written = Written::of(&state, &request)?;
    let input = input::read(request, &state).await?;
    store_customer(&state, tenant, written, input, existing).await
}

async fn delete_customer(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, &CUSTOMER, Action::Delete).await?;
    let id = record_id(&CUSTOMER, &request)?;
    let written = Written::of(&state, &request)?;
    destroy(&state, &CUSTOMER, tenant, written, id).await
}

/// `POST /api/customers/{id}` with `_method=PUT|PATCH|DELETE` (or `X-HTTP-Method-Override`),
/// as PHP clients send multipart updates (`spec/manageit.md` §3.5).
async fn spoofed_customer(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let caller = Caller::of(&request);
    let tenant = authorize(&state, &caller, None).await?;
    let id = record_id(&CUSTOMER, &request)?;
    let header_method = request
        .headers()
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_uppercase);
    // Someone who may neither update nor delete is refused before the body is read.
    let may_update = permits(&state, &caller, &CUSTOMER, Action::Update).await;
    let may_delete = permits(&state, &caller, &CUSTOMER, Action::Delete).await;
    if may_update.is_err() && may_delete.is_err() {
        return Err(may_update.err().unwrap_or(Error::Forbidden));
    }
    let written = Written::of(&state, &request)?;
    let input = input::read(request, &state).await?;
    let body_method = input
        .values
        .get("_method")
        .and_then(Json::as_str)
        .map(str::to_ascii_uppercase);
    match header_method.or(body_method).as_deref() {
        Some("PUT" | "PATCH") => {
            may_update?;
            store_customer(&state, tenant, written, input, Some(id)).await
        }
        Some("DELETE") => {
            may_delete?;
            destroy(&state, &CUSTOMER, tenant, written, id).await
        }
        _ => Err(Error::MethodNotAllowed {
            method: "POST".into(),
            path: format!("api/customers/{id}"),
            allowed: "GET, HEAD, PUT, PATCH, DELETE",
        }),
    }
}

/// What a write needs from its request before the body is read: the idempotency key, the
/// path it is fingerprinted under, and the base of download URLs.
struct Written {
    key: Option<String>,
    path: String,
    base: String,
    caller: Caller,
}

impl Written {
    fn of(state: &AppState, request: &Request) -> Result<Written, Error> {
        Ok(Written {
            key: idempotency::key_of(request.headers())?,
            path: request.uri().path().to_string(),
            base: base_url(state, request),
            caller: Caller::of(request),
        })
    }
}

async fn store_customer(
    state: &AppState,
    tenant: Tenant,
    written: Written,
    mut input: input::Input,
    existing: Option<i64>,
) -> Result<Response, Error> {
    let method = if existing.is_some() { "PATCH" } else { "POST" };
    let fingerprint = idempotency::fingerprint(method, &written.path, Some(&input.fingerprinted()));
    idempotency::run(
        state,
        tenant,
        written.key,
        fingerprint,
        |attempt| async move {
            let id = match (attempt, existing) {
                (Attempt::Run, _) => {
                    customers::write_customer(state, tenant, &mut input, existing).await?
                }
                (Attempt::Recover { .. }, Some(id)) => id,
                (Attempt::Recover { .. }, None) => attempt.created()?,
            };
            let (status, detail) = match existing {
                None => (StatusCode::CREATED, Detail::Created),
                Some(_) => {
                    // An update shows the customer's notes to those who may read notes (T19).
                    let readable = readable_resources(state, &written.caller, tenant).await?;
                    let notes = readable.contains(&"note");
                    (StatusCode::OK, Detail::Updated { notes })
                }
            };
            let body = customers::shaped_one(&state.db, tenant, id, &written.base, detail).await?;
            Ok((status, Some(body)))
        },
    )
    .await
}

async fn destroy(
    state: &AppState,
    def: &'static ResourceDef,
    tenant: Tenant,
    written: Written,
    id: i64,
) -> Result<Response, Error> {
    let fingerprint = idempotency::fingerprint("DELETE", &written.path, None);
    idempotency::run(
        state,
        tenant,
        written.key,
        fingerprint,
        |attempt| async move {
            if attempt == Attempt::Run {
                write::destroy(&state.db, def, tenant, id).await?;
                state.files.wake_sweeper();
            }
            Ok((StatusCode::NO_CONTENT, None))
        },
    )
    .await
}

/// `GET /api/custom-fields`: the company's customer fields (`spec/manageit.md` §3.7).
async fn list_fields(State(state): State<AppState>, request: Request) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, &FIELD, Action::View).await?;
    let fields = fields::customer_fields(&mut Reader::Db(&state.db), tenant, None).await?;
    let shown: Vec<Json> = fields
        .iter()
        .map(|f| Json::Object(f.to_json(true)))
        .collect();
    data(StatusCode::OK, json!({ "data": shown }))
}

async fn one_field(state: &AppState, tenant: Tenant, id: i64) -> Result<Json, Error> {
    let mut found = fields::customer_fields(&mut Reader::Db(&state.db), tenant, Some(id)).await?;
    let field = found.pop().ok_or_else(|| engine::not_found(&FIELD, id))?;
    Ok(json!({ "data": field.to_json(true) }))
}

async fn show_field(State(state): State<AppState>, request: Request) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, &FIELD, Action::View).await?;
    let id = record_id(&FIELD, &request)?;
    data(StatusCode::OK, one_field(&state, tenant, id).await?)
}

async fn create_field(State(state): State<AppState>, request: Request) -> Result<Response, Error> {
    write_field(state, request, None).await
}

async fn update_field(State(state): State<AppState>, request: Request) -> Result<Response, Error> {
    let id = record_id(&FIELD, &request)?;
    write_field(state, request, Some(id)).await
}

/// A create (`existing` is `None`) or update of a customer field through the engine, its
/// errors under ManageIt's names.
async fn write_field(
    state: AppState,
    request: Request,
    existing: Option<i64>,
) -> Result<Response, Error> {
    let action = if existing.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    let tenant = permitted(&state, &request, &FIELD, action).await?;
    let written = Written::of(&state, &request)?;
    let input = input::read(request, &state).await?;
    let method = if existing.is_some() { "PATCH" } else { "POST" };
    let fingerprint = idempotency::fingerprint(method, &written.path, Some(&input.values));
    idempotency::run(&state, tenant, written.key, fingerprint, |attempt| {
        let (state, input) = (&state, &input);
        async move {
            let id = match (attempt, existing) {
                (Attempt::Run, None) => {
                    let body = fields::field_body(&input.values, true)?;
                    let (id, _) = write::store(&state.db, &FIELD, tenant, &body)
                        .await
                        .map_err(field_errors)?;
                    id
                }
                (Attempt::Run, Some(id)) => {
                    // Only customer fields are ManageIt's; another model's field is not found.
                    one_field(state, tenant, id).await?;
                    let body = fields::field_body(&input.values, false)?;
                    write::update(&state.db, &FIELD, tenant, id, &body)
                        .await
                        .map_err(field_errors)?;
                    id
                }
                (Attempt::Recover { .. }, Some(id)) => id,
                (Attempt::Recover { .. }, None) => attempt.created()?,
            };
            let status = if existing.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok((status, Some(one_field(state, tenant, id).await?)))
        }
    })
    .await
}

async fn delete_field(State(state): State<AppState>, request: Request) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, &FIELD, Action::Delete).await?;
    let id = record_id(&FIELD, &request)?;
    one_field(&state, tenant, id).await?;
    let written = Written::of(&state, &request)?;
    destroy(&state, &FIELD, tenant, written, id).await
}

fn field_errors(error: Error) -> Error {
    match error {
        Error::Validation(errors) => Error::Validation(errors.renamed(fields::manageit_path)),
        other => other,
    }
}
