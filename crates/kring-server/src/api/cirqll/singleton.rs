//! Resources with one record per company (`GET` and `PATCH /api/setting`). The record is made
//! with its defaults the first time anyone reads or changes it, so a new company needs no setup.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use kring_core::Value;
use kring_core::query::PlanKind;
use sea_query::{Expr, ExprTrait};

use super::resources::{may_reach, permitted, planned_response, query_plan, refuse_unknown_keys};
use crate::AppState;
use crate::auth::Caller;
use crate::db::Db;
use crate::engine::write;
use crate::engine::write::{default_for, insert_record};
use crate::engine::{self, scoped_select};
use crate::error::Error;
use crate::http::{json_body, json_response};
use crate::registry::{Action, ResourceDef};
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
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, def, Action::View).await?;
    let plan = query_plan(def, &request, PlanKind::Show)?;
    may_reach(&state, &Caller::of(&request), tenant, &plan).await?;
    let id = record_id(&state.db, def, tenant).await?;
    let record = engine::show(&state.db, def, tenant, id, &plan).await?;
    Ok(planned_response(StatusCode::OK, &record, &plan))
}

pub async fn update(
    def: &'static ResourceDef,
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Error> {
    let tenant = permitted(&state, &request, def, Action::Update).await?;
    let body = json_body(request, state.config.body_limit).await?;
    refuse_unknown_keys(def, &body)?;
    let id = record_id(&state.db, def, tenant).await?;
    let record = write::update(&state.db, def, tenant, id, &body).await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::Value::Object(record),
    ))
}
