//! Remembered totals (issue 15): a filtered list's `total` is counted once and answered again
//! while the company's data version (migration 19) has not moved. These prove it stays exact
//! after every kind of write, made by this instance, another one, or straight in the database,
//! and that an unmoved version really is answered from memory.

use kring_core::Value;
use kring_core::schema::ColumnType;
use kring_server::db::Raw;
use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(
    a_remembered_total_follows_every_write_on_either_instance,
    a_total_is_answered_from_memory_only_while_the_version_stands,
    every_table_the_api_reads_moves_the_version,
    a_listed_resources_counter_follows_whatever_writes_its_table,
);

/// The benchmark's heavy filter: a substring of the name and a prefix of a contact's address.
const HEAVY: &str =
    "/api/customer?limit=1&filter=(name:contains:%22bv%22,and,contacts.email:starts_with:sales)";

async fn total(app: &TestApp, token: &str, path: &str) -> i64 {
    let (status, listed) = app.get(token, path).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    listed["total"].as_i64().expect("a total")
}

/// Both instances' totals, each asked twice (the second answer is the remembered one).
async fn totals(apps: [&TestApp; 2], token: &str) -> [i64; 4] {
    let mut out = [0; 4];
    for (n, app) in apps.iter().enumerate() {
        out[2 * n] = total(app, token, HEAVY).await;
        out[2 * n + 1] = total(app, token, HEAVY).await;
    }
    out
}

async fn created(app: &TestApp, token: &str, path: &str, body: serde_json::Value) -> i64 {
    let (status, record) = app.post(token, path, body).await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    record["id"].as_i64().expect("id")
}

async fn changed(app: &TestApp, token: &str, path: &str, body: serde_json::Value) {
    let (status, record) = app.patch(token, path, body).await;
    assert_eq!(status, StatusCode::OK, "{record}");
}

