//! A subscription's deliveries (issue 7, item 4): `GET /api/webhook/{id}/deliveries` lists them,
//! newest first, each with its attempts (response code, duration, error);
//! `POST /api/webhook/{id}/deliveries/{delivery}/redeliver` queues a finished one again;
//! `POST /api/webhook/{id}/rotate-secret` replaces the signing secret; and
//! `POST /api/webhook/{id}/test` queues a `webhook.test` event.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use kring_core::i18n::Message;
use kring_core::query::{Plan, parse_query_string};
use kring_core::time::format_timestamp;
use serde_json::{Map, Value as Json, json};

use crate::auth::Allowed;
use crate::auth::principal::{Update, View};
use crate::db::{Db, Raw, Tx, typed_row};
use crate::engine::{self, by_id};
use crate::error::Error;
use crate::http::extract::{IdempotencyKey, RecordId, parse_id};
use crate::http::json_response;
use crate::http::query::{self, number};
use crate::http::unit_of_work::{Started, UnitOfWork};
use crate::ledger::activity::{self, Event};
use crate::ledger::events;
use crate::ledger::idempotency::{self, Attempt};
use crate::registry::defs::webhook::{WEBHOOK, new_secret};
use crate::state::AppState;
use crate::tenant::Tenant;

/// The most deliveries one page lists, and how many by default.
const MAX_PAGE: u64 = 1000;
const DEFAULT_PAGE: u64 = 100;
/// How long a replaced secret keeps signing beside the new one.
const ROTATION_OVERLAP_HOURS: i64 = 24;

/// The columns a delivery is shown with, in [`Shown`]'s order.
const SHOWN: &str = "d.id, d.event_id, e.event, d.status, d.attempts, d.response_status, \
                     d.error, d.redelivery_of, d.next_attempt_at, d.created_at, d.updated_at";

typed_row! {
    /// A delivery as it is shown.
    struct Shown {
        id: i64,
        event_id: i64,
        event: String,
        status: String,
        attempts: i64,
        response_status: Option<i64>,
        error: Option<String>,
        redelivery_of: Option<i64>,
        next_attempt_at: DateTime<Utc>,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    }
}

/// The caller's webhook named by the path, or 404 (also for another company's).
async fn owned_webhook(state: &AppState, tenant: Tenant, id: i64) -> Result<i64, Error> {
    let found = state
        .db
        .fetch(&by_id(&WEBHOOK, tenant, id), &WEBHOOK.types())
        .await?;
    if found.is_empty() {
        return Err(engine::not_found(&WEBHOOK, id));
    }
    Ok(id)
}

fn delivery_not_found(raw: &str) -> Error {
    Error::NotFound {
        resource: "webhook_delivery",
        id: kring_core::query::truncate(raw, 40),
    }
}

/// `GET /api/webhook/{id}/deliveries?limit=N&offset=N`:
/// `{"data":[…],"limit":N,"total":N,"offset":N}`, newest first.
pub async fn list(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<View>,
    RecordId(id): RecordId,
    uri: Uri,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    let webhook = owned_webhook(&state, tenant, id).await?;
    let pairs = parse_query_string(uri.query().unwrap_or(""));
    let param = |name: &str| query::param(&pairs, name);
    let limit = number(
        param("limit").or(param("per_page")),
        "limit",
        DEFAULT_PAGE,
        MAX_PAGE,
    )?;
    let offset = number(param("offset"), "offset", 0, i64::MAX.unsigned_abs())?;
    let sql = format!(
        "SELECT {SHOWN} FROM webhook_deliveries d JOIN events e ON e.id = d.event_id \
         WHERE d.webhook_id = ? AND d.company_id = ? ORDER BY d.id DESC LIMIT ? OFFSET ?"
    );
    let values = vec![
        webhook.into(),
        tenant.company_id.into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
        i64::try_from(offset).unwrap_or(i64::MAX).into(),
    ];
    let rows: Vec<Shown> = state.db.fetch_as(&Raw::owned(sql, values)).await?;
    let total: Vec<(i64,)> = state
        .db
        .fetch_as(&Raw::new(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = ? AND company_id = ?",
            vec![webhook.into(), tenant.company_id.into()],
        ))
        .await?;
    let total = total.into_iter().next().map(|(total,)| total);
    let data = with_attempts(&state.db, tenant, &rows).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": data, "limit": limit, "total": total, "offset": offset }),
    ))
}

/// delivery_id, attempt, response_status, duration_ms, error, attempted_at, response_body
type AttemptRow = (
    i64,
    i64,
    Option<i64>,
    i64,
    Option<String>,
    DateTime<Utc>,
    Option<String>,
);

