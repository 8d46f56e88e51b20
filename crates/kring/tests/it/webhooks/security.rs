//! The webhook rows of the security plan, each on SQLite and PostgreSQL: targets refused at
//! registration (T50) and at delivery after DNS rebinding (T51) through a resolver table that
//! stands in for DNS (no lookup or packet leaves the machine), fan-out scoping (T52), receiver
//! responses read with a cap and a deadline (T53), the test event and secret exposure (T54),
//! outbox atomicity (T73), and signatures checked by the `standardwebhooks` package (T47, T48).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use kring_core::schema::ColumnType;
use kring_server::Config;
use kring_server::db::Raw;
use kring_server::webhooks::target::{Lookup, Resolve};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{deliveries_until, receiver, subscribe, verify_all};
use crate::resources::create;
use crate::support::{Backend, TestApp, wait_for};

/// Runs each listed `async fn(Backend)` on SQLite and on PostgreSQL (which skips itself when
/// `KRING_TEST_POSTGRES_URL` is not set).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::support::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::support::Backend::Postgres).await;
            }
        }
    )*};
}

on_both_backends!(
    t50_registration_refuses_targets_that_are_not_public,
    t51_a_name_rebound_to_a_private_address_is_refused_at_delivery,
    t51_the_connection_goes_to_the_checked_address,
    t52_subscriptions_receive_only_what_their_owner_may_read,
    t53_a_huge_response_is_read_only_up_to_the_cap,
    t53_a_response_that_never_ends_fails_at_the_timeout,
    t54_test_events_and_the_secret_never_shown_again,
    t73_a_write_that_fails_leaves_no_event_and_no_delivery,
    t47_two_hundred_random_payloads_verify_and_tampering_does_not,
    t48_every_retry_is_signed_afresh_under_one_message_id,
);

/// A resolver table in place of DNS: names it does not hold do not resolve. Records every
/// lookup.
#[derive(Debug, Default)]
struct Table {
    entries: Mutex<HashMap<String, Vec<IpAddr>>>,
    lookups: Mutex<Vec<String>>,
}

impl Table {
    fn with(entries: &[(&str, &[&str])]) -> Arc<Table> {
        let table = Arc::new(Table::default());
        for (host, addresses) in entries {
            table.set(host, addresses);
        }
        table
    }

    fn set(&self, host: &str, addresses: &[&str]) {
        let parsed = addresses.iter().map(|a| a.parse().unwrap()).collect();
        self.entries
            .lock()
            .unwrap()
            .insert(host.to_string(), parsed);
    }

    fn lookups_of(&self, host: &str) -> usize {
        self.lookups
            .lock()
            .unwrap()
            .iter()
            .filter(|h| *h == host)
            .count()
    }
}

impl Resolve for Table {
    fn resolve<'a>(&'a self, host: &'a str) -> Lookup<'a> {
        self.lookups.lock().unwrap().push(host.to_string());
        let found = self.entries.lock().unwrap().get(host).cloned();
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not in the test's table"))
        })
    }
}

/// A server whose webhook host names resolve through `table`; retries come quickly.
async fn app_with(
    backend: Backend,
    allow_private: bool,
    table: &Arc<Table>,
    tweak: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    let resolver: Arc<dyn Resolve> = table.clone();
    let app = TestApp::spawn_configured(backend, move |c| {
        c.rate_limit = 1_000_000;
        c.concurrency_limit = 10_000;
        c.webhook_allow_private = allow_private;
        c.webhook_backoff_scale = 0.0005;
        c.webhook_resolver = resolver;
        tweak(c);
    })
    .await;
    if app.is_none() {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: PostgreSQL half skipped");
    }
    app
}

fn port_of(url: &str) -> u16 {
    reqwest::Url::parse(url).unwrap().port().unwrap()
}

