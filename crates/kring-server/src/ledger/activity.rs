//! The activity log: who created, changed or deleted what, written in the same transaction as
//! the change itself (spatie/laravel-activitylog's table shape).

use chrono::Utc;
use sea_query::{Expr, Query};
use serde_json::Value as Json;

use crate::db::Tx;
use crate::error::Error;
use crate::registry::ResourceDef;
use crate::tenant::Tenant;

#[derive(Debug, Clone, Copy)]
pub enum Event {
    Created,
    Updated,
    Deleted,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Created => "created",
            Event::Updated => "updated",
            Event::Deleted => "deleted",
        }
    }
}

/// `properties` holds `attributes` (new values) and, for updates and deletes, `old`.
pub async fn record(
    tx: &mut Tx,
    def: &ResourceDef,
    tenant: Tenant,
    subject_id: i64,
    event: Event,
    properties: Json,
) -> Result<(), Error> {
    let now = Utc::now();
    let mut insert = Query::insert();
    insert
        .into_table("activity_log")
        .columns([
            "company_id",
            "log_name",
            "description",
            "subject_type",
            "subject_id",
            "event",
            "causer_type",
            "causer_id",
            "properties",
            "created_at",
            "updated_at",
        ])
        .values([
            Expr::val(tenant.company_id),
            Expr::val("default"),
            Expr::val(event.name()),
            Expr::val(def.name),
            Expr::val(subject_id),
            Expr::val(event.name()),
            Expr::val("user"),
            Expr::val(tenant.user_id),
            Expr::val(properties.to_string()),
            Expr::val(now),
            Expr::val(now),
        ])
        .map_err(|e| Error::Internal(format!("activity statement: {e}")))?;
    tx.execute(&insert).await.map(|_| ())
}
