//! Authentication and the role-permission check (DESIGN §3).
//!
//! Tokens are opaque random strings; only their SHA-256 is stored, so a leaked database holds no
//! usable token. A request is authenticated once, into a [`Principal`], by one indexed query that
//! also reads the role's permissions; every check after that is a pure function of it.

pub mod authenticate;
pub mod bootstrap;
pub mod cache;
pub mod principal;
pub mod privilege;
pub mod rate_limit;

pub use bootstrap::{OWNER_ROLE, VIEWER_ROLE, create_builtin_roles, sync_permissions};
pub use principal::{Allowed, Principal};

pub use crate::crypto::{hash_password, random_secret, sha256_hex};
use crate::registry::{Action, REGISTRY};

/// Prefix of personal access tokens, so secret scanners can recognise a leaked one.
pub const PAT_PREFIX: &str = "kring_pat_";

/// Whether a token's space-separated scopes include `needed` (or everything, `*`).
pub fn grants(scopes: &str, needed: &str) -> bool {
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
