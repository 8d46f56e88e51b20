//! `Idempotency-Key` on POST, PATCH, PUT and DELETE (DESIGN §2): the first response to a key is
//! kept for 24 hours and replayed to the same request; the same key with another request is 422;
//! while the first is still running, 409. Keys belong to the token's owner, so two users never
//! share one.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use kring_core::Value;
use kring_core::i18n::{Locale, Message};
use kring_core::schema::ColumnType;
use serde_json::{Map, Value as Json};

use crate::AppState;
use crate::auth::sha256_hex;
use crate::db::Raw;
use crate::error::Error;
use crate::http::json_response;
use crate::resource::engine::Scope;

pub const HEADER: &str = "idempotency-key";
/// How long a key's first response is kept.
const KEPT_HOURS: i64 = 24;
/// A key still "running" after this long belongs to a request that died; it may be retried.
const ABANDONED_MINUTES: i64 = 5;

/// The request's key, if it sent one: 1 to 255 visible ASCII characters.
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_string()))
        }
        _ => Err(Error::BadBody(Message::new("http.idempotency_key"))),
    }
}

/// What identifies "the same request": method, path and body.
pub fn fingerprint(method: &str, path: &str, body: Option<&Map<String, Json>>) -> String {
    let body = body
        .map(|b| Json::Object(b.clone()).to_string())
        .unwrap_or_default();
    sha256_hex(&format!("{method} {path} {body}"))
}

/// What an operation answers: a status and, unless it is 204, a JSON body.
pub type Outcome = Result<(StatusCode, Option<Json>), Error>;

/// Runs `operation` once per key; replays its answer to a repeat of the same request.
pub async fn run<F, Fut>(
    state: &AppState,
    scope: Scope,
    key: Option<String>,
    fingerprint: String,
    operation: F,
) -> Result<Response, Error>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let Some(key) = key else {
        return operation().await.map(respond);
    };
    if let Some(replay) = claim(state, scope, &key, &fingerprint).await? {
        return Ok(replay);
    }
    let outcome = operation().await;
    let kept = match &outcome {
        Ok((status, body)) => Some((*status, body.clone())),
        Err(e) if !e.status().is_server_error() => Some((e.status(), Some(e.body(Locale::En)))),
        Err(_) => None,
    };
    finish(state, scope, &key, kept).await?;
    outcome.map(respond)
}

fn respond((status, body): (StatusCode, Option<Json>)) -> Response {
    match body {
        Some(body) => json_response(status, &body),
        None => status.into_response(),
    }
}

/// Takes the key for this request, or answers from what the key already holds.
async fn claim(
    state: &AppState,
    scope: Scope,
    key: &str,
    fingerprint: &str,
) -> Result<Option<Response>, Error> {
    for _ in 0..2 {
        let now = Utc::now();
        let mut tx = state.db.begin().await?;
        let claimed = tx
            .execute(&Raw::new(
                "INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, created_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (user_id, idempotency_key) DO NOTHING",
                vec![
                    scope.user_id.into(),
                    key.into(),
                    fingerprint.into(),
                    now.into(),
                ],
            ))
            .await?;
        tx.commit().await?;
        if claimed == 1 {
            return Ok(None);
        }
        let rows = state
            .db
            .fetch(
                &Raw::new(
                    "SELECT fingerprint, status, response, created_at FROM idempotency_keys \
                     WHERE user_id = ? AND idempotency_key = ?",
                    vec![scope.user_id.into(), key.into()],
                ),
                &[
                    ColumnType::Text,
                    ColumnType::Int,
                    ColumnType::Text,
                    ColumnType::Timestamp,
                ],
            )
            .await?;
        let Some(
            [
                Value::Text(stored),
                status,
                response,
                Value::Timestamp(created),
            ],
        ) = rows.first().map(Vec::as_slice)
        else {
            continue;
        };
        let expired = *created < now - Duration::hours(KEPT_HOURS)
            || (matches!(status, Value::Null)
                && *created < now - Duration::minutes(ABANDONED_MINUTES));
        if expired {
            forget(state, scope, key).await?;
            continue;
        }
        if stored != fingerprint {
            return Err(Error::Unprocessable(Message::new(
                "http.idempotency_reused",
            )));
        }
        let Value::Int(status) = status else {
            return Err(Error::Conflict(Message::new("http.idempotency_running")));
        };
        return Ok(Some(replay(*status, response)));
    }
    Err(Error::Conflict(Message::new("http.idempotency_running")))
}

fn replay(status: i64, response: &Value) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body = match response {
        Value::Text(text) => serde_json::from_str(text).ok(),
        _ => None,
    };
    let mut response = respond((status, body));
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Keeps the answer under the key, or frees the key when the request failed on the server's
/// side (a retry should run again).
async fn finish(
    state: &AppState,
    scope: Scope,
    key: &str,
    kept: Option<(StatusCode, Option<Json>)>,
) -> Result<(), Error> {
    let Some((status, body)) = kept else {
        return forget(state, scope, key).await;
    };
    let mut tx = state.db.begin().await?;
    tx.execute(&Raw::new(
        "UPDATE idempotency_keys SET status = ?, response = ? WHERE user_id = ? AND idempotency_key = ?",
        vec![
            i64::from(status.as_u16()).into(),
            body.map(|b| b.to_string()).into(),
            scope.user_id.into(),
            key.into(),
        ],
    ))
    .await?;
    tx.commit().await
}

async fn forget(state: &AppState, scope: Scope, key: &str) -> Result<(), Error> {
    let mut tx = state.db.begin().await?;
    tx.execute(&Raw::new(
        "DELETE FROM idempotency_keys WHERE user_id = ? AND idempotency_key = ?",
        vec![scope.user_id.into(), key.into()],
    ))
    .await?;
    tx.commit().await
}
