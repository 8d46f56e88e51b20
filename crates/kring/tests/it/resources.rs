//! Every routed resource of the registry, walked through the same checks: create, show, list,
//! update, every relation eager-loadable (on show and on list), a validation rule, the viewer's
//! 403, a foreign tenant's 404, delete. A resource without a fixture here fails the walk, so a new resource
//! cannot arrive untested.

use kring_server::registry::{REGISTRY, Routes};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(t16_every_resource_walks_the_same_path);

/// What the walk needs of one resource.
pub(crate) struct Fixture {
    pub(crate) create: Value,
    /// One key changed by an update, and its new value as served.
    update: (&'static str, Value),
    /// A body that breaks one rule, and the key whose error it must give.
    invalid: (Value, &'static str),
}

pub async fn create(app: &TestApp, token: &str, resource: &str, body: Value) -> i64 {
    let (status, created) = app.post(token, &format!("/api/{resource}"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{resource}: {created}");
    created["id"].as_i64().expect("id")
}

pub async fn role_id(app: &TestApp, token: &str, name: &str) -> i64 {
    let (_, roles) = app.get(token, "/api/role").await;
    roles["data"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["id"].as_i64())
        .expect("role")
}

pub(crate) async fn fixture(app: &TestApp, token: &str, resource: &str) -> Option<Fixture> {
    let customer = create(app, token, "customer", json!({"name": "Base BV"})).await;
    let contact = || json!({"first_name": "Ann", "customer_id": customer});
    let fixture = match resource {
        "user" => Fixture {
            create: json!({
                "name": "Bea", "email": format!("bea{customer}@walk.test"),
                "password": "correct horse", "role_id": role_id(app, token, "company_viewer").await,
            }),
            update: ("name", json!("Bea B")),
            invalid: (
                json!({"name": "x", "email": "nope", "password": "correct horse", "role_id": 1}),
                "email",
            ),
        },
        "role" => Fixture {
            create: json!({"name": "Sales", "permissions": ["customer.view"]}),
            update: ("name", json!("Sales team")),
            invalid: (json!({"name": ""}), "name"),
        },
        "customer" => Fixture {
            create: json!({"name": "Acme"}),
            update: ("name", json!("Acme 2")),
            invalid: (json!({"name": "x", "email": "bad"}), "email"),
        },
        "contact" => Fixture {
            create: contact(),
            update: ("last_name", json!("Jansen")),
            invalid: (
                json!({"first_name": "A", "customer_id": 999_999}),
                "customer_id",
            ),
        },
        "task" => Fixture {
            create: json!({"name": "Call", "customer_id": customer, "subtasks": [{"name": "dial"}]}),
            update: ("done", json!(true)),
            invalid: (json!({"name": "x", "priority": 9}), "priority"),
        },
        "appointment" => Fixture {
            create: json!({"name": "Meet", "start_date": "2026-01-05T10:00:00Z"}),
            update: ("location", json!("Utrecht")),
            invalid: (json!({"name": "x"}), "start_date"),
        },
        "chance" => Fixture {
            create: json!({"name": "Deal", "chance": 50, "customer_id": customer}),
            update: ("status", json!("won")),
            invalid: (json!({"name": "x", "status": "maybe"}), "status"),
        },
        "assignment" => Fixture {
            create: json!({"name": "Job", "price": 10}),
            update: ("status", json!("done")),
            invalid: (json!({"name": "x", "price_type": 7}), "price_type"),
        },
        "contract" => {
            let contact = create(app, token, "contact", contact()).await;
            let chance = create(app, token, "chance", json!({"name": "Deal"})).await;
            Fixture {
                create: json!({
                    "name": "Support", "customer_id": customer, "contact_id": contact,
                    "chance_id": chance, "price": 100, "price_type": 2,
                    "start_date": "2026-01-01", "end_date": "2027-01-01",
                }),
                update: ("calculated_price", json!(1200.0)),
                invalid: (json!({"name": "x"}), "price"),
            }
        }
        "email" => Fixture {
            create: json!({"subject": "Hi", "from": "a@b.nl", "customer_id": customer}),
            update: ("subject", json!("Hello")),
            invalid: (json!({"subject": "x", "from": "bad"}), "from"),
        },
        "field" => Fixture {
            create: json!({"name": "Tier", "type": "select", "model": "customer",
                           "options": [{"value": "gold"}, {"value": "silver"}]}),
            update: ("required", json!(true)),
            invalid: (
                json!({"name": "x", "type": "weird", "model": "customer"}),
                "type",
            ),
        },
        "note" => Fixture {
            create: json!({"content": "Called them", "customer_id": customer}),
            update: ("content", json!("Called them twice")),
            invalid: (json!({"content": ""}), "content"),
        },
        "todo" => Fixture {
            create: json!({"name": "Invoice", "due_date": "2026-02-01"}),
            update: ("done", json!(true)),
            invalid: (json!({"name": "x", "due_date": "soon"}), "due_date"),
        },
        "template" => Fixture {
            create: json!({"name": "Onboarding", "type": "task",
                           "items": [{"name": "Welcome call", "offset_days": 1}]}),
            update: ("name", json!("Onboarding v2")),
            invalid: (json!({"name": "x", "type": "fax"}), "type"),
        },
        "webhook" => Fixture {
            create: json!({"url": "https://example.com/hook", "event": "customer.created"}),
            update: ("event", json!("customer.updated")),
            invalid: (
                json!({"url": "ftp://example.com", "event": "customer.created"}),
                "url",
            ),
        },
        _ => return None,
    };
    Some(fixture)
}

async fn t16_every_resource_walks_the_same_path(app: TestApp) {
    let owner = app.owner().await;
    let viewer = app.user("Acme", "company_viewer").await;
    let stranger = app.user("Other Co", "company_owner").await;
    let mut walked = 0;
    for def in REGISTRY.iter().filter(|d| d.routes == Routes::Crud) {
        walked += 1;
        let name = def.name;
        let base = format!("/api/{name}");
        let fixture = fixture(&app, &owner, name)
            .await
            .unwrap_or_else(|| panic!("resource {name} has no fixture in tests/it/resources.rs"));

        let (status, created) = app.post(&owner, &base, fixture.create.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{name} create: {created}");
        let id = created["id"].as_i64().expect("id");
        for column in def.visible_columns() {
            assert!(
                created.get(column.name).is_some(),
                "{name} create lacks {}",
                column.name
            );
        }
        // Hidden columns are never served, but for a generated secret's one showing at create.
        for column in def
            .columns
            .iter()
            .filter(|c| c.hidden && c.generate.is_none())
        {
            assert!(
                created.get(column.name).is_none(),
                "{name} serves {}",
                column.name
            );
        }
        assert!(
            created.get("company_id").is_none() || name == "user",
            "{name}"
        );

        let record = format!("{base}/{id}");
        let (status, shown) = app.get(&owner, &record).await;
        assert_eq!(status, StatusCode::OK, "{name} show");
        assert_eq!(shown["id"], id, "{name} show");
        for column in def.columns.iter().filter(|c| c.hidden) {
            assert!(
                shown.get(column.name).is_none(),
                "{name} shows {}",
                column.name
            );
        }

        let (status, list) = app.get(&owner, &format!("{base}?limit=1000")).await;
        assert_eq!(status, StatusCode::OK, "{name} list");
        let listed = list["data"].as_array().expect("data");
        assert!(listed.iter().any(|r| r["id"] == id), "{name} list");
        assert_eq!(
            list["total"].as_u64(),
            Some(listed.len() as u64),
            "{name} total"
        );

        let (key, value) = fixture.update;
        let update_body = if key == "calculated_price" {
            // Derived: 100 monthly → 1200 a year; changing the price type recomputes it.
            assert_eq!(created[key], value, "{name} derives {key}");
            json!({"price_type": 4})
        } else {
            json!({ key: value.clone() })
        };
        let (status, updated) = app.patch(&owner, &record, update_body).await;
        assert_eq!(status, StatusCode::OK, "{name} update: {updated}");
        if key == "calculated_price" {
            assert_eq!(updated[key], json!(100.0), "{name} re-derives {key}");
        } else {
            assert_eq!(updated[key], value, "{name} update");
        }

        let (bad_body, bad_key) = fixture.invalid;
        let (status, error) = app.post(&owner, &base, bad_body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name} invalid: {error}"
        );
        assert!(
            error["errors"].get(bad_key).is_some(),
            "{name} invalid {bad_key}: {error}"
        );

        for relation in def.relations {
            let path = format!("{record}?with={}", relation.name);
            let (status, loaded) = app.get(&owner, &path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {loaded}");
            let embedded = &loaded[relation.name];
            if relation.is_to_many() {
                assert!(embedded["data"].is_array(), "{path}: {loaded}");
                assert_eq!(embedded["limit"], 50, "{path}");
            } else {
                assert!(
                    embedded.is_object() || embedded.is_null(),
                    "{path}: {loaded}"
                );
            }
            let (status, listed) = app
                .get(&owner, &format!("{base}?with={}&limit=5", relation.name))
                .await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{base} with {}: {listed}",
                relation.name
            );
        }

        let (status, _) = app.get(&viewer, &record).await;
        assert_eq!(status, StatusCode::OK, "{name}: viewers read");
        for (method, path) in [("POST", &base), ("PATCH", &record), ("DELETE", &record)] {
            let (status, _) = app.send(method, Some(&viewer), path, Some(json!({}))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{name}: viewer {method}");
        }
        for method in ["GET", "PATCH", "DELETE"] {
            let (status, _) = app
                .send(method, Some(&stranger), &record, Some(json!({})))
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{name}: foreign {method}");
        }

        let (status, _) = app.delete(&owner, &record).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name} delete");
        let (status, _) = app.get(&owner, &record).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name} after delete");
    }
    assert!(
        walked >= 15,
        "the registry serves every Cirqll resource ({walked})"
    );
}
