//! `GET /api/files/{uuid}`: downloads, for the owning company only; and the file objects a
//! response shows for the file values it holds.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kring_core::file_url::{self, Refusal};
use kring_core::i18n::Message;

use sea_query::{Expr, ExprTrait, Query};
use serde_json::{Value as Json, json};

use crate::auth::Principal;
use crate::db::Db;
use crate::error::Error;
use crate::http::query::param;
use crate::registry::{Action, find};
use crate::state::AppState;
use crate::tenant::Tenant;

/// The download links a response shows: absolute from the request's public base, signed and
/// expiring (`kring_core::file_url`), so they open with no header.
#[derive(Clone)]
pub struct Links {
    base: String,
    key: Arc<Vec<u8>>,
    expires: i64,
}

impl Links {
    /// The links of a request, from its public base (421 for a `Host` that may not be one).
    /// They expire a lifetime from now, rounded up to the minute, so that a page of links
    /// made within one minute stays the same (and a browser's cache keeps an image).
    pub fn of(state: &AppState, headers: &axum::http::HeaderMap) -> Result<Links, Error> {
        let base = crate::http::public_base(&state.config, headers)?;
        let lifetime = i64::try_from(state.config.file_link_lifetime.as_secs()).unwrap_or(i64::MAX);
        let expires = now(state).saturating_add(lifetime).saturating_add(59) / 60 * 60;
        Ok(Links {
            base,
            key: state.link_key.clone(),
            expires,
        })
    }

    /// The public base the links start with.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, uuid: &str) -> String {
        let query = file_url::signed_query(&self.key, uuid, self.expires);
        format!("{}{}?{query}", self.base, file_url::path(uuid))
    }
}

/// Unix seconds on the server's clock (the one tests move), which links expire by.
fn now(state: &AppState) -> i64 {
    i64::try_from(state.config.clock.epoch_seconds()).unwrap_or(i64::MAX)
}

/// How a dialect names a file's URL: Cirqll's `url`, ManageIt's `path` (`spec/manageit.md`
/// §2.3) beside it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FileKeys {
    Cirqll,
    ManageIt,
}

/// A stored file's size and content type, by uuid.
pub type FileFacts = HashMap<String, (i64, Option<String>)>;

/// Turns every file value in `json` (a record, a list, relations at any depth: a `value` that
/// is a list of `{"name", "uuid"}`, as the engine presents a file field) into what a client
/// uses: each file's name, size, content type and URL. One statement for all of them; a file
/// whose media row is gone is left out. `links` is asked for only when there are files.
pub async fn present_files(
    db: &Db,
    tenant: Tenant,
    links: impl FnOnce() -> Result<Links, Error>,
    keys: FileKeys,
    json: &mut Json,
) -> Result<(), Error> {
    let mut uuids = Vec::new();
    visit_file_values(json, &mut |items| {
        uuids.extend(
            items
                .iter()
                .filter_map(|i| i.get("uuid")?.as_str().map(String::from)),
        );
    });
    if uuids.is_empty() {
        return Ok(());
    }
    let links = links()?;
    let facts = file_facts(db, tenant, uuids).await?;
    complete_files(json, &facts, &links, keys);
    Ok(())
}

/// [`present_files`] with the facts already read (a record read with its media).
pub fn complete_files(json: &mut Json, facts: &FileFacts, links: &Links, keys: FileKeys) {
    visit_file_values(json, &mut |items| {
        let shown: Vec<Json> = items
            .iter()
            .filter_map(|item| {
                let name = item.get("name")?.clone();
                let uuid = item.get("uuid")?.as_str()?;
                let (size, content_type) = facts.get(uuid)?;
                let url = links.url(uuid);
                Some(match keys {
                    FileKeys::Cirqll => json!({
                        "name": name, "size": size, "content_type": content_type, "url": url,
                    }),
                    FileKeys::ManageIt => json!({
                        "name": name, "path": url, "size": size, "content_type": content_type,
                    }),
                })
            })
            .collect();
        *items = shown;
    });
}

