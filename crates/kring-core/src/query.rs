//! The query parameters of lists and shows. This module turns the raw query string into a typed
//! plan and refuses what it cannot honour with a message that names the parameter.

use crate::i18n::Message;

/// Default and maximum page size (DESIGN §2: above the maximum is an error, never a clamp).
pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;

/// A bad query parameter: answered with 400 and the rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryError(pub Message);

/// Decodes `a=1&b[]=x` into ordered `(key, value)` pairs. Invalid percent escapes are kept as
/// written; invalid UTF-8 is replaced, so any input decodes.
pub fn parse_query_string(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(decoded) => {
                        out.push(decoded);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

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
            .map(|(name, raw)| integer_in(name, raw, 0, i64::MAX as u64))
            .transpose()?
            .unwrap_or(0);
        Ok(Page { limit, offset })
    }
}

/// The one value given for a parameter known by any of `names`; twice is an error, because
/// silently picking one would hide a client bug.
fn single<'a>(
    pairs: &'a [(String, String)],
    names: &[&'static str],
) -> Result<Option<(&'static str, &'a str)>, QueryError> {
    let mut found: Option<(&'static str, &'a str)> = None;
    for (key, value) in pairs {
        if let Some(name) = names.iter().find(|n| **n == key) {
            if found.is_some() {
                return Err(QueryError(
                    Message::new("query.repeated").with("param", *name),
                ));
            }
            found = Some((name, value));
        }
    }
    Ok(found)
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

/// Echoing user input in a message: keep it short.
pub fn truncate(raw: &str, max_chars: usize) -> String {
    if raw.chars().count() <= max_chars {
        raw.to_string()
    } else {
        let mut cut: String = raw.chars().take(max_chars).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;

    fn page(query: &str) -> Result<Page, QueryError> {
        Page::parse(&parse_query_string(query))
    }

    #[test]
    fn decodes_query_strings() {
        let pairs = parse_query_string("with%5B%5D=a&name=J+D%C3%A9&bad=%zz&&flag");
        assert_eq!(
            pairs,
            vec![
                ("with[]".into(), "a".into()),
                ("name".into(), "J Dé".into()),
                ("bad".into(), "%zz".into()),
                ("flag".into(), "".into()),
            ]
        );
        assert_eq!(parse_query_string("x=%"), vec![("x".into(), "%".into())]);
        assert_eq!(parse_query_string("x=%f"), vec![("x".into(), "%f".into())]);
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
