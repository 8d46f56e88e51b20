//! The ceiling: the same endpoints written by hand against sqlx, with the SQL Kring runs
//! (token and permission lookup; a row; a page and its counter, or an owner's page and its
//! count; insert, counter, activity log) but no registry, no validation engine and no generic
//! row decoding.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kring_server::auth::sha256_hex;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Row, SqlitePool};
use std::collections::HashMap;

#[derive(Clone)]
struct Pools {
    read: SqlitePool,
    write: SqlitePool,
}

pub async fn router(url: &str) -> anyhow::Result<Router> {
    // sqlx's own pools, as a hand-written server would use them, with Kring's connection
    // settings and sizes: eight readers, one writer (Kring lends its read connections itself
    // and commits concurrent writes together: `kring_server::db::{Readers, Writer}`).
    let options = kring_server::db::sqlite_options(url)?;
    let pool = |size| {
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(size)
            .test_before_acquire(false)
    };
    let read = pool(8)
        .connect_with(options.clone().read_only(true))
        .await?;
    let write = pool(1).connect_with(options).await?;
    Ok(Router::new()
        .route("/api/customer", get(list).post(create))
        .route("/api/customer/{id}", get(show))
        .with_state(Pools { read, write }))
}

const AUTH: &str = "SELECT u.id, u.company_id, EXISTS ( \
     SELECT 1 FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id \
     WHERE rp.role_id = u.role_id AND p.name = ?) \
 FROM personal_access_tokens t JOIN users u ON u.id = t.user_id \
 WHERE t.token_hash = ? AND t.revoked = ? AND (t.expires_at IS NULL OR t.expires_at > ?)";

const COLUMNS: &str = "id, user_id, name, description, coc, email, phone, next_contact, show_on_map, \
     created_at, updated_at, next_contact_note";

fn now_text() -> String {
    kring_core::time::format_timestamp(&chrono::Utc::now())
}

async fn authorize<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    headers: &HeaderMap,
    permission: &str,
) -> Result<(i64, i64), StatusCode> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let row = sqlx::query(AUTH)
        .bind(permission)
        .bind(sha256_hex(token))
        .bind(false)
        .bind(now_text())
        .fetch_optional(executor)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::UNAUTHORIZED)?;
    if !row.get::<bool, _>(2) {
        return Err(StatusCode::FORBIDDEN);
    }
    Ok((row.get(0), row.get(1)))
}

fn customer_json(row: &sqlx::sqlite::SqliteRow) -> Value {
    json!({
        "id": row.get::<i64, _>(0), "user_id": row.get::<Option<i64>, _>(1), "name": row.get::<String, _>(2),
        "description": row.get::<Option<String>, _>(3), "coc": row.get::<Option<String>, _>(4),
        "email": row.get::<Option<String>, _>(5), "phone": row.get::<Option<String>, _>(6),
        "next_contact": row.get::<Option<String>, _>(7), "show_on_map": row.get::<bool, _>(8),
        "created_at": row.get::<String, _>(9), "updated_at": row.get::<String, _>(10),
        "next_contact_note": row.get::<Option<String>, _>(11),
    })
}

/// `filter=user_id:eq:N` (with `order_by=name`), the one filter the benchmark sends.
fn owner_of(query: &HashMap<String, String>) -> Option<i64> {
    query
        .get("filter")?
        .strip_prefix("user_id:eq:")?
        .parse()
        .ok()
}

