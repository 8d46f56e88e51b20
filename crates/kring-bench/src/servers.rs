//! The servers under test in processes of their own, each pinned to core 0 while the load
//! driver runs on core 1 (where `taskset` exists), so that neither takes the other's CPU.
//!
//! `kring-bench serve kring|ceiling DATABASE_URL FILES_DIR` is the child's side: it serves on
//! a loopback port and prints `listening http://…` once it is ready.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

/// The core the servers run on, and the driver's.
const SERVER_CORE: &str = "0";
const DRIVER_CORE: &str = "1";

pub fn taskset_exists() -> bool {
    Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Moves every thread of this process (the driver) to its core.
pub fn pin_driver() -> anyhow::Result<()> {
    let pid = std::process::id().to_string();
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", DRIVER_CORE, &pid])
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("taskset could not pin the driver");
    }
    Ok(())
}

/// A server process; killed when dropped.
pub struct Server {
    pub base: String,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kind` (`kring` or `ceiling`) on `url`, pinned when `pinned`.
pub fn spawn(
    kind: &str,
    url: &str,
    files: &std::path::Path,
    pinned: bool,
) -> anyhow::Result<Server> {
    let exe = std::env::current_exe()?;
    let mut command = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", SERVER_CORE]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let mut child = command
        .args(["serve", kind, url])
        .arg(files)
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("start the {kind} server"))?;
    let stdout = child.stdout.take().context("the server's stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let base = line
        .trim()
        .strip_prefix("listening ")
        .with_context(|| format!("the {kind} server said {line:?}"))?
        .to_string();
    Ok(Server { base, child })
}

/// The child's side of [`spawn`].
pub async fn serve(kind: &str, url: &str, files: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    match kind {
        "kring" => {
            let mut config = crate::unthrottled(url.to_string());
            config.files_dir = files.into();
            let state = kring_server::prepare(config).await.context("prepare")?;
            println!("listening {base}");
            kring_server::serve(state, listener, std::future::pending()).await?;
        }
        "ceiling" => {
            let app = crate::ceiling::router(url).await?;
            println!("listening {base}");
            axum::serve(listener, app).await?;
        }
        other => bail!("no server called {other}"),
    }
    Ok(())
}
