//! `application/x-www-form-urlencoded` bodies, read as PHP fills `$_POST` (`spec/manageit.md`
//! §4.2). Query strings follow the same rules (PHP's `$_GET`).

use super::builder::FormBuilder;
use super::tree::FormTree;
use super::{FormError, Limits};

/// Reads `a=1&b[]=x&c[k]=y` into a tree. Pieces are split on `&` only (`;` is data), empty
/// pieces are skipped, a piece without `=` has the value `""`, and names are percent-decoded
/// before their brackets are read (`k%5Bx%5D` is `k[x]`). Invalid escapes stay as written and
/// invalid UTF-8 is replaced, so any byte string parses.
pub fn parse_urlencoded(body: &[u8], limits: &Limits) -> Result<FormTree, FormError> {
    let mut builder = FormBuilder::new(*limits);
    for piece in body.split(|&b| b == b'&').filter(|piece| !piece.is_empty()) {
        let (name, value) = split_pair(piece);
        builder.text(&percent_decode(name), percent_decode(value))?;
    }
    Ok(builder.finish())
}

/// Splits at the first `=`; without one the value is empty.
fn split_pair(piece: &[u8]) -> (&[u8], &[u8]) {
    match piece.iter().position(|&b| b == b'=') {
        Some(at) => {
            let (name, rest) = piece.split_at(at);
            (name, rest.get(1..).unwrap_or_default())
        }
        None => (piece, &[]),
    }
}

/// RFC 3986 percent-encoding: every byte but the unreserved ones (`A–Z a–z 0–9 - . _ ~`) and
/// those in `keep` as `%XX` (S3 object paths keep `/`; RFC 6266 file names keep nothing).
pub fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || keep.contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// PHP's `urldecode`: `+` is a space, `%XX` a byte, and a `%` without two hex digits stays.
/// Query strings are decoded the same way ([`crate::query::parse_query_string`]).
pub(crate) fn percent_decode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&byte) = input.get(i) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => match input.get(i + 1..i + 3).and_then(hex_byte) {
                Some(decoded) => {
                    out.push(decoded);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            _ => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16);
    match pair {
        [high, low] => u8::try_from(digit(*high)? * 16 + digit(*low)?).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_php_urldecode() {
        assert_eq!(percent_decode(b"J+D%C3%A9"), "J Dé");
        assert_eq!(percent_decode(b"%ZZ"), "%ZZ");
        assert_eq!(percent_decode(b"%4"), "%4");
        assert_eq!(percent_decode(b"%"), "%");
        assert_eq!(percent_decode(b"%5b%5D"), "[]");
        assert_eq!(percent_decode(b"%+1"), "% 1");
    }

    #[test]
    fn splits_at_the_first_equals_sign() {
        assert_eq!(split_pair(b"a=b=c"), (&b"a"[..], &b"b=c"[..]));
        assert_eq!(split_pair(b"b"), (&b"b"[..], &b""[..]));
    }
}
