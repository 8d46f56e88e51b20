//! Operating webhooks: HTTPS targets (a private CA trusted only through the operator's
//! setting), secret rotation (T48: two signatures while both secrets are valid), redelivery and
//! the paged deliveries list with each attempt's response code and duration.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Seen, app_on, deliveries_until, receiver, receiver_app, subscribe, verify_all};
use crate::resources::create;
use crate::support::{Backend, TestApp, unique};

/// A private certificate authority and a server certificate it issued for `localhost` and
/// 127.0.0.1, made with the openssl command line in a temporary directory.
struct TestPki {
    dir: PathBuf,
}

impl TestPki {
    fn new() -> TestPki {
        let dir = std::env::temp_dir().join(unique("kring-pki-"));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .expect("the openssl command line is installed");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        run(&[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
            &["-days", "2", "-subj", "/CN=Kring Test CA"],
        ]
        .concat());
        run(&[
            &["req"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
            &["-subj", "/CN=localhost"],
        ]
        .concat());
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "server.ext",
        ]);
        TestPki { dir }
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(self.dir.join("server.pem"))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(self.dir.join("server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TCP listener that completes a TLS handshake before handing a connection over; a failed
/// handshake (a client that does not trust the certificate) is dropped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// An HTTPS receiver on loopback answering 200: `https://localhost:<port>/hook`.
async fn tls_receiver(pki: &TestPki) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listener = TlsListener {
        tcp,
        acceptor: pki.acceptor(),
    };
    let app = receiver_app(vec![200], seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("https://localhost:{port}/hook"), seen)
}

async fn app_with_ca(ca_file: Option<&Path>) -> TestApp {
    let ca_file = ca_file.map(Path::to_path_buf);
    TestApp::spawn_configured(Backend::Sqlite, move |c| {
        c.rate_limit = 1_000_000;
        c.concurrency_limit = 10_000;
        c.webhook_allow_private = true;
        c.webhook_backoff_scale = 0.0005;
        c.webhook_ca_file = ca_file;
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t47_https_targets_are_verified_against_the_operators_ca() {
    let pki = TestPki::new();
    let (url, seen) = tls_receiver(&pki).await;

    // Without the operator's CA the certificate is not trusted: no request gets through.
    let untrusting = app_with_ca(None).await;
    let token = untrusting.owner().await;
    let (webhook, _) = subscribe(&untrusting, &token, &url).await;
    create(
        &untrusting,
        &token,
        "customer",
        json!({"name": "Untrusted"}),
    )
    .await;
    let list = deliveries_until(&untrusting, &token, webhook, |l| {
        l["data"][0]["attempts"].as_i64() >= Some(2)
    })
    .await;
    let error = list["data"][0]["error"].as_str().unwrap();
    assert!(error.contains("certificate"), "{error}");
    assert!(seen.lock().unwrap().is_empty(), "no request was sent");

    // With it, the delivery goes through, signed.
    let trusting = app_with_ca(Some(&pki.ca_file())).await;
    let token = trusting.owner().await;
    let (webhook, secret) = subscribe(&trusting, &token, &url).await;
    create(&trusting, &token, "customer", json!({"name": "Trusted"})).await;
    let list = deliveries_until(&trusting, &token, webhook, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    assert_eq!(list["data"][0]["response_status"], 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (headers, body) = &seen[0];
    assert!(body.contains("Trusted"));
    if let Some(verified) = verify_all(&[(&secret, headers, body)]) {
        assert_eq!(verified, [true]);
    }
}

#[tokio::test]
async fn t47_an_unreadable_ca_file_stops_the_start() {
    let dir = std::env::temp_dir().join(unique("kring-ca-"));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    for path in [empty, dir.join("missing.pem")] {
        let (url, _) = crate::support::fresh_database(Backend::Sqlite)
            .await
            .unwrap();
        let mut config = kring_server::Config::new(url);
        config.webhook_ca_file = Some(path.clone());
        let refused = kring_server::prepare(config).await;
        let Err(error) = refused else {
            panic!("{} was accepted", path.display());
        };
        assert!(error.to_string().contains("webhook CA file"), "{error}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `webhook-signature` header's signatures.
fn signatures(headers: &axum::http::HeaderMap) -> Vec<String> {
    headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .map(str::to_string)
        .collect()
}

/// Waits for the `n`th request the receiver sees.
async fn nth_request(seen: &Seen, n: usize) -> (axum::http::HeaderMap, String) {
    for _ in 0..400 {
        if let Some(request) = seen.lock().unwrap().get(n - 1) {
            return request.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the receiver never saw request {n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t48_a_rotated_secret_signs_beside_the_old_one_for_a_day_on_sqlite() {
    rotation(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t48_a_rotated_secret_signs_beside_the_old_one_for_a_day_on_postgres() {
    rotation(Backend::Postgres).await;
}

async fn rotation(backend: Backend) {
    let Some(app) = app_on(backend, true).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let token = app.owner().await;
    let (url, seen) = receiver(vec![200]).await;
    let (webhook, old) = subscribe(&app, &token, &url).await;

    let (status, rotated) = app
        .post(
            &token,
            &format!("/api/webhook/{webhook}/rotate-secret"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new.len() >= 6 + 32, "{new}");
    assert_ne!(new, old);
    assert_eq!(rotated["id"], webhook);
    assert!(rotated["previous_secret_expires_at"].is_string());
    let (_, shown) = app.get(&token, &format!("/api/webhook/{webhook}")).await;
    assert!(shown.get("secret").is_none(), "shown once: {shown}");

    create(&app, &token, "customer", json!({"name": "Overlap"})).await;
    let (headers, body) = nth_request(&seen, 1).await;
    assert_eq!(signatures(&headers).len(), 2, "{headers:?}");
    assert!(signatures(&headers).iter().all(|s| s.starts_with("v1,")));
    let stranger = "whsec_c3RyYW5nZXJzdHJhbmdlcnN0cmFuZ2Vyc3RyYW5nZXI=";
    if let Some(verified) = verify_all(&[
        (&old, &headers, &body),
        (&new, &headers, &body),
        (stranger, &headers, &body),
    ]) {
        assert_eq!(
            verified,
            [true, true, false],
            "old and new accept; a stranger does not"
        );
    }

    // Once the day is over only the new secret signs.
    expire_previous_secret(&app, webhook).await;
    create(&app, &token, "customer", json!({"name": "After"})).await;
    let (headers, body) = nth_request(&seen, 2).await;
    assert_eq!(signatures(&headers).len(), 1, "{headers:?}");
    if let Some(verified) = verify_all(&[(&old, &headers, &body), (&new, &headers, &body)]) {
        assert_eq!(verified, [false, true]);
    }
}

/// Moves the end of the rotation overlap into the past, as a day passing would.
async fn expire_previous_secret(app: &TestApp, webhook: i64) {
    let mut tx = app.db.begin().await.unwrap();
    tx.execute(&kring_server::db::Raw::new(
        "UPDATE webhooks SET previous_secret_until = ? WHERE id = ?",
        vec![
            (chrono::Utc::now() - chrono::Duration::minutes(1)).into(),
            webhook.into(),
        ],
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t54_rotation_and_redelivery_are_permission_checked_and_tenant_scoped() {
    let app = app_on(Backend::Sqlite, true).await.unwrap();
    let owner = app.owner().await;
    let viewer = app.user("Acme", "company_viewer").await;
    let other = app.user("Other Co", "company_owner").await;
    let (url, _) = receiver(vec![200]).await;
    let (webhook, _) = subscribe(&app, &owner, &url).await;
    create(&app, &owner, "customer", json!({"name": "Scoped"})).await;
    let list = deliveries_until(&app, &owner, webhook, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    let delivery = list["data"][0]["id"].as_i64().unwrap();
    let (other_webhook, _) = subscribe(&app, &other, &url).await;

    let rotate = format!("/api/webhook/{webhook}/rotate-secret");
    let redeliver = format!("/api/webhook/{webhook}/deliveries/{delivery}/redeliver");
    for path in [&rotate, &redeliver] {
        let (status, body) = app.post(&viewer, path, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        let (status, body) = app.post(&other, path, json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, _) = app
        .get(&other, &format!("/api/webhook/{webhook}/deliveries"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Another company's delivery through one's own webhook, and ids that name nothing.
    for path in [
        format!("/api/webhook/{other_webhook}/deliveries/{delivery}/redeliver"),
        format!("/api/webhook/{webhook}/deliveries/999999/redeliver"),
        format!("/api/webhook/{webhook}/deliveries/abc/redeliver"),
        "/api/webhook/999999/rotate-secret".to_string(),
    ] {
        let token = if path.contains(&format!("/{other_webhook}/")) {
            &other
        } else {
            &owner
        };
        let (status, body) = app.post(token, &path, json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body["message"].is_string(), "{body}");
    }
    let (status, body) = app.get(&owner, &rotate).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_queues_the_event_again_under_its_message_id_on_sqlite() {
    redelivery(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_queues_the_event_again_under_its_message_id_on_postgres() {
    redelivery(Backend::Postgres).await;
}

async fn redelivery(backend: Backend) {
    let Some(app) = app_on(backend, true).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let token = app.owner().await;
    let (url, seen) = receiver(vec![200]).await;
    let (webhook, secret) = subscribe(&app, &token, &url).await;
    create(&app, &token, "customer", json!({"name": "Again BV"})).await;
    let list = deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    let first = list["data"][0]["id"].as_i64().unwrap();

    let path = format!("/api/webhook/{webhook}/deliveries/{first}/redeliver");
    let send = |key: &'static str| {
        app.client
            .post(format!("{}{path}", app.base))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .send()
    };
    let response = send("redeliver-1").await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let queued: Value = response.json().await.unwrap();
    assert_ne!(queued["id"], first);
    assert_eq!(queued["redelivery_of"], first);
    assert_eq!(queued["message_id"], format!("msg_{first}"));
    assert_eq!(queued["event_id"], list["data"][0]["event_id"]);
    // The same key replays the answer and queues nothing more.
    let replay = send("redeliver-1").await.unwrap();
    assert_eq!(replay.status(), StatusCode::ACCEPTED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), queued);

    let list = deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["status"] == "succeeded" && l["data"][0]["id"] == queued["id"]
    })
    .await;
    assert_eq!(list["total"], 2, "one redelivery: {list}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let ids: Vec<&str> = seen
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap())
        .collect();
    assert_eq!(ids, [format!("msg_{first}"), format!("msg_{first}")]);
    assert_eq!(seen[0].1, seen[1].1, "the same event body");
    if let Some(verified) = verify_all(&[
        (&secret, &seen[0].0, &seen[0].1),
        (&secret, &seen[1].0, &seen[1].1),
    ]) {
        assert_eq!(verified, [true, true]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_still_being_attempted_is_not_redelivered() {
    // Retries hours apart: after its first failure the delivery stays pending.
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| {
        c.webhook_allow_private = true;
        c.webhook_backoff_scale = 1000.0;
    })
    .await
    .unwrap();
    let token = app.owner().await;
    let (url, _) = receiver(vec![500]).await;
    let (webhook, _) = subscribe(&app, &token, &url).await;
    create(&app, &token, "customer", json!({"name": "Pending"})).await;
    let list = deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["response_status"] == 500
    })
    .await;
    assert_eq!(list["data"][0]["status"], "pending");
    let delivery = list["data"][0]["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            &token,
            &format!("/api/webhook/{webhook}/deliveries/{delivery}/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("still being attempted")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deliveries_list_pages_and_shows_every_attempt() {
    let app = app_on(Backend::Sqlite, true).await.unwrap();
    let token = app.owner().await;
    let (url, _) = receiver(vec![503, 200]).await;
    let (webhook, _) = subscribe(&app, &token, &url).await;
    for name in ["One", "Two", "Three"] {
        create(&app, &token, "customer", json!({"name": name})).await;
    }
    let all = deliveries_until(&app, &token, webhook, |l| {
        l["data"]
            .as_array()
            .is_some_and(|d| d.len() == 3 && d.iter().all(|x| x["status"] == "succeeded"))
    })
    .await;
    assert_eq!(all["total"], 3);
    let path = format!("/api/webhook/{webhook}/deliveries");
    let (_, plain) = app.get(&token, &path).await;
    assert_eq!(
        (plain["limit"].as_i64(), plain["offset"].as_i64()),
        (Some(100), Some(0)),
        "the defaults of every list"
    );
    let history: Vec<&Value> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["history"].as_array().unwrap())
        .collect();
    assert_eq!(history.len(), 4, "one 503 and three 200s: {all}");
    assert_eq!(
        history
            .iter()
            .filter(|a| a["response_status"] == 503)
            .count(),
        1
    );
    for attempt in &history {
        assert!(
            attempt["duration_ms"].as_i64().is_some_and(|d| d >= 0),
            "{attempt}"
        );
        assert!(attempt["attempted_at"].is_string());
    }
    let retried = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["attempts"] == 2)
        .unwrap();
    let codes: Vec<&Value> = retried["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["response_status"])
        .collect();
    assert_eq!(codes, [&json!(503), &json!(200)]);
    assert_eq!(retried["history"][0]["attempt"], 1);

    let (_, page) = app.get(&token, &format!("{path}?limit=2")).await;
    let ids = |l: &Value| -> Vec<Value> {
        l["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].clone())
            .collect()
    };
    assert_eq!(ids(&page), ids(&all)[..2]);
    assert_eq!(page["total"], 3);
    let (_, rest) = app.get(&token, &format!("{path}?limit=2&offset=2")).await;
    assert_eq!(ids(&rest), ids(&all)[2..]);
    for bad in ["limit=1001", "limit=-1", "offset=x"] {
        let (status, body) = app.get(&token, &format!("{path}?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["message"].is_string());
    }
}