/// The deliveries of `rows` as JSON, each with its attempts, oldest first (one query for all).
async fn with_attempts(db: &Db, tenant: Tenant, rows: &[Shown]) -> Result<Vec<Json>, Error> {
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut attempts: std::collections::HashMap<i64, Vec<Json>> = Default::default();
    if !ids.is_empty() {
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT delivery_id, attempt, response_status, duration_ms, error, attempted_at, \
             response_body FROM webhook_attempts WHERE company_id = ? AND delivery_id IN ({marks}) \
             ORDER BY delivery_id, attempt, id"
        );
        let mut values: Vec<sea_query::Value> = vec![tenant.company_id.into()];
        values.extend(ids.iter().map(|id| (*id).into()));
        let rows: Vec<AttemptRow> = db.fetch_as(&Raw::owned(sql, values)).await?;
        for (delivery, attempt, status, duration, error, at, body) in rows {
            attempts.entry(delivery).or_default().push(json!({
                "attempt": attempt, "response_status": status,
                "duration_ms": duration, "error": error,
                "attempted_at": format_timestamp(&at), "response_body": body,
            }));
        }
    }
    Ok(rows
        .iter()
        .map(|row| {
            let mut shown = delivery_json(row);
            let history = attempts.remove(&row.id).unwrap_or_default();
            let last = history.last();
            let duration = last.map(|a| a["duration_ms"].clone()).unwrap_or(Json::Null);
            shown.insert("duration_ms".into(), duration);
            shown.insert("history".into(), Json::Array(history));
            Json::Object(shown)
        })
        .collect())
}

