//! Where a webhook may be sent (SSRF; security plan T50, T51). One check, [`vet`], serves both
//! the registration of a target (`POST`/`PATCH /api/webhook`, a 422 on refusal) and every
//! delivery attempt (a failed attempt on refusal), so the two can never disagree.
//!
//! The URL is parsed the way the HTTP client parses it (WHATWG: `http://2130706433/`,
//! `http://0x7f000001/`, `http://017700000001/` and `http://127.1/` are all 127.0.0.1), its
//! host name resolved, and every address judged; a delivery then connects to exactly the
//! addresses judged, so a name cannot resolve to one address for the check and another for the
//! connection (DNS rebinding).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use kring_core::i18n::Message;
use kring_core::resource::ResourceDef;
use kring_core::validate::{ValidationErrors, is_url};
use reqwest::Url;
use serde_json::{Map, Value as Json};

use crate::config::Config;
pub use crate::resolver::{Lookup, Resolve, SystemResolver};

/// A target that may be connected to.
#[derive(Debug)]
pub struct Target {
    /// The host as the client looks it up (an IPv6 literal without brackets).
    pub host: String,
    /// Where the connection may go: the checked addresses with the URL's port.
    pub addresses: Vec<SocketAddr>,
}

/// Why a target is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not an absolute `http` or `https` URL with a host.
    Invalid(String),
    /// A user name or password in the URL (`https://user:pass@host/`).
    Credentials,
    /// The host has no address now (at registration this is not a refusal; see [`vet_body`]).
    Unresolvable { host: String, reason: String },
    /// The host is, or resolves to, an address that is not public.
    NotPublic { host: String, address: IpAddr },
}

impl Refusal {
    /// The refusal as a validation message of the URL's field.
    pub fn message(&self) -> Message {
        match self {
            Refusal::Invalid(_) => Message::new("validation.url"),
            Refusal::Credentials => Message::new("validation.target.credentials"),
            Refusal::Unresolvable { host, .. } => {
                Message::new("validation.target.unresolvable").with("host", host.clone())
            }
            Refusal::NotPublic { host, address }
                if host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() =>
            {
                Message::new("validation.target.private_address")
                    .with("address", address.to_string())
            }
            Refusal::NotPublic { host, address } => Message::new("validation.target.private_host")
                .with("host", host.clone())
                .with("address", address.to_string()),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Invalid(reason) => write!(f, "invalid URL: {reason}"),
            Refusal::Credentials => write!(f, "refused: the URL carries a user name or password"),
            Refusal::Unresolvable { host, reason } => write!(f, "cannot resolve {host}: {reason}"),
            Refusal::NotPublic { host, address } => {
                write!(
                    f,
                    "refused: {host} resolves to the non-public address {address}"
                )
            }
        }
    }
}

/// Checks `raw` as a webhook target: an `http` or `https` URL without credentials whose host
/// is, or resolves to, public addresses only (any address, with `webhook_allow_private`).
pub async fn vet(config: &Config, raw: &str) -> Result<Target, Refusal> {
    let url = Url::parse(raw).map_err(|e| Refusal::Invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::Invalid(format!(
            "the scheme {} is not http or https",
            url.scheme()
        )));
    }
    refuse_ambiguous(raw, &url)?;
    let shown = url
        .host_str()
        .ok_or_else(|| Refusal::Invalid("the URL has no host".into()))?
        .to_string();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Refusal::Invalid("the URL has no port".into()))?;
    let host = shown
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let ips = addresses_of(config, &host)
        .await
        .map_err(|reason| Refusal::Unresolvable {
            host: shown.clone(),
            reason,
        })?;
    if !config.webhook_allow_private
        && let Some(bad) = ips.iter().find(|ip| !is_public(**ip))
    {
        return Err(Refusal::NotPublic {
            host: shown,
            address: *bad,
        });
    }
    let addresses = ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    Ok(Target { host, addresses })
}

