//! Kring's server: storage, the resource engine, authentication and the HTTP surface.

#![cfg_attr(test, allow(clippy::as_conversions, clippy::indexing_slicing))]

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod engine;
pub mod error;
pub mod files;
pub mod http;
pub mod ledger;
pub mod mover;
pub mod oauth;
pub mod openapi;
pub mod registry;
pub mod resolver;
pub mod routes;
pub mod seed;
pub mod state;
pub mod telemetry;
pub mod tenant;
pub mod webhooks;

pub use app::{
    init_logging, init_test_logging, install_tls_provider, migrate, prepare, serve, shutdown_signal,
};
pub use config::Config;
pub use db::Db;
pub use error::Error;
pub use state::AppState;
