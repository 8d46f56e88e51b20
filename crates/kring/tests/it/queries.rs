//! The query language through HTTP (`spec/cirqll.md` §4) on the shared dataset: `with`,
//! `show`, `count`, `filter`, `order_by` and pagination, and the 400s for each mistake.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::dataset::{NAMES, seed};
use crate::resources::create;
use crate::support::{TestApp, encode};

backend_tests!(
    with_embeds_relations_and_reports_weight,
    show_selects_fields_and_their_relations,
    count_adds_relation_sizes,
    filter_grammar_end_to_end,
    order_by_and_pagination,
    text_orders_ignore_case_and_ties_go_by_id,
    to_many_relations_are_paginated_per_parent,
    statements_per_request_do_not_grow_with_rows,
    invalid_queries_are_400_and_say_why
);

/// The dataset indexes of the customers in a list, in list order.
fn indexes(list: &Value) -> Vec<usize> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|c| {
            let name = c["name"].as_str().expect("name");
            NAMES
                .iter()
                .position(|n| *n == name)
                .expect("a dataset name")
        })
        .collect()
}

async fn get_with_headers(
    app: &TestApp,
    token: &str,
    path: &str,
) -> (StatusCode, Option<String>, Value) {
    let response = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let weight = response
        .headers()
        .get("x-eager-loading-weight")
        .map(|v| v.to_str().unwrap().to_string());
    (status, weight, response.json().await.unwrap())
}

