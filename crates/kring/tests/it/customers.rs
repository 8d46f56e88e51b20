//! Customer CRUD through the Cirqll dialect (`spec/cirqll.md` §6.1).

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(
    crud_round_trip,
    list_envelope_and_pagination,
    concurrent_creates_all_persist,
    update_is_partial,
    a_contacts_primary_customer_is_one_of_its_customers,
);

async fn crud_round_trip(app: TestApp) {
    let token = app.owner().await;
    let body = json!({
        "name": "Lowe, Farrell and Leuschke", "description": "Wholesale", "coc": "12345678",
        "email": "cleora42@gmail.com", "phone": "1-848-429-9425",
        "next_contact": "2019-08-24T14:15:22.123Z", "show_on_map": true,
        "id": 999, "company_id": 12345, "created_at": "2000-01-01T00:00:00Z"
    });
    let (status, created) = app.post(&token, "/api/customer", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let keys: Vec<&str> = created
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "user_id",
            "name",
            "description",
            "coc",
            "email",
            "phone",
            "next_contact",
            "show_on_map",
            "created_at",
            "updated_at",
            "next_contact_note"
        ],
        "the seed's keys, in the seed's order, and nothing else (no company_id)"
    );
    let id = created["id"].as_i64().expect("id");
    assert_ne!(id, 999, "id is read-only");
    assert_eq!(created["next_contact"], "2019-08-24T14:15:22.123000Z");
    assert_ne!(created["created_at"], "2000-01-01T00:00:00.000000Z");
    assert_eq!(created["show_on_map"], true);
    assert!(
        created["user_id"].as_i64().is_some(),
        "the owner defaults to the caller"
    );

    let (status, shown) = app.get(&token, &format!("/api/customer/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, created, "show returns what create returned");

    let (status, updated) = app
        .patch(
            &token,
            &format!("/api/customer/{id}"),
            json!({"name": "Renamed BV"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Renamed BV");
    assert_eq!(
        updated["email"], "cleora42@gmail.com",
        "untouched fields stay"
    );
    assert_eq!(
        app.get(&token, &format!("/api/customer/{id}")).await.1,
        updated
    );

    let (status, body) = app.delete(&token, &format!("/api/customer/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_null(), "204 has no body");
    let (status, body) = app.get(&token, &format!("/api/customer/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], format!("No customer with id {id} exists."));
    assert_eq!(
        app.delete(&token, &format!("/api/customer/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = app.get(&token, "/api/customer").await;
    assert_eq!(list["total"], 0);

    let (_, again) = app
        .post(&token, "/api/customer", json!({"name": "Next"}))
        .await;
    assert!(
        again["id"].as_i64().expect("id") > id,
        "ids are never reused"
    );
}

async fn list_envelope_and_pagination(app: TestApp) {
    let token = app.owner().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let (status, c) = app
            .post(
                &token,
                "/api/customer",
                json!({ "name": format!("Customer {i}") }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        ids.push(c["id"].as_i64().expect("id"));
    }
    let (status, list) = app.get(&token, "/api/customer").await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&str> = list
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["data", "limit", "total", "offset"]);
    assert_eq!(list["limit"], 100);
    assert_eq!(list["offset"], 0);
    assert_eq!(list["total"], 7);
    let listed: Vec<i64> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(listed, ids, "ordered by id ascending");

    let (_, page) = app.get(&token, "/api/customer?limit=3&offset=2").await;
    let paged: Vec<i64> = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(paged, ids[2..5]);
    assert_eq!(
        (
            page["limit"].as_i64(),
            page["total"].as_i64(),
            page["offset"].as_i64()
        ),
        (Some(3), Some(7), Some(2))
    );
    let (_, alias) = app.get(&token, "/api/customer?per_page=2&offset=6").await;
    assert_eq!(alias["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(alias["limit"], 2);
    let (_, max) = app.get(&token, "/api/customer?limit=1000").await;
    assert_eq!(max["limit"], 1000);

    for bad in [
        "limit=1001",
        "limit=-1",
        "limit=ten",
        "offset=-3",
        "offset=1.5",
    ] {
        let (status, body) = app.get(&token, &format!("/api/customer?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        let message = body["message"].as_str().expect("message");
        let param = bad.split('=').next().expect("param");
        assert!(message.contains(param), "{message} names {param}");
    }
}

async fn concurrent_creates_all_persist(app: TestApp) {
    let token = app.owner().await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = format!("{}/api/customer", app.base);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "name": format!("Concurrent {i}") }))
                .send()
                .await
                .expect("send");
            assert_eq!(response.status(), StatusCode::CREATED);
            let body: serde_json::Value = response.json().await.expect("json");
            body["id"].as_i64().expect("id")
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("task"));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50, "50 distinct ids");
    let (_, list) = app.get(&token, "/api/customer?limit=1000").await;
    assert_eq!(list["total"], 50);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(50));
}

async fn update_is_partial(app: TestApp) {
    let token = app.owner().await;
    let (_, c) = app
        .post(
            &token,
            "/api/customer",
            json!({"name": "A", "email": "a@a.nl", "phone": "1", "show_on_map": true}),
        )
        .await;
    let id = c["id"].as_i64().expect("id");
    let (status, updated) = app
        .patch(
            &token,
            &format!("/api/customer/{id}"),
            json!({"phone": null, "next_contact_note": "call back"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["phone"],
        serde_json::Value::Null,
        "null clears a nullable field"
    );
    assert_eq!(updated["next_contact_note"], "call back");
    assert_eq!(updated["email"], "a@a.nl");
    assert_eq!(updated["show_on_map"], true);
    assert!(updated["updated_at"].as_str() >= c["updated_at"].as_str());

    let (status, same) = app
        .patch(&token, &format!("/api/customer/{id}"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, updated, "an empty PATCH changes nothing");

    let (status, put) = app
        .send(
            "PUT",
            Some(&token),
            &format!("/api/customer/{id}"),
            Some(json!({"coc": "87654321"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "PUT is a partial update too");
    assert_eq!(
        (put["coc"].as_str(), put["email"].as_str()),
        (Some("87654321"), Some("a@a.nl"))
    );
}

/// Issue "One model, two dialects" 6: a contact's `customer_id` is always among its customers,
/// and that customer sees it through `with`, `count` and `filter`; neither side's link set can
/// drop the primary pair.
async fn a_contacts_primary_customer_is_one_of_its_customers(app: TestApp) {
    let token = app.owner().await;
    let mut ids = Vec::new();
    for name in ["Primary BV", "Second BV"] {
        let (_, created) = app
            .post(&token, "/api/customer", json!({"name": name}))
            .await;
        ids.push(created["id"].as_i64().expect("id"));
    }
    let (first, second) = (ids[0], ids[1]);
    let (status, contact) = app
        .post(
            &token,
            "/api/contact",
            json!({"first_name": "Pia", "customer_id": first}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    let contact = contact["id"].as_i64().expect("id");
    let customer_sees = |customer: i64| {
        let app = &app;
        let token = &token;
        async move {
            let (_, shown) = app
                .get(
                    token,
                    &format!("/api/customer/{customer}?with=contacts&count=contacts"),
                )
                .await;
            let (_, found) = app
                .get(token, "/api/customer?filter=contacts.first_name:eq:Pia")
                .await;
            let found: Vec<i64> = found["data"]
                .as_array()
                .expect("list")
                .iter()
                .filter_map(|c| c["id"].as_i64())
                .collect();
            (
                shown["contacts_count"].as_i64(),
                shown["contacts"]["data"][0]["id"].as_i64(),
                found.contains(&customer),
            )
        }
    };
    assert_eq!(customer_sees(first).await, (Some(1), Some(contact), true));

    // Replacing either side's set keeps the primary pair.
    let path = format!("/api/contact/{contact}");
    let (status, body) = app
        .patch(&token, &path, json!({"customer_ids": [second]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(customer_sees(first).await, (Some(1), Some(contact), true));
    assert_eq!(customer_sees(second).await, (Some(1), Some(contact), true));
    let (status, body) = app
        .patch(
            &token,
            &format!("/api/customer/{first}"),
            json!({"contact_ids": []}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(customer_sees(first).await, (Some(1), Some(contact), true));
    let (status, body) = app.patch(&token, &path, json!({"customer_ids": []})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(customer_sees(first).await, (Some(1), Some(contact), true));
    assert_eq!(customer_sees(second).await.0, Some(0));

    // A new primary joins the set.
    let (status, body) = app
        .patch(&token, &path, json!({"customer_id": second}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(customer_sees(second).await, (Some(1), Some(contact), true));
}

/// Issue "One model, two dialects" 22, on both engines: `timestamps_at_the_seeds_precision`.
mod timestamps_follow_the_configured_precision {
    use crate::support::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::timestamps_at_the_seeds_precision(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::timestamps_at_the_seeds_precision(Backend::Postgres).await;
    }
}

/// Timestamps go out with six fractional digits (Laravel's), or as many as
/// `--timestamp-precision` says: three writes them as Cirqll's documentation shows them, in
/// both dialects; what is stored keeps six.
async fn timestamps_at_the_seeds_precision(backend: crate::support::Backend) {
    let fraction = |text: &serde_json::Value| {
        let text = text
            .as_str()
            .unwrap_or_else(|| panic!("a timestamp: {text}"));
        text.rsplit('.')
            .next()
            .map(|f| f.trim_end_matches('Z').len())
    };
    let body = serde_json::json!({"name": "Seed BV", "next_contact": "2019-08-24T14:15:22.123Z"});
    let Some(six) = crate::support::TestApp::spawn(backend).await else {
        return;
    };
    let token = six.owner().await;
    let created = six
        .expect(
            reqwest::StatusCode::CREATED,
            "POST",
            &token,
            "/api/customer",
            Some(body.clone()),
        )
        .await;
    assert_eq!(created["next_contact"], "2019-08-24T14:15:22.123000Z");
    assert_eq!(fraction(&created["created_at"]), Some(6));

    let three = crate::support::TestApp::spawn_configured(backend, |c| {
        c.rate_limit = 1_000_000;
        c.timestamp_precision = 3;
    })
    .await
    .expect("the same engine again");
    let token = three.owner().await;
    let created = three
        .expect(
            reqwest::StatusCode::CREATED,
            "POST",
            &token,
            "/api/customer",
            Some(body),
        )
        .await;
    assert_eq!(
        created["next_contact"], "2019-08-24T14:15:22.123Z",
        "{created}"
    );
    assert_eq!(fraction(&created["created_at"]), Some(3), "{created}");
    let id = created["id"].as_i64().expect("id");
    let list = three
        .expect(
            reqwest::StatusCode::OK,
            "GET",
            &token,
            "/api/customer?with=user",
            None,
        )
        .await;
    assert_eq!(fraction(&list["data"][0]["updated_at"]), Some(3), "{list}");
    assert_eq!(
        fraction(&list["data"][0]["user"]["created_at"]),
        Some(3),
        "{list}"
    );
    let feed = three
        .expect(
            reqwest::StatusCode::OK,
            "GET",
            &token,
            "/api/changes?since=0",
            None,
        )
        .await;
    assert!(
        feed.to_string().contains("2019-08-24T14:15:22.123Z\""),
        "{feed}"
    );
    let stored = three
        .query(
            "SELECT next_contact FROM customers",
            &[kring_core::schema::ColumnType::Timestamp],
        )
        .await;
    assert_eq!(
        stored[0][0].to_json(),
        serde_json::json!("2019-08-24T14:15:22.123000Z"),
        "stored with six (customer {id})"
    );
}
