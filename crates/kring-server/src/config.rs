//! Runtime configuration. The binary fills it from flags and `KRING_*` variables (one place:
//! `crates/kring/src/main.rs`); tests build it directly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::resolver::{Resolve, SystemResolver};

#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Largest JSON or form body accepted, in bytes (DESIGN §2: 1 MiB).
    pub body_limit: usize,
    /// Requests per minute per token owner on `/api` (per client IP without a valid token).
    pub rate_limit: u64,
    /// Where rate-limit counters live when several instances share one budget.
    pub redis_url: Option<String>,
    /// Prefix of Kring's Redis keys; instances of one deployment share it.
    pub redis_prefix: String,
    /// Requests one token owner may have in progress at once, per instance.
    pub concurrency_limit: usize,
    /// Deliver webhooks to loopback and private addresses (tests, closed networks).
    pub webhook_allow_private: bool,
    /// Multiplies the retry delays (tests shorten them; 1.0 in production).
    pub webhook_backoff_scale: f64,
    /// Where uploaded files are kept.
    pub files_dir: PathBuf,
    /// Largest uploaded file, in bytes (DESIGN §2: 20 MiB; 413 above).
    pub upload_file_limit: u64,
    /// Largest multipart body, in bytes (DESIGN §2: 50 MiB; 413 above).
    pub upload_request_limit: u64,
    /// The base of the download URLs in responses (`https://crm.example.com`); without it, the
    /// request's own scheme-less `Host` is used with `http://`.
    pub public_url: Option<String>,
    /// Keep files in an S3-compatible bucket instead of `files_dir` (several instances).
    pub s3: Option<S3Config>,
    /// How old a kept file that no media row names must be before it is swept: a write keeps
    /// its file before its transaction commits, so a younger one may still be wanted.
    pub orphan_grace: Duration,
    /// How long a download link in a response opens its file (`--file-link-lifetime`).
    pub file_link_lifetime: Duration,
    /// How long a token's principal is remembered at most (`--principal-cache`); zero reads it
    /// for every request. Any change to what tokens act as forgets them all at once.
    pub principal_cache: Duration,
    /// The bearer token `/metrics` on the API's port asks for (`--metrics-token`); without one
    /// that route answers 404.
    pub metrics_token: Option<String>,
    /// A separate address serving only `/metrics`, without a token (`--metrics-bind`).
    pub metrics_bind: Option<String>,
    /// A PEM file of extra certificate authorities that webhook targets' HTTPS certificates may
    /// chain to, besides the system's (a private CA of a closed network; tests).
    pub webhook_ca_file: Option<PathBuf>,
    /// How long one webhook attempt may take, in seconds.
    pub webhook_timeout_seconds: u64,
    /// How long a claimed delivery stays with its worker before another may claim it, in
    /// seconds; longer than the attempt timeout, so a live worker's claim never runs out.
    pub webhook_lease_seconds: u64,
    /// How webhook targets' host names are resolved, at registration and before every attempt:
    /// the system's resolver. Only tests put another in (a table, to rebind a name).
    pub webhook_resolver: Arc<dyn Resolve>,
    /// How long one request's expensive reads (filters, orders, deep pages) may run together
    /// before they are stopped with a 503; PostgreSQL's `statement_timeout` for every statement.
    pub query_timeout: Duration,
    /// Origins whose browser apps may call the API (`https://app.example.com`), or `*` for
    /// any; none by default.
    pub cors_origins: Vec<String>,
    /// Fractional digits of the timestamps responses show (`--timestamp-precision`, 0–6);
    /// stored timestamps always keep six.
    pub timestamp_precision: usize,
    /// PKCE of confidential OAuth clients too (public ones always need it).
    pub require_pkce: bool,
    /// Hosts besides loopback that absolute URLs may follow when `public_url` is not set.
    pub allowed_hosts: Vec<String>,
    /// Open connections, request-head timeout and minimum body rate.
    pub connections: ConnectionLimits,
    /// What the rate limiter reads the time off: the system's clock. Only tests put another in
    /// (one they move past a window's end).
    pub clock: Arc<dyn Clock>,
}

