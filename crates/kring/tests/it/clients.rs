//! Clients nobody here wrote, as integrations use them: PHP's ext/curl with `CURLFile` and
//! Guzzle, Python's `requests`, Node's built-in `fetch` and `FormData`. Each runs the same
//! story (a ManageIt multipart create with custom fields and a file, the file's signed link,
//! Cirqll JSON updates and filters in both dialects, a 422, a delete) from `tests/interop/`,
//! on both engines; without the tool a test skips, unless `KRING_TEST_INTEROP` is set.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{TestApp, available, unique};

backend_tests!(php_curl_and_guzzle, python_requests, node_fetch);

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

/// Whether `program` runs `check` successfully.
fn runs(program: &str, check: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(check)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `script` with `program` against `app` and checks its report.
async fn story(app: TestApp, program: &str, script: &str) {
    let token = app.owner().await;
    let mut ids = Vec::new();
    for body in [
        json!({"type": 1, "name": "Tier"}),
        json!({"type": 6, "name": "Colours", "fields": {"options": ["red", "blue", "green"]}}),
        json!({"type": 9, "name": "Documents", "fields": {"fileConfig": {"acceptFile": ["PDF"]}}}),
    ] {
        let created = app
            .expect(
                StatusCode::CREATED,
                "POST",
                &token,
                "/api/custom-fields",
                Some(body),
            )
            .await;
        ids.push(created["data"]["id"].as_i64().expect("id").to_string());
    }
    let pdf = std::env::temp_dir().join(format!("{}.pdf", unique("kring-client-")));
    std::fs::write(&pdf, PDF).expect("the PDF");
    let script = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(program)
        .arg(&script)
        .arg(&app.base)
        .arg(&token)
        .args(&ids)
        .arg(&pdf)
        .output()
        .await
        .expect("the client runs");
    let _ = std::fs::remove_file(&pdf);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{program} {script}: {stderr}{stdout}"
    );
    let report: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    assert_eq!(
        report,
        json!({
            "created": 201, "colours": ["red", "blue"], "file_name": "contract.pdf",
            "download": 200, "same_bytes": true, "patched": 200, "filtered": 1,
            "manageit_filtered": 1, "invalid": 422, "error_fields": ["email", "name"],
            "deleted": 204,
        }),
        "{stderr}"
    );
}

async fn php_curl_and_guzzle(app: TestApp) {
    let guzzle = std::path::Path::new("/usr/share/php/GuzzleHttp/autoload.php").exists();
    let php = runs(
        "php",
        &["-r", "exit(function_exists('curl_init') ? 0 : 1);"],
    ) && guzzle;
    if available(
        "php with ext/curl and Guzzle (php-cli, php-curl, php-guzzlehttp-guzzle)",
        php,
    ) {
        story(app, "php", "php_clients.php").await;
    }
}

async fn python_requests(app: TestApp) {
    if available(
        "python3 with requests",
        runs("python3", &["-c", "import requests"]),
    ) {
        story(app, "python3", "python_requests.py").await;
    }
}

async fn node_fetch(app: TestApp) {
    let fetch = runs(
        "node",
        &["-e", "process.exit(typeof FormData === 'function' ? 0 : 1)"],
    );
    if available("node 18 or later (fetch, FormData)", fetch) {
        story(app, "node", "node_fetch.mjs").await;
    }
}
