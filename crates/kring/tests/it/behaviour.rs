//! What individual resources do beyond the common walk: nested children, links, roles and
//! permissions, users, settings, select options, and what a delete takes with it.

use kring_core::Value as Cell;
use kring_core::schema::ColumnType;
use kring_server::admin;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::resources::{create, role_id};
use crate::support::TestApp;

backend_tests!(
    nested_subtasks_sync_by_id,
    nested_positions_follow_the_order_sent,
    links_replace_the_set,
    custom_role_grants_exactly_its_permissions,
    users_hide_passwords_and_know_themselves,
    settings_are_one_validated_object,
    select_values_must_be_options,
    deleting_a_customer_takes_its_dependants,
    dutch_messages_name_dutch_attributes,
    history_and_company_are_readable_through_with,
    nul_characters_are_refused,
    form_bodies_take_bracket_keys
);

fn ids(list: &Value) -> Vec<i64> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect()
}

async fn nested_subtasks_sync_by_id(app: TestApp) {
    let token = app.owner().await;
    let (status, task) = app
        .post(
            &token,
            "/api/task",
            json!({"name": "Launch", "subtasks": [{"name": "a"}, {"name": "b", "done": true}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let subtasks = &task["subtasks"];
    assert_eq!(subtasks["total"], 2);
    assert_eq!(subtasks["data"][0]["name"], "a");
    assert_eq!(
        subtasks["data"][0]["position"], 0,
        "position defaults to the list order"
    );
    assert_eq!(subtasks["data"][1]["done"], true);
    let first = subtasks["data"][0]["id"].as_i64().unwrap();
    let id = task["id"].as_i64().unwrap();

    // Keep the first (renamed), drop the second, add a third.
    let (status, task) = app
        .patch(
            &token,
            &format!("/api/task/{id}"),
            json!({"subtasks": [{"id": first, "name": "a!"}, {"name": "c"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    let names: Vec<&str> = task["subtasks"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a!", "c"]);
    assert_eq!(task["subtasks"]["data"][0]["id"], first, "updated in place");

    // Leaving the key out keeps them; an id of another task is refused, nothing written.
    let (_, task) = app
        .patch(&token, &format!("/api/task/{id}"), json!({"name": "Go"}))
        .await;
    assert_eq!(task["subtasks"]["total"], 2);
    let other = create(
        &app,
        &token,
        "task",
        json!({"name": "Other", "subtasks": [{"name": "x"}]}),
    )
    .await;
    let (_, other) = app.get(&token, &format!("/api/task/{other}")).await;
    let foreign = other["id"].as_i64().unwrap();
    let (status, error) = app
        .patch(
            &token,
            &format!("/api/task/{id}"),
            json!({"name": "Changed", "subtasks": [{"id": 999_999, "name": "y"}, {"done": "maybe"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error["errors"]["subtasks.0.id"].is_array(), "{error}");
    assert!(error["errors"]["subtasks.1.name"].is_array(), "{error}");
    assert!(error["errors"]["subtasks.1.done"].is_array(), "{error}");
    let (_, task) = app.get(&token, &format!("/api/task/{id}")).await;
    assert_eq!(task["name"], "Go", "a refused write changes nothing");
    assert_ne!(foreign, id);
}

async fn links_replace_the_set(app: TestApp) {
    let token = app.owner().await;
    let a = create(&app, &token, "customer", json!({"name": "A"})).await;
    let b = create(&app, &token, "customer", json!({"name": "B"})).await;
    let stranger = app.user("Other Co", "company_owner").await;
    let foreign = create(&app, &stranger, "customer", json!({"name": "F"})).await;

    let contact = create(
        &app,
        &token,
        "contact",
        json!({"first_name": "Ann", "customer_id": a, "customer_ids": [a, b]}),
    )
    .await;
    let linked = || async {
        let rows = app
            .query(
                "SELECT customer_id FROM customer_contact ORDER BY customer_id",
                &[ColumnType::Int],
            )
            .await;
        rows.into_iter()
            .filter_map(|r| r.first().and_then(Cell::as_int))
            .collect::<Vec<i64>>()
    };
    assert_eq!(linked().await, [a, b]);
    let path = format!("/api/contact/{contact}");
    // The primary customer `a` stays linked whatever the set (issue 14, point 6).
    let (status, _) = app.patch(&token, &path, json!({"customer_ids": [b]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(linked().await, [a, b]);
    let (status, error) = app
        .patch(&token, &path, json!({"customer_ids": [b, foreign, "x"]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error["errors"]["customer_ids.1"].is_array(), "{error}");
    assert!(error["errors"]["customer_ids.2"].is_array(), "{error}");
    assert_eq!(linked().await, [a, b], "nothing half-written");
    let (status, _) = app.patch(&token, &path, json!({"customer_ids": []})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(linked().await, [a]);
    let (status, _) = app
        .patch(
            &token,
            &path,
            json!({"customer_id": null, "customer_ids": []}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(linked().await.is_empty());
}

async fn custom_role_grants_exactly_its_permissions(app: TestApp) {
    let owner = app.owner().await;
    let (status, role) = app
        .post(
            &owner,
            "/api/role",
            json!({"name": "Reader", "permissions": ["customer.view", "contact.view"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    let names: Vec<&str> = role["permissions"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customer.view", "contact.view"]);
    let role = role["id"].as_i64().unwrap();

    let (status, user) = app
        .post(
            &owner,
            "/api/user",
            json!({"name": "Rita", "email": "rita@acme.test", "password": "long enough", "role_id": role}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let rita = admin::create_token(&app.db, "rita@acme.test", "t")
        .await
        .unwrap();
    assert_eq!(app.get(&rita, "/api/customer").await.0, StatusCode::OK);
    assert_eq!(app.get(&rita, "/api/task").await.0, StatusCode::FORBIDDEN);
    let (status, _) = app.post(&rita, "/api/customer", json!({"name": "X"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = app
        .patch(
            &owner,
            &format!("/api/role/{role}"),
            json!({"permissions": ["customer.view", "customer.create"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post(&rita, "/api/customer", json!({"name": "X"})).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the grant takes effect at once"
    );
    assert_eq!(
        app.get(&rita, "/api/contact").await.0,
        StatusCode::FORBIDDEN
    );

    let (status, error) = app
        .patch(
            &owner,
            &format!("/api/role/{role}"),
            json!({"permissions": ["root.everything"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error["errors"]["permissions.0"].is_array());

    let (status, error) = app.delete(&owner, &format!("/api/role/{role}")).await;
    assert_eq!(status, StatusCode::CONFLICT, "a role in use stays: {error}");
    assert!(
        error["message"].as_str().unwrap().contains("1 users"),
        "{error}"
    );
    let user = user["id"].as_i64().unwrap();
    let viewer = role_id(&app, &owner, "company_viewer").await;
    app.patch(
        &owner,
        &format!("/api/user/{user}"),
        json!({"role_id": viewer}),
    )
    .await;
    let (status, _) = app.delete(&owner, &format!("/api/role/{role}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn users_hide_passwords_and_know_themselves(app: TestApp) {
    let owner = app.owner().await;
    let viewer_role = role_id(&app, &owner, "company_viewer").await;
    let body = json!({"name": "Vic", "email": "vic@acme.test", "password": "s3cret-pass", "role_id": viewer_role});
    let (status, user) = app.post(&owner, "/api/user", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert!(user.get("password").is_none());
    let (status, error) = app.post(&owner, "/api/user", body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error["errors"]["email"][0],
        "The email has already been taken."
    );
    let (status, error) = app
        .post(&owner, "/api/user", json!({"name": "W", "email": "w@acme.test", "password": "short", "role_id": viewer_role}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error["errors"]["password"][0],
        "The password field must be at least 8 characters."
    );
    let stored = app
        .query(
            "SELECT password FROM users WHERE email = 'vic@acme.test'",
            &[ColumnType::Text],
        )
        .await;
    let hash = stored[0][0].clone();
    assert!(
        matches!(&hash, Cell::Text(h) if h.starts_with("$argon2id$")),
        "{hash:?}"
    );

    let vic = admin::create_token(&app.db, "vic@acme.test", "t")
        .await
        .unwrap();
    for path in ["/api/user/me", "/api/me"] {
        let (status, me) = app.get(&vic, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(me["email"], "vic@acme.test");
        assert_eq!(me["role_id"], viewer_role);
        assert!(me.get("password").is_none());
    }
    assert_eq!(
        app.send("GET", None, "/api/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = app.send("POST", Some(&vic), "/api/me", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

async fn settings_are_one_validated_object(app: TestApp) {
    let owner = app.owner().await;
    let viewer = app.user("Acme", "company_viewer").await;
    let (status, settings) = app.get(&viewer, "/api/setting").await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["currency"], "EUR");
    assert_eq!(settings["locale"], "nl");
    let (status, _) = app
        .patch(&viewer, "/api/setting", json!({"locale": "en"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, settings) = app
        .patch(
            &owner,
            "/api/setting",
            json!({"locale": "en", "week_starts_on": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["locale"], "en");
    assert_eq!(settings["week_starts_on"], 0);
    let (status, error) = app
        .patch(
            &owner,
            "/api/setting",
            json!({"currency": "XXX", "colour": "red", "id": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(
        error["errors"]["colour"][0],
        "The colour field is prohibited."
    );
    assert!(error["errors"]["id"].is_array());
    let (_, again) = app.get(&owner, "/api/setting").await;
    assert_eq!(
        again, settings,
        "one object, unchanged by the refused write"
    );
    let stranger = app.user("Other Co", "company_owner").await;
    let (_, theirs) = app.get(&stranger, "/api/setting").await;
    assert_eq!(theirs["locale"], "nl", "each company has its own");
}

async fn select_values_must_be_options(app: TestApp) {
    let token = app.owner().await;
    let (status, field) = app
        .post(
            &token,
            "/api/field",
            json!({"name": "Tier", "type": "select", "model": "contact",
                   "options": [{"value": "gold"}, {"value": "silver"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{field}");
    let field_id = field["id"].as_i64().unwrap();
    let silver = field["options"]["data"][1]["id"].as_i64().unwrap();
    let contact = |value: Value| json!({"first_name": "A", "field_values": [{"field_id": field_id, "value": value}]});
    let (status, error) = app
        .post(&token, "/api/contact", contact(json!("bronze")))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error["errors"]["field_values.0.value"][0],
        "The selected field values.0.value is invalid."
    );
    let (status, _) = app
        .post(&token, "/api/contact", contact(json!("gold")))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .post(&token, "/api/contact", contact(json!(silver)))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "an option may be named by its id"
    );
    let stored = app
        .query(
            "SELECT value FROM field_values ORDER BY id",
            &[ColumnType::Text],
        )
        .await;
    assert_eq!(
        stored,
        [[Cell::Text("gold".into())], [Cell::Text("silver".into())]]
    );
    // A field's type and model stay what its values were checked against.
    let path = format!("/api/field/{field_id}");
    let (status, error) = app.patch(&token, &path, json!({"type": "number"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error["errors"]["type"][0],
        "The type field cannot be changed once set."
    );
    let (status, _) = app
        .patch(
            &token,
            &path,
            json!({"type": "select", "model": "contact", "name": "Level"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "sending the same type again is fine"
    );
    // A field of another resource is not this one's.
    let (status, _) = app
        .post(
            &token,
            "/api/customer",
            json!({"name": "C", "field_values": [{"field_id": field_id, "value": "gold"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn deleting_a_customer_takes_its_dependants(app: TestApp) {
    let token = app.owner().await;
    let field = create(
        &app,
        &token,
        "field",
        json!({"name": "Size", "type": "text", "model": "customer"}),
    )
    .await;
    let customer = create(
        &app,
        &token,
        "customer",
        json!({"name": "Doomed", "field_values": [{"field_id": field, "value": "L"}]}),
    )
    .await;
    let keeper = create(&app, &token, "customer", json!({"name": "Keeper"})).await;
    let contact = create(
        &app,
        &token,
        "contact",
        json!({"first_name": "Ann", "customer_id": customer, "customer_ids": [customer, keeper]}),
    )
    .await;
    let chance = create(
        &app,
        &token,
        "chance",
        json!({"name": "Deal", "customer_id": customer}),
    )
    .await;
    let contract = create(
        &app,
        &token,
        "contract",
        json!({"name": "C", "customer_id": customer, "contact_id": contact, "chance_id": chance,
               "price": 5, "start_date": "2026-01-01", "end_date": "2026-12-31"}),
    )
    .await;
    let contract_note = create(
        &app,
        &token,
        "note",
        json!({"content": "on contract", "contract_id": contract}),
    )
    .await;
    let note = create(
        &app,
        &token,
        "note",
        json!({"content": "on customer", "customer_id": customer}),
    )
    .await;
    let task = create(
        &app,
        &token,
        "task",
        json!({"name": "Call", "customer_id": customer}),
    )
    .await;

    let (status, _) = app
        .delete(&token, &format!("/api/customer/{customer}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for gone in [
        format!("/api/note/{note}"),
        format!("/api/contract/{contract}"),
        format!("/api/note/{contract_note}"),
    ] {
        assert_eq!(
            app.get(&token, &gone).await.0,
            StatusCode::NOT_FOUND,
            "{gone}"
        );
    }
    let (_, contact) = app.get(&token, &format!("/api/contact/{contact}")).await;
    assert_eq!(
        contact["customer_id"],
        Value::Null,
        "contacts are detached, not deleted"
    );
    let (_, task) = app.get(&token, &format!("/api/task/{task}")).await;
    assert_eq!(task["customer_id"], Value::Null);
    let (_, chance) = app.get(&token, &format!("/api/chance/{chance}")).await;
    assert_eq!(chance["customer_id"], Value::Null);
    let left = app
        .query("SELECT COUNT(*) FROM field_values", &[ColumnType::Int])
        .await;
    assert_eq!(left[0][0], Cell::Int(0), "its field values go with it");
    let pivot = app
        .query(
            "SELECT customer_id FROM customer_contact",
            &[ColumnType::Int],
        )
        .await;
    assert_eq!(pivot, [[Cell::Int(keeper)]]);
    let (_, customers) = app.get(&token, "/api/customer").await;
    assert_eq!(ids(&customers), [keeper]);
    assert_eq!(customers["total"], 1, "the counter follows");
    let (_, contracts) = app.get(&token, "/api/contract").await;
    assert_eq!(contracts["total"], 0, "cascaded deletes are counted too");
    let (_, notes) = app.get(&token, "/api/note").await;
    assert_eq!(notes["total"], 0);
}

async fn dutch_messages_name_dutch_attributes(app: TestApp) {
    let token = app.owner().await;
    let response = app
        .client
        .post(format!("{}/api/contact", app.base))
        .bearer_auth(&token)
        .header("Accept-Language", "nl")
        .json(&json!({"email": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-language"], "nl");
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error["errors"]["first_name"][0],
        "Het veld voornaam is verplicht."
    );
    assert_eq!(
        error["errors"]["email"][0],
        "Het veld e-mailadres moet een geldig e-mailadres zijn."
    );
    let response = app
        .client
        .post(format!("{}/api/task", app.base))
        .bearer_auth(&token)
        .header("Accept-Language", "nl")
        .json(&json!({"name": "T", "subtasks": [{"done": true}]}))
        .send()
        .await
        .unwrap();
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error["errors"]["subtasks.0.name"][0],
        "Het veld subtaken.0.naam is verplicht."
    );
}

async fn history_and_company_are_readable_through_with(app: TestApp) {
    let token = app.owner().await;
    let id = create(&app, &token, "customer", json!({"name": "Logged"})).await;
    app.patch(
        &token,
        &format!("/api/customer/{id}"),
        json!({"name": "Logged twice"}),
    )
    .await;
    let (status, customer) = app
        .get(
            &token,
            &format!("/api/customer/{id}?with=activity_log.causer,user.company"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{customer}");
    let log = &customer["activity_log"];
    assert_eq!(log["total"], 2);
    assert_eq!(log["data"][0]["event"], "created");
    assert_eq!(log["data"][1]["event"], "updated");
    assert_eq!(
        log["data"][1]["properties"]["old"]["name"], "Logged",
        "properties are JSON"
    );
    assert_eq!(
        log["data"][1]["properties"]["attributes"]["name"],
        "Logged twice"
    );
    assert_eq!(log["data"][0]["causer"]["name"], "Test User");
    assert_eq!(customer["user"]["company"]["name"], "Acme");
    let (status, _) = app.get(&token, "/api/company/1").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "companies are read through relations only"
    );
}

/// PostgreSQL cannot store a NUL character; it is refused up front on both engines.
async fn nul_characters_are_refused(app: TestApp) {
    let token = app.owner().await;
    let (status, error) = app
        .post(&token, "/api/customer", json!({"name": "A\u{0}B"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error["message"].as_str().unwrap().contains("NUL"));
    let (status, _) = app.get(&token, "/api/customer?filter=name:eq:A%00B").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, list) = app.get(&token, "/api/customer").await;
    assert_eq!(list["total"], 0, "nothing was written");
}

/// A form body in PHP's bracket notation reaches the same fields as JSON (Laravel clients send
/// `field_values[0][value]=…`); too deep a name is refused, not half read.
async fn form_bodies_take_bracket_keys(app: TestApp) {
    let token = app.owner().await;
    let field = create(
        &app,
        &token,
        "field",
        json!({"name": "Tier", "type": "text", "model": "contact"}),
    )
    .await;
    let body =
        format!("first_name=Ann&field_values[0][field_id]={field}&field_values[0][value]=gold");
    let response = app
        .client
        .post(format!("{}/api/contact", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let contact: Value = response.json().await.unwrap();
    let id = contact["id"].as_i64().unwrap();
    let (_, shown) = app
        .get(&token, &format!("/api/contact/{id}?with=field_values"))
        .await;
    assert_eq!(shown["field_values"]["data"][0]["value"], "gold");
    let deep = format!("first_name=A&x{}=1", "[a]".repeat(100));
    let response = app
        .client
        .post(format!("{}/api/contact", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// Issue "One model, two dialects" 11: after a sync the children's positions are 0, 1, 2, … in
/// the order sent, whether kept, moved or new; sending the same list again changes nothing.
async fn nested_positions_follow_the_order_sent(app: TestApp) {
    let token = app.owner().await;
    let (_, task) = app
        .post(
            &token,
            "/api/task",
            json!({"name": "Order", "subtasks": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
        )
        .await;
    let id = task["id"].as_i64().unwrap();
    let ids: Vec<i64> = task["subtasks"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    let path = format!("/api/task/{id}");
    let places = |task: &Value| -> Vec<(String, i64)> {
        task["subtasks"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    s["position"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let (status, task) = app
        .patch(
            &token,
            &path,
            json!({"subtasks": [{"id": ids[0]}, {"id": ids[2]}, {"name": "d", "position": 2}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    let mut shown = places(&task);
    shown.sort_by_key(|(_, p)| *p);
    assert_eq!(shown, [("a".into(), 0), ("c".into(), 1), ("d".into(), 2)]);
    let d = task["subtasks"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "d")
        .and_then(|s| s["id"].as_i64())
        .unwrap();
    let order = json!({"subtasks": [{"id": d}, {"id": ids[0]}, {"id": ids[2]}]});
    let (_, task) = app.patch(&token, &path, order.clone()).await;
    let mut shown = places(&task);
    shown.sort_by_key(|(_, p)| *p);
    assert_eq!(shown, [("d".into(), 0), ("a".into(), 1), ("c".into(), 2)]);
    let before = task["updated_at"].clone();
    let (_, task) = app.patch(&token, &path, order).await;
    assert_eq!(
        task["updated_at"], before,
        "the same order again changes nothing"
    );
}
