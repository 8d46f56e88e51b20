//! Resolving the principal, once per request, from its bearer token.
//!
//! One statement reads the token, its user and company, the token's scopes and the names of the
//! role's permissions (or none, when the token was seen a moment ago: `auth::cache`). The same
//! step counts the request against the user's rate limit and takes its place among the user's
//! requests in flight; the principal is then kept in the request's extensions, so a handler
//! that asks again gets the same one without another query.

use std::marker::PhantomData;
use std::sync::LazyLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use kring_core::i18n::Locale;

use super::principal::{Act, Allowed, Principal};
use super::rate_limit::Slot;
use crate::crypto::sha256_hex;
use crate::db::{Backend, Raw, dialect};
use crate::error::{Error, OAuthCode};
use crate::http::extract::RouteResource;
use crate::http::middleware::{Facts, LocaleSlot};
use crate::registry::Action;
use crate::registry::defs::setting::SETTING;
use crate::state::AppState;
use crate::tenant::Tenant;

impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    /// Authenticates the request, once: unknown, revoked and expired tokens are all 401; over
    /// the rate limit, or with too many requests in flight, 429.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let principal = authenticate(state, &parts.headers).await?;
        if let Some(facts) = parts.extensions.get::<Facts>() {
            facts.caller(principal.tenant);
        }
        let slot = parts.extensions.get::<Slot>().cloned();
        let decision = state
            .limiter
            .hit(&format!("user:{}", principal.tenant.user_id))
            .await;
        if let Some(slot) = &slot {
            slot.set(decision);
        }
        decision.check()?;
        let place = state
            .concurrency
            .enter(principal.tenant.user_id)
            .ok_or_else(|| {
                crate::telemetry::rejected("concurrency");
                Error::TooManyRequests { retry_after: 1 }
            })?;
        if let Some(slot) = &slot {
            slot.hold(place);
        }
        if let Some(LocaleSlot(slot)) = parts.extensions.get::<LocaleSlot>() {
            let _ = slot.set(principal.locale);
        }
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The statement that resolves a token, written once per engine (every request runs it).
fn principal_statement(backend: Backend) -> &'static str {
    fn write(backend: Backend) -> String {
        format!(
            "SELECT u.id, u.company_id, t.scopes, t.client_id IS NULL, \
                 (SELECT {} FROM role_permissions rp \
                  JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id = u.role_id), \
                 (SELECT s.locale FROM settings s WHERE s.company_id = u.company_id), \
                 t.expires_at \
             FROM personal_access_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = ? AND t.revoked = ? \
             AND (t.expires_at IS NULL OR t.expires_at > ?)",
            dialect::joined_names(backend, "p.name")
        )
    }
    static SQLITE: LazyLock<String> = LazyLock::new(|| write(Backend::Sqlite));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| write(Backend::Postgres));
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

/// User id, company id, scopes, personal, permission names, the company's locale, expiry.
type PrincipalRow = (
    i64,
    i64,
    String,
    bool,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// The token's principal: remembered from a moment ago (see [`crate::auth::cache`]), or one
/// statement.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, Error> {
    // Two credentials are ambiguous (RFC 6750 §3.1: invalid_request), whichever would win.
    if headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return Err(Error::OAuth {
            code: OAuthCode::InvalidRequest,
            hint: "Send one Authorization header.".into(),
            basic: false,
        });
    }
    let token = bearer_token(headers).ok_or(Error::Unauthenticated)?;
    if token.len() > 512 {
        return Err(Error::InvalidToken);
    }
    let hash = sha256_hex(token);
    // Taken before the read: a change that commits during it makes the entry stale at once.
    let epoch = state.db.access_epoch();
    if let Some(remembered) = epoch.and_then(|epoch| state.principals.get(&hash, epoch)) {
        return Ok(remembered);
    }
    let now = Utc::now();
    let query = Raw::new(
        principal_statement(state.db.backend()),
        vec![hash.clone().into(), false.into(), now.into()],
    );
    let rows: Vec<PrincipalRow> = state.db.fetch_as(&query).await?;
    let Some((user_id, company_id, scopes, personal, permissions, locale, expires)) =
        rows.into_iter().next()
    else {
        return Err(Error::InvalidToken);
    };
    let mut permissions: Vec<String> = permissions
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    permissions.sort_unstable();
    let tenant = Tenant {
        company_id,
        user_id,
    };
    let locale = company_locale(locale.as_deref());
    let principal = Principal::new(tenant, scopes, personal, permissions, locale);
    if let Some(epoch) = epoch {
        let valid_for = match expires {
            Some(expires) => (expires - now).to_std().unwrap_or_default(),
            None => std::time::Duration::MAX,
        };
        state
            .principals
            .put(hash, principal.clone(), epoch, valid_for);
    }
    Ok(principal)
}

/// The company's `locale` setting; a company that never wrote its settings has the setting's
/// default.
fn company_locale(setting: Option<&str>) -> Locale {
    let default = match SETTING.column("locale").and_then(|c| c.default) {
        Some(kring_core::schema::Default::Text(code)) => code,
        _ => "en",
    };
    Locale::from_accept_language(setting.unwrap_or(default))
}

impl<A: Act> FromRequestParts<AppState> for Allowed<A> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let principal = Principal::from_request_parts(parts, state).await?;
        let RouteResource(def) = RouteResource::of(parts)?;
        principal.may(def, A::ACTION)?;
        if A::ACTION == Action::Create
            && let Some(quota) = def.create_quota
        {
            let key = format!("create-{}:{}", def.name, principal.tenant.user_id);
            state.limiter.enforce(&key, quota).await?;
        }
        Ok(Allowed(principal, PhantomData))
    }
}
