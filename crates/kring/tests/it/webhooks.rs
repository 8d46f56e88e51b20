//! Webhook delivery through a real receiver on loopback (issue 7; security plan T47–T54):
//! signed Standard Webhooks requests checked by an independent verifier, retries with the same
//! message id, `410 Gone`, redirects not followed, and private targets refused. `ops` covers
//! HTTPS targets, secret rotation, redelivery and the deliveries list; `crash` covers several
//! instances on one database and `kill -9` mid-delivery; `security` covers the security plan's
//! target checks, test events, response handling, fan-out scoping and outbox atomicity.

mod crash;
mod ops;
mod security;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::resources::create;
use crate::support::{Backend, TestApp};

/// What the receiver saw: headers and body of each request, in order.
pub type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A receiver answering each request with the next status of `script` (the last one repeats).
pub async fn receiver(script: Vec<u16>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = receiver_app(script, seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("{base}/hook"), seen)
}

/// The receiver's routes: `/hook` answers from `script`, `/elsewhere` is where its redirects
/// point (and records that it was followed).
pub fn receiver_app(script: Vec<u16>, seen: Seen) -> axum::Router {
    let log = seen.clone();
    let followed = seen;
    axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let log = log.clone();
                let script = script.clone();
                async move {
                    let mut log = log.lock().unwrap();
                    log.push((headers, body));
                    let status = script
                        .get(log.len() - 1)
                        .or(script.last())
                        .copied()
                        .unwrap_or(200);
                    let mut response = axum::response::IntoResponse::into_response(
                        AxumStatus::from_u16(status).unwrap(),
                    );
                    if status == 302 {
                        response
                            .headers_mut()
                            .insert("location", "/elsewhere".parse().unwrap());
                    }
                    response
                }
            }),
        )
        .route(
            "/elsewhere",
            axum::routing::post(move || {
                let followed = followed.clone();
                async move {
                    followed
                        .lock()
                        .unwrap()
                        .push((HeaderMap::new(), "followed".to_string()));
                    "followed"
                }
            }),
        )
}

pub async fn app_on(backend: Backend, allow_private: bool) -> Option<TestApp> {
    TestApp::spawn_configured(backend, |c| {
        c.rate_limit = 1_000_000;
        c.concurrency_limit = 10_000;
        c.webhook_allow_private = allow_private;
        c.webhook_backoff_scale = 0.0005;
    })
    .await
}