async fn with_embeds_relations_and_reports_weight(app: TestApp) {
    let token = app.owner().await;
    seed(&app, &token).await;
    for query in [
        "with=user,contacts.user",
        "with[]=user&with[]=contacts.user",
    ] {
        let (status, weight, list) =
            get_with_headers(&app, &token, &format!("/api/customer?{query}&order_by=id")).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(
            weight.as_deref(),
            Some("6"),
            "user 1 + contacts 3 + contacts.user 2"
        );
        let first = &list["data"][0];
        assert_eq!(first["user"]["name"], "Test User", "to-one is an object");
        assert!(first["user"].get("password").is_none());
        let contacts = &first["contacts"];
        assert_eq!(contacts["limit"], 50);
        assert_eq!(contacts["offset"], 0);
        assert_eq!(contacts["total"], 3, "Sam, Kim and Shared0");
        let firsts: Vec<&str> = contacts["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["first_name"].as_str().unwrap())
            .collect();
        assert_eq!(firsts, ["Sam", "Kim", "Shared"]);
        assert_eq!(
            contacts["data"][0]["user"]["name"], "Test User",
            "nested to-one"
        );
        assert_eq!(
            list["data"][5]["contacts"]["total"], 0,
            "an empty envelope, not null"
        );
        assert_eq!(list["data"][5]["contacts"]["data"], json!([]));
    }
    let (status, weight, _) = get_with_headers(&app, &token, "/api/customer").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(weight, None, "no header without with");

    // The two worked examples of the docs weigh exactly 16.
    for with in [
        "field_values,contracts.field_values,chances.field_values,tasks.field_values",
        "field_values,appointments,assignments,chances,contracts,tasks",
    ] {
        let (status, weight, list) = get_with_headers(
            &app,
            &token,
            &format!("/api/customer?with={with}&order_by=id"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{with}: {list}");
        assert_eq!(weight.as_deref(), Some("16"), "{with}");
        let tiers = &list["data"][0]["field_values"]["data"];
        assert_eq!(tiers[0]["value"], "gold", "{with}");
    }
    let (status, _, error) = get_with_headers(
        &app,
        &token,
        "/api/customer?with=field_values,appointments,assignments,chances,contracts,tasks,user",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error["message"],
        "Eager loading weight 17 exceeds the maximum of 16."
    );

    // The docs' allowed and forbidden paths for customers.
    for allowed in [
        "user.company",
        "user.company.address",
        "user.company.address.company",
        "contacts.user.company",
    ] {
        let (status, _, body) =
            get_with_headers(&app, &token, &format!("/api/customer?with={allowed}")).await;
        assert_eq!(status, StatusCode::OK, "{allowed}: {body}");
    }
    let (_, _, shown) =
        get_with_headers(&app, &token, "/api/customer?with=user.company&limit=1").await;
    assert_eq!(shown["data"][0]["user"]["company"]["name"], "Acme");
    for forbidden in ["user.customers", "contacts.notes"] {
        let (status, _, body) =
            get_with_headers(&app, &token, &format!("/api/customer?with={forbidden}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{forbidden}: {body}");
    }
}

async fn show_selects_fields_and_their_relations(app: TestApp) {
    let token = app.owner().await;
    let data = seed(&app, &token).await;
    let (status, list) = app.get(&token, "/api/customer?show=name&limit=2").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let keys: Vec<&String> = list["data"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "name"], "id always, then what was asked");

    let id = data.customers[0];
    let (status, one) = app
        .get(
            &token,
            &format!("/api/customer/{id}?show[]=name&show[]=user.name"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(
        one,
        json!({"id": id, "user_id": one["user_id"], "name": "Alpha BV",
               "user": {"id": one["user_id"], "name": "Test User"}}),
        "a dotted field loads its relation and adds the foreign key"
    );
    let (_, filtered) = app
        .get(
            &token,
            "/api/customer?show=name&filter=email:eq:null&order_by=id",
        )
        .await;
    assert_eq!(indexes(&filtered), [0, 4, 8], "filters need no show");
}

async fn count_adds_relation_sizes(app: TestApp) {
    let token = app.owner().await;
    seed(&app, &token).await;
    for query in ["count=tasks,contacts", "count[]=tasks&count[]=contacts"] {
        let (status, list) = app
            .get(&token, &format!("/api/customer?{query}&order_by=id"))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let tasks: Vec<i64> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["tasks_count"].as_i64().unwrap())
            .collect();
        assert_eq!(tasks, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
        let contacts: Vec<i64> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["contacts_count"].as_i64().unwrap())
            .collect();
        assert_eq!(contacts, [3, 1, 2, 1, 3, 0, 3, 1, 2, 1, 3, 0]);
    }
    let (status, error) = app.get(&token, "/api/customer?count=user").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["message"].as_str().unwrap().contains("'user'"),
        "{error}"
    );
}

async fn filter_grammar_end_to_end(app: TestApp) {
    let token = app.owner().await;
    let data = seed(&app, &token).await;
    let (tier, revenue) = (data.tier, data.revenue);
    let cases: Vec<(String, Vec<usize>)> = vec![
        ("name:contains:bv".into(), vec![0, 1, 6, 10]),
        ("name:like:BV".into(), vec![0, 1, 6, 10]),
        ("name:eq:Alpha BV".into(), vec![0]),
        ("name:starts_with:eta".into(), vec![6]),
        ("name:ends_with:bv".into(), vec![0, 1, 6, 10]),
        ("name:contains:_".into(), vec![10]),
        ("name:contains:100%".into(), vec![9]),
        (r#"name:eq:"Gamma, Delta & Co""#.into(), vec![2]),
        (r#"name:eq:"Lowe (NL) \"Quoted\"""#.into(), vec![3]),
        ("email:eq:null".into(), vec![0, 4, 8]),
        (
            "email:not:eq:null".into(),
            vec![1, 2, 3, 5, 6, 7, 9, 10, 11],
        ),
        ("next_contact:gt:2026-05-01".into(), vec![4, 5, 7, 8]),
        ("next_contact:lte:2026-02-15T09:30:00Z".into(), vec![1, 10]),
        (
            "show_on_map:eq:true,and,email:not:eq:null".into(),
            vec![2, 6, 10],
        ),
        ("show_on_map:eq:1,email:not:eq:null".into(), vec![2, 6, 10]),
        (
            "(name:contains:bv,OR,name:eq:Mu),AND,show_on_map:eq:false".into(),
            vec![1, 11],
        ),
        (
            "name:contains:bv,or,name:eq:Mu,and,show_on_map:eq:false".into(),
            vec![0, 1, 6, 10, 11],
        ),
        ("((name:eq:Mu))".into(), vec![11]),
        ("name:in:Mu;Theta;Nope".into(), vec![7, 11]),
        (
            "name:not:in:Mu;Theta".into(),
            vec![0, 1, 2, 3, 4, 5, 6, 8, 9, 10],
        ),
        (format!("field_values.{tier}:eq:gold"), vec![0, 6, 9]),
        (
            format!("field_values.{tier}:in:gold;silver"),
            vec![0, 1, 4, 6, 9, 10],
        ),
        (
            format!("field_values.{tier}:not:eq:gold"),
            vec![1, 2, 4, 5, 8, 10],
        ),
        (format!("field_values.{revenue}:gt:4500"), vec![6, 8, 10]),
        (
            format!("field_values.{revenue}:eq:null"),
            vec![1, 3, 5, 7, 9, 11],
        ),
        (
            "contacts.email:ends_with:@example.nl".into(),
            vec![0, 2, 4, 6, 8, 10],
        ),
        (
            "contacts.first_name:eq:Shared".into(),
            vec![0, 1, 3, 4, 6, 7, 9, 10],
        ),
        ("tasks.done:eq:true".into(), vec![2, 5, 8, 11]),
        ("contracts.price_type:eq:1".into(), vec![0, 4, 8]),
        ("contracts.chance.chance:gte:32".into(), vec![4, 8]),
        ("user.name:eq:Test User,name:starts_with:a".into(), vec![0]),
    ];
    for (filter, expected) in cases {
        let path = format!("/api/customer?order_by=id&filter={}", encode(&filter));
        let (status, list) = app.get(&token, &path).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {list}");
        assert_eq!(indexes(&list), expected, "{filter}");
        assert_eq!(
            list["total"],
            expected.len(),
            "{filter}: total counts the filtered rows"
        );
    }
}

async fn order_by_and_pagination(app: TestApp) {
    let token = app.owner().await;
    seed(&app, &token).await;
    let (_, list) = app.get(&token, "/api/customer?order_by=name").await;
    assert_eq!(
        indexes(&list),
        [0, 1, 4, 6, 2, 8, 9, 10, 3, 11, 7, 5],
        "text sorts ignoring case, the same on both engines"
    );
    let (_, list) = app
        .get(&token, "/api/customer?order_by=next_contact:desc,name:asc")
        .await;
    assert_eq!(
        indexes(&list),
        [8, 7, 5, 4, 11, 2, 10, 1, 0, 6, 9, 3],
        "nulls last descending"
    );
    let (_, list) = app.get(&token, "/api/customer?order_by=next_contact").await;
    assert_eq!(
        &indexes(&list)[..4],
        [0, 3, 6, 9],
        "nulls first ascending, then id"
    );
    let (_, list) = app
        .get(
            &token,
            "/api/customer?order_by[]=show_on_map:desc&order_by[]=id:desc",
        )
        .await;
    assert_eq!(indexes(&list), [10, 8, 6, 4, 2, 0, 11, 9, 7, 5, 3, 1]);

    let (_, page) = app
        .get(&token, "/api/customer?order_by=name&limit=3&offset=3")
        .await;
    assert_eq!(indexes(&page), [6, 2, 8]);
    assert_eq!(
        (
            page["limit"].clone(),
            page["offset"].clone(),
            page["total"].clone()
        ),
        (json!(3), json!(3), json!(12))
    );
    let (_, page) = app
        .get(
            &token,
            "/api/customer?per_page=2&offset=1&filter=name:contains:bv&order_by=id",
        )
        .await;
    assert_eq!(indexes(&page), [1, 6]);
    assert_eq!(page["total"], 4);
    assert_eq!(page["limit"], 2);
}

async fn to_many_relations_are_paginated_per_parent(app: TestApp) {
    let token = app.owner().await;
    let busy = create(&app, &token, "customer", json!({"name": "Busy"})).await;
    let quiet = create(&app, &token, "customer", json!({"name": "Quiet"})).await;
    for i in 0..55 {
        create(
            &app,
            &token,
            "task",
            json!({"name": format!("T{i:02}"), "customer_id": busy}),
        )
        .await;
    }
    create(
        &app,
        &token,
        "task",
        json!({"name": "Only", "customer_id": quiet}),
    )
    .await;
    let (status, list) = app
        .get(&token, "/api/customer?with=tasks&order_by=id")
        .await;
    assert_eq!(status, StatusCode::OK);
    let tasks = &list["data"][0]["tasks"];
    assert_eq!(tasks["total"], 55);
    assert_eq!(tasks["limit"], 50);
    assert_eq!(tasks["data"].as_array().unwrap().len(), 50);
    assert_eq!(tasks["data"][49]["name"], "T49", "the first 50 by id");
    assert_eq!(list["data"][1]["tasks"]["total"], 1);
    assert_eq!(list["data"][1]["tasks"]["data"][0]["name"], "Only");
}

async fn invalid_queries_are_400_and_say_why(app: TestApp) {
    let token = app.owner().await;
    let cases = [
        ("with=bogus", "bogus"),
        ("show=secret", "secret"),
        ("count=name", "name"),
        ("order_by=name:sideways", "sideways"),
        ("order_by=nope", "nope"),
        ("filter=name:eqq:x", "eqq"),
        ("filter=(name:eq:x", "("),
        ("filter=name:eq:x)", ")"),
        ("filter=nope:eq:x", "nope"),
        ("filter=show_on_map:eq:maybe", "maybe"),
        ("filter=next_contact:gt:tomorrow", "tomorrow"),
        ("filter=field_values.999:eq:x", "field_values.999"),
        ("filter=name:eq:x&filter=name:eq:y", "filter"),
        ("limit=5000", "limit"),
    ];
    for (query, token_named) in cases {
        let (status, error) = app.get(&token, &format!("/api/customer?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(token_named), "{query}: {message}");
    }
    let response = app
        .client
        .get(format!("{}/api/customer?filter=name:eqq:x", app.base))
        .bearer_auth(&token)
        .header("Accept-Language", "nl")
        .send()
        .await
        .unwrap();
    let error: Value = response.json().await.unwrap();
    assert!(
        error["message"].as_str().unwrap().contains("eqq"),
        "{error}"
    );
}

backend_tests!(filtered_pages_never_repeat_a_record);

/// Customers with two matching tasks appear once, so offsets count records, not matches (the
/// SQLite 3.51 semi-join regression of `docs/decisions.md`).
async fn filtered_pages_never_repeat_a_record(app: TestApp) {
    let token = app.owner().await;
    seed(&app, &token).await;
    let path = |offset: usize| {
        format!("/api/customer?filter=tasks.priority:gte:3&order_by=id&limit=4&offset={offset}")
    };
    let (_, first) = app.get(&token, &path(1)).await;
    assert_eq!(indexes(&first), [4, 7, 8, 11]);
    assert_eq!(first["total"], 5);
    let (_, past) = app.get(&token, &path(5)).await;
    assert_eq!(past["data"], json!([]), "{past}");
}

/// One statement per relation level, whatever the number of records: a page of 2 and a page of
/// 12 customers with nested relations, counts and a relation filter cost the same statements.
async fn statements_per_request_do_not_grow_with_rows(app: TestApp) {
    let token = app.owner().await;
    let data = seed(&app, &token).await;
    let query = format!(
        "with=user,contacts.user,tasks,field_values&count=tasks,contacts\
         &filter=contacts.first_name:not:eq:nobody,or,field_values.{}:eq:gold&order_by=id",
        data.tier
    );
    let mut costs = Vec::new();
    for limit in [2, 12, 2, 12] {
        let before = app.db.reads();
        let (status, list) = app
            .get(&token, &format!("/api/customer?{query}&limit={limit}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["data"].as_array().unwrap().len(), limit.min(10));
        costs.push(app.db.reads() - before);
    }
    // Field types, page ids with total, rows with counts, and one per loaded level: user,
    // contacts, contacts.user, tasks, field_values. The principal is remembered from the
    // seeding requests. The first request counts; the second takes the remembered total and
    // asks SQLite once how its probed page would walk (`EXPLAIN`); later ones only take it.
    let explained = match app.db.backend() {
        kring_server::db::Backend::Sqlite => 1,
        kring_server::db::Backend::Postgres => 0,
    };
    assert_eq!(costs, [8, 8 + explained, 8, 8], "statements per request");
}

backend_tests!(
    relations_need_their_own_permission,
    hostile_query_lists_are_bounded
);

/// T19: a relation, a count or a filter path reaches only what the caller may read itself.
async fn relations_need_their_own_permission(app: TestApp) {
    let owner = app.owner().await;
    seed(&app, &owner).await;
    let (_, role) = app
        .post(
            &owner,
            "/api/role",
            json!({"name": "Customers only", "permissions": ["customer.view"]}),
        )
        .await;
    let email = "narrow@acme.test";
    app.post(
        &owner,
        "/api/user",
        json!({"name": "N", "email": email, "password": "long enough", "role_id": role["id"]}),
    )
    .await;
    let narrow = kring_server::admin::create_token(&app.db, email, "t")
        .await
        .unwrap();
    assert_eq!(app.get(&narrow, "/api/customer").await.0, StatusCode::OK);
    for query in [
        "with=user",
        "show=name,user.email",
        "count=tasks",
        "filter=user.email:starts_with:a",
        "with=contacts",
    ] {
        let (status, _) = app.get(&narrow, &format!("/api/customer?{query}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{query}");
    }
    assert_eq!(
        app.get(&narrow, "/api/customer?with=field_values").await.0,
        StatusCode::OK,
        "part of the customer"
    );
    app.patch(
        &owner,
        &format!("/api/role/{}", role["id"]),
        json!({"permissions": ["customer.view", "user.view"]}),
    )
    .await;
    assert_eq!(
        app.get(&narrow, "/api/customer?with=user").await.0,
        StatusCode::OK
    );
}

/// Lists in a query are bounded: a repeated `order_by` column is dropped, an `in` list has a
/// maximum, and an empty item must be written `""`.
async fn hostile_query_lists_are_bounded(app: TestApp) {
    let token = app.owner().await;
    let data = seed(&app, &token).await;
    let order = vec!["name"; 3000].join(",");
    let (status, list) = app
        .get(&token, &format!("/api/customer?order_by={order}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(indexes(&list)[0], 0, "ordered by name once");
    let many = vec!["gold"; 600].join(";");
    let (status, error) = app
        .get(
            &token,
            &format!("/api/customer?filter=field_values.{}:in:{many}", data.tier),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let some = vec!["gold"; 400].join(";");
    let (status, list) = app
        .get(
            &token,
            &format!(
                "/api/customer?filter=field_values.{}:in:{some}&order_by=id",
                data.tier
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(indexes(&list), [0, 6, 9]);
    let (status, _) = app.get(&token, "/api/customer?filter=name:in:Mu;").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an empty item");
    let (status, list) = app
        .get(&token, "/api/customer?filter=name:in:Mu;%22%22")
        .await;
    assert_eq!(
        (status, indexes(&list)),
        (StatusCode::OK, vec![11]),
        "\"\" is the empty text"
    );
}

/// Issue "One model, two dialects" 14: text sorts as a Laravel app on MySQL's default
/// collation sorts it, ignoring case ("Acme bv" before "Acme Corp"), and names equal but for
/// case keep their creation order in both directions, in both dialects, on both engines.
async fn text_orders_ignore_case_and_ties_go_by_id(app: TestApp) {
    let token = app.owner().await;
    let names = [
        "Acme Corp",
        "acme BV",
        "Zulu",
        "Acme bv",
        "alpha",
        "ACME BV",
    ];
    for name in names {
        create(&app, &token, "customer", json!({ "name": name })).await;
    }
    let listed = |list: &Value, key: &str| -> Vec<String> {
        list["data"]
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {list}"))
            .iter()
            .map(|c| c[key].as_str().unwrap_or("").to_string())
            .collect()
    };
    let (status, list) = app.get(&token, "/api/customer?order_by=name").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        listed(&list, "name"),
        [
            "acme BV",
            "Acme bv",
            "ACME BV",
            "Acme Corp",
            "alpha",
            "Zulu"
        ]
    );
    let (_, list) = app.get(&token, "/api/customer?order_by=name:desc").await;
    assert_eq!(
        listed(&list, "name"),
        [
            "Zulu",
            "alpha",
            "Acme Corp",
            "acme BV",
            "Acme bv",
            "ACME BV"
        ],
        "ties still by id, ascending"
    );
}
