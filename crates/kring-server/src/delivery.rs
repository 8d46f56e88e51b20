//! The webhook delivery worker, running inside `kring serve`: it claims due deliveries from the
//! outbox, signs them with Standard Webhooks headers and posts them, then records the outcome.
//!
//! - Only 2xx is success; redirects are not followed; each attempt times out.
//! - Failures are retried with exponential backoff and jitter over about three days (longer if
//!   the receiver's `Retry-After` asks); `410 Gone`, or retries running out, disables the
//!   subscription.
//! - Targets are resolved and refused when any address is loopback, private, link-local or
//!   otherwise not public, unless the operator allows private targets; the request then goes to
//!   the address that was checked, so DNS cannot change between the check and the connection.
//! - A claim takes a lease: a worker that dies mid-delivery leaves the row due again when the
//!   lease ends, so every delivery is attempted until it is recorded (at least once). On
//!   PostgreSQL rows are claimed with `FOR UPDATE SKIP LOCKED`, so several instances never
//!   attempt the same delivery at once.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use chrono::Utc;
use kring_core::Value;
use kring_core::schema::ColumnType;
use kring_core::time::format_timestamp;
use serde_json::{Value as Json, json};

use crate::AppState;
use crate::db::{Backend, Raw};
use crate::error::Error;

/// Delays after each failed attempt, in seconds: about three days in all.
const SCHEDULE: [u64; 9] = [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 72_000];
/// How long a claimed delivery is left to its worker before it is due again.
const LEASE_SECONDS: i64 = 120;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries claimed per round.
const BATCH: i64 = 16;

