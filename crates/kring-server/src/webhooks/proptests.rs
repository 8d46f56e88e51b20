//! Property tests of the webhook target check: whatever URL a client registers, [`vet`]
//! answers without panicking, and a target it accepts is an `http(s)` URL without credentials,
//! backslashes or fragment whose every address is public. Host names resolve through a table
//! keyed on their first label, so no test touches the network.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use kring_core::i18n::Locale;
use proptest::prelude::*;
use reqwest::Url;

use super::target::{Lookup, Refusal, Resolve, Target, is_public, vet};
use crate::config::Config;

const PUBLIC_V4: Ipv4Addr = Ipv4Addr::new(93, 184, 216, 34);
const PUBLIC_V6: Ipv6Addr = Ipv6Addr::new(0x2606, 0x2800, 0x220, 1, 0x248, 0x1893, 0x25c8, 0x1946);

/// What a name resolves to, by its first label.
#[derive(Debug)]
struct Names;

fn addresses_for(host: &str) -> io::Result<Vec<IpAddr>> {
    let private = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    Ok(match host.split('.').next().unwrap_or_default() {
        "private" => vec![private],
        "metadata" => vec![IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254))],
        // One bad address among good ones is enough to refuse.
        "mixed" => vec![PUBLIC_V4.into(), PUBLIC_V6.into(), private],
        "nowhere" => Vec::new(),
        "broken" => return Err(io::Error::other("no such host")),
        _ => vec![PUBLIC_V4.into(), PUBLIC_V6.into()],
    })
}

impl Resolve for Names {
    fn resolve<'a>(&'a self, host: &'a str) -> Lookup<'a> {
        Box::pin(async move { addresses_for(host) })
    }
}

fn vetted(raw: &str, allow_private: bool) -> Result<Target, Refusal> {
    let mut config = Config::new("sqlite::memory:");
    config.webhook_resolver = Arc::new(Names);
    config.webhook_allow_private = allow_private;
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(vet(&config, raw))
}

/// Both the 422 message and the log line can be built for every refusal.
fn assert_describable(refusal: &Refusal) {
    assert!(!refusal.to_string().is_empty());
    for locale in [Locale::En, Locale::Nl] {
        assert!(!refusal.message().render(locale).is_empty());
    }
}

/// URLs assembled from the spellings that URL parsers disagree on or that hide an address,
/// each part usually an ordinary one so that a fair share of the URLs is accepted.
fn urlish() -> impl Strategy<Value = String> {
    fn part(usual: &[&'static str], odd: &[&'static str]) -> impl Strategy<Value = &'static str> {
        prop_oneof![
            2 => prop::sample::select(usual.to_vec()),
            1 => prop::sample::select(odd.to_vec()),
        ]
    }
    let scheme = part(
        &["http://", "https://"],
        &[
            "HTTP://",
            "hTtPs://",
            "http:",
            "http:/",
            "http:///",
            "http:\\\\",
            "https:/\\",
            "ftp://",
            "javascript:",
            "file://",
            "",
            " http://",
            "\thttps://",
        ],
    );
    let user = part(
        &[""],
        &[
            "u@",
            "u:p@",
            ":p@",
            "@",
            "%40@",
            "a%3Ab@",
            "good.test@",
            "127.0.0.1%2f@",
        ],
    );
    let host = part(
        &[
            "public.test",
            "www.public.test",
            "private.test",
            "metadata.test",
            "mixed.test",
            "nowhere.test",
            "localhost",
            "93.184.216.34",
            "8.8.8.8",
            "10.0.0.1",
            "[2606:4700::1111]",
            "[::1]",
            "[::ffff:8.8.8.8]",
            "xn--nxasmq6b.test",
        ],
        &[
            "broken.test",
            "PRIVATE.test",
            "private.test.",
            "LOCALHOST",
            "localhost.",
            "a.localhost",
            "%6c%6fcalhost",
            "ⓛocalhost",
            "127.0.0.1",
            "127.1",
            "127.0.0.1.",
            "2130706433",
            "0x7f000001",
            "017700000001",
            "0x7f.0.0.1",
            "１２７.0.0.1",
            "127。0。0。1",
            "0",
            "0.0.0.0",
            "169.254.169.254",
            "[::]",
            "[::ffff:127.0.0.1]",
            "[64:ff9b::a9fe:a9fe]",
            "[2002:7f00:1::]",
            "[fe80::1%25eth0]",
            "[::1",
            "::1",
            "",
            "exa mple.test",
            "%00.test",
            "ex%41mple.test",
        ],
    );
    let port = part(
        &["", ":8080", ":443"],
        &[":80", ":0", ":65535", ":65536", ":", ":-1", ":8o"],
    );
    let rest = part(
        &["", "/", "/a/b", "?q=@", "?a=1&b=@c"],
        &[
            "/@x",
            "\\b",
            "/a\\b",
            "?x#",
            "#",
            "#@127.0.0.1",
            "/%2e%2e/",
            "/?@",
            " /",
            "/\u{0}",
        ],
    );
    (scheme, user, host, port, rest)
        .prop_map(|(scheme, user, host, port, rest)| format!("{scheme}{user}{host}{port}{rest}"))
}

