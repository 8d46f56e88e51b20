//! The event log: `<resource>.created|updated|deleted` for every routed resource, written in the
//! change's own transaction; the change feed
//! (`crate::api::cirqll::changes`) reads it.
//!
//! An event carries the record as a show returns it (`data`); updates add `changed_fields` and
//! the `previous` values; a deletion keeps the last state as a tombstone.

use chrono::Utc;
use kring_core::resource::{ResourceDef, Routes};
use serde_json::{Map, Value as Json, json};

use crate::db::{Raw, Tx, dialect};
use crate::error::Error;
use crate::ledger::activity::Event;
use crate::tenant::Tenant;

/// The key of the advisory lock that orders a company's event ids by commit on PostgreSQL
/// (with the company's id mixed in: each company's feed is read on its own).
const ORDER_LOCK: i64 = 0x6b72_696e_6765_0000;

/// Takes the lock that orders `tenant`'s events, until `tx` commits. A unit of work takes it
/// first, before any other lock: an event is recorded at the end of a write, after its row,
/// counter and uniqueness locks, and two writes that took those in one order and this lock in
/// the other would deadlock (PostgreSQL; SQLite has one writer).
pub async fn hold_order(tx: &mut Tx, tenant: Tenant) -> Result<(), Error> {
    dialect::lock_until_commit(tx, ORDER_LOCK ^ tenant.company_id).await
}

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
pub async fn record(tx: &mut Tx, tenant: Tenant, change: Change<'_>) -> Result<(), Error> {
    if change.def.routes == Routes::None {
        return Ok(());
    }
    // Held to commit: ids are then taken in commit order, so a feed reader that resumes after
    // an id can never miss an event committed later with a smaller one.
    hold_order(tx, tenant).await?;
    let changed = change
        .previous
        .map(|p| Json::Array(p.keys().map(|k| Json::String(k.clone())).collect()).to_string());
    let name = format!("{}.{}", change.def.name, change.event.name());
    let now = Utc::now();
    // The outbox rows come with it, in the same statement: the trigger of migration 18.
    tx.execute(&Raw::new(
        "INSERT INTO events (company_id, resource, record_id, event, data, changed_fields, \
         previous, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            tenant.company_id.into(),
            change.def.name.into(),
            change.id.into(),
            name.into(),
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
    Ok(())
}

/// The event name of a subscription's test delivery.
pub const TEST_EVENT: &str = "webhook.test";

/// Queues a `webhook.test` event for one subscription, in `tx`: an event row (under a resource
/// name no resource has, so the change feed never lists it) and its one delivery, due now, so
/// it goes through the same outbox, signing and target checks as every delivery. Returns the
/// delivery's id.
pub async fn record_test(tx: &mut Tx, tenant: Tenant, webhook: i64) -> Result<i64, Error> {
    let now = Utc::now();
    let data = json!({ "webhook_id": webhook }).to_string();
    let event_id = tx
        .insert(&Raw::new(
            "INSERT INTO events (company_id, resource, record_id, event, data, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            vec![
                tenant.company_id.into(),
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
            tenant.company_id.into(),
            webhook.into(),
            event_id.into(),
            now.into(),
            now.into(),
            now.into(),
        ],
    ))
    .await
}
