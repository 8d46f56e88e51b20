//! T74: uploads killed with SIGKILL mid-stream and right after they were acknowledged. After
//! the restart every `media` row's file is in `objects/` with the bytes that were sent (C2), and
//! nothing a killed request staged is left in `incoming/`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kring_core::Value as Cell;
use kring_core::schema::ColumnType;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::fetch;
use crate::process::{Deployment, Server};
use crate::support::{Backend, unique};

const BOUNDARY: &str = "kringcrashboundary";
/// Large enough that a slow upload is still streaming when the kill comes.
const FILE_BYTES: usize = 256 * 1024;

/// A PDF of `FILE_BYTES` that no other upload has (its bytes are random after the header).
pub(super) fn distinct_pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut noise = vec![0u8; FILE_BYTES];
    getrandom::fill(&mut noise).expect("random");
    bytes.extend(noise);
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A ManageIt customer create with one file in the file field `field`, as multipart bytes.
pub(super) fn customer_form(field: i64, pdf: &[u8]) -> Vec<u8> {
    let email = format!("{}@upload.test", unique("c"));
    let texts = [
        ("email", email.as_str()),
        ("name", "Upload"),
        ("last_name", "Crash"),
        ("phone", "1"),
        ("business_information[company_name]", "Upload Co"),
        ("permissions[invoice][view-invoice]", "1"),
    ];
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .into_bytes(),
        );
    }
    body.extend(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; \
             name=\"custom_fields[{field}][file_upload][files][]\"; filename=\"doc.pdf\"\r\n\
             Content-Type: application/pdf\r\n\r\n"
        )
        .into_bytes(),
    );
    body.extend_from_slice(pdf);
    body.extend(format!("\r\n--{BOUNDARY}--\r\n").into_bytes());
    body
}

/// Posts a customer form over a raw connection, `chunk` bytes at a time with `pause` between
/// them (a slow client); the status code and body, or `None` when the connection died first.
pub(super) async fn upload_slowly(
    port: u16,
    token: &str,
    body: &[u8],
    chunk: usize,
    pause: Duration,
) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let head = format!(
        "POST /api/customers HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    for piece in body.chunks(chunk) {
        stream.write_all(piece).await.ok()?;
        tokio::time::sleep(pause).await;
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let (_, body) = answer.split_once("\r\n\r\n")?;
    Some((status, body.to_string()))
}

/// A file custom field for customers; its id.
pub(super) async fn file_field(server: &Server, token: &str) -> i64 {
    let (status, field) = server
        .post(
            token,
            "/api/custom-fields",
            json!({"type": 9, "name": "Documents", "fields": {"fileConfig":
                {"acceptFile": ["PDF"], "allowMultiple": true, "maxFiles": 5}}}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{field}\nserver log:\n{}",
        server.log_text()
    );
    field["data"]["id"].as_i64().expect("field id")
}

/// Posts a customer form (multipart bytes with [`BOUNDARY`]) at full speed.
pub(super) async fn post_customer_form(
    server: &Server,
    token: &str,
    form: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    crate::support::client()
        .post(format!("{}/api/customers", server.base))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form)
        .send()
        .await
}

/// One upload at full speed; `Some(id)` of the customer once acknowledged.
async fn upload(server: &Server, token: &str, form: Vec<u8>) -> Option<i64> {
    let response = post_customer_form(server, token, form).await.ok()?;
    let status = response.status();
    let body: Value = response.json().await.ok()?;
    assert!(
        status == StatusCode::CREATED || status.is_server_error(),
        "{status} {body}"
    );
    body["data"]["id"].as_i64()
}

