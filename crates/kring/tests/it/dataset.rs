//! One small CRM, written through the API so that both engines hold exactly the same records
//! with the same ids: customers with contacts, tasks, chances, contracts and custom field
//! values, with the awkward cases (nulls, commas, quotes, mixed case) the query language must
//! handle.

use serde_json::{Value, json};

use crate::resources::create;
use crate::support::TestApp;

pub const NAMES: [&str; 12] = [
    "Alpha BV",
    "beta bv",
    "Gamma, Delta & Co",
    "Lowe (NL) \"Quoted\"",
    "Epsilon",
    "Zeta Holding",
    "eta BV",
    "Theta",
    "Iota Logistiek",
    "Kappa 100%",
    "Lambda_BV",
    "Mu",
];

pub struct Dataset {
    /// The select field `tier` (gold, silver, bronze) and the number field `revenue`.
    pub tier: i64,
    pub revenue: i64,
    pub customers: Vec<i64>,
}

pub const TIERS: [&str; 3] = ["gold", "silver", "bronze"];

pub async fn seed(app: &TestApp, token: &str) -> Dataset {
    let tier = create(
        app,
        token,
        "field",
        json!({"name": "Tier", "type": "select", "model": "customer",
               "options": TIERS.iter().map(|t| json!({"value": t})).collect::<Vec<_>>()}),
    )
    .await;
    let revenue = create(
        app,
        token,
        "field",
        json!({"name": "Revenue", "type": "number", "model": "customer"}),
    )
    .await;
    let mut customers = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let mut field_values = Vec::new();
        if i % 4 != 3 {
            field_values.push(json!({"field_id": tier, "value": TIERS[i % 3]}));
        }
        if i % 2 == 0 {
            field_values.push(json!({"field_id": revenue, "value": (i * 1000 + 500).to_string()}));
        }
        let slug: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_lowercase();
        let body = json!({
            "name": name,
            "email": if i % 4 == 0 { Value::Null } else { json!(format!("info@{slug}.nl")) },
            "next_contact": if i % 3 == 0 { Value::Null } else {
                json!(format!("2026-{:02}-{:02}T09:30:00Z", 1 + i % 9, 1 + (i * 7) % 28))
            },
            "show_on_map": i % 2 == 0,
            "coc": format!("{:08}", 10_000_000 + i * 37),
            "field_values": field_values,
        });
        customers.push(create(app, token, "customer", body).await);
    }
    for (i, &customer) in customers.iter().enumerate() {
        if i % 2 == 0 {
            for (first, email) in [("Sam", Some("sales")), ("Kim", None)] {
                let email = email.map(|e| format!("{e}{i}@example.nl"));
                create(
                    app,
                    token,
                    "contact",
                    json!({"first_name": first, "last_name": format!("Nr {i}"), "email": email,
                           "customer_id": customer, "customer_ids": [customer]}),
                )
                .await;
            }
        }
        if i % 3 == 0 && i + 1 < customers.len() {
            create(
                app,
                token,
                "contact",
                json!({"first_name": "Shared", "email": format!("shared{i}@bv.nl"),
                       "customer_ids": [customer, customers[i + 1]]}),
            )
            .await;
        }
        for t in 0..(i % 3) {
            create(
                app,
                token,
                "task",
                json!({"name": format!("Task {t} of {i}"), "customer_id": customer,
                       "done": t == 1, "priority": 1 + (i + t) % 5}),
            )
            .await;
        }
        if i % 4 == 0 {
            let chance = create(
                app,
                token,
                "chance",
                json!({"name": format!("Deal {i}"), "customer_id": customer, "chance": i * 8}),
            )
            .await;
            let contact = create(app, token, "contact", json!({"first_name": "Signer"})).await;
            create(
                app,
                token,
                "contract",
                json!({"name": format!("Contract {i}"), "customer_id": customer,
                       "contact_id": contact, "chance_id": chance, "price": 100 + i,
                       "price_type": 1 + i % 4, "start_date": "2026-01-01",
                       "end_date": "2026-12-31"}),
            )
            .await;
        }
    }
    Dataset {
        tier,
        revenue,
        customers,
    }
}
