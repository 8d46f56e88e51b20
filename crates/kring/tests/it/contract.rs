//! The OpenAPI document against the server: it names every route the router serves and
//! nothing else, each documented operation is answered by a handler (never the router's 404 or
//! 405), it validates as OpenAPI 3.1 with a validator nobody here wrote, and `/docs` serves a
//! page whose files all come from this server.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;

use crate::backend_tests;
use crate::support::{Backend, Browser, TestApp, available, unique};

backend_tests!(
    every_documented_operation_is_served,
    the_document_validates_as_openapi_3_1,
    the_docs_page_comes_from_this_server,
    schemathesis_finds_nothing,
    a_token_request_that_cannot_be_read_is_an_oauth_error,
    a_generated_typescript_client_runs_a_story
);

/// Each path with its methods, sorted, from either side.
fn by_path(
    routes: impl IntoIterator<Item = (String, Vec<String>)>,
) -> BTreeMap<String, Vec<String>> {
    routes
        .into_iter()
        .map(|(path, mut methods)| {
            methods.sort();
            (path, methods)
        })
        .collect()
}

#[test]
fn the_document_names_every_served_route_with_its_methods() {
    let served = by_path(kring_server::routes::served().into_iter().map(|route| {
        let methods = route.methods().map(str::to_string).collect();
        (route.path, methods)
    }));
    let documented = by_path(kring_server::openapi::documented());
    let missing: Vec<_> = served
        .iter()
        .filter(|(path, methods)| documented.get(*path) != Some(methods))
        .collect();
    let extra: Vec<_> = documented
        .iter()
        .filter(|(path, methods)| served.get(*path) != Some(methods))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "served but not documented (or with other methods): {missing:?}\ndocumented but not served: {extra:?}"
    );
}

/// `{id}`-like segments filled with a value the route accepts the shape of.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{id}" | "{delivery}" => "1".to_string(),
            "{uuid}" => "00000000-0000-4000-8000-000000000000".to_string(),
            "{file}" => "swagger-ui.css".to_string(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn every_documented_operation_is_served(app: TestApp) {
    let token = app.owner().await;
    let (status, served) = app.get(&token, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, kring_server::openapi::document());
    let not_found = "could not be found";
    for (path, methods) in kring_server::openapi::documented() {
        for method in methods {
            let url = concrete(&path);
            let (status, body) = app.send(&method, Some(&token), &url, None).await;
            // A handler may answer 405 itself where the document says so (a ManageIt form
            // post without `_method`); the router's 405 is never documented.
            let documented_405 =
                served["paths"][&path][method.to_lowercase()]["responses"]["405"].is_object();
            let routed_away = (status == StatusCode::METHOD_NOT_ALLOWED && !documented_405)
                || (status == StatusCode::NOT_FOUND
                    && body["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("route") && m.contains(not_found)));
            assert!(
                !routed_away,
                "{method} {url}: the router did not serve it: {status} {body}"
            );
            assert!(!status.is_server_error(), "{method} {url}: {status} {body}");
        }
    }
}

async fn the_document_validates_as_openapi_3_1(app: TestApp) {
    let validator = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .status()
        .is_ok_and(|s| s.success());
    if !available("python3 with openapi-spec-validator", validator) {
        return;
    }
    let document = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .expect("the document")
        .text()
        .await
        .expect("its text");
    let file = std::env::temp_dir().join(format!("{}.json", unique("kring-openapi-")));
    std::fs::write(&file, &document).expect("write the document");
    let output = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("the validator runs");
    let _ = std::fs::remove_file(&file);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success() && said.contains("OK"), "{said}");
    lint(&document).await;
    let parsed: Value = serde_json::from_str(&document).expect("JSON");
    assert_eq!(parsed["openapi"], "3.1.0");
    for name in [
        "CustomerResponse",
        "CustomerRequestStore",
        "CustomerRequestUpdate",
        "Pagination",
        "Exception",
    ] {
        assert!(parsed["components"]["schemas"][name].is_object(), "{name}");
    }
}

/// Redocly's linter with its recommended rules (`integrations/openapi/redocly.yaml`): no error
/// and no warning.
async fn lint(document: &str) {
    let package = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../integrations/openapi"
    ));
    let redocly = package.join("node_modules/.bin/redocly");
    if !available(
        "integrations/openapi's npm packages (Redocly)",
        redocly.exists(),
    ) {
        return;
    }
    let file = std::env::temp_dir().join(format!("{}.json", unique("kring-lint-")));
    std::fs::write(&file, document).expect("write the document");
    let config = package.join("redocly.yaml");
    let output = tokio::process::Command::new(&redocly)
        .arg("lint")
        .arg("--config")
        .arg(&config)
        .arg(&file)
        .output()
        .await
        .expect("redocly runs");
    let _ = std::fs::remove_file(&file);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.contains("Your API description is valid"),
        "{said}"
    );
    // With a problem Redocly ends "You have N warnings"; Node's own banner says "warning" too.
    assert!(!said.contains("You have"), "{said}");
}

