//! Passport's JSON API for the signed-in user's own clients and authorized tokens:
//! `GET/POST /oauth/clients`, `PUT/DELETE /oauth/clients/{id}`, `GET /oauth/tokens`,
//! `DELETE /oauth/tokens/{id}`. A client's secret is shown once, in the creation response.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use kring_core::i18n::Message;
use kring_core::time::format_timestamp;
use kring_core::validate::ValidationErrors;
use serde_json::{Map, Value as Json, json};

use super::clients::valid_redirect;
use super::grants::revoke_family;
use crate::auth::Principal;
use crate::db::Raw;
use crate::error::Error;
use crate::http::{json_body, json_response};
use crate::state::AppState;
use crate::tenant::Tenant;

/// id, name, redirect, confidential, revoked, created_at, updated_at
type ClientRow = (
    i64,
    String,
    String,
    bool,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn client_json(user_id: i64, row: ClientRow) -> Json {
    let (id, name, redirect, confidential, revoked, created, updated) = row;
    json!({
        "id": id.to_string(), "user_id": user_id, "name": name, "redirect": redirect,
        "confidential": confidential, "personal_access_client": false,
        "password_client": false, "revoked": revoked,
        "created_at": format_timestamp(&created), "updated_at": format_timestamp(&updated),
    })
}

async fn own_client(state: &AppState, owner: Tenant, id: &str) -> Result<Json, Error> {
    let not_found = || Error::NotFound {
        resource: "client",
        id: kring_core::query::truncate(id, 40),
    };
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let rows: Vec<ClientRow> = state
        .db
        .fetch_as(&Raw::new(
            "SELECT id, name, redirect, confidential, revoked, created_at, updated_at \
             FROM oauth_clients WHERE id = ? AND user_id = ? AND revoked = ?",
            vec![id.into(), owner.user_id.into(), false.into()],
        ))
        .await?;
    rows.into_iter()
        .next()
        .map(|row| client_json(owner.user_id, row))
        .ok_or_else(not_found)
}

pub async fn list_clients(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, Error> {
    let owner = principal.personal_owner()?;
    let rows: Vec<ClientRow> = state
        .db
        .fetch_as(&Raw::new(
            "SELECT id, name, redirect, confidential, revoked, created_at, updated_at \
             FROM oauth_clients WHERE user_id = ? AND revoked = ? ORDER BY id",
            vec![owner.user_id.into(), false.into()],
        ))
        .await?;
    let clients: Vec<Json> = rows
        .into_iter()
        .map(|row| client_json(owner.user_id, row))
        .collect();
    Ok(json_response(StatusCode::OK, &Json::Array(clients)))
}

/// `name` and `redirect` (space- or comma-separated URIs), validated Laravel-style.
fn client_fields(body: &Map<String, Json>) -> Result<(String, String), Error> {
    let mut errors = ValidationErrors::default();
    let name = body
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if name.is_empty() {
        errors.add("name", Message::new("validation.required"));
    } else if name.chars().count() > 255 {
        errors.add(
            "name",
            Message::new("validation.max.string").with("max", "255"),
        );
    }
    let redirect = body.get("redirect").and_then(Json::as_str).unwrap_or("");
    let redirects: Vec<&str> = redirect
        .split([' ', ','])
        .filter(|r| !r.is_empty())
        .collect();
    if redirects.is_empty() {
        errors.add("redirect", Message::new("validation.required"));
    } else if !redirects.iter().all(|r| valid_redirect(r)) {
        errors.add("redirect", Message::new("validation.url"));
    }
    if errors.is_empty() {
        Ok((name, redirects.join(" ")))
    } else {
        Err(Error::Validation(errors))
    }
}

pub async fn create_client(
    State(state): State<AppState>,
    principal: Principal,
    request: Request,
) -> Result<Response, Error> {
    let owner = principal.personal_owner()?;
    let body = json_body(request, state.config.body_limit).await?;
    let (name, redirect) = client_fields(&body)?;
    let confidential = body
        .get("confidential")
        .and_then(Json::as_bool)
        .unwrap_or(true);
    let mut tx = state.db.begin().await?;
    let (id, secret) =
        super::clients::insert(&mut tx, owner, &name, &redirect, confidential).await?;
    tx.commit().await?;
    let mut client = own_client(&state, owner, &id.to_string()).await?;
    if let Json::Object(fields) = &mut client {
        fields.insert("secret".into(), json!(secret));
    }
    Ok(json_response(StatusCode::CREATED, &client))
}

pub async fn update_client(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Error> {
    let owner = principal.personal_owner()?;
    own_client(&state, owner, &id).await?;
    let body = json_body(request, state.config.body_limit).await?;
    let (name, redirect) = client_fields(&body)?;
    let mut tx = state.db.begin().await?;
    tx.execute(&Raw::new(
        "UPDATE oauth_clients SET name = ?, redirect = ?, updated_at = ? WHERE id = ? AND user_id = ?",
        vec![
            name.into(),
            redirect.into(),
            Utc::now().into(),
            id.parse::<i64>().unwrap_or(0).into(),
            owner.user_id.into(),
        ],
    ))
    .await?;
    tx.commit().await?;
    Ok(json_response(
        StatusCode::OK,
        &own_client(&state, owner, &id).await?,
    ))
}

/// Deleting a client revokes it and every token it was given.
pub async fn delete_client(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let owner = principal.personal_owner()?;
    own_client(&state, owner, &id).await?;
    let id = id.parse::<i64>().unwrap_or(0);
    let mut tx = state.db.begin().await?;
    tx.changes_access();
    for sql in [
        "UPDATE oauth_clients SET revoked = ? WHERE id = ?",
        "UPDATE personal_access_tokens SET revoked = ? WHERE client_id = ?",
        "UPDATE oauth_refresh_tokens SET revoked = ? WHERE client_id = ?",
    ] {
        tx.execute(&Raw::new(sql, vec![true.into(), id.into()]))
            .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The user's live OAuth access tokens, with the client each was issued to.
pub async fn list_tokens(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, Error> {
    let owner = principal.personal_owner()?;
    // t.id, t.client_id, c.name, t.scopes, t.expires_at, t.created_at. The two nullable
    // columns are plain: the join keeps out a NULL client_id, `expires_at > ?` a NULL expiry.
    type TokenRow = (i64, i64, String, String, DateTime<Utc>, DateTime<Utc>);
    let rows: Vec<TokenRow> = state
        .db
        .fetch_as(&Raw::new(
            "SELECT t.id, t.client_id, c.name, t.scopes, t.expires_at, t.created_at \
             FROM personal_access_tokens t JOIN oauth_clients c ON c.id = t.client_id \
             WHERE t.user_id = ? AND t.revoked = ? AND t.expires_at > ? ORDER BY t.id",
            vec![owner.user_id.into(), false.into(), Utc::now().into()],
        ))
        .await?;
    let tokens: Vec<Json> = rows
        .into_iter()
        .map(|(id, client_id, client, scopes, expires, created)| {
            json!({
                "id": id.to_string(), "user_id": owner.user_id, "client_id": client_id.to_string(),
                "scopes": scopes.split_whitespace().collect::<Vec<_>>(), "revoked": false,
                "expires_at": format_timestamp(&expires), "created_at": format_timestamp(&created),
                "client": {"id": client_id.to_string(), "name": client},
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Json::Array(tokens)))
}

/// Revokes one of the user's OAuth tokens and the rest of its grant.
pub async fn delete_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let owner = principal.personal_owner()?;
    let not_found = || Error::NotFound {
        resource: "token",
        id: kring_core::query::truncate(&id, 40),
    };
    let token_id: i64 = id.parse().map_err(|_| not_found())?;
    let rows: Vec<(Option<String>,)> = state
        .db
        .fetch_as(&Raw::new(
            "SELECT family FROM personal_access_tokens \
             WHERE id = ? AND user_id = ? AND client_id IS NOT NULL",
            vec![token_id.into(), owner.user_id.into()],
        ))
        .await?;
    // `family` is nullable: a token without one has no grant to revoke, and stays a 404.
    let Some((Some(family),)) = rows.into_iter().next() else {
        return Err(not_found());
    };
    let mut tx = state.db.begin().await?;
    revoke_family(&mut tx, &family).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