/// One delivery as JSON.
fn delivery_json(row: &Shown) -> Map<String, Json> {
    let first = row.redelivery_of.unwrap_or(row.id);
    let json = json!({
        "id": row.id, "event_id": row.event_id, "event": row.event,
        "message_id": format!("msg_{first}"), "redelivery_of": row.redelivery_of,
        "status": row.status, "attempts": row.attempts,
        "response_status": row.response_status, "error": row.error,
        "next_attempt_at": format_timestamp(&row.next_attempt_at),
        "created_at": format_timestamp(&row.created_at),
        "updated_at": format_timestamp(&row.updated_at),
    });
    match json {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

/// `POST /api/webhook/{id}/deliveries/{delivery}/redeliver` → 202 with the new delivery: the
/// same event, due now, with the first delivery's message id.
pub async fn redeliver(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<Update>,
    RecordId(id): RecordId,
    Path((_, delivery)): Path<(String, String)>,
    IdempotencyKey(key): IdempotencyKey,
    uri: Uri,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    let webhook = owned_webhook(&state, tenant, id).await?;
    let original = parse_id(&delivery).ok_or_else(|| delivery_not_found(&delivery))?;
    let queued = Queued::Again { webhook, original };
    queue_delivery(&state, tenant, key, &uri, queued).await
}

/// What a `POST` that queues one delivery queues.
#[derive(Clone, Copy)]
enum Queued {
    /// `original`'s event again.
    Again { webhook: i64, original: i64 },
    /// A `webhook.test` event.
    Test { webhook: i64 },
}

/// Queues one delivery in its own transaction, idempotently, and answers 202 with it as the
/// deliveries list shows it.
async fn queue_delivery(
    state: &AppState,
    tenant: Tenant,
    key: Option<String>,
    uri: &Uri,
    queued: Queued,
) -> Result<Response, Error> {
    let fingerprint = idempotency::fingerprint("POST", uri.path(), None);
    let mut work = match UnitOfWork::start(state, tenant, key, fingerprint).await? {
        Started::Replayed(response) => return Ok(response),
        Started::Fresh(work) => work,
    };
    let outcome = async {
        let id = match work.attempt() {
            Attempt::Run => {
                let mut tx = work.begin().await?;
                let id = match queued {
                    Queued::Again { webhook, original } => {
                        queue_again(&mut tx, tenant, webhook, original).await?
                    }
                    Queued::Test { webhook } => {
                        events::record_test(&mut tx, tenant, webhook).await?
                    }
                };
                work.commit(tx, Some(id)).await?;
                id
            }
            Attempt::Recover { .. } => work.attempt().created()?,
        };
        let shown = shown_delivery(&state.db, tenant, id).await?;
        Ok((StatusCode::ACCEPTED, Some(shown)))
    }
    .await;
    work.finish(outcome).await
}

/// One delivery as the deliveries list shows it.
async fn shown_delivery(db: &Db, tenant: Tenant, id: i64) -> Result<Json, Error> {
    let sql = format!(
        "SELECT {SHOWN} FROM webhook_deliveries d JOIN events e ON e.id = d.event_id \
         WHERE d.id = ? AND d.company_id = ?"
    );
    let rows: Vec<Shown> = db
        .fetch_as(&Raw::owned(sql, vec![id.into(), tenant.company_id.into()]))
        .await?;
    let shown = with_attempts(db, tenant, &rows).await?;
    shown
        .into_iter()
        .next()
        .ok_or_else(|| Error::Internal(format!("delivery {id} vanished after its commit")))
}

/// `POST /api/webhook/{id}/test` → 202 with the queued delivery of a `webhook.test` event
/// (`{"id","event":"webhook.test","created_at","data":{"webhook_id":…}}`), delivered like any
/// other: signed, through the outbox, checked against the target rules before it is sent.
pub async fn send_test(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<Update>,
    RecordId(id): RecordId,
    IdempotencyKey(key): IdempotencyKey,
    uri: Uri,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    let webhook = owned_webhook(&state, tenant, id).await?;
    queue_delivery(&state, tenant, key, &uri, Queued::Test { webhook }).await
}

/// Inserts the new delivery of `original`'s event; 404 when `original` is not one of this
/// webhook's, 409 while it is still being attempted.
async fn queue_again(
    tx: &mut Tx,
    tenant: Tenant,
    webhook: i64,
    original: i64,
) -> Result<i64, Error> {
    let rows: Vec<(String, i64, Option<i64>)> = tx
        .fetch_as(&Raw::new(
            "SELECT status, event_id, redelivery_of FROM webhook_deliveries \
             WHERE id = ? AND webhook_id = ? AND company_id = ?",
            vec![original.into(), webhook.into(), tenant.company_id.into()],
        ))
        .await?;
    let Some((status, event, first)) = rows.into_iter().next() else {
        return Err(delivery_not_found(&original.to_string()));
    };
    if status == "pending" {
        return Err(Error::Conflict(Message::new("http.delivery_pending")));
    }
    let first = first.unwrap_or(original);
    let now = Utc::now();
    tx.insert(&Raw::new(
        "INSERT INTO webhook_deliveries (company_id, webhook_id, event_id, status, attempts, \
         next_attempt_at, redelivery_of, created_at, updated_at) \
         VALUES (?, ?, ?, 'pending', 0, ?, ?, ?, ?) RETURNING id",
        vec![
            tenant.company_id.into(),
            webhook.into(),
            event.into(),
            now.into(),
            first.into(),
            now.into(),
            now.into(),
        ],
    ))
    .await
}

/// `POST /api/webhook/{id}/rotate-secret` → 200 with the webhook and its new `secret`, shown
/// this once. The replaced secret keeps signing beside it for 24 hours.
pub async fn rotate_secret(
    State(state): State<AppState>,
    Allowed(principal, ..): Allowed<Update>,
    RecordId(id): RecordId,
    IdempotencyKey(key): IdempotencyKey,
    uri: Uri,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    let webhook = owned_webhook(&state, tenant, id).await?;
    let fingerprint = idempotency::fingerprint("POST", uri.path(), None);
    let mut work = match UnitOfWork::start(&state, tenant, key, fingerprint).await? {
        Started::Replayed(response) => return Ok(response),
        Started::Fresh(work) => work,
    };
    let outcome = async {
        let (secret, until) = match work.attempt() {
            Attempt::Run => rotate(&mut work, tenant, webhook).await?,
            Attempt::Recover { .. } => current_secret(&state, tenant, webhook).await?,
        };
        let mut shown =
            engine::show(&state.db, &WEBHOOK, tenant, webhook, &Plan::default()).await?;
        if let Json::Object(fields) = &mut shown {
            fields.insert("secret".into(), Json::String(secret));
            let until = Json::String(format_timestamp(&until));
            fields.insert("previous_secret_expires_at".into(), until);
        }
        Ok((StatusCode::OK, Some(shown)))
    }
    .await;
    work.finish(outcome).await
}

/// Makes a new secret the webhook's, the replaced one signing beside it for a while; the new
/// secret and until when the replaced one signs.
async fn rotate(
    work: &mut UnitOfWork<'_>,
    tenant: Tenant,
    webhook: i64,
) -> Result<(String, DateTime<Utc>), Error> {
    let secret =
        new_secret().ok_or_else(|| Error::Internal("no randomness for a webhook secret".into()))?;
    let until = Utc::now() + chrono::Duration::hours(ROTATION_OVERLAP_HOURS);
    let mut tx = work.begin().await?;
    let changed = tx
        .execute(&Raw::new(
            "UPDATE webhooks SET previous_secret = secret, previous_secret_until = ?, \
                 secret = ? WHERE id = ? AND company_id = ?",
            vec![
                until.into(),
                secret.clone().into(),
                webhook.into(),
                tenant.company_id.into(),
            ],
        ))
        .await?;
    if changed != 1 {
        return Err(engine::not_found(&WEBHOOK, webhook));
    }
    let properties = json!({ "attributes": { "secret": "rotated" } });
    activity::record(
        &mut tx,
        &WEBHOOK,
        tenant,
        webhook,
        Event::Updated,
        properties,
    )
    .await?;
    work.commit(tx, None).await?;
    Ok((secret, until))
}

/// The secret and overlap a rotation whose answer a crash lost left in place.
async fn current_secret(
    state: &AppState,
    tenant: Tenant,
    webhook: i64,
) -> Result<(String, DateTime<Utc>), Error> {
    let rows: Vec<(Option<String>, Option<DateTime<Utc>>)> = state
        .db
        .fetch_as(&Raw::new(
            "SELECT secret, previous_secret_until FROM webhooks WHERE id = ? AND company_id = ?",
            vec![webhook.into(), tenant.company_id.into()],
        ))
        .await?;
    // Both columns are nullable; without either there is no rotation to report: 404, as before.
    match rows.into_iter().next() {
        Some((Some(secret), Some(until))) => Ok((secret, until)),
        _ => Err(engine::not_found(&WEBHOOK, webhook)),
    }
}
