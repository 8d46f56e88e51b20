//! The webhook delivery worker, running inside `kring serve`: it claims due deliveries from the
//! outbox, signs them with Standard Webhooks headers and posts them, then records the outcome.
//!
//! - Only 2xx is success; redirects are not followed; each attempt times out.
//! - Failures are retried with exponential backoff and jitter over about three days (longer if
//!   the receiver's `Retry-After` asks); `410 Gone`, or retries running out, disables the
//!   subscription.
//! - Targets are checked by [`target::vet`], the check a subscription's URL passed when it was
//!   written: resolved and refused when any address is loopback, private, link-local or
//!   otherwise not public, unless the operator allows private targets; the request then goes to
//!   the address that was checked, so DNS cannot change between the check and the connection.
//! - At most 64 KiB of a response body is read and its first kilobyte kept; a body that does
//!   not end within the timeout fails the attempt.
//!   HTTPS certificates are checked for the URL's host name against the system's roots and the
//!   operator's extra CA file, if any.
//! - A claim takes a lease, longer than an attempt's timeout, and a claimed batch is attempted
//!   at once, so a live worker always records its attempts before the lease runs out. A worker
//!   that dies mid-delivery leaves the row due again when the lease ends, so every delivery is
//!   attempted until it is recorded (at least once). On PostgreSQL rows are claimed with
//!   `FOR UPDATE SKIP LOCKED`, so several instances never attempt the same delivery at once.
//! - During a secret rotation each delivery carries a signature by the new and one by the
//!   replaced secret, until the replaced one expires.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kring_core::Value;
use kring_core::time::format_timestamp;
use serde_json::{Value as Json, json};

use crate::db::{FromRow, Raw, dialect, typed_row};
use crate::error::Error;
use crate::state::AppState;

pub mod egress;
#[cfg(test)]
mod proptests;
pub mod target;

pub use egress::Egress;

/// Delays after each failed attempt, in seconds: about three days in all.
const SCHEDULE: [u64; 9] = [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 72_000];
/// Deliveries claimed per round.
const BATCH: i64 = 16;

/// What an operator watches of the outbox: how much waits, for how long, and how many
/// subscriptions were switched off.
pub struct OutboxState {
    pub pending: i64,
    pub oldest_pending_seconds: f64,
    pub disabled_subscriptions: i64,
}

pub async fn outbox_state(db: &crate::db::Db) -> Result<OutboxState, Error> {
    use kring_core::schema::ColumnType;
    let outbox = db
        .fetch(
            &Raw::new(
                "SELECT COUNT(*), MIN(created_at) FROM webhook_deliveries WHERE status = 'pending'",
                vec![],
            ),
            &[ColumnType::Int, ColumnType::Timestamp],
        )
        .await?;
    let (pending, oldest) = match outbox.first().map(Vec::as_slice) {
        Some([count, Value::Timestamp(oldest)]) => (count.as_int().unwrap_or(0), Some(*oldest)),
        Some([count, _]) => (count.as_int().unwrap_or(0), None),
        _ => (0, None),
    };
    let disabled = db
        .fetch(
            &Raw::new(
                "SELECT COUNT(*) FROM webhooks WHERE active = ?",
                vec![false.into()],
            ),
            &[ColumnType::Int],
        )
        .await?;
    let oldest_pending_seconds = oldest.map_or(0.0, |at| {
        (Utc::now() - at)
            .to_std()
            .map_or(0.0, |age| age.as_secs_f64())
    });
    Ok(OutboxState {
        pending,
        oldest_pending_seconds,
        disabled_subscriptions: disabled
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_int)
            .unwrap_or(0),
    })
}

