//! The middleware around every route: CORS for the allowed origins, request ids, one log line
//! per request, the language of errors, and a panic caught as a 500.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use kring_core::i18n::Locale;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

use crate::error::{Error, RenderedError};

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
