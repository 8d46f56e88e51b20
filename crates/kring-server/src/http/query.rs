//! Query parameters the dialects' own routes read besides the Cirqll query language.

use kring_core::i18n::Message;
use kring_core::query::QueryError;

use crate::error::Error;

/// The first value of query parameter `name`, if the query has it.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// A whole-number query parameter from 0 to `max`, `default` when absent (400 otherwise).
pub fn number(raw: Option<&str>, name: &'static str, default: u64, max: u64) -> Result<u64, Error> {
    number_between(raw, name, default, 0, max)
}

/// A whole-number query parameter from `min` to `max`, `default` when absent; anything else
/// is a 400 that names the parameter, the range and what was sent.
pub fn number_between(
    raw: Option<&str>,
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, Error> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    raw.parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            Error::BadQuery(QueryError(
                Message::new("query.integer_range")
                    .with("param", name)
                    .with("min", min.to_string())
                    .with("max", max.to_string())
                    .with("value", kring_core::query::truncate(raw, 40)),
            ))
        })
}
