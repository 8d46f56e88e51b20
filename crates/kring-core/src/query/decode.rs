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
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits exactly: `from_str_radix` would also take a sign (`%+A`).
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
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
