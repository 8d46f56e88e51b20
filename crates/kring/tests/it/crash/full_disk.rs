//! T77 on a real full disk: a small tmpfs holds the database and the files of a `kring serve`.
//! An upload that would not fit is refused before a byte of it is staged; once the disk is
//! full, writes answer 507 and `/ready` says not-ready while reads go on; when space returns,
//! writes and `/ready` recover without a restart. Mounting a tmpfs needs root: without it the
//! test says it was skipped (the page-cap T77 in `hardening.rs` still runs).

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::uploads::{customer_form, file_field, post_customer_form, staged};
use crate::process::Deployment;
use crate::support::unique;

const DISK_BYTES: u64 = 16 * 1024 * 1024;

/// A tmpfs mounted for one test; unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(bytes: u64) -> Option<Tmpfs> {
        let dir = std::env::temp_dir().join(unique("kring-full-"));
        std::fs::create_dir_all(&dir).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(Tmpfs(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fills `dir`'s filesystem with one file until `leave` bytes are free; the file.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![7u8; 64 * 1024];
    while free_bytes(dir) > leave + 64 * 1024 {
        if file.write_all(&chunk).is_err() {
            break;
        }
    }
    file.sync_all().expect("sync filler");
    path
}

fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|line| line.trim().parse().ok())
        .expect("df's free bytes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t77_a_real_full_disk_refuses_big_uploads_first_and_recovers_when_space_returns() {
    let Some(disk) = Tmpfs::mount(DISK_BYTES) else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let deployment = Deployment::sqlite_in(disk.path()).await;
    let server = deployment.serve(&[]).await;
    let token = &deployment.token;
    let field = file_field(&server, token).await;
    let upload = |form: Vec<u8>| post_customer_form(&server, token, form);

    // 18 MiB (within the upload limits) on a disk with less than that free: refused up
    // front, nothing staged.
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(18 * 1024 * 1024, b'x');
    let response = upload(customer_form(field, &big)).await.expect("upload");
    assert_eq!(response.status(), StatusCode::INSUFFICIENT_STORAGE);
    let body: Value = response.json().await.expect("json");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("to spare"), "{body}");
    assert!(staged(server.files_dir()).is_empty());
    // A small one fits.
    let response = upload(customer_form(field, b"%PDF-1.7\nsmall"))
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::CREATED);

    // Fill the disk: writes soon answer 507, reads go on, `/ready` says why it is not ready.
    let filler = fill(disk.path(), 128 * 1024);
    let text = "y".repeat(2000);
    let mut refused = None;
    for i in 0..2000 {
        let (status, body) = server
            .post(
                token,
                "/api/customer",
                json!({"name": format!("Filler {i}"), "description": text}),
            )
            .await;
        if status != StatusCode::CREATED {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("the disk filled up");
    assert_eq!(
        status,
        StatusCode::INSUFFICIENT_STORAGE,
        "{body}\n{}",
        server.log_text()
    );
    let (status, _) = server.get(token, "/api/customer?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    let ready = crate::support::client()
        .get(format!("{}/ready", server.base))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = ready.json().await.expect("json");
    assert!(
        ready["checks"]["database_writes"]
            .as_str()
            .unwrap_or_default()
            .contains("storage full"),
        "{ready}"
    );

    // Space returns: `/ready` and writes recover with no restart.
    std::fs::remove_file(filler).expect("free the disk");
    server.wait_ready().await;
    let (status, body) = server
        .post(token, "/api/customer", json!({"name": "Room again"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