/// Sends with `Accept-Language: nl`.
async fn send_nl(app: &TestApp, method: &str, token: &str, path: &str, body: Value) -> Value {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let response = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("accept-language", "nl")
        .json(&body)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

async fn t50_registration_refuses_targets_that_are_not_public(backend: Backend) {
    let table = Table::with(&[
        ("internal.test", &["10.0.0.1"]),
        ("metadata.test", &["169.254.169.254"]),
        ("v6.test", &["fd00::1"]),
        ("mixed.test", &["1.2.3.4", "127.0.0.1"]),
        ("good.test", &["1.2.3.4"]),
    ]);
    let Some(app) = app_with(backend, false, &table, |_| {}).await else {
        return;
    };
    let token = app.owner().await;
    let private = "must lead to a public internet address";
    let invalid = "must be a valid URL";
    let credentials = "must not contain a user name or password";
    let rows: &[(&str, &str)] = &[
        ("http://127.0.0.1/hook", private),
        ("http://127.1/hook", private),
        ("http://2130706433/hook", private),
        ("http://0x7f000001/hook", private),
        ("http://017700000001/hook", private),
        ("http://0.0.0.0/hook", private),
        ("http://[::1]/hook", private),
        ("http://[::]/hook", private),
        ("http://[::ffff:127.0.0.1]/hook", private),
        ("http://[::ffff:7f00:1]/hook", private),
        ("http://10.0.0.1/hook", private),
        ("http://172.16.0.1/hook", private),
        ("http://192.168.1.1/hook", private),
        ("http://100.64.0.1/hook", private),
        ("http://169.254.169.254/latest/meta-data/", private),
        ("https://169.254.169.254/latest/meta-data/", private),
        ("http://[fd00:ec2::254]/hook", private),
        ("http://[fe80::1]/hook", private),
        ("http://[fc00::1]/hook", private),
        ("http://[64:ff9b::a9fe:a9fe]/hook", private),
        ("http://224.0.0.1/hook", private),
        ("http://255.255.255.255/hook", private),
        ("http://203.0.113.7/hook", private),
        ("http://localhost/hook", private),
        ("http://localhost./hook", private),
        ("https://LOCALHOST:8443/hook", private),
        ("http://api.localhost/hook", private),
        ("http://internal.test/hook", private),
        ("http://metadata.test/latest/meta-data/", private),
        ("http://v6.test/hook", private),
        ("http://mixed.test/hook", private),
        ("http://[fe80::1%25eth0]/hook", invalid),
        ("file:///etc/passwd", invalid),
        ("gopher://good.test/", invalid),
        ("ftp://good.test/", invalid),
        ("http://user:pw@good.test/hook", credentials),
        ("https://token@good.test/hook", credentials),
        ("http://127.0.0.1%2f@good.test/hook", credentials),
        ("http://good.test#@127.0.0.1:18999/", invalid),
        ("http://good.test\\@127.0.0.1:18999/", invalid),
        ("http://good.test/hook#part", invalid),
        ("http://good.test/@127.0.0.1/hook", invalid),
    ];
    for (url, expected) in rows {
        let (status, refused) = app
            .post(
                &token,
                "/api/webhook",
                json!({"url": url, "event": "customer.created"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {refused}");
        let message = refused["errors"]["url"][0].as_str().unwrap();
        assert!(message.contains(expected), "{url}: {message}");
    }
    let (_, list) = app.get(&token, "/api/webhook").await;
    assert_eq!(list["total"], 0, "nothing was stored: {list}");

    // The whole sentence, for a numeric host read as the HTTP client reads it and for a name.
    let (_, refused) = app
        .post(
            &token,
            "/api/webhook",
            json!({"url": "http://0x7f000001/hook", "event": "customer.created"}),
        )
        .await;
    assert_eq!(
        refused["errors"]["url"][0],
        "The url field must lead to a public internet address; 127.0.0.1 is a loopback, \
         private or reserved address."
    );
    let (_, refused) = app
        .post(
            &token,
            "/api/webhook",
            json!({"url": "http://mixed.test/hook", "event": "bogus"}),
        )
        .await;
    assert_eq!(
        refused["errors"]["url"][0],
        "The url field must lead to a public internet address; mixed.test resolves to \
         127.0.0.1, a loopback, private or reserved address."
    );
    assert!(
        refused["errors"]["event"].is_array(),
        "the other errors too"
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .ends_with("(and 1 more error)"),
        "{refused}"
    );

    // Accepted: a public name on any port; an @ in the query; a name that does not resolve
    // yet (every attempt resolves it again). A fragment is refused above even though the client
    // would connect to good.test: some parsers read `#@127.0.0.1` as the host.
    for url in [
        "http://good.test:8443/hook",
        "http://good.test/hook?notify=ops@good.test",
        "https://nowhere.test/hook",
    ] {
        let (status, created) = app
            .post(
                &token,
                "/api/webhook",
                json!({"url": url, "event": "customer.created"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {created}");
    }
    assert!(table.lookups_of("nowhere.test") >= 1, "it was looked up");

    // An update is checked the same way, in both languages.
    let (webhook, _) = subscribe(&app, &token, "https://good.test/hook").await;
    let path = format!("/api/webhook/{webhook}");
    let (status, refused) = app
        .patch(&token, &path, json!({"url": "http://[::1]:8080/hook"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let dutch = send_nl(
        &app,
        "PATCH",
        &token,
        &path,
        json!({"url": "http://internal.test/hook"}),
    )
    .await;
    assert_eq!(
        dutch["errors"]["url"][0],
        "Het veld URL moet naar een openbaar internetadres leiden; internal.test verwijst naar \
         10.0.0.1, een loopback-, privé- of gereserveerd adres."
    );
    let (_, shown) = app.get(&token, &path).await;
    assert_eq!(shown["url"], "https://good.test/hook", "unchanged");
    let (status, _) = app
        .patch(&token, &path, json!({"event": "customer.updated"}))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a body without a url is not resolved"
    );
    let (status, _) = app
        .patch(&token, &path, json!({"url": "https://good.test:8443/v2"}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// Waits until the delivery `id` of `webhook` has at least `attempts` attempts; returns it.
async fn delivery_after(
    app: &TestApp,
    token: &str,
    webhook: i64,
    id: i64,
    attempts: usize,
) -> Value {
    let list =
        deliveries_until(app, token, webhook, |l| {
            l["data"].as_array().unwrap().iter().any(|d| {
                d["id"] == id && d["history"].as_array().is_some_and(|h| h.len() >= attempts)
            })
        })
        .await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .cloned()
        .unwrap()
}

async fn t51_a_name_rebound_to_a_private_address_is_refused_at_delivery(backend: Backend) {
    let (url, seen) = receiver(vec![200]).await;
    let port = port_of(&url);
    // Registration sees a public address; nothing is ever sent to it.
    let table = Table::with(&[
        ("rebind.test", &["1.2.3.4"]),
        ("rebind10.test", &["1.2.3.4"]),
    ]);
    let Some(app) = app_with(backend, false, &table, |_| {}).await else {
        return;
    };
    let token = app.owner().await;
    let mut webhooks = Vec::new();
    for (host, refusal) in [
        (
            "rebind.test",
            "refused: rebind.test resolves to the non-public address 127.0.0.1",
        ),
        (
            "rebind10.test",
            "refused: rebind10.test resolves to the non-public address 10.0.0.1",
        ),
        ("nowhere.test", "cannot resolve nowhere.test"),
    ] {
        let (id, _) = subscribe(&app, &token, &format!("http://{host}:{port}/hook")).await;
        webhooks.push((id, refusal));
    }
    let registered = table.lookups_of("rebind.test");
    table.set("rebind.test", &["127.0.0.1"]);
    table.set("rebind10.test", &["10.0.0.1"]);
    create(&app, &token, "customer", json!({"name": "Rebound"})).await;
    for (webhook, refusal) in &webhooks {
        // Every retry resolves and checks again.
        let list = deliveries_until(&app, &token, *webhook, |l| {
            l["data"][0]["history"]
                .as_array()
                .is_some_and(|h| h.len() >= 2)
        })
        .await;
        let delivery = &list["data"][0];
        assert_eq!(delivery["response_status"], Value::Null, "{delivery}");
        for attempt in delivery["history"].as_array().unwrap() {
            let error = attempt["error"].as_str().unwrap();
            assert!(error.contains(refusal), "{error}");
            assert_eq!(attempt["response_status"], Value::Null);
        }
    }
    assert!(
        table.lookups_of("rebind.test") >= registered + 2,
        "each attempt looked the name up again"
    );

    // The test event goes through the same guard.
    let (loopback, _) = webhooks[0];
    let (status, queued) = app
        .post(&token, &format!("/api/webhook/{loopback}/test"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let id = queued["id"].as_i64().unwrap();
    let tested = delivery_after(&app, &token, loopback, id, 1).await;
    let error = tested["history"][0]["error"].as_str().unwrap();
    assert!(error.contains("refused: rebind.test"), "{error}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "no request reached the loopback receiver"
    );
}

async fn t51_the_connection_goes_to_the_checked_address(backend: Backend) {
    let (url, seen) = receiver(vec![200]).await;
    let port = port_of(&url);
    // The system's resolver knows no `.test` name (RFC 6761): the delivery can only arrive if
    // the connection goes to the address the check resolved.
    let table = Table::with(&[("pinned.test", &["127.0.0.1"])]);
    let Some(app) = app_with(backend, true, &table, |_| {}).await else {
        return;
    };
    let token = app.owner().await;
    let (webhook, _) = subscribe(&app, &token, &format!("http://pinned.test:{port}/hook")).await;
    create(&app, &token, "customer", json!({"name": "Pinned"})).await;
    deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0["host"], format!("pinned.test:{port}").as_str());
}

async fn t52_subscriptions_receive_only_what_their_owner_may_read(backend: Backend) {
    let table = Arc::new(Table::default());
    let Some(app) = app_with(backend, true, &table, |_| {}).await else {
        return;
    };
    let (url_a, seen_a) = receiver(vec![200]).await;
    let (url_b, seen_b) = receiver(vec![200]).await;
    let owner_a = app.user("Alpha", "company_owner").await;
    let owner_b = app.user("Beta", "company_owner").await;
    let (hook_a, _) = subscribe(&app, &owner_a, &url_a).await;
    let (hook_b, _) = subscribe(&app, &owner_b, &url_b).await;
    create(
        &app,
        &owner_b,
        "customer",
        json!({"name": "Beta's secret client"}),
    )
    .await;
    deliveries_until(&app, &owner_b, hook_b, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    let (_, list_a) = app
        .get(&owner_a, &format!("/api/webhook/{hook_a}/deliveries"))
        .await;
    assert_eq!(list_a["total"], 0, "another company's change: {list_a}");
    assert!(seen_a.lock().unwrap().is_empty());
    assert_eq!(seen_b.lock().unwrap().len(), 1);

    // A subscriber whose role cannot read customers gets no customer events.
    let (status, role) = app
        .post(
            &owner_a,
            "/api/role",
            json!({"name": "Notes only", "permissions": ["webhook.view", "webhook.create", "note.view"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    let role = role["id"].as_i64().unwrap();
    let (status, user) = app
        .post(
            &owner_a,
            "/api/user",
            json!({"name": "Nora", "email": "nora@alpha.test", "password": "long enough", "role_id": role}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let nora = kring_server::admin::create_token(&app.db, "nora@alpha.test", "t")
        .await
        .unwrap();
    let (url_n, seen_n) = receiver(vec![200]).await;
    let (customers, _) = subscribe(&app, &nora, &url_n).await;
    let (status, notes) = app
        .post(
            &nora,
            "/api/webhook",
            json!({"url": url_n, "event": "note.created"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{notes}");
    let notes = notes["id"].as_i64().unwrap();
    let customer = create(&app, &owner_a, "customer", json!({"name": "Hidden"})).await;
    create(
        &app,
        &owner_a,
        "note",
        json!({"content": "Visible", "customer_id": customer}),
    )
    .await;
    deliveries_until(&app, &nora, notes, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    let (_, list) = app
        .get(&nora, &format!("/api/webhook/{customers}/deliveries"))
        .await;
    assert_eq!(list["total"], 0, "no customer event for Nora: {list}");
    let seen = seen_n.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "only the note");
    let payload: Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(payload["event"], "note.created");

    // Naming the owner as the subscriber does not lend her the owner's eyes: a subscription
    // is always its creator's, at create and at update.
    let (_, me) = app.get(&owner_a, "/api/user/me").await;
    let (status, borrowed) = app
        .post(
            &nora,
            "/api/webhook",
            json!({"url": url_n, "event": "customer.updated", "user_id": me["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{borrowed}");
    assert_eq!(borrowed["user_id"], user["id"], "{borrowed}");
    let path = format!("/api/webhook/{}", borrowed["id"]);
    let (status, patched) = app
        .patch(&owner_a, &path, json!({"user_id": me["id"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["user_id"], user["id"], "{patched}");

    // Once her role may read customers, customer events reach her.
    let (status, _) = app
        .patch(
            &owner_a,
            &format!("/api/role/{role}"),
            json!({"permissions": ["webhook.view", "webhook.create", "note.view", "customer.view"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    create(&app, &owner_a, "customer", json!({"name": "Now visible"})).await;
    deliveries_until(&app, &nora, customers, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
}

/// A raw HTTP/1.1 receiver on loopback: reads one request at a time and hands the socket to
/// `respond`; counts the requests.
async fn raw_receiver<F, Fut>(respond: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let respond = respond.clone();
            let counted = counted.clone();
            tokio::spawn(async move {
                if read_request(&mut stream).await {
                    counted.fetch_add(1, Ordering::SeqCst);
                    respond(stream).await;
                }
            });
        }
    });
    (url, requests)
}

/// Reads a request's head and its `Content-Length` body; false when the peer went away.
async fn read_request(stream: &mut tokio::net::TcpStream) -> bool {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while seen.len() < head_end + length {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
    true
}

/// The start of the huge body: HTML with a script, quotes, a NUL and a backslash.
const HOSTILE: &str = "<html><script>alert(\"x\")</script>\0\\</html>";

async fn t53_a_huge_response_is_read_only_up_to_the_cap(backend: Backend) {
    const TOTAL: usize = 50 * 1024 * 1024;
    let written = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let (count, done) = (written.clone(), finished.clone());
    let (url, requests) = raw_receiver(move |mut stream| {
        let (count, done) = (count.clone(), done.clone());
        async move {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {TOTAL}\r\n\r\n"
            );
            let mut body = HOSTILE.as_bytes().to_vec();
            body.resize(64 * 1024, b'A');
            let mut sent = 0;
            if stream.write_all(head.as_bytes()).await.is_ok() {
                while sent < TOTAL {
                    let piece = &body[..body.len().min(TOTAL - sent)];
                    if stream.write_all(piece).await.is_err() {
                        break;
                    }
                    sent += piece.len();
                    count.store(sent, Ordering::SeqCst);
                    body[..HOSTILE.len()].fill(b'B');
                }
            }
            done.store(true, Ordering::SeqCst);
        }
    })
    .await;
    let table = Arc::new(Table::default());
    let Some(app) = app_with(backend, true, &table, |_| {}).await else {
        return;
    };
    let token = app.owner().await;
    let (webhook, _) = subscribe(&app, &token, &url).await;
    create(&app, &token, "customer", json!({"name": "Huge answer"})).await;
    let list = deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    wait_for(
        || finished.load(Ordering::SeqCst),
        Duration::from_secs(30),
        "the receiver to stop writing",
    )
    .await;
    let written = written.load(Ordering::SeqCst);
    assert!(
        written < TOTAL / 2,
        "the body was not read to its end ({written} of {TOTAL} bytes written)"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    let attempt = &list["data"][0]["history"][0];
    assert_eq!(attempt["response_status"], 200);
    let kept = attempt["response_body"].as_str().unwrap();
    assert!(kept.len() <= 1024, "kept {} bytes", kept.len());
    assert!(
        kept.starts_with("<html><script>alert(\"x\")</script>\u{fffd}\\</html>AAA"),
        "{kept:?}"
    );
    // In the API it is a JSON string, escaped, never the receiver's raw bytes.
    let response = app
        .client
        .get(format!("{}/api/webhook/{webhook}/deliveries", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let raw = response.text().await.unwrap();
    assert!(raw.contains(r#""response_body":"<html><script>alert(\"x\")</script>"#));
    assert!(!raw.contains('\0'));
}

async fn t53_a_response_that_never_ends_fails_at_the_timeout(backend: Backend) {
    let closed = Arc::new(AtomicBool::new(false));
    let flag = closed.clone();
    let (url, _) = raw_receiver(move |mut stream| {
        let flag = flag.clone();
        async move {
            let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_ok() {
                // A small chunk now and then, forever: never the end, never the cap.
                while stream.write_all(b"6\r\nstill \r\n").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            flag.store(true, Ordering::SeqCst);
        }
    })
    .await;
    let table = Arc::new(Table::default());
    let Some(app) = app_with(backend, true, &table, |c| {
        c.webhook_timeout_seconds = 1;
        c.webhook_lease_seconds = 5;
    })
    .await
    else {
        return;
    };
    let token = app.owner().await;
    let (webhook, _) = subscribe(&app, &token, &url).await;
    create(&app, &token, "customer", json!({"name": "Endless answer"})).await;
    let list = deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["history"]
            .as_array()
            .is_some_and(|h| !h.is_empty())
    })
    .await;
    let delivery = &list["data"][0];
    assert_ne!(delivery["status"], "succeeded", "{delivery}");
    let attempt = &delivery["history"][0];
    assert_eq!(attempt["response_status"], 200, "{attempt}");
    let error = attempt["error"].as_str().unwrap();
    assert!(
        error.contains("response body") && error.contains("timed out"),
        "{error}"
    );
    assert!(
        attempt["response_body"]
            .as_str()
            .unwrap()
            .starts_with("still")
    );
    wait_for(
        || closed.load(Ordering::SeqCst),
        Duration::from_secs(30),
        "the connection to be closed",
    )
    .await;
}

async fn t54_test_events_and_the_secret_never_shown_again(backend: Backend) {
    let table = Arc::new(Table::default());
    let Some(app) = app_with(backend, true, &table, |_| {}).await else {
        return;
    };
    let (url, seen) = receiver(vec![200]).await;
    let owner = app.owner().await;
    let (webhook, first_secret) = subscribe(&app, &owner, &url).await;
    let (status, rotated) = app
        .post(
            &owner,
            &format!("/api/webhook/{webhook}/rotate-secret"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let secret = rotated["secret"].as_str().unwrap().to_string();

    let (status, queued) = app
        .post(&owner, &format!("/api/webhook/{webhook}/test"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["event"], "webhook.test");
    assert_eq!(queued["status"], "pending");
    let id = queued["id"].as_i64().unwrap();
    // The list reads deliveries and their attempts in two queries: wait on the state itself.
    let list = deliveries_until(&app, &owner, webhook, |l| {
        l["data"][0]["id"] == id && l["data"][0]["status"] == "succeeded"
    })
    .await;
    let delivered = &list["data"][0];
    let (headers, body) = seen.lock().unwrap()[0].clone();
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["event"], "webhook.test");
    assert_eq!(payload["data"], json!({"webhook_id": webhook}));
    assert!(payload["id"].is_string() && payload["created_at"].is_string());
    assert_eq!(
        headers["webhook-id"].to_str().unwrap(),
        delivered["message_id"].as_str().unwrap()
    );
    if let Some(verified) = verify_all(&[(secret.as_str(), &headers, body.as_str())]) {
        assert_eq!(verified, [true], "signed like every delivery");
    }
    let (_, changes) = app.get(&owner, "/api/changes").await;
    assert!(
        !changes.to_string().contains("webhook.test"),
        "a test is not a change: {changes}"
    );

    // Who may send one: `webhook.update`, in the webhook's own company.
    let viewer = app.user("Acme", "company_viewer").await;
    let stranger = app.user("Other Co", "company_owner").await;
    let path = format!("/api/webhook/{webhook}/test");
    assert_eq!(
        app.post(&viewer, &path, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(&stranger, &path, json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(&owner, "/api/webhook/999999/test", json!({}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send("GET", Some(&owner), &path, None).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );

    // Neither secret is anywhere after the answers that showed them once.
    let (status, _) = app
        .patch(
            &owner,
            &format!("/api/webhook/{webhook}"),
            json!({"event": "customer.updated"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    create(&app, &owner, "customer", json!({"name": "Updated"})).await;
    let mut everything = String::new();
    for path in [
        "/api/webhook".to_string(),
        format!("/api/webhook/{webhook}"),
        format!("/api/webhook/{webhook}?with=user"),
        format!("/api/webhook/{webhook}/deliveries"),
        "/api/changes".to_string(),
        "/api/user/me?with=role".to_string(),
    ] {
        let (status, body) = app.get(&owner, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        everything.push_str(&body.to_string());
    }
    for (table, column) in [
        ("activity_log", "properties"),
        ("events", "data"),
        ("events", "previous"),
        ("webhook_attempts", "error"),
    ] {
        let sql = format!("SELECT {column} FROM {table}");
        let rows = app
            .db
            .fetch(&Raw::owned(sql, vec![]), &[ColumnType::Text])
            .await
            .unwrap();
        assert!(
            !rows.is_empty() || table != "activity_log",
            "{table} has rows"
        );
        for row in rows {
            everything.push_str(&format!("{:?}", row));
        }
    }
    assert!(everything.contains("webhook.test") || everything.contains(&url));
    for secret in [first_secret.as_str(), secret.as_str()] {
        let key = secret.trim_start_matches("whsec_");
        assert!(!everything.contains(key), "a secret leaked");
    }
    assert!(!body.contains(secret.trim_start_matches("whsec_")));
}

/// Makes the database refuse the outbox rows of `customer.deleted` events: a failure at the
/// very last statement of a delete, after the record's own rows, its dependants' tombstones
/// and their deliveries were written in the same transaction.
async fn install_failpoint(app: &TestApp, backend: Backend) {
    let statements: &[&'static str] = match backend {
        Backend::Sqlite => &[
            "CREATE TRIGGER kring_failpoint BEFORE INSERT ON webhook_deliveries \
             WHEN (SELECT event FROM events WHERE id = NEW.event_id) = 'customer.deleted' \
             BEGIN SELECT RAISE(ABORT, 'failpoint'); END",
        ],
        Backend::Postgres => &[
            "CREATE FUNCTION kring_failpoint() RETURNS trigger AS $$ BEGIN \
             IF (SELECT event FROM events WHERE id = NEW.event_id) = 'customer.deleted' THEN \
             RAISE EXCEPTION 'failpoint'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER kring_failpoint BEFORE INSERT ON webhook_deliveries \
             FOR EACH ROW EXECUTE FUNCTION kring_failpoint()",
        ],
    };
    let mut tx = app.db.begin().await.unwrap();
    for statement in statements {
        tx.execute(&Raw::new(statement, vec![])).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn remove_failpoint(app: &TestApp) {
    let mut tx = app.db.begin().await.unwrap();
    let drop = match app.db.backend() {
        kring_server::db::Backend::Sqlite => "DROP TRIGGER kring_failpoint",
        kring_server::db::Backend::Postgres => "DROP TRIGGER kring_failpoint ON webhook_deliveries",
    };
    tx.execute(&Raw::new(drop, vec![])).await.unwrap();
    tx.commit().await.unwrap();
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    let rows = app.query(sql, &[ColumnType::Int]).await;
    rows[0][0].as_int().unwrap()
}

async fn t73_a_write_that_fails_leaves_no_event_and_no_delivery(backend: Backend) {
    let table = Arc::new(Table::default());
    let Some(app) = app_with(backend, true, &table, |_| {}).await else {
        return;
    };
    let token = app.owner().await;
    let (url, _) = receiver(vec![200]).await;
    for event in ["customer.deleted", "note.deleted", "contact.updated"] {
        let (status, body) = app
            .post(&token, "/api/webhook", json!({"url": url, "event": event}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let customer = create(&app, &token, "customer", json!({"name": "Doomed"})).await;
    let note = create(
        &app,
        &token,
        "note",
        json!({"content": "Cascades", "customer_id": customer}),
    )
    .await;
    let contact = create(
        &app,
        &token,
        "contact",
        json!({"first_name": "Detached", "customer_id": customer}),
    )
    .await;
    let events = count(&app, "SELECT COUNT(*) FROM events").await;
    let deliveries = count(&app, "SELECT COUNT(*) FROM webhook_deliveries").await;

    install_failpoint(&app, backend).await;
    let (status, error) = app
        .delete(&token, &format!("/api/customer/{customer}"))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{error}");
    assert_eq!(error, json!({"message": "Server Error"}));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM events").await, events);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM webhook_deliveries").await,
        deliveries
    );
    for path in [
        format!("/api/customer/{customer}"),
        format!("/api/note/{note}"),
    ] {
        assert_eq!(app.get(&token, &path).await.0, StatusCode::OK, "{path}");
    }
    let (_, shown) = app.get(&token, &format!("/api/contact/{contact}")).await;
    assert_eq!(shown["customer_id"], customer, "still attached");

    // Without the failpoint the same delete writes its events and their deliveries: the note's
    // and the customer's tombstones and the contact's detachment.
    remove_failpoint(&app).await;
    let (status, _) = app
        .delete(&token, &format!("/api/customer/{customer}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM events").await, events + 3);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM webhook_deliveries").await,
        deliveries + 3
    );
}

/// `n` random bytes.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

/// Random text of up to `max` pieces: ASCII, JSON's special characters, controls, accents,
/// CJK, right-to-left, emoji with joiners, astral letters.
fn random_text(max: usize) -> String {
    const PIECES: &[&str] = &[
        "a",
        "Z",
        "7",
        " ",
        "\"",
        "\\",
        "/",
        "<",
        ">",
        "&",
        "'",
        "\n",
        "\t",
        "\r",
        "\u{1}",
        "\u{1f}",
        "\u{7f}",
        "é",
        "ß",
        "ñ",
        "€",
        "中",
        "文",
        "日本語",
        "ש",
        "ل",
        "\u{202e}",
        "😀",
        "👩‍👩‍👧",
        "\u{fe0f}",
        "𝔘",
        "\u{2028}",
        "\u{feff}",
        "\u{fffd}",
    ];
    let bytes = random_bytes(max + 2);
    let length = usize::from(u16::from_le_bytes([bytes[0], bytes[1]])) % max + 1;
    bytes[2..2 + length]
        .iter()
        .map(|b| PIECES[usize::from(*b) % PIECES.len()])
        .collect()
}

async fn t47_two_hundred_random_payloads_verify_and_tampering_does_not(backend: Backend) {
    const COUNT: usize = 200;
    let table = Arc::new(Table::default());
    let Some(app) = app_with(backend, true, &table, |_| {}).await else {
        return;
    };
    let (url, seen) = receiver(vec![200]).await;
    let token = app.owner().await;
    let (webhook, secret) = subscribe(&app, &token, &url).await;
    for n in 0..COUNT {
        // Every tenth carries a large description (up to 12,000 pieces, 60,000 characters).
        let description = if n % 10 == 0 {
            random_text(12_000)
        } else {
            random_text(200)
        };
        // Never blank, which `required` would refuse, and within the name's 255 characters
        // (a piece may be several).
        let name: String = format!("n{n} {}", random_text(190))
            .chars()
            .take(255)
            .collect();
        create(
            &app,
            &token,
            "customer",
            json!({"name": name, "description": description}),
        )
        .await;
    }
    // A longer bound than one delivery needs: two hundred share the machine with other tests.
    for _ in 0..2400 {
        if seen.lock().unwrap().len() >= COUNT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    deliveries_until(&app, &token, webhook, |l| {
        l["total"] == COUNT
            && l["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["status"] == "succeeded")
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), COUNT);
    for (_, body) in &seen {
        let payload: Value = serde_json::from_str(body).unwrap();
        assert_eq!(payload["event"], "customer.created");
    }
    let items: Vec<(&str, &HeaderMap, &str)> = seen
        .iter()
        .map(|(h, b)| (secret.as_str(), h, b.as_str()))
        .collect();
    let Some(verified) = verify_all(&items) else {
        return;
    };
    assert!(verified.iter().all(|v| *v), "every delivery verifies");

    // Tampered and stale copies of the first deliveries are rejected; a fresh re-signing of
    // the same body is accepted, so the rejections are about the tampering alone.
    let now = chrono::Utc::now().timestamp();
    let (headers, body) = &seen[0];
    let id = headers["webhook-id"].to_str().unwrap();
    let timestamp: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let signed = |id: &str, at: i64, body: &str| {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_str(id).unwrap());
        h.insert("webhook-timestamp", HeaderValue::from(at));
        let signature = kring_core::webhook::sign(&secret, id, at, body.as_bytes()).unwrap();
        h.insert(
            "webhook-signature",
            HeaderValue::from_str(&signature).unwrap(),
        );
        h
    };
    let with = |name: &'static str, value: String| {
        let mut h = headers.clone();
        h.insert(name, HeaderValue::from_str(&value).unwrap());
        h
    };
    let tampered_body = body.replacen("customer.created", "customer.deleted", 1);
    let other_id = with("webhook-id", format!("{id}0"));
    let other_time = with("webhook-timestamp", (timestamp + 1).to_string());
    let other_signature = with(
        "webhook-signature",
        seen[1].0["webhook-signature"].to_str().unwrap().to_string(),
    );
    let stale = signed(id, now - 360, body);
    let future = signed(id, now + 360, body);
    let fresh = signed(id, now, body);
    let cases: Vec<(&str, &HeaderMap, &str, bool)> = vec![
        ("the body changed", headers, &tampered_body, false),
        ("the id changed", &other_id, body, false),
        ("the timestamp changed", &other_time, body, false),
        (
            "another delivery's signature",
            &other_signature,
            body,
            false,
        ),
        ("signed six minutes ago", &stale, body, false),
        ("signed six minutes ahead", &future, body, false),
        ("re-signed now", &fresh, body, true),
    ];
    let items: Vec<(&str, &HeaderMap, &str)> = cases
        .iter()
        .map(|(_, h, b, _)| (secret.as_str(), *h, *b))
        .collect();
    let verdicts = verify_all(&items).unwrap();
    for ((what, _, _, expected), verdict) in cases.iter().zip(verdicts) {
        assert_eq!(verdict, *expected, "{what}");
    }
}

async fn t48_every_retry_is_signed_afresh_under_one_message_id(backend: Backend) {
    let table = Arc::new(Table::default());
    let Some(app) = app_with(backend, true, &table, |_| {}).await else {
        return;
    };
    let token = app.owner().await;
    let (url, seen) = receiver(vec![500, 503, 500, 200]).await;
    let (webhook, secret) = subscribe(&app, &token, &url).await;
    create(&app, &token, "customer", json!({"name": "Three retries"})).await;
    let list = deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    let history = list["data"][0]["history"].as_array().unwrap().clone();
    assert_eq!(history.len(), 4);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    let message_id = list["data"][0]["message_id"].as_str().unwrap();
    for ((headers, _), attempt) in seen.iter().zip(&history) {
        assert_eq!(headers["webhook-id"].to_str().unwrap(), message_id);
        // Each attempt's timestamp is the moment that attempt started.
        let started =
            chrono::DateTime::parse_from_rfc3339(attempt["attempted_at"].as_str().unwrap())
                .unwrap()
                .timestamp();
        let timestamp: i64 = headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(timestamp, started, "{attempt}");
    }
    let items: Vec<(&str, &HeaderMap, &str)> = seen
        .iter()
        .map(|(h, b)| (secret.as_str(), h, b.as_str()))
        .collect();
    if let Some(verified) = verify_all(&items) {
        assert_eq!(verified, [true; 4], "every attempt verifies");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t48_a_retry_a_second_later_carries_a_new_timestamp_and_signature() {
    let table = Arc::new(Table::default());
    // The first retry waits 5 s × (0.8 to 1.2) × 0.3: at least 1.2 s, so another second.
    let app = app_with(Backend::Sqlite, true, &table, |c| {
        c.webhook_backoff_scale = 0.3;
    })
    .await
    .unwrap();
    let token = app.owner().await;
    let (url, seen) = receiver(vec![500, 200]).await;
    let (webhook, secret) = subscribe(&app, &token, &url).await;
    create(&app, &token, "customer", json!({"name": "Later"})).await;
    deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    let header = |n: usize, name: &str| seen[n].0[name].to_str().unwrap().to_string();
    assert_eq!(header(0, "webhook-id"), header(1, "webhook-id"));
    let (first, second): (i64, i64) = (
        header(0, "webhook-timestamp").parse().unwrap(),
        header(1, "webhook-timestamp").parse().unwrap(),
    );
    assert!(second > first, "{first} then {second}");
    assert_ne!(
        header(0, "webhook-signature"),
        header(1, "webhook-signature")
    );
    let items: Vec<(&str, &HeaderMap, &str)> = seen
        .iter()
        .map(|(h, b)| (secret.as_str(), h, b.as_str()))
        .collect();
    if let Some(verified) = verify_all(&items) {
        assert_eq!(verified, [true, true]);
    }
}
