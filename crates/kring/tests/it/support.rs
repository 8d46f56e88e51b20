//! The test harness: `TestApp` spawns Kring on `127.0.0.1:0` over a fresh database.

use std::path::PathBuf;

use kring_server::{AppState, Config, Db, admin, db};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    database_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<()>>,
    dir: Option<PathBuf>,
    /// Where this server keeps uploaded files.
    pub files_dir: PathBuf,
}

/// An HTTP client for talking to Kring (the TLS provider installed first, as reqwest needs).
/// The tests' HTTP client. It asks for English, as the tests' messages are written in it: a
/// request without `Accept-Language` gets its company's language, Dutch by default.
pub fn client() -> reqwest::Client {
    kring_server::install_tls_provider();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        reqwest::header::HeaderValue::from_static("en"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("a client")
}

pub fn unique(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random");
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{suffix}")
}

/// A database URL for a fresh, empty database on `backend`; `None` when PostgreSQL is not
/// configured for this run.
pub async fn fresh_database(backend: Backend) -> Option<(String, Option<PathBuf>)> {
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(unique("kring-test-"));
            std::fs::create_dir_all(&dir).expect("temp dir");
            Some((
                format!("sqlite://{}", dir.join("kring.db").display()),
                Some(dir),
            ))
        }
        Backend::Postgres => {
            let base = std::env::var("KRING_TEST_POSTGRES_URL")
                .ok()
                .filter(|u| !u.is_empty())?;
            let schema = unique("t_");
            let admin = Db::connect(&base)
                .await
                .expect("connect to KRING_TEST_POSTGRES_URL");
            let Db::Postgres { pool, .. } = &admin else {
                panic!("KRING_TEST_POSTGRES_URL is not PostgreSQL")
            };
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(pool)
                .await
                .expect("create schema");
            admin.close().await;
            let separator = if base.contains('?') { '&' } else { '?' };
            Some((
                format!("{base}{separator}options=-c%20search_path%3D{schema}"),
                None,
            ))
        }
    }
}

impl TestApp {
    /// A server over a fresh database. Its rate and concurrency limits are out of the way: the
    /// tests that are about limits set their own.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_configured(backend, |c| {
            c.rate_limit = 1_000_000;
            c.concurrency_limit = 10_000;
        })
        .await
    }

    /// A server over a fresh database, its configuration adjusted by `configure`.
    pub async fn spawn_configured(
        backend: Backend,
        configure: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let (database_url, dir) = fresh_database(backend).await?;
        Some(Self::start(database_url, dir, configure).await)
    }

    /// Shuts the server down as SIGTERM would (its webhook worker too) and waits until it has
    /// stopped; its database stays.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(serving) = self.serving.take() {
            let _ = serving.await;
        }
    }

    /// The URL of this server's database.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// A server over the database at `database_url` (one a test filled another way).
    pub async fn over(database_url: String) -> TestApp {
        Self::over_configured(database_url, |_| {}).await
    }

    /// [`TestApp::over`], its configuration adjusted by `configure`.
    pub async fn over_configured(
        database_url: String,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        Self::start(database_url, None, |c| {
            c.rate_limit = 1_000_000;
            c.concurrency_limit = 10_000;
            configure(c);
        })
        .await
    }

    /// Another server over this one's database (the second instance of a deployment).
    pub async fn sibling(&self, configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::start(self.database_url.clone(), None, configure).await
    }

    async fn start(
        database_url: String,
        dir: Option<PathBuf>,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        kring_server::init_test_logging();
        let mut config = Config::new(database_url.clone());
        config.files_dir = std::env::temp_dir().join(unique("kring-files-"));
        configure(&mut config);
        let files_dir = config.files_dir.clone();
        let state: AppState = kring_server::prepare(config).await.expect("prepare");
        let db = state.db.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            let _ = kring_server::serve(state, listener, async move {
                let _ = rx.await;
            })
            .await;
        });
        TestApp {
            base,
            client: client(),
            db,
            database_url,
            shutdown: Some(tx),
            serving: Some(serving),
            dir,
            files_dir,
        }
    }

    /// The loopback port this server listens on.
    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    /// `GET /ready` through `client` (this server's own, or one with a timeout): its status
    /// and body.
    pub async fn ready_with(&self, client: &reqwest::Client) -> (StatusCode, Value) {
        let response = client
            .get(format!("{}/ready", self.base))
            .send()
            .await
            .expect("ready");
        let status = response.status();
        (status, response.json().await.expect("json"))
    }

    pub async fn ready(&self) -> (StatusCode, Value) {
        self.ready_with(&self.client).await
    }

    /// The SQLite file this server uses, when it uses one.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.database_url
            .strip_prefix("sqlite://")
            .map(PathBuf::from)
    }

    /// A new user of `company` with `role`, and a token for it.
    pub async fn user(&self, company: &str, role: &str) -> String {
        let email = format!(
            "{}@{}.test",
            unique("u"),
            company.to_lowercase().replace(' ', "-")
        );
        self.user_with_email(company, role, &email).await
    }

    pub async fn user_with_email(&self, company: &str, role: &str, email: &str) -> String {
        admin::create_user(&self.db, company, "Test User", email, "password123", role)
            .await
            .expect("create user");
        admin::create_token(&self.db, email, "test")
            .await
            .expect("create token")
    }

    pub async fn owner(&self) -> String {
        self.user("Acme", "company_owner").await
    }

    pub async fn send(
        &self,
        method: &str,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    /// Sends a request and asserts its status, naming the request and the body it got when the
    /// status is another; returns the body.
    pub async fn expect(
        &self,
        status: StatusCode,
        method: &str,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (got, answer) = self.send(method, Some(token), path, body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        answer
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send("GET", Some(token), path, None).await
    }
    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send("POST", Some(token), path, Some(body)).await
    }
    pub async fn patch(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send("PATCH", Some(token), path, Some(body)).await
    }
    pub async fn delete(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send("DELETE", Some(token), path, None).await
    }

    /// Writes straight to the database, for states the API never makes (data written by an
    /// older version).
    pub async fn execute(&self, sql: &'static str) {
        let mut tx = self.db.begin().await.expect("begin");
        tx.execute(&db::Raw::new(sql, vec![]))
            .await
            .expect("execute");
        tx.commit().await.expect("commit");
    }

    /// Reads straight from the database, for what the API does not expose (yet).
    pub async fn query(
        &self,
        sql: &'static str,
        types: &[kring_core::schema::ColumnType],
    ) -> Vec<Vec<kring_core::Value>> {
        self.db
            .fetch(&db::Raw::new(sql, vec![]), types)
            .await
            .expect("query")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = std::fs::remove_dir_all(&self.files_dir);
    }
}

