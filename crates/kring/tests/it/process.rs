//! `kring serve` as a child process, for what only a real process shows: SIGKILL (no flush, no
//! shutdown code runs), SIGTERM (the graceful path the binary takes), and a restart over the same
//! database and files directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Backend, fresh_database, unique};

/// A database with one company owner and a token for it, and a files directory, both fresh.
pub struct Deployment {
    pub database_url: String,
    pub files_dir: PathBuf,
    pub token: String,
    /// The owner's email (their login, and the owner of OAuth clients made for them).
    pub email: String,
    /// Holds the SQLite file, the files directory and the servers' logs; removed on drop.
    pub dir: PathBuf,
}

impl Deployment {
    /// `None` when `backend` is PostgreSQL and `KRING_TEST_POSTGRES_URL` is not set.
    pub async fn new(backend: Backend) -> Option<Deployment> {
        let (database_url, sqlite_dir) = fresh_database(backend).await?;
        let dir = sqlite_dir.unwrap_or_else(|| std::env::temp_dir().join(unique("kring-proc-")));
        std::fs::create_dir_all(&dir).expect("deployment dir");
        let (email, token) = owner_token(&database_url, "Crash Co").await;
        Some(Deployment {
            database_url,
            files_dir: dir.join("files"),
            token,
            email,
            dir,
        })
    }

    /// A SQLite deployment whose database and files live in `dir` (a small filesystem, T77).
    pub async fn sqlite_in(dir: &Path) -> Deployment {
        let database_url = format!("sqlite://{}", dir.join("kring.db").display());
        let (email, token) = owner_token(&database_url, "Crash Co").await;
        Deployment {
            database_url,
            files_dir: dir.join("files"),
            token,
            email,
            dir: dir.to_path_buf(),
        }
    }

    /// A deployment whose database is empty, not even migrated (T78); its token is empty.
    pub async fn unmigrated(backend: Backend) -> Option<Deployment> {
        let (database_url, sqlite_dir) = fresh_database(backend).await?;
        let dir = sqlite_dir.unwrap_or_else(|| std::env::temp_dir().join(unique("kring-proc-")));
        std::fs::create_dir_all(&dir).expect("deployment dir");
        Some(Deployment {
            database_url,
            files_dir: dir.join("files"),
            token: String::new(),
            email: String::new(),
            dir,
        })
    }

    /// Starts `kring serve` over this deployment and waits until it is ready.
    pub async fn serve(&self, extra: &[&str]) -> Server {
        let server = Server::spawn(self, extra, free_port());
        server.wait_ready().await;
        server
    }

    /// Starts `kring serve` logging at `filter` (`KRING_LOG`) instead of warnings only.
    pub async fn serve_logging(&self, extra: &[&str], filter: &str) -> Server {
        let mut server = Server::unlaunched(self, extra, free_port());
        server.filter = filter.to_string();
        server.launch();
        server.wait_ready().await;
        server
    }

    /// A token of the owner of another company, `company`, in the same database.
    pub async fn other_owner(&self, company: &str) -> String {
        owner_token(&self.database_url, company).await.1
    }

    /// Opens the database directly, for what the API does not show (counters, integrity).
    pub async fn db(&self) -> kring_server::Db {
        kring_server::Db::connect(&self.database_url)
            .await
            .expect("open the database")
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Migrates the database and makes an owner of `company`; their email and personal access
/// token.
async fn owner_token(database_url: &str, company: &str) -> (String, String) {
    let db = kring_server::Db::connect(database_url)
        .await
        .expect("connect");
    kring_server::migrate(&db).await.expect("migrate");
    let email = format!("{}@crash.test", unique("owner"));
    kring_server::admin::create_user(
        &db,
        company,
        "Owner",
        &email,
        "password123",
        "company_owner",
    )
    .await
    .expect("create the owner");
    let token = kring_server::admin::create_token(&db, &email, "crash")
        .await
        .expect("create a token");
    db.close().await;
    (email, token)
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe a port");
    probe.local_addr().expect("probe address").port()
}

/// One `kring serve` child process; killed with SIGKILL when dropped.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    port: u16,
    args: Vec<String>,
    database_url: String,
    files_dir: PathBuf,
    log: PathBuf,
    /// `KRING_LOG` for the process.
    filter: String,
}

impl Server {
    /// Spawns the binary without waiting for it to be ready (T78 kills it during start-up).
    pub fn spawn(deployment: &Deployment, extra: &[&str], port: u16) -> Server {
        let mut server = Self::unlaunched(deployment, extra, port);
        server.launch();
        server
    }

    fn unlaunched(deployment: &Deployment, extra: &[&str], port: u16) -> Server {
        Server {
            child: None,
            base: format!("http://127.0.0.1:{port}"),
            port,
            args: extra.iter().map(|a| a.to_string()).collect(),
            database_url: deployment.database_url.clone(),
            files_dir: deployment.files_dir.clone(),
            log: deployment.dir.join(unique("serve-")).with_extension("log"),
            filter: "warn".into(),
        }
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(&self.log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_kring"))
            .arg("serve")
            .args(["--bind", &format!("127.0.0.1:{}", self.port)])
            .args(self.default_limits())
            .arg("--files-dir")
            .arg(&self.files_dir)
            .args(&self.args)
            .env("KRING_DATABASE_URL", &self.database_url)
            .env("KRING_LOG", &self.filter)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn kring serve");
        self.child = Some(child);
    }

    /// Limits high enough that a test's own requests never meet them, unless the test sets a
    /// rate limit itself.
    fn default_limits(&self) -> Vec<&'static str> {
        if self.args.iter().any(|a| a == "--rate-limit") {
            vec![]
        } else {
            vec!["--rate-limit", "1000000", "--concurrency-limit", "10000"]
        }
    }

    /// Waits (at most 30 s) until `/ready` answers 200.
    pub async fn wait_ready(&self) {
        let client = crate::support::client();
        for _ in 0..300 {
            let ready = client.get(format!("{}/ready", self.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("kring serve never became ready:\n{}", self.log_text());
    }

    /// SIGKILL: the process is gone at once, no shutdown code runs.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
        }
    }

    /// SIGTERM: the graceful path (stop accepting, finish in-flight requests, exit).
    pub fn terminate(&self) {
        let child = self.child.as_ref().expect("a running server");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "SIGTERM sent");
    }

    /// Waits (at most 30 s) for the process to exit; its status.
    pub async fn exit_status(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("a running server");
        for _ in 0..300 {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("kring serve did not exit:\n{}", self.log_text());
    }

    /// Starts the binary again on the same port, database and files, and waits until ready.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server before restarting it");
        self.launch();
        self.wait_ready().await;
    }

    /// What the server wrote to stderr (warnings and errors), for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn files_dir(&self) -> &Path {
        &self.files_dir
    }

    /// One JSON request; the status and the body (`Null` when empty).
    pub async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = crate::support::client()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, token, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, token, path, Some(&body))
            .await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PATCH, token, path, Some(&body))
            .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_9();
    }
}
