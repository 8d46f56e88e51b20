//! `GET /api/changes`: the event log as a feed, in commit order, resumable from a cursor.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use kring_core::query::parse_query_string;
use kring_core::time::format_timestamp;
use serde_json::{Map, Value as Json, json};

use crate::auth::Principal;
use crate::db::Raw;
use crate::error::Error;
use crate::http::json_response;
use crate::http::query::{self, number};
use crate::state::AppState;

/// The most events one page of the feed holds.
const MAX_PAGE: u64 = 1000;

/// `GET /api/changes?since=<cursor>&limit=N`: the company's changes in commit order, limited to
/// the resources the caller may read, resumable from `next`.
pub async fn feed(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    let pairs = parse_query_string(uri.query().unwrap_or(""));
    let param = |name: &str| query::param(&pairs, name);
    let since = number(param("since"), "since", 0, i64::MAX.unsigned_abs())?;
    let limit = number(param("limit"), "limit", 100, MAX_PAGE)?;
    // Both were checked against bounds that fit an i64.
    let (since, limit) = (
        i64::try_from(since).unwrap_or(i64::MAX),
        i64::try_from(limit).unwrap_or(0),
    );
    let readable = principal.readable();
    if readable.is_empty() {
        return Err(Error::Forbidden);
    }
    let marks = vec!["?"; readable.len()].join(", ");
    let sql = format!(
        "SELECT id, event, data, changed_fields, previous, created_at FROM events \
         WHERE company_id = ? AND id > ? AND resource IN ({marks}) ORDER BY id LIMIT ?"
    );
    let mut values: Vec<sea_query::Value> = vec![tenant.company_id.into(), since.into()];
    values.extend(readable.iter().map(|r| (*r).into()));
    values.push(limit.into());
    type Change = (
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        DateTime<Utc>,
    );
    let rows: Vec<Change> = state.db.fetch_as(&Raw::owned(sql, values)).await?;
    let next = rows.last().map_or(since, |row| row.0);
    let parse = |v: Option<String>| v.and_then(|t| serde_json::from_str::<Json>(&t).ok());
    let data: Vec<Json> = rows
        .into_iter()
        .map(|(id, event, data, changed, previous, at)| {
            let mut item = Map::new();
            item.insert("id".into(), json!(id.to_string()));
            item.insert("event".into(), json!(event));
            item.insert("created_at".into(), json!(format_timestamp(&at)));
            let data = serde_json::from_str::<Json>(&data).unwrap_or(Json::Null);
            item.insert("data".into(), data);
            if let (Some(changed), Some(previous)) = (parse(changed), parse(previous)) {
                item.insert("changed_fields".into(), changed);
                item.insert("previous".into(), previous);
            }
            Json::Object(item)
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": data, "next": next.to_string() }),
    ))
}
