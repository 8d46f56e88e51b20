//! `Idempotency-Key` on POST, PATCH, PUT and DELETE (DESIGN §2): the first response to a key is
//! kept for 24 hours and replayed to the same request; the same key with another request is 422;
//! two requests with one key at once make one effect, and the other is 409. Keys belong to the
//! token's owner, so two users never share one.
//!
//! These are the key's rows; the unit of work (`crate::http::unit_of_work`) decides when each is
//! written. The key's row is written by the write's own transaction ([`record`]), so a crash
//! leaves either the effect and its key or neither (C3): a key without its effect would hold
//! retries off, an effect without its key would run twice. The answer is kept right after the
//! commit; should a crash fall in between, the next retry finds the key committed without an
//! answer and the operation rebuilds its answer without writing again ([`Attempt::Recover`]).

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, Utc};
use kring_core::i18n::{Locale, Message};
use serde_json::{Map, Value as Json};

use crate::crypto::sha256_hex;
use crate::db::{Db, Raw, Tx};
use crate::error::Error;
use crate::tenant::Tenant;

pub const HEADER: &str = "idempotency-key";
/// How long a key's first response is kept.
const KEPT_HOURS: i64 = 24;
/// A key claimed by a version before keys were written with their effect and still "running"
/// after this long belongs to a request that died; it may be retried.
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

/// What an idempotent operation is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Write, then answer.
    Run,
    /// The write committed but a crash lost its answer: answer again without writing.
    /// `created` is the record a create made.
    Recover { created: Option<i64> },
}

impl Attempt {
    /// The record a recovered create made.
    pub fn created(self) -> Result<i64, Error> {
        match self {
            Attempt::Recover { created: Some(id) } => Ok(id),
            _ => Err(Error::Internal(
                "a recovered create kept no record id".into(),
            )),
        }
    }
}

/// A key a request holds while its operation runs: what its row is written with.
#[derive(Debug, Clone)]
pub struct Claim {
    pub user_id: i64,
    pub key: String,
    pub fingerprint: String,
}

/// Writes the claimed key into `tx`, the write's own transaction, before it commits; `effect`
/// is the record a create made, so that a lost answer can be rebuilt from it. Another request
/// with the same key that committed first makes this one 409, and its transaction rolls back.
pub async fn record(tx: &mut Tx, claim: &Claim, effect: Option<i64>) -> Result<(), Error> {
    let inserted = tx
        .execute(&Raw::new(
            "INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, created_at, \
             committed, effect_id) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (user_id, idempotency_key) DO NOTHING",
            vec![
                claim.user_id.into(),
                claim.key.clone().into(),
                claim.fingerprint.clone().into(),
                Utc::now().into(),
                true.into(),
                effect.into(),
            ],
        ))
        .await?;
    if inserted != 1 {
        return Err(Error::Conflict(Message::new("http.idempotency_running")));
    }
    Ok(())
}

/// What a key already holds.
pub enum Found {
    Nothing,
    /// The kept answer, to replay.
    Answer(StatusCode, Option<Json>),
    /// The effect committed, the answer was lost.
    Committed {
        created: Option<i64>,
    },
}

/// Reads the key: nothing yet (or expired), an answer to replay, or an effect whose answer a
/// crash lost. The same key with another request is 422; a key claimed the old way and still
/// running is 409.
pub async fn look_up(
    db: &Db,
    tenant: Tenant,
    key: &str,
    fingerprint: &str,
) -> Result<Found, Error> {
    let now = Utc::now();
    // fingerprint, status, response, created_at, committed, effect_id
    type Key = (
        String,
        Option<i64>,
        Option<String>,
        DateTime<Utc>,
        bool,
        Option<i64>,
    );
    let rows: Vec<Key> = db
        .fetch_as(&Raw::new(
            "SELECT fingerprint, status, response, created_at, committed, effect_id \
             FROM idempotency_keys WHERE user_id = ? AND idempotency_key = ?",
            vec![tenant.user_id.into(), key.into()],
        ))
        .await?;
    let Some((stored, status, response, created, committed, effect)) = rows.into_iter().next()
    else {
        return Ok(Found::Nothing);
    };
    let abandoned =
        status.is_none() && !committed && created < now - Duration::minutes(ABANDONED_MINUTES);
    if created < now - Duration::hours(KEPT_HOURS) || abandoned {
        forget(db, tenant, key).await?;
        return Ok(Found::Nothing);
    }
    if stored != fingerprint {
        return Err(Error::Unprocessable(Message::new(
            "http.idempotency_reused",
        )));
    }
    match (status, committed) {
        (Some(status), _) => Ok(replay(status, response.as_deref())),
        (None, true) => Ok(Found::Committed { created: effect }),
        _ => Err(Error::Conflict(Message::new("http.idempotency_running"))),
    }
}

fn replay(status: i64, response: Option<&str>) -> Found {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body = response.and_then(|text| serde_json::from_str(text).ok());
    Found::Answer(status, body)
}

/// Keeps the answer under the key. After a committed write, the answer joins the key its
/// transaction wrote (the first answer wins, should a recovery race the original). Without a
/// commit, a refusal (under 500) is kept as the key's answer, unless a request with the same key
/// committed meanwhile; a server error keeps nothing, so a retry runs again.
pub async fn keep_answer(
    db: &Db,
    tenant: Tenant,
    key: &str,
    fingerprint: &str,
    committed: bool,
    outcome: &Outcome,
) -> Result<(), Error> {
    let (status, body) = match outcome {
        Ok((status, body)) => (*status, body.clone()),
        Err(e) if !e.status().is_server_error() => (e.status(), Some(e.body(Locale::En))),
        // Committed or not, nothing to keep: a committed key is recovered on the next retry.
        Err(_) => return Ok(()),
    };
    let status = i64::from(status.as_u16());
    let body = body.map(|b| b.to_string());
    let now = Utc::now();
    let statement = if committed {
        Raw::new(
            "UPDATE idempotency_keys SET status = ?, response = ? \
             WHERE user_id = ? AND idempotency_key = ? AND status IS NULL",
            vec![
                status.into(),
                body.into(),
                tenant.user_id.into(),
                key.into(),
            ],
        )
    } else {
        Raw::new(
            "INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, status, \
             response, created_at) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (user_id, idempotency_key) DO NOTHING",
            vec![
                tenant.user_id.into(),
                key.into(),
                fingerprint.into(),
                status.into(),
                body.into(),
                now.into(),
            ],
        )
    };
    let mut tx = db.begin().await?;
    tx.execute(&statement).await?;
    tx.commit().await
}

async fn forget(db: &Db, tenant: Tenant, key: &str) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    tx.execute(&Raw::new(
        "DELETE FROM idempotency_keys WHERE user_id = ? AND idempotency_key = ?",
        vec![tenant.user_id.into(), key.into()],
    ))
    .await?;
    tx.commit().await
}
