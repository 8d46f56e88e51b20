//! The generic HTTP handlers, mounted once per registered resource. Each one authenticates,
//! checks the permission, parses its input and hands over to the engine; none knows SQL.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kring_core::query::{Page, parse_query_string};

use super::engine::{self, Scope};
use super::{Action, ResourceDef};
use crate::AppState;
use crate::auth::authorize;
use crate::error::Error;
use crate::http::{json_body, json_response, method_not_allowed};

/// The methods each of a resource's two paths answers, for 405 responses and their `Allow`.
const COLLECTION_METHODS: &str = "GET, HEAD, POST";
const RECORD_METHODS: &str = "GET, HEAD, PATCH, PUT, DELETE";

/// `/api/<name>` and `/api/<name>/{id}` for one resource.
pub fn routes(def: &'static ResourceDef) -> Router<AppState> {
    Router::new()
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
        )
}

/// Authenticates the request and checks the role's permission for `action` on `def`.
async fn permitted(
    state: &AppState,
    headers: &HeaderMap,
    def: &ResourceDef,
    action: Action,
) -> Result<Scope, Error> {
    authorize(&state.db, headers, &def.permission(action)).await
}

/// The `{id}` segment. Ids are positive integers; anything else cannot name a record, so it is a
/// 404 like any unknown id.
fn record_id(def: &ResourceDef, request: &Request) -> Result<i64, Error> {
    let raw = request.uri().path().rsplit('/').next().unwrap_or("");
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::NotFound {
            resource: def.name,
            id: kring_core::query::truncate(raw, 40),
        })
}

async fn index(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let scope = permitted(&state, request.headers(), def, Action::View).await?;
    let pairs = parse_query_string(request.uri().query().unwrap_or(""));
    let page = Page::parse(&pairs).map_err(Error::BadQuery)?;
    let list = engine::index(&state.db, def, scope, page).await?;
    Ok(json_response(StatusCode::OK, &list))
}

async fn show(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let scope = permitted(&state, request.headers(), def, Action::View).await?;
    let record = engine::show(&state.db, def, scope, record_id(def, &request)?).await?;
    Ok(json_response(StatusCode::OK, &record))
}

async fn store(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let scope = permitted(&state, request.headers(), def, Action::Create).await?;
    let body = json_body(request, state.config.body_limit).await?;
    let record = engine::store(&state.db, def, scope, &body).await?;
    Ok(json_response(StatusCode::CREATED, &record))
}

async fn update(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let scope = permitted(&state, request.headers(), def, Action::Update).await?;
    let id = record_id(def, &request)?;
    let body = json_body(request, state.config.body_limit).await?;
    let record = engine::update(&state.db, def, scope, id, &body).await?;
    Ok(json_response(StatusCode::OK, &record))
}

async fn destroy(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let scope = permitted(&state, request.headers(), def, Action::Delete).await?;
    engine::destroy(&state.db, def, scope, record_id(def, &request)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
