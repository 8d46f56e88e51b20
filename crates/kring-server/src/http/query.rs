//! Query parameters the dialects' own routes read besides the Cirqll query language.

use kring_core::i18n::Message;
use kring_core::query::QueryError;

use crate::error::Error;

/// A whole-number query parameter from 0 to `max`, `default` when absent (400 otherwise).
pub fn number(raw: Option<&str>, name: &'static str, default: u64, max: u64) -> Result<u64, Error> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    raw.parse::<u64>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| {
            Error::BadQuery(QueryError(
                Message::new("query.integer_range")
                    .with("param", name)
                    .with("min", "0")
                    .with("max", max.to_string())
                    .with("value", kring_core::query::truncate(raw, 40)),
            ))
        })
}
