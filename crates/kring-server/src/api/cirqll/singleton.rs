//! Resources with one record per company (`GET` and `PATCH /api/setting`). The record is made
//! with its defaults the first time anyone reads or changes it, so a new company needs no setup.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::Utc;
use kring_core::Value;
use kring_core::query::{Plan, PlanKind};
use sea_query::{Expr, ExprTrait};
use serde_json::Value as Json;

use super::resources::{permitted_plan, planned_response, refuse_unknown_keys};
use crate::auth::Allowed;
use crate::auth::principal::{Update, View};
use crate::db::Db;
use crate::engine::write::{self, default_for, insert_record};
use crate::engine::{self, scoped_select};
use crate::error::Error;
use crate::http::extract::{IdempotencyKey, JsonBody, RouteResource};
use crate::http::unit_of_work::{Started, UnitOfWork};
use crate::ledger::idempotency::{self, Attempt};
use crate::registry::ResourceDef;
use crate::state::AppState;
use crate::tenant::Tenant;

/// The id of the company's record, created with its defaults if it does not exist yet.
async fn record_id(db: &Db, def: &'static ResourceDef, tenant: Tenant) -> Result<i64, Error> {
    let mut query = scoped_select(def, tenant);
    query.and_where(Expr::col((def.table, "company_id")).eq(tenant.company_id));
    if let Some(id) = db
        .fetch(&query, &def.types())
        .await?
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
    {
        return Ok(id);
    }
    let mut tx = db.begin().await?;
    // Another request may have made it meanwhile; the unique company_id decides.
    if let Some(id) = tx
        .fetch(&query, &def.types())
        .await?
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
    {
        return Ok(id);
    }
    let now = Value::Timestamp(Utc::now());
    let record: Vec<Value> = def
        .columns
        .iter()
        .map(|c| match c.name {
            "created_at" | "updated_at" => now.clone(),
            _ => default_for(c),
        })
        .collect();
    let id = insert_record(&mut tx, def, tenant, &record).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn show(
    State(state): State<AppState>,
    RouteResource(def): RouteResource,
    Allowed(principal, ..): Allowed<View>,
    uri: Uri,
) -> Result<Response, Error> {
    let plan = permitted_plan(&principal, def, &uri, PlanKind::Show)?;
    let id = record_id(&state.db, def, principal.tenant).await?;
    let record = engine::show(&state.db, def, principal.tenant, id, &plan).await?;
    Ok(planned_response(StatusCode::OK, &record, &plan))
}

/// A `PATCH` (or `PUT`) of the company's record; idempotent like every write.
pub async fn update(
    State(state): State<AppState>,
    RouteResource(def): RouteResource,
    Allowed(principal, ..): Allowed<Update>,
    IdempotencyKey(key): IdempotencyKey,
    uri: Uri,
    JsonBody(body): JsonBody,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    refuse_unknown_keys(def, &body)?;
    let fingerprint = idempotency::fingerprint("PATCH", uri.path(), Some(&body));
    let mut work = match UnitOfWork::start(&state, tenant, key, fingerprint).await? {
        Started::Replayed(response) => return Ok(response),
        Started::Fresh(work) => work,
    };
    let outcome = async {
        // Made with its defaults in a transaction of its own, which is no effect of this
        // request: a replay finds the record there either way.
        let id = record_id(&state.db, def, tenant).await?;
        let record = match work.attempt() {
            Attempt::Run => {
                let mut tx = work.begin().await?;
                let record = write::update(&mut tx, def, tenant, id, &body).await?;
                work.commit(tx, None).await?;
                Json::Object(record)
            }
            Attempt::Recover { .. } => {
                engine::show(&state.db, def, tenant, id, &Plan::default()).await?
            }
        };
        Ok((StatusCode::OK, Some(record)))
    }
    .await;
    work.finish(outcome).await
}
