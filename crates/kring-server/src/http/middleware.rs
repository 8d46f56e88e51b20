//! The middleware around every route: CORS for the allowed origins, request ids, one log line
//! per request, the language of errors, and a panic caught as a 500.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use kring_core::i18n::Locale;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

use crate::error::{Error, RenderedError};
use crate::tenant::Tenant;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `routes` in the layers every request passes, the outermost last; CORS outside them
/// all, so a preflight to any route is answered before anything asks for a token.
pub fn around(routes: Router, cors_origins: &[String], timestamp_digits: usize) -> Router {
    let routes = match timestamp_digits {
        6.. => routes,
        digits => routes.layer(middleware::from_fn_with_state(digits, timestamp_precision)),
    };
    let routes = inner_layers(routes);
    match cors(cors_origins) {
        Some(cors) => routes.layer(cors),
        None => routes,
    }
}

fn inner_layers(routes: Router) -> Router {
    routes
        .layer(middleware::from_fn(api_headers))
        .layer(middleware::from_fn(localize))
        .layer(middleware::from_fn(log_request))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), RandomRequestId))
        .layer(CatchPanicLayer::custom(|_| {
            Error::Internal("a handler panicked".into()).into_response()
        }))
}

/// Headers a browser app may send: the API's own, besides those CORS always allows.
const CORS_REQUEST_HEADERS: [HeaderName; 5] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT_LANGUAGE,
    HeaderName::from_static("idempotency-key"),
    HeaderName::from_static("x-http-method-override"),
];

/// Response headers a browser app may read: budgets, replays, ids, links.
const CORS_EXPOSED_HEADERS: [HeaderName; 9] = [
    HeaderName::from_static("x-ratelimit-limit"),
    HeaderName::from_static("x-ratelimit-remaining"),
    HeaderName::from_static("x-ratelimit-used"),
    HeaderName::from_static("x-ratelimit-reset"),
    header::RETRY_AFTER,
    HeaderName::from_static("idempotent-replayed"),
    HeaderName::from_static("x-request-id"),
    header::LOCATION,
    header::LINK,
];

/// CORS for `origins` (`--cors-origins`): none, some (each `scheme://host[:port]`), or `*`
/// for any. Never with credentials: Kring's API authenticates with bearer tokens, not cookies,
/// so a browser has no ambient authority to lend a foreign origin.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allowed = match origins.iter().any(|o| o == "*") {
        true => AllowOrigin::any(),
        false => AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')).ok()),
        ),
    };
    Some(
        CorsLayer::new()
            .allow_origin(allowed)
            .allow_methods([
                axum::http::Method::GET,
                axum::http::Method::HEAD,
                axum::http::Method::POST,
                axum::http::Method::PUT,
                axum::http::Method::PATCH,
                axum::http::Method::DELETE,
            ])
            .allow_headers(CORS_REQUEST_HEADERS)
            .expose_headers(CORS_EXPOSED_HEADERS)
            .max_age(Duration::from_secs(600)),
    )
}

/// Where authentication leaves the caller's company locale, for a request that names no
/// language of its own.
#[derive(Clone, Default)]
pub struct LocaleSlot(pub Arc<OnceLock<Locale>>);

/// Picks the language from `Accept-Language`, else the caller's company's `locale` setting
/// once authentication knows the caller, else English; renders errors in it, and says which
/// it used.
async fn localize(mut request: Request, next: Next) -> Response {
    let asked = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Locale::from_accept_language);
    let slot = LocaleSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let locale = asked.or_else(|| slot.0.get().copied()).unwrap_or_default();
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

