//! Rate limits (`spec/cirqll.md` §9; security plan T55–T58) and token scopes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use kring_server::clock::{Clock, ManualClock};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, unique};

fn epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Windows are whole epoch minutes; a test that counts within one gives the server a clock
/// standing ten seconds into one, and moves it when it wants the next.
fn window_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(epoch() / 60 * 60 + 10))
}

fn header(headers: &HeaderMap, name: &str) -> u64 {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn call(
    app: &TestApp,
    method: &str,
    token: Option<&str>,
    path: &str,
) -> (StatusCode, HeaderMap, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method.clone(), format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if method == reqwest::Method::POST {
        request = request.json(&json!({"name": "Limited"}));
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn limited(limit: u64) -> (TestApp, Arc<ManualClock>) {
    let clock = window_clock();
    let server_clock = clock.clone();
    let app = TestApp::spawn_configured(Backend::Sqlite, move |c| {
        c.rate_limit = limit;
        c.clock = server_clock;
    })
    .await
    .unwrap();
    (app, clock)
}

#[tokio::test]
async fn t55_every_api_response_carries_the_budget() {
    let (app, clock) = limited(100).await;
    let token = app.owner().await;
    let now = clock.epoch_seconds();
    for (path, expected) in [
        ("/api/customer", StatusCode::OK),
        ("/api/customer/999", StatusCode::NOT_FOUND),
        ("/api/customer?limit=5000", StatusCode::BAD_REQUEST),
    ] {
        let (status, headers, _) = call(&app, "GET", Some(&token), path).await;
        assert_eq!(status, expected, "{path}");
        let (limit, remaining, used) = (
            header(&headers, "x-ratelimit-limit"),
            header(&headers, "x-ratelimit-remaining"),
            header(&headers, "x-ratelimit-used"),
        );
        assert_eq!(limit, 100);
        assert_eq!(used + remaining, limit, "{path}");
        let reset = header(&headers, "x-ratelimit-reset");
        assert!(reset == now - 10 + 60, "reset {reset} is the window's end");
    }
    let (_, headers, _) = call(&app, "GET", Some(&token), "/api/customer").await;
    assert_eq!(
        header(&headers, "x-ratelimit-used"),
        4,
        "the three before counted"
    );
    let (_, headers, _) = call(&app, "GET", None, "/health").await;
    assert!(
        headers.get("x-ratelimit-limit").is_none(),
        "only /api is limited"
    );
}

#[tokio::test]
async fn t56_over_the_limit_is_429_and_writes_nothing() {
    let (app, clock) = limited(3).await;
    let token = app.owner().await;
    for _ in 0..3 {
        let (status, _, _) = call(&app, "POST", Some(&token), "/api/customer").await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, headers, body) = call(&app, "POST", Some(&token), "/api/customer").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body, json!({"message": "Too Many Attempts."}));
    assert_eq!(header(&headers, "x-ratelimit-remaining"), 0);
    let retry = header(&headers, "retry-after");
    assert_eq!(retry, 50, "the rest of the window");
    assert_eq!(
        header(&headers, "x-ratelimit-reset"),
        clock.epoch_seconds() + retry
    );
    let rows = app
        .query(
            "SELECT COUNT(*) FROM customers",
            &[kring_core::schema::ColumnType::Int],
        )
        .await;
    assert_eq!(
        rows[0][0],
        kring_core::Value::Int(3),
        "the refused create wrote nothing"
    );
    clock.advance(retry);
    let (status, headers, _) = call(&app, "POST", Some(&token), "/api/customer").await;
    assert_eq!(status, StatusCode::CREATED, "a new window, a new budget");
    assert_eq!(header(&headers, "x-ratelimit-used"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t57_the_count_is_exact_under_concurrency() {
    let app = Arc::new(limited(100).await.0);
    let token = app.owner().await;
    let mut requests = Vec::new();
    for _ in 0..40 {
        let (app, token) = (app.clone(), token.clone());
        requests.push(tokio::spawn(async move {
            let (_, headers, _) = call(&app, "GET", Some(&token), "/api/customer").await;
            header(&headers, "x-ratelimit-remaining")
        }));
    }
    let mut remaining = Vec::new();
    for request in requests {
        remaining.push(request.await.unwrap());
    }
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        (60..100).collect::<Vec<u64>>(),
        "each request counted once"
    );
}

#[tokio::test]
async fn t58_budgets_are_per_user_and_per_address() {
    let (app, _clock) = limited(2).await;
    let (ann, bob) = (app.owner().await, app.owner().await);
    for _ in 0..2 {
        assert_eq!(
            call(&app, "GET", Some(&ann), "/api/customer").await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        call(&app, "GET", Some(&ann), "/api/customer").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        call(&app, "GET", Some(&bob), "/api/customer").await.0,
        StatusCode::OK,
        "Bob has his own"
    );
    for _ in 0..2 {
        assert_eq!(
            call(&app, "GET", Some("kring_pat_wrong"), "/api/customer")
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, headers, _) = call(&app, "GET", None, "/api/customer").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "failed tokens count against the address"
    );
    assert!(headers.get("retry-after").is_some());
}

/// The Redis of `KRING_TEST_REDIS_URL`, if set; otherwise the test named `what` is skipped.
fn redis_url(what: &str) -> Option<String> {
    let url = std::env::var("KRING_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("KRING_TEST_REDIS_URL is not set: {what} test skipped");
    }
    url
}

/// Two instances on one database and one Redis allow exactly the budget between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_budget_in_redis() {
    let Some(redis) = redis_url("shared rate limit") else {
        return;
    };
    let prefix = unique("kring-test-");
    let clock = window_clock();
    let configure = |c: &mut kring_server::Config| {
        c.rate_limit = 10;
        c.redis_url = Some(redis.clone());
        c.redis_prefix = prefix.clone();
        c.clock = clock.clone();
    };
    let first = TestApp::spawn_configured(Backend::Sqlite, configure)
        .await
        .unwrap();
    let second = first.sibling(configure).await;
    let token = first.owner().await;
    let mut accepted = 0;
    for i in 0..16 {
        let app = if i % 2 == 0 { &first } else { &second };
        match call(app, "GET", Some(&token), "/api/customer").await.0 {
            StatusCode::OK => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(accepted, 10, "one budget across both instances");
}

#[tokio::test]
async fn scopes_limit_what_a_token_may_do() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.owner().await;
    let email = "scoped@acme.test";
    app.user_with_email("Acme", "company_owner", email).await;
    let token =
        kring_server::admin::create_token_with_scopes(&app.db, email, "t", "customers:read")
            .await
            .unwrap();
    assert_eq!(
        call(&app, "GET", Some(&token), "/api/customer").await.0,
        StatusCode::OK
    );
    let (status, headers, body) = call(&app, "POST", Some(&token), "/api/customer").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, json!({"message": "Invalid scope(s) provided."}));
    assert_eq!(
        headers["www-authenticate"],
        "Bearer error=\"insufficient_scope\", scope=\"customers:write\""
    );
    assert_eq!(
        call(&app, "GET", Some(&token), "/api/contact").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, "GET", Some(&token), "/api/me").await.0,
        StatusCode::OK,
        "who am I needs no scope"
    );
    assert!(
        kring_server::admin::create_token_with_scopes(&app.db, email, "t", "customers:fly")
            .await
            .is_err(),
        "unknown scopes are refused"
    );
    let (status, _, scopes) = call(&app, "GET", None, "/oauth/scopes").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = scopes
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for id in [
        "*",
        "customers:read",
        "customers:write",
        "settings:read",
        "settings:write",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
}

/// T59: a client holding many slow requests open gets 429 for more, with `Retry-After`; other
/// users are not affected, and the places come back when the slow requests end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t59_requests_in_flight_are_capped_per_user() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| c.concurrency_limit = 2)
        .await
        .unwrap();
    let (ann, bob) = (app.owner().await, app.owner().await);
    let address = app.base.trim_start_matches("http://").to_string();
    // Two creates whose bodies never finish arriving: authorized, waiting for the body.
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /api/customer HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {ann}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, headers, _) = call(&app, "GET", Some(&ann), "/api/customer").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "a third request in flight"
    );
    assert!(headers.get("retry-after").is_some());
    assert_eq!(
        call(&app, "GET", Some(&bob), "/api/customer").await.0,
        StatusCode::OK
    );
    drop(slow);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        call(&app, "GET", Some(&ann), "/api/customer").await.0,
        StatusCode::OK,
        "places come back"
    );
}

