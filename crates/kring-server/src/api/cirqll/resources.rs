//! The generic HTTP handlers, mounted once per registered resource. Each one authenticates,
//! checks the permission, parses its input and hands over to the engine; none knows SQL.

use std::collections::BTreeSet;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use kring_core::i18n::Message;
use kring_core::query::{Filter, Plan, PlanKind, parse_query_string, plan};
use kring_core::validate::{Mode, ValidationErrors, validate};
use serde_json::{Map, Value as Json};

use super::singleton;
use crate::AppState;
use crate::auth::{Caller, authorize, readable_resources};
use crate::engine;
use crate::engine::children::written_relations;
use crate::engine::loader::Load;
use crate::engine::write;
use crate::error::Error;
use crate::http::{json_body, json_response, method_not_allowed};
use crate::ledger::idempotency::{self, Attempt};
use crate::registry::{Action, REGISTRY, Relation, ResourceDef, Routes, find};
use crate::tenant::Tenant;
use crate::webhooks::target;

/// The methods each kind of path answers, for 405 responses and their `Allow`.
const COLLECTION_METHODS: &str = "GET, HEAD, POST";
const RECORD_METHODS: &str = "GET, HEAD, PATCH, PUT, DELETE";
const SINGLETON_METHODS: &str = "GET, HEAD, PATCH, PUT";
const READ_METHODS: &str = "GET, HEAD";

/// The routes of one resource, as its description asks.
pub fn routes(def: &'static ResourceDef) -> Router<AppState> {
    match def.routes {
        Routes::Crud => crud_routes(def),
        Routes::Singleton => Router::new().route(
            &format!("/api/{}", def.name),
            get(move |state, request| singleton::show(def, state, request))
                .patch(move |state, request| singleton::update(def, state, request))
                .put(move |state, request| singleton::update(def, state, request))
                .fallback(|request: Request| async move {
                    method_not_allowed(&request, SINGLETON_METHODS)
                }),
        ),
        Routes::None => Router::new(),
    }
}

/// `/api/<name>` and `/api/<name>/{id}`.
fn crud_routes(def: &'static ResourceDef) -> Router<AppState> {
    let router = Router::new()
        .route(
            &format!("/api/{}", def.name),
            get(move |state, request| index(def, state, request))
                .post(move |state, request| store(def, state, request))
                .fallback(|request: Request| async move {
                    method_not_allowed(&request, COLLECTION_METHODS)
                }),
        )
        .route(
            &format!("/api/{}/{{id}}", def.name),
            get(move |state, request| show(def, state, request))
                .patch(move |state, request| update(def, state, request))
                .put(move |state, request| update(def, state, request))
                .delete(move |state, request| destroy(def, state, request))
                .fallback(|request: Request| async move {
                    method_not_allowed(&request, RECORD_METHODS)
                }),
        );
    if def.name != "user" {
        return router;
    }
    // The token's own user (`spec/cirqll.md` §6.3); a static segment wins over `{id}`.
    let me = get(move |state, request| me(def, state, request))
        .fallback(|request: Request| async move { method_not_allowed(&request, READ_METHODS) });
    router
        .route("/api/user/me", me.clone())
        .route("/api/me", me)
}

/// Authenticates the request and checks the token's scope and the role's permission for
/// `action` on `def`.
pub(crate) fn permitted<'a>(
    state: &'a AppState,
    request: &Request,
    def: &'a ResourceDef,
    action: Action,
) -> impl Future<Output = Result<Tenant, Error>> + Send + 'a {
    // The caller is read from the request now: the request cannot be held across an await.
    let caller = Caller::of(request);
    async move { authorize(state, &caller, Some((def, action))).await }
}

/// A resource whose creation is a sensitive flow allows only so many creates a minute per user.
async fn within_create_quota(
    state: &AppState,
    def: &ResourceDef,
    tenant: Tenant,
) -> Result<(), Error> {
    let Some(quota) = def.create_quota else {
        return Ok(());
    };
    let key = format!("create-{}:{}", def.name, tenant.user_id);
    state.limiter.enforce(&key, quota).await
}

/// The `{id}` segment. Ids are positive integers; anything else cannot name a record, so it is a
/// 404 like any unknown id.
pub(crate) fn record_id(def: &ResourceDef, request: &Request) -> Result<i64, Error> {
    let raw = request.uri().path().rsplit('/').next().unwrap_or("");
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::NotFound {
            resource: def.name,
            id: kring_core::query::truncate(raw, 40),
        })
}

/// What a write's response shows: the record and what its body can write besides the row.
fn written(def: &'static ResourceDef) -> Plan {
    embedding(written_relations(def))
}

/// The plan that embeds `relations` whole (every column, no children), as `with` would.
pub(crate) fn embedding(relations: impl Iterator<Item = &'static Relation>) -> Plan {
    let with = relations
        .filter_map(|relation| {
            Some(Load {
                relation,
                target: find(relation.target)?,
                select: None,
                children: Vec::new(),
            })
        })
        .collect();
    Plan {
        with,
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
    request: &Request,
    kind: PlanKind,
) -> Result<Plan, Error> {
    let pairs = parse_query_string(request.uri().query().unwrap_or(""));
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(Error::BadBody(Message::new("http.nul_character")));
    }
    plan(&pairs, def, &REGISTRY, kind).map_err(Error::BadQuery)
}

