//! Standard Webhooks signing (https://www.standardwebhooks.com, spec 1.0.0): each delivery carries
//! `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `"{id}.{timestamp}.{payload}"`, keyed by the subscription's `whsec_` secret. During a secret
//! rotation a delivery is signed with every current secret, space-separated, so receivers on
//! either secret accept it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The prefix of a webhook secret; the rest is the base64 of the key bytes.
pub const SECRET_PREFIX: &str = "whsec_";

/// A secret that is not `whsec_` followed by base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSecret;

/// A new secret from 24 random bytes (the caller draws them; this crate does no I/O).
pub fn secret_from(random: &[u8; 24]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random))
}

fn key_of(secret: &str) -> Result<Vec<u8>, BadSecret> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).ok_or(BadSecret)?;
    STANDARD.decode(encoded).map_err(|_| BadSecret)
}

/// The `webhook-signature` value for one secret: `v1,<base64>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, payload: &[u8]) -> Result<String, BadSecret> {
    let key = key_of(secret)?;
    let mut message = Vec::with_capacity(id.len() + payload.len() + 24);
    message.extend_from_slice(id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(timestamp.to_string().as_bytes());
    message.push(b'.');
    message.extend_from_slice(payload);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&key, &message))
    ))
}

/// The header for every current secret (one, or two during a rotation).
pub fn signature_header(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    payload: &[u8],
) -> Result<String, BadSecret> {
    let signatures: Result<Vec<String>, BadSecret> = secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp, payload))
        .collect();
    Ok(signatures?.join(" "))
}

/// HMAC-SHA256 (RFC 2104): `H((K ^ opad) || H((K ^ ipad) || m))` with 64-byte blocks.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    // A key longer than a block is hashed first (RFC 2104 §2); either way it is zero-padded.
    let digest;
    let key = if key.len() > BLOCK {
        digest = Sha256::digest(key);
        digest.as_slice()
    } else {
        key
    };
    block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: a short key.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    /// The example of the Standard Webhooks reference libraries (checked against the
    /// `standardwebhooks` package from PyPI).
    #[test]
    fn signs_like_the_reference_implementation() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let signature = sign(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Ok("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn rotation_signs_with_both_secrets_and_bad_secrets_are_refused() {
        let (old, new) = (secret_from(&[1; 24]), secret_from(&[2; 24]));
        let header = signature_header(&[&old, &new], "msg_1", 1, b"{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&old, "msg_1", 1, b"{}").unwrap());
        assert_eq!(parts[1], sign(&new, "msg_1", 1, b"{}").unwrap());
        assert!(old.starts_with(SECRET_PREFIX));
        assert_eq!(sign("nope", "m", 1, b""), Err(BadSecret));
        assert_eq!(sign("whsec_***", "m", 1, b""), Err(BadSecret));
    }
}
