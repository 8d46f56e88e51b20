//! The one route table: health, both dialects, webhook operations, the change feed, OAuth and
//! files, wrapped in the middleware every request passes.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::api::cirqll::{resources as handlers, webhooks as deliveries};
use crate::error::Error;
use crate::http::extract::RouteResource;
use crate::http::served::Route;
use crate::http::{self, Served, json_response, method_not_allowed};
use crate::registry::REGISTRY;
use crate::registry::defs::webhook::WEBHOOK;
use crate::state::AppState;

/// Every route Kring serves, for both dialects, wrapped in the middleware every request passes.
pub fn router(state: AppState) -> Router {
    let limits = state.limiter.clone();
    let cors_origins = state.config.cors_origins.clone();
    let precision = state.config.timestamp_precision;
    let api = table()
        .router
        .fallback(route_not_found)
        .method_not_allowed_fallback(|request: Request| async move {
            method_not_allowed(&request, "GET, HEAD")
        })
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            limits,
            crate::auth::rate_limit::middleware,
        ));
    http::middleware::around(api, &cors_origins, precision)
}

/// Every route with the methods it answers: what [`router`] serves.
pub fn served() -> Vec<Route> {
    table().routes
}

fn table() -> Served<AppState> {
    let webhook_operations = Served::new()
        .route(
            "/api/webhook/{id}/deliveries",
            "GET, HEAD",
            get(deliveries::list),
        )
        .route(
            "/api/webhook/{id}/deliveries/{delivery}/redeliver",
            "POST",
            post(deliveries::redeliver),
        )
        .route(
            "/api/webhook/{id}/test",
            "POST",
            post(deliveries::send_test),
        )
        .route(
            "/api/webhook/{id}/rotate-secret",
            "POST",
            post(deliveries::rotate_secret),
        )
        .map(|router| router.route_layer(RouteResource::layer(&WEBHOOK)));
    let mut table = Served::new()
        .route("/health", "GET, HEAD", get(health))
        .route("/ready", "GET, HEAD", get(ready))
        .route("/oauth/scopes", "GET, HEAD", get(scopes))
        .route("/openapi.json", "GET, HEAD", get(openapi))
        .route("/metrics", "GET, HEAD", get(guarded_metrics))
        .route("/docs", "GET, HEAD", get(crate::openapi::docs::page))
        .route("/docs/{file}", "GET, HEAD", get(crate::openapi::docs::file))
        .route(
            "/api/changes",
            "GET, HEAD",
            get(crate::api::cirqll::changes::feed),
        )
        .merge(webhook_operations)
        .merge(crate::oauth::routes())
        .merge(crate::api::manageit::routes());
    for def in REGISTRY {
        table = table.merge(handlers::routes(def));
    }
    table.map(|router| router.route_layer(middleware::from_fn(http::middleware::mark_route)))
}

/// What `--metrics-bind` serves: `/metrics` alone, without a token.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `/metrics` on the API's port: only with `--metrics-token`, and only for a request that
/// brings it.
async fn guarded_metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(expected) = state.config.metrics_token.as_deref() else {
        return Error::SwitchedOff(kring_core::i18n::Message::new("http.metrics_off"))
            .into_response();
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compared as digests, so the time taken says nothing about the token.
    if crate::crypto::sha256_hex(given) != crate::crypto::sha256_hex(expected) {
        return Error::Unauthenticated.into_response();
    }
    metrics(State(state)).await
}

/// The Prometheus text: the counters and histograms recorded so far, and gauges read now.
async fn metrics(State(state): State<AppState>) -> Response {
    match scrape(&state.db).await {
        Ok(scraped) => crate::telemetry::set_scraped(&scraped),
        Err(e) => tracing::warn!(error = %e, "reading the metrics' gauges failed"),
    }
    let Some(text) = crate::telemetry::render() else {
        return Error::Internal("no metrics recorder".into()).into_response();
    };
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn scrape(db: &crate::db::Db) -> Result<crate::telemetry::Scraped, Error> {
    let outbox = crate::webhooks::outbox_state(db).await?;
    Ok(crate::telemetry::Scraped {
        pools: db.pools(),
        outbox_pending: outbox.pending,
        outbox_oldest_seconds: outbox.oldest_pending_seconds,
        webhooks_disabled: outbox.disabled_subscriptions,
    })
}

async fn health() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// How long `/ready` waits for each database check.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// 200 when the database answers a read and opens a write within [`READY_WITHIN`], otherwise
/// 503; either way with what each check found.
async fn ready(State(state): State<AppState>) -> Response {
    let probe = state.db.probe(READY_WITHIN).await;
    let outcome = |check: &Result<(), Error>| match check {
        Ok(()) => serde_json::json!("ok"),
        Err(Error::QueryTimeout) => {
            serde_json::json!(format!("no answer within {} s", READY_WITHIN.as_secs()))
        }
        // Anyone may ask `/ready`: an internal error's detail goes to the log only.
        Err(Error::Internal(detail)) => {
            tracing::warn!(error = %detail, "a readiness check failed");
            serde_json::json!("failed; the server log says why")
        }
        Err(e) => serde_json::json!(e.to_string()),
    };
    let ready = probe.reads.is_ok() && probe.writes.is_ok();
    let (status, word) = match ready {
        true => (StatusCode::OK, "ready"),
        false => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
    };
    // A rate-limit store that does not answer is reported, not fatal: requests are then
    // counted in process.
    let limits = match state.limiter.degraded() {
        None => serde_json::json!("ok"),
        Some(why) => serde_json::json!(why),
    };
    json_response(
        status,
        &serde_json::json!({
            "status": word,
            "checks": {
                "database_reads": outcome(&probe.reads),
                "database_writes": outcome(&probe.writes),
                "rate_limit_store": limits,
            },
        }),
    )
}

/// The OpenAPI document, made once: it depends on nothing but the build.
async fn openapi() -> Response {
    static DOCUMENT: std::sync::LazyLock<serde_json::Value> =
        std::sync::LazyLock::new(crate::openapi::document);
    json_response(StatusCode::OK, &DOCUMENT)
}

/// Passport's scope list: `[{"id": "customers:read", "description": "…"}, …]`.
async fn scopes() -> Response {
    let scopes: Vec<serde_json::Value> = crate::auth::all_scopes()
        .into_iter()
        .map(|(id, description)| serde_json::json!({ "id": id, "description": description }))
        .collect();
    json_response(StatusCode::OK, &serde_json::Value::Array(scopes))
}

async fn route_not_found(request: Request) -> Error {
    Error::RouteNotFound {
        path: request.uri().path().trim_start_matches('/').to_string(),
    }
}