/// Refuses the spellings that parsers read differently (security plan T50): a backslash (the
/// URL standard reads it as `/`, others as part of the host), a fragment (never sent, and
/// `#@127.0.0.1` reads as credentials to some), and an `@` anywhere but in the query (one
/// that makes a user-info part is refused as credentials).
fn refuse_ambiguous(raw: &str, url: &Url) -> Result<(), Refusal> {
    if raw.contains('\\') {
        return Err(Refusal::Invalid("the URL contains a backslash".into()));
    }
    if url.fragment().is_some() {
        return Err(Refusal::Invalid("a webhook URL has no fragment".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refusal::Credentials);
    }
    let in_query = url.query().map_or(0, |q| q.matches('@').count());
    if raw.matches('@').count() > in_query {
        return Err(Refusal::Invalid("an @ outside the query".into()));
    }
    Ok(())
}

/// The addresses of a host: an IP literal is itself; `localhost` and its subdomains are
/// loopback without asking anyone (RFC 6761); any other name is looked up, for at most the
/// attempt timeout.
async fn addresses_of(config: &Config, host: &str) -> Result<Vec<IpAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return Ok(vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]);
    }
    let limit = Duration::from_secs(config.webhook_timeout_seconds);
    let found = tokio::time::timeout(limit, config.webhook_resolver.resolve(host))
        .await
        .map_err(|_| "the lookup timed out".to_string())?
        .map_err(|e| e.to_string())?;
    if found.is_empty() {
        return Err("it has no address".into());
    }
    Ok(found)
}

/// The refusals of the target columns `body` sets, as the write's validation errors. A value
/// that is not a URL is left to the column's own rules, and a host name that does not resolve
/// now is accepted: every delivery attempt resolves and checks it again.
pub async fn vet_body(
    config: &Config,
    def: &ResourceDef,
    body: &Map<String, Json>,
) -> ValidationErrors {
    let mut errors = ValidationErrors::default();
    for column in def.columns.iter().filter(|c| c.target) {
        let Some(Json::String(url)) = body.get(column.name) else {
            continue;
        };
        if !is_url(url) {
            continue;
        }
        match vet(config, url).await {
            Ok(_) | Err(Refusal::Unresolvable { .. }) => {}
            Err(refusal) => errors.add(column.name, refusal.message()),
        }
    }
    errors
}

/// Whether an address is on the public internet. Refused: loopback, private, link-local (cloud
/// metadata), CGNAT, unique-local, site-local, unspecified, multicast, broadcast, reserved,
/// benchmarking and documentation ranges; IPv6 forms that carry an IPv4 address (mapped,
/// NAT64, 6to4) are judged by that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let reserved = a == 0 // "this network", 0.0.0.0 among them
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 169 && b == 254) // link-local: cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF assignments, TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // the retired 6to4 relay
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    // 6to4 (2002::/16) reaches the IPv4 address in bits 16 to 48.
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    // Only global unicast (2000::/3) is public: this leaves out ::/8 (unspecified, loopback,
    // IPv4-compatible), 100::/64, fc00::/7, fe80::/10, fec0::/10 and ff00::/8.
    let global = (s[0] & 0xe000) == 0x2000;
    // 2001::/23 holds the IETF's assignments (Teredo among them), 2001:db8::/32 and
    // 3fff::/20 are for documentation.
    let reserved =
        (s[0] == 0x2001 && (s[1] < 0x200 || s[1] == 0xdb8)) || (s[0] == 0x3fff && s[1] < 0x1000);
    global && !reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(url: &str) -> Option<String> {
        Url::parse(url).ok()?.host_str().map(str::to_string)
    }

    #[test]
    fn numeric_hosts_are_read_as_the_http_client_reads_them() {
        for url in [
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://0x7f.0.0.1/",
            "http://127.0.0.1./",
        ] {
            assert_eq!(host_of(url).as_deref(), Some("127.0.0.1"), "{url}");
        }
        assert_eq!(
            host_of("http://[::ffff:127.0.0.1]/").as_deref(),
            Some("[::ffff:7f00:1]")
        );
        assert_eq!(
            host_of("http://good.test#@127.0.0.1/").as_deref(),
            Some("good.test")
        );
        let credentials = Url::parse("http://127.0.0.1%2f@good.test/").unwrap();
        assert_eq!(credentials.host_str(), Some("good.test"));
        assert!(!credentials.username().is_empty());
    }

    #[test]
    fn only_public_addresses_are_public() {
        for refused in [
            "127.0.0.1",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "192.0.0.8",
            "198.18.0.1",
            "203.0.113.7",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2001::1",
            "2001:db8::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "100::1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(!is_public(ip), "{refused} is not public");
        }
        for public in [
            "1.2.3.4",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(is_public(ip), "{public} is public");
        }
    }
}
