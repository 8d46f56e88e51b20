//! `Idempotency-Key` (DESIGN §2; security plan T70-series): a repeated write is answered from the
//! first response, never done twice; the same key with another request is 422; a key still in
//! progress is 409; keys are per token owner.

use kring_core::Value as Cell;
use kring_core::schema::ColumnType;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(
    a_repeated_create_is_replayed_not_repeated,
    a_reused_key_with_another_body_is_422,
    keys_in_progress_are_409_and_belong_to_their_owner,
    updates_and_deletes_are_idempotent_too,
    an_answer_lost_after_the_commit_is_rebuilt_not_rerun,
    settings_honour_the_key,
);

async fn send(
    app: &TestApp,
    method: &str,
    token: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("Idempotency-Key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    (
        status,
        replayed,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn customers(app: &TestApp) -> i64 {
    let rows = app
        .query("SELECT COUNT(*) FROM customers", &[ColumnType::Int])
        .await;
    match rows[0][0] {
        Cell::Int(n) => n,
        _ => panic!(),
    }
}

async fn a_repeated_create_is_replayed_not_repeated(app: TestApp) {
    let token = app.owner().await;
    let body = json!({"name": "Once Only BV"});
    let (status, replayed, first) = send(
        &app,
        "POST",
        &token,
        "/api/customer",
        "k-1",
        Some(body.clone()),
    )
    .await;
    assert_eq!((status, replayed), (StatusCode::CREATED, None));
    let (status, replayed, again) =
        send(&app, "POST", &token, "/api/customer", "k-1", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "the first answer, again");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(again, first, "the same record, same id");
    assert_eq!(customers(&app).await, 1, "created once");
    // A refused request is kept too: retrying it gives the same 422 without running again.
    let (status, _, error) = send(
        &app,
        "POST",
        &token,
        "/api/customer",
        "k-2",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, replayed, again) = send(
        &app,
        "POST",
        &token,
        "/api/customer",
        "k-2",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("true"))
    );
    assert_eq!(again, error);
    let (status, _, _) = send(
        &app,
        "POST",
        &token,
        "/api/customer",
        &"x".repeat(256),
        Some(json!({"name": "A"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a key over 255 characters");
}

async fn a_reused_key_with_another_body_is_422(app: TestApp) {
    let token = app.owner().await;
    send(
        &app,
        "POST",
        &token,
        "/api/customer",
        "k",
        Some(json!({"name": "A"})),
    )
    .await;
    let (status, _, error) = send(
        &app,
        "POST",
        &token,
        "/api/customer",
        "k",
        Some(json!({"name": "B"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("different request")
    );
    assert_eq!(customers(&app).await, 1);
}

async fn keys_in_progress_are_409_and_belong_to_their_owner(app: TestApp) {
    let ann = app.owner().await;
    let bob = app.owner().await;
    // Ann's first request with key "busy" is still running (its answer is not yet kept).
    let body = json!({"name": "A"});
    let fingerprint =
        kring_server::ledger::idempotency::fingerprint("POST", "/api/customer", body.as_object());
    let mut tx = app.db.begin().await.unwrap();
    tx.execute(&kring_server::db::Raw::new(
        "INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, created_at) \
         SELECT MIN(id), 'busy', ?, ? FROM users",
        vec![fingerprint.into(), chrono::Utc::now().into()],
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (status, _, error) = send(
        &app,
        "POST",
        &ann,
        "/api/customer",
        "busy",
        Some(json!({"name": "A"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    let (status, replayed, _) = send(
        &app,
        "POST",
        &bob,
        "/api/customer",
        "busy",
        Some(json!({"name": "A"})),
    )
    .await;
    assert_eq!(
        (status, replayed),
        (StatusCode::CREATED, None),
        "Bob's key is his own"
    );
}

async fn updates_and_deletes_are_idempotent_too(app: TestApp) {
    let token = app.owner().await;
    let (_, created) = app
        .post(&token, "/api/customer", json!({"name": "A"}))
        .await;
    let path = format!("/api/customer/{}", created["id"]);
    let (status, _, first) = send(
        &app,
        "PATCH",
        &token,
        &path,
        "u",
        Some(json!({"name": "B"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.patch(&token, &path, json!({"name": "C"})).await;
    let (_, replayed, again) = send(
        &app,
        "PATCH",
        &token,
        &path,
        "u",
        Some(json!({"name": "B"})),
    )
    .await;
    assert_eq!(
        (replayed.as_deref(), again),
        (Some("true"), first),
        "the kept answer, not a new write"
    );
    let (_, shown) = app.get(&token, &path).await;
    assert_eq!(shown["name"], "C", "the replay changed nothing");
    let (status, _, _) = send(&app, "DELETE", &token, &path, "d", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, replayed, _) = send(&app, "DELETE", &token, &path, "d", None).await;
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::NO_CONTENT, Some("true")),
        "not a 404"
    );
}

/// The answer a crash lost between a write's commit and the keeping of its answer, as the
/// key's row then is: committed with the write, no status yet.
async fn lose_answer(app: &TestApp, key: &'static str) {
    let mut tx = app.db.begin().await.unwrap();
    let changed = tx
        .execute(&kring_server::db::Raw::new(
            "UPDATE idempotency_keys SET status = NULL, response = NULL WHERE idempotency_key = ?",
            vec![key.into()],
        ))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(changed, 1, "the write's transaction wrote its key");
}

/// C3 across a crash after the commit: the retry is answered from what the write left (the
/// record it made, the delete it did) and runs nothing a second time. Before keys were written
/// in the write's transaction, such a key blocked retries for five minutes and then ran the
/// write again.
async fn an_answer_lost_after_the_commit_is_rebuilt_not_rerun(app: TestApp) {
    let token = app.owner().await;
    let body = json!({"name": "Once", "description": "only"});
    let (status, _, created) = send(
        &app,
        "POST",
        &token,
        "/api/customer",
        "lost-create",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    lose_answer(&app, "lost-create").await;
    let (status, replayed, again) = send(
        &app,
        "POST",
        &token,
        "/api/customer",
        "lost-create",
        Some(body.clone()),
    )
    .await;
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::CREATED, Some("true"))
    );
    assert_eq!(again, created, "the rebuilt answer is the original");
    assert_eq!(customers(&app).await, 1, "created once");
    let (status, _, kept) = send(
        &app,
        "POST",
        &token,
        "/api/customer",
        "lost-create",
        Some(body),
    )
    .await;
    assert_eq!(
        (status, kept),
        (StatusCode::CREATED, created.clone()),
        "and kept"
    );

    let path = format!("/api/customer/{}", created["id"]);
    let (status, _, _) = send(&app, "DELETE", &token, &path, "lost-delete", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    lose_answer(&app, "lost-delete").await;
    let (status, replayed, _) = send(&app, "DELETE", &token, &path, "lost-delete", None).await;
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::NO_CONTENT, Some("true")),
        "not 404: the delete is not run again"
    );
}

/// `PATCH /api/setting` is a write like any other (DESIGN §2): the key replays its first
/// answer even after the settings changed again, and refuses another body.
async fn settings_honour_the_key(app: TestApp) {
    let token = app.owner().await;
    let euro = json!({"currency": "USD"});
    let (status, replayed, first) = send(
        &app,
        "PATCH",
        &token,
        "/api/setting",
        "s-1",
        Some(euro.clone()),
    )
    .await;
    assert_eq!((status, replayed), (StatusCode::OK, None), "{first}");
    assert_eq!(first["currency"], "USD");
    let (status, changed) = app
        .patch(&token, "/api/setting", json!({"currency": "GBP"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (status, replayed, again) =
        send(&app, "PATCH", &token, "/api/setting", "s-1", Some(euro)).await;
    assert_eq!(
        (status, replayed.as_deref()),
        (StatusCode::OK, Some("true"))
    );
    assert_eq!(again, first, "the first answer, not a second write");
    let (_, now) = app.get(&token, "/api/setting").await;
    assert_eq!(now["currency"], "GBP", "the replay wrote nothing");
    let (status, _, refused) = send(
        &app,
        "PATCH",
        &token,
        "/api/setting",
        "s-1",
        Some(json!({"currency": "CHF"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
}
