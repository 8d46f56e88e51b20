//! The request pipeline (DESIGN §6): a request is authenticated once, by one statement that
//! reads the token, its user and the role's permissions; every check after that is pure, so a
//! refused request costs that one statement and no more.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(
    a_request_authenticates_with_one_statement,
    checks_after_authentication_read_nothing,
    the_principal_comes_before_the_path,
    every_routed_resource_can_be_subscribed_to,
    a_create_is_a_fixed_number_of_statements,
    a_page_reads_its_rows_and_total_in_one_statement
);

/// The statements the pools ran for one request.
async fn reads_of(
    app: &TestApp,
    method: &str,
    token: &str,
    path: &str,
    expected: StatusCode,
) -> u64 {
    let before = app.db.reads();
    app.expect(expected, method, token, path, None).await;
    app.db.reads() - before
}

/// The principal is one statement, none while it is remembered; a show of one record with no
/// relations is one more, and a
/// show that reaches other resources (whose permissions a plan must have) is still one more per
/// loaded level, not one more for the permissions.
async fn a_request_authenticates_with_one_statement(app: TestApp) {
    let token = app.owner().await;
    let body = json!({"name": "Once BV"});
    let customer = app
        .expect(
            StatusCode::CREATED,
            "POST",
            &token,
            "/api/customer",
            Some(body),
        )
        .await;
    let id = customer["id"].as_i64().expect("id");

    let fresh = app.owner().await;
    let me = reads_of(&app, "GET", &fresh, "/api/user/me", StatusCode::OK).await;
    assert_eq!(me, 2, "the principal, then the user");
    let again = reads_of(&app, "GET", &fresh, "/api/user/me", StatusCode::OK).await;
    assert_eq!(again, 1, "the user: the principal is remembered");
    let plain = format!("/api/customer/{id}");
    let shown = reads_of(&app, "GET", &token, &plain, StatusCode::OK).await;
    let with_user = format!("/api/customer/{id}?with=user");
    let embedded = reads_of(&app, "GET", &token, &with_user, StatusCode::OK).await;
    assert_eq!(
        embedded,
        shown + 1,
        "a reached resource costs its level only, its permission is the principal's"
    );
    let feed = reads_of(&app, "GET", &token, "/api/changes", StatusCode::OK).await;
    assert_eq!(
        feed, 1,
        "the events it may read: the principal is remembered"
    );
}

