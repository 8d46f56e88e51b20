//! The ManageIt dialect (`spec/manageit.md`, DESIGN §1): `/api/customers` and
//! `/api/custom-fields` over the same customers and fields as Cirqll's `/api/customer` and
//! `/api/field`, with PHP bracket-notation bodies, files, Laravel's messages and `{"data": …}`.

mod customers;
mod fields;
mod input;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use kring_core::query::{PlanKind, plan_view};
use serde_json::{Map, Value as Json, json};

use crate::api::cirqll::resources::{deleted, query_pairs};
use crate::api::files::Links;
use crate::auth::principal::{Create, Delete, Update, View};
use crate::auth::{Allowed, Principal};
use crate::db::Reader;
use crate::engine;
use crate::engine::write;
use crate::error::Error;
use crate::http::extract::{IdempotencyKey, RecordId, RouteResource};
use crate::http::query::{self, number_between};
use crate::http::unit_of_work::{Started, UnitOfWork};
use crate::http::{Served, json_response};
use crate::ledger::idempotency::{self, Attempt};
use crate::registry::defs::customer::CUSTOMER;
use crate::registry::defs::field::FIELD;
use crate::registry::{Action, ResourceDef};
use crate::state::AppState;
use crate::tenant::Tenant;
use customers::Detail;
use fields::customer_fields;
use input::Input;

const COLLECTION_METHODS: &str = "GET, HEAD, POST";
const RECORD_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";

pub fn routes() -> Served<AppState> {
    Served::new()
        .route(
            "/api/customers",
            COLLECTION_METHODS,
            get(list_customers).post(create_customer),
        )
        .route(
            "/api/customers/{id}",
            RECORD_METHODS,
            get(show_customer)
                .put(update_customer)
                .patch(update_customer)
                .delete(delete_customer)
                .post(spoofed_customer),
        )
        .map(|router| router.route_layer(RouteResource::layer(&CUSTOMER)))
        .merge(field_routes())
        .route(
            "/api/files/{uuid}",
            "GET, HEAD",
            get(crate::api::files::download),
        )
}

fn field_routes() -> Served<AppState> {
    Served::new()
        .route(
            "/api/custom-fields",
            COLLECTION_METHODS,
            get(list_fields).post(create_field),
        )
        .route(
            "/api/custom-fields/{id}",
            "GET, HEAD, PUT, PATCH, DELETE",
            get(show_field)
                .put(update_field)
                .patch(update_field)
                .delete(delete_field),
        )
        .map(|router| router.route_layer(RouteResource::layer(&FIELD)))
}

fn data(status: StatusCode, body: Json) -> Result<Response, Error> {
    Ok(json_response(status, &body))
}

/// `GET /api/customers`: `{"data": […]}` as the seed shows; with `?page=` Laravel's paginator
/// (`links`, `meta`). `filter` and `order_by` as in Cirqll, over the names this dialect shows
/// (`name`, `last_name`, `business_information.company_name`, `custom_fields.<id>`, …).
async fn list_customers(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<View>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    let links = Links::of(&state, &headers)?;
    let base = links.base();
    let mut plan = plan_view(
        &query_pairs(&uri)?,
        &CUSTOMER,
        customers::view(),
        PlanKind::Index,
    )
    .map_err(Error::BadQuery)?;
    let laravel_page = laravel_page(uri.query().unwrap_or(""))?;
    if let (Some((page, per_page)), Some(p)) = (laravel_page, plan.page.as_mut()) {
        p.limit = per_page;
        p.offset = (page - 1).saturating_mul(per_page);
    }
    plan.select = None;
    plan.with = customers::loads(Detail::Plain);
    let listed = engine::list(&state.db, &CUSTOMER, tenant, &plan).await?;
    let shown = u64::try_from(listed.rows.len()).unwrap_or(u64::MAX);
    let fields = customer_fields(&mut Reader::Db(&state.db), tenant, None).await?;
    let rows = customers::shaped(listed.rows, &fields, &links);
    let mut body = json!({ "data": rows });
    let total = u64::try_from(listed.total).unwrap_or(0);
    // Without `page` the seed's bare `{"data": …}`, unless the page cap left records out:
    // then the paginator's links and meta of page 1, so a client sees there is more.
    let page = laravel_page.or_else(|| {
        let limit = plan.page.as_ref().map(|p| p.limit)?;
        (total > shown).then_some((1, limit))
    });
    if let Some((page, per_page)) = page {
        let path = format!("{base}/api/customers");
        let query = uri.query().unwrap_or("");
        paginate(
            &mut body,
            &Pages {
                path: &path,
                query,
                page,
                per_page,
                total,
                shown,
            },
        );
    }
    data(StatusCode::OK, body)
}

