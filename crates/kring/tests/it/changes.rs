//! The change feed (`GET /api/changes`, issue 7 item 8): creates, updates and deletions
//! (tombstones) of every resource in commit order, resumable from `next`, per company and
//! limited to what the caller may read.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::resources::create;
use crate::support::TestApp;

backend_tests!(
    the_feed_replays_every_change_in_order,
    the_feed_shows_only_what_the_caller_may_read,
    subscriptions_get_a_secret_once_and_an_outbox_row_per_event
);

fn events(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

async fn the_feed_replays_every_change_in_order(app: TestApp) {
    let token = app.owner().await;
    let customer = create(&app, &token, "customer", json!({"name": "Feed BV"})).await;
    let contact = create(
        &app,
        &token,
        "contact",
        json!({"first_name": "Ann", "customer_id": customer}),
    )
    .await;
    app.patch(
        &token,
        &format!("/api/customer/{customer}"),
        json!({"name": "Feed NV", "email": "a@b.nl"}),
    )
    .await;
    let (status, _) = app
        .delete(&token, &format!("/api/customer/{customer}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, all) = app.get(&token, "/api/changes?since=0").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(
        events(&all),
        [
            "customer.created",
            "contact.created",
            "customer.updated",
            "contact.updated",
            "customer.deleted"
        ],
        "the delete detached the contact first, then removed the customer"
    );
    let update = &all["data"][2];
    assert_eq!(update["data"]["name"], "Feed NV");
    assert_eq!(update["changed_fields"], json!(["name", "email"]));
    assert_eq!(
        update["previous"],
        json!({"name": "Feed BV", "email": null})
    );
    let detached = &all["data"][3];
    assert_eq!(detached["data"]["id"], contact);
    assert_eq!(detached["data"]["customer_id"], Value::Null);
    assert_eq!(detached["previous"], json!({"customer_id": customer}));
    let tombstone = &all["data"][4];
    assert_eq!(
        tombstone["data"]["id"], customer,
        "the last state, as a tombstone"
    );
    assert!(tombstone.get("changed_fields").is_none());

    // Page by page from `next`: the same events, nothing twice, nothing lost.
    let mut cursor = "0".to_string();
    let mut paged = Vec::new();
    loop {
        let (_, page) = app
            .get(&token, &format!("/api/changes?since={cursor}&limit=2"))
            .await;
        let batch = events(&page);
        if batch.is_empty() {
            assert_eq!(
                page["next"],
                cursor.as_str(),
                "an empty page keeps the cursor"
            );
            break;
        }
        paged.extend(batch);
        cursor = page["next"].as_str().unwrap().to_string();
    }
    assert_eq!(paged, events(&all));
    let (status, _) = app.get(&token, "/api/changes?since=-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn the_feed_shows_only_what_the_caller_may_read(app: TestApp) {
    let owner = app.owner().await;
    create(&app, &owner, "customer", json!({"name": "Mine"})).await;
    create(&app, &owner, "todo", json!({"name": "Mine too"})).await;
    let stranger = app.user("Other Co", "company_owner").await;
    let (_, theirs) = app.get(&stranger, "/api/changes").await;
    assert_eq!(
        events(&theirs),
        Vec::<String>::new(),
        "another company's changes are not theirs"
    );
    let email = "reader@acme.test";
    app.user_with_email("Acme", "company_owner", email).await;
    let reader = kring_server::admin::create_token_with_scopes(&app.db, email, "r", "todos:read")
        .await
        .unwrap();
    let (_, page) = app.get(&reader, "/api/changes").await;
    assert_eq!(
        events(&page),
        ["todo.created"],
        "only the scopes' resources"
    );
}

/// A webhook's signing secret is shown once; every matching event leaves a delivery in the
/// outbox, written with the change; other events and other companies leave none.
async fn subscriptions_get_a_secret_once_and_an_outbox_row_per_event(app: TestApp) {
    let token = app.owner().await;
    let (status, webhook) = app
        .post(
            &token,
            "/api/webhook",
            json!({"url": "https://hooks.example/in", "event": "customer.created"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let secret = webhook["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 30,
        "{secret}"
    );
    let id = webhook["id"].as_i64().unwrap();
    let (_, shown) = app.get(&token, &format!("/api/webhook/{id}")).await;
    assert!(shown.get("secret").is_none(), "never shown again");
    let (_, changes) = app.get(&token, "/api/changes").await;
    assert!(
        !changes.to_string().contains(secret),
        "not in the change feed either"
    );

    create(&app, &token, "customer", json!({"name": "Hooked"})).await;
    create(&app, &token, "todo", json!({"name": "Not subscribed"})).await;
    let stranger = app.user("Other Co", "company_owner").await;
    create(&app, &stranger, "customer", json!({"name": "Theirs"})).await;
    let (status, deliveries) = app
        .get(&token, &format!("/api/webhook/{id}/deliveries"))
        .await;
    assert_eq!(status, StatusCode::OK, "{deliveries}");
    let items = deliveries["data"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{deliveries}");
    assert_eq!(items[0]["event"], "customer.created");
    assert_eq!(items[0]["status"], "pending");
    let (status, _) = app
        .get(&stranger, &format!("/api/webhook/{id}/deliveries"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another company's webhook");
}
