//! Kring's integration tests: one binary, a real server on a loopback port, a real database.
//! Every test in `backend_tests!` runs on SQLite and, when `KRING_TEST_POSTGRES_URL` is set, on
//! PostgreSQL (each test in its own schema).

// A failed expectation in a test is the test failing, with its message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    clippy::indexing_slicing
)]

mod support;

mod auth;
mod behaviour;
mod bucket;
mod changes;
mod cli;
mod clients;
mod contract;
mod crash;
mod customers;
mod dataset;
mod differential;
mod errors;
mod field_values;
mod group_commit;
mod hardening;
mod idempotency;
mod limits;
mod manageit;
mod oauth;
mod operations;
mod pipeline;
mod plans;
mod principals;
mod privilege;
mod process;
mod queries;
mod registry;
mod resources;
mod schema;
mod totals;
mod webhooks;
mod zapier;