/// `page` (from 1) and `per_page` (1–1000, Laravel's default 15) when `page` is given.
fn laravel_page(query: &str) -> Result<Option<(u64, u64)>, Error> {
    let pairs = kring_core::query::parse_query_string(query);
    let find = |name: &str| query::param(&pairs, name);
    let Some(page) = find("page") else {
        return Ok(None);
    };
    // Laravel trims what it reads.
    let number = |name, raw: &str, max| number_between(Some(raw.trim()), name, 0, 1, max);
    let page = number("page", page, i64::MAX.unsigned_abs() / 1000)?;
    let per_page = match find("per_page") {
        Some(raw) => number("per_page", raw, kring_core::query::MAX_LIMIT)?,
        None => 15,
    };
    Ok(Some((page, per_page)))
}

/// One page of a list, as Laravel's length-aware paginator describes it.
struct Pages<'a> {
    path: &'a str,
    /// The request's query string: links keep every parameter, the page size as `per_page`
    /// (Cirqll's `limit` is the same setting) and their own `page`.
    query: &'a str,
    page: u64,
    per_page: u64,
    total: u64,
    shown: u64,
}

impl Pages<'_> {
    fn last(&self) -> u64 {
        self.total.div_ceil(self.per_page.max(1)).max(1)
    }

    fn url(&self, page: u64) -> String {
        let kept: Vec<&str> = self
            .query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| !matches!(pair.split('=').next(), Some("page" | "per_page" | "limit")))
            .collect();
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        let per_page = self.per_page;
        format!("{}?{query}per_page={per_page}&page={page}", self.path)
    }

    /// The pages `meta.links` lists, as Laravel's URL window picks them (three on each side
    /// of the current one); `None` stands for a "..." gap.
    fn window(&self) -> Vec<Option<u64>> {
        const EACH_SIDE: u64 = 3;
        let (page, last) = (self.page, self.last());
        let all = |from: u64, to: u64| (from..=to).map(Some).collect::<Vec<_>>();
        if last < EACH_SIDE * 2 + 8 {
            return all(1, last);
        }
        let window = EACH_SIDE + 4;
        let mut pages = Vec::new();
        if page <= window {
            pages.extend(all(1, window + EACH_SIDE));
            pages.push(None);
            pages.extend(all(last - 1, last));
        } else if page > last - window {
            pages.extend(all(1, 2));
            pages.push(None);
            pages.extend(all(last - (window + EACH_SIDE - 1), last));
        } else {
            pages.extend(all(1, 2));
            pages.push(None);
            pages.extend(all(page - EACH_SIDE, page + EACH_SIDE));
            pages.push(None);
            pages.extend(all(last - 1, last));
        }
        pages
    }
}

/// Laravel's `links` and `meta` of a length-aware paginator.
fn paginate(body: &mut Json, pages: &Pages<'_>) {
    let (page, last) = (pages.page, pages.last());
    let link = |p: Option<u64>| p.map_or(Json::Null, |p| json!(pages.url(p)));
    let prev = (page > 1).then(|| page - 1);
    let next = (page < last).then(|| page + 1);
    let from = (page - 1) * pages.per_page + 1;
    body["links"] = json!({
        "first": link(Some(1)),
        "last": link(Some(last)),
        "prev": link(prev),
        "next": link(next),
    });
    let mut listed = vec![json!({"url": link(prev), "label": "&laquo; Previous", "active": false})];
    for entry in pages.window() {
        listed.push(match entry {
            Some(p) => json!({"url": link(Some(p)), "label": p.to_string(), "active": p == page}),
            None => json!({"url": null, "label": "...", "active": false}),
        });
    }
    listed.push(json!({"url": link(next), "label": "Next &raquo;", "active": false}));
    let shown = pages.shown;
    body["meta"] = json!({
        "current_page": page,
        "from": if shown > 0 { json!(from) } else { Json::Null },
        "last_page": last,
        "links": listed,
        "path": pages.path,
        "per_page": pages.per_page,
        "to": if shown > 0 { json!(from + shown - 1) } else { Json::Null },
        "total": pages.total,
    });
}

async fn show_customer(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<View>,
    RecordId(id): RecordId,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let links = Links::of(&state, &headers)?;
    let body =
        customers::shaped_one(&state.db, principal.tenant, id, &links, Detail::Plain).await?;
    data(StatusCode::OK, body)
}

