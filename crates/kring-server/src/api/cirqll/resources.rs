//! The generic HTTP handlers, mounted once per registered resource. Each one extracts its
//! principal and input, hands over to the engine inside a unit of work, and shapes the answer;
//! none knows SQL.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use kring_core::i18n::Message;
use kring_core::query::{Plan, PlanKind, parse_query_string, plan};
use kring_core::validate::{Mode, ValidationErrors, validate};
use serde_json::{Map, Value as Json};

use super::singleton;
use crate::api::files::{FileKeys, Links, present_files};
use crate::auth::principal::{Create, Delete, Update, View};
use crate::auth::{Allowed, Principal, privilege};
use crate::engine;
use crate::engine::children::written_relations;
use crate::engine::loader::load;
use crate::engine::write;
use crate::error::Error;
use crate::http::extract::{IdempotencyKey, JsonBody, RecordId, RouteResource};
use crate::http::unit_of_work::{Started, UnitOfWork};
use crate::http::{Served, json_response};
use crate::ledger::idempotency::{self, Attempt};
use crate::registry::{REGISTRY, Relation, ResourceDef, Routes};
use crate::state::AppState;
use crate::tenant::Tenant;
use crate::webhooks::target;

/// The methods each kind of path answers, for 405 responses and their `Allow`.
const COLLECTION_METHODS: &str = "GET, HEAD, POST";
const RECORD_METHODS: &str = "GET, HEAD, PATCH, PUT, DELETE";
const SINGLETON_METHODS: &str = "GET, HEAD, PATCH, PUT";
const READ_METHODS: &str = "GET, HEAD";

/// The routes of one resource, as its description asks; their handlers learn which resource
/// from [`RouteResource`].
pub fn routes(def: &'static ResourceDef) -> Served<AppState> {
    let routes = match def.routes {
        Routes::Crud => crud_routes(def),
        Routes::Singleton => Served::new().route(
            &format!("/api/{}", def.name),
            SINGLETON_METHODS,
            get(singleton::show)
                .patch(singleton::update)
                .put(singleton::update),
        ),
        Routes::None => return Served::new(),
    };
    routes.map(|router| router.route_layer(RouteResource::layer(def)))
}

/// `/api/<name>` and `/api/<name>/{id}`.
fn crud_routes(def: &'static ResourceDef) -> Served<AppState> {
    let routes = Served::new()
        .route(
            &format!("/api/{}", def.name),
            COLLECTION_METHODS,
            get(index).post(store),
        )
        .route(
            &format!("/api/{}/{{id}}", def.name),
            RECORD_METHODS,
            get(show).patch(update).put(update).delete(destroy),
        );
    if !def.own_record {
        return routes;
    }
    // The token's own record (`spec/cirqll.md` §6.3); a static segment wins over `{id}`.
    routes
        .route(&format!("/api/{}/me", def.name), READ_METHODS, get(me))
        .route("/api/me", READ_METHODS, get(me))
}

/// What a write's response shows: the record and what its body can write besides the row.
fn written(def: &'static ResourceDef) -> Plan {
    embedding(written_relations(def))
}

/// The plan that embeds `relations` whole (every column, no children), as `with` would.
pub(crate) fn embedding(relations: impl Iterator<Item = &'static Relation>) -> Plan {
    Plan {
        with: relations
            .filter_map(|relation| load(relation, false))
            .collect(),
        ..Plan::default()
    }
}

/// A written record as its response shows it: read again with its nested lists and links when
/// the resource has any, as written otherwise.
async fn with_written(
    state: &AppState,
    def: &'static ResourceDef,
    tenant: Tenant,
    id: i64,
    record: Map<String, Json>,
) -> Result<Json, Error> {
    let plan = written(def);
    if plan.with.is_empty() {
        return Ok(Json::Object(record));
    }
    engine::show(&state.db, def, tenant, id, &plan).await
}

/// The request's query parameters as a checked plan (400 for anything wrong in them).
pub(crate) fn query_plan(
    def: &'static ResourceDef,
    uri: &Uri,
    kind: PlanKind,
) -> Result<Plan, Error> {
    plan(&query_pairs(uri)?, def, &REGISTRY, kind).map_err(Error::BadQuery)
}