/// Ways to write an IPv4 address that the URL standard reads as that address.
fn spelled(ip: Ipv4Addr, spelling: u8) -> String {
    let [a, b, c, d] = ip.octets();
    let n = u32::from(ip);
    match spelling % 7 {
        0 => ip.to_string(),
        1 => n.to_string(),
        2 => format!("0x{n:x}"),
        3 => format!("0{n:o}"),
        4 => format!("0x{a:x}.0x{b:X}.0{c:o}.{d}"),
        5 => format!("{a}.{b}.{}", u32::from(c) * 256 + u32::from(d)),
        _ => format!("{a}.{}.", n & 0x00ff_ffff),
    }
}

fn expect_judged(result: Result<Target, Refusal>, ip: IpAddr, port: u16, allow_private: bool) {
    if allow_private || is_public(ip) {
        match result {
            Ok(target) => assert_eq!(target.addresses, vec![SocketAddr::new(ip, port)]),
            Err(refusal) => panic!("{ip} refused: {refusal}"),
        }
    } else {
        match result {
            Err(Refusal::NotPublic { address, .. }) => assert_eq!(address, ip),
            other => panic!("{ip} was not refused as not public: {other:?}"),
        }
    }
}

proptest! {
    #[test]
    fn any_text_gets_an_answer(raw in prop_oneof![any::<String>(), urlish()], allow_private in any::<bool>()) {
        if let Err(refusal) = vetted(&raw, allow_private) {
            assert_describable(&refusal);
        }
    }

    #[test]
    fn accepted_targets_are_plain_http_urls_to_checked_addresses(
        raw in urlish(),
        allow_private in any::<bool>(),
    ) {
        let Ok(target) = vetted(&raw, allow_private) else { return Ok(()) };
        prop_assert!(!raw.contains('\\'), "backslash in {}", raw);
        prop_assert!(!raw.contains('#'), "fragment in {}", raw);
        // An `@` may only be data in the query, never part of the authority or the path.
        if let Some(at) = raw.find('@') {
            prop_assert!(raw.find('?').is_some_and(|query| query < at), "@ in {}", raw);
        }
        let url = Url::parse(&raw).unwrap();
        prop_assert!(matches!(url.scheme(), "http" | "https"));
        prop_assert!(url.username().is_empty() && url.password().is_none());
        let host = url.host_str().unwrap_or_default();
        prop_assert_eq!(target.host.as_str(), host.trim_start_matches('[').trim_end_matches(']'));
        prop_assert!(!target.addresses.is_empty());
        for address in &target.addresses {
            prop_assert_eq!(Some(address.port()), url.port_or_known_default());
            prop_assert!(allow_private || is_public(address.ip()), "{} for {}", address, raw);
        }
    }

    #[test]
    fn numeric_hosts_are_judged_by_the_address_they_spell(
        ip in any::<Ipv4Addr>(),
        spelling in any::<u8>(),
        allow_private in any::<bool>(),
    ) {
        let raw = format!("http://{}/hook", spelled(ip, spelling));
        expect_judged(vetted(&raw, allow_private), ip.into(), 80, allow_private);
    }

    #[test]
    fn ipv6_literals_are_judged_by_their_address(
        ip in prop_oneof![
            any::<Ipv6Addr>(),
            any::<Ipv4Addr>().prop_map(|v4| v4.to_ipv6_mapped()),
            any::<[u16; 2]>().prop_map(|[h, l]| Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, h, l)),
            any::<[u16; 2]>().prop_map(|[h, l]| Ipv6Addr::new(0x2002, h, l, 0, 0, 0, 0, 1)),
            any::<[u16; 3]>().prop_map(|[a, b, c]| Ipv6Addr::new(a & 0x3fff, b, c, 0, 0, 0, 0, 1)),
        ],
        port in prop::option::of(1u16..),
        allow_private in any::<bool>(),
    ) {
        let written = port.map(|p| format!(":{p}")).unwrap_or_default();
        let raw = format!("https://[{ip}]{written}/hook?x=1");
        expect_judged(vetted(&raw, allow_private), ip.into(), port.unwrap_or(443), allow_private);
    }

    #[test]
    fn embedded_ipv4_addresses_are_judged_as_themselves(v4 in any::<Ipv4Addr>()) {
        let [h, l] = [u32::from(v4) >> 16, u32::from(v4) & 0xffff].map(|half| half as u16);
        for v6 in [
            v4.to_ipv6_mapped(),
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, h, l),
            Ipv6Addr::new(0x2002, h, l, 0, 0, 0, 0, 0),
        ] {
            prop_assert_eq!(is_public(v6.into()), is_public(v4.into()), "{}", v6);
        }
    }

    #[test]
    fn credentials_are_never_accepted(
        user in "[a-zA-Z0-9%:._~-]{1,12}",
        host in prop::sample::select(vec!["public.test", "93.184.216.34", "[2606:4700::1111]"]),
        scheme in prop::sample::select(vec!["http", "https"]),
    ) {
        let raw = format!("{scheme}://{user}@{host}/");
        match vetted(&raw, true) {
            Err(Refusal::Credentials | Refusal::Invalid(_)) => {}
            other => prop_assert!(false, "{} gave {:?}", raw, other),
        }
    }

    #[test]
    fn names_are_judged_by_every_address_they_resolve_to(
        label in prop::sample::select(vec![
            "public", "private", "metadata", "mixed", "nowhere", "broken", "localhost",
        ]),
        rest in prop::sample::select(vec!["", ".", ".test", ".Example.COM", ".test."]),
        allow_private in any::<bool>(),
    ) {
        let raw = format!("https://{label}{rest}/hook");
        let host = format!("{label}{rest}").to_ascii_lowercase();
        let result = vetted(&raw, allow_private);
        let name = host.trim_end_matches('.');
        let resolved = if name == "localhost" || name.ends_with(".localhost") {
            Ok(vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()])
        } else {
            addresses_for(&host)
        };
        match (resolved, result) {
            (Ok(ips), Ok(target)) if !ips.is_empty() => {
                prop_assert!(allow_private || ips.iter().all(|ip| is_public(*ip)));
                let expected: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, 443)).collect();
                prop_assert_eq!(target.addresses, expected);
            }
            (Ok(ips), Err(Refusal::NotPublic { address, .. })) => {
                prop_assert!(!allow_private && !is_public(address) && ips.contains(&address));
            }
            (Ok(ips), Err(Refusal::Unresolvable { .. })) => prop_assert!(ips.is_empty()),
            (Err(_), Err(Refusal::Unresolvable { .. })) => {}
            (resolved, result) => prop_assert!(false, "{} resolved to {:?} gave {:?}", raw, resolved, result),
        }
    }
}
