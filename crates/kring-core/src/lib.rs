//! Kring's pure core: everything that decides without touching the network, the disk or a
//! database. It compiles fast and is tested (and later fuzzed) on its own.
//!
//! - [`schema`]: how a resource's columns are described (types, rules), shared by the validator,
//!   the storage engine and the OpenAPI document.
//! - [`validate`]: the Laravel-style rule engine that turns a JSON body into typed values or
//!   dot-path errors.
//! - [`query`]: the list and show query parameters.
//! - [`form`]: urlencoded and multipart bodies with PHP bracket names, as PHP/Laravel read them.
//! - [`i18n`]: the English and Dutch message catalog.
//! - [`time`]: the timestamp formats Kring reads and writes.

#![cfg_attr(test, allow(clippy::as_conversions, clippy::indexing_slicing))]

pub mod custom_field;
pub mod file_url;
pub mod form;
pub mod i18n;
pub mod manageit;
pub mod query;
pub mod resource;
pub mod s3;
pub mod schema;
pub mod time;
pub mod validate;
pub mod value;
pub mod webhook;

#[cfg(test)]
mod proptests;

pub use value::Value;
