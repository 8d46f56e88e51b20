//! Custom field values on create and update, and the activity log of every write.

use kring_core::Value as Cell;
use kring_core::schema::ColumnType;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(
    field_values_written_with_the_record,
    field_value_types_are_checked,
    activity_log_records_each_write,
    multiselect_filters_test_membership,
);

async fn field(app: &TestApp, token: &str, name: &str, ty: &str, required: bool) -> i64 {
    let (status, field) = app
        .post(
            token,
            "/api/field",
            json!({"name": name, "type": ty, "model": "customer", "required": required}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{field}");
    field["id"].as_i64().expect("field id")
}

async fn stored_values(app: &TestApp) -> Vec<(i64, i64, String)> {
    app.query(
        "SELECT model_id, field_id, value FROM field_values WHERE model_type = 'customer' ORDER BY model_id, field_id",
        &[ColumnType::Int, ColumnType::Int, ColumnType::Text],
    )
    .await
    .into_iter()
    .map(|row| match row.as_slice() {
        [Cell::Int(m), Cell::Int(f), Cell::Text(v)] => (*m, *f, v.clone()),
        other => panic!("unexpected row {other:?}"),
    })
    .collect()
}

async fn field_values_written_with_the_record(app: TestApp) {
    let token = app.owner().await;
    let tier = field(&app, &token, "Tier", "text", false).await;
    let seats = field(&app, &token, "Seats", "number", false).await;
    let (status, created) = app
        .post(
            &token,
            "/api/customer",
            json!({"name": "With fields", "field_values": [{"field_id": tier, "value": "gold"}, {"field_id": seats, "value": 12}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().expect("id");
    assert_eq!(
        stored_values(&app).await,
        vec![(id, tier, "gold".into()), (id, seats, "12".into())]
    );

    let path = format!("/api/customer/{id}");
    let (status, _) = app
        .patch(&token, &path, json!({"field_values": [{"field_id": tier, "value": "silver"}, {"field_id": seats, "value": null}]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stored_values(&app).await,
        vec![(id, tier, "silver".into())],
        "null clears, others kept"
    );

    // A field of another company is unknown here.
    let other = app.user("Other Co", "company_owner").await;
    let foreign = field(&app, &other, "Theirs", "text", false).await;
    let (status, body) = app
        .patch(
            &token,
            &path,
            json!({"field_values": [{"field_id": foreign, "value": "x"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"]["field_values.0.field_id"][0],
        "The selected field values.0.field id is invalid."
    );

    assert_eq!(app.delete(&token, &path).await.0, StatusCode::NO_CONTENT);
    assert!(
        stored_values(&app).await.is_empty(),
        "deleting a customer deletes its field values"
    );
}

async fn field_value_types_are_checked(app: TestApp) {
    let token = app.owner().await;
    let seats = field(&app, &token, "Seats", "number", false).await;
    let start = field(&app, &token, "Start", "date", false).await;
    let vip = field(&app, &token, "VIP", "checkbox", false).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!([{"field_id": seats, "value": "many"}]),
            "field_values.0.value",
            "The field values.0.value field must be a number.",
        ),
        (
            json!([{"field_id": vip, "value": "x"}, {"field_id": start, "value": "2024-13-45"}]),
            "field_values.1.value",
            "The field values.1.value field must be a valid date.",
        ),
        (
            json!([{"field_id": seats, "value": 1}, {"field_id": seats, "value": 2}]),
            "field_values.1.field_id",
            "The field values.1.field id field has a duplicate value.",
        ),
        (
            json!([{"field_id": "seven", "value": 1}]),
            "field_values.0.field_id",
            "The field values.0.field id field must be an integer.",
        ),
    ];
    for (values, path, message) in cases {
        let (status, body) = app
            .post(
                &token,
                "/api/customer",
                json!({"name": "X", "field_values": values}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{values}");
        assert_eq!(body["errors"][path][0], message, "{body}");
    }
    let (_, list) = app.get(&token, "/api/customer").await;
    assert_eq!(list["total"], 0, "no customer was half-written");
    assert!(
        stored_values(&app).await.is_empty(),
        "no field value was half-written"
    );

    let required = field(&app, &token, "Account manager", "text", true).await;
    let (status, body) = app
        .post(&token, "/api/customer", json!({"name": "Missing"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"]["field_values"][0],
        "The Account manager field is required."
    );
    let (status, _) = app
        .post(
            &token,
            "/api/customer",
            json!({"name": "Given", "field_values": [{"field_id": required, "value": "Kim"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .post(
            &token,
            "/api/field",
            json!({"name": "Bad", "type": "colour", "model": "customer"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"]["type"][0], "The selected type is invalid.");
}

async fn activity_log_records_each_write(app: TestApp) {
    let token = app.owner().await;
    let (_, created) = app
        .post(
            &token,
            "/api/customer",
            json!({"name": "Logged", "email": "l@og.nl"}),
        )
        .await;
    let id = created["id"].as_i64().expect("id");
    let path = format!("/api/customer/{id}");
    app.patch(
        &token,
        &path,
        json!({"name": "Logged again", "email": "l@og.nl"}),
    )
    .await;
    app.patch(&token, &path, json!({"name": "Logged again"}))
        .await;
    app.delete(&token, &path).await;

    let rows = app
        .query(
            "SELECT event, subject_type, subject_id, causer_id, properties FROM activity_log ORDER BY id",
            &[ColumnType::Text, ColumnType::Text, ColumnType::Int, ColumnType::Int, ColumnType::Text],
        )
        .await;
    let events: Vec<String> = rows.iter().map(|r| format!("{:?}", r[0])).collect();
    assert_eq!(
        events,
        [
            "Text(\"created\")",
            "Text(\"updated\")",
            "Text(\"deleted\")"
        ],
        "a no-op update logs nothing"
    );
    let properties: Vec<Value> = rows
        .iter()
        .map(|r| match &r[4] {
            Cell::Text(t) => serde_json::from_str(t).expect("json"),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(properties[0]["attributes"]["name"], "Logged");
    assert_eq!(
        properties[1],
        json!({"attributes": {"name": "Logged again"}, "old": {"name": "Logged"}})
    );
    assert_eq!(properties[2]["old"]["name"], "Logged again");
    for row in &rows {
        assert_eq!(row[1], Cell::Text("customer".into()));
        assert_eq!(row[2], Cell::Int(id));
        assert_eq!(
            row[3],
            created["user_id"].as_i64().map(Cell::Int).expect("causer")
        );
    }
}

/// Issue "One model, two dialects" 4: on a multiselect, `eq` and `in` ask whether the list
/// holds a choice, not whether its text does (`red` is not in `["reddish"]`).
async fn multiselect_filters_test_membership(app: TestApp) {
    let token = app.owner().await;
    let (status, field) = app
        .post(
            &token,
            "/api/field",
            json!({"name": "Colours", "type": "multiselect", "model": "customer",
                   "options": [{"value": "red"}, {"value": "blue"}, {"value": "reddish"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{field}");
    let id = field["id"].as_i64().expect("id");
    let mut customers = Vec::new();
    for (name, colours) in [
        ("Both", json!(["red", "blue"])),
        ("Reddish", json!(["reddish"])),
        ("Blue", json!(["blue"])),
    ] {
        let (status, body) = app
            .post(
                &token,
                "/api/customer",
                json!({"name": name, "field_values": [{"field_id": id, "value": colours}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        customers.push(body["id"].as_i64().expect("id"));
    }
    let found = |filter: String| {
        let app = &app;
        let token = &token;
        async move {
            let (status, body) = app
                .get(token, &format!("/api/customer?order_by=id&filter={filter}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{filter}: {body}");
            body["data"]
                .as_array()
                .expect("list")
                .iter()
                .filter_map(|c| c["id"].as_i64())
                .collect::<Vec<i64>>()
        }
    };
    let (both, reddish, blue) = (customers[0], customers[1], customers[2]);
    assert_eq!(found(format!("field_values.{id}:eq:red")).await, [both]);
    assert_eq!(
        found(format!("field_values.{id}:in:red;green")).await,
        [both]
    );
    assert_eq!(
        found(format!("field_values.{id}:in:reddish;blue")).await,
        [both, reddish, blue]
    );
    assert_eq!(
        found(format!("field_values.{id}:not:eq:red")).await,
        [reddish, blue]
    );
}