/// The request's decoded query parameters; 400 for a NUL in any.
pub(crate) fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>, Error> {
    let pairs = parse_query_string(uri.query().unwrap_or(""));
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(Error::BadBody(Message::new("http.nul_character")));
    }
    Ok(pairs)
}

/// The request's plan, once the principal may read everything it reaches.
pub(crate) fn permitted_plan(
    principal: &Principal,
    def: &'static ResourceDef,
    uri: &Uri,
    kind: PlanKind,
) -> Result<Plan, Error> {
    let plan = query_plan(def, uri, kind)?;
    principal.may_reach(&plan)?;
    Ok(plan)
}

/// A JSON response that says the eager-loading weight when the plan loaded relations.
pub(super) fn planned_response(status: StatusCode, body: &Json, plan: &Plan) -> Response {
    let mut response = json_response(status, body);
    if let Some(weight) = plan.weight {
        response
            .headers_mut()
            .insert("x-eager-loading-weight", HeaderValue::from(weight));
    }
    response
}

async fn index(
    State(state): State<AppState>,
    RouteResource(def): RouteResource,
    Allowed(principal, ..): Allowed<View>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let plan = permitted_plan(&principal, def, &uri, PlanKind::Index)?;
    let mut list = engine::index(&state.db, def, principal.tenant, &plan).await?;
    with_files(&state, principal.tenant, &headers, &mut list).await?;
    Ok(planned_response(StatusCode::OK, &list, &plan))
}

async fn show(
    State(state): State<AppState>,
    RouteResource(def): RouteResource,
    Allowed(principal, ..): Allowed<View>,
    RecordId(id): RecordId,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let plan = permitted_plan(&principal, def, &uri, PlanKind::Show)?;
    let mut record = engine::show(&state.db, def, principal.tenant, id, &plan).await?;
    with_files(&state, principal.tenant, &headers, &mut record).await?;
    Ok(planned_response(StatusCode::OK, &record, &plan))
}

/// Everyone may see who they are, whatever their role.
async fn me(
    State(state): State<AppState>,
    RouteResource(def): RouteResource,
    principal: Principal,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let plan = permitted_plan(&principal, def, &uri, PlanKind::Show)?;
    let tenant = principal.tenant;
    let mut record = engine::show(&state.db, def, tenant, tenant.user_id, &plan).await?;
    with_files(&state, tenant, &headers, &mut record).await?;
    Ok(planned_response(StatusCode::OK, &record, &plan))
}

/// Completes the file values a read shows with each file's size, type and download URL.
async fn with_files(
    state: &AppState,
    tenant: Tenant,
    headers: &HeaderMap,
    json: &mut Json,
) -> Result<(), Error> {
    let links = || Links::of(state, headers);
    present_files(&state.db, tenant, links, FileKeys::Cirqll, json).await
}

async fn store(
    State(state): State<AppState>,
    RouteResource(def): RouteResource,
    Allowed(principal, ..): Allowed<Create>,
    IdempotencyKey(key): IdempotencyKey,
    uri: Uri,
    JsonBody(body): JsonBody,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    let fingerprint = idempotency::fingerprint("POST", uri.path(), Some(&body));
    let mut work = match UnitOfWork::start(&state, tenant, key, fingerprint).await? {
        Started::Replayed(response) => return Ok(response),
        Started::Fresh(work) => work,
    };
    let outcome = async {
        let record = match work.attempt() {
            Attempt::Run => {
                vet_targets(&state, def, &body, Mode::Create).await?;
                let mut tx = work.begin().await?;
                privilege::check_write(&mut tx, &principal, def, None, &body).await?;
                let (id, record) = write::store(&mut tx, def, tenant, &body).await?;
                work.commit(tx, Some(id)).await?;
                released_files(&state, def);
                with_written(&state, def, tenant, id, record).await?
            }
            Attempt::Recover { .. } => {
                let id = work.attempt().created()?;
                engine::show(&state.db, def, tenant, id, &written(def)).await?
            }
        };
        Ok((StatusCode::CREATED, Some(record)))
    }
    .await;
    work.finish(outcome).await
}