/// Runs until `stop` turns true (or its sender goes): the round in progress is cut short and
/// its unfinished claims are released, so a graceful shutdown leaves no delivery leased to a
/// process that is gone (C7).
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow() {
        let pause = match deliver_due(&state, &mut stop).await {
            Ok(0) => Duration::from_millis(250),
            Ok(_) => Duration::ZERO,
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery round failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// A claimed delivery with what is needed to send it.
struct Due {
    id: i64,
    company_id: i64,
    /// This attempt's number; the claim that made it.
    attempt: i64,
    webhook_id: i64,
    url: String,
    /// Until when the claim holds the delivery: the fence a release checks.
    lease_until: DateTime<Utc>,
    /// The current secret, and during a rotation the replaced one.
    secrets: Vec<String>,
    /// `webhook-id`: the same on every retry and on redeliveries of the message.
    message_id: String,
    payload: Json,
}

/// Claims one batch and attempts all of it at once; returns how many were claimed. Should
/// `stop` turn true first, the attempts still running are dropped and their claims released.
async fn deliver_due(
    state: &AppState,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<usize, Error> {
    let due = claim(state).await?;
    let count = due.len();
    let mut unfinished: std::collections::HashMap<i64, (i64, DateTime<Utc>)> = due
        .iter()
        .map(|d| (d.id, (d.attempt, d.lease_until)))
        .collect();
    let mut running = tokio::task::JoinSet::new();
    for delivery in due {
        let state = state.clone();
        running.spawn(async move {
            let outcome = attempt(&state, &delivery).await;
            (delivery.id, record(&state, &delivery, outcome).await)
        });
    }
    loop {
        let stopping = async { stop.wait_for(|stopping| *stopping).await.is_ok() };
        let done = tokio::select! {
            done = running.join_next() => Some(done),
            _ = stopping => None,
        };
        let Some(done) = done else {
            running.abort_all();
            while running.join_next().await.is_some() {}
            release(state, &unfinished).await?;
            return Ok(count);
        };
        match done {
            None => return Ok(count),
            Some(Ok((id, recorded))) => {
                unfinished.remove(&id);
                if let Err(e) = recorded {
                    tracing::warn!(error = %e, "recording a webhook attempt failed");
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "a webhook attempt did not finish"),
        }
    }
}

/// Gives claimed deliveries whose attempts were dropped back to the queue, due now, as if the
/// claim had not been made. Only a claim still as it was taken (same attempt, same lease) is
/// released, so an outcome that was recorded after all is left alone.
async fn release(
    state: &AppState,
    unfinished: &std::collections::HashMap<i64, (i64, DateTime<Utc>)>,
) -> Result<(), Error> {
    if unfinished.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let mut tx = state.db.begin().await?;
    for (id, (attempt, lease_until)) in unfinished {
        tx.execute(&Raw::new(
            "UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = attempts - 1, \
             updated_at = ? WHERE id = ? AND status = 'pending' AND attempts = ? \
             AND next_attempt_at = ?",
            vec![
                now.into(),
                now.into(),
                (*id).into(),
                (*attempt).into(),
                (*lease_until).into(),
            ],
        ))
        .await?;
    }
    tx.commit().await?;
    tracing::info!(
        released = unfinished.len(),
        "webhook claims released for shutdown"
    );
    Ok(())
}

typed_row! {
    /// A claimed delivery with its subscription and event, as the claim reads it.
    struct Claimed {
        id: i64,
        company_id: i64,
        attempts: i64,
        webhook_id: i64,
        redelivery_of: Option<i64>,
        url: String,
        secret: Option<String>,
        previous_secret: Option<String>,
        previous_secret_until: Option<DateTime<Utc>>,
        event_id: i64,
        event: String,
        data: String,
        changed_fields: Option<String>,
        previous: Option<String>,
        created_at: DateTime<Utc>,
    }
}

async fn claim(state: &AppState) -> Result<Vec<Due>, Error> {
    let now = Utc::now();
    // A read first: on SQLite a write transaction takes the one writer, which an idle poll
    // every quarter second should not.
    let any: Vec<(i64,)> = state
        .db
        .fetch_as(&Raw::new(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1",
            vec![now.into()],
        ))
        .await?;
    if any.is_empty() {
        return Ok(Vec::new());
    }
    let lock = dialect::skip_locked(state.db.backend(), "d");
    let sql = format!(
        "SELECT d.id, d.company_id, d.attempts, d.webhook_id, d.redelivery_of, w.url, w.secret, \
         w.previous_secret, w.previous_secret_until, e.id, e.event, e.data, e.changed_fields, \
         e.previous, e.created_at FROM webhook_deliveries d \
         JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id \
         WHERE d.status = 'pending' AND d.next_attempt_at <= ? \
         ORDER BY d.next_attempt_at, d.id LIMIT ?{lock}"
    );
    // At most a day (`Config::check`).
    let lease = chrono::Duration::seconds(
        i64::try_from(state.config.webhook_lease_seconds).unwrap_or(86_400),
    );
    let mut tx = state.db.begin().await?;
    let rows = tx
        .fetch(
            &Raw::owned(sql, vec![now.into(), BATCH.into()]),
            Claimed::TYPES,
        )
        .await?;
    let mut due = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(Value::Int(id)) = row.first() else {
            continue;
        };
        // Every claimed row takes the lease, even one that cannot be read: it then waits its
        // turn again instead of holding the head of the queue.
        tx.execute(&Raw::new(
            "UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = attempts + 1, \
             updated_at = ? WHERE id = ?",
            vec![(now + lease).into(), now.into(), (*id).into()],
        ))
        .await?;
        // Read only now, so that a row that does not read still took its lease above.
        if let Some(claimed) = Claimed::from_row(row) {
            due.push(due_of(claimed, now, now + lease));
        }
    }
    tx.commit().await?;
    Ok(due)
}

/// A claimed row as a delivery to attempt.
fn due_of(claimed: Claimed, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Due {
    let overlapping = claimed.previous_secret.filter(|_| {
        claimed
            .previous_secret_until
            .is_some_and(|until| until > now)
    });
    let secrets = claimed.secret.into_iter().chain(overlapping).collect();
    let first = claimed.redelivery_of.unwrap_or(claimed.id);
    let event = Recorded {
        id: claimed.event_id,
        event: claimed.event,
        data: claimed.data,
        changed_fields: claimed.changed_fields,
        previous: claimed.previous,
        created_at: claimed.created_at,
    };
    Due {
        id: claimed.id,
        company_id: claimed.company_id,
        attempt: claimed.attempts + 1,
        lease_until,
        webhook_id: claimed.webhook_id,
        url: claimed.url,
        secrets,
        message_id: format!("msg_{first}"),
        payload: payload(&event),
    }
}

/// An event as a delivery carries it.
struct Recorded {
    id: i64,
    event: String,
    data: String,
    changed_fields: Option<String>,
    previous: Option<String>,
    created_at: DateTime<Utc>,
}

/// The body of a delivery: the event as the change feed shows it.
fn payload(event: &Recorded) -> Json {
    let parse = |text: &Option<String>| {
        text.as_deref()
            .and_then(|t| serde_json::from_str::<Json>(t).ok())
    };
    let mut payload = json!({
        "id": event.id.to_string(),
        "event": event.event,
        "created_at": format_timestamp(&event.created_at),
        "data": serde_json::from_str::<Json>(&event.data).unwrap_or(Json::Null),
    });
    if let (Some(changed), Some(previous)) = (parse(&event.changed_fields), parse(&event.previous))
        && let Json::Object(fields) = &mut payload
    {
        fields.insert("changed_fields".into(), changed);
        fields.insert("previous".into(), previous);
    }
    payload
}

/// What one attempt came to.
struct Outcome {
    started: DateTime<Utc>,
    duration_ms: i64,
    status: Option<u16>,
    error: Option<String>,
    retry_after: Option<u64>,
    /// The start of the receiver's response body.
    response_body: Option<String>,
}

async fn attempt(state: &AppState, delivery: &Due) -> Outcome {
    let started = Utc::now();
    let failed = |error: String| Outcome {
        started,
        duration_ms: 0,
        status: None,
        error: Some(error),
        retry_after: None,
        response_body: None,
    };
    let body = delivery.payload.to_string();
    let timestamp = started.timestamp();
    let secrets: Vec<&str> = delivery.secrets.iter().map(String::as_str).collect();
    let signature = match kring_core::webhook::signature_header(
        &secrets,
        &delivery.message_id,
        timestamp,
        body.as_bytes(),
    ) {
        Ok(signature) if !secrets.is_empty() => signature,
        _ => return failed("the subscription has no valid secret".into()),
    };
    let client = match vetted_client(state, &delivery.url).await {
        Ok(client) => client,
        Err(reason) => return failed(reason),
    };
    let clock = Instant::now();
    let sent = client
        .post(&delivery.url)
        .header("content-type", "application/json")
        .header("webhook-id", &delivery.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let answered = match sent {
        Ok(response) => Ok(answer(response).await),
        Err(e) => Err(failure(&e)),
    };
    let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    match answered {
        Ok(answer) => Outcome {
            started,
            duration_ms,
            status: Some(answer.status),
            error: answer.error,
            retry_after: answer.retry_after,
            response_body: Some(answer.excerpt),
        },
        Err(error) => Outcome {
            duration_ms,
            ..failed(error)
        },
    }
}

/// The most of a receiver's response body that is read; the rest is never read.
const MAX_RESPONSE_READ: usize = 64 * 1024;
/// The most of it that is kept with the attempt, in bytes.
const MAX_RESPONSE_KEPT: usize = 1024;

/// What a receiver answered.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    /// The start of the body as text.
    excerpt: String,
    /// Why the answer does not count even when its status is 2xx: its body did not end in time.
    error: Option<String>,
}

/// Reads the status and at most [`MAX_RESPONSE_READ`] bytes of the body. A body that does not
/// end (or reach the cap) before the attempt's timeout fails the attempt; the connection is
/// closed either way when the response is dropped.
async fn answer(mut response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let mut body = Vec::new();
    let mut error = None;
    while body.len() < MAX_RESPONSE_READ {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                error = Some(format!("reading the response body failed: {}", failure(&e)));
                break;
            }
        }
    }
    Answer {
        status,
        retry_after,
        excerpt: excerpt(&body),
        error,
    }
}

/// The first [`MAX_RESPONSE_KEPT`] bytes of a body as text: invalid UTF-8 and NUL (which
/// PostgreSQL cannot store) replaced, cut at a character boundary.
fn excerpt(body: &[u8]) -> String {
    let head = body.get(..MAX_RESPONSE_KEPT).unwrap_or(body);
    let text = String::from_utf8_lossy(head).replace('\0', "\u{fffd}");
    let mut end = text.len().min(MAX_RESPONSE_KEPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// A failed request in words, with its cause (a refused certificate, a timeout).
fn failure(error: &reqwest::Error) -> String {
    let mut text = format!("request failed: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// A client bound to the target's vetted addresses, following no redirects and using no proxy
/// (a proxy would connect to the target itself, past the check).
async fn vetted_client(state: &AppState, url: &str) -> Result<reqwest::Client, String> {
    let target = target::vet(&state.config, url)
        .await
        .map_err(|refusal| refusal.to_string())?;
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(state.config.webhook_timeout_seconds))
        .resolve_to_addrs(&target.host, &target.addresses)
        .tls_backend_preconfigured(state.egress.tls.clone())
        .build()
        .map_err(|e| format!("cannot build the client: {e}"))
}

/// Records the attempt and the delivery's new state in one transaction. The delivery is
/// updated only while this attempt is still its latest claim: a worker whose lease ran out
/// (it cannot, with the lease longer than the timeout, but a stalled process might) leaves the
/// state to the claim that took over, and only its attempt is kept.
async fn record(state: &AppState, delivery: &Due, outcome: Outcome) -> Result<(), Error> {
    let now = Utc::now();
    let succeeded =
        outcome.error.is_none() && outcome.status.is_some_and(|s| (200..300).contains(&s));
    let gone = outcome.status == Some(410);
    let exhausted = usize::try_from(delivery.attempt).map_or(true, |n| n > SCHEDULE.len());
    let (status, next) = if succeeded {
        ("succeeded", now)
    } else if gone || exhausted {
        ("failed", now)
    } else {
        (
            "pending",
            now + backoff(state, delivery.attempt, outcome.retry_after),
        )
    };
    crate::telemetry::webhook_attempt(match status {
        "succeeded" => "delivered",
        "pending" => "retrying",
        _ if gone => "gone",
        _ => "failed",
    });
    let response_status = outcome.status.map(i64::from);
    let mut tx = state.db.begin().await?;
    tx.execute(&Raw::new(
        "INSERT INTO webhook_attempts (company_id, delivery_id, attempt, response_status, \
         error, duration_ms, attempted_at, response_body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            delivery.company_id.into(),
            delivery.id.into(),
            delivery.attempt.into(),
            response_status.into(),
            outcome.error.clone().into(),
            outcome.duration_ms.into(),
            outcome.started.into(),
            outcome.response_body.into(),
        ],
    ))
    .await?;
    let current = tx
        .execute(&Raw::new(
            "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, response_status = ?, \
             error = ?, updated_at = ? WHERE id = ? AND attempts = ?",
            vec![
                status.into(),
                next.into(),
                response_status.into(),
                outcome.error.into(),
                now.into(),
                delivery.id.into(),
                delivery.attempt.into(),
            ],
        ))
        .await?;
    if current == 1 && (gone || (exhausted && !succeeded)) {
        tx.execute(&Raw::new(
            "UPDATE webhooks SET active = ?, updated_at = ? WHERE id = ?",
            vec![false.into(), now.into(), delivery.webhook_id.into()],
        ))
        .await?;
    }
    tx.commit().await
}

/// The wait before attempt `attempts + 1`: the schedule's step with ±20 % jitter, or longer if
/// the receiver asked (capped at a day), scaled for tests.
fn backoff(state: &AppState, attempts: i64, retry_after: Option<u64>) -> chrono::Duration {
    let step = usize::try_from(attempts.max(1) - 1)
        .ok()
        .and_then(|i| SCHEDULE.get(i))
        .copied()
        .unwrap_or(72_000);
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    let [random] = byte;
    let jitter = 0.8 + 0.4 * f64::from(random) / 255.0;
    // Seconds below a day, as floats, and back as milliseconds: far inside both types' range.
    #[allow(clippy::as_conversions)]
    let millis = {
        let seconds = (step as f64 * jitter).max(retry_after.unwrap_or(0).min(86_400) as f64);
        (seconds * 1000.0 * state.config.webhook_backoff_scale) as i64
    };
    chrono::Duration::milliseconds(millis)
}
