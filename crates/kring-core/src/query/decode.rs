//! The raw query string, decoded into ordered pairs.

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
    crate::form::urlencoded::percent_decode(input.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_strings() {
        // `%+A` is no escape: a sign is not a hex digit (PHP keeps it as written too).
        assert_eq!(
            parse_query_string("a=%+A&b=%-1"),
            vec![("a".into(), "% A".into()), ("b".into(), "%-1".into())]
        );
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
}
