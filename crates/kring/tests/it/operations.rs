//! What an operator sees: `/metrics` scraped and read by Prometheus's own Python parser, with
//! labels bounded to route templates; JSON log lines, one per request, with the caller and the
//! trace id and never the token.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::process::{Deployment, free_port};
use crate::support::{Backend, TestApp, available};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_one_process_exactly_sqlite() {
    metrics_are_scraped_and_read_by_a_prometheus_parser(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_one_process_exactly_postgres() {
    metrics_are_scraped_and_read_by_a_prometheus_parser(Backend::Postgres).await;
}

const METRICS_TOKEN: &str = "metrics-secret-for-tests";

/// Reads Prometheus text with `prometheus_client.parser`: each sample as
/// `{"name", "labels", "value"}`.
fn parsed(text: &str) -> Vec<Value> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        samples.append({"family": family.name, "type": family.type, "name": sample.name, "labels": sample.labels, "value": sample.value})
print(json.dumps(samples))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("the parser");
    assert!(
        output.status.success(),
        "the parser refused the text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn parser_installed() -> bool {
    let present = std::process::Command::new("python3")
        .args(["-c", "import prometheus_client.parser"])
        .status()
        .is_ok_and(|s| s.success());
    available("python3 with prometheus-client", present)
}

/// The exact counts of one `kring serve` process's own requests (a process of its own, so no
/// other test's requests are in its counters): the show, the 404 and the unmatched path under
/// their route templates, one idempotent replay, the bytes of one upload, one rate-limit
/// rejection, and a failing webhook attempt with its delivery still in the outbox.
async fn metrics_are_scraped_and_read_by_a_prometheus_parser(backend: Backend) {
    if !parser_installed() {
        return;
    }
    let Some(deployment) = Deployment::new(backend).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: PostgreSQL half skipped");
        return;
    };
    let metrics_bind = format!("127.0.0.1:{}", free_port());
    let server = deployment
        .serve(&[
            "--metrics-token",
            METRICS_TOKEN,
            "--metrics-bind",
            &metrics_bind,
            "--webhook-allow-private",
            "--rate-limit",
            "30",
        ])
        .await;
    let client = crate::support::client();
    let api = |method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{}{path}", server.base))
            .bearer_auth(&deployment.token)
    };
    let closed = format!("http://127.0.0.1:{}/in", free_port());
    let subscribed = api(reqwest::Method::POST, "/api/webhook")
        .json(&json!({"url": closed, "event": "customer.created"}))
        .send()
        .await
        .expect("a subscription");
    assert_eq!(subscribed.status(), StatusCode::CREATED);
    let mut created = Vec::new();
    for _ in 0..2 {
        let response = api(reqwest::Method::POST, "/api/customer")
            .header("Idempotency-Key", "metered-once")
            .json(&json!({"name": "Metered BV"}))
            .send()
            .await
            .expect("a create");
        assert_eq!(response.status(), StatusCode::CREATED);
        created.push(response.json::<Value>().await.expect("JSON")["id"].clone());
    }
    assert_eq!(created[0], created[1], "the second answer is the replay");
    let id = created[0].as_i64().expect("id");
    for (status, path) in [
        (StatusCode::OK, format!("/api/customer/{id}")),
        (StatusCode::NOT_FOUND, "/api/customer/999999".to_string()),
        (StatusCode::NOT_FOUND, "/no/such/route/42".to_string()),
    ] {
        let response = api(reqwest::Method::GET, &path)
            .send()
            .await
            .expect("a read");
        assert_eq!(response.status(), status, "{path}");
    }
    let photo = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01metered".to_vec();
    let photo_bytes = photo.len();
    let form = reqwest::multipart::Form::new()
        .text("email", "metered@example.test")
        .text("name", "Meter")
        .text("last_name", "Read")
        .text("phone", "0201234567")
        .text("business_information[company_name]", "Metered Photo BV")
        .text("permissions[invoice][view-invoice]", "1")
        .part(
            "profile_photo_path",
            reqwest::multipart::Part::bytes(photo)
                .file_name("me.png")
                .mime_str("image/png")
                .expect("mime"),
        );
    let uploaded = api(reqwest::Method::POST, "/api/customers")
        .multipart(form)
        .send()
        .await
        .expect("an upload");
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let stranger = deployment.other_owner("Stranger Co").await;
    let mut rejected = false;
    for _ in 0..70 {
        let response = client
            .get(format!("{}/api/customer", server.base))
            .bearer_auth(&stranger)
            .send()
            .await
            .expect("a list");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            rejected = true;
            break;
        }
    }
    assert!(
        rejected,
        "31 requests in a minute stay within a budget of 30"
    );

    let scrape = |bearer: Option<&str>| {
        let mut request = client.get(format!("{}/metrics", server.base));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    assert_eq!(
        scrape(None).await.expect("scrape").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        scrape(Some(&deployment.token))
            .await
            .expect("scrape")
            .status(),
        StatusCode::UNAUTHORIZED,
        "an API token is not the metrics token"
    );
    // The failing attempt happens in the background: scrape until it is counted.
    let mut samples = Vec::new();
    for _ in 0..100 {
        let response = scrape(Some(METRICS_TOKEN)).await.expect("scrape");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        samples = parsed(&response.text().await.expect("text"));
        if value(
            &samples,
            "kring_webhook_attempts_total",
            &[("outcome", "retrying")],
        ) >= 1.0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let count = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels);
    let requests = "kring_http_requests_total";
    let show = [("route", "/api/customer/{id}"), ("method", "GET")];
    assert_eq!(count(requests, &[show[0], show[1], ("status", "200")]), 1.0);
    assert_eq!(count(requests, &[show[0], show[1], ("status", "404")]), 1.0);
    assert_eq!(count(requests, &[("route", "unmatched")]), 1.0);
    assert_eq!(
        count(
            requests,
            &[
                ("route", "/api/customer"),
                ("method", "POST"),
                ("status", "201")
            ]
        ),
        2.0
    );
    assert_eq!(count("kring_idempotency_replays_total", &[]), 1.0);
    assert_eq!(
        count("kring_upload_bytes_total", &[]),
        f64::from(u32::try_from(photo_bytes).unwrap())
    );
    assert_eq!(
        count("kring_rejections_total", &[("reason", "rate_limit")]),
        1.0
    );
    assert!(count("kring_webhook_attempts_total", &[("outcome", "retrying")]) >= 1.0);
    assert_eq!(
        count("kring_webhook_attempts_total", &[("outcome", "delivered")]),
        0.0
    );
    assert!(
        count("kring_webhook_outbox_pending", &[]) >= 1.0,
        "the failed delivery waits for its retry"
    );
    assert_eq!(count("kring_webhooks_disabled", &[]), 0.0);
    if backend == Backend::Sqlite {
        assert!(
            count("kring_db_commit_units_count", &[]) >= 1.0,
            "SQLite's group commits are counted"
        );
        assert!(
            count("kring_db_pool_wait_seconds_count", &[("pool", "read")]) >= 1.0,
            "waits for a read connection are timed"
        );
    }
    assert_eq!(
        count(
            "kring_http_request_duration_seconds_count",
            &[("route", "/api/customer"), ("method", "POST")]
        ),
        2.0,
        "latency is a histogram"
    );
    for (name, labels) in [
        (
            "kring_build_info",
            vec![("version", env!("CARGO_PKG_VERSION"))],
        ),
        ("kring_db_pool_connections", vec![]),
        ("kring_db_pool_in_use", vec![]),
        (
            "kring_db_statement_duration_seconds_count",
            vec![("kind", "read")],
        ),
        (
            "kring_db_statement_duration_seconds_count",
            vec![("kind", "write")],
        ),
        ("kring_webhook_outbox_oldest_pending_seconds", vec![]),
        ("kring_db_pool_wait_seconds_count", vec![("pool", "write")]),
    ] {
        assert!(
            samples.iter().any(|s| matches(s, name, &labels)),
            "{name} {labels:?}"
        );
    }
    // Bounded labels: every route is a template the router serves (or `unmatched`), never a
    // path with an id in it.
    let templates: Vec<String> = kring_server::routes::served()
        .into_iter()
        .map(|r| r.path)
        .collect();
    for sample in samples.iter().filter(|s| s["labels"]["route"].is_string()) {
        let route = sample["labels"]["route"].as_str().unwrap();
        assert!(
            route == "unmatched" || templates.iter().any(|t| t == route),
            "{route}"
        );
    }
    // The separate address serves the same text without a token.
    let bare = client
        .get(format!("http://{metrics_bind}/metrics"))
        .send()
        .await
        .expect("the metrics address");
    assert_eq!(bare.status(), StatusCode::OK);
    let bare = parsed(&bare.text().await.expect("text"));
    assert_eq!(
        value(&bare, requests, &[show[0], show[1], ("status", "200")]),
        1.0
    );
}

