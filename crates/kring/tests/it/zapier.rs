//! The Zapier integration (`integrations/zapier`) against this server through its own offline
//! tests (`node --test` with zapier-platform-core's app tester): REST-hook subscribe and
//! unsubscribe, Kring's real deliveries to a loopback receiver read by each trigger, the create
//! and update actions, samples, and OAuth with PKCE. Skipped until `npm ci` has installed the
//! integration's packages, unless `KRING_TEST_INTEROP` is set (as CI sets it).

use std::path::Path;
use std::time::Duration;

use crate::support::{Backend, TestApp, available};

const APP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../integrations/zapier");
const EMAIL: &str = "zapier@acme.test";
/// The password `TestApp::user_with_email` gives every user, for the consent page.
const PASSWORD: &str = "password123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zapier_integration_offline_tests() {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = Path::new(APP_DIR)
        .join("node_modules/zapier-platform-core")
        .is_dir();
    if !available("node", node)
        || !available("integrations/zapier/node_modules (npm ci)", installed)
    {
        return;
    }
    // The integration's receiver listens on loopback, which Kring refuses to deliver to unless
    // told otherwise.
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| {
        c.rate_limit = 1_000_000;
        c.concurrency_limit = 10_000;
        c.webhook_allow_private = true;
    })
    .await
    .unwrap();
    let token = app.user_with_email("Acme", "company_owner", EMAIL).await;
    // Acme works in English (a company's messages follow its `locale`, Dutch by default); the
    // integration asks for no language of its own.
    let english = Some(serde_json::json!({"locale": "en"}));
    app.expect(
        reqwest::StatusCode::OK,
        "PATCH",
        &token,
        "/api/setting",
        english,
    )
    .await;
    let run = tokio::process::Command::new("node")
        .arg("--test")
        .current_dir(APP_DIR)
        .env("KRING_URL", &app.base)
        .env("KRING_TOKEN", &token)
        .env("KRING_EMAIL", EMAIL)
        .env("KRING_PASSWORD", PASSWORD)
        .kill_on_drop(true)
        .output();
    // Each delivery is awaited for at most 15 s; a whole run takes a few seconds.
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("node --test finished within 5 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node --test failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // Every test ran: none skipped for a missing variable, and the files were found.
    for line in ["\n# fail 0\n", "\n# skipped 0\n"] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
    assert!(!stdout.contains("\n# tests 0\n"), "no test ran:\n{stdout}");
}