/// Calls `found` with each file value's list of files in `json`.
fn visit_file_values(json: &mut Json, found: &mut dyn FnMut(&mut Vec<Json>)) {
    match json {
        Json::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Json::Array(items) if key == "value" && is_file_list(items) => found(items),
                    other => visit_file_values(other, found),
                }
            }
        }
        Json::Array(items) => items
            .iter_mut()
            .for_each(|item| visit_file_values(item, found)),
        _ => {}
    }
}

fn is_file_list(items: &[Json]) -> bool {
    !items.is_empty()
        && items.iter().all(|item| {
            item.as_object()
                .is_some_and(|m| m.len() == 2 && m.contains_key("uuid") && m.contains_key("name"))
        })
}

/// Size and content type of each named file of the company.
async fn file_facts(db: &Db, tenant: Tenant, uuids: Vec<String>) -> Result<FileFacts, Error> {
    let mut query = Query::select();
    query
        .columns(["uuid", "size", "mime_type"])
        .from("media")
        .and_where(Expr::col("company_id").eq(tenant.company_id))
        .and_where(Expr::col("uuid").is_in(uuids));
    let rows: Vec<(String, i64, Option<String>)> = db.fetch_as(&query).await?;
    Ok(rows
        .into_iter()
        .map(|(uuid, size, mime)| (uuid, (size, mime)))
        .collect())
}

/// `GET /api/files/{uuid}`: the file, by a signed link (`?expires=…&signature=…`, as responses
/// show them) to anyone holding it, or to a bearer of its company who may view the record it
/// belongs to; 404 for anyone else, as for a file that does not exist (T44). A link that is
/// wrong, expired or for another file is a 403.
pub async fn download(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    mut parts: Parts,
) -> Result<Response, Error> {
    let not_found = || Error::NotFound {
        resource: "media",
        id: kring_core::query::truncate(&uuid, 40),
    };
    let link = signed_link(parts.uri.query().unwrap_or(""));
    let company = match &link {
        Some((expires, signature)) => {
            file_url::verify(&state.link_key, &uuid, expires, signature, now(&state)).map_err(
                |r| {
                    Error::Refused(Message::new(match r {
                        Refusal::Wrong => "http.file_link_wrong",
                        Refusal::Expired => "http.file_link_expired",
                    }))
                },
            )?;
            None
        }
        None => Some(Principal::from_request_parts(&mut parts, &state).await?),
    };
    if uuid.len() != 32 || !uuid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let mut query = Query::select();
    query
        .columns(["company_id", "model_type", "file_name", "mime_type"])
        .from("media")
        .and_where(Expr::col("uuid").eq(uuid.as_str()));
    if let Some(principal) = &company {
        query.and_where(Expr::col("company_id").eq(principal.tenant.company_id));
    }
    let rows: Vec<(i64, String, String, Option<String>)> = state.db.fetch_as(&query).await?;
    let Some((company_id, model, name, mime)) = rows.into_iter().next() else {
        return Err(not_found());
    };
    if let Some(principal) = &company {
        let def = find(&model).ok_or_else(not_found)?;
        principal.may(def, Action::View)?;
    }
    let (body, length) = state
        .files
        .open(company_id, &uuid)
        .await?
        .ok_or_else(not_found)?;
    let mime = mime
        .filter(|m| !m.contains("html"))
        .unwrap_or_else(|| "application/octet-stream".to_string());
    Ok(file_response(body, length, &name, &mime))
}

/// The `expires` and `signature` of a signed link's query, when it has either.
fn signed_link(query: &str) -> Option<(String, String)> {
    let pairs = kring_core::query::parse_query_string(query);
    let get = |name: &str| param(&pairs, name).map(str::to_string);
    match (get("expires"), get("signature")) {
        (None, None) => None,
        (expires, signature) => Some((expires.unwrap_or_default(), signature.unwrap_or_default())),
    }
}

/// Images a browser shows rather than runs: shown inline, so `<img src>` works. Anything else,
/// SVG included (it can carry script), is an attachment.
const INLINE_IMAGES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

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
    // Whatever a file holds, it runs nothing and loads nothing in a browser that opens it.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    let disposition = if INLINE_IMAGES.contains(&mime) {
        "inline"
    } else {
        "attachment"
    };
    if let Ok(value) = HeaderValue::from_str(&content_disposition(disposition, name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

/// `<disposition>; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266).
pub fn content_disposition(disposition: &str, name: &str) -> String {
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
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}