/// Runs until the task is aborted.
pub async fn run(state: AppState) {
    loop {
        match deliver_due(&state).await {
            Ok(0) => tokio::time::sleep(Duration::from_millis(250)).await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "webhook delivery round failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// A claimed delivery with what is needed to send it.
struct Due {
    id: i64,
    attempts: i64,
    webhook_id: i64,
    url: String,
    secret: String,
    payload: Json,
}

/// Claims and delivers one batch; returns how many were attempted.
pub async fn deliver_due(state: &AppState) -> Result<usize, Error> {
    let due = claim(state).await?;
    let count = due.len();
    for delivery in due {
        let outcome = attempt(state, &delivery).await;
        record(state, &delivery, outcome).await?;
    }
    Ok(count)
}

async fn claim(state: &AppState) -> Result<Vec<Due>, Error> {
    let now = Utc::now();
    // A read first: on SQLite a write transaction takes the one writer, which an idle poll
    // every quarter second should not.
    let any = state
        .db
        .fetch(
            &Raw::new(
                "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1",
                vec![now.into()],
            ),
            &[ColumnType::Int],
        )
        .await?;
    if any.is_empty() {
        return Ok(Vec::new());
    }
    let lock = match state.db.backend() {
        Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT d.id, d.attempts, d.webhook_id, w.url, w.secret, e.id, e.event, e.data, \
         e.changed_fields, e.previous, e.created_at FROM webhook_deliveries d \
         JOIN webhooks w ON w.id = d.webhook_id JOIN events e ON e.id = d.event_id \
         WHERE d.status = 'pending' AND d.next_attempt_at <= ? \
         ORDER BY d.next_attempt_at, d.id LIMIT ?{lock}"
    );
    let mut tx = state.db.begin().await?;
    let rows = tx
        .fetch(
            &Raw::owned(sql, vec![now.into(), BATCH.into()]),
            &[
                ColumnType::Int,
                ColumnType::Int,
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Text,
                ColumnType::Timestamp,
            ],
        )
        .await?;
    let mut due = Vec::with_capacity(rows.len());
    for row in rows {
        let [
            Value::Int(id),
            Value::Int(attempts),
            Value::Int(webhook_id),
            Value::Text(url),
            Value::Text(secret),
            Value::Int(event_id),
            Value::Text(event),
            Value::Text(data),
            changed,
            previous,
            Value::Timestamp(created),
        ] = row.as_slice()
        else {
            continue;
        };
        let parse = |v: &Value| match v {
            Value::Text(t) => serde_json::from_str::<Json>(t).ok(),
            _ => None,
        };
        let mut payload = json!({
            "id": event_id.to_string(),
            "event": event,
            "created_at": format_timestamp(created),
            "data": serde_json::from_str::<Json>(data).unwrap_or(Json::Null),
        });
        if let (Some(changed), Some(previous)) = (parse(changed), parse(previous)) {
            payload["changed_fields"] = changed;
            payload["previous"] = previous;
        }
        tx.execute(&Raw::new(
            "UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = attempts + 1, \
             updated_at = ? WHERE id = ?",
            vec![
                (now + chrono::Duration::seconds(LEASE_SECONDS)).into(),
                now.into(),
                (*id).into(),
            ],
        ))
        .await?;
        due.push(Due {
            id: *id,
            attempts: attempts + 1,
            webhook_id: *webhook_id,
            url: url.clone(),
            secret: secret.clone(),
            payload,
        });
    }
    tx.commit().await?;
    Ok(due)
}

/// What one attempt came to.
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
    retry_after: Option<u64>,
}

async fn attempt(state: &AppState, delivery: &Due) -> Outcome {
    let failed = |error: String| Outcome {
        status: None,
        error: Some(error),
        retry_after: None,
    };
    let body = delivery.payload.to_string();
    let message_id = format!("msg_{}", delivery.id);
    let timestamp = Utc::now().timestamp();
    let Ok(signature) = kring_core::webhook::signature_header(
        &[delivery.secret.as_str()],
        &message_id,
        timestamp,
        body.as_bytes(),
    ) else {
        return failed("the subscription has no valid secret".into());
    };
    let client = match vetted_client(&delivery.url, state.config.webhook_allow_private).await {
        Ok(client) => client,
        Err(reason) => return failed(reason),
    };
    let started = Instant::now();
    let response = client
        .post(&delivery.url)
        .header("content-type", "application/json")
        .header("webhook-id", &message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    tracing::debug!(
        delivery = delivery.id,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "webhook attempt"
    );
    match response {
        Ok(response) => Outcome {
            status: Some(response.status().as_u16()),
            error: None,
            retry_after: response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        },
        Err(e) => failed(format!("request failed: {e}")),
    }
}

/// A client bound to the target's vetted addresses, following no redirects.
async fn vetted_client(url: &str, allow_private: bool) -> Result<reqwest::Client, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    let host = parsed.host_str().ok_or("the URL has no host")?.to_string();
    let port = parsed
        .port_or_known_default()
        .ok_or("the URL has no port")?;
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addresses: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare.as_str(), port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if !allow_private && let Some(bad) = addresses.iter().find(|a| !is_public(a.ip())) {
        return Err(format!(
            "refused: {host} resolves to the non-public address {}",
            bad.ip()
        ));
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .resolve_to_addrs(&bare, &addresses)
        .build()
        .map_err(|e| format!("cannot build the client: {e}"))
}

/// Whether an address is on the public internet: not loopback, private, link-local (cloud
/// metadata lives there), unspecified, multicast, documentation, CGNAT or unique-local.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

async fn record(state: &AppState, delivery: &Due, outcome: Outcome) -> Result<(), Error> {
    let now = Utc::now();
    let succeeded = outcome.status.is_some_and(|s| (200..300).contains(&s));
    let gone = outcome.status == Some(410);
    let exhausted = delivery.attempts as usize > SCHEDULE.len();
    let (status, next) = if succeeded {
        ("succeeded", now)
    } else if gone || exhausted {
        ("failed", now)
    } else {
        (
            "pending",
            now + backoff(state, delivery.attempts, outcome.retry_after),
        )
    };
    let mut tx = state.db.begin().await?;
    tx.execute(&Raw::new(
        "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, response_status = ?, \
         error = ?, updated_at = ? WHERE id = ?",
        vec![
            status.into(),
            next.into(),
            outcome.status.map(i64::from).into(),
            outcome.error.into(),
            now.into(),
            delivery.id.into(),
        ],
    ))
    .await?;
    if gone || (exhausted && !succeeded) {
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
    let step = SCHEDULE
        .get((attempts.max(1) - 1) as usize)
        .copied()
        .unwrap_or(72_000) as f64;
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    let jitter = 0.8 + 0.4 * f64::from(byte[0]) / 255.0;
    let seconds = (step * jitter).max(retry_after.unwrap_or(0).min(86_400) as f64);
    let millis = seconds * 1000.0 * state.config.webhook_backoff_scale;
    chrono::Duration::milliseconds(millis as i64)
}
