//! Pagination: `limit` (alias `per_page`) and `offset`.

use super::{QueryError, single, truncate};
use crate::i18n::Message;

/// Default and maximum page size (DESIGN §2: above the maximum is an error, never a clamp).
pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;

/// `limit` (alias `per_page`) and `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u64,
    pub offset: u64,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

impl Page {
    pub fn parse(pairs: &[(String, String)]) -> Result<Page, QueryError> {
        let limit = single(pairs, &["limit", "per_page"])?
            .map(|(name, raw)| integer_in(name, raw, 0, MAX_LIMIT))
            .transpose()?
            .unwrap_or(DEFAULT_LIMIT);
        let offset = single(pairs, &["offset"])?
            .map(|(name, raw)| integer_in(name, raw, 0, i64::MAX.unsigned_abs()))
            .transpose()?
            .unwrap_or(0);
        Ok(Page { limit, offset })
    }
}

fn integer_in(name: &'static str, raw: &str, min: u64, max: u64) -> Result<u64, QueryError> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            QueryError(
                Message::new("query.integer_range")
                    .with("param", name)
                    .with("min", min.to_string())
                    .with("max", max.to_string())
                    .with("value", truncate(raw, 40)),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;

    use crate::query::parse_query_string;

    fn page(query: &str) -> Result<Page, QueryError> {
        Page::parse(&parse_query_string(query))
    }

    #[test]
    fn pagination_defaults_and_bounds() {
        assert_eq!(
            page(""),
            Ok(Page {
                limit: 100,
                offset: 0
            })
        );
        assert_eq!(
            page("limit=25&offset=50"),
            Ok(Page {
                limit: 25,
                offset: 50
            })
        );
        assert_eq!(
            page("per_page=20&offset=40"),
            Ok(Page {
                limit: 20,
                offset: 40
            })
        );
        assert_eq!(
            page("limit=1000"),
            Ok(Page {
                limit: 1000,
                offset: 0
            })
        );
        for bad in [
            "limit=1001",
            "limit=-1",
            "limit=abc",
            "offset=-5",
            "limit=1.5",
            "limit=10&per_page=10",
        ] {
            assert!(page(bad).is_err(), "{bad}");
        }
        let Err(QueryError(message)) = page("limit=5000") else {
            panic!("5000 must be refused")
        };
        assert_eq!(
            message.render(Locale::En),
            "The limit parameter must be a whole number from 0 to 1000; '5000' is not."
        );
    }
}