/// An S3-compatible bucket: AWS S3, MinIO, Ceph, R2 and the like.
#[derive(Clone)]
pub struct S3Config {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Address objects as `<bucket>.<endpoint host>` (AWS's default) instead of
    /// `<endpoint>/<bucket>` (what most self-hosted stores expect).
    pub virtual_host: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("virtual_host", &self.virtual_host)
            .finish_non_exhaustive()
    }
}

pub const DEFAULT_UPLOAD_FILE_LIMIT: u64 = 20 * 1024 * 1024;
pub const DEFAULT_UPLOAD_REQUEST_LIMIT: u64 = 50 * 1024 * 1024;

/// Laravel's default API throttle is 60 a minute; DESIGN §2 settles on 600 for Kring.
pub const DEFAULT_RATE_LIMIT: u64 = 600;

/// In-flight requests per token owner and instance.
pub const DEFAULT_CONCURRENCY_LIMIT: usize = 32;

/// A webhook attempt's timeout, in seconds.
pub const DEFAULT_WEBHOOK_TIMEOUT: u64 = 10;

/// A webhook delivery's claim, in seconds.
pub const DEFAULT_WEBHOOK_LEASE: u64 = 120;

/// What bounds a client's connection (`http::listener`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections at once; a connection beyond it is closed as soon as it is accepted.
    pub max_connections: usize,
    /// How long a request's head may take to arrive, counted from when the server waits for
    /// it: a new connection's first request and a kept-alive connection's next one alike.
    pub header_timeout: Duration,
    /// The slowest a body may arrive, after a grace period at the start.
    pub min_body_rate: u64,
    pub body_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            min_body_rate: 1024,
            body_grace: Duration::from_secs(10),
        }
    }
}

/// How old an unrecorded file must be before it is swept, unless configured (`--orphan-grace`).
pub const DEFAULT_ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// How long a download link opens its file, unless configured (`--file-link-lifetime`).
pub const DEFAULT_FILE_LINK_LIFETIME: Duration = Duration::from_secs(3600);

/// How long a principal is remembered at most, unless configured (`--principal-cache`).
pub const DEFAULT_PRINCIPAL_CACHE: Duration = Duration::from_secs(5);

/// How long a request's expensive reads may take together, unless configured
/// (`--query-timeout`).
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The query timeouts accepted: a read needs some milliseconds; past ten minutes a client
/// has long given up.
const MIN_QUERY_TIMEOUT: Duration = Duration::from_millis(10);
const MAX_QUERY_TIMEOUT: Duration = Duration::from_secs(600);

/// The longest timeout and lease accepted: an hour, and a day.
const MAX_WEBHOOK_TIMEOUT: u64 = 3600;
const MAX_WEBHOOK_LEASE: u64 = 86_400;

impl Config {
    pub fn new(database_url: impl Into<String>) -> Config {
        Config {
            database_url: database_url.into(),
            body_limit: 1024 * 1024,
            rate_limit: DEFAULT_RATE_LIMIT,
            redis_url: None,
            redis_prefix: "kring".into(),
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
            webhook_allow_private: false,
            webhook_backoff_scale: 1.0,
            files_dir: PathBuf::from("kring-data/files"),
            upload_file_limit: DEFAULT_UPLOAD_FILE_LIMIT,
            upload_request_limit: DEFAULT_UPLOAD_REQUEST_LIMIT,
            public_url: None,
            s3: None,
            orphan_grace: DEFAULT_ORPHAN_GRACE,
            file_link_lifetime: DEFAULT_FILE_LINK_LIFETIME,
            principal_cache: DEFAULT_PRINCIPAL_CACHE,
            metrics_token: None,
            metrics_bind: None,
            webhook_ca_file: None,
            webhook_timeout_seconds: DEFAULT_WEBHOOK_TIMEOUT,
            webhook_lease_seconds: DEFAULT_WEBHOOK_LEASE,
            webhook_resolver: Arc::new(SystemResolver),
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            connections: ConnectionLimits::default(),
            allowed_hosts: Vec::new(),
            require_pkce: false,
            cors_origins: Vec::new(),
            timestamp_precision: 6,
            clock: Arc::new(SystemClock),
        }
    }