async fn the_docs_page_comes_from_this_server(app: TestApp) {
    let page = app
        .client
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .expect("the page");
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("a policy")
        .to_string();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
    let html = page.text().await.expect("html");
    let sources: Vec<&str> = html
        .split(['"', '\''])
        .filter(|piece| piece.starts_with("/docs/"))
        .collect();
    assert!(sources.len() >= 3, "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    for source in sources {
        let file = app
            .client
            .get(format!("{}{source}", app.base))
            .send()
            .await
            .expect("a file");
        assert_eq!(file.status(), StatusCode::OK, "{source}");
        let body = file.text().await.expect("its text");
        assert!(body.len() > 20, "{source}");
        if source.ends_with("initializer.js") {
            assert!(body.contains("/openapi.json"), "{body}");
        }
    }
}

/// Schemathesis, against a company with demo data: every operation, with its response checks
/// (no server error; statuses, content types, headers and bodies as documented), generated
/// cases and stateful sequences over the document's links. A fixed seed, so a failure is the
/// same failure on the next run.
async fn schemathesis_finds_nothing(app: TestApp) {
    let installed = std::process::Command::new("st")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available("schemathesis (`st`)", installed) {
        return;
    }
    let token = app.owner().await;
    kring_server::seed::demo(&app.db, "Acme", 25)
        .await
        .expect("demo data");
    let me = app
        .expect(StatusCode::OK, "GET", &token, "/api/me", None)
        .await;
    let hooks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
    let workdir = std::env::temp_dir().join(unique("kring-schemathesis-"));
    std::fs::create_dir_all(&workdir).expect("a folder for the run");
    let output = tokio::process::Command::new("st")
        .args(["run", &format!("{}/openapi.json", app.base)])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", "8", "--workers", "2", "--seed", "20261207"])
        .args(["--no-color"])
        // Its cache of earlier cases stays out of the repository, one per run.
        .current_dir(&workdir)
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", hooks)
        .env("KRING_OWN_USER_ID", me["id"].to_string())
        .output()
        .await
        .expect("schemathesis runs");
    let _ = std::fs::remove_dir_all(&workdir);
    let said = String::from_utf8_lossy(&output.stdout);
    let summary = said
        .rfind("SUMMARY")
        .and_then(|at| said.get(at..))
        .unwrap_or(&said);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{}\n{}",
        said.chars().take(20_000).collect::<String>(),
        String::from_utf8_lossy(&output.stderr)
    );
    let generated: u64 = summary
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|pair| pair.get(1).is_some_and(|w| w.starts_with("generated")))
        .find_map(|pair| pair.first()?.parse().ok())
        .unwrap_or(0);
    assert!(generated >= 5_000, "only {generated} cases: {summary}");
}

