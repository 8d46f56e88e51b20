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

/// Where this server is reached, for absolute URLs in responses (OAuth metadata, download
/// links): the configured public URL, else the request's `Host` (when it looks like a host)
/// with `http://`, as a server behind a proxy cannot know the scheme it is served under.
pub fn public_base(config: &crate::config::Config, headers: &axum::http::HeaderMap) -> String {
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
