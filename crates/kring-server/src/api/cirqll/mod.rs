//! Cirqll's API: the generic handlers every registered resource is served by, the singleton
//! settings, webhook operations and the change feed.

pub mod changes;
pub mod resources;
mod singleton;
pub mod webhooks;
