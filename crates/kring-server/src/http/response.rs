//! Responses: JSON bodies, 405s and the server's public base URL.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;

use crate::error::Error;

/// A 405 for `request`, naming the methods its path does answer.
pub fn method_not_allowed(request: &Request, allowed: &'static str) -> Error {
    Error::MethodNotAllowed {
        method: request.method().to_string(),
        path: request.uri().path().trim_start_matches('/').to_string(),
        allowed,
    }
}

/// `methods`, with a 405 that names `allowed` for any other method (the route table's own
/// fallback cannot know a route's methods).
pub fn answering<S>(
    allowed: &'static str,
    methods: axum::routing::MethodRouter<S>,
) -> axum::routing::MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    methods.fallback(move |request: Request| async move { method_not_allowed(&request, allowed) })
}

/// Where this server is reached, for absolute URLs in responses (OAuth metadata, download
/// links): the configured public URL, else the request's `Host` when it is allowed (421
/// otherwise)
/// with `http://`, as a server behind a proxy cannot know the scheme it is served under.
pub fn public_base(
    config: &crate::config::Config,
    headers: &axum::http::HeaderMap,
) -> Result<String, Error> {
    if let Some(url) = &config.public_url {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    if !host_allowed(host, &config.allowed_hosts) {
        return Err(Error::MisdirectedHost {
            host: kring_core::query::truncate(host, 100),
        });
    }
    Ok(format!("http://{host}"))
}

/// Without `--public-url`, absolute URLs may follow only a `Host` on this machine (loopback,
/// any port) or one named with `--allowed-host`; anything else could be a spoofed `Host`
/// that would send download links and the OAuth issuer elsewhere.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let well_formed = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if !well_formed {
        return false;
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback
        || allowed
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(name))
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