/// Every routed resource a plan reaches besides its own, through `with`, a dotted `show`,
/// `count` or a filter's path. Resources without routes (company, field values, the activity
/// log) are part of their parent and need no permission of their own.
fn reached(plan: &Plan) -> BTreeSet<&'static str> {
    fn walk(nodes: &[Load], into: &mut BTreeSet<&'static str>) {
        for node in nodes {
            into.insert(node.target.name);
            walk(&node.children, into);
        }
    }
    fn hops(filter: &Filter, into: &mut BTreeSet<&'static str>) {
        match filter {
            Filter::All(items) | Filter::Any(items) => items.iter().for_each(|f| hops(f, into)),
            Filter::Cond(condition) => into.extend(condition.hops.iter().map(|h| h.target.name)),
        }
    }
    let mut targets = BTreeSet::new();
    walk(&plan.with, &mut targets);
    targets.extend(plan.count.iter().map(|c| c.target.name));
    if let Some(filter) = &plan.filter {
        hops(filter, &mut targets);
    }
    targets.retain(|name| find(name).is_some_and(|def| def.routes != Routes::None));
    targets
}

/// Refuses a plan that reads resources the caller may not read (T19: related records appear
/// only to those who may see them).
pub(crate) async fn may_reach(
    state: &AppState,
    caller: &Caller,
    tenant: Tenant,
    plan: &Plan,
) -> Result<(), Error> {
    let targets = reached(plan);
    if targets.is_empty() {
        return Ok(());
    }
    let readable = readable_resources(state, caller, tenant).await?;
    if targets.iter().all(|t| readable.contains(t)) {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
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
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, def, Action::View).await?;
    let plan = query_plan(def, &request, PlanKind::Index)?;
    may_reach(&state, &Caller::of(&request), tenant, &plan).await?;
    let list = engine::index(&state.db, def, tenant, &plan).await?;
    Ok(planned_response(StatusCode::OK, &list, &plan))
}

async fn show(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, def, Action::View).await?;
    let id = record_id(def, &request)?;
    let plan = query_plan(def, &request, PlanKind::Show)?;
    may_reach(&state, &Caller::of(&request), tenant, &plan).await?;
    let record = engine::show(&state.db, def, tenant, id, &plan).await?;
    Ok(planned_response(StatusCode::OK, &record, &plan))
}

async fn me(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    // Everyone may see who they are, whatever their role.
    let caller = Caller::of(&request);
    let tenant = authorize(&state, &caller, None).await?;
    let plan = query_plan(def, &request, PlanKind::Show)?;
    may_reach(&state, &caller, tenant, &plan).await?;
    let record = engine::show(&state.db, def, tenant, tenant.user_id, &plan).await?;
    Ok(planned_response(StatusCode::OK, &record, &plan))
}

async fn store(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, def, Action::Create).await?;
    within_create_quota(&state, def, tenant).await?;
    let (key, path) = (idempotency::key_of(request.headers())?, path_of(&request));
    let body = json_body(request, state.config.body_limit).await?;
    let fingerprint = idempotency::fingerprint("POST", &path, Some(&body));
    idempotency::run(&state, tenant, key, fingerprint, |attempt| {
        let (state, body) = (&state, &body);
        async move {
            let record = match attempt {
                Attempt::Run => {
                    vet_targets(state, def, body, Mode::Create).await?;
                    let (id, record) = write::store(&state.db, def, tenant, body).await?;
                    with_written(state, def, tenant, id, record).await?
                }
                Attempt::Recover { .. } => {
                    let id = attempt.created()?;
                    engine::show(&state.db, def, tenant, id, &written(def)).await?
                }
            };
            Ok((StatusCode::CREATED, Some(record)))
        }
    })
    .await
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

fn path_of(request: &Request) -> String {
    request.uri().path().to_string()
}

async fn update(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, def, Action::Update).await?;
    let id = record_id(def, &request)?;
    let (key, path) = (idempotency::key_of(request.headers())?, path_of(&request));
    let body = json_body(request, state.config.body_limit).await?;
    // PUT and PATCH are one operation here, so they share a fingerprint.
    let fingerprint = idempotency::fingerprint("PATCH", &path, Some(&body));
    idempotency::run(&state, tenant, key, fingerprint, |attempt| {
        let (state, body) = (&state, &body);
        async move {
            let record = match attempt {
                Attempt::Run => {
                    vet_targets(state, def, body, Mode::Update).await?;
                    let record = write::update(&state.db, def, tenant, id, body).await?;
                    with_written(state, def, tenant, id, record).await?
                }
                Attempt::Recover { .. } => {
                    engine::show(&state.db, def, tenant, id, &written(def)).await?
                }
            };
            Ok((StatusCode::OK, Some(record)))
        }
    })
    .await
}

async fn destroy(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, def, Action::Delete).await?;
    let id = record_id(def, &request)?;
    let key = idempotency::key_of(request.headers())?;
    let fingerprint = idempotency::fingerprint("DELETE", &path_of(&request), None);
    idempotency::run(&state, tenant, key, fingerprint, |attempt| {
        let state = &state;
        async move {
            if attempt == Attempt::Run {
                write::destroy(&state.db, def, tenant, id).await?;
                state.files.wake_sweeper();
            }
            Ok((StatusCode::NO_CONTENT, None))
        }
    })
    .await
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