async fn create_customer(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<Create>,
    written: Written,
    input: Input,
) -> Result<Response, Error> {
    store_customer(&state, &principal, written, input, None).await
}

async fn update_customer(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<Update>,
    RecordId(id): RecordId,
    written: Written,
    input: Input,
) -> Result<Response, Error> {
    store_customer(&state, &principal, written, input, Some(id)).await
}

async fn delete_customer(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<Delete>,
    RecordId(id): RecordId,
    written: Written,
) -> Result<Response, Error> {
    written
        .deleted(&state, &CUSTOMER, principal.tenant, id)
        .await
}

/// `POST /api/customers/{id}` with `_method=PUT|PATCH|DELETE` (or `X-HTTP-Method-Override`),
/// as PHP clients send multipart updates (`spec/manageit.md` §3.5).
async fn spoofed_customer(
    State(state): State<AppState>,
    principal: Principal,
    RecordId(id): RecordId,
    request: Request,
) -> Result<Response, Error> {
    let header_method = request
        .headers()
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_uppercase);
    // Someone who may neither update nor delete is refused before the body is read.
    let may_update = principal.may(&CUSTOMER, Action::Update);
    let may_delete = principal.may(&CUSTOMER, Action::Delete);
    if may_update.is_err() && may_delete.is_err() {
        return Err(may_update.err().unwrap_or(Error::Forbidden));
    }
    let (mut parts, body) = request.into_parts();
    let written = Written::from_request_parts(&mut parts, &state).await?;
    let input = Input::from_request(Request::from_parts(parts, body), &state).await?;
    let body_method = input
        .values
        .get("_method")
        .and_then(Json::as_str)
        .map(str::to_ascii_uppercase);
    match header_method.or(body_method).as_deref() {
        Some("PUT" | "PATCH") => {
            may_update?;
            store_customer(&state, &principal, written, input, Some(id)).await
        }
        Some("DELETE") => {
            may_delete?;
            written
                .deleted(&state, &CUSTOMER, principal.tenant, id)
                .await
        }
        _ => Err(Error::MethodNotAllowed {
            method: "POST".into(),
            path: format!("api/customers/{id}"),
            allowed: "GET, HEAD, PUT, PATCH, DELETE",
        }),
    }
}

/// What a write needs from its request besides the body, read before it: the idempotency
/// key, the path it is fingerprinted under, and the download links it shows.
struct Written {
    key: Option<String>,
    path: String,
    links: Links,
}

impl FromRequestParts<AppState> for Written {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let IdempotencyKey(key) = IdempotencyKey::from_request_parts(parts, state).await?;
        Ok(Written {
            key,
            path: parts.uri.path().to_string(),
            links: Links::of(state, &parts.headers)?,
        })
    }
}

impl Written {
    /// The request's unit of work, its body fingerprinted under `method`.
    async fn start<'a>(
        &self,
        state: &'a AppState,
        tenant: Tenant,
        method: &str,
        body: &Map<String, Json>,
    ) -> Result<Started<'a>, Error> {
        let fingerprint = idempotency::fingerprint(method, &self.path, Some(body));
        UnitOfWork::start(state, tenant, self.key.clone(), fingerprint).await
    }

    /// Deletes the record, as Cirqll's routes do.
    async fn deleted(
        self,
        state: &AppState,
        def: &'static ResourceDef,
        tenant: Tenant,
        id: i64,
    ) -> Result<Response, Error> {
        let fingerprint = idempotency::fingerprint("DELETE", &self.path, None);
        deleted(state, def, tenant, id, self.key, fingerprint).await
    }
}

async fn store_customer(
    state: &AppState,
    principal: &Principal,
    written: Written,
    mut input: Input,
    existing: Option<i64>,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    let method = if existing.is_some() { "PATCH" } else { "POST" };
    let fingerprinted = input.fingerprinted();
    let mut work = match written.start(state, tenant, method, &fingerprinted).await? {
        Started::Replayed(response) => return Ok(response),
        Started::Fresh(work) => work,
    };
    let outcome = async {
        let id = match (work.attempt(), existing) {
            (Attempt::Run, _) => {
                customers::write_customer(state, &mut work, tenant, &mut input, existing).await?
            }
            (Attempt::Recover { .. }, Some(id)) => id,
            (Attempt::Recover { .. }, None) => work.attempt().created()?,
        };
        let (status, detail) = match existing {
            None => (StatusCode::CREATED, Detail::Created),
            Some(_) => {
                // An update shows the customer's notes to those who may read notes (T19).
                let notes = principal.may_read_named("note");
                (StatusCode::OK, Detail::Updated { notes })
            }
        };
        let body = customers::shaped_one(&state.db, tenant, id, &written.links, detail).await?;
        Ok((status, Some(body)))
    }
    .await;
    work.finish(outcome).await
}

