//! The one generic engine that serves every resource of the registry: reads ([`read`], with
//! [`criteria`] and the eager [`loader`]) and writes ([`write`], with nested [`children`] and
//! custom [`field_values`]).

pub mod children;
pub mod criteria;
pub mod field_values;
pub mod loader;
pub mod read;
pub mod write;

pub use read::{
    Listed, by_id, counted_total, index, list, not_found, scoped_select, show, to_json,
};
