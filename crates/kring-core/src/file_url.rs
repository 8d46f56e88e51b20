//! Signed, expiring download URLs: `…/api/files/{uuid}?expires={unix}&signature={hex}`, the
//! signature an HMAC-SHA256 with a server key over the file's uuid and the expiry, so a link
//! opens one file until a moment and needs no header (an `<img src>` in a portal or an email).

use crate::webhook::hmac_sha256;

/// Why a signed link does not open its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The signature is not this server's for this file and expiry (or is not hex at all).
    Wrong,
    /// The signature is right, the moment has passed.
    Expired,
}

/// The path of a file's download route.
pub fn path(uuid: &str) -> String {
    format!("/api/files/{uuid}")
}

/// The query a link to `uuid` valid until `expires` (Unix seconds) carries.
pub fn signed_query(key: &[u8], uuid: &str, expires: i64) -> String {
    format!(
        "expires={expires}&signature={}",
        signature(key, uuid, expires)
    )
}

fn signature(key: &[u8], uuid: &str, expires: i64) -> String {
    let mac = hmac_sha256(key, format!("{uuid}.{expires}").as_bytes());
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a link's `expires` and `signature` for `uuid` at `now` (Unix seconds). The signature
/// is compared in constant time; it is checked before the expiry, so an expired link tells
/// nothing unless it was genuine.
pub fn verify(key: &[u8], uuid: &str, expires: &str, given: &str, now: i64) -> Result<(), Refusal> {
    let expires_at: i64 = expires.parse().map_err(|_| Refusal::Wrong)?;
    if expires_at.to_string() != expires {
        return Err(Refusal::Wrong);
    }
    let expected = signature(key, uuid, expires_at);
    let same = expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0;
    if !same {
        return Err(Refusal::Wrong);
    }
    if now >= expires_at {
        return Err(Refusal::Expired);
    }
    Ok(())
}

/// Whether `url` (absolute or a path, with or without a query) is the download link of `uuid`.
pub fn links_to(url: &str, uuid: &str) -> bool {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    without_query.ends_with(&path(uuid))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a server key of some length";
    const UUID: &str = "0123456789abcdef0123456789abcdef";

    fn parts(query: &str) -> (String, String) {
        let mut expires = String::new();
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.into(),
                Some(("signature", v)) => signature = v.into(),
                _ => {}
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_link_opens_its_file_until_it_expires() {
        let (expires, signature) = parts(&signed_query(KEY, UUID, 1_000));
        assert_eq!(expires, "1000");
        assert_eq!(signature.len(), 64);
        assert_eq!(verify(KEY, UUID, &expires, &signature, 999), Ok(()));
        assert_eq!(
            verify(KEY, UUID, &expires, &signature, 1_000),
            Err(Refusal::Expired)
        );
    }

    #[test]
    fn a_link_opens_no_other_file_nor_a_later_moment() {
        let (expires, signature) = parts(&signed_query(KEY, UUID, 1_000));
        let other = "fedcba9876543210fedcba9876543210";
        assert_eq!(
            verify(KEY, other, &expires, &signature, 0),
            Err(Refusal::Wrong)
        );
        assert_eq!(
            verify(KEY, UUID, "2000", &signature, 0),
            Err(Refusal::Wrong)
        );
        assert_eq!(
            verify(KEY, UUID, "01000", &signature, 0),
            Err(Refusal::Wrong)
        );
        assert_eq!(
            verify(b"another key", UUID, &expires, &signature, 0),
            Err(Refusal::Wrong)
        );
        assert_eq!(verify(KEY, UUID, &expires, "", 0), Err(Refusal::Wrong));
        assert_eq!(
            verify(KEY, UUID, "soon", &signature, 0),
            Err(Refusal::Wrong)
        );
        let upper = signature.to_uppercase();
        assert_eq!(verify(KEY, UUID, &expires, &upper, 0), Err(Refusal::Wrong));
    }

    #[test]
    fn links_are_recognised_with_or_without_their_query() {
        let url = format!(
            "https://crm.test{}?{}",
            path(UUID),
            signed_query(KEY, UUID, 5)
        );
        assert!(links_to(&url, UUID));
        assert!(links_to(&path(UUID), UUID));
        assert!(!links_to(&url, "fedcba9876543210fedcba9876543210"));
        assert!(!links_to(
            &format!("https://crm.test/x?u={}", path(UUID)),
            UUID
        ));
    }
}
