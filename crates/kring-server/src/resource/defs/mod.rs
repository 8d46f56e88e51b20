//! One small file per resource.

pub mod customer;
pub mod field;