/// Writes the timestamps of a JSON answer with `digits` fractional digits (Kring keeps and
/// shapes six; `--timestamp-precision` asks for fewer). Only mounted when it is fewer: every
/// JSON body is then read, rewritten and sent again, which costs what a second serialisation
/// costs. A text value that is itself exactly such a timestamp is cut too.
async fn timestamp_precision(
    axum::extract::State(digits): axum::extract::State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Kring's own answers are bounded by the page caps; the limit only guards the reading.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return Error::Internal("an answer too large to rewrite".into()).into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    cut_timestamps(&mut value, digits);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

fn cut_timestamps(value: &mut serde_json::Value, digits: usize) {
    match value {
        serde_json::Value::String(text) => {
            if let Some(cut) = kring_core::time::with_precision(text, digits) {
                *text = cut;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| cut_timestamps(v, digits)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| cut_timestamps(v, digits)),
        _ => {}
    }
}

/// What every JSON answer under `/api` carries (security plan T62): it is never sniffed as
/// another type, and no cache keeps it (it holds a tenant's data).
async fn api_headers(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if api && json {
        let headers = response.headers_mut();
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

/// What the router and the handlers learn about a request that its log line and metrics
/// report: the route template it matched and the caller. Each is set once, read after the
/// answer.
#[derive(Clone, Default)]
pub struct Facts(Arc<(OnceLock<String>, OnceLock<Tenant>)>);

impl Facts {
    pub fn matched(&self, route: &str) {
        let _ = self.0.0.set(route.to_string());
    }

    pub fn caller(&self, tenant: Tenant) {
        let _ = self.0.1.set(tenant);
    }
}

/// Inside the router: notes the route template the request matched.
pub async fn mark_route(request: Request, next: Next) -> Response {
    if let (Some(route), Some(facts)) = (
        request.extensions().get::<MatchedPath>(),
        request.extensions().get::<Facts>(),
    ) {
        facts.matched(route.as_str());
    }
    next.run(request).await
}

/// A W3C `traceparent` (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`) when the
/// caller sent a well-formed one: its trace id, and the header to echo.
fn traceparent(request: &Request) -> Option<(String, HeaderValue)> {
    let value = request.headers().get("traceparent")?;
    let text = value.to_str().ok()?;
    let parts: Vec<&str> = text.split('-').collect();
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let [version, trace, span, flags] = parts.as_slice() else {
        return None;
    };
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    let valid = hex(version, 2)
        && *version != "ff"
        && hex(trace, 32)
        && !zero(trace)
        && hex(span, 16)
        && !zero(span)
        && hex(flags, 2);
    valid.then(|| (trace.to_ascii_lowercase(), value.clone()))
}

/// One line per request (method, route template, status, latency, request id, the caller's
/// company and user, the trace id) and its metrics. Never the path's ids, the query, a header's
/// value or a body: tokens and signed links live there.
async fn log_request(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_string();
    let trace = traceparent(&request);
    let facts = Facts::default();
    request.extensions_mut().insert(facts.clone());
    let mut response = next.run(request).await;
    let latency: Duration = started.elapsed();
    let route = facts.0.0.get().map_or("unmatched", String::as_str);
    let caller = facts.0.1.get();
    let status = response.status().as_u16();
    crate::telemetry::request(route, method.as_str(), status, latency);
    tracing::info!(
        target: "kring::http",
        %method,
        route,
        status,
        latency_ms = latency.as_secs_f64() * 1000.0,
        request_id,
        company_id = caller.map(|t| t.company_id),
        user_id = caller.map(|t| t.user_id),
        trace_id = trace.as_ref().map(|(id, _)| id.as_str()),
        "request"
    );
    if let Some((_, header)) = trace {
        response.headers_mut().insert("traceparent", header);
    }
    response
}

#[derive(Clone)]
struct RandomRequestId;

/// Request ids are this process's random prefix and a count: unique across instances and
/// restarts without reading the system's random source for every request.
fn next_request_id() -> String {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // Without a random source, the time still tells processes apart.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |t| t.subsec_nanos());
            bytes = u64::from(nanos).to_le_bytes();
        }
        u64::from_le_bytes(bytes)
    });
    let count = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix:016x}{count:016x}")
}

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&next_request_id())
            .ok()
            .map(RequestId::new)
    }
}
