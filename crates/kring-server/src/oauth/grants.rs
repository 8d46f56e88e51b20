//! `POST /oauth/token` and `POST /oauth/revoke` (RFC 6749 §4–6, RFC 7009).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value as Json, json};

use super::clients::{self, Client, constant_time_eq};
use super::{
    ACCESS_TOKEN_SECONDS, REFRESH_TOKEN_DAYS, oauth_error, param, requested_scopes, s256,
    valid_verifier,
};
use crate::auth::{random_secret, sha256_hex};
use crate::db::{Raw, Tx};
use crate::error::{Error, OAuthCode};
use crate::state::AppState;

/// Token requests per minute from one address: enough for any client, too few to guess
/// secrets, codes or refresh tokens.
pub const TOKEN_REQUESTS_PER_MINUTE: u64 = 30;

pub const ACCESS_PREFIX: &str = "kring_oat_";
pub const REFRESH_PREFIX: &str = "kring_ort_";

/// Counts a request from `address` against a per-minute `limit` under `purpose`.
pub async fn throttle(
    state: &AppState,
    purpose: &str,
    address: SocketAddr,
    limit: u64,
) -> Result<(), Error> {
    let key = format!(
        "{purpose}:{}",
        crate::auth::rate_limit::network(address.ip())
    );
    state.limiter.enforce(&key, limit).await
}

/// Failed client authentications per minute for one client from one address. Failures, not
/// requests, so a busy client is never slowed; per address, so guesses from elsewhere cannot
/// shut a client out.
pub const CLIENT_FAILURES_PER_MINUTE: u64 = 10;

/// [`clients::authenticate`], refused with a 429 once this client has failed too often from
/// this address (the right secret too: a guesser must not learn it was right).
async fn authenticate_within_budget(
    state: &AppState,
    address: SocketAddr,
    headers: &axum::http::HeaderMap,
    body: &Map<String, Json>,
) -> Result<Client, Error> {
    let Some(id) = clients::client_id_of(headers, body) else {
        return clients::authenticate(&state.db, headers, body).await;
    };
    let network = crate::auth::rate_limit::network(address.ip());
    let failures = format!("oauth-client-failures:{id}:{network}");
    let limiter = &state.limiter;
    limiter
        .peek(&failures, CLIENT_FAILURES_PER_MINUTE)
        .await
        .check()?;
    let authenticated = clients::authenticate(&state.db, headers, body).await;
    if authenticated.is_err() {
        limiter
            .hit_with(&failures, CLIENT_FAILURES_PER_MINUTE)
            .await;
    }
    authenticated
}

pub async fn token(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Response, Error> {
    throttle(&state, "oauth-token", address, TOKEN_REQUESTS_PER_MINUTE).await?;
    let headers = request.headers().clone();
    let body = super::endpoint_body(request, state.config.body_limit).await?;
    let grant = param(&body, "grant_type").ok_or_else(|| {
        oauth_error(
            OAuthCode::InvalidRequest,
            "Check the `grant_type` parameter",
            false,
        )
    })?;
    if !matches!(
        grant,
        "authorization_code" | "refresh_token" | "client_credentials"
    ) {
        return Err(oauth_error(OAuthCode::UnsupportedGrantType, "", false));
    }
    let client = authenticate_within_budget(&state, address, &headers, &body).await?;
    let mut tx = state.db.begin().await?;
    let outcome = match grant {
        "authorization_code" => code_grant(&mut tx, &client, &body).await,
        "refresh_token" => refresh_grant(&mut tx, &client, &body).await,
        _ => client_credentials_grant(&mut tx, &client, &body).await,
    };
    match outcome {
        Ok(issued) => {
            tx.commit().await?;
            Ok(no_store(issued))
        }
        // The revocation must stick although the request fails.
        Err(Refusal::Replayed { family, hint }) => {
            revoke_family(&mut tx, &family).await?;
            tx.commit().await?;
            Err(invalid_grant(hint))
        }
        Err(Refusal::Error(error)) => Err(error),
    }
}

/// Why a grant was refused: an ordinary error, or a replayed code or refresh token whose whole
/// grant must be revoked before answering.
enum Refusal {
    Error(Error),
    Replayed { family: String, hint: &'static str },
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Refusal {
        Refusal::Error(error)
    }
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store(body: Json) -> Response {
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn invalid_grant(hint: &str) -> Error {
    oauth_error(OAuthCode::InvalidGrant, hint, false)
}

/// The user a token will act for, with the company it belongs to.
async fn company_of(tx: &mut Tx, user_id: i64) -> Result<i64, Error> {
    let rows: Vec<(i64,)> = tx
        .fetch_as(&Raw::new(
            "SELECT company_id FROM users WHERE id = ?",
            vec![user_id.into()],
        ))
        .await?;
    rows.into_iter()
        .next()
        .map(|(company_id,)| company_id)
        .ok_or_else(|| invalid_grant("The user no longer exists"))
}

/// Writes an access token for `scopes` and, for user grants, a refresh token that keeps the
/// grant's full `refresh_scopes` (RFC 6749 §6: narrowing one access token narrows nothing else).
async fn issue(
    tx: &mut Tx,
    client: &Client,
    user_id: i64,
    scopes: &str,
    family: &str,
    refresh_scopes: Option<&str>,
) -> Result<Json, Error> {
    let company_id = company_of(tx, user_id).await?;
    let now = Utc::now();
    let access = format!("{ACCESS_PREFIX}{}", random_secret()?);
    tx.execute(&Raw::new(
        "INSERT INTO personal_access_tokens (company_id, user_id, name, token_hash, scopes, \
         expires_at, revoked, created_at, client_id, family) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            company_id.into(),
            user_id.into(),
            client.name.clone().into(),
            sha256_hex(&access).into(),
            scopes.into(),
            (now + Duration::seconds(ACCESS_TOKEN_SECONDS)).into(),
            false.into(),
            now.into(),
            client.id.into(),
            family.into(),
        ],
    ))
    .await?;
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "access_token": access,
        "scope": scopes,
    });
    if let Some(refresh_scopes) = refresh_scopes {
        let refresh = format!("{REFRESH_PREFIX}{}", random_secret()?);
        tx.execute(&Raw::new(
            "INSERT INTO oauth_refresh_tokens (token_hash, client_id, user_id, family, scopes, \
             revoked, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                sha256_hex(&refresh).into(),
                client.id.into(),
                user_id.into(),
                family.into(),
                refresh_scopes.into(),
                false.into(),
                (now + Duration::days(REFRESH_TOKEN_DAYS)).into(),
                now.into(),
            ],
        ))
        .await?;
        if let Json::Object(fields) = &mut body {
            fields.insert("refresh_token".into(), json!(refresh));
        }
    }
    Ok(body)
}

