//! T76: security state survives a kill -9 and a restart (C6): a revoked OAuth token stays
//! refused, a webhook signs with its rotated secrets only (the secret rotated out twice signs
//! no more), and a disabled subscription stays disabled and is sent nothing.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::process::{Deployment, Server};
use crate::support::Backend;
use crate::webhooks::{Seen, receiver};

fn form(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs a form to an OAuth endpoint; the status.
async fn oauth_post(server: &Server, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = crate::support::client()
        .post(format!("{}{path}", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields))
        .send()
        .await
        .expect("oauth request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A client-credentials access token of a new confidential client, revoked at once; the token.
async fn revoked_token(deployment: &Deployment, server: &Server) -> String {
    let db = deployment.db().await;
    let client = kring_server::oauth::clients::create(
        &db,
        &deployment.email,
        "Revoked",
        &["https://client.test/cb".into()],
        false,
    )
    .await
    .expect("client");
    db.close().await;
    let id = client["client_id"].as_str().unwrap().to_string();
    let secret = client["client_secret"].as_str().unwrap().to_string();
    let credentials = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    let mut fields = vec![("grant_type", "client_credentials")];
    fields.extend(credentials);
    let (status, tokens) = oauth_post(server, "/oauth/token", &fields).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let (status, _) = server.get(&access, "/api/customer").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the token works before it is revoked"
    );
    let mut fields = vec![("token", access.as_str())];
    fields.extend(credentials);
    let (status, _) = oauth_post(server, "/oauth/revoke", &fields).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server.get(&access, "/api/customer").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked");
    access
}

async fn subscribe(server: &Server, token: &str, url: &str) -> (i64, String) {
    let (status, webhook) = server
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

async fn rotate(server: &Server, token: &str, webhook: i64) -> String {
    let (status, rotated) = server
        .post(
            token,
            &format!("/api/webhook/{webhook}/rotate-secret"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    rotated["secret"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t76_security_state_survives_a_restart_on_sqlite() {
    security_state_survives(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t76_security_state_survives_a_restart_on_postgres() {
    security_state_survives(Backend::Postgres).await;
}

async fn security_state_survives(backend: Backend) {
    let Some(deployment) = Deployment::new(backend).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let token = deployment.token.clone();
    let mut server = deployment.serve(&["--webhook-allow-private"]).await;
    let revoked = revoked_token(&deployment, &server).await;
    let (rotated_url, rotated_seen) = receiver(vec![200]).await;
    let (rotated, first) = subscribe(&server, &token, &rotated_url).await;
    let second = rotate(&server, &token, rotated).await;
    let third = rotate(&server, &token, rotated).await;
    let (disabled_url, disabled_seen) = receiver(vec![200]).await;
    let (disabled, _) = subscribe(&server, &token, &disabled_url).await;
    let (status, patched) = server
        .patch(
            &token,
            &format!("/api/webhook/{disabled}"),
            json!({"active": false}),
        )
        .await;
    assert_eq!(
        (status, &patched["active"]),
        (StatusCode::OK, &json!(false))
    );

    server.kill_9();
    server.restart().await;

    let (status, _) = server.get(&revoked, "/api/customer").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "still revoked");
    let (_, shown) = server
        .get(&token, &format!("/api/webhook/{disabled}"))
        .await;
    assert_eq!(shown["active"], false, "still disabled");
    let (status, _) = server
        .post(&token, "/api/customer", json!({"name": "After restart"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (headers, body) = first_delivery(&rotated_seen).await;
    let signatures: Vec<&str> = headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .collect();
    let id = headers["webhook-id"].to_str().unwrap();
    let timestamp: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let signed_by = |secret: &str| {
        let expected = kring_core::webhook::sign(secret, id, timestamp, body.as_bytes()).unwrap();
        signatures.contains(&expected.as_str())
    };
    assert!(signed_by(&third), "the current secret signs");
    assert!(
        signed_by(&second),
        "the secret it replaced signs during the overlap"
    );
    assert!(
        !signed_by(&first),
        "the secret rotated out twice signs no more"
    );
    assert_eq!(signatures.len(), 2, "{signatures:?}");
    let (_, deliveries) = server
        .get(&token, &format!("/api/webhook/{disabled}/deliveries"))
        .await;
    assert_eq!(
        deliveries["total"], 0,
        "a disabled subscription queues nothing"
    );
    assert!(disabled_seen.lock().unwrap().is_empty());
}

/// The first request the receiver got, waiting for it (at most a minute).
async fn first_delivery(seen: &Seen) -> (axum::http::HeaderMap, String) {
    for _ in 0..600 {
        if let Some(first) = seen.lock().unwrap().first().cloned() {
            return first;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing was delivered after the restart");
}
