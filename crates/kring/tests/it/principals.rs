//! Remembered principals (issue 15): a token's next request costs no statement to
//! authenticate, and every change to what a token acts as is seen by its next request, on
//! this instance and, over PostgreSQL, on another one.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::privilege::{member, role};
use crate::support::{Backend, TestApp};

backend_tests!(
    a_token_seen_a_moment_ago_costs_no_statement,
    a_changed_role_or_permission_is_seen_by_the_next_request,
    a_deleted_user_is_refused_by_the_next_request
);

/// The statements the pools ran for one request.
async fn reads_of(app: &TestApp, token: &str, path: &str) -> u64 {
    let before = app.db.reads();
    app.expect(StatusCode::OK, "GET", token, path, None).await;
    app.db.reads() - before
}

/// A role with `permissions` and a member holding it: the role's id, the member's id and token.
async fn member_with(app: &TestApp, owner: &str, permissions: &[&str]) -> (i64, i64, String) {
    let role = role(app, owner, permissions).await;
    let (user, token) = member(app, owner, role).await;
    (role, user, token)
}

/// The first request of a token reads its principal; the next one, a moment later, does not.
/// With `--principal-cache 0` every request reads it.
async fn a_token_seen_a_moment_ago_costs_no_statement(app: TestApp) {
    let token = app.owner().await;
    let first = reads_of(&app, &token, "/api/user/me").await;
    let next = reads_of(&app, &token, "/api/user/me").await;
    assert_eq!(first, 2, "the principal, then the user");
    assert_eq!(next, 1, "the user only");

    let uncached = app
        .sibling(|c| c.principal_cache = std::time::Duration::ZERO)
        .await;
    let before = uncached.db.reads();
    for _ in 0..2 {
        uncached
            .expect(StatusCode::OK, "GET", &token, "/api/user/me", None)
            .await;
    }
    assert_eq!(uncached.db.reads() - before, 4, "two statements each");
}

/// A member whose role loses a permission, or who is given another role, is refused by the
/// very next request, though its principal was remembered.
async fn a_changed_role_or_permission_is_seen_by_the_next_request(app: TestApp) {
    let owner = app.owner().await;
    let (role, user, token) = member_with(&app, &owner, &["customer.view", "contact.view"]).await;
    app.expect(StatusCode::OK, "GET", &token, "/api/customer", None)
        .await;
    app.expect(
        StatusCode::OK,
        "PATCH",
        &owner,
        &format!("/api/role/{role}"),
        Some(json!({"permissions": ["contact.view"]})),
    )
    .await;
    app.expect(StatusCode::FORBIDDEN, "GET", &token, "/api/customer", None)
        .await;
    app.expect(StatusCode::OK, "GET", &token, "/api/contact", None)
        .await;

    let (other, ..) = member_with(&app, &owner, &["customer.view"]).await;
    app.expect(
        StatusCode::OK,
        "PATCH",
        &owner,
        &format!("/api/user/{user}"),
        Some(json!({"role_id": other})),
    )
    .await;
    app.expect(StatusCode::FORBIDDEN, "GET", &token, "/api/contact", None)
        .await;
    app.expect(StatusCode::OK, "GET", &token, "/api/customer", None)
        .await;
}

/// A deleted user's token is refused by its next request.
async fn a_deleted_user_is_refused_by_the_next_request(app: TestApp) {
    let owner = app.owner().await;
    let (_, user, token) = member_with(&app, &owner, &["customer.view"]).await;
    app.expect(StatusCode::OK, "GET", &token, "/api/customer", None)
        .await;
    app.expect(
        StatusCode::NO_CONTENT,
        "DELETE",
        &owner,
        &format!("/api/user/{user}"),
        None,
    )
    .await;
    app.expect(
        StatusCode::UNAUTHORIZED,
        "GET",
        &token,
        "/api/customer",
        None,
    )
    .await;
}

/// Over PostgreSQL a change made through one instance reaches another's remembered principals
/// through its listener, well within a remembering time of a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_forgets_at_once_on_postgres() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let other = app
        .sibling(|c| c.principal_cache = std::time::Duration::from_secs(60))
        .await;
    let owner = app.owner().await;
    let (role, _, token) = member_with(&app, &owner, &["customer.view"]).await;
    // The listener connects as the instance starts; until then nothing is remembered.
    let started = std::time::Instant::now();
    loop {
        let before = other.db.reads();
        other
            .expect(StatusCode::OK, "GET", &token, "/api/customer", None)
            .await;
        other
            .expect(StatusCode::OK, "GET", &token, "/api/customer", None)
            .await;
        let cost = other.db.reads() - before;
        if cost < 2 * 3 {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 10,
            "the other instance never remembered"
        );
    }
    app.expect(
        StatusCode::OK,
        "PATCH",
        &owner,
        &format!("/api/role/{role}"),
        Some(json!({"permissions": []})),
    )
    .await;
    let changed = std::time::Instant::now();
    loop {
        let (status, _) = other.get(&token, "/api/customer").await;
        if status == StatusCode::FORBIDDEN {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            changed.elapsed() < std::time::Duration::from_secs(5),
            "the other instance kept the old principal"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