/// Found by Schemathesis: a token request whose form held a NUL character was answered with
/// Kring's own `{"message"}`, which no OAuth client parses; it is RFC 6749's
/// `invalid_request` now.
async fn a_token_request_that_cannot_be_read_is_an_oauth_error(app: TestApp) {
    let response = app
        .client
        .post(format!("{}/oauth/token", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=%00")
        .send()
        .await
        .expect("the request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(
        body["hint"].as_str().is_some_and(|h| h.contains("NUL")),
        "{body}"
    );
}

/// Runs `program` with `args` in `dir`; fails the test with what it said unless it succeeds.
async fn run_in(dir: &std::path::Path, program: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{program} {args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A client generated from the served document (`openapi-typescript` + `openapi-fetch`, from
/// npm) compiles against a story written to it (the compiler refusing a create without the
/// required `name`) and runs it: create, a filtered list, an update, a 422, a delete.
async fn a_generated_typescript_client_runs_a_story(app: TestApp) {
    let package = concat!(env!("CARGO_MANIFEST_DIR"), "/../../integrations/openapi");
    let package = std::path::Path::new(package);
    let tools = package.join("node_modules/.bin");
    let present = tools.join("openapi-typescript").exists() && tools.join("tsc").exists();
    if !available("integrations/openapi's npm packages", present) {
        return;
    }
    let token = app.owner().await;
    let dir = package.join("runs").join(unique("story-"));
    std::fs::create_dir_all(&dir).expect("a run folder");
    std::fs::copy(package.join("story.ts"), dir.join("story.ts")).expect("the story");
    let bin = |tool: &str| tools.join(tool).display().to_string();
    let document = format!("{}/openapi.json", app.base);
    run_in(
        &dir,
        &bin("openapi-typescript"),
        &[&document, "-o", "schema.d.ts"],
    )
    .await;
    run_in(
        &dir,
        &bin("tsc"),
        &[
            "--strict",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--target",
            "es2022",
            "--types",
            "node",
            "story.ts",
        ],
    )
    .await;
    let said = run_in(&dir, "node", &["story.js", &app.base, &token]).await;
    let _ = std::fs::remove_dir_all(&dir);
    let report: Value = serde_json::from_str(said.trim()).unwrap_or_else(|e| panic!("{e}: {said}"));
    assert_eq!(report["created"], 201, "{report}");
    assert_eq!(report["listed"], 1, "{report}");
    assert_eq!(
        report["names"],
        serde_json::json!(["Typed Client BV"]),
        "{report}"
    );
    assert_eq!(report["patched"], "+31 20 123 4567", "{report}");
    assert_eq!(report["invalid"], 422, "{report}");
    assert_eq!(
        report["error_fields"],
        serde_json::json!(["email", "name"]),
        "{report}"
    );
    assert_eq!(report["deleted"], 204, "{report}");
    assert_eq!(report["gone"], 404, "{report}");
}

/// `/docs` in headless Chromium that can resolve no host but this one: the page renders the
/// document (its title from `/openapi.json`), loads nothing from anywhere else, breaks no
/// content policy, and "Try it out" on `GET /health` gets the server's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_works_offline_in_a_browser() {
    if !Browser::installed() {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let browser =
        Browser::start(&["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]).await;
    browser.visit(&format!("{}/docs", app.base)).await;
    browser.wait_for(".swagger-ui .info .title").await;
    let title = browser
        .script("return document.querySelector('.swagger-ui .info .title').textContent")
        .await;
    assert!(
        title.as_str().is_some_and(|t| t.contains("Kring")),
        "{title}"
    );
    browser
        .click("#operations-server-Health .opblock-summary")
        .await;
    browser
        .wait_for("#operations-server-Health .try-out__btn")
        .await;
    browser
        .click("#operations-server-Health .try-out__btn")
        .await;
    browser.wait_for("#operations-server-Health .execute").await;
    browser.click("#operations-server-Health .execute").await;
    browser
        .wait_for("#operations-server-Health .live-responses-table tbody .response-col_status")
        .await;
    let status = browser
        .script("return document.querySelector('#operations-server-Health .live-responses-table tbody .response-col_status').textContent.trim()")
        .await;
    assert_eq!(status, "200", "try it out");
    let loaded = browser
        .script("return performance.getEntriesByType('resource').map(e => e.name)")
        .await;
    let loaded: Vec<String> = serde_json::from_value(loaded).expect("names");
    assert!(loaded.len() >= 4, "{loaded:?}");
    let elsewhere: Vec<&String> = loaded
        .iter()
        .filter(|url| !url.starts_with(&app.base))
        .collect();
    assert!(elsewhere.is_empty(), "loaded from elsewhere: {elsewhere:?}");
    let console = browser.console().await;
    let refused: Vec<&String> = console
        .iter()
        .filter(|m| {
            m.contains("Content Security Policy")
                || m.contains("Failed to load")
                || m.contains("ERR_")
        })
        .collect();
    browser.quit().await;
    assert!(refused.is_empty(), "{refused:?}");
}
