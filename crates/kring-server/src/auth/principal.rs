//! The principal: who a request acts as, and the pure checks on it (`auth::authenticate`
//! resolves it from a request's bearer token).

use std::marker::PhantomData;
use std::sync::Arc;

use kring_core::i18n::Locale;
use kring_core::query::Plan;

use super::grants;
use crate::error::Error;
use crate::registry::{Action, REGISTRY, ResourceDef, Routes, find};
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
    /// A principal as a token's row reads it (`permissions` sorted).
    pub(crate) fn new(
        tenant: Tenant,
        scopes: String,
        personal: bool,
        permissions: Vec<String>,
        locale: Locale,
    ) -> Principal {
        Principal {
            tenant,
            grants: Arc::new(Grants {
                scopes,
                personal,
                permissions,
            }),
            locale,
        }
    }

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
            .filter(|def| self.may_read(def))
            .map(|def| def.name)
            .collect()
    }

    /// Whether the principal may read the routed resource named `name` (`note`).
    pub fn may_read_named(&self, name: &str) -> bool {
        find(name).is_some_and(|def| self.may_read(def))
    }

    /// Whether `def` is a routed resource the principal may read.
    fn may_read(&self, def: &ResourceDef) -> bool {
        !def.actions().is_empty()
            && self.holds(&def.permission(Action::View))
            && grants(&self.grants.scopes, &def.scope(Action::View))
    }

    /// Refuses a plan that reads routed resources the principal may not read, through `with`, a
    /// dotted `show`, `count` or a filter's path (T19: related records appear only to those who
    /// may see them). Resources without routes are part of their parent.
    pub fn may_reach(&self, plan: &Plan) -> Result<(), Error> {
        let all_readable = plan
            .reached()
            .into_iter()
            .filter_map(find)
            .filter(|def| def.routes != Routes::None)
            .all(|def| self.may_read(def));
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