/// Revokes every access and refresh token of a grant: a replayed code or refresh token means
/// one of them leaked (RFC 9700 §4.14.2).
pub(super) async fn revoke_family(tx: &mut Tx, family: &str) -> Result<(), Error> {
    tx.changes_access();
    tx.execute(&Raw::new(
        "UPDATE personal_access_tokens SET revoked = ? WHERE family = ?",
        vec![true.into(), family.into()],
    ))
    .await?;
    tx.execute(&Raw::new(
        "UPDATE oauth_refresh_tokens SET revoked = ? WHERE family = ?",
        vec![true.into(), family.into()],
    ))
    .await?;
    Ok(())
}

async fn code_grant(
    tx: &mut Tx,
    client: &Client,
    body: &Map<String, Json>,
) -> Result<Json, Refusal> {
    let code = param(body, "code").ok_or_else(|| {
        oauth_error(
            OAuthCode::InvalidRequest,
            "Check the `code` parameter",
            false,
        )
    })?;
    // client_id, user_id, scopes, redirect_uri, code_challenge, family, used, expires_at
    type CodeRow = (
        i64,
        i64,
        String,
        String,
        String,
        String,
        bool,
        DateTime<Utc>,
    );
    let rows: Vec<CodeRow> = tx
        .fetch_as(&Raw::new(
            "SELECT client_id, user_id, scopes, redirect_uri, code_challenge, family, used, \
             expires_at FROM oauth_codes WHERE code_hash = ?",
            vec![sha256_hex(code).into()],
        ))
        .await?;
    let Some((client_id, user_id, scopes, redirect_uri, challenge, family, used, expires_at)) =
        rows.into_iter().next()
    else {
        return Err(invalid_grant("Authorization code is invalid").into());
    };
    if used {
        return Err(Refusal::Replayed {
            family,
            hint: "Authorization code has been used",
        });
    }
    if client_id != client.id {
        return Err(invalid_grant("Authorization code was not issued to this client").into());
    }
    if expires_at < Utc::now() {
        return Err(invalid_grant("Authorization code has expired").into());
    }
    if param(body, "redirect_uri") != Some(redirect_uri.as_str()) {
        return Err(invalid_grant("Invalid redirect URI").into());
    }
    // A code issued with a challenge needs its verifier; one issued without (a confidential
    // client that skipped PKCE) takes none, so a verifier cannot be slipped in afterwards.
    let verified = match (param(body, "code_verifier"), challenge.is_empty()) {
        (Some(v), false) => valid_verifier(v) && constant_time_eq(&s256(v), &challenge),
        (None, true) => true,
        _ => false,
    };
    if !verified {
        return Err(invalid_grant("Failed to verify `code_verifier`").into());
    }
    let spend = "UPDATE oauth_codes SET used = ? WHERE code_hash = ? AND used = ?";
    spend_once(tx, spend, code, &family, "Authorization code has been used").await?;
    Ok(issue(tx, client, user_id, &scopes, &family, Some(&scopes)).await?)
}

