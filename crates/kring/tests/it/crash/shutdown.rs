//! T75: SIGTERM with requests in flight (a slow upload, a long list read slowly) and webhook
//! deliveries held by a receiver that never answers. The requests complete with 2xx, the
//! process exits 0, no delivery is left leased to the process that is gone, and what was
//! acknowledged is there after a restart (C7).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use kring_core::Value as Cell;
use kring_core::schema::ColumnType;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::uploads::{customer_form, distinct_pdf, file_field, staged, upload_slowly};
use crate::process::{Deployment, Server};
use crate::support::{Backend, wait_for};

/// Customers behind the long list, each with a large description: about 1 MiB in all, more
/// than the socket buffers hold, so the list's answer is still being written at the SIGTERM.
const LISTED: usize = 120;
const DESCRIPTION_BYTES: usize = 8 * 1024;

/// A webhook target that accepts connections and never answers; how many it accepted.
async fn hanging_receiver() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

/// `GET path` over a connection with a tiny receive buffer, read a little at a time; calls
/// `started` once the first bytes of the answer are in. The status and body.
async fn read_slowly(
    port: u16,
    token: &str,
    path: &str,
    started: tokio::sync::oneshot::Sender<()>,
) -> (u16, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket
        .connect(([127, 0, 0, 1], port).into())
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = vec![0u8; 16 * 1024];
    let mut started = Some(started);
    loop {
        let n = stream.read(&mut buffer).await.expect("read the list");
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..n]);
        if let Some(started) = started.take() {
            let _ = started.send(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn create_customers(server: &Server, token: &str, count: usize) -> Vec<i64> {
    let description = "x".repeat(DESCRIPTION_BYTES);
    let mut ids = Vec::new();
    for i in 0..count {
        let (status, customer) = server
            .post(
                token,
                "/api/customer",
                json!({"name": format!("Listed {i}"), "description": description}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{customer}");
        ids.push(customer["id"].as_i64().unwrap());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t75_sigterm_drains_in_flight_requests_and_releases_claims_on_sqlite() {
    sigterm_drains(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t75_sigterm_drains_in_flight_requests_and_releases_claims_on_postgres() {
    sigterm_drains(Backend::Postgres).await;
}

async fn sigterm_drains(backend: Backend) {
    let Some(deployment) = Deployment::new(backend).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let token = deployment.token.clone();
    // A lease far longer than the test: a claim left behind would still be held at the end.
    let webhooks = [
        "--webhook-allow-private",
        "--webhook-timeout-seconds",
        "60",
        "--webhook-lease-seconds",
        "600",
    ];
    let mut server = deployment.serve(&webhooks).await;
    let mut acknowledged = create_customers(&server, &token, LISTED).await;
    let field = file_field(&server, &token).await;
    let (url, accepted) = hanging_receiver().await;
    let (status, webhook) = server
        .post(
            &token,
            "/api/webhook",
            json!({"url": url, "event": "customer.created"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    acknowledged.extend(create_customers(&server, &token, 3).await);
    wait_for(
        || accepted.load(Ordering::SeqCst) >= 1,
        Duration::from_secs(12),
        "a delivery in flight",
    )
    .await;

    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    let form = customer_form(field, &distinct_pdf());
    let upload_token = token.clone();
    let upload = tokio::spawn(async move {
        upload_slowly(
            port,
            &upload_token,
            &form,
            8 * 1024,
            Duration::from_millis(20),
        )
        .await
    });
    let (started, list_started) = tokio::sync::oneshot::channel();
    let list_token = token.clone();
    let list = tokio::spawn(async move {
        read_slowly(port, &list_token, "/api/customer?limit=1000", started).await
    });
    list_started.await.expect("the list is being answered");
    let files_dir = deployment.files_dir.clone();
    wait_for(
        || !staged(&files_dir).is_empty(),
        Duration::from_secs(12),
        "the upload is streaming",
    )
    .await;

    server.terminate();
    let (status, body) = upload.await.unwrap().expect("the upload was answered");
    assert_eq!(status, 201, "the in-flight upload completed: {body}");
    let uploaded: Value = serde_json::from_str(&body).expect("upload JSON");
    acknowledged.push(uploaded["data"]["id"].as_i64().expect("uploaded id"));
    let (status, body) = list.await.unwrap();
    assert_eq!(status, 200, "the in-flight list completed");
    let listed: Value = serde_json::from_str(&body).expect("the whole list arrived");
    assert_eq!(listed["data"].as_array().unwrap().len(), LISTED + 3);
    let exit = server.exit_status().await;
    assert!(
        exit.success(),
        "exit 0 after SIGTERM: {exit:?}\n{}",
        server.log_text()
    );

    no_delivery_left_leased(&deployment).await;
    server.restart().await;
    for id in acknowledged {
        let (status, _) = server.get(&token, &format!("/api/customer/{id}")).await;
        assert_eq!(status, StatusCode::OK, "customer {id} was acknowledged");
    }
}

/// C7: every pending delivery is due now or at its retry time, none waits for a lease held by
/// the stopped process.
async fn no_delivery_left_leased(deployment: &Deployment) {
    let db = deployment.db().await;
    let leased = db
        .fetch(
            &kring_server::db::Raw::new(
                "SELECT COUNT(*), (SELECT COUNT(*) FROM webhook_deliveries) FROM webhook_deliveries \
                 WHERE status = 'pending' AND next_attempt_at > ?",
                vec![(Utc::now() + chrono::Duration::seconds(60)).into()],
            ),
            &[ColumnType::Int, ColumnType::Int],
        )
        .await
        .expect("leases");
    db.close().await;
    assert!(
        matches!(leased[0][1], Cell::Int(n) if n >= 3),
        "deliveries were queued: {leased:?}"
    );
    assert_eq!(
        leased[0][0],
        Cell::Int(0),
        "deliveries left leased: {leased:?}"
    );
}
