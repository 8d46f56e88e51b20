//! The event log: `<resource>.created|updated|deleted` for every routed resource, written in the
//! change's own transaction, and the change feed that reads it (`GET /api/changes`).
//!
//! An event carries the record as a show returns it (`data`); updates add `changed_fields` and
//! the `previous` values; a deletion keeps the last state as a tombstone.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use kring_core::Value;
use kring_core::i18n::Message;
use kring_core::query::{QueryError, parse_query_string};
use kring_core::resource::{Action, ResourceDef, Routes};
use kring_core::schema::ColumnType;
use kring_core::time::format_timestamp;
use serde_json::{Map, Value as Json, json};

use crate::AppState;
use crate::activity::Event;
use crate::auth::{Caller, authorize, readable_resources};
use crate::db::{Backend, Raw, Tx};
use crate::error::Error;
use crate::http::json_response;
use crate::resource::engine::Scope;

/// The key of the advisory lock that orders event ids by commit on PostgreSQL.
const ORDER_LOCK: i64 = 0x6b72_696e_6765;

/// The change of one record.
pub struct Change<'a> {
    pub def: &'a ResourceDef,
    pub id: i64,
    pub event: Event,
    pub data: &'a Map<String, Json>,
    /// For updates: the fields that changed and their previous values.
    pub previous: Option<&'a Map<String, Json>>,
}