pub async fn subscribe(app: &TestApp, token: &str, url: &str) -> (i64, String) {
    let (status, webhook) = app
        .post(
            token,
            "/api/webhook",
            json!({"url": url, "event": "customer.created"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    (
        webhook["id"].as_i64().unwrap(),
        webhook["secret"].as_str().unwrap().to_string(),
    )
}

/// Waits until `done` holds for the deliveries list (up to 1000 of them), or fails after 30 s.
pub async fn deliveries_until(
    app: &TestApp,
    token: &str,
    webhook: i64,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..600 {
        let (_, list) = app
            .get(
                token,
                &format!("/api/webhook/{webhook}/deliveries?limit=1000"),
            )
            .await;
        if done(&list) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, list) = app
        .get(token, &format!("/api/webhook/{webhook}/deliveries"))
        .await;
    panic!("deliveries never settled: {list}");
}

/// Checks a delivery with the `standardwebhooks` package from PyPI, an implementation Kring
/// shares no code with (skipped without it unless `KRING_TEST_INTEROP` is set).
fn verified_independently(secret: &str, headers: &HeaderMap, body: &str) -> Option<bool> {
    verify_all(&[(secret, headers, body)]).map(|v| v[0])
}

/// Checks each `(secret, headers, body)` with the `standardwebhooks` package, in one Python
/// process: whether it accepts the delivery. `None` when the package is not installed (an
/// error instead when `KRING_TEST_INTEROP` is set).
pub fn verify_all(items: &[(&str, &HeaderMap, &str)]) -> Option<Vec<bool>> {
    use std::io::Write;
    let present = std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        assert!(
            std::env::var_os("KRING_TEST_INTEROP").is_none(),
            "standardwebhooks is required"
        );
        return None;
    }
    let input: Vec<Value> = items
        .iter()
        .map(|(secret, headers, body)| {
            let header = |name: &str| headers[name].to_str().unwrap().to_string();
            json!({
                "secret": secret,
                "body": body,
                "headers": {
                    "webhook-id": header("webhook-id"),
                    "webhook-timestamp": header("webhook-timestamp"),
                    "webhook-signature": header("webhook-signature"),
                },
            })
        })
        .collect();
    let script = "import sys, json\nfrom standardwebhooks.webhooks import Webhook\n\
                  results = []\n\
                  for item in json.load(sys.stdin):\n\
                  \x20   try:\n\
                  \x20       Webhook(item['secret']).verify(item['body'], item['headers'])\n\
                  \x20       results.append(True)\n\
                  \x20   except Exception:\n\
                  \x20       results.append(False)\n\
                  print(json.dumps(results))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::Array(input).to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the verifier ran");
    let results: Vec<bool> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results.len(), items.len());
    Some(results)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t47_deliveries_are_signed_and_verifiable_on_sqlite() {
    signed_delivery(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t47_deliveries_are_signed_and_verifiable_on_postgres() {
    signed_delivery(Backend::Postgres).await;
}

async fn signed_delivery(backend: Backend) {
    let Some(app) = app_on(backend, true).await else {
        eprintln!("backend not configured: skipped");
        return;
    };
    let token = app.owner().await;
    let (url, seen) = receiver(vec![200]).await;
    let (webhook, secret) = subscribe(&app, &token, &url).await;
    let customer = create(&app, &token, "customer", json!({"name": "Hooked BV"})).await;
    let list = deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    assert_eq!(list["data"][0]["response_status"], 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "delivered once");
    let (headers, body) = &seen[0];
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["event"], "customer.created");
    assert_eq!(payload["data"]["id"], customer);
    assert_eq!(payload["data"]["name"], "Hooked BV");
    assert!(headers["webhook-id"].to_str().unwrap().starts_with("msg_"));
    let timestamp: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = kring_core::webhook::sign(
        &secret,
        headers["webhook-id"].to_str().unwrap(),
        timestamp,
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(headers["webhook-signature"].to_str().unwrap(), expected);
    if let Some(verified) = verified_independently(&secret, headers, body) {
        assert!(
            verified,
            "the standardwebhooks package accepts the signature"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t48_failures_are_retried_with_the_same_message_id() {
    let app = app_on(Backend::Sqlite, true).await.unwrap();
    let token = app.owner().await;
    let (url, seen) = receiver(vec![500, 503, 200]).await;
    let (webhook, _) = subscribe(&app, &token, &url).await;
    create(&app, &token, "customer", json!({"name": "Retry BV"})).await;
    let list = deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["status"] == "succeeded"
    })
    .await;
    assert_eq!(list["data"][0]["attempts"], 3);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let ids: Vec<&str> = seen
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one message id across attempts: {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t49_gone_disables_and_redirects_are_not_followed() {
    let app = app_on(Backend::Sqlite, true).await.unwrap();
    let token = app.owner().await;
    let (url, seen) = receiver(vec![410]).await;
    let (webhook, _) = subscribe(&app, &token, &url).await;
    create(&app, &token, "customer", json!({"name": "Gone BV"})).await;
    deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["status"] == "failed"
    })
    .await;
    let (_, shown) = app.get(&token, &format!("/api/webhook/{webhook}")).await;
    assert_eq!(shown["active"], false, "410 Gone disables the subscription");
    create(&app, &token, "customer", json!({"name": "After"})).await;
    let (_, list) = app
        .get(&token, &format!("/api/webhook/{webhook}/deliveries"))
        .await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "nothing more is queued for it"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);

    let (url, seen) = receiver(vec![302, 302, 302, 302, 302, 302, 302, 302, 302, 302]).await;
    let (webhook, _) = subscribe(&app, &token, &url).await;
    create(&app, &token, "customer", json!({"name": "Moved"})).await;
    let list = deliveries_until(&app, &token, webhook, |l| {
        l["data"][0]["attempts"].as_i64() >= Some(2)
    })
    .await;
    assert_eq!(
        list["data"][0]["response_status"], 302,
        "a redirect is a failure, not followed"
    );
    assert!(seen.lock().unwrap().len() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t50_the_machines_own_name_is_refused_when_it_is_loopback() {
    // The system's resolver, as in production: a name it maps to loopback is refused at
    // registration (the full table of T50 is in `security`).
    let app = app_on(Backend::Sqlite, false).await.unwrap();
    let token = app.owner().await;
    let Some(name) = loopback_host_name().await else {
        eprintln!("this machine's host name does not resolve to loopback only: skipped");
        return;
    };
    let (status, refused) = app
        .post(
            &token,
            "/api/webhook",
            json!({"url": format!("http://{name}:8080/hook"), "event": "customer.created"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let message = refused["errors"]["url"][0].as_str().unwrap();
    assert!(
        message.contains(&format!("{name} resolves to 127.")),
        "{message}"
    );
}

/// The machine's host name when it resolves to loopback addresses only.
async fn loopback_host_name() -> Option<String> {
    let output = std::process::Command::new("hostname").output().ok()?;
    let name = String::from_utf8(output.stdout).ok()?.trim().to_string();
    if name.is_empty() || name == "localhost" {
        return None;
    }
    let addresses: Vec<_> = tokio::net::lookup_host((name.as_str(), 80))
        .await
        .ok()?
        .collect();
    (!addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback())).then_some(name)
}