/// A write that changed file values may have released files: their removal need not wait.
fn released_files(state: &AppState, def: &ResourceDef) {
    if def.custom_fields {
        state.files.wake_sweeper();
    }
}

/// Refuses a body whose target URLs lead to non-public addresses (a webhook's `url`), with the
/// body's other column errors beside them. Runs before the write's transaction opens: a DNS
/// lookup must not hold the database's writer.
async fn vet_targets(
    state: &AppState,
    def: &ResourceDef,
    body: &Map<String, Json>,
    mode: Mode,
) -> Result<(), Error> {
    let refused = target::vet_body(&state.config, def, body).await;
    if refused.is_empty() {
        return Ok(());
    }
    let (_, mut errors) = validate(def.columns, body, mode);
    errors.merge(refused);
    Err(Error::Validation(errors))
}

async fn update(
    State(state): State<AppState>,
    RouteResource(def): RouteResource,
    Allowed(principal, ..): Allowed<Update>,
    RecordId(id): RecordId,
    IdempotencyKey(key): IdempotencyKey,
    uri: Uri,
    JsonBody(body): JsonBody,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    // PUT and PATCH are one operation here, so they share a fingerprint.
    let fingerprint = idempotency::fingerprint("PATCH", uri.path(), Some(&body));
    let mut work = match UnitOfWork::start(&state, tenant, key, fingerprint).await? {
        Started::Replayed(response) => return Ok(response),
        Started::Fresh(work) => work,
    };
    let outcome = async {
        if work.attempt() == Attempt::Run {
            vet_targets(&state, def, &body, Mode::Update).await?;
            let mut tx = work.begin().await?;
            privilege::check_write(&mut tx, &principal, def, Some(id), &body).await?;
            let record = write::update(&mut tx, def, tenant, id, &body).await?;
            work.commit(tx, None).await?;
            released_files(&state, def);
            let shown = with_written(&state, def, tenant, id, record).await?;
            return Ok((StatusCode::OK, Some(shown)));
        }
        let shown = engine::show(&state.db, def, tenant, id, &written(def)).await?;
        Ok((StatusCode::OK, Some(shown)))
    }
    .await;
    work.finish(outcome).await
}

async fn destroy(
    State(state): State<AppState>,
    RouteResource(def): RouteResource,
    Allowed(principal, ..): Allowed<Delete>,
    RecordId(id): RecordId,
    IdempotencyKey(key): IdempotencyKey,
    uri: Uri,
) -> Result<Response, Error> {
    let fingerprint = idempotency::fingerprint("DELETE", uri.path(), None);
    deleted(&state, def, principal.tenant, id, key, fingerprint).await
}

/// Deletes a record in a unit of work and answers 204, for both dialects.
pub(crate) async fn deleted(
    state: &AppState,
    def: &'static ResourceDef,
    tenant: Tenant,
    id: i64,
    key: Option<String>,
    fingerprint: String,
) -> Result<Response, Error> {
    let mut work = match UnitOfWork::start(state, tenant, key, fingerprint).await? {
        Started::Replayed(response) => return Ok(response),
        Started::Fresh(work) => work,
    };
    let outcome = async {
        if work.attempt() == Attempt::Run {
            let mut tx = work.begin().await?;
            privilege::check_delete(&mut tx, def, tenant, id).await?;
            write::destroy(&mut tx, def, tenant, id).await?;
            work.commit(tx, None).await?;
            state.files.wake_sweeper();
        }
        Ok((StatusCode::NO_CONTENT, None))
    }
    .await;
    work.finish(outcome).await
}

/// Refuses keys a strict resource does not know (settings), with Laravel's `prohibited` text.
pub(super) fn refuse_unknown_keys(
    def: &ResourceDef,
    body: &Map<String, Json>,
) -> Result<(), Error> {
    let mut errors = ValidationErrors::default();
    for key in body.keys() {
        if !def.column(key).is_some_and(|c| c.writable) {
            errors.add(key.clone(), Message::new("validation.prohibited"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}