/// Writes to the customer and to its contacts, on one instance, are seen by the totals both
/// instances remembered: the version moves in the writing transaction, wherever it ran.
async fn a_remembered_total_follows_every_write_on_either_instance(first: TestApp) {
    let second = first.sibling(|_| {}).await;
    let token = first.owner().await;
    let both = [&first, &second];
    let acme = created(&first, &token, "/api/customer", json!({"name": "Acme BV"})).await;
    let bakker = created(
        &first,
        &token,
        "/api/customer",
        json!({"name": "Bakker BV"}),
    )
    .await;
    created(&first, &token, "/api/customer", json!({"name": "Cor NV"})).await;
    let sales = json!({"first_name": "Sam", "email": "sales@acme.test", "customer_id": acme});
    let acme_sales = created(&first, &token, "/api/contact", sales).await;
    let info = json!({"first_name": "Ida", "email": "info@bakker.test", "customer_id": bakker});
    created(&first, &token, "/api/contact", info).await;
    assert_eq!(totals(both, &token).await, [1; 4]);

    let sales = json!({"first_name": "Sem", "email": "sales@bakker.test", "customer_id": bakker});
    let bakker_sales = created(&second, &token, "/api/contact", sales).await;
    assert_eq!(totals(both, &token).await, [2; 4], "a contact created");

    let path = format!("/api/contact/{acme_sales}");
    changed(&first, &token, &path, json!({"email": "info@acme.test"})).await;
    assert_eq!(totals(both, &token).await, [1; 4], "a contact's address");

    let path = format!("/api/customer/{bakker}");
    changed(&second, &token, &path, json!({"name": "Bakker NV"})).await;
    assert_eq!(totals(both, &token).await, [0; 4], "a customer's name");
    changed(&first, &token, &path, json!({"name": "Bakker bv"})).await;
    assert_eq!(totals(both, &token).await, [1; 4], "the name back");

    let (status, _) = second
        .delete(&token, &format!("/api/contact/{bakker_sales}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(totals(both, &token).await, [0; 4], "a contact deleted");
}

/// The memory is really used, and the version is what retires it: a row written straight to
/// the database moves the version (the count is done again), and with the version put back by
/// hand the remembered total is answered though it is now one short.
async fn a_total_is_answered_from_memory_only_while_the_version_stands(app: TestApp) {
    let token = app.owner().await;
    let named = "/api/customer?filter=name:contains:%22memo%22";
    created(&app, &token, "/api/customer", json!({"name": "Memo one"})).await;
    assert_eq!(total(&app, &token, named).await, 1);
    let company = company_of_customers(&app).await;

    insert_customer(&app, company, "Memo two", None).await;
    assert_eq!(total(&app, &token, named).await, 2, "the version moved");
    let standing = version(&app, company).await;
    insert_customer(&app, company, "Memo three", Some(standing)).await;
    assert_eq!(
        total(&app, &token, named).await,
        2,
        "the version stood: the total counted at it is answered"
    );
    insert_customer(&app, company, "Memo four", None).await;
    assert_eq!(total(&app, &token, named).await, 4, "counted again");

    // A page past the last match reads the version alone, and counts again once it moved.
    let past = "/api/customer?filter=name:contains:%22memo%22&offset=10";
    assert_eq!(total(&app, &token, past).await, 4);
    assert_eq!(total(&app, &token, past).await, 4, "remembered");
    created(&app, &token, "/api/customer", json!({"name": "Memo five"})).await;
    assert_eq!(
        total(&app, &token, past).await,
        5,
        "a create moved the version"
    );
}

/// Every table of the registry (pivots too) has the triggers that move the version, on both
/// engines: a table added without them would let a remembered total go stale.
async fn every_table_the_api_reads_moves_the_version(app: TestApp) {
    let triggers = triggers(&app).await;
    // The permission catalogue is the same for every company and written only by migrations.
    let tables = kring_server::registry::tables();
    for table in tables.iter().filter(|t| **t != "permissions") {
        for write in ["insert", "update", "delete"] {
            let trigger = format!("{table}_{write}_moves_the_version");
            assert!(has(&triggers, table, &trigger), "{table} lacks {trigger}");
        }
    }
}

/// Every listed resource's table keeps its row counter (an unfiltered `total`) by triggers, so
/// rows inserted or deleted outside the engine (here straight in the database) are counted too.
async fn a_listed_resources_counter_follows_whatever_writes_its_table(app: TestApp) {
    let token = app.owner().await;
    created(
        &app,
        &token,
        "/api/customer",
        json!({"name": "Counted one"}),
    )
    .await;
    let company = company_of_customers(&app).await;
    insert_customer(&app, company, "Counted two", None).await;
    assert_eq!(total(&app, &token, "/api/customer").await, 2);
    let mut tx = app.db.begin().await.expect("begin");
    tx.execute(&Raw::new(
        "DELETE FROM customers WHERE name = 'Counted one'",
        vec![],
    ))
    .await
    .expect("delete");
    tx.commit().await.expect("commit");
    assert_eq!(total(&app, &token, "/api/customer").await, 1);

    let triggers = triggers(&app).await;
    let listed = kring_server::registry::REGISTRY
        .iter()
        .filter(|def| def.routes == kring_core::resource::Routes::Crud);
    for def in listed {
        for write in ["insert", "delete"] {
            let trigger = format!("{}_{write}_updates_the_count", def.table);
            let text = text_of(&triggers, def.table, &trigger);
            let counts = format!("'{}'", def.name);
            assert!(
                text.is_some_and(|t| t.contains(&counts)),
                "{} lacks {trigger} counting {counts}: {text:?}",
                def.table
            );
        }
    }
}

/// Every trigger's table, name and text.
async fn triggers(app: &TestApp) -> Vec<Vec<Value>> {
    let catalogue = match app.db.backend() {
        kring_server::db::Backend::Sqlite => {
            "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'"
        }
        kring_server::db::Backend::Postgres => {
            "SELECT DISTINCT event_object_table, trigger_name, action_statement \
             FROM information_schema.triggers"
        }
    };
    app.query(catalogue, &[ColumnType::Text; 3]).await
}

fn has(triggers: &[Vec<Value>], table: &str, trigger: &str) -> bool {
    text_of(triggers, table, trigger).is_some()
}

fn text_of<'a>(triggers: &'a [Vec<Value>], table: &str, trigger: &str) -> Option<&'a str> {
    triggers.iter().find_map(|row| match row.as_slice() {
        [Value::Text(t), Value::Text(n), Value::Text(text)] if t == table && n == trigger => {
            Some(text.as_str())
        }
        _ => None,
    })
}

async fn company_of_customers(app: &TestApp) -> i64 {
    let rows = app
        .query("SELECT MAX(company_id) FROM customers", &[ColumnType::Int])
        .await;
    rows.first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
        .expect("a company")
}

async fn version(app: &TestApp, company: i64) -> i64 {
    let rows = app
        .db
        .fetch(
            &Raw::new(
                "SELECT version FROM data_versions WHERE company_id = ?",
                vec![company.into()],
            ),
            &[ColumnType::Int],
        )
        .await
        .expect("the version");
    rows.first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
        .expect("a version")
}

/// A customer inserted straight into the database; with `version`, the company's version is
/// then set back to it in the same transaction.
async fn insert_customer(app: &TestApp, company: i64, name: &str, version: Option<i64>) {
    let mut tx = app.db.begin().await.expect("begin");
    tx.execute(&Raw::new(
        "INSERT INTO customers (company_id, user_id, name, created_at, updated_at) \
         SELECT company_id, id, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z' \
         FROM users WHERE company_id = ? LIMIT 1",
        vec![name.into(), company.into()],
    ))
    .await
    .expect("insert");
    if let Some(version) = version {
        tx.execute(&Raw::new(
            "UPDATE data_versions SET version = ? WHERE company_id = ?",
            vec![version.into(), company.into()],
        ))
        .await
        .expect("set the version back");
    }
    tx.commit().await.expect("commit");
}
