//! The HTTP surface: the one route table, the middleware stack, and body and response helpers.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kring_core::i18n::{Locale, Message};
use serde_json::{Map, Value as Json};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

use crate::AppState;
use crate::error::{Error, RenderedError};
use crate::resource::{REGISTRY, deliveries, handlers};

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route Kring serves, for both dialects.
pub fn router(state: AppState) -> Router {
    let limits = state.clone();
    let mut api = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/oauth/scopes", get(scopes))
        .route("/api/changes", get(crate::events::feed))
        .route(
            "/api/webhook/{id}/deliveries",
            get(deliveries::list).fallback(|request: Request| async move {
                method_not_allowed(&request, "GET, HEAD")
            }),
        )
        .route(
            "/api/webhook/{id}/deliveries/{delivery}/redeliver",
            post(deliveries::redeliver)
                .fallback(|request: Request| async move { method_not_allowed(&request, "POST") }),
        )
        .route(
            "/api/webhook/{id}/test",
            post(deliveries::send_test)
                .fallback(|request: Request| async move { method_not_allowed(&request, "POST") }),
        )
        .route(
            "/api/webhook/{id}/rotate-secret",
            post(deliveries::rotate_secret)
                .fallback(|request: Request| async move { method_not_allowed(&request, "POST") }),
        )
        .merge(crate::oauth::routes())
        .merge(crate::manageit::routes());
    for def in REGISTRY {
        api = api.merge(handlers::routes(def));
    }
    api.fallback(route_not_found)
        .method_not_allowed_fallback(|request: Request| async move {
            method_not_allowed(&request, "GET, HEAD")
        })
        .with_state(state)
        .layer(middleware::from_fn_with_state(
            limits,
            crate::rate_limit::middleware,
        ))
        .layer(middleware::from_fn(localize))
        .layer(middleware::from_fn(log_request))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), RandomRequestId))
        .layer(CatchPanicLayer::custom(|_| {
            Error::Internal("a handler panicked".into()).into_response()
        }))
}

async fn health() -> Response {
    json_response(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> Result<Response, Error> {
    state
        .db
        .ping()
        .await
        .map_err(|e| Error::Unavailable(format!("database not reachable: {e}")))?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "status": "ready" }),
    ))
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

/// Picks the language from `Accept-Language`, renders errors in it, and says which it used.
async fn localize(request: Request, next: Next) -> Response {
    let locale = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Locale::from_accept_language)
        .unwrap_or_default();
    let mut response = next.run(request).await;
    if locale != Locale::En
        && let Some(RenderedError(error)) = response.extensions().get::<RenderedError>().cloned()
    {
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        response = Response::from_parts(parts, Body::from(error.body(locale).to_string()));
    }
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(locale.code()),
    );
    response
}

/// A 405 for `request`, naming the methods its path does answer.
pub fn method_not_allowed(request: &Request, allowed: &'static str) -> Error {
    Error::MethodNotAllowed {
        method: request.method().to_string(),
        path: request.uri().path().trim_start_matches('/').to_string(),
        allowed,
    }
}

/// One line per request: method, path, status, latency and request id.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_string();
    let response = next.run(request).await;
    let latency: Duration = started.elapsed();
    tracing::info!(
        target: "kring::http",
        %method,
        path,
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        request_id,
        "request"
    );
    response
}

#[derive(Clone)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok()?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Where this server is reached, for absolute URLs in responses (OAuth metadata, download
/// links): the configured public URL, else the request's `Host` (when it looks like a host)
/// with `http://`, as a server behind a proxy cannot know the scheme it is served under.
pub fn public_base(config: &crate::Config, headers: &axum::http::HeaderMap) -> String {
    if let Some(url) = &config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

pub fn json_response(status: StatusCode, body: &Json) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// Reads a JSON object body (or a flat form body) up to `limit` bytes.
///
/// No body, or an empty one, is an empty object: a PATCH that changes nothing is valid, and a
/// create without a body reports its required fields like Laravel does.
pub async fn json_body(request: Request, limit: usize) -> Result<Map<String, Json>, Error> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let body = request.into_body();
    if declared_length.is_some_and(|n| n > limit) {
        drain(body, DRAIN_CAP).await;
        return Err(Error::PayloadTooLarge { limit });
    }
    let bytes = read_limited(body, limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let map = match media_type {
        "" | "application/json" => parse_json_object(&bytes),
        t if t.starts_with("application/") && t.ends_with("+json") => parse_json_object(&bytes),
        "application/x-www-form-urlencoded" => parse_form(&bytes),
        other => Err(Error::UnsupportedMediaType {
            content_type: kring_core::query::truncate(other, 60),
            expected: "application/json or application/x-www-form-urlencoded",
        }),
    }?;
    if map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)) {
        return Err(Error::BadBody(Message::new("http.nul_character")));
    }
    Ok(map)
}

/// Text with a NUL character: PostgreSQL cannot store it, and no CRM field needs it.
fn holds_nul(value: &Json) -> bool {
    match value {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(holds_nul),
        Json::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// How much of an oversized body is read and thrown away before answering 413. A client that
/// is still sending when the server closes the connection sees a reset instead of the answer;
/// reading a bounded amount lets ordinary clients get the 413.
pub(crate) const DRAIN_CAP: usize = 16 * 1024 * 1024;

async fn next_chunk(body: &mut Body) -> Option<Result<axum::body::Bytes, axum::Error>> {
    use axum::body::HttpBody;
    loop {
        let frame =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await?;
        match frame.map(|f| f.into_data()) {
            Ok(Ok(data)) => return Some(Ok(data)),
            Ok(Err(_trailers)) => continue,
            Err(e) => return Some(Err(e)),
        }
    }
}

pub(crate) async fn drain(mut body: Body, cap: usize) {
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = next_chunk(&mut body).await {
        seen += chunk.len();
        if seen > cap {
            break;
        }
    }
}

/// Reads at most `limit` bytes; past that, drains a bounded amount and answers 413.
pub(crate) async fn read_limited(mut body: Body, limit: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await {
        let chunk = chunk.map_err(|e| {
            Error::BadBody(Message::new("http.invalid_json").with("detail", e.to_string()))
        })?;
        if bytes.len() + chunk.len() > limit {
            drain(body, DRAIN_CAP).await;
            return Err(Error::PayloadTooLarge { limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

pub(crate) fn parse_json_object(bytes: &[u8]) -> Result<Map<String, Json>, Error> {
    match serde_json::from_slice::<Json>(bytes) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(_) => Err(Error::BadBody(Message::new("http.body_not_object"))),
        Err(e) => Err(Error::BadBody(
            Message::new("http.invalid_json").with("detail", e.to_string()),
        )),
    }
}

/// A form body in PHP's bracket notation (`field_values[0][value]=gold`), as Laravel reads it:
/// values are strings, coerced later by each column's type.
fn parse_form(bytes: &[u8]) -> Result<Map<String, Json>, Error> {
    let tree = kring_core::form::parse_urlencoded(bytes, &kring_core::form::Limits::default())
        .map_err(|e| Error::BadBody(e.message()))?;
    match tree.to_json() {
        Json::Object(map) => Ok(map),
        // PHP's `json_encode` makes an array of keys 0..n; a body is still an object of fields.
        Json::Array(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect()),
        _ => Ok(Map::new()),
    }
}
