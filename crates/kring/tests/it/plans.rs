//! Query plans (issue 15): the statements the engine builds for a list use the indexes meant
//! for them. Each test builds the engine's own statement for a query string and asks the
//! database how it would run it; speed itself is the benchmark's to measure.

use kring_core::query::{PlanKind, parse_query_string, plan};
use kring_core::schema::ColumnType;
use kring_server::db::{Backend, Explain};
use kring_server::engine::criteria::{Context, SemiJoins};
use kring_server::engine::read::{Counting, page_ids};
use kring_server::registry::REGISTRY;
use kring_server::registry::defs::customer::CUSTOMER;
use kring_server::tenant::Tenant;

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(
    an_owners_sorted_page_walks_the_owner_name_index,
    a_scanning_filter_is_counted_in_the_pages_own_pass_and_order,
    statistics_keep_index_averages_not_value_samples,
    a_dense_page_under_a_remembered_total_probes_in_its_order,
);

/// How the database would find the page's ids of `query` on customers, one line per step.
async fn plan_of(app: &TestApp, query: &str) -> Vec<String> {
    plan_asked(app, query, SemiJoins::Lists, Counting::Yes).await
}

/// The same, with conditions on related rows asked as `semi_joins`, the count as `counting`.
async fn plan_asked(
    app: &TestApp,
    query: &str,
    semi_joins: SemiJoins,
    counting: Counting,
) -> Vec<String> {
    let pairs = parse_query_string(query);
    let plan = plan(&pairs, &CUSTOMER, &REGISTRY, PlanKind::Index).expect("a valid query");
    let tenant = Tenant {
        company_id: 1,
        user_id: 1,
    };
    let ctx = Context::new(&app.db, tenant, plan.filter.as_ref())
        .await
        .expect("context")
        .with_semi_joins(semi_joins);
    let statement = page_ids(&ctx, &CUSTOMER, &plan, counting).expect("statement");
    let mut tx = app.db.begin().await.expect("begin");
    let lines = match app.db.backend() {
        Backend::Sqlite => {
            let types = [
                ColumnType::Int,
                ColumnType::Int,
                ColumnType::Int,
                ColumnType::Text,
            ];
            let rows = tx
                .fetch(&Explain(&statement), &types)
                .await
                .expect("explain");
            rows.into_iter()
                .filter_map(|row| row.into_iter().nth(3))
                .collect::<Vec<_>>()
        }
        Backend::Postgres => {
            // A test's few rows make a sequential scan cheapest; what is asked is whether
            // the index can serve the filter and the order at all.
            tx.execute(&kring_server::db::Raw::new(
                "SET LOCAL enable_seqscan = off",
                vec![],
            ))
            .await
            .expect("set");
            let rows = tx
                .fetch(&Explain(&statement), &[ColumnType::Text])
                .await
                .expect("explain");
            rows.into_iter().flatten().collect()
        }
    };
    tx.rollback().await.expect("rollback");
    lines
        .into_iter()
        .filter_map(|value| match value {
            kring_core::Value::Text(line) => Some(line),
            _ => None,
        })
        .collect()
}

/// Whether the plan sorts rows after reading them.
fn sorts(app: &TestApp, steps: &[String]) -> bool {
    match app.db.backend() {
        Backend::Sqlite => steps.iter().any(|s| s.contains("TEMP B-TREE FOR ORDER BY")),
        Backend::Postgres => steps.iter().any(|s| s.trim_start().starts_with("Sort")),
    }
}

/// `filter=user_id:eq:N&order_by=name` reads the `(company_id, user_id, name, id)` index in
/// its order: no sort step, no other index.
async fn an_owners_sorted_page_walks_the_owner_name_index(app: TestApp) {
    let steps = plan_of(&app, "filter=user_id:eq:1&order_by=name&limit=25").await;
    let text = steps.join("\n");
    assert!(text.contains("customers_owner_name"), "{text}");
    assert!(
        !sorts(&app, &steps),
        "the page is sorted after reading: {text}"
    );
}

/// A substring filter is evaluated once: the page's ids and the count of every match come
/// from one pass over the company's `(company_id, name, id)` index, in the page's order.
async fn a_scanning_filter_is_counted_in_the_pages_own_pass_and_order(app: TestApp) {
    let steps = plan_of(&app, "filter=name:contains:bv&order_by=name&limit=25").await;
    let text = steps.join("\n");
    assert!(text.contains("customers_company_name"), "{text}");
    assert_eq!(
        text.matches("customers_company_name").count(),
        1,
        "the filter runs once: {text}"
    );
    assert!(
        !sorts(&app, &steps),
        "the matches are sorted after counting: {text}"
    );
}

/// A page under a remembered total, its matches dense, walks the order's index and probes
/// each row's contacts, so it stops at its last row; counted, the contacts that pass are
/// listed once instead.
async fn a_dense_page_under_a_remembered_total_probes_in_its_order(app: TestApp) {
    let query = "filter=(name:contains:bv,and,contacts.email:starts_with:sales)\
                 &order_by=next_contact:desc&limit=25";
    let probed = plan_asked(&app, query, SemiJoins::Probes, Counting::No).await;
    let listed = plan_asked(&app, query, SemiJoins::Lists, Counting::Yes).await;
    let (probed, listed) = (probed.join("\n"), listed.join("\n"));
    match app.db.backend() {
        Backend::Sqlite => {
            assert!(
                probed.contains("customers_company_next_contact"),
                "{probed}"
            );
            assert!(probed.contains("CORRELATED SCALAR SUBQUERY"), "{probed}");
            assert!(!probed.contains("LIST SUBQUERY"), "{probed}");
            assert!(listed.contains("LIST SUBQUERY"), "{listed}");
        }
        // Over a test's few rows PostgreSQL sorts rather than walks an index, and it plans a
        // listed semi-join its own way; what is asked is that each row is probed.
        Backend::Postgres => {
            assert!(probed.contains("SubPlan"), "{probed}");
            assert!(!probed.contains("hashed SubPlan"), "{probed}");
            assert!(!probed.contains("Semi Join"), "{probed}");
        }
    }
}

/// After `ANALYZE` SQLite keeps each index's averages (`sqlite_stat1`) but no per-value
/// samples (`sqlite_stat4`), with which it would re-plan a statement at every new binding of
/// an indexed parameter. PostgreSQL keeps its own statistics.
async fn statistics_keep_index_averages_not_value_samples(app: TestApp) {
    if app.db.backend() != Backend::Sqlite {
        return;
    }
    let token = app.owner().await;
    for i in 0..30 {
        let body = serde_json::json!({"name": format!("Stats {i}")});
        app.expect(
            reqwest::StatusCode::CREATED,
            "POST",
            &token,
            "/api/customer",
            Some(body),
        )
        .await;
    }
    app.db.analyze(true).await.expect("analyze");
    let averages = app
        .query("SELECT COUNT(*) FROM sqlite_stat1", &[ColumnType::Int])
        .await;
    assert!(
        matches!(averages[0][0], kring_core::Value::Int(n) if n > 0),
        "{averages:?}"
    );
    let samples = app
        .query("SELECT COUNT(*) FROM sqlite_stat4", &[ColumnType::Int])
        .await;
    assert_eq!(samples[0][0], kring_core::Value::Int(0));
}