/// T60: creating users (inviting people) has its own quota; past it, 429 and no user is made.
#[tokio::test]
async fn t60_inviting_users_has_a_quota() {
    let clock = window_clock();
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| c.clock = clock)
        .await
        .unwrap();
    let owner = app.owner().await;
    let (_, roles) = app.get(&owner, "/api/role").await;
    let role = roles["data"][0]["id"].as_i64().unwrap();
    let invite = |i: usize| json!({"name": "Invitee", "email": format!("invitee{i}@acme.test"), "password": "long enough", "role_id": role});
    for i in 0..10 {
        let (status, body) = app.post(&owner, "/api/user", invite(i)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app.post(&owner, "/api/user", invite(10)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let rows = app
        .query(
            "SELECT COUNT(*) FROM users WHERE email = 'invitee10@acme.test'",
            &[kring_core::schema::ColumnType::Int],
        )
        .await;
    assert_eq!(
        rows[0][0],
        kring_core::Value::Int(0),
        "the refused invitation made no user"
    );
    let (status, _) = app
        .post(&owner, "/api/customer", json!({"name": "Still fine"}))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "other writes are not held back"
    );
}

/// A loopback TCP relay to `target` that can be cut: while cut, it forwards nothing in either
/// direction but keeps every connection open (a black hole, the slowest way to be away).
async fn relay(target: &str) -> (String, Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let cut = Arc::new(AtomicBool::new(false));
    let (target, switch) = (target.to_string(), cut.clone());
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let (target, cut) = (target.clone(), switch.clone());
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let pump = |mut from: tokio::net::tcp::OwnedReadHalf,
                            mut to: tokio::net::tcp::OwnedWriteHalf,
                            cut: Arc<AtomicBool>| async move {
                    let mut buffer = [0u8; 4096];
                    while let Ok(n) = from.read(&mut buffer).await {
                        if n == 0 {
                            break;
                        }
                        while cut.load(Ordering::Relaxed) {
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        }
                        if to.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let (in_read, in_write) = inbound.into_split();
                let (out_read, out_write) = outbound.into_split();
                tokio::join!(
                    pump(in_read, out_write, cut.clone()),
                    pump(out_read, in_write, cut)
                );
            });
        }
    });
    (format!("redis://{address}"), cut)
}

