//! Operator tasks behind the CLI (`kring user create`, `kring token create`).

use chrono::Utc;
use kring_core::time::format_timestamp;
use kring_core::validate::is_email;
use serde_json::{Value as Json, json};

use crate::auth::{self, PAT_PREFIX};
use crate::db::{Db, Raw, Tx};
use crate::error::Error;

async fn single_id(tx: &mut Tx, query: Raw) -> Result<Option<i64>, Error> {
    let rows: Vec<(i64,)> = tx.fetch_as(&query).await?;
    Ok(rows.into_iter().next().map(|(id,)| id))
}

async fn company_id(tx: &mut Tx, name: &str) -> Result<i64, Error> {
    let existing = single_id(
        tx,
        Raw::new("SELECT id FROM companies WHERE name = ?", vec![name.into()]),
    )
    .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let now = Utc::now();
    let id = tx
        .insert(&Raw::new(
            "INSERT INTO companies (name, created_at, updated_at) VALUES (?, ?, ?) RETURNING id",
            vec![name.into(), now.into(), now.into()],
        ))
        .await?;
    auth::create_builtin_roles(tx, id).await?;
    Ok(id)
}

/// Creates a user (and the company, with its built-in roles, if it is new).
pub async fn create_user(
    db: &Db,
    company: &str,
    name: &str,
    email: &str,
    password: &str,
    role: &str,
) -> Result<Json, Error> {
    if company.trim().is_empty() || name.trim().is_empty() {
        return Err(Error::Config("company and name must not be empty".into()));
    }
    if !is_email(email) {
        return Err(Error::Config(format!(
            "'{email}' is not a valid email address"
        )));
    }
    if password.chars().count() < 8 {
        return Err(Error::Config(
            "the password must be at least 8 characters".into(),
        ));
    }
    let hash = auth::hash_password(password)?;
    let mut tx = db.begin().await?;
    let company_id = company_id(&mut tx, company).await?;
    let taken = single_id(
        &mut tx,
        Raw::new(
            "SELECT id FROM users WHERE email = ? AND company_id = ?",
            vec![email.into(), company_id.into()],
        ),
    )
    .await?;
    if taken.is_some() {
        return Err(Error::Config(format!(
            "{company} already has a user with email {email}"
        )));
    }
    let role_id = single_id(
        &mut tx,
        Raw::new(
            "SELECT id FROM roles WHERE company_id = ? AND name = ?",
            vec![company_id.into(), role.into()],
        ),
    )
    .await?
    .ok_or_else(|| Error::Config(format!("company {company} has no role named {role}")))?;
    let now = Utc::now();
    let id = tx
        .insert(&Raw::new(
            "INSERT INTO users (company_id, role_id, name, email, password, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            vec![
                company_id.into(),
                role_id.into(),
                name.into(),
                email.into(),
                hash.into(),
                now.into(),
                now.into(),
            ],
        ))
        .await?;
    tx.commit().await?;
    let at = format_timestamp(&now);
    Ok(json!({
        "id": id, "company_id": company_id, "role_id": role_id, "role": role, "name": name,
        "email": email, "created_at": at, "updated_at": at,
    }))
}

/// Issues a personal access token for the user with `email`; returns the token itself, which
/// is never stored and cannot be shown again.
pub async fn create_token(db: &Db, email: &str, name: &str) -> Result<String, Error> {
    create_token_with_scopes(db, email, name, "*").await
}

/// A personal access token limited to `scopes` (space-separated names from
/// [`auth::all_scopes`]).
pub async fn create_token_with_scopes(
    db: &Db,
    email: &str,
    name: &str,
    scopes: &str,
) -> Result<String, Error> {
    let known = auth::all_scopes();
    if let Some(unknown) = scopes
        .split_whitespace()
        .find(|s| !known.iter().any(|(id, _)| id == s))
    {
        return Err(Error::Config(format!(
            "unknown tenant {unknown}; `GET /oauth/scopes` lists them"
        )));
    }
    let scopes = scopes.split_whitespace().collect::<Vec<_>>().join(" ");
    if scopes.is_empty() {
        return Err(Error::Config("give at least one tenant".into()));
    }
    let token = format!("{PAT_PREFIX}{}", auth::random_secret()?);
    let mut tx = db.begin().await?;
    let (user_id, company_id) = crate::oauth::clients::user_by_email(&mut tx, email).await?;
    tx.execute(&Raw::new(
        "INSERT INTO personal_access_tokens (company_id, user_id, name, token_hash, scopes, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            company_id.into(),
            user_id.into(),
            name.into(),
            auth::sha256_hex(&token).into(),
            scopes.into(),
            Utc::now().into(),
        ],
    ))
    .await?;
    tx.commit().await?;
    Ok(token)
}

pub async fn company_exists(db: &Db, name: &str) -> Result<bool, Error> {
    let rows: Vec<(i64,)> = db
        .fetch_as(&Raw::new(
            "SELECT id FROM companies WHERE name = ?",
            vec![name.into()],
        ))
        .await?;
    Ok(!rows.is_empty())
}
