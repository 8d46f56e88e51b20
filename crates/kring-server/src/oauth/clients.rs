//! OAuth clients: who may ask for tokens, where codes may be sent, and how a client proves who
//! it is at the token endpoint (HTTP Basic or body parameters, RFC 6749 §2.3.1).

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde_json::{Map, Value as Json, json};

use super::{oauth_error, param};
use crate::auth::{random_secret, sha256_hex};
use crate::db::{Db, Raw, Tx};
use crate::error::{Error, OAuthCode};

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: i64,
    pub user_id: i64,
    pub company_id: i64,
    pub name: String,
    secret_hash: Option<String>,
    pub redirects: Vec<String>,
    pub confidential: bool,
}

impl Client {
    /// Redirect URIs match exactly (RFC 9700 §4.1.1), except that a loopback URI may come back
    /// with any port, as native apps listen on whatever port is free (RFC 8252 §7.3).
    pub fn allows_redirect(&self, uri: &str) -> bool {
        let loopback = loopback_without_port(uri);
        self.redirects.iter().any(|registered| {
            registered == uri
                || (loopback.is_some() && loopback == loopback_without_port(registered))
        })
    }
}

/// `http://127.0.0.1:PORT/path` as `http://127.0.0.1/path`; `None` for any other URI.
fn loopback_without_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let host = match authority.strip_prefix("[::1]") {
        Some(_) => "[::1]",
        None => authority.split(':').next().unwrap_or(""),
    };
    matches!(host, "127.0.0.1" | "[::1]" | "localhost").then(|| format!("http://{host}{path}"))
}

/// A redirect URI a client may register: absolute `https`, or `http` on a loopback address
/// (native apps, RFC 8252 §7.3); never with a fragment or credentials.
pub fn valid_redirect(uri: &str) -> bool {
    let rest = if let Some(rest) = uri.strip_prefix("https://") {
        rest
    } else if let Some(rest) = uri.strip_prefix("http://") {
        let host = rest.split(['/', ':', '?']).next().unwrap_or("");
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return false;
        }
        rest
    } else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    !authority.is_empty()
        && !authority.contains('@')
        && uri.is_ascii()
        && !uri.contains('#')
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
}

const COLUMNS: &str = "id, user_id, company_id, name, secret_hash, redirect, confidential";
/// [`COLUMNS`]: id, user_id, company_id, name, secret_hash (NULL for a public client),
/// redirect, confidential.
type ClientRow = (i64, i64, i64, String, Option<String>, String, bool);

fn from_row(row: ClientRow) -> Client {
    let (id, user_id, company_id, name, secret_hash, redirect, confidential) = row;
    Client {
        id,
        user_id,
        company_id,
        name,
        secret_hash,
        redirects: redirect.split_whitespace().map(str::to_string).collect(),
        confidential,
    }
}

/// The client with this id, unless it is unknown or revoked.
pub async fn find(db: &Db, id: &str) -> Result<Option<Client>, Error> {
    let Ok(id) = id.trim().parse::<i64>() else {
        return Ok(None);
    };
    let sql = format!("SELECT {COLUMNS} FROM oauth_clients WHERE id = ? AND revoked = ?");
    let rows: Vec<ClientRow> = db
        .fetch_as(&Raw::owned(sql, vec![id.into(), false.into()]))
        .await?;
    Ok(rows.into_iter().next().map(from_row))
}

/// Registers a client for the user with `email`; returns it as JSON with its secret, which is
/// stored only as a hash and cannot be shown again (`kring client create`).
pub async fn create(
    db: &Db,
    email: &str,
    name: &str,
    redirects: &[String],
    public: bool,
) -> Result<Json, Error> {
    if name.trim().is_empty() {
        return Err(Error::Config("the client needs a name".into()));
    }
    if redirects.is_empty() {
        return Err(Error::Config("give at least one redirect URI".into()));
    }
    if let Some(bad) = redirects.iter().find(|r| !valid_redirect(r)) {
        return Err(Error::Config(format!(
            "{bad} is not a valid redirect URI: use https, or http on 127.0.0.1 or localhost"
        )));
    }
    let mut tx = db.begin().await?;
    let (user_id, company_id) = user_by_email(&mut tx, email).await?;
    let owner = crate::tenant::Tenant {
        company_id,
        user_id,
    };
    let (id, secret) = insert(&mut tx, owner, name, &redirects.join(" "), !public).await?;
    tx.commit().await?;
    Ok(json!({
        "client_id": id.to_string(),
        "client_secret": secret,
        "name": name,
        "redirect": redirects.join(" "),
        "confidential": !public,
    }))
}

/// Writes a client of `owner`; returns its id and, for a confidential client, its secret (stored
/// only as a hash).
pub async fn insert(
    tx: &mut crate::db::Tx,
    owner: crate::tenant::Tenant,
    name: &str,
    redirect: &str,
    confidential: bool,
) -> Result<(i64, Option<String>), Error> {
    let secret = if confidential {
        Some(random_secret()?)
    } else {
        None
    };
    let now = Utc::now();
    let id = tx
        .insert(&Raw::new(
            "INSERT INTO oauth_clients (company_id, user_id, name, secret_hash, redirect, \
             confidential, revoked, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            vec![
                owner.company_id.into(),
                owner.user_id.into(),
                name.into(),
                secret.as_deref().map(sha256_hex).into(),
                redirect.into(),
                confidential.into(),
                false.into(),
                now.into(),
                now.into(),
            ],
        ))
        .await?;
    Ok((id, secret))
}

/// The client making a token request, authenticated: a confidential client must present its
/// secret (Basic or body); a public client only names itself.
pub async fn authenticate(
    db: &Db,
    headers: &HeaderMap,
    body: &Map<String, Json>,
) -> Result<Client, Error> {
    let (id, secret, used_basic) = credentials(headers, body);
    let failed = || oauth_error(OAuthCode::InvalidClient, "", used_basic);
    let Some(id) = id else {
        return Err(failed());
    };
    let client = find(db, &id).await?.ok_or_else(failed)?;
    match (&client.secret_hash, secret) {
        (Some(hash), Some(secret)) if constant_time_eq(hash, &sha256_hex(&secret)) => Ok(client),
        (None, None) => Ok(client),
        _ => Err(failed()),
    }
}

/// The client id a request names, in a Basic header or in its body.
pub fn client_id_of(headers: &HeaderMap, body: &Map<String, Json>) -> Option<String> {
    credentials(headers, body).0
}

/// The client id and secret a request sends, and whether in a Basic header.
fn credentials(
    headers: &HeaderMap,
    body: &Map<String, Json>,
) -> (Option<String>, Option<String>, bool) {
    match basic_credentials(headers) {
        Some((id, secret)) => (Some(id), Some(secret), true),
        None => (
            param(body, "client_id").map(str::to_string),
            param(body, "client_secret").map(str::to_string),
            false,
        ),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// Compares two secrets' hashes without an early exit.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The one user with `email`, and its company: an address held in several companies does not
/// say which is meant.
pub async fn user_by_email(tx: &mut Tx, email: &str) -> Result<(i64, i64), Error> {
    let rows: Vec<(i64, i64)> = tx
        .fetch_as(&Raw::new(
            "SELECT id, company_id FROM users WHERE email = ? ORDER BY id LIMIT 2",
            vec![email.into()],
        ))
        .await?;
    match rows.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::Config(format!("no user with email {email}"))),
        _ => Err(Error::Config(format!(
            "users of more than one company have the email {email}; use an address only one has"
        ))),
    }
}