async fn list(
    State(pools): State<Pools>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let result: Result<Value, StatusCode> = async {
        let (_, company) = authorize(&pools.read, &headers, "customer.view").await?;
        let limit: i64 = query.get("limit").and_then(|v| v.parse().ok()).unwrap_or(100);
        let offset: i64 = query.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
        let err = |_| StatusCode::INTERNAL_SERVER_ERROR;
        let (rows, total) = match owner_of(&query) {
            Some(owner) => {
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM customers WHERE company_id = ? AND user_id = ? \
                     ORDER BY name COLLATE NOCASE, id LIMIT ? OFFSET ?"
                )))
                .bind(company)
                .bind(owner)
                .bind(limit)
                .bind(offset)
                .fetch_all(&pools.read)
                .await
                .map_err(err)?;
                let total: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM customers WHERE company_id = ? AND user_id = ?",
                )
                .bind(company)
                .bind(owner)
                .fetch_one(&pools.read)
                .await
                .map_err(err)?;
                (rows, total)
            }
            None => {
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM customers WHERE company_id = ? AND id IN \
                     (SELECT id FROM customers WHERE company_id = ? ORDER BY id LIMIT ? OFFSET ?) ORDER BY id"
                )))
                .bind(company)
                .bind(company)
                .bind(limit)
                .bind(offset)
                .fetch_all(&pools.read)
                .await
                .map_err(err)?;
                let total: i64 = sqlx::query_scalar(
                    "SELECT total FROM resource_counts WHERE company_id = ? AND resource = 'customer'",
                )
                .bind(company)
                .fetch_optional(&pools.read)
                .await
                .map_err(err)?
                .unwrap_or(0);
                (rows, total)
            }
        };
        let data: Vec<Value> = rows.iter().map(customer_json).collect();
        Ok(json!({"data": data, "limit": limit, "total": total, "offset": offset}))
    }
    .await;
    answer(StatusCode::OK, result)
}

async fn show(State(pools): State<Pools>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let result: Result<Value, StatusCode> = async {
        let (_, company) = authorize(&pools.read, &headers, "customer.view").await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM customers WHERE company_id = ? AND id = ?"
        )))
        .bind(company)
        .bind(id)
        .fetch_optional(&pools.read)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::NOT_FOUND)?;
        Ok(customer_json(&row))
    }
    .await;
    answer(StatusCode::OK, result)
}

fn answer(status: StatusCode, result: Result<Value, StatusCode>) -> Response {
    match result {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
        Err(status) => status.into_response(),
    }
}

async fn create(State(pools): State<Pools>, headers: HeaderMap, body: String) -> Response {
    let result: Result<Value, StatusCode> = async {
        let (user, company) = authorize(&pools.read, &headers, "customer.create").await?;
        let input: Value = serde_json::from_str(&body).map_err(|_| StatusCode::BAD_REQUEST)?;
        let name = input["name"].as_str().ok_or(StatusCode::UNPROCESSABLE_ENTITY)?.to_string();
        let email = input["email"].as_str().map(str::to_string);
        let show_on_map = input["show_on_map"].as_bool().unwrap_or(false);
        let err = |_| StatusCode::INTERNAL_SERVER_ERROR;
        let mut tx = pools.write.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
        // Kring checks the company's required custom fields on every create.
        sqlx::query("SELECT id, name, type, required FROM fields WHERE company_id = ? AND model = 'customer'")
            .bind(company)
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
        let now = now_text();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO customers (company_id, user_id, name, description, coc, email, phone, next_contact, \
             show_on_map, created_at, updated_at, next_contact_note) \
             VALUES (?, ?, ?, NULL, NULL, ?, NULL, NULL, ?, ?, ?, NULL) RETURNING id",
        )
        .bind(company)
        .bind(user)
        .bind(&name)
        .bind(&email)
        .bind(show_on_map)
        .bind(&now)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await
        .map_err(err)?;
        sqlx::query(
            "INSERT INTO resource_counts (company_id, resource, total) VALUES (?, 'customer', 1) \
             ON CONFLICT (company_id, resource) DO UPDATE SET total = resource_counts.total + excluded.total",
        )
        .bind(company)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let customer = json!({
            "id": id, "user_id": user, "name": name, "description": null, "coc": null, "email": email,
            "phone": null, "next_contact": null, "show_on_map": show_on_map, "created_at": now,
            "updated_at": now, "next_contact_note": null,
        });
        sqlx::query(
            "INSERT INTO activity_log (company_id, log_name, description, subject_type, subject_id, event, \
             causer_type, causer_id, properties, created_at, updated_at) \
             VALUES (?, 'default', 'created', 'customer', ?, 'created', 'user', ?, ?, ?, ?)",
        )
        .bind(company)
        .bind(id)
        .bind(user)
        .bind(json!({ "attributes": customer }).to_string())
        .bind(&now)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(customer)
    }
    .await;
    answer(StatusCode::CREATED, result)
}
