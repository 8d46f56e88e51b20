//! What every handler and background task can reach.

use std::sync::Arc;

use crate::auth::cache::Principals;
use crate::auth::rate_limit;
use crate::config::Config;
use crate::db::Db;
use crate::files;
use crate::webhooks::egress::Egress;

/// What every handler can reach. One pointer: axum clones it for every extractor and layer.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Clone)]
pub struct Shared {
    pub db: Db,
    pub config: Arc<Config>,
    pub limiter: Arc<rate_limit::Limiter>,
    pub concurrency: Arc<rate_limit::Concurrency>,
    /// Principals of tokens seen a moment ago.
    pub principals: Arc<Principals>,
    /// What webhook deliveries share (their TLS configuration).
    pub egress: Arc<Egress>,
    /// Where uploaded files are kept.
    pub files: Arc<files::FileStore>,
    /// The key that signs download links, the same for every instance of the deployment.
    pub link_key: Arc<Vec<u8>>,
}