fn matches(sample: &Value, name: &str, labels: &[(&str, &str)]) -> bool {
    sample["name"] == name && labels.iter().all(|(k, v)| sample["labels"][*k] == *v)
}

/// The sum of the samples named `name` whose labels include `labels` (0 when none).
fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| matches(s, name, labels))
        .filter_map(|s| s["value"].as_f64())
        .sum()
}

/// The two places a trace id and a request's facts can come from, checked in one process run:
/// `--log-format json` writes one object per line; the request's line names its method, route
/// template, status, latency, request id, company and user, and the W3C trace id it came with,
/// which the answer echoes; the token appears nowhere in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_json_lines_with_the_request_facts_and_no_secrets() {
    let deployment = Deployment::new(Backend::Sqlite).await.expect("sqlite");
    let server = deployment
        .serve_logging(&["--log-format", "json"], "info")
        .await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let client = crate::support::client();
    let response = client
        .post(format!("{}/api/customer", server.base))
        .bearer_auth(&deployment.token)
        .header("traceparent", &traceparent)
        .json(&json!({"name": "Logged BV", "email": "logged@example.test"}))
        .send()
        .await
        .expect("a create");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()["traceparent"].to_str().unwrap(),
        traceparent
    );
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let created: Value = response.json().await.expect("JSON");
    let unauthenticated = client
        .get(format!("{}/api/customer/{}", server.base, created["id"]))
        .header("traceparent", "00-not-a-trace-01")
        .send()
        .await
        .expect("a read without a token");
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert!(unauthenticated.headers().get("traceparent").is_none());
    server.terminate();
    let mut server = server;
    server.exit_status().await;

    let log = server.log_text();
    assert!(
        !log.contains(&deployment.token),
        "the token is in the log:\n{log}"
    );
    let lines: Vec<Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect();
    let line = lines
        .iter()
        .find(|l| l["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no line for {request_id}: {log}"));
    assert_eq!(line["message"], "request");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/api/customer");
    assert_eq!(line["status"], 201);
    assert!(line["latency_ms"].as_f64().is_some(), "{line}");
    assert!(line["company_id"].as_i64().is_some(), "{line}");
    assert!(line["user_id"].as_i64().is_some(), "{line}");
    assert_eq!(line["trace_id"], trace);
    assert!(
        line["timestamp"].is_string() && line["level"] == "INFO",
        "{line}"
    );
    let refused = lines
        .iter()
        .find(|l| l["route"] == "/api/customer/{id}" && l["status"] == 401)
        .unwrap_or_else(|| panic!("no line for the 401: {log}"));
    assert!(
        refused["user_id"].is_null() && refused["trace_id"].is_null(),
        "{refused}"
    );
}

