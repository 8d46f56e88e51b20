//! The unit of work of a write (DESIGN §6): it answers a repeated `Idempotency-Key` from what
//! the first request left, opens the write's transaction, writes the key into it beside the
//! effect, commits, and keeps the answer.
//!
//! ```text
//! let mut work = match UnitOfWork::start(&state, tenant, key, fingerprint).await? {
//!     Started::Replayed(response) => return Ok(response),
//!     Started::Fresh(work) => work,
//! };
//! let outcome = async { /* work.begin(), the writes, work.commit(tx, created) */ }.await;
//! work.finish(outcome).await
//! ```
//!
//! The operation says, by [`UnitOfWork::commit`], which transaction holds its effect and what
//! record it made; no other transaction of the request takes the key.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;

use super::response::json_response;
use crate::db::{Db, Tx};
use crate::error::Error;
use crate::ledger::events;
use crate::ledger::idempotency::{self, Attempt, Claim, Found, Outcome};
use crate::state::AppState;
use crate::tenant::Tenant;

/// A write in progress.
pub struct UnitOfWork<'a> {
    db: &'a Db,
    tenant: Tenant,
    attempt: Attempt,
    /// The request's key, while no commit has written it.
    unrecorded: Option<Claim>,
    /// The key and fingerprint the answer is kept under.
    kept_as: Option<Claim>,
    /// A transaction holding the effect committed (or, recovering, had committed).
    committed: bool,
}

/// How a unit of work starts.
pub enum Started<'a> {
    /// The key's first answer, replayed: nothing more to do.
    Replayed(Response),
    Fresh(UnitOfWork<'a>),
}

impl<'a> UnitOfWork<'a> {
    /// Looks the key up, if the request sent one: a kept answer is replayed, an effect whose
    /// answer a crash lost is recovered, the same key with another request is 422.
    pub async fn start(
        state: &'a AppState,
        tenant: Tenant,
        key: Option<String>,
        fingerprint: String,
    ) -> Result<Started<'a>, Error> {
        let db = &state.db;
        let Some(key) = key else {
            return Ok(Started::Fresh(UnitOfWork {
                db,
                tenant,
                attempt: Attempt::Run,
                unrecorded: None,
                kept_as: None,
                committed: false,
            }));
        };
        let attempt = match idempotency::look_up(db, tenant, &key, &fingerprint).await? {
            Found::Answer(status, body) => {
                crate::telemetry::idempotent_replay();
                return Ok(Started::Replayed(replayed(status, body)));
            }
            Found::Nothing => Attempt::Run,
            Found::Committed { created } => Attempt::Recover { created },
        };
        let claim = Claim {
            user_id: tenant.user_id,
            key,
            fingerprint,
        };
        let recovering = attempt != Attempt::Run;
        Ok(Started::Fresh(UnitOfWork {
            db,
            tenant,
            attempt,
            unrecorded: (!recovering).then(|| claim.clone()),
            kept_as: Some(claim),
            committed: recovering,
        }))
    }

    /// Whether to write, or to answer again for an effect that committed.
    pub fn attempt(&self) -> Attempt {
        self.attempt
    }

    /// Opens the write's transaction.
    pub async fn begin(&self) -> Result<Tx, Error> {
        let mut tx = self.db.begin().await?;
        events::hold_order(&mut tx, self.tenant).await?;
        Ok(tx)
    }

    /// Writes the request's key into `tx` beside the effect (`created`: the record a create
    /// made), then commits.
    pub async fn commit(&mut self, mut tx: Tx, created: Option<i64>) -> Result<(), Error> {
        if let Some(claim) = &self.unrecorded {
            idempotency::record(&mut tx, claim, created).await?;
        }
        tx.commit().await?;
        self.unrecorded = None;
        self.committed = true;
        Ok(())
    }

    /// Keeps the operation's answer under the key and turns it into the response.
    pub async fn finish(self, outcome: Outcome) -> Result<Response, Error> {
        if let Some(claim) = &self.kept_as {
            idempotency::keep_answer(
                self.db,
                self.tenant,
                &claim.key,
                &claim.fingerprint,
                self.committed,
                &outcome,
            )
            .await?;
        }
        let mut response = outcome.map(|(status, body)| respond(status, body))?;
        if self.attempt != Attempt::Run {
            // Rebuilt, not run: the effect is the first request's, as with any replay.
            mark_replayed(&mut response);
        }
        Ok(response)
    }
}

fn respond(status: StatusCode, body: Option<Json>) -> Response {
    match body {
        Some(body) => json_response(status, &body),
        None => status.into_response(),
    }
}

fn replayed(status: StatusCode, body: Option<Json>) -> Response {
    let mut response = respond(status, body);
    mark_replayed(&mut response);
    response
}

fn mark_replayed(response: &mut Response) {
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
}
