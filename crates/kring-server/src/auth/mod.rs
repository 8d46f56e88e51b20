//! Authentication and the role-permission check (DESIGN §3).
//!
//! Tokens are opaque random strings; only their SHA-256 is stored, so a leaked database holds no
//! usable token. A request needs a valid token and the permission its route names; both are
//! answered by one indexed query.

pub mod bootstrap;
pub mod rate_limit;

pub use crate::crypto::{hash_password, random_secret, sha256_hex};
pub use bootstrap::{OWNER_ROLE, VIEWER_ROLE, create_builtin_roles, sync_permissions};

use axum::extract::Request;
use axum::http::{HeaderMap, header};
use chrono::Utc;
use kring_core::Value;
use kring_core::schema::ColumnType;

use crate::AppState;
use crate::auth::rate_limit::Slot;
use crate::db::Raw;
use crate::error::Error;
use crate::registry::{Action, REGISTRY, ResourceDef};
use crate::tenant::Tenant;

/// Prefix of personal access tokens, so secret scanners can recognise a leaked one.
pub const PAT_PREFIX: &str = "kring_pat_";

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// What authentication needs of a request, taken before any await (a request body is not
/// `Sync`, so the request itself cannot be held across one).
pub struct Caller {
    token: Option<String>,
    slot: Option<Slot>,
}

impl Caller {
    pub fn of(request: &Request) -> Caller {
        Caller {
            token: bearer_token(request.headers()).map(str::to_string),
            slot: request.extensions().get::<Slot>().cloned(),
        }
    }
}

/// Resolves the bearer token to its user, counts the request against the user's rate limit,
/// and checks that the token's scopes and the user's role both allow `access` (`None` asks for
/// a valid token only). Unknown, revoked and expired tokens are all 401; over the rate limit is
/// 429; a missing scope or permission is 403.
pub async fn authorize(
    state: &AppState,
    caller: &Caller,
    access: Option<(&ResourceDef, Action)>,
) -> Result<Tenant, Error> {
    let (user_id, company_id, scopes, allowed) = token_grants(state, caller, access).await?;
    let decision = state.limiter.hit(&format!("user:{user_id}")).await;
    if let Some(slot) = &caller.slot {
        slot.set(decision);
    }
    decision.check()?;
    let place = state
        .concurrency
        .enter(user_id)
        .ok_or(Error::TooManyRequests { retry_after: 1 })?;
    if let Some(slot) = &caller.slot {
        slot.hold(place);
    }
    check_grants(access, &scopes, allowed)?;
    Ok(Tenant {
        company_id,
        user_id,
    })
}

/// Checks `action` on `def` for a caller [`authorize`] already let in, without counting the
/// request against its limits again (a method known only once the body is read).
pub async fn permits(
    state: &AppState,
    caller: &Caller,
    def: &ResourceDef,
    action: Action,
) -> Result<(), Error> {
    let access = Some((def, action));
    let (_, _, scopes, allowed) = token_grants(state, caller, access).await?;
    check_grants(access, &scopes, allowed)
}

/// The token's user, company and scopes, and whether the user's role has the permission
/// `access` needs (always, without one): one statement.
async fn token_grants(
    state: &AppState,
    caller: &Caller,
    access: Option<(&ResourceDef, Action)>,
) -> Result<(i64, i64, String, bool), Error> {
    let token = caller.token.as_deref().ok_or(Error::Unauthenticated)?;
    if token.len() > 512 {
        return Err(Error::InvalidToken);
    }
    let permission = access.map(|(def, action)| def.permission(action));
    let query = Raw::new(
        "SELECT u.id, u.company_id, t.scopes, ? OR EXISTS ( \
             SELECT 1 FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id \
             WHERE rp.role_id = u.role_id AND p.name = ?) \
         FROM personal_access_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = ? AND t.revoked = ? AND (t.expires_at IS NULL OR t.expires_at > ?)",
        vec![
            permission.is_none().into(),
            permission.unwrap_or_default().into(),
            sha256_hex(token).into(),
            false.into(),
            Utc::now().into(),
        ],
    );
    let types = [
        ColumnType::Int,
        ColumnType::Int,
        ColumnType::Text,
        ColumnType::Bool,
    ];
    let rows = state.db.fetch(&query, &types).await?;
    let Some(
        [
            Value::Int(user_id),
            Value::Int(company_id),
            Value::Text(scopes),
            Value::Bool(allowed),
        ],
    ) = rows.first().map(Vec::as_slice)
    else {
        return Err(Error::InvalidToken);
    };
    Ok((*user_id, *company_id, scopes.clone(), *allowed))
}