pub(super) fn staged(files_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(files_dir.join("incoming"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t74_uploads_killed_mid_stream_leave_no_torn_files_on_sqlite() {
    uploads_killed(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t74_uploads_killed_mid_stream_leave_no_torn_files_on_postgres() {
    uploads_killed(Backend::Postgres).await;
}

async fn uploads_killed(backend: Backend) {
    let Some(deployment) = Deployment::new(backend).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let token = deployment.token.clone();
    let mut server = deployment.serve(&[]).await;
    let field = file_field(&server, &token).await;
    let mut sent = HashSet::new();
    let mut acknowledged = Vec::new();

    // Killed right after three acknowledged uploads.
    for _ in 0..3 {
        let pdf = distinct_pdf();
        sent.insert(sha256(&pdf));
        let id = upload(&server, &token, customer_form(field, &pdf)).await;
        let id =
            id.unwrap_or_else(|| panic!("not acknowledged\nserver log:\n{}", server.log_text()));
        acknowledged.push((id, sha256(&pdf)));
    }
    server.kill_9();
    server.restart().await;

    // Killed while a slow upload streams and two fast ones race the kill.
    let slow_pdf = distinct_pdf();
    sent.insert(sha256(&slow_pdf));
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    let slow_form = customer_form(field, &slow_pdf);
    let slow_token = token.clone();
    let slow = tokio::spawn(async move {
        upload_slowly(
            port,
            &slow_token,
            &slow_form,
            4 * 1024,
            Duration::from_millis(100),
        )
        .await
    });
    let racing: Vec<_> = (0..2)
        .map(|_| {
            let pdf = distinct_pdf();
            sent.insert(sha256(&pdf));
            let (base, token) = (server.base.clone(), token.clone());
            tokio::spawn(async move {
                let form = customer_form(field, &pdf);
                let response = crate::support::client()
                    .post(format!("{base}/api/customers"))
                    .bearer_auth(token)
                    .header(
                        "content-type",
                        format!("multipart/form-data; boundary={BOUNDARY}"),
                    )
                    .body(form)
                    .send()
                    .await;
                response.is_ok()
            })
        })
        .collect();
    // The slow upload takes over six seconds to send; a loaded machine may take a while to
    // start staging it.
    for _ in 0..500 {
        if !staged(server.files_dir()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !staged(server.files_dir()).is_empty(),
        "the slow upload is being staged\nserver log:\n{}",
        server.log_text()
    );
    server.kill_9();
    assert!(
        !staged(server.files_dir()).is_empty(),
        "the kill left a staged file for the sweep"
    );
    assert_eq!(slow.await.unwrap(), None, "the slow upload was cut off");
    for race in racing {
        let _ = race.await;
    }
    server.restart().await;

    let left = staged(server.files_dir());
    assert!(left.is_empty(), "staged files survived the start: {left:?}");
    every_media_row_has_its_bytes(&deployment, &sent).await;
    for (id, digest) in &acknowledged {
        acknowledged_upload_downloads(&server, &token, *id, digest).await;
    }
}

/// C2: each `media` row's file is in place, and holds one of the uploads byte for byte.
async fn every_media_row_has_its_bytes(deployment: &Deployment, sent: &HashSet<String>) {
    let db = deployment.db().await;
    let rows = fetch(
        &db,
        "SELECT company_id, uuid FROM media",
        &[ColumnType::Int, ColumnType::Text],
    )
    .await;
    db.close().await;
    assert!(
        rows.len() >= 3,
        "the acknowledged uploads have rows: {rows:?}"
    );
    for row in rows {
        let [Cell::Int(company), Cell::Text(uuid)] = row.as_slice() else {
            panic!("{row:?}");
        };
        let path = deployment
            .files_dir
            .join("objects")
            .join(company.to_string())
            .join(uuid);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("media {uuid} has no file at {}: {e}", path.display()));
        assert!(
            sent.contains(&sha256(&bytes)),
            "media {uuid} holds torn bytes"
        );
    }
}

/// C1 for files: an acknowledged upload downloads with the bytes that were sent.
async fn acknowledged_upload_downloads(server: &Server, token: &str, id: i64, digest: &str) {
    let (status, customer) = server.get(token, &format!("/api/customers/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{customer}");
    let path = customer["data"]["custom_fields"][0]["custom_field_values"][0]["value"][0]["path"]
        .as_str()
        .unwrap_or_else(|| panic!("a file path: {customer}"))
        .to_string();
    let response = crate::support::client()
        .get(&path)
        .bearer_auth(token)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.expect("file bytes");
    assert_eq!(sha256(&bytes), digest, "customer {id}'s file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t74_files_no_record_names_are_swept_at_start_on_sqlite() {
    unrecorded_files_swept(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t74_files_no_record_names_are_swept_at_start_on_postgres() {
    unrecorded_files_swept(Backend::Postgres).await;
}

/// Dates a file's last write `ago` back.
fn age(path: &Path, ago: Duration) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open to age");
    file.set_modified(std::time::SystemTime::now() - ago)
        .expect("set mtime");
}

/// Low 16: a file in `objects/` that no media row names (a write killed after keeping its
/// file, before its commit) is swept at the next start once older than the grace period;
/// recorded files, young ones and names Kring never gives stay.
async fn unrecorded_files_swept(backend: Backend) {
    let Some(deployment) = Deployment::new(backend).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let token = deployment.token.clone();
    let mut server = deployment.serve(&[]).await;
    let field = file_field(&server, &token).await;
    let id = upload(&server, &token, customer_form(field, &distinct_pdf())).await;
    assert!(id.is_some(), "not acknowledged:\n{}", server.log_text());
    server.kill_9();

    let objects = deployment.files_dir.join("objects");
    let company = std::fs::read_dir(&objects)
        .expect("objects")
        .flatten()
        .next()
        .expect("the company's directory")
        .path();
    let recorded = std::fs::read_dir(&company)
        .expect("company files")
        .flatten()
        .next()
        .expect("the uploaded file")
        .path();
    let hour = Duration::from_secs(3600);
    let old_orphan = company.join("c".repeat(32));
    let young_orphan = company.join("d".repeat(32));
    let foreign = company.join("README");
    for path in [&old_orphan, &young_orphan, &foreign] {
        std::fs::write(path, b"left behind").expect("place a file");
    }
    for path in [&old_orphan, &foreign, &recorded] {
        age(path, 2 * hour);
    }

    server.restart().await;
    for _ in 0..100 {
        if !old_orphan.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!old_orphan.exists(), "not swept:\n{}", server.log_text());
    for kept in [&young_orphan, &foreign, &recorded] {
        assert!(kept.exists(), "{} went too", kept.display());
    }
}
