//! What a write leaves behind in its own transaction besides its rows: the activity log, the
//! event log with its webhook outbox, and idempotency keys.

pub mod activity;
pub mod events;
pub mod idempotency;
