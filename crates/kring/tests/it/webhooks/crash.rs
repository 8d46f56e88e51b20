//! Delivery across instances and crashes (T72): two instances on one PostgreSQL attempt each
//! delivery once, and a `kring serve` killed with SIGKILL in the middle of deliveries loses
//! none of them: after a restart on the same database every event reaches the receiver.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Seen, app_on, deliveries_until, receiver, subscribe, verify_all};
use crate::process::Deployment;
use crate::resources::create;
use crate::support::{Backend, TestApp, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t72_two_instances_attempt_each_delivery_once_on_postgres() {
    let Some(first) = app_on(Backend::Postgres, true).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let second = first
        .sibling(|c| {
            c.rate_limit = 1_000_000;
            c.concurrency_limit = 10_000;
            c.webhook_allow_private = true;
            c.webhook_backoff_scale = 0.0005;
        })
        .await;
    let token = first.owner().await;
    let (url, seen) = receiver(vec![200]).await;
    let (webhook, secret) = subscribe(&first, &token, &url).await;
    const EACH: usize = 40;
    tokio::join!(
        burst_on(&first, &token, "first", EACH),
        burst_on(&second, &token, "second", EACH)
    );
    let list = deliveries_until(&first, &token, webhook, |l| {
        l["total"] == 2 * EACH
            && l["data"]
                .as_array()
                .is_some_and(|d| d.iter().all(|x| x["status"] == "succeeded"))
    })
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2 * EACH);
    let seen = seen.lock().unwrap().clone();
    let mut per_message: HashMap<String, usize> = HashMap::new();
    for (headers, _) in &seen {
        *per_message
            .entry(headers["webhook-id"].to_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_message.len(), 2 * EACH, "every delivery arrived");
    let repeated: Vec<_> = per_message.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "attempted more than once: {repeated:?}"
    );
    for delivery in list["data"].as_array().unwrap() {
        assert_eq!(delivery["attempts"], 1, "{delivery}");
    }
    let items: Vec<(&str, &HeaderMap, &str)> = seen
        .iter()
        .map(|(h, b)| (secret.as_str(), h, b.as_str()))
        .collect();
    if let Some(verified) = verify_all(&items) {
        assert!(verified.iter().all(|v| *v), "every delivery verifies");
    }
}

/// Creates `count` customers through `app`, one after another.
async fn burst_on(app: &TestApp, token: &str, label: &str, count: usize) {
    for i in 0..count {
        create(
            app,
            token,
            "customer",
            json!({"name": format!("{label} {i}")}),
        )
        .await;
    }
}

/// A receiver that holds every request open while `stall` is set (a receiver that hangs) and
/// answers 200 otherwise; `answered` keeps the requests it answered.
struct Stalling {
    url: String,
    arrived: Arc<AtomicUsize>,
    answered: Seen,
}

async fn stalling_receiver(stall: Arc<AtomicBool>) -> Stalling {
    let arrived = Arc::new(AtomicUsize::new(0));
    let answered: Seen = Arc::default();
    let (count, log) = (arrived.clone(), answered.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (count, log, stall) = (count.clone(), log.clone(), stall.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                if stall.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
                log.lock().unwrap().push((headers, body));
                AxumStatus::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Stalling {
        url,
        arrived,
        answered,
    }
}

/// `kring serve` with deliveries to loopback, short timeouts and a short lease.
const WEBHOOK_ARGS: &[&str] = &[
    "--webhook-allow-private",
    "--webhook-timeout-seconds",
    "5",
    "--webhook-lease-seconds",
    "6",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t72_kill_9_mid_delivery_loses_nothing_on_sqlite() {
    kill_9_mid_delivery(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t72_kill_9_mid_delivery_loses_nothing_on_postgres() {
    kill_9_mid_delivery(Backend::Postgres).await;
}

async fn kill_9_mid_delivery(backend: Backend) {
    let Some(deployment) = Deployment::new(backend).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let token = deployment.token.clone();

    let stall = Arc::new(AtomicBool::new(true));
    let receiver = stalling_receiver(stall.clone()).await;
    let mut server = deployment.serve(WEBHOOK_ARGS).await;
    let (status, webhook) = server
        .post(
            &token,
            "/api/webhook",
            json!({"url": receiver.url, "event": "customer.created"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let secret = webhook["secret"].as_str().unwrap().to_string();
    let mut customers = BTreeSet::new();
    for i in 0..24 {
        let (status, customer) = server
            .post(
                &token,
                "/api/customer",
                json!({"name": format!("Crash {i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{customer}");
        customers.insert(customer["id"].as_i64().unwrap());
    }
    // Deliveries are in flight, held by the receiver: kill the server under them.
    wait_for(
        || receiver.arrived.load(Ordering::SeqCst) >= 1,
        Duration::from_secs(60),
        "a delivery in flight",
    )
    .await;
    server.kill_9();
    assert!(
        receiver.answered.lock().unwrap().is_empty(),
        "nothing was answered yet"
    );

    stall.store(false, Ordering::SeqCst);
    server.restart().await;
    let delivered = || -> BTreeSet<i64> {
        receiver
            .answered
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, body)| serde_json::from_str::<Value>(body).ok())
            .filter_map(|payload| payload["data"]["id"].as_i64())
            .collect()
    };
    wait_for(
        || delivered() == customers,
        Duration::from_secs(60),
        "every event delivered after the restart",
    )
    .await;
    let answered = receiver.answered.lock().unwrap().clone();
    let items: Vec<(&str, &HeaderMap, &str)> = answered
        .iter()
        .map(|(h, b)| (secret.as_str(), h, b.as_str()))
        .collect();
    if let Some(verified) = verify_all(&items) {
        assert!(verified.iter().all(|v| *v), "every delivery verifies");
    }
}
