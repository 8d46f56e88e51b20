//! The server's one error type and its mapping to HTTP, in one place (DESIGN §2 "Errors").
//!
//! An error becomes a response in two steps: [`IntoResponse`] picks the status and renders the
//! English body, and keeps the error in the response's extensions; the locale middleware
//! ([`crate::http::localize`]) renders it again in the request's language. Details of 500s go
//! to the log, never to the client.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kring_core::i18n::{Locale, Message, resource_name};
use kring_core::query::QueryError;
use kring_core::validate::ValidationErrors;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unauthenticated")]
    Unauthenticated,
    /// A bearer token was sent but is unknown, expired or revoked.
    #[error("invalid token")]
    InvalidToken,
    #[error("forbidden")]
    Forbidden,
    /// The token lacks the scope the route needs.
    #[error("missing scope {scope}")]
    MissingScope { scope: String },
    #[error("rate limited")]
    TooManyRequests { retry_after: u64 },
    /// An OAuth 2.0 error (RFC 6749 §5.2), answered in the protocol's own JSON.
    #[error("oauth {}", code.as_str())]
    OAuth {
        code: OAuthCode,
        /// Which parameter or check failed, for the `hint`.
        hint: String,
        /// The client authenticated with HTTP Basic: a 401 must challenge it the same way.
        basic: bool,
    },
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    #[error("no route for {path}")]
    RouteNotFound { path: String },
    /// A route that is off in this configuration (`/metrics` without `--metrics-token`).
    #[error("switched off: {0:?}")]
    SwitchedOff(Message),
    #[error("method {method} not allowed for {path}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: &'static str,
    },
    #[error("bad query parameter")]
    BadQuery(QueryError),
    #[error("bad request body")]
    BadBody(Message),
    #[error("body over {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A form over one of its limits (files, fields, parts), saying which.
    #[error("form over its limits")]
    FormTooLarge(Message),
    #[error("unsupported content type {content_type}")]
    UnsupportedMediaType {
        content_type: String,
        expected: &'static str,
    },
    #[error("validation failed")]
    Validation(ValidationErrors),
    /// Allowed in general, refused for this request, with why (a role above the caller's).
    #[error("refused")]
    Refused(Message),
    /// The request is valid but the current state forbids it (a role still in use).
    #[error("conflict")]
    Conflict(Message),
    /// Well-formed but unusable, with no field to blame (an idempotency key reused).
    #[error("unprocessable")]
    Unprocessable(Message),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The database's storage is full (`SQLITE_FULL`, PostgreSQL's `disk_full`): nothing was
    /// written.
    #[error("storage full")]
    StorageFull,
    /// An upload would not fit in the files directory with its reserve kept free.
    #[error("no room for an upload of {needed} bytes")]
    NoRoomForUpload { needed: u64, free: u64 },
    /// An absolute URL would follow a `Host` this server does not answer for.
    #[error("misdirected host {host}")]
    MisdirectedHost { host: String },
    /// A read ran out of its time budget (`--query-timeout`), or waited that long for a place
    /// among its company's expensive reads.
    #[error("query timed out")]
    QueryTimeout,
    #[error("configuration: {0}")]
    Config(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    pub fn config(e: impl std::fmt::Display) -> Error {
        Error::Config(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthenticated | Error::InvalidToken => StatusCode::UNAUTHORIZED,
            Error::Forbidden | Error::MissingScope { .. } | Error::Refused(_) => {
                StatusCode::FORBIDDEN
            }
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::OAuth { code, .. } => code.status(),
            Error::NotFound { .. } | Error::RouteNotFound { .. } | Error::SwitchedOff(_) => {
                StatusCode::NOT_FOUND
            }
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::BadQuery(_) | Error::BadBody(_) => StatusCode::BAD_REQUEST,
            Error::PayloadTooLarge { .. } | Error::FormTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Validation(_) | Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Unavailable(_) | Error::QueryTimeout => StatusCode::SERVICE_UNAVAILABLE,
            Error::StorageFull | Error::NoRoomForUpload { .. } => StatusCode::INSUFFICIENT_STORAGE,
            Error::MisdirectedHost { .. } => StatusCode::MISDIRECTED_REQUEST,
            Error::Config(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body in `locale`.
    pub fn body(&self, locale: Locale) -> serde_json::Value {
        let message = match self {
            Error::Validation(errors) => return errors.render(locale),
            Error::OAuth { code, hint, .. } => return oauth_body(*code, hint),
            Error::Unauthenticated | Error::InvalidToken => Message::new("http.unauthenticated"),
            Error::Forbidden => Message::new("http.forbidden"),
            Error::MissingScope { .. } => Message::new("http.invalid_scope"),
            Error::TooManyRequests { .. } => Message::new("http.too_many_attempts"),
            Error::NotFound { resource, id } => Message::new("http.not_found")
                .with("resource", resource_name(locale, resource))
                .with("id", id.clone()),
            Error::RouteNotFound { path } => {
                Message::new("http.route_not_found").with("path", path.clone())
            }
            Error::MethodNotAllowed {
                method,
                path,
                allowed,
            } => Message::new("http.method_not_allowed")
                .with("method", method.clone())
                .with("path", path.clone())
                .with("allowed", *allowed),
            Error::BadQuery(QueryError(message))
            | Error::BadBody(message)
            | Error::Conflict(message)
            | Error::Refused(message)
            | Error::SwitchedOff(message)
            | Error::FormTooLarge(message)
            | Error::Unprocessable(message) => message.clone(),
            Error::PayloadTooLarge { limit } => {
                Message::new("http.body_too_large").with("limit", limit.to_string())
            }
            Error::UnsupportedMediaType {
                content_type,
                expected,
            } => Message::new("http.unsupported_media_type")
                .with("type", content_type.clone())
                .with("expected", *expected),
            Error::Unavailable(_) => Message::new("http.service_unavailable"),
            Error::QueryTimeout => Message::new("http.query_timeout"),
            Error::StorageFull => Message::new("http.storage_full"),
            Error::NoRoomForUpload { needed, free } => Message::new("http.upload_no_room")
                .with("needed", needed.to_string())
                .with("free", free.to_string()),
            Error::MisdirectedHost { host } => {
                Message::new("http.misdirected_host").with("host", host.clone())
            }
            Error::Config(_) | Error::Internal(_) => Message::new("http.server_error"),
        };
        json!({ "message": message.render(locale) })
    }
}

/// The error codes of RFC 6749 that Kring answers (§4.1.2.1 and §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    AccessDenied,
    ServerError,
}

impl OAuthCode {
    /// The code as the protocol spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthCode::InvalidRequest => "invalid_request",
            OAuthCode::InvalidClient => "invalid_client",
            OAuthCode::InvalidGrant => "invalid_grant",
            OAuthCode::InvalidScope => "invalid_scope",
            OAuthCode::UnauthorizedClient => "unauthorized_client",
            OAuthCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthCode::AccessDenied => "access_denied",
            OAuthCode::ServerError => "server_error",
        }
    }

    /// League OAuth2 Server's fixed description of the code.
    pub fn description(self) -> &'static str {
        match self {
            OAuthCode::InvalidRequest => {
                "The request is missing a required parameter, includes an invalid parameter \
                 value, includes a parameter more than once, or is otherwise malformed."
            }
            OAuthCode::InvalidClient => "Client authentication failed",
            OAuthCode::InvalidGrant => {
                "The provided authorization grant (e.g., authorization code, resource owner \
                 credentials) or refresh token is invalid, expired, revoked, does not match the \
                 redirection URI used in the authorization request, or was issued to another \
                 client."
            }
            OAuthCode::InvalidScope => "The requested scope is invalid, unknown, or malformed",
            OAuthCode::UnauthorizedClient => "The client is not authorized to use this grant type.",
            OAuthCode::UnsupportedGrantType => {
                "The authorization grant type is not supported by the authorization server."
            }
            OAuthCode::UnsupportedResponseType => {
                "The authorization server does not support obtaining an authorization code using \
                 this method."
            }
            OAuthCode::AccessDenied => {
                "The resource owner or authorization server denied the request."
            }
            OAuthCode::ServerError => {
                "The authorization server encountered an unexpected condition."
            }
        }
    }

    /// A failed client authentication is 401 (RFC 6749 §5.2), a failure of ours 500, the rest
    /// 400.
    pub fn status(self) -> StatusCode {
        match self {
            OAuthCode::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// League OAuth2 Server's error body (`spec/cirqll.md` §7.4): the RFC 6749 code, its fixed
/// description, the hint, and `message` for Laravel clients. Protocol text: never translated.
fn oauth_body(code: OAuthCode, hint: &str) -> serde_json::Value {
    let description = code.description();
    let mut body = serde_json::Map::new();
    body.insert("error".into(), json!(code.as_str()));
    body.insert("error_description".into(), json!(description));
    if !hint.is_empty() {
        body.insert("hint".into(), json!(hint));
    }
    body.insert("message".into(), json!(description));
    serde_json::Value::Object(body)
}

/// Kept in a response's extensions so the locale middleware can render the body again.
#[derive(Clone)]
pub struct RenderedError(pub Arc<Error>);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (status, Json(self.body(Locale::En))).into_response();
        // RFC 6750 §3.1: no error code when no credentials came, `invalid_token` when they did.
        let challenge = match self {
            Error::Unauthenticated => Some("Bearer realm=\"kring\""),
            Error::InvalidToken => Some("Bearer realm=\"kring\", error=\"invalid_token\""),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Error::MissingScope { scope } = &self
            && let Ok(value) = HeaderValue::from_str(&format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scope}\""
            ))
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if let Error::OAuth { basic, code, .. } = &self {
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            if *code == OAuthCode::InvalidClient && *basic {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"OAuth\""),
                );
            }
        }
        if let Error::TooManyRequests { retry_after } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if let Error::MethodNotAllowed { allowed, .. } = &self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allowed));
        }
        if matches!(
            self,
            Error::Unavailable(_)
                | Error::QueryTimeout
                | Error::StorageFull
                | Error::NoRoomForUpload { .. }
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
            .extensions_mut()
            .insert(RenderedError(Arc::new(self)));
        response
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        match e {
            sqlx::Error::PoolTimedOut => Error::Unavailable("database pool timed out".into()),
            // Two requests wrote the same unique value at once; validation saw neither. Or
            // PostgreSQL chose this request to end a deadlock or a serialization conflict
            // (40P01, 40001): trying again succeeds.
            sqlx::Error::Database(db)
                if db.is_unique_violation()
                    || matches!(db.code().as_deref(), Some("40P01" | "40001")) =>
            {
                Error::Conflict(Message::new("http.concurrent_conflict"))
            }
            // SQLite's SQLITE_FULL (13), PostgreSQL's disk_full.
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("13" | "53100")) => {
                Error::StorageFull
            }
            // PostgreSQL's `statement_timeout` (query_canceled), SQLite's interrupt.
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("57014" | "9")) => {
                Error::QueryTimeout
            }
            other => Error::Internal(format!("database: {other}")),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Error {
        Error::Internal(format!("migration: {e}"))
    }
}
