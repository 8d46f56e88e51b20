//! Grants never above the grantor, a company that keeps its owner, and built-in roles known by
//! their marker (issue "Hardening", high 2 and medium 4 and 5), through the API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{TestApp, unique};

backend_tests!(
    t23_a_role_above_the_callers_cannot_be_given,
    t23_another_users_password_needs_theirs_or_an_owner,
    t23_a_role_gains_only_permissions_its_editor_holds,
    the_last_owner_cannot_be_demoted_deleted_or_stripped,
    builtin_roles_keep_what_a_company_took_away_and_go_by_marker,
    a_link_set_needs_the_right_to_read_what_it_links,
);

/// The id of the company's role named `name`.
async fn role_id(app: &TestApp, token: &str, name: &str) -> i64 {
    let body = app
        .expect(
            StatusCode::OK,
            "GET",
            token,
            &format!("/api/role?filter=name:eq:{name}"),
            None,
        )
        .await;
    body["data"][0]["id"].as_i64().expect("role id")
}

/// A role with `permissions`, made by the owner.
pub(crate) async fn role(app: &TestApp, owner: &str, permissions: &[&str]) -> i64 {
    let body = app
        .expect(
            StatusCode::CREATED,
            "POST",
            owner,
            "/api/role",
            Some(json!({"name": unique("role-"), "permissions": permissions})),
        )
        .await;
    body["id"].as_i64().expect("id")
}

/// A user with `role`, made by the owner: its id and a token.
pub(crate) async fn member(app: &TestApp, owner: &str, role: i64) -> (i64, String) {
    let email = format!("{}@acme.test", unique("m"));
    let body = app
        .expect(
            StatusCode::CREATED,
            "POST",
            owner,
            "/api/user",
            Some(json!({"role_id": role, "name": "Member", "email": email, "password": "password123"})),
        )
        .await;
    let token = kring_server::admin::create_token(&app.db, &email, "t")
        .await
        .expect("token");
    (body["id"].as_i64().expect("id"), token)
}

