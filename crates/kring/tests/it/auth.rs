//! Authentication, permissions and tenant isolation (DESIGN §3; security plan T16).

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(
    t01_unauthenticated_requests_get_401,
    viewer_reads_but_cannot_write,
    t16_tenant_isolation
);

async fn t01_unauthenticated_requests_get_401(app: TestApp) {
    let cases: [(&str, Option<&str>); 4] = [
        ("GET", None),
        ("GET", Some("kring_pat_not-a-real-token")),
        ("POST", Some("")),
        ("DELETE", Some("garbage token with spaces")),
    ];
    for (method, token) in cases {
        let path = if method == "DELETE" {
            "/api/customer/1"
        } else {
            "/api/customer"
        };
        let response = {
            let mut request = app.client.request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                format!("{}{path}", app.base),
            );
            if let Some(token) = token {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            request.send().await.expect("send")
        };
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {token:?}"
        );
        // RFC 6750 §3.1: an error code only when a token was sent.
        let challenge = if token.is_some_and(|t| !t.is_empty()) {
            "Bearer realm=\"kring\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"kring\""
        };
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some(challenge),
            "{method} {token:?}"
        );
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body, json!({"message": "Unauthenticated."}));
    }
    let basic = app
        .client
        .get(format!("{}/api/customer", app.base))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .expect("send");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

async fn viewer_reads_but_cannot_write(app: TestApp) {
    let owner = app.user("Shared Co", "company_owner").await;
    let viewer = app.user("Shared Co", "company_viewer").await;
    let (_, created) = app
        .post(&owner, "/api/customer", json!({"name": "Visible"}))
        .await;
    let id = created["id"].as_i64().expect("id");

    let (status, list) = app.get(&viewer, "/api/customer").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1);
    assert_eq!(
        app.get(&viewer, &format!("/api/customer/{id}")).await.0,
        StatusCode::OK
    );

    let forbidden = json!({"message": "This action is unauthorized."});
    let (status, body) = app
        .post(&viewer, "/api/customer", json!({"name": "Nope"}))
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden.clone()));
    let (status, body) = app
        .patch(
            &viewer,
            &format!("/api/customer/{id}"),
            json!({"name": "Nope"}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden.clone()));
    let (status, body) = app.delete(&viewer, &format!("/api/customer/{id}")).await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, forbidden));
    assert_eq!(
        app.get(&owner, &format!("/api/customer/{id}")).await.1["name"],
        "Visible",
        "nothing changed"
    );
}

async fn t16_tenant_isolation(app: TestApp) {
    let a = app.user("Company A", "company_owner").await;
    let b = app.user("Company B", "company_owner").await;
    let (_, mine) = app
        .post(&a, "/api/customer", json!({"name": "A's customer"}))
        .await;
    let id = mine["id"].as_i64().expect("id");
    let (_, theirs) = app
        .post(&b, "/api/customer", json!({"name": "B's customer"}))
        .await;

    let (_, list_b) = app.get(&b, "/api/customer").await;
    assert_eq!(list_b["total"], 1);
    assert_eq!(list_b["data"][0]["id"], theirs["id"]);

    let path = format!("/api/customer/{id}");
    let (status, body) = app.get(&b, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "never 403 for a foreign id");
    assert_eq!(body["message"], format!("No customer with id {id} exists."));
    assert_eq!(
        app.patch(&b, &path, json!({"name": "stolen"})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.delete(&b, &path).await.0, StatusCode::NOT_FOUND);
    let (_, still) = app.get(&a, &path).await;
    assert_eq!(still["name"], "A's customer", "B changed nothing");

    // B may not hand its customer to A's user either: a foreign user id is invalid.
    let a_user = mine["user_id"].as_i64().expect("user id");
    let theirs_path = format!("/api/customer/{}", theirs["id"]);
    let (status, body) = app
        .patch(&b, &theirs_path, json!({"user_id": a_user}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"]["user_id"][0],
        "The selected user id is invalid."
    );
    for id in [0, 999_999_999] {
        assert_eq!(
            app.get(&a, &format!("/api/customer/{id}")).await.0,
            StatusCode::NOT_FOUND
        );
    }
}