/// `GET /api/custom-fields`: the company's customer fields (`spec/manageit.md` §3.7).
async fn list_fields(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<View>,
) -> Result<Response, Error> {
    let fields =
        fields::customer_fields(&mut Reader::Db(&state.db), principal.tenant, None).await?;
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

async fn show_field(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<View>,
    RecordId(id): RecordId,
) -> Result<Response, Error> {
    data(
        StatusCode::OK,
        one_field(&state, principal.tenant, id).await?,
    )
}

async fn create_field(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<Create>,
    written: Written,
    input: Input,
) -> Result<Response, Error> {
    write_field(&state, principal.tenant, written, input, None).await
}

async fn update_field(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<Update>,
    RecordId(id): RecordId,
    written: Written,
    input: Input,
) -> Result<Response, Error> {
    write_field(&state, principal.tenant, written, input, Some(id)).await
}

/// A create (`existing` is `None`) or update of a customer field through the engine, its
/// errors under ManageIt's names.
async fn write_field(
    state: &AppState,
    tenant: Tenant,
    written: Written,
    input: Input,
    existing: Option<i64>,
) -> Result<Response, Error> {
    let method = if existing.is_some() { "PATCH" } else { "POST" };
    let mut work = match written.start(state, tenant, method, &input.values).await? {
        Started::Replayed(response) => return Ok(response),
        Started::Fresh(work) => work,
    };
    let outcome = async {
        let id = match (work.attempt(), existing) {
            (Attempt::Run, None) => {
                let body = fields::field_body(&input.values, true)?;
                let mut tx = work.begin().await?;
                let (id, _) = write::store(&mut tx, &FIELD, tenant, &body)
                    .await
                    .map_err(field_errors)?;
                work.commit(tx, Some(id)).await?;
                id
            }
            (Attempt::Run, Some(id)) => {
                // Only customer fields are ManageIt's; another model's field is not found.
                one_field(state, tenant, id).await?;
                let body = fields::field_body(&input.values, false)?;
                let mut tx = work.begin().await?;
                write::update(&mut tx, &FIELD, tenant, id, &body)
                    .await
                    .map_err(field_errors)?;
                work.commit(tx, None).await?;
                id
            }
            (Attempt::Recover { .. }, Some(id)) => id,
            (Attempt::Recover { .. }, None) => work.attempt().created()?,
        };
        let status = if existing.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        Ok((status, Some(one_field(state, tenant, id).await?)))
    }
    .await;
    work.finish(outcome).await
}

async fn delete_field(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<Delete>,
    RecordId(id): RecordId,
    written: Written,
) -> Result<Response, Error> {
    one_field(&state, principal.tenant, id).await?;
    written.deleted(&state, &FIELD, principal.tenant, id).await
}

fn field_errors(error: Error) -> Error {
    match error {
        Error::Validation(errors) => Error::Validation(errors.renamed(fields::manageit_path)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::Pages;

    fn window(page: u64, last: u64) -> Vec<Option<u64>> {
        let pages = Pages {
            path: "/api/customers",
            query: "",
            page,
            per_page: 1,
            total: last,
            shown: 1,
        };
        pages.window()
    }

    fn slider(parts: &[&[u64]]) -> Vec<Option<u64>> {
        let mut out = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push(None);
            }
            out.extend(part.iter().copied().map(Some));
        }
        out
    }

    /// Laravel's URL window, three pages on each side: every page below 14, else a slider.
    #[test]
    fn pages_are_windowed_as_laravel_does() {
        assert_eq!(window(2, 5), slider(&[&[1, 2, 3, 4, 5]]));
        assert_eq!(
            window(3, 20),
            slider(&[&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], &[19, 20]])
        );
        assert_eq!(
            window(10, 20),
            slider(&[&[1, 2], &[7, 8, 9, 10, 11, 12, 13], &[19, 20]])
        );
        assert_eq!(
            window(18, 20),
            slider(&[&[1, 2], &[11, 12, 13, 14, 15, 16, 17, 18, 19, 20]])
        );
    }
}