/// While Redis does not answer, requests are neither held up nor unlimited: each is answered
/// at once and counted in process, `/ready` says so, and Redis counts again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t58_redis_away_means_a_limit_in_process_not_a_stall() {
    use std::sync::atomic::Ordering;
    let Some(redis) = redis_url("Redis outage") else {
        return;
    };
    let target = redis
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_string();
    let (url, cut) = relay(&target).await;
    let clock = window_clock();
    let server_clock = clock.clone();
    let prefix = unique("kring-test-");
    let app = TestApp::spawn_configured(Backend::Sqlite, move |c| {
        c.rate_limit = 5;
        c.redis_url = Some(url);
        c.redis_prefix = prefix;
        c.clock = server_clock;
    })
    .await
    .unwrap();
    let token = app.owner().await;
    for _ in 0..2 {
        assert_eq!(
            call(&app, "GET", Some(&token), "/api/customer").await.0,
            StatusCode::OK
        );
    }

    cut.store(true, Ordering::Relaxed);
    // A client that gives up after three seconds: a request held up by the counter store
    // fails it.
    let patient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = patient
            .get(format!("{}/api/customer", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answered while Redis is away");
        statuses.push(response.status());
    }
    assert_eq!(&statuses[..5], &[StatusCode::OK; 5], "{statuses:?}");
    assert_eq!(
        statuses[5],
        StatusCode::TOO_MANY_REQUESTS,
        "the limit holds in process"
    );
    let (_, ready) = app.ready_with(&patient).await;
    let detail = ready["checks"]["rate_limit_store"]
        .as_str()
        .unwrap_or_default();
    assert!(detail.contains("counting in process"), "{ready}");
    assert_eq!(ready["status"], "ready", "{ready}");

    // Back: after the retry pause Redis counts again, from where it stood: the two before the
    // cut, the one increment the relay held back and now delivers, and this one (the count in
    // process, six, would answer 429).
    cut.store(false, Ordering::Relaxed);
    clock.advance(6);
    let (status, headers, _) = call(&app, "GET", Some(&token), "/api/customer").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "x-ratelimit-remaining"), 1);
    let (_, ready) = app.ready().await;
    assert_eq!(ready["checks"]["rate_limit_store"], "ok", "{ready}");
}

/// Failed client secrets are one budget across instances sharing Redis: counted where they
/// fail, read (not counted) where the next one is tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_client_secrets_share_one_budget_in_redis() {
    let Some(redis) = redis_url("shared client failures") else {
        return;
    };
    let prefix = unique("kring-test-");
    let configure = |c: &mut kring_server::Config| {
        c.redis_url = Some(redis.clone());
        c.redis_prefix = prefix.clone();
    };
    let first = TestApp::spawn_configured(Backend::Sqlite, configure)
        .await
        .unwrap();
    let second = first.sibling(configure).await;
    let email = format!("{}@acme.test", unique("owner"));
    first.user_with_email("Acme", "company_owner", &email).await;
    let client = kring_server::oauth::clients::create(
        &first.db,
        &email,
        "Guessed",
        &["https://app.test/cb".to_string()],
        false,
    )
    .await
    .unwrap();
    let id = client["client_id"].as_str().unwrap().to_string();
    let attempt = |app: &TestApp, secret: &str| {
        app.client
            .post(format!("{}/oauth/token", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&client_id={id}&client_secret={secret}"
            ))
            .send()
    };
    let budget = kring_server::oauth::grants::CLIENT_FAILURES_PER_MINUTE;
    for i in 0..budget {
        let app = if i % 2 == 0 { &first } else { &second };
        let response = attempt(app, "wrong").await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    for app in [&first, &second] {
        let response = attempt(app, "wrong").await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}