    /// Refuses settings that cannot work together.
    pub fn check(&self) -> Result<(), Error> {
        if self.timestamp_precision > 6 {
            return Err(Error::Config(
                "the timestamp precision must be 0 to 6 digits".into(),
            ));
        }
        if !(MIN_QUERY_TIMEOUT..=MAX_QUERY_TIMEOUT).contains(&self.query_timeout) {
            return Err(Error::Config(format!(
                "the query timeout must be {} ms to {} s",
                MIN_QUERY_TIMEOUT.as_millis(),
                MAX_QUERY_TIMEOUT.as_secs()
            )));
        }
        if !(1..=MAX_WEBHOOK_TIMEOUT).contains(&self.webhook_timeout_seconds) {
            return Err(Error::Config(format!(
                "the webhook timeout must be 1 to {MAX_WEBHOOK_TIMEOUT} seconds"
            )));
        }
        if self.webhook_lease_seconds > MAX_WEBHOOK_LEASE {
            return Err(Error::Config(format!(
                "the webhook lease may be at most {MAX_WEBHOOK_LEASE} seconds (a day)"
            )));
        }
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds {
            return Err(Error::Config(format!(
                "the webhook lease ({} s) must be longer than the webhook timeout ({} s), or a \
                 slow attempt could be claimed again while it runs",
                self.webhook_lease_seconds, self.webhook_timeout_seconds
            )));
        }
        Ok(())
    }
}

/// The database to use: the URL when one is given, otherwise `<data_dir>/kring.db`, creating
/// the directory.
pub fn database_url(url: Option<&str>, data_dir: &Path) -> Result<String, Error> {
    if let Some(url) = url.filter(|u| !u.trim().is_empty()) {
        return Ok(url.to_string());
    }
    std::fs::create_dir_all(data_dir).map_err(|e| {
        Error::Config(format!(
            "cannot create data directory {}: {e}",
            data_dir.display()
        ))
    })?;
    Ok(format!("sqlite://{}", data_dir.join("kring.db").display()))
}

/// `url` with the password of its user-info part hidden, for messages and logs.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_lease_must_outlast_an_attempt() {
        let mut config = Config::new("sqlite://unused.db");
        assert!(config.check().is_ok(), "the defaults fit together");
        config.webhook_lease_seconds = config.webhook_timeout_seconds;
        let Err(Error::Config(message)) = config.check() else {
            panic!("a lease no longer than the timeout was accepted");
        };
        assert!(message.contains("lease"), "{message}");
        config.webhook_lease_seconds = 5;
        config.webhook_timeout_seconds = 0;
        assert!(config.check().is_err(), "a zero timeout is refused");
        config.webhook_timeout_seconds = 10;
        config.webhook_lease_seconds = u64::MAX;
        assert!(config.check().is_err(), "a lease past a day is refused");
    }

    #[test]
    fn hides_only_the_password() {
        assert_eq!(
            redacted("postgres://kring:s3cret@db:5432/kring?sslmode=disable"),
            "postgres://kring:***@db:5432/kring?sslmode=disable"
        );
        assert_eq!(
            redacted("redis://:pw@cache:6379"),
            "redis://:***@cache:6379"
        );
        assert_eq!(redacted("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(redacted("sqlite://data/k.db"), "sqlite://data/k.db");
    }
}