/// `kring` run with `args` against a deployment's database and files; its output, whether it
/// succeeded.
fn kring(
    args: &[&std::ffi::OsStr],
    database_url: &str,
    files_dir: &std::path::Path,
) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kring"))
        .args(args)
        .env("KRING_DATABASE_URL", database_url)
        .env("KRING_FILES_DIR", files_dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("kring runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

/// A backup taken while writes keep coming holds every write acknowledged before it began,
/// passes SQLite's integrity check, brings the uploaded files, and restores into a database
/// that serves them; `restore` refuses to overwrite a database unless told to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_writes_restores_every_acknowledged_write() {
    use std::ffi::OsStr;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let deployment = Deployment::new(Backend::Sqlite).await.expect("sqlite");
    let server = deployment.serve(&[]).await;
    let client = crate::support::client();
    let photo = reqwest::multipart::Form::new()
        .text("email", "photo@example.test")
        .text("name", "Photo")
        .text("last_name", "Graph")
        .text("phone", "0201234567")
        .text("business_information[company_name]", "Photo BV")
        .text("permissions[invoice][view-invoice]", "1")
        .part(
            "profile_photo_path",
            reqwest::multipart::Part::bytes(
                b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01".to_vec(),
            )
            .file_name("me.png")
            .mime_str("image/png")
            .expect("mime"),
        );
    let with_photo = client
        .post(format!("{}/api/customers", server.base))
        .bearer_auth(&deployment.token)
        .multipart(photo)
        .send()
        .await
        .expect("an upload");
    let status = with_photo.status();
    let with_photo: Value = with_photo.json().await.expect("JSON");
    assert_eq!(status, StatusCode::CREATED, "{with_photo}");
    let photo_id = with_photo["data"]["id"].as_i64().expect("id");

    let acknowledged = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        let (client, base, token) = (
            client.clone(),
            server.base.clone(),
            deployment.token.clone(),
        );
        async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let created = client
                    .post(format!("{base}/api/customer"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("Written {n}")}))
                    .send()
                    .await;
                if let Ok(response) = created
                    && response.status() == StatusCode::CREATED
                    && let Ok(body) = response.json::<Value>().await
                    && let Some(id) = body["id"].as_i64()
                {
                    acknowledged.lock().unwrap().push(id);
                }
            }
        }
    });
    while acknowledged.lock().unwrap().len() < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = acknowledged.lock().unwrap().clone();
    let copy = deployment.dir.join("backup.db");
    let copied_files = deployment.dir.join("backup-files");
    let (ok, said) = kring(
        &[
            OsStr::new("backup"),
            OsStr::new("--to"),
            copy.as_os_str(),
            OsStr::new("--files"),
            copied_files.as_os_str(),
        ],
        &deployment.database_url,
        &deployment.files_dir,
    );
    assert!(ok, "{said}");
    // Writes went on during the backup.
    let during = acknowledged.lock().unwrap().len();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("the writer");
    assert!(
        acknowledged.lock().unwrap().len() > during,
        "no write after the backup"
    );
    assert!(said.contains("1 files"), "{said}");

    // Restored where another deployment lives: the database and its files.
    let restored_dir = deployment.dir.join("restored");
    let restored_url = format!("sqlite://{}", restored_dir.join("kring.db").display());
    let restored_files = restored_dir.join("files");
    let restore = |replace: bool| {
        let mut args = vec![
            OsStr::new("restore"),
            OsStr::new("--from"),
            copy.as_os_str(),
            OsStr::new("--files"),
            copied_files.as_os_str(),
        ];
        if replace {
            args.push(OsStr::new("--replace"));
        }
        kring(&args, &restored_url, &restored_files)
    };
    let (ok, said) = restore(false);
    assert!(ok, "{said}");
    let (ok, said) = restore(false);
    assert!(
        !ok && said.contains("--replace"),
        "overwrote without being told: {said}"
    );
    let (ok, said) = restore(true);
    assert!(ok, "{said}");

    let restored = kring_server::Db::connect(&restored_url)
        .await
        .expect("the restored copy");
    let verdict = restored
        .fetch(
            &kring_server::db::Raw::new("PRAGMA integrity_check", vec![]),
            &[kring_core::schema::ColumnType::Text],
        )
        .await
        .expect("integrity check");
    assert_eq!(verdict[0][0], kring_core::Value::Text("ok".into()));
    let ids: Vec<i64> = restored
        .fetch(
            &kring_server::db::Raw::new("SELECT id FROM customers", vec![]),
            &[kring_core::schema::ColumnType::Int],
        )
        .await
        .expect("ids")
        .into_iter()
        .filter_map(|r| r[0].as_int())
        .collect();
    restored.close().await;
    let missing: Vec<&i64> = before.iter().filter(|id| !ids.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup, not in it: {missing:?}"
    );

    let again = Deployment {
        database_url: restored_url,
        files_dir: restored_files,
        token: deployment.token.clone(),
        email: deployment.email.clone(),
        dir: restored_dir,
    };
    let restored_server = again.serve(&[]).await;
    let (status, shown) = restored_server
        .get(&again.token, &format!("/api/customers/{photo_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let link = shown["data"]["profile_photo_path"]
        .as_str()
        .expect("a photo link");
    let photo = client.get(link).send().await.expect("the photo");
    assert_eq!(
        photo.status(),
        StatusCode::OK,
        "the restored files serve the photo"
    );
    assert!(photo.bytes().await.expect("bytes").starts_with(b"\x89PNG"));
    drop(restored_server);
}

/// `contrib/kring.service` passes `systemd-analyze verify` without a warning (with the test's
/// binary as its `ExecStart`) and its hardening rates "OK" or better in
/// `systemd-analyze security`.
#[test]
fn the_systemd_unit_verifies() {
    let present = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available("systemd-analyze", present) {
        return;
    }
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contrib/kring.service"
    ))
    .expect("the unit");
    assert!(
        unit.contains("ExecStart=/usr/local/bin/kring serve") && unit.contains("DynamicUser=yes")
    );
    let dir = std::env::temp_dir().join(crate::support::unique("kring-unit-"));
    std::fs::create_dir_all(&dir).expect("a folder");
    let path = dir.join("kring.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/kring", env!("CARGO_BIN_EXE_kring")),
    )
    .expect("write the unit");
    let verified = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze verify");
    let said = String::from_utf8_lossy(&verified.stderr).to_string();
    assert!(
        verified.status.success() && said.trim().is_empty(),
        "{said}"
    );
    let security = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .expect("systemd-analyze security");
    let _ = std::fs::remove_dir_all(&dir);
    let rated = String::from_utf8_lossy(&security.stdout).to_string();
    let level: f64 = rated
        .lines()
        .find_map(|l| l.split("exposure level for kring.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level: {rated}"));
    assert!(level <= 2.0, "exposure {level}: {rated}");
}

