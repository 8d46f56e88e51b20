//! What every handler and background task can reach.

use std::sync::Arc;

use crate::auth::cache::Principals;
use crate::auth::rate_limit;
use crate::config::Config;
use crate::db::Db;
use crate::files;
use crate::webhooks::egress::Egress;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
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
