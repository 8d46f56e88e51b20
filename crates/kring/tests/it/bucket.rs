//! Files in an S3-compatible bucket, shared by two instances: moto's S3 server, with request
//! authentication on, checks every Signature V4 request Kring sends, and boto3 (an independent
//! client) reads back what Kring stored. Skipped without `moto_server` unless
//! `KRING_TEST_INTEROP` is set (as CI sets it).

use std::process::Stdio;

use kring_server::config::S3Config;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, available};

const BUCKET: &str = "kring-files";

/// A moto S3 server on a free loopback port, stopped when dropped.
struct Moto {
    endpoint: String,
    _child: tokio::process::Child,
}

impl Moto {
    async fn start() -> Option<Moto> {
        let present = std::process::Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available("moto_server (pip install 'moto[server]')", present) {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // The first four requests (the readiness probe, then making the IAM user, its policy
        // and key) need no signature; every later one is checked.
        let child = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client.get(&endpoint).send().await.is_ok() {
                return Some(Moto {
                    endpoint,
                    _child: child,
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("moto_server did not start");
    }

    /// Runs a boto3 script with `endpoint` bound; its stdout as JSON.
    async fn boto3(&self, script: &str) -> Value {
        let program = format!(
            "import boto3, hashlib, json, sys\nendpoint = {:?}\n{script}",
            self.endpoint
        );
        let output = tokio::process::Command::new("python3")
            .args(["-c", &program])
            .output()
            .await
            .expect("python3");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("JSON from the script")
    }

    /// An IAM user allowed everything, its access key, and the bucket made with that key.
    async fn credentials(&self) -> (String, String) {
        let keys = self
            .boto3(&format!(
                "iam = boto3.client('iam', endpoint_url=endpoint, aws_access_key_id='boot', \
                 aws_secret_access_key='boot', region_name='us-east-1')\n\
                 iam.create_user(UserName='kring')\n\
                 iam.put_user_policy(UserName='kring', PolicyName='all', PolicyDocument=json.dumps(\
                 {{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}}]}}))\n\
                 key = iam.create_access_key(UserName='kring')['AccessKey']\n\
                 s3 = boto3.client('s3', endpoint_url=endpoint, aws_access_key_id=key['AccessKeyId'], \
                 aws_secret_access_key=key['SecretAccessKey'], region_name='us-east-1')\n\
                 s3.create_bucket(Bucket='{BUCKET}')\n\
                 print(json.dumps([key['AccessKeyId'], key['SecretAccessKey']]))"
            ))
            .await;
        (
            keys[0].as_str().unwrap().to_string(),
            keys[1].as_str().unwrap().to_string(),
        )
    }

    /// Puts an object under each of `keys` straight into the bucket, past Kring.
    async fn put(&self, access: &(String, String), keys: &[&str]) {
        let puts: String = keys
            .iter()
            .map(|key| {
                format!("s3.put_object(Bucket='{BUCKET}', Key='{key}', Body=b'left behind')\n")
            })
            .collect();
        self.boto3(&format!(
            "s3 = boto3.client('s3', endpoint_url=endpoint, aws_access_key_id={:?}, \
             aws_secret_access_key={:?}, region_name='us-east-1')\n{puts}print('[]')",
            access.0, access.1
        ))
        .await;
    }

    /// `{key: sha256}` of every object in the bucket, read by boto3.
    async fn objects(&self, access: &(String, String)) -> Value {
        self.boto3(&format!(
            "s3 = boto3.client('s3', endpoint_url=endpoint, aws_access_key_id={:?}, \
             aws_secret_access_key={:?}, region_name='us-east-1')\n\
             found = s3.list_objects_v2(Bucket='{BUCKET}').get('Contents', [])\n\
             print(json.dumps({{o['Key']: hashlib.sha256(s3.get_object(Bucket='{BUCKET}', \
             Key=o['Key'])['Body'].read()).hexdigest() for o in found}}))",
            access.0, access.1
        ))
        .await
    }
}

fn bucket_config(moto: &Moto, access: &(String, String)) -> S3Config {
    S3Config {
        endpoint: moto.endpoint.clone(),
        bucket: BUCKET.into(),
        region: "us-east-1".into(),
        access_key_id: access.0.clone(),
        secret_access_key: access.1.clone(),
        virtual_host: false,
    }
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates a ManageIt customer `email` with a profile photo and nothing else optional.
async fn post_photo_customer(app: &TestApp, token: &str, email: &str) -> reqwest::Response {
    let form = Form::new()
        .text("email", email.to_string())
        .text("name", "P")
        .text("last_name", "P")
        .text("phone", "1")
        .text("business_information[company_name]", "P")
        .text("permissions[invoice][view-invoice]", "1")
        .part(
            "profile_photo_path",
            Part::bytes(PNG.to_vec()).file_name("me.png"),
        );
    app.client
        .post(format!("{}/api/customers", app.base))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("the customer's request")
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01";
const PDF: &[u8] = b"%PDF-1.7\n%%EOF\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_a_bucket() {
    kring_server::install_tls_provider();
    let Some(moto) = Moto::start().await else {
        return;
    };
    let access = moto.credentials().await;
    let backend = if std::env::var_os("KRING_TEST_POSTGRES_URL").is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let with_bucket = |c: &mut kring_server::Config| {
        c.rate_limit = 1_000_000;
        c.s3 = Some(bucket_config(&moto, &access));
    };
    let first = TestApp::spawn_configured(backend, with_bucket)
        .await
        .unwrap();
    let second = first.sibling(with_bucket).await;
    let token = first.owner().await;

    let (_, field) = first
        .post(
            &token,
            "/api/custom-fields",
            json!({"type": 9, "name": "Documents"}),
        )
        .await;
    let documents = field["data"]["id"].as_i64().unwrap();
    let form = Form::new()
        .text("email", "bucket@example.test")
        .text("name", "B")
        .text("last_name", "B")
        .text("phone", "1")
        .text("business_information[company_name]", "B")
        .text("permissions[invoice][view-invoice]", "1")
        .part(
            format!("custom_fields[{documents}][file_upload][files][]"),
            Part::bytes(PDF.to_vec()).file_name("contract.pdf"),
        )
        .part(
            "profile_photo_path",
            Part::bytes(PNG.to_vec()).file_name("me.png"),
        );
    let response = first
        .client
        .post(format!("{}/api/customers", first.base))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();

    // In the bucket, under generated names, byte for byte; nothing kept on local disk.
    let objects = moto.objects(&access).await;
    let mut hashes: Vec<&str> = objects
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    hashes.sort();
    let mut expected = vec![sha256(PDF), sha256(PNG)];
    expected.sort();
    assert_eq!(hashes, expected, "{objects}");
    assert!(!first.files_dir.join("objects").exists());

    // The other instance serves them.
    let photo = created["data"]["profile_photo_path"].as_str().unwrap();
    let path = photo.trim_start_matches(&first.base);
    let response = second
        .client
        .get(format!("{}{path}", second.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.bytes().await.unwrap().as_ref(), PNG);

    // Deleting the customer empties the bucket.
    let id = created["data"]["id"].as_i64().unwrap();
    let (status, _) = second.delete(&token, &format!("/api/customers/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut left = moto.objects(&access).await;
    for _ in 0..50 {
        if left.as_object().is_some_and(|o| o.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        left = moto.objects(&access).await;
    }
    assert_eq!(left, json!({}));

    // A bucket that refuses the key: the write fails whole, with a JSON 503.
    let wrong = first
        .sibling(|c| {
            c.rate_limit = 1_000_000;
            let mut config = bucket_config(&moto, &access);
            config.secret_access_key = "not-the-secret".into();
            c.s3 = Some(config);
        })
        .await;
    let response = post_photo_customer(&wrong, &token, "refused@example.test").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].is_string());
    let (_, list) = first.get(&token, "/api/customers").await;
    assert_eq!(list["data"], json!([]), "nothing half-written");
    assert_eq!(moto.objects(&access).await, json!({}));
}

/// Low 16: an object that no media row names (an upload killed between keeping its file and
/// committing) is swept once older than the grace period, at an instance's start; recorded
/// objects, young ones and keys Kring never gives stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrecorded_objects_are_swept_from_the_bucket() {
    kring_server::install_tls_provider();
    let Some(moto) = Moto::start().await else {
        return;
    };
    let access = moto.credentials().await;
    // Long enough that the young object is still young when the sweep comes, on a slow run.
    let grace = std::time::Duration::from_secs(6);
    let with_bucket = |c: &mut kring_server::Config| {
        c.rate_limit = 1_000_000;
        c.s3 = Some(bucket_config(&moto, &access));
        c.orphan_grace = grace;
    };
    let first = TestApp::spawn_configured(Backend::Sqlite, with_bucket)
        .await
        .unwrap();
    let token = first.owner().await;
    let response = post_photo_customer(&first, &token, "kept@example.test").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let recorded = moto.objects(&access).await;
    let recorded = recorded.as_object().unwrap().keys().next().unwrap().clone();
    let company = recorded.split('/').next().unwrap();
    let old_orphan = format!("{company}/{}", "a".repeat(32));
    moto.put(&access, &[&old_orphan, "notes/readme.txt"]).await;
    tokio::time::sleep(grace + std::time::Duration::from_millis(500)).await;
    let young_orphan = format!("{company}/{}", "b".repeat(32));
    moto.put(&access, &[&young_orphan]).await;

    // The next instance to start sweeps.
    let _second = first.sibling(with_bucket).await;
    let mut left = moto.objects(&access).await;
    for _ in 0..50 {
        if left.get(&old_orphan).is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        left = moto.objects(&access).await;
    }
    let mut keys: Vec<String> = left.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    let mut expected = vec![recorded, young_orphan, "notes/readme.txt".to_string()];
    expected.sort();
    assert_eq!(keys, expected, "{left}");
}

/// `kring move` with a bucket: a SQLite deployment's kept files go into the bucket under the
/// names their rows give, and the moved deployment, served from PostgreSQL with the bucket,
/// downloads the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_puts_the_kept_files_in_the_bucket() {
    kring_server::install_tls_provider();
    let Some((target, _)) = crate::support::fresh_database(crate::support::Backend::Postgres).await
    else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: the move is not tested");
        return;
    };
    let Some(moto) = Moto::start().await else {
        return;
    };
    let access = moto.credentials().await;
    let mut source = TestApp::spawn(crate::support::Backend::Sqlite)
        .await
        .expect("sqlite");
    let token = source.owner().await;
    let created = post_photo_customer(&source, &token, "moved@example.test").await;
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let created: Value = created.json().await.expect("JSON");
    let id = created["data"]["id"].as_i64().expect("id");
    source.stop().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kring"))
        .args(["move", "--from", source.database_url(), "--to", &target])
        .arg("--files-dir")
        .arg(&source.files_dir)
        .args(["--s3-endpoint", &moto.endpoint, "--s3-bucket", BUCKET])
        .args([
            "--s3-access-key-id",
            &access.0,
            "--s3-secret-access-key",
            &access.1,
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("kring move");
    let said = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        output.status.success() && said.contains("put 1 kept files in the bucket"),
        "{said}"
    );
    let objects = moto.objects(&access).await;
    assert_eq!(objects.as_object().map(|o| o.len()), Some(1), "{objects}");
    assert!(
        objects
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == &Value::String(sha256(PNG)))
    );

    let moved =
        TestApp::over_configured(target, |c| c.s3 = Some(bucket_config(&moto, &access))).await;
    let shown = moved
        .expect(
            reqwest::StatusCode::OK,
            "GET",
            &token,
            &format!("/api/customers/{id}"),
            None,
        )
        .await;
    let link = shown["data"]["profile_photo_path"]
        .as_str()
        .expect("a photo link");
    let photo = moved.client.get(link).send().await.expect("the photo");
    assert_eq!(photo.status(), reqwest::StatusCode::OK);
    assert_eq!(photo.bytes().await.expect("bytes").as_ref(), PNG);
}