/// The password hash a user has now.
async fn stored_password(app: &TestApp, id: i64) -> String {
    let rows: Vec<(String,)> = app
        .db
        .fetch_as(&kring_server::db::Raw::new(
            "SELECT password FROM users WHERE id = ?",
            vec![id.into()],
        ))
        .await
        .expect("hash");
    rows.into_iter().next().expect("user").0
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

async fn me(app: &TestApp, token: &str) -> i64 {
    let body = app
        .expect(StatusCode::OK, "GET", token, "/api/user/me", None)
        .await;
    body["id"].as_i64().expect("id")
}

async fn t23_a_role_above_the_callers_cannot_be_given(app: TestApp) {
    let owner = app.owner().await;
    let owner_role = role_id(&app, &owner, "company_owner").await;
    let viewer_role = role_id(&app, &owner, "company_viewer").await;
    let editor = role(&app, &owner, &["user.view", "user.update"]).await;
    let (editor_id, editor_token) = member(&app, &owner, editor).await;

    // The attack run's case: user.view + user.update made himself company owner.
    let (status, body) = app
        .patch(
            &editor_token,
            &format!("/api/user/{editor_id}"),
            json!({"role_id": owner_role}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        message(&body).contains("permissions you do not have"),
        "{body}"
    );
    assert!(message(&body).contains("customer.delete"), "{body}");
    // Validation reads "7" and 7.0 as 7, and so must the check: as JSON and as a form.
    let path = format!("{}/api/user/{editor_id}", app.base);
    for sent in [
        json!({"role_id": owner_role.to_string()}),
        json!({"role_id": owner_role as f64}),
    ] {
        let (status, body) = app
            .patch(&editor_token, &path[app.base.len()..], sent)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let response = app
        .client
        .patch(&path)
        .bearer_auth(&editor_token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("role_id={owner_role}"))
        .send()
        .await
        .expect("form patch");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Creating users is granting too: only roles within the creator's own permissions.
    let hr = role(&app, &owner, &["user.view", "user.create", "user.update"]).await;
    let (_, hr_token) = member(&app, &owner, hr).await;
    for refused in [owner_role, viewer_role] {
        let (status, body) = app
            .post(
                &hr_token,
                "/api/user",
                json!({"role_id": refused, "name": "X", "email": format!("{}@acme.test", unique("x")), "password": "password123"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    for allowed in [hr, editor] {
        app.expect(
            StatusCode::CREATED,
            "POST",
            &hr_token,
            "/api/user",
            Some(json!({"role_id": allowed, "name": "Y", "email": format!("{}@acme.test", unique("y")), "password": "password123"})),
        )
        .await;
    }
    let body = app
        .expect(StatusCode::OK, "GET", &editor_token, "/api/user/me", None)
        .await;
    assert_eq!(body["role_id"], editor, "nothing changed: {body}");
}

async fn t23_another_users_password_needs_theirs_or_an_owner(app: TestApp) {
    let owner = app.owner().await;
    let owner_id = me(&app, &owner).await;
    let editor = role(&app, &owner, &["user.view", "user.update"]).await;
    let (editor_id, editor_token) = member(&app, &owner, editor).await;
    let (other_id, _) = member(&app, &owner, editor).await;
    let before = stored_password(&app, owner_id).await;

    let path = format!("/api/user/{owner_id}");
    let (status, body) = app
        .patch(&editor_token, &path, json!({"password": "taken-over-1"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("current_password"), "{body}");
    let (status, body) = app
        .patch(
            &editor_token,
            &path,
            json!({"password": "taken-over-1", "current_password": "wrong-guess"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"]["current_password"][0],
        "The current password is incorrect."
    );
    assert_eq!(
        stored_password(&app, owner_id).await,
        before,
        "the owner's password is unchanged"
    );

    // With the user's current password it changes; an owner needs none; one's own needs none.
    let (status, body) = app
        .patch(
            &editor_token,
            &format!("/api/user/{other_id}"),
            json!({"password": "changed-by-1", "current_password": "password123"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let changed = stored_password(&app, other_id).await;
    app.expect(
        StatusCode::OK,
        "PATCH",
        &owner,
        &format!("/api/user/{other_id}"),
        Some(json!({"password": "changed-by-owner"})),
    )
    .await;
    assert_ne!(stored_password(&app, other_id).await, changed);
    app.expect(
        StatusCode::OK,
        "PATCH",
        &editor_token,
        &format!("/api/user/{editor_id}"),
        Some(json!({"password": "my-own-new-1"})),
    )
    .await;
}

async fn t23_a_role_gains_only_permissions_its_editor_holds(app: TestApp) {
    let owner = app.owner().await;
    let manager = role(
        &app,
        &owner,
        &["role.view", "role.create", "role.update", "customer.view"],
    )
    .await;
    let (_, token) = member(&app, &owner, manager).await;
    let (status, body) = app
        .patch(
            &token,
            &format!("/api/role/{manager}"),
            json!({"permissions": ["role.view", "role.create", "role.update", "customer.view", "customer.delete"]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("customer.delete"), "{body}");
    // The same permission by its id, written as a string, is the same grant.
    let rows: Vec<(i64,)> = app
        .db
        .fetch_as(&kring_server::db::Raw::new(
            "SELECT id FROM permissions WHERE name = 'customer.delete'",
            vec![],
        ))
        .await
        .expect("permission id");
    let (status, body) = app
        .patch(
            &token,
            &format!("/api/role/{manager}"),
            json!({"permissions": ["role.view", "role.update", rows[0].0.to_string()]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .post(
            &token,
            "/api/role",
            json!({"name": unique("r-"), "permissions": ["user.delete"]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // What the editor holds may be given, and taken away.
    app.expect(
        StatusCode::CREATED,
        "POST",
        &token,
        "/api/role",
        Some(json!({"name": unique("r-"), "permissions": ["customer.view"]})),
    )
    .await;
    app.expect(
        StatusCode::OK,
        "PATCH",
        &token,
        &format!("/api/role/{manager}"),
        Some(json!({"permissions": ["role.view", "role.update"]})),
    )
    .await;
}

async fn the_last_owner_cannot_be_demoted_deleted_or_stripped(app: TestApp) {
    let owner = app.owner().await;
    let owner_id = me(&app, &owner).await;
    let owner_role = role_id(&app, &owner, "company_owner").await;
    let viewer_role = role_id(&app, &owner, "company_viewer").await;
    let path = format!("/api/user/{owner_id}");

    let (status, body) = app
        .patch(&owner, &path, json!({"role_id": viewer_role}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(message(&body).contains("last owner"), "{body}");
    let (status, body) = app.delete(&owner, &path).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(message(&body).contains("last owner"), "{body}");
    let (status, body) = app
        .patch(
            &owner,
            &format!("/api/role/{owner_role}"),
            json!({"permissions": ["customer.view"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(message(&body).contains("keeps every permission"), "{body}");
    app.expect(StatusCode::OK, "GET", &owner, "/api/customer", None)
        .await;

    // With a second owner, the first may step down.
    let (second, _) = member(&app, &owner, owner_role).await;
    app.expect(
        StatusCode::OK,
        "PATCH",
        &owner,
        &path,
        Some(json!({"role_id": viewer_role})),
    )
    .await;
    let (status, body) = app.delete(&owner, &format!("/api/user/{second}")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer deletes no one: {body}"
    );
}

async fn builtin_roles_keep_what_a_company_took_away_and_go_by_marker(app: TestApp) {
    let owner = app.owner().await;
    let viewer_role = role_id(&app, &owner, "company_viewer").await;
    let owner_role = role_id(&app, &owner, "company_owner").await;
    let viewer = app.user("Acme", "company_viewer").await;
    app.expect(StatusCode::OK, "GET", &viewer, "/api/customer", None)
        .await;
    // The company takes customer.view from its viewers, and renames its roles.
    let shown = app
        .expect(
            StatusCode::OK,
            "GET",
            &owner,
            &format!("/api/role/{viewer_role}?with=permissions"),
            None,
        )
        .await;
    let kept: Vec<String> = shown["permissions"]["data"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .filter(|name| *name != "customer.view")
        .map(str::to_string)
        .collect();
    assert!(kept.len() > 5, "{shown}");
    app.expect(
        StatusCode::OK,
        "PATCH",
        &owner,
        &format!("/api/role/{viewer_role}"),
        Some(json!({"permissions": kept})),
    )
    .await;
    app.expect(
        StatusCode::OK,
        "PATCH",
        &owner,
        &format!("/api/role/{owner_role}"),
        Some(json!({"name": "boss"})),
    )
    .await;
    let helper = role(&app, &owner, &["note.view"]).await;
    app.expect(
        StatusCode::OK,
        "PATCH",
        &owner,
        &format!("/api/role/{helper}"),
        Some(json!({"name": "company_owner"})),
    )
    .await;
    let (_, helper_token) = member(&app, &owner, helper).await;

    // A restart brings the catalogue up to date, and takes nothing back from the company.
    let restarted = app.sibling(|c| c.rate_limit = 1_000_000).await;
    let (status, _) = restarted.get(&viewer, "/api/customer").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "customer.view stays away");
    restarted
        .expect(StatusCode::OK, "GET", &viewer, "/api/contact", None)
        .await;
    let (status, _) = restarted.get(&helper_token, "/api/customer").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the name company_owner gives nothing"
    );
    restarted
        .expect(StatusCode::OK, "GET", &owner, "/api/customer", None)
        .await;
}

/// Low 9: linking contacts to a customer names contacts and learns which ids exist, so it
/// needs their view permission and read scope; without, a 403 and nothing linked.
async fn a_link_set_needs_the_right_to_read_what_it_links(app: TestApp) {
    let owner = app.owner().await;
    let contact = app
        .expect(
            StatusCode::CREATED,
            "POST",
            &owner,
            "/api/contact",
            Some(json!({"first_name": "Linked", "last_name": "Once"})),
        )
        .await["id"]
        .as_i64()
        .expect("contact id");
    let customer = app
        .expect(
            StatusCode::CREATED,
            "POST",
            &owner,
            "/api/customer",
            Some(json!({"name": "Linker"})),
        )
        .await["id"]
        .as_i64()
        .expect("customer id");
    let path = format!("/api/customer/{customer}");

    // A role that may change customers but not read contacts.
    let sales = role(
        &app,
        &owner,
        &["customer.view", "customer.create", "customer.update"],
    )
    .await;
    let (_, sales_token) = member(&app, &owner, sales).await;
    for (method, route) in [("PATCH", path.as_str()), ("POST", "/api/customer")] {
        let (status, body) = app
            .send(
                method,
                Some(&sales_token),
                route,
                Some(json!({"name": "Linker", "contact_ids": [contact]})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {body}");
    }
    // A token with customer scopes only, on an owner who may read everything.
    let (_, me) = app.get(&owner, "/api/user/me").await;
    let email = me["email"].as_str().expect("owner email");
    let narrow = kring_server::admin::create_token_with_scopes(
        &app.db,
        email,
        "narrow",
        "customers:read customers:write",
    )
    .await
    .expect("scoped token");
    let (status, body) = app
        .patch(&narrow, &path, json!({"contact_ids": [contact]}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("scope"), "{body}");
    // Without contact_ids the same writes go through, and nothing was linked.
    let (status, body) = app.patch(&narrow, &path, json!({"name": "Renamed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let linked = app
        .expect(
            StatusCode::OK,
            "GET",
            &owner,
            &format!("{path}?with=contacts"),
            None,
        )
        .await;
    assert_eq!(linked["contacts"]["total"], 0, "{linked}");
    // With the right to read contacts, linking works.
    let (status, body) = app
        .patch(&owner, &path, json!({"contact_ids": [contact]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, linked) = app.get(&owner, &format!("{path}?with=contacts")).await;
    assert_eq!(linked["contacts"]["total"], 1, "{linked}");
}