/// The token's scope and the role's permission, for what `access` asks.
fn check_grants(
    access: Option<(&ResourceDef, Action)>,
    scopes: &str,
    allowed: bool,
) -> Result<(), Error> {
    if let Some((def, action)) = access {
        let needed = def.scope(action);
        if !grants(scopes, &needed) {
            return Err(Error::MissingScope { scope: needed });
        }
    }
    if !allowed {
        return Err(Error::Forbidden);
    }
    Ok(())
}

/// The user behind a personal access token with every scope (`*`), for managing OAuth clients
/// and grants: a token issued to an app, or a narrower one, could otherwise mint itself a
/// broader token through a client of its own.
pub async fn personal_owner(state: &AppState, caller: &Caller) -> Result<Tenant, Error> {
    let tenant = authorize(state, caller, None).await?;
    let token = caller.token.as_deref().unwrap_or("");
    let rows = state
        .db
        .fetch(
            &Raw::new(
                "SELECT scopes FROM personal_access_tokens WHERE token_hash = ? AND client_id IS NULL",
                vec![sha256_hex(token).into()],
            ),
            &[ColumnType::Text],
        )
        .await?;
    match rows.first().and_then(|r| r.first()) {
        Some(Value::Text(scopes)) if grants(scopes, "*") => Ok(tenant),
        _ => Err(Error::MissingScope {
            scope: "*".to_string(),
        }),
    }
}

/// The scopes of the caller's token (space-separated), or none.
pub async fn token_scopes(state: &AppState, caller: &Caller) -> Result<String, Error> {
    let token = caller.token.as_deref().unwrap_or("");
    let rows = state
        .db
        .fetch(
            &Raw::new(
                "SELECT scopes FROM personal_access_tokens WHERE token_hash = ?",
                vec![sha256_hex(token).into()],
            ),
            &[ColumnType::Text],
        )
        .await?;
    Ok(match rows.first().and_then(|r| r.first()) {
        Some(Value::Text(scopes)) => scopes.clone(),
        _ => String::new(),
    })
}

/// The routed resources the caller may read: its role has their view permission and its token
/// their read scope (the change feed, and relations a query reaches).
pub async fn readable_resources(
    state: &AppState,
    caller: &Caller,
    tenant: Tenant,
) -> Result<Vec<&'static str>, Error> {
    // One statement: the token's scopes beside each permission of its user's role.
    let token = caller.token.as_deref().unwrap_or("");
    let rows = state
        .db
        .fetch(
            &Raw::new(
                "SELECT t.scopes, p.name FROM personal_access_tokens t \
                 JOIN users u ON u.id = t.user_id \
                 LEFT JOIN role_permissions rp ON rp.role_id = u.role_id \
                 LEFT JOIN permissions p ON p.id = rp.permission_id \
                 WHERE t.token_hash = ? AND u.id = ?",
                vec![sha256_hex(token).into(), tenant.user_id.into()],
            ),
            &[ColumnType::Text, ColumnType::Text],
        )
        .await?;
    let scopes = match rows.first().and_then(|r| r.first()) {
        Some(Value::Text(scopes)) => scopes.clone(),
        _ => String::new(),
    };
    let permissions: Vec<&str> = rows
        .iter()
        .filter_map(|r| match r.get(1) {
            Some(Value::Text(name)) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    Ok(REGISTRY
        .iter()
        .filter(|def| !def.actions().is_empty())
        .filter(|def| permissions.contains(&def.permission(Action::View).as_str()))
        .filter(|def| grants(&scopes, &def.scope(Action::View)))
        .map(|def| def.name)
        .collect())
}

/// Whether a token's space-separated scopes include `needed` (or everything, `*`).
fn grants(scopes: &str, needed: &str) -> bool {
    scopes
        .split_whitespace()
        .any(|scope| scope == "*" || scope == needed)
}

/// Every scope a token may carry: `*` and read and write for each routed resource, with a
/// description for `GET /oauth/scopes`.
pub fn all_scopes() -> Vec<(String, String)> {
    let mut scopes = vec![("*".to_string(), "Everything the user may do".to_string())];
    for def in REGISTRY.iter().filter(|d| !d.actions().is_empty()) {
        scopes.push((def.scope(Action::View), format!("Read {}s", def.name)));
        if def.actions().len() > 1 {
            scopes.push((def.scope(Action::Update), format!("Change {}s", def.name)));
        }
    }
    scopes
}
