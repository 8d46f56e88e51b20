//! An S3-compatible bucket (AWS S3, MinIO, Ceph, R2, …) as the home of kept files, so that
//! several instances serve the same files: objects are put, fetched and deleted with Signature
//! Version 4 requests (`kring_core::s3`).

use std::path::Path;

use chrono::Utc;
use kring_core::s3::{Credentials, EMPTY_SHA256, Signable, encode_path, encode_query, sign};
use reqwest::{Method, StatusCode};

use crate::config::S3Config;
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct Bucket {
    client: reqwest::Client,
    /// `http` or `https`.
    scheme: String,
    /// The endpoint's `host[:port]`.
    host: String,
    name: String,
    credentials: Credentials,
    /// `<bucket>.<host>/<key>` rather than `<host>/<bucket>/<key>`.
    virtual_host: bool,
}

impl Bucket {
    pub fn new(config: &S3Config) -> Result<Bucket, Error> {
        let endpoint = config.endpoint.trim_end_matches('/');
        let (scheme, host) = endpoint
            .split_once("://")
            .filter(|(scheme, host)| {
                matches!(*scheme, "http" | "https") && !host.is_empty() && !host.contains('/')
            })
            .ok_or_else(|| {
                Error::Config(format!(
                    "the S3 endpoint must be http(s)://host[:port], not {endpoint}"
                ))
            })?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("S3 client: {e}")))?;
        Ok(Bucket {
            client,
            scheme: scheme.to_string(),
            host: host.to_string(),
            name: config.bucket.clone(),
            credentials: Credentials {
                access_key_id: config.access_key_id.clone(),
                secret_access_key: config.secret_access_key.clone(),
                region: config.region.clone(),
            },
            virtual_host: config.virtual_host,
        })
    }

    /// A signed request for `key`.
    fn request(
        &self,
        method: Method,
        key: &str,
        payload_sha256: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        self.signed(method, Some(key), &[], payload_sha256, headers)
    }

    /// A signed request for the object `key`, or for the bucket itself (`None`).
    fn signed(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        payload_sha256: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let key = key.map(|k| format!("/{k}")).unwrap_or_default();
        let (host, path) = if self.virtual_host {
            let path = if key.is_empty() { "/".into() } else { key };
            (format!("{}.{}", self.name, self.host), encode_path(&path))
        } else {
            (
                self.host.clone(),
                encode_path(&format!("/{}{key}", self.name)),
            )
        };
        let signed = sign(
            &self.credentials,
            &Signable {
                method: method.as_str(),
                host: &host,
                path: &path,
                query,
                headers,
                payload_sha256,
                time: Utc::now(),
            },
        );
        let query = match query.is_empty() {
            true => String::new(),
            false => format!("?{}", encode_query(query)),
        };
        let mut request = self
            .client
            .request(method, format!("{}://{host}{path}{query}", self.scheme));
        for (name, value) in headers.iter().copied() {
            request = request.header(name, value);
        }
        for (name, value) in signed {
            request = request.header(name, value);
        }
        request
    }

    /// Uploads the file at `path` (its size and SHA-256 known) as `key`, streaming it.
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        sha256: &str,
        content_type: &str,
    ) -> Result<(), Error> {
        let file = tokio::fs::File::open(path).await.map_err(unavailable)?;
        let length = size.to_string();
        let response = self
            .request(
                Method::PUT,
                key,
                sha256,
                &[("content-length", &length), ("content-type", content_type)],
            )
            .body(reqwest::Body::from(file))
            .send()
            .await
            .map_err(unavailable)?;
        expect_success(response, "put").await.map(|_| ())
    }

    /// The object's response, streaming; `None` when the bucket does not have it.
    pub async fn get(&self, key: &str) -> Result<Option<reqwest::Response>, Error> {
        let response = self
            .request(Method::GET, key, EMPTY_SHA256, &[])
            .send()
            .await
            .map_err(unavailable)?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        expect_success(response, "get").await.map(Some)
    }

    /// One page (up to 1,000) of the bucket's objects: each key with when it was last
    /// written, and the token of the next page when there is one (`ListObjectsV2`).
    pub async fn list(&self, after: Option<&str>) -> Result<Listing, Error> {
        let mut query = vec![("list-type", "2")];
        if let Some(token) = after {
            query.push(("continuation-token", token));
        }
        let response = self
            .signed(Method::GET, None, &query, EMPTY_SHA256, &[])
            .send()
            .await
            .map_err(unavailable)?;
        let xml = expect_success(response, "list")
            .await?
            .text()
            .await
            .map_err(unavailable)?;
        Ok(Listing::from_xml(&xml))
    }

    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        let response = self
            .request(Method::DELETE, key, EMPTY_SHA256, &[])
            .send()
            .await
            .map_err(unavailable)?;
        expect_success(response, "delete").await.map(|_| ())
    }
}

/// A page of `ListObjectsV2`.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<(String, Option<chrono::DateTime<Utc>>)>,
    pub next: Option<String>,
}

impl Listing {
    /// Reads the few elements Kring needs. The keys that matter are Kring's own (digits, `/`
    /// and hex), which XML never escapes; any other key is left to the caller to skip.
    fn from_xml(xml: &str) -> Listing {
        let objects = elements(xml, "Contents")
            .map(|item| {
                let key = elements(item, "Key").next().unwrap_or_default().to_string();
                let written = elements(item, "LastModified")
                    .next()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                (key, written)
            })
            .collect();
        let truncated = elements(xml, "IsTruncated").next() == Some("true");
        let next = elements(xml, "NextContinuationToken")
            .next()
            .filter(|_| truncated)
            .map(|token| token.replace("&amp;", "&"));
        Listing { objects, next }
    }
}

/// The contents of each `<name>…</name>` in `xml`, in order.
fn elements<'a>(xml: &'a str, name: &str) -> impl Iterator<Item = &'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let end = start + rest.get(start..)?.find(&close)?;
        let inner = rest.get(start..end)?;
        rest = rest.get(end + close.len()..).unwrap_or_default();
        Some(inner)
    })
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("file storage: {e}"))
}

/// A 2xx response, or the bucket's error (its XML code, in the log only) as a 503.
async fn expect_success(
    response: reqwest::Response,
    what: &str,
) -> Result<reqwest::Response, Error> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_string())
        .unwrap_or_default();
    Err(unavailable(format!("{what} answered {status} {code}")))
}