/// `contrib/kring.env` lists every setting `kring serve` reads from the environment, each
/// with the default `--help` states.
#[test]
fn the_sample_configuration_lists_every_setting_with_its_default() {
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contrib/kring.env"
    ))
    .expect("the sample");
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_kring"))
        .args(["serve", "--help"])
        .env("COLUMNS", "1000")
        .output()
        .expect("kring serve --help");
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let mut checked = 0;
    for line in help.lines() {
        let Some(env) = line
            .split("[env: ")
            .nth(1)
            .and_then(|r| r.split(['=', ']']).next())
        else {
            continue;
        };
        let default = line
            .split("[default: ")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .unwrap_or("");
        let listed = sample
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#{env}=")))
            .unwrap_or_else(|| panic!("{env} is not in contrib/kring.env"));
        if !default.is_empty() {
            assert_eq!(listed, default, "{env}'s default");
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} settings in --help");
}

/// `kring move`: a SQLite deployment holding every resource type (and the demo data) copied
/// onto a fresh PostgreSQL schema, verified table by table, then served from PostgreSQL and
/// read back through the API exactly as SQLite served it; a second move onto the same target
/// is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_moves_to_postgres_and_reads_back_identically() {
    let Some((target, _)) = crate::support::fresh_database(Backend::Postgres).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: the move is not tested");
        return;
    };
    let source = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let token = source.owner().await;
    kring_server::seed::demo(&source.db, "Acme", 30)
        .await
        .expect("demo data");
    let routed: Vec<&str> = kring_server::registry::REGISTRY
        .iter()
        .filter(|d| d.routes == kring_core::resource::Routes::Crud)
        .map(|d| d.name)
        .collect();
    for resource in &routed {
        let fixture = crate::resources::fixture(&source, &token, resource)
            .await
            .unwrap_or_else(|| panic!("no fixture for {resource}"));
        crate::resources::create(&source, &token, resource, fixture.create).await;
    }
    let paths: Vec<String> = routed
        .iter()
        .map(|r| format!("/api/{r}?limit=1000"))
        .chain([
            "/api/setting".to_string(),
            "/api/customers?limit=1000".to_string(),
            "/api/me".to_string(),
        ])
        .collect();
    let mut served = Vec::new();
    for path in &paths {
        served.push(
            source
                .expect(StatusCode::OK, "GET", &token, path, None)
                .await,
        );
    }

    // Nothing writes while the deployment moves (its webhook worker records attempts).
    let mut source = source;
    source.stop().await;
    let from = source.database_url().to_string();
    let files = std::env::temp_dir();
    let moving = || {
        let args = ["move", "--from", &from, "--to", &target].map(std::ffi::OsStr::new);
        kring(&args, &from, &files)
    };
    let (ok, said) = moving();
    assert!(ok, "{said}");
    assert!(said.contains("every count and checksum is equal"), "{said}");
    assert!(said.contains("customers") && said.contains(" ok"), "{said}");
    let (ok, said) = moving();
    assert!(
        !ok && said.contains("not empty"),
        "a second move was not refused: {said}"
    );

    let moved = TestApp::over(target).await;
    for (path, before) in paths.iter().zip(&served) {
        let after = moved
            .expect(StatusCode::OK, "GET", &token, path, None)
            .await;
        assert_eq!(
            &after, before,
            "{path} reads back otherwise from PostgreSQL"
        );
    }
    // The sequences went past the copied ids: a new record gets a fresh one.
    let created = moved
        .expect(
            StatusCode::CREATED,
            "POST",
            &token,
            "/api/customer",
            Some(json!({"name": "After the move"})),
        )
        .await;
    let max = served[routed.iter().position(|r| *r == "customer").unwrap()]["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_i64())
        .max()
        .unwrap();
    assert!(created["id"].as_i64().unwrap() > max, "{created}");
}

/// `contrib/scale-out.py --checks-only`: three instances on one PostgreSQL database, one Redis
/// and one moto bucket behind HAProxy share one rate budget, deliver each webhook once and
/// serve each other's files (its throughput half is a benchmark, run by hand).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_behind_haproxy_share_budget_webhooks_and_files() {
    let tools = ["haproxy", "moto_server"].iter().all(|tool| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !available("haproxy and moto_server", tools) {
        return;
    }
    let (Some((database, _)), Ok(redis)) = (
        crate::support::fresh_database(Backend::Postgres).await,
        std::env::var("KRING_TEST_REDIS_URL"),
    ) else {
        eprintln!("PostgreSQL or Redis is not configured: the scale-out checks are skipped");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contrib/scale-out.py");
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .args(["--kring", env!("CARGO_BIN_EXE_kring")])
        .args(["--postgres", &database, "--redis", &redis, "--checks-only"])
        .output()
        .await
        .expect("the scale-out script runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    for promise in [
        "then a 429",
        "each delivered once",
        "downloaded through instance 3",
    ] {
        assert!(said.contains(promise), "{promise}: {said}");
    }
}
