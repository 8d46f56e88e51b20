//! `GET /api/webhook/{id}/deliveries`: the subscription's deliveries, newest first, with their
//! state, attempts and last response (issue 7, item 4).

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use kring_core::Value;
use kring_core::schema::ColumnType;
use kring_core::time::format_timestamp;
use serde_json::{Value as Json, json};

use super::Action;
use super::defs::webhook::WEBHOOK;
use super::engine::{self, by_id};
use super::handlers::permitted;
use crate::AppState;
use crate::db::Raw;
use crate::error::Error;
use crate::http::json_response;

/// How many deliveries one answer lists.
const LISTED: i64 = 100;

pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Error> {
    let scope = permitted(&state, &request, &WEBHOOK, Action::View).await?;
    let not_found = || engine::not_found(&WEBHOOK, 0);
    let webhook: i64 = id.parse().map_err(|_| not_found())?;
    if state
        .db
        .fetch(&by_id(&WEBHOOK, scope, webhook), &WEBHOOK.types())
        .await?
        .is_empty()
    {
        return Err(engine::not_found(&WEBHOOK, webhook));
    }
    let rows = state
        .db
        .fetch(
            &Raw::new(
                "SELECT d.id, d.event_id, e.event, d.status, d.attempts, d.response_status, \
                 d.error, d.next_attempt_at, d.created_at, d.updated_at \
                 FROM webhook_deliveries d JOIN events e ON e.id = d.event_id \
                 WHERE d.webhook_id = ? AND d.company_id = ? ORDER BY d.id DESC LIMIT ?",
                vec![webhook.into(), scope.company_id.into(), LISTED.into()],
            ),
            &[
                ColumnType::Int,
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Int,
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Timestamp,
                ColumnType::Timestamp,
                ColumnType::Timestamp,
            ],
        )
        .await?;
    let time = |v: &Value| match v {
        Value::Timestamp(t) => Json::String(format_timestamp(t)),
        _ => Json::Null,
    };
    let data: Vec<Json> = rows
        .iter()
        .filter_map(|row| match row.as_slice() {
            [
                id,
                event_id,
                event,
                status,
                attempts,
                response,
                error,
                next,
                created,
                updated,
            ] => Some(json!({
                "id": id.to_json(), "event_id": event_id.to_json(), "event": event.to_json(),
                "status": status.to_json(), "attempts": attempts.to_json(),
                "response_status": response.to_json(), "error": error.to_json(),
                "next_attempt_at": time(next), "created_at": time(created),
                "updated_at": time(updated),
            })),
            _ => None,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "data": data })))
}
