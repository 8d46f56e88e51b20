//! The principal: who a request acts as, resolved once per request from its bearer token.
//!
//! One statement reads the token, its user and company, the token's scopes and the names of the
//! role's permissions. The same step counts the request against the user's rate limit and takes
//! its place among the user's requests in flight; the principal is then kept in the request's
//! extensions, so a handler that asks again gets the same one without another query.

use std::marker::PhantomData;
use std::sync::{Arc, LazyLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use chrono::Utc;
use kring_core::i18n::Locale;
use kring_core::query::Plan;

use super::grants;
use super::rate_limit::Slot;
use crate::crypto::sha256_hex;
use crate::db::{Backend, Raw, dialect};
use crate::error::{Error, OAuthCode};
use crate::http::extract::RouteResource;
use crate::http::middleware::LocaleSlot;
use crate::registry::defs::setting::SETTING;
use crate::registry::{Action, REGISTRY, ResourceDef, Routes, find};
use crate::state::AppState;
use crate::tenant::Tenant;

/// Who a request acts as. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: Tenant,
    grants: Arc<Grants>,
    /// The company's language (its `locale` setting).
    pub locale: Locale,
}

#[derive(Debug)]
struct Grants {
    /// The token's scopes, space-separated (`*` for everything).
    scopes: String,
    /// A personal access token (not one issued to an OAuth client).
    personal: bool,
    /// The names of the role's permissions (`customer.view`, …), sorted.
    permissions: Vec<String>,
}

impl Principal {
    /// Whether the token's scope and the role's permission allow `action` on `def`: a missing
    /// scope is a 403 that names it, a missing permission a plain 403.
    pub fn may(&self, def: &ResourceDef, action: Action) -> Result<(), Error> {
        let needed = def.scope(action);
        if !grants(&self.grants.scopes, &needed) {
            return Err(Error::MissingScope { scope: needed });
        }
        if !self.holds(&def.permission(action)) {
            return Err(Error::Forbidden);
        }
        Ok(())
    }

    /// Whether the role holds the permission `name` (`customer.view`).
    pub fn holds(&self, name: &str) -> bool {
        self.grants
            .permissions
            .binary_search_by(|p| p.as_str().cmp(name))
            .is_ok()
    }

    /// The routed resources the principal may read: its role has their view permission and its
    /// token their read scope (the change feed, and relations a query reaches).
    pub fn readable(&self) -> Vec<&'static str> {
        REGISTRY
            .iter()
            .filter(|def| !def.actions().is_empty())
            .filter(|def| self.holds(&def.permission(Action::View)))
            .filter(|def| grants(&self.grants.scopes, &def.scope(Action::View)))
            .map(|def| def.name)
            .collect()
    }

    /// Refuses a plan that reads routed resources the principal may not read, through `with`, a
    /// dotted `show`, `count` or a filter's path (T19: related records appear only to those who
    /// may see them). Resources without routes are part of their parent.
    pub fn may_reach(&self, plan: &Plan) -> Result<(), Error> {
        let readable = self.readable();
        let all_readable = plan
            .reached()
            .into_iter()
            .filter(|name| find(name).is_some_and(|def| def.routes != Routes::None))
            .all(|name| readable.contains(&name));
        if all_readable {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// The principal behind a personal access token with every scope (`*`), for managing OAuth
    /// clients and grants: a token issued to an app, or a narrower one, could otherwise mint
    /// itself a broader token through a client of its own.
    pub fn personal_owner(&self) -> Result<Tenant, Error> {
        if self.grants.personal && grants(&self.grants.scopes, "*") {
            Ok(self.tenant)
        } else {
            Err(Error::MissingScope {
                scope: "*".to_string(),
            })
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    /// Authenticates the request, once: unknown, revoked and expired tokens are all 401; over
    /// the rate limit, or with too many requests in flight, 429.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let principal = authenticate(state, &parts.headers).await?;
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
            .ok_or(Error::TooManyRequests { retry_after: 1 })?;
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
                 (SELECT s.locale FROM settings s WHERE s.company_id = u.company_id) \
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

/// User id, company id, scopes, personal, permission names, the company's locale.
type PrincipalRow = (i64, i64, String, bool, Option<String>, Option<String>);

/// The token's principal: one statement.
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
    let query = Raw::new(
        principal_statement(state.db.backend()),
        vec![sha256_hex(token).into(), false.into(), Utc::now().into()],
    );
    let rows: Vec<PrincipalRow> = state.db.fetch_as(&query).await?;
    let Some((user_id, company_id, scopes, personal, permissions, locale)) =
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
    Ok(Principal {
        tenant: Tenant {
            company_id,
            user_id,
        },
        grants: Arc::new(Grants {
            scopes,
            personal,
            permissions,
        }),
        locale: company_locale(locale.as_deref()),
    })
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

/// What a route does to its resource, named by a type so that a handler's arguments say it.
pub trait Act: Send + Sync + 'static {
    const ACTION: Action;
}

macro_rules! acts {
    ($($name:ident),*) => {$(
        #[doc = concat!("The ", stringify!($name), " action, for [`Allowed`].")]
        pub struct $name;
        impl Act for $name {
            const ACTION: Action = Action::$name;
        }
    )*};
}
acts!(View, Create, Update, Delete);

/// The principal, once it is known to be allowed `A` on the route's resource. As an extractor
/// it runs before the body is read, so a caller who may not write is refused before sending
/// anything is accepted; a create also counts against the resource's create quota.
pub struct Allowed<A: Act>(pub Principal, pub PhantomData<A>);

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