/// Writes one event in `tx`. Resources without routes (subtasks and the like) change through
/// their parent, whose own event reports it.
pub async fn record(tx: &mut Tx, scope: Scope, change: Change<'_>) -> Result<(), Error> {
    if change.def.routes == Routes::None {
        return Ok(());
    }
    if tx.backend() == Backend::Postgres {
        // Held to commit: ids are then taken in commit order, so a feed reader that resumes
        // after an id can never miss an event committed later with a smaller one.
        tx.execute(&Raw::new(
            "SELECT pg_advisory_xact_lock(?)",
            vec![ORDER_LOCK.into()],
        ))
        .await?;
    }
    let changed = change
        .previous
        .map(|p| Json::Array(p.keys().map(|k| Json::String(k.clone())).collect()).to_string());
    let name = format!("{}.{}", change.def.name, change.event.name());
    let now = Utc::now();
    let event_id = tx
        .insert(&Raw::new(
            "INSERT INTO events (company_id, resource, record_id, event, data, changed_fields, \
         previous, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            vec![
                scope.company_id.into(),
                change.def.name.into(),
                change.id.into(),
                name.clone().into(),
                Json::Object(change.data.clone()).to_string().into(),
                changed.into(),
                change
                    .previous
                    .map(|p| Json::Object(p.clone()).to_string())
                    .into(),
                now.into(),
            ],
        ))
        .await?;
    // The outbox, in the same transaction: one delivery per subscription to this event whose
    // owner's role may read the resource (a payload holds only what its owner may read).
    tx.execute(&Raw::new(
        "INSERT INTO webhook_deliveries (company_id, webhook_id, event_id, status, attempts, \
         next_attempt_at, created_at, updated_at) \
         SELECT w.company_id, w.id, ?, 'pending', 0, ?, ?, ? FROM webhooks w \
         WHERE w.company_id = ? AND w.event = ? AND w.active = ? AND EXISTS (\
         SELECT 1 FROM users u JOIN role_permissions rp ON rp.role_id = u.role_id \
         JOIN permissions p ON p.id = rp.permission_id \
         WHERE u.id = w.user_id AND u.company_id = w.company_id AND p.name = ?)",
        vec![
            event_id.into(),
            now.into(),
            now.into(),
            now.into(),
            scope.company_id.into(),
            name.into(),
            true.into(),
            change.def.permission(Action::View).into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The event name of a subscription's test delivery.
pub const TEST_EVENT: &str = "webhook.test";

/// Queues a `webhook.test` event for one subscription, in `tx`: an event row (under a resource
/// name no resource has, so the change feed never lists it) and its one delivery, due now, so
/// it goes through the same outbox, signing and target checks as every delivery. Returns the
/// delivery's id.
pub async fn record_test(tx: &mut Tx, scope: Scope, webhook: i64) -> Result<i64, Error> {
    let now = Utc::now();
    let data = json!({ "webhook_id": webhook }).to_string();
    let event_id = tx
        .insert(&Raw::new(
            "INSERT INTO events (company_id, resource, record_id, event, data, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            vec![
                scope.company_id.into(),
                TEST_EVENT.into(),
                webhook.into(),
                TEST_EVENT.into(),
                data.into(),
                now.into(),
            ],
        ))
        .await?;
    tx.insert(&Raw::new(
        "INSERT INTO webhook_deliveries (company_id, webhook_id, event_id, status, attempts, \
         next_attempt_at, created_at, updated_at) \
         VALUES (?, ?, ?, 'pending', 0, ?, ?, ?) RETURNING id",
        vec![
            scope.company_id.into(),
            webhook.into(),
            event_id.into(),
            now.into(),
            now.into(),
            now.into(),
        ],
    ))
    .await
}

/// The most events one page of the feed holds.
const MAX_PAGE: u64 = 1000;

/// `GET /api/changes?since=<cursor>&limit=N`: the company's changes in commit order, limited to
/// the resources the caller may read, resumable from `next`.
pub async fn feed(State(state): State<AppState>, request: Request) -> Result<Response, Error> {
    let caller = Caller::of(&request);
    let scope = authorize(&state, &caller, None).await?;
    let pairs = parse_query_string(request.uri().query().unwrap_or(""));
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let since = number(param("since"), "since", 0, i64::MAX as u64)?;
    let limit = number(param("limit"), "limit", 100, MAX_PAGE)?;
    let readable = readable_resources(&state, &caller, scope).await?;
    if readable.is_empty() {
        return Err(Error::Forbidden);
    }
    let marks = vec!["?"; readable.len()].join(", ");
    let sql = format!(
        "SELECT id, event, data, changed_fields, previous, created_at FROM events \
         WHERE company_id = ? AND id > ? AND resource IN ({marks}) ORDER BY id LIMIT ?"
    );
    let mut values: Vec<sea_query::Value> = vec![scope.company_id.into(), (since as i64).into()];
    values.extend(readable.iter().map(|r| (*r).into()));
    values.push((limit as i64).into());
    let types = [
        ColumnType::Int,
        ColumnType::Text,
        ColumnType::Text,
        ColumnType::Text,
        ColumnType::Text,
        ColumnType::Timestamp,
    ];
    let rows = state.db.fetch(&Raw::owned(sql, values), &types).await?;
    let mut next = since as i64;
    let data: Vec<Json> = rows
        .iter()
        .filter_map(|row| {
            let [
                Value::Int(id),
                Value::Text(event),
                Value::Text(data),
                changed,
                previous,
                Value::Timestamp(at),
            ] = row.as_slice()
            else {
                return None;
            };
            next = *id;
            let parse = |v: &Value| match v {
                Value::Text(t) => serde_json::from_str(t).ok(),
                _ => None,
            };
            let mut item = json!({
                "id": id.to_string(),
                "event": event,
                "created_at": format_timestamp(at),
                "data": serde_json::from_str::<Json>(data).unwrap_or(Json::Null),
            });
            if let (Some(changed), Some(previous)) = (parse(changed), parse(previous)) {
                item["changed_fields"] = changed;
                item["previous"] = previous;
            }
            Some(item)
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": data, "next": next.to_string() }),
    ))
}

/// A whole-number query parameter from 0 to `max`, `default` when absent (400 otherwise).
pub(crate) fn number(
    raw: Option<&str>,
    name: &'static str,
    default: u64,
    max: u64,
) -> Result<u64, Error> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    raw.parse::<u64>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| {
            Error::BadQuery(QueryError(
                Message::new("query.integer_range")
                    .with("param", name)
                    .with("min", "0")
                    .with("max", max.to_string())
                    .with("value", kring_core::query::truncate(raw, 40)),
            ))
        })
}
