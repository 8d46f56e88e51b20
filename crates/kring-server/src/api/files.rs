//! `GET /api/files/{uuid}`: downloads, for the owning company only.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::Principal;
use crate::db::Raw;
use crate::error::Error;
use crate::registry::{Action, find};
use crate::state::AppState;

/// `GET /api/files/{uuid}`: the file, to a caller of its company who may view the record it
/// belongs to; 404 for anyone else, as for a file that does not exist (T44).
pub async fn download(
    State(state): State<AppState>,
    principal: Principal,
    Path(uuid): Path<String>,
) -> Result<Response, Error> {
    let tenant = principal.tenant;
    let not_found = || Error::NotFound {
        resource: "media",
        id: kring_core::query::truncate(&uuid, 40),
    };
    if uuid.len() != 32 || !uuid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let rows: Vec<(String, String, Option<String>)> = state
        .db
        .fetch_as(&Raw::new(
            "SELECT model_type, file_name, mime_type FROM media WHERE company_id = ? AND uuid = ?",
            vec![tenant.company_id.into(), uuid.clone().into()],
        ))
        .await?;
    let Some((model, name, mime)) = rows.into_iter().next() else {
        return Err(not_found());
    };
    let def = find(&model).ok_or_else(not_found)?;
    principal.may(def, Action::View)?;
    let (body, length) = state
        .files
        .open(tenant.company_id, &uuid)
        .await?
        .ok_or_else(not_found)?;
    let mime = mime
        .filter(|m| !m.contains("html"))
        .unwrap_or_else(|| "application/octet-stream".to_string());
    Ok(file_response(body, length, &name, &mime))
}

fn file_response(body: Body, length: Option<u64>, name: &str, mime: &str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&content_disposition(name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266).
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = kring_core::form::percent_encode(name, b"");
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}