async fn refresh_grant(
    tx: &mut Tx,
    client: &Client,
    body: &Map<String, Json>,
) -> Result<Json, Refusal> {
    let token = param(body, "refresh_token").ok_or_else(|| {
        oauth_error(
            OAuthCode::InvalidRequest,
            "Check the `refresh_token` parameter",
            false,
        )
    })?;
    // client_id, user_id, family, scopes, revoked, expires_at
    type RefreshRow = (i64, i64, String, String, bool, DateTime<Utc>);
    let rows: Vec<RefreshRow> = tx
        .fetch_as(&Raw::new(
            "SELECT client_id, user_id, family, scopes, revoked, expires_at \
             FROM oauth_refresh_tokens WHERE token_hash = ?",
            vec![sha256_hex(token).into()],
        ))
        .await?;
    let Some((client_id, user_id, family, granted, revoked, expires_at)) = rows.into_iter().next()
    else {
        return Err(invalid_grant("The refresh token is invalid.").into());
    };
    if client_id != client.id {
        return Err(invalid_grant("The refresh token was not issued to this client").into());
    }
    if revoked {
        return Err(Refusal::Replayed {
            family,
            hint: "The refresh token has been used",
        });
    }
    if expires_at < Utc::now() {
        return Err(invalid_grant("The refresh token has expired").into());
    }
    let scopes = match param(body, "scope") {
        None => granted.clone(),
        Some(asked) => {
            let asked = requested_scopes(Some(asked))?;
            let held: Vec<&str> = granted.split_whitespace().collect();
            let widens = asked
                .split_whitespace()
                .any(|s| !held.contains(&"*") && !held.contains(&s));
            if widens {
                let error = oauth_error(
                    OAuthCode::InvalidScope,
                    "Check the `scope` parameter",
                    false,
                );
                return Err(error.into());
            }
            asked
        }
    };
    let spend = "UPDATE oauth_refresh_tokens SET revoked = ? WHERE token_hash = ? AND revoked = ?";
    spend_once(tx, spend, token, &family, "The refresh token has been used").await?;
    Ok(issue(tx, client, user_id, &scopes, &family, Some(&granted)).await?)
}

/// Marks a code or refresh token used with a conditional update: exactly one row changes for
/// the one request that may use it, so two concurrent requests (PostgreSQL runs them side by
/// side) cannot both win; the loser is a replay and its grant is revoked.
async fn spend_once(
    tx: &mut Tx,
    statement: &'static str,
    secret: &str,
    family: &str,
    hint: &'static str,
) -> Result<(), Refusal> {
    let spent = tx
        .execute(&Raw::new(
            statement,
            vec![true.into(), sha256_hex(secret).into(), false.into()],
        ))
        .await?;
    if spent == 1 {
        Ok(())
    } else {
        Err(Refusal::Replayed {
            family: family.to_string(),
            hint,
        })
    }
}

async fn client_credentials_grant(
    tx: &mut Tx,
    client: &Client,
    body: &Map<String, Json>,
) -> Result<Json, Refusal> {
    if !client.confidential {
        let hint = "Public clients cannot use this grant";
        return Err(oauth_error(OAuthCode::UnauthorizedClient, hint, false).into());
    }
    let scopes = requested_scopes(param(body, "scope"))?;
    let family = random_secret()?;
    Ok(issue(tx, client, client.user_id, &scopes, &family, None).await?)
}

/// RFC 7009: a client revokes one of its own tokens; unknown tokens are answered 200 too, so
/// the endpoint reveals nothing.
pub async fn revoke(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Response, Error> {
    throttle(&state, "oauth-token", address, TOKEN_REQUESTS_PER_MINUTE).await?;
    let headers = request.headers().clone();
    let body = super::endpoint_body(request, state.config.body_limit).await?;
    let client = clients::authenticate(&state.db, &headers, &body).await?;
    let token = param(&body, "token").ok_or_else(|| {
        oauth_error(
            OAuthCode::InvalidRequest,
            "Check the `token` parameter",
            false,
        )
    })?;
    let hash = sha256_hex(token);
    let mut tx = state.db.begin().await?;
    let families: Vec<(Option<String>,)> = tx
        .fetch_as(&Raw::new(
            "SELECT family FROM oauth_refresh_tokens WHERE token_hash = ? AND client_id = ? \
             UNION ALL SELECT family FROM personal_access_tokens \
             WHERE token_hash = ? AND client_id = ?",
            vec![
                hash.clone().into(),
                client.id.into(),
                hash.into(),
                client.id.into(),
            ],
        ))
        .await?;
    // An access token's `family` is nullable; one without it has no grant to revoke.
    if let Some((Some(family),)) = families.into_iter().next() {
        revoke_family(&mut tx, &family).await?;
    }
    tx.commit().await?;
    Ok(no_store(json!({})))
}
