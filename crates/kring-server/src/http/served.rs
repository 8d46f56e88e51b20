//! A router that remembers what it serves: every path with the methods it answers. The 405's
//! `Allow` comes from the same list, and the OpenAPI document is checked against it (every
//! served route documented, every documented operation served).

use axum::Router;
use axum::routing::MethodRouter;

use super::answering;

/// One path and the methods it answers (`"GET, HEAD, POST"`), as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub path: String,
    pub methods: &'static str,
}

impl Route {
    /// The methods one by one.
    pub fn methods(&self) -> impl Iterator<Item = &'static str> {
        self.methods.split(',').map(str::trim)
    }
}

/// An axum router and the routes in it.
pub struct Served<S> {
    pub router: Router<S>,
    pub routes: Vec<Route>,
}

impl<S: Clone + Send + Sync + 'static> Default for Served<S> {
    fn default() -> Self {
        Served {
            router: Router::new(),
            routes: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Served<S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `methods` at `path`; any other method is a 405 naming `allowed`.
    pub fn route(mut self, path: &str, allowed: &'static str, methods: MethodRouter<S>) -> Self {
        self.router = self.router.route(path, answering(allowed, methods));
        self.routes.push(Route {
            path: path.to_string(),
            methods: allowed,
        });
        self
    }

    pub fn merge(mut self, other: Served<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.routes.extend(other.routes);
        self
    }

    /// The same routes with the router changed around them (a route layer).
    pub fn map(mut self, change: impl FnOnce(Router<S>) -> Router<S>) -> Self {
        self.router = change(self.router);
        self
    }
}
