//! The command line: migrate (twice), user create, token create, serve with no configuration.

use std::process::Command;

use crate::support::{Backend, fresh_database};

fn kring(args: &[&str], envs: &[(&str, &str)], dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kring"))
        .args(args)
        .env_remove("KRING_DATABASE_URL")
        .envs(envs.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run kring")
}

const CREATE_CLI_USER: &[&str] = &[
    "user",
    "create",
    "--company",
    "CLI Co",
    "--name",
    "Cli",
    "--email",
    "cli@example.com",
    "--password",
    "password123",
];

async fn migrate_twice_then_create_user_and_token(backend: Backend) {
    let Some((url, _)) = fresh_database(backend).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: PostgreSQL half skipped");
        return;
    };
    let dir = std::env::temp_dir();
    let env = [("KRING_DATABASE_URL", url.as_str())];
    for _ in 0..2 {
        let out = kring(&["migrate"], &env, &dir);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = kring(CREATE_CLI_USER, &env, &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let user: serde_json::Value = serde_json::from_slice(&out.stdout).expect("user JSON on stdout");
    assert_eq!(user["email"], "cli@example.com");
    assert_eq!(user["role"], "company_owner");

    let out = kring(
        &[
            "token",
            "create",
            "--email",
            "cli@example.com",
            "--name",
            "ci",
        ],
        &env,
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let token = stdout.trim_end();
    assert!(
        token.starts_with("kring_pat_") && !token.contains(char::is_whitespace),
        "the token alone: {stdout:?}"
    );

    let duplicate = kring(CREATE_CLI_USER, &env, &dir);
    assert!(
        !duplicate.status.success(),
        "a second user with the same email is refused"
    );
    let unknown = kring(
        &["token", "create", "--email", "nobody@example.com"],
        &env,
        &dir,
    );
    assert!(!unknown.status.success());
}

#[tokio::test]
async fn migrate_twice_then_create_user_and_token_sqlite() {
    migrate_twice_then_create_user_and_token(Backend::Sqlite).await;
}

#[tokio::test]
async fn migrate_twice_then_create_user_and_token_postgres() {
    migrate_twice_then_create_user_and_token(Backend::Postgres).await;
}

/// `kring serve` with no configuration creates ./kring-data/kring.db, serves, and exits 0 on
/// SIGTERM.
#[tokio::test]
async fn serve_with_no_configuration_and_sigterm() {
    let dir = std::env::temp_dir().join(format!("kring-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        probe.local_addr().expect("addr").port()
    };
    let log = dir.join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kring"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_remove("KRING_DATABASE_URL")
        .env_remove("KRING_DATA_DIR")
        .env("KRING_LOG", "info")
        .current_dir(&dir)
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn");
    let client = crate::support::client();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/ready"))
            .send()
            .await
        {
            ready = r.status().is_success();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the server became ready");
    assert!(
        dir.join("kring-data/kring.db").exists(),
        "the default database was created"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
    // A log written to a file is plain text: no colour codes.
    let log = std::fs::read_to_string(&log).expect("log");
    assert!(log.contains("kring is listening"), "{log}");
    assert!(!log.contains('\x1b'), "{log:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kring seed` creates the demo company and its customers with their contacts, tasks and tier,
/// and keeps the counters exact.
#[tokio::test]
async fn seed_fills_a_demo_company() {
    let (url, dir) = fresh_database(Backend::Sqlite).await.expect("sqlite");
    let env = [("KRING_DATABASE_URL", url.as_str())];
    let here = std::env::temp_dir();
    for _ in 0..2 {
        let out = kring(&["seed", "--customers", "1234"], &env, &here);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = kring(
        &["token", "create", "--email", "demo@kring.test"],
        &env,
        &here,
    );
    assert!(out.status.success(), "the demo owner exists");
    let db = kring_server::Db::connect(&url).await.expect("db");
    let types = [kring_core::schema::ColumnType::Int; 9];
    let counts = db
        .fetch(
            &kring_server::db::Raw::new(
                "SELECT (SELECT COUNT(*) FROM customers), \
                        (SELECT total FROM resource_counts WHERE resource = 'customer'), \
                        (SELECT COUNT(*) FROM contacts WHERE customer_id IS NOT NULL), \
                        (SELECT total FROM resource_counts WHERE resource = 'contact'), \
                        (SELECT COUNT(*) FROM customer_contact), \
                        (SELECT COUNT(*) FROM tasks), \
                        (SELECT total FROM resource_counts WHERE resource = 'task'), \
                        (SELECT COUNT(*) FROM field_values), \
                        (SELECT COUNT(*) FROM fields)",
                vec![],
            ),
            &types,
        )
        .await
        .expect("count");
    let expected = [2468, 2468, 4936, 4936, 4936, 7404, 7404, 2468, 1];
    assert_eq!(
        counts[0],
        expected.map(kring_core::Value::Int).to_vec(),
        "customers, contacts, links, tasks, tier values, one tier field"
    );
    db.close().await;
    // A second demo company has an owner of its own.
    let out = kring(
        &["seed", "--customers", "2", "--company", "Second Demo Co"],
        &env,
        &here,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kring(
        &[
            "token",
            "create",
            "--email",
            "demo-second-demo-co@kring.test",
        ],
        &env,
        &here,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// `kring client create` prints the client's id and secret as JSON; a public client has no
/// secret; a bad redirect URI is refused.
#[tokio::test]
async fn client_create_prints_id_and_secret() {
    let (url, dir) = fresh_database(Backend::Sqlite).await.expect("sqlite");
    let env = [("KRING_DATABASE_URL", url.as_str())];
    let here = std::env::temp_dir();
    assert!(kring(CREATE_CLI_USER, &env, &here).status.success());
    let email = CREATE_CLI_USER
        .windows(2)
        .find(|w| w[0] == "--email")
        .map(|w| w[1])
        .expect("email");
    let create = |extra: &[&str]| {
        let mut args = vec!["client", "create", "--email", email, "--name", "Zapier"];
        args.extend_from_slice(extra);
        kring(&args, &env, &here)
    };
    let out = create(&["--redirect", "https://zapier.test/cb"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(client["client_id"].is_string());
    assert!(
        client["client_secret"]
            .as_str()
            .is_some_and(|s| s.len() >= 40)
    );
    let out = create(&["--redirect", "http://127.0.0.1:7000/cb", "--public"]);
    let client: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(client["client_secret"], serde_json::Value::Null);
    let out = create(&["--redirect", "http://evil.test/cb"]);
    assert!(!out.status.success(), "plain http is for loopback only");
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A database URL Kring cannot use is named in the error without its password.
#[test]
fn a_refused_database_url_is_shown_without_its_password() {
    let out = kring(
        &["migrate"],
        &[("KRING_DATABASE_URL", "mysql://kring:s3cret-pw@db:3306/crm")],
        &std::env::temp_dir(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("mysql://kring:***@db:3306/crm"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
}
