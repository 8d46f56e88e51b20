//! The OAuth 2.0 authorization server (`spec/cirqll.md` §7, Passport's routes under `/oauth`)
//! to the standard of RFC 9700: authorization code with PKCE S256 only, refresh tokens rotated
//! on every use with replay detection, client credentials for confidential clients. Tokens are
//! opaque random strings stored as SHA-256 hashes, like personal access tokens, and checked by
//! the same lookup.

pub mod authorize;
pub mod clients;
pub mod grants;
mod manage;

use crate::http::Served;
use axum::routing::{get, post};
use serde_json::{Map, Value as Json};

use crate::error::{Error, OAuthCode};
use crate::state::AppState;

/// Access tokens live an hour; the refresh token renews them for thirty days.
pub const ACCESS_TOKEN_SECONDS: i64 = 3600;
pub const REFRESH_TOKEN_DAYS: i64 = 30;
/// An authorization code is good for one exchange within ten minutes (RFC 6749 §4.1.2).
pub const CODE_MINUTES: i64 = 10;

pub fn routes() -> Served<AppState> {
    use axum::routing::{delete, put};
    Served::new()
        .route(
            "/oauth/authorize",
            "GET, HEAD, POST, DELETE",
            get(authorize::show)
                .post(authorize::decide)
                .delete(authorize::deny),
        )
        .route("/oauth/token", "POST", post(grants::token))
        .route("/oauth/revoke", "POST", post(grants::revoke))
        .route(
            "/oauth/clients",
            "GET, HEAD, POST",
            get(manage::list_clients).post(manage::create_client),
        )
        .route(
            "/oauth/clients/{id}",
            "PUT, DELETE",
            put(manage::update_client).delete(manage::delete_client),
        )
        .route("/oauth/tokens", "GET, HEAD", get(manage::list_tokens))
        .route("/oauth/tokens/{id}", "DELETE", delete(manage::delete_token))
        .route(
            "/.well-known/oauth-authorization-server",
            "GET, HEAD",
            get(metadata),
        )
}

/// RFC 8414 metadata: what this server offers, so clients can configure themselves. Issuer and
/// endpoints follow the public URL, or the request's `Host` without one.
async fn metadata(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, crate::error::Error> {
    let issuer = crate::http::public_base(&state.config, &headers)?;
    let scopes: Vec<String> = crate::auth::all_scopes()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    Ok(crate::http::json_response(
        axum::http::StatusCode::OK,
        &serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth/authorize"),
            "token_endpoint": format!("{issuer}/oauth/token"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        }),
    ))
}

/// An OAuth error with a hint naming what to check.
/// A token or revocation request's body. One that cannot be read is RFC 6749's
/// `invalid_request` (§5.2), so an OAuth client gets the error body it parses; a body too
/// large or of another media type stays an HTTP refusal.
pub async fn endpoint_body(
    request: axum::extract::Request,
    limit: usize,
) -> Result<Map<String, Json>, Error> {
    crate::http::json_body(request, limit)
        .await
        .map_err(|error| match error {
            Error::BadBody(message) => Error::OAuth {
                code: OAuthCode::InvalidRequest,
                hint: message.render(kring_core::i18n::Locale::En),
                basic: false,
            },
            other => other,
        })
}

pub fn oauth_error(code: OAuthCode, hint: &str, basic: bool) -> Error {
    Error::OAuth {
        code,
        hint: hint.to_string(),
        basic,
    }
}

/// A string parameter of a token request (form or JSON body).
pub fn param<'a>(body: &'a Map<String, Json>, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
}

/// `base64url(sha256(verifier))`, the S256 code challenge (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A code verifier as RFC 7636 §4.1 allows: 43 to 128 unreserved characters.
pub fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A scope's letters (`customers:read`, `*`), at most 64 of them.
fn scope_shaped(word: &str) -> bool {
    word.len() <= 64
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":._*-".contains(&b))
}

/// Checks requested scopes (space-separated) against the known ones; none asked means `*`.
pub fn requested_scopes(raw: Option<&str>) -> Result<String, Error> {
    let known = crate::auth::all_scopes();
    let scopes: Vec<&str> = raw.unwrap_or("").split_whitespace().collect();
    if let Some(unknown) = scopes
        .iter()
        .find(|s| !known.iter().any(|(id, _)| id == *s))
    {
        // Named back only when it looks like a scope: the hint must not reflect raw input.
        let hint = match scope_shaped(unknown) {
            true => format!("Check the `{unknown}` scope"),
            false => "Check the requested scopes".to_string(),
        };
        return Err(oauth_error(OAuthCode::InvalidScope, &hint, false));
    }
    Ok(if scopes.is_empty() {
        "*".to_string()
    } else {
        scopes.join(" ")
    })
}