/// Refusals decided by the principal cost the one statement that resolved it, or none once it
/// is remembered: a missing
/// permission, a relation the role may not read, a ManageIt method spoofed by a viewer, a plan
/// over another resource, and a write that never reaches the body.
async fn checks_after_authentication_read_nothing(app: TestApp) {
    let owner = app.owner().await;
    let body = json!({"name": "Seen BV"});
    let customer = app
        .expect(
            StatusCode::CREATED,
            "POST",
            &owner,
            "/api/customer",
            Some(body),
        )
        .await;
    let id = customer["id"].as_i64().expect("id");
    let viewer = app.user("Acme", "company_viewer").await;
    let role = json!({"name": "customers only", "permissions": ["customer.view"]});
    app.expect(StatusCode::CREATED, "POST", &owner, "/api/role", Some(role))
        .await;
    let narrow = app.user("Acme", "customers only").await;

    let refusals = [
        ("POST", &viewer, "/api/customer".to_string()),
        ("PATCH", &viewer, format!("/api/customer/{id}")),
        ("DELETE", &viewer, format!("/api/customer/{id}")),
        ("POST", &viewer, format!("/api/customers/{id}")),
        ("GET", &narrow, "/api/contact".to_string()),
        ("GET", &narrow, "/api/customer?with=contacts".to_string()),
        (
            "GET",
            &narrow,
            "/api/customer?filter=tasks.name:eq:x".to_string(),
        ),
        ("GET", &narrow, format!("/api/customer/{id}?count=notes")),
    ];
    let mut seen = std::collections::HashSet::new();
    for (method, token, path) in refusals {
        let reads = reads_of(&app, method, token, &path, StatusCode::FORBIDDEN).await;
        let first = seen.insert(token.clone());
        assert_eq!(reads, u64::from(first), "{method} {path}");
    }
    let (status, body) = app
        .send("GET", Some("kring_pat_nope"), "/api/customer", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

/// Both dialects authenticate before they read the record's id: no token is 401 whatever the
/// path names; with one, an id that names nothing is 404.
async fn the_principal_comes_before_the_path(app: TestApp) {
    let token = app.owner().await;
    for path in [
        "/api/customers/abc",
        "/api/custom-fields/abc",
        "/api/customer/abc",
    ] {
        let (status, body) = app.send("PATCH", None, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        let body = Some(json!({}));
        app.expect(StatusCode::NOT_FOUND, "PATCH", &token, path, body)
            .await;
    }
}

/// The events a webhook may subscribe to come from the registry: every routed resource's
/// create, update and delete (a singleton is only updated), nothing a resource cannot record.
async fn every_routed_resource_can_be_subscribed_to(app: TestApp) {
    let token = app.owner().await;
    let subscribe = |event: &str| Some(json!({"url": "https://example.com/hook", "event": event}));
    for event in [
        "user.created",
        "role.deleted",
        "template.updated",
        "setting.updated",
    ] {
        app.expect(
            StatusCode::CREATED,
            "POST",
            &token,
            "/api/webhook",
            subscribe(event),
        )
        .await;
    }
    for event in ["setting.created", "subtask.created", "customer.archived"] {
        let refused = app
            .expect(
                StatusCode::UNPROCESSABLE_ENTITY,
                "POST",
                &token,
                "/api/webhook",
                subscribe(event),
            )
            .await;
        assert!(refused["errors"]["event"].is_array(), "{event}: {refused}");
    }
}

/// A create's transaction: `BEGIN`, the company's custom fields, the row (whose triggers keep
/// its counter and the company's data version), its activity entry, its event (which fills the
/// webhook outbox in the same statement) and `COMMIT`; on PostgreSQL also the lock that orders
/// the company's events. However many
/// subscriptions the event has, each gets its delivery.
async fn a_create_is_a_fixed_number_of_statements(app: TestApp) {
    let token = app.owner().await;
    let create = |name: &str| Some(json!({ "name": name }));
    app.expect(
        StatusCode::CREATED,
        "POST",
        &token,
        "/api/customer",
        create("Warm BV"),
    )
    .await;
    let mut hooks = Vec::new();
    for n in 0..3 {
        let hook =
            json!({"url": format!("https://example.com/hook/{n}"), "event": "customer.created"});
        let made = app
            .expect(
                StatusCode::CREATED,
                "POST",
                &token,
                "/api/webhook",
                Some(hook),
            )
            .await;
        hooks.push(made["id"].as_i64().expect("id"));
    }
    let before = app.db.transaction_statements();
    app.expect(
        StatusCode::CREATED,
        "POST",
        &token,
        "/api/customer",
        create("Counted BV"),
    )
    .await;
    let statements = app.db.transaction_statements() - before;
    let expected = match app.db.backend() {
        kring_server::db::Backend::Sqlite => 6,
        kring_server::db::Backend::Postgres => 7,
    };
    assert_eq!(statements, expected);
    for hook in hooks {
        let (_, deliveries) = app
            .get(&token, &format!("/api/webhook/{hook}/deliveries"))
            .await;
        assert_eq!(deliveries["total"], 1, "{deliveries}");
    }
}

/// An unfiltered page reads its rows and its `total` (the company's counter) in one statement;
/// a page past the last record, which has no row to carry the counter, reads it after.
async fn a_page_reads_its_rows_and_total_in_one_statement(app: TestApp) {
    let owner = app.owner().await;
    for name in ["One BV", "Two BV", "Three BV"] {
        app.expect(
            StatusCode::CREATED,
            "POST",
            &owner,
            "/api/customer",
            Some(json!({"name": name})),
        )
        .await;
    }
    for (path, statements, shown) in [
        ("/api/customer?limit=2", 1, 2),
        ("/api/customer?limit=2&offset=2", 1, 1),
        ("/api/customer?limit=2&offset=5", 2, 0),
    ] {
        let before = app.db.reads();
        let (status, page) = app.get(&owner, path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(app.db.reads() - before, statements, "{path}");
        assert_eq!(page["total"], 3, "{path}");
        assert_eq!(page["data"].as_array().map(Vec::len), Some(shown), "{path}");
    }
}