/// Runs each listed `async fn(TestApp)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await.expect("sqlite");
                super::$name(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::support::TestApp::spawn($crate::support::Backend::Postgres).await {
                    Some(app) => super::$name(app).await,
                    None => eprintln!("KRING_TEST_POSTGRES_URL is not set: PostgreSQL half skipped"),
                }
            }
        }
    )*};
}

/// `raw` percent-encoded for a URL: every byte but RFC 3986's unreserved ones as `%XX`.
pub fn encode(raw: &str) -> String {
    kring_core::form::percent_encode(raw, b"")
}

/// Waits until `done` holds, looking every 50 ms, or fails after `limit` naming `what`.
pub async fn wait_for(done: impl Fn() -> bool, limit: std::time::Duration, what: &str) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "gave up waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Whether an interop dependency is present; with `KRING_TEST_INTEROP` set (as CI sets it) a
/// missing one fails the test instead of skipping it.
pub fn available(what: &str, present: bool) -> bool {
    if !present && std::env::var_os("KRING_TEST_INTEROP").is_some() {
        panic!("{what} is required when KRING_TEST_INTEROP is set");
    }
    if !present {
        eprintln!("{what} is not installed: test skipped");
    }
    present
}

/// A headless Chromium driven through ChromeDriver's WebDriver API.
pub struct Browser {
    driver: tokio::process::Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

/// W3C WebDriver's key for an element reference.
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// A browser with Chromium's `extra` arguments besides headless ones.
    pub async fn start(extra: &[&str]) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = client();
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let args: Vec<&str> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
        ]
        .iter()
        .chain(extra)
        .copied()
        .collect();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let created = post_json(&http, &format!("{base}/session"), &capabilities).await;
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_string();
        Browser {
            driver,
            base,
            session,
            http,
        }
    }

    pub async fn command(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.base, self.session);
        post_json(&self.http, &url, &body).await["value"].clone()
    }

    pub async fn visit(&self, url: &str) {
        self.command("url", json!({ "url": url })).await;
    }

    pub async fn find(&self, css: &str) -> String {
        let found = self
            .command("element", json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no {css}: {found}"))
            .to_string()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(&format!("element/{element}/value"), json!({ "text": text }))
            .await;
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command(&format!("element/{element}/click"), json!({}))
            .await;
    }

    pub async fn quit(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
        let _ = self.driver.kill().await;
    }
}

/// The answer of a WebDriver command, as JSON.
async fn post_json(http: &reqwest::Client, url: &str, body: &Value) -> Value {
    http.post(url)
        .json(body)
        .send()
        .await
        .expect("chromedriver answers")
        .json()
        .await
        .expect("chromedriver's JSON")
}

impl Browser {
    /// Whether Chromium and ChromeDriver are installed (required under `KRING_TEST_INTEROP`).
    pub fn installed() -> bool {
        let present = std::path::Path::new("/usr/bin/chromium").exists()
            && std::process::Command::new("chromedriver")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
        available("chromium and chromedriver", present)
    }

    /// Waits up to ten seconds for an element matching `css`; its reference.
    pub async fn wait_for(&self, css: &str) -> String {
        for _ in 0..100 {
            let found = self
                .command("element", json!({"using": "css selector", "value": css}))
                .await;
            if let Some(element) = found[ELEMENT].as_str() {
                return element.to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no {css} within ten seconds")
    }

    /// What `script` returns in the page.
    pub async fn script(&self, script: &str) -> Value {
        self.command("execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    /// The page's console messages so far (CSP refusals and failed loads among them).
    pub async fn console(&self) -> Vec<String> {
        self.command("se/log", json!({ "type": "browser" }))
            .await
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| e["message"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}
