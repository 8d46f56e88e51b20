//! AWS Signature Version 4 for S3-compatible object storage (AWS S3, MinIO, Ceph, R2, …): the
//! `Authorization` header of one request, signed in the `Authorization` header style with the
//! payload's SHA-256. Pure: the caller supplies the clock and sends the request.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::webhook::hmac_sha256;

/// An access key pair and the bucket's region.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<hidden>")
            .field("region", &self.region)
            .finish()
    }
}

/// What is signed of a request.
pub struct Signable<'a> {
    pub method: &'a str,
    /// `host[:port]` as sent.
    pub host: &'a str,
    /// The path, already URI-encoded ([`encode_path`]).
    pub path: &'a str,
    /// Query parameters, unencoded (`list-type=2`); sent as [`encode_query`] renders them.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign besides `host`, `x-amz-content-sha256` and `x-amz-date`; names in lower
    /// case.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body.
    pub payload_sha256: &'a str,
    pub time: DateTime<Utc>,
}

/// The headers to send: `x-amz-date`, `x-amz-content-sha256` and `authorization`.
pub fn sign(credentials: &Credentials, request: &Signable<'_>) -> [(&'static str, String); 3] {
    let amz_date = request.time.format("%Y%m%dT%H%M%SZ").to_string();
    let date = request.time.format("%Y%m%d").to_string();
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    headers.push(("host".into(), request.host.to_string()));
    headers.push(("x-amz-content-sha256".into(), request.payload_sha256.into()));
    headers.push(("x-amz-date".into(), amz_date.clone()));
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{}",
        request.method,
        request.path,
        encode_query(request.query),
        request.payload_sha256
    );
    let scope = format!("{date}/{}/s3/aws4_request", credentials.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac_sha256(
        format!("AWS4{}", credentials.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [credentials.region.as_str(), "s3", "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        credentials.access_key_id
    );
    [
        ("x-amz-date", amz_date),
        ("x-amz-content-sha256", request.payload_sha256.to_string()),
        ("authorization", authorization),
    ]
}

/// Hex SHA-256 of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// S3's URI encoding of an object path: every byte but unreserved ones and `/` as `%XX`.
pub fn encode_path(path: &str) -> String {
    crate::form::percent_encode(path, b"/")
}

/// A query string as Signature V4 canonicalises it (and as it must then be sent): names and
/// values URI-encoded, every byte but unreserved ones as `%XX`, sorted by name.
pub fn encode_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<String> = query
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                crate::form::percent_encode(name, b""),
                crate::form::percent_encode(value, b"")
            )
        })
        .collect();
    pairs.sort();
    pairs.join("&")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key and the moment of AWS's worked examples.
    fn aws_example() -> (Credentials, DateTime<Utc>) {
        let credentials = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        };
        let time = DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        (credentials, time)
    }

    /// AWS's own worked example ("Example: GET Object", Signature Version 4 header-based
    /// authentication, S3 API reference).
    #[test]
    fn matches_the_documented_get_object_example() {
        let (credentials, time) = aws_example();
        let headers = sign(
            &credentials,
            &Signable {
                method: "GET",
                host: "examplebucket.s3.amazonaws.com",
                path: "/test.txt",
                query: &[],
                headers: &[("Range", "bytes=0-9")],
                payload_sha256: EMPTY_SHA256,
                time,
            },
        );
        assert_eq!(headers[0].1, "20130524T000000Z");
        assert_eq!(
            headers[2].1,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// AWS's worked example "GET Bucket (List Objects)": the query is part of what is signed.
    #[test]
    fn matches_the_documented_list_objects_example() {
        let (credentials, time) = aws_example();
        let headers = sign(
            &credentials,
            &Signable {
                method: "GET",
                host: "examplebucket.s3.amazonaws.com",
                path: "/",
                query: &[("prefix", "J"), ("max-keys", "2")],
                headers: &[],
                payload_sha256: EMPTY_SHA256,
                time,
            },
        );
        assert!(
            headers[2].1.ends_with(
                "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
            ),
            "{}",
            headers[2].1
        );
        assert_eq!(
            encode_query(&[("prefix", "J"), ("max-keys", "2")]),
            "max-keys=2&prefix=J"
        );
    }

    #[test]
    fn encodes_paths_as_s3_does() {
        assert_eq!(encode_path("/b/1/a b+c"), "/b/1/a%20b%2Bc");
        assert_eq!(encode_path("/b/ü"), "/b/%C3%BC");
        let shown = format!(
            "{:?}",
            Credentials {
                access_key_id: "id".into(),
                secret_access_key: "secret".into(),
                region: "r".into(),
            }
        );
        assert!(!shown.contains("secret\""), "{shown}");
    }
}
