use super::*;
use crate::i18n::{Locale, Message};
use crate::query::fixtures::{COMPANY, CONTACT, CONTRACT, CUSTOMER, NOTE, ORPHAN, USER, registry};
use crate::query::parse_query_string;
use crate::value::Value;

fn planned(query: &str, def: &'static ResourceDef, kind: PlanKind) -> Result<Plan, Message> {
    plan(&parse_query_string(query), def, registry(), kind).map_err(|QueryError(m)| m)
}

/// The index plan of `query` on customers.
fn ok(query: &str) -> Plan {
    match planned(query, &CUSTOMER, PlanKind::Index) {
        Ok(plan) => plan,
        Err(message) => panic!("{query}: {}", message.render(Locale::En)),
    }
}

fn err_on(query: &str, def: &'static ResourceDef) -> Message {
    match planned(query, def, PlanKind::Index) {
        Err(message) => message,
        Ok(plan) => panic!("{query} planned as {plan:?}"),
    }
}

fn err(query: &str) -> Message {
    err_on(query, &CUSTOMER)
}

fn en(query: &str) -> String {
    err(query).render(Locale::En)
}

/// `contacts{user[id,name]}`: a with tree in one line.
fn tree(nodes: &[WithNode]) -> String {
    let rendered: Vec<String> = nodes
        .iter()
        .map(|node| {
            let mut out = node.relation.name.to_string();
            if let Some(columns) = &node.select {
                out.push_str(&format!("[{}]", column_names(columns).join(",")));
            }
            if !node.children.is_empty() {
                out.push_str(&format!("{{{}}}", tree(&node.children)));
            }
            out
        })
        .collect();
    rendered.join(",")
}

fn column_names(columns: &[&Column]) -> Vec<&'static str> {
    columns.iter().map(|c| c.name).collect()
}

fn select(plan: &Plan) -> Option<Vec<&'static str>> {
    plan.select.as_deref().map(column_names)
}

/// The only condition of a plan's filter.
fn condition(query: &str) -> Condition {
    match ok(query).filter {
        Some(Filter::Cond(condition)) => condition,
        other => panic!("{query}: {other:?}"),
    }
}

fn test_of(query: &str) -> Test {
    condition(query).test
}

mod with {
    use super::*;

    #[test]
    fn the_documented_table_for_customers() {
        for allowed in [
            "user",
            "user.company",
            "user.company.address",
            "user.company.address.company",
            "contacts",
            "contacts.user",
            "contacts.user.company",
        ] {
            assert!(
                planned(&format!("with={allowed}"), &CUSTOMER, PlanKind::Index).is_ok(),
                "{allowed}"
            );
        }
        for forbidden in ["user.customers", "contacts.notes"] {
            assert_eq!(
                err(&format!("with={forbidden}")).key,
                "query.nested_to_many",
                "{forbidden}"
            );
        }
    }

    #[test]
    fn a_nested_to_many_is_explained() {
        assert_eq!(
            en("with=contacts.notes"),
            "The with parameter cannot load 'contacts.notes': 'notes' is a to-many relation, \
             and only the first step of a path may be one (field_values excepted)."
        );
    }

    #[test]
    fn field_values_may_follow_a_to_many_but_nothing_follows_it() {
        assert!(planned("with=contracts.field_values", &CUSTOMER, PlanKind::Index).is_ok());
        assert!(planned("with=contacts.field_values", &CUSTOMER, PlanKind::Index).is_ok());
        assert_eq!(
            err("with=field_values.field").key,
            "query.field_values_leaf"
        );
    }

    #[test]
    fn unknown_relations_list_the_allowed_ones() {
        assert_eq!(
            en("with=usr"),
            "The with parameter names an unknown relation 'usr' of customer; allowed: user, \
             contacts, tasks, contracts, chances, appointments, assignments, field_values."
        );
        assert_eq!(
            en("with=user.compny"),
            "The with parameter names an unknown relation 'compny' of user; allowed: company, \
             customers."
        );
        assert_eq!(
            err_on("with=anything", &NOTE).render(Locale::En),
            "The with parameter names 'anything', but note has no relations."
        );
        assert_eq!(
            err_on("with=ghosts", &ORPHAN).key,
            "query.unknown_relation",
            "a target the registry lacks cannot be loaded"
        );
    }

    #[test]
    fn shared_prefixes_merge_into_one_tree() {
        let plan = ok("with=contacts.user.company,contacts,user.company,user");
        assert_eq!(tree(&plan.with), "contacts{user{company}},user{company}");
        assert_eq!(plan.weight, Some((3 + 2 + 3) + 3 + (1 + 2) + 1));
        assert_eq!(ok("with=contacts,contacts.user").weight, Some(3 + (3 + 2)));
        let node = &plan.with[0];
        assert_eq!(node.target.name, "contact");
        assert_eq!(node.children[0].target.name, "user");
    }

    #[test]
    fn both_documented_weights_are_sixteen() {
        let first =
            ok("with=field_values,contracts.field_values,chances.field_values,tasks.field_values");
        assert_eq!(first.weight, Some(16));
        let second = ok(
            "with[]=field_values&with[]=appointments&with[]=assignments&with[]=chances&with[]=contracts&with[]=tasks",
        );
        assert_eq!(second.weight, Some(16));
    }

    #[test]
    fn more_than_sixteen_is_refused() {
        assert_eq!(
            en("with=field_values,appointments,assignments,chances,contracts,tasks,user"),
            "Eager loading weight 17 exceeds the maximum of 16."
        );
        let cycle = format!("with=user{}", ".company.address".repeat(5_000));
        assert_eq!(err(&cycle).key, "query.weight");
    }

    #[test]
    fn exact_repeats_count_once() {
        assert_eq!(ok("with=user,user&with[]=user").weight, Some(1));
        assert_eq!(ok("with=contacts&show=contacts.first_name").weight, Some(3));
        assert_eq!(
            ok("with=user.company&show=user.company.name").weight,
            Some(3)
        );
    }

    #[test]
    fn weight_is_absent_when_nothing_is_loaded() {
        assert_eq!(ok("").weight, None);
        assert_eq!(ok("show=name&count=tasks").weight, None);
        assert_eq!(ok("show=user.name").weight, Some(1));
    }
}

mod show {
    use super::*;

    #[test]
    fn selects_columns_in_column_order_with_id() {
        let plan = ok("show=email,name");
        assert_eq!(select(&plan), Some(vec!["id", "name", "email"]));
        assert!(plan.with.is_empty());
        assert_eq!(
            select(&ok("show[]=name&show[]=id")),
            Some(vec!["id", "name"])
        );
        assert_eq!(select(&ok("")), None);
        assert_eq!(select(&ok("show=memo")), Some(vec!["id", "memo"]));
    }

    #[test]
    fn unknown_and_hidden_columns_list_the_visible_ones() {
        let allowed = "id, user_id, name, email, revenue, show_on_map, next_contact, founded, \
                       memo, created_at, updated_at";
        assert_eq!(
            en("show=nme"),
            format!(
                "The show parameter names an unknown field 'nme' of customer; allowed: {allowed}."
            )
        );
        assert_eq!(err("show=secret").key, "query.unknown_column");
        assert_eq!(err("show=user.password").key, "query.unknown_column");
        assert_eq!(err("show=usr.name").key, "query.unknown_relation");
        assert_eq!(err("show=contacts.notes.body").key, "query.nested_to_many");
    }

    #[test]
    fn a_dotted_field_loads_its_relation_and_the_foreign_key() {
        let plan = ok("show=name,user.name");
        assert_eq!(select(&plan), Some(vec!["id", "user_id", "name"]));
        assert_eq!(tree(&plan.with), "user[id,name]");
        assert_eq!(plan.weight, Some(1));
    }

    #[test]
    fn a_dotted_field_alone_still_selects_the_keys() {
        let plan = ok("show=user.company.name");
        assert_eq!(select(&plan), Some(vec!["id", "user_id"]));
        assert_eq!(tree(&plan.with), "user{company[id,name]}");
    }

    #[test]
    fn selections_in_relations_gain_their_own_keys() {
        let plan = ok("show=contacts.first_name,contacts.user.name&with=contacts.user.company");
        assert_eq!(
            tree(&plan.with),
            "contacts[id,user_id,first_name]{user[id,name,company_id]{company}}"
        );
        assert_eq!(select(&plan), Some(vec!["id"]));
    }

    #[test]
    fn loading_a_to_one_relation_with_a_selection_keeps_its_key() {
        let plan = ok("with=user&show=name");
        assert_eq!(select(&plan), Some(vec!["id", "user_id", "name"]));
        assert_eq!(tree(&plan.with), "user");
    }
}

mod count {
    use super::*;

    #[test]
    fn counts_to_many_relations_once_each() {
        let plan = ok("count=tasks,contacts&count[]=tasks&count[]=field_values");
        let keys: Vec<String> = plan.count.iter().map(Count::key).collect();
        assert_eq!(
            keys,
            ["tasks_count", "contacts_count", "field_values_count"]
        );
        assert_eq!(plan.count[0].target.name, "task");
    }

    #[test]
    fn refuses_to_one_and_unknown_relations() {
        let countable = "contacts, tasks, contracts, chances, appointments, assignments, \
                         field_values";
        assert_eq!(
            en("count=user"),
            format!(
                "The count parameter can only count to-many relations, and 'user' of customer \
                 is not one; countable: {countable}."
            )
        );
        assert_eq!(
            en("count=taks"),
            format!(
                "The count parameter names an unknown relation 'taks' of customer; allowed: \
                 {countable}."
            )
        );
        assert_eq!(err("count=contacts.user").key, "query.unknown_relation");
        assert_eq!(
            err_on("count=address", &COMPANY).render(Locale::En),
            "The count parameter names 'address', but company has no to-many relations to count."
        );
    }
}

mod filter {
    use super::*;

    #[test]
    fn values_take_the_column_type() {
        assert_eq!(
            test_of("filter=user_id:eq:5"),
            Test::Compare(Comparison::Eq, Value::Int(5))
        );
        assert_eq!(
            test_of("filter=revenue:gte:10.5"),
            Test::Compare(Comparison::Gte, Value::Float(10.5))
        );
        assert_eq!(
            test_of("filter=show_on_map:eq:1"),
            Test::Compare(Comparison::Eq, Value::Bool(true))
        );
        assert_eq!(
            test_of("filter=show_on_map:in:true;false"),
            Test::In(vec![Value::Bool(true), Value::Bool(false)])
        );
        let Test::Compare(Comparison::Lt, Value::Timestamp(t)) =
            test_of("filter=next_contact:lt:2024-05-01")
        else {
            panic!("a date reads as a timestamp")
        };
        assert_eq!(
            crate::time::format_timestamp(&t),
            "2024-05-01T00:00:00.000000Z"
        );
        assert!(matches!(
            test_of("filter=founded:gt:2001-02-03"),
            Test::Compare(Comparison::Gt, Value::Date(_))
        ));
        assert_eq!(
            test_of("filter=name:eq:\"null\""),
            Test::Compare(Comparison::Eq, Value::Text("null".into()))
        );
    }

    #[test]
    fn patterns_keep_the_text() {
        assert_eq!(
            test_of("filter=name:like:john"),
            Test::Match(Pattern::Contains, "john".into())
        );
        assert_eq!(
            test_of("filter=name:contains:john"),
            Test::Match(Pattern::Contains, "john".into())
        );
        assert_eq!(
            test_of("filter=email:starts_with:info"),
            Test::Match(Pattern::StartsWith, "info".into())
        );
        assert_eq!(
            test_of("filter=email:ends_with:@example.com"),
            Test::Match(Pattern::EndsWith, "@example.com".into())
        );
    }

    #[test]
    fn values_of_the_wrong_type_are_named() {
        assert_eq!(
            en("filter=user_id:eq:five"),
            "The filter value 'five' for user_id is not a whole number."
        );
        for (query, key) in [
            ("filter=user_id:in:1;x", "query.filter_value.int"),
            ("filter=revenue:gt:lots", "query.filter_value.float"),
            ("filter=revenue:gt:NaN", "query.filter_value.float"),
            ("filter=show_on_map:eq:yes", "query.filter_value.bool"),
            (
                "filter=next_contact:gt:tomorrow",
                "query.filter_value.timestamp",
            ),
            ("filter=founded:eq:2001-02-30", "query.filter_value.date"),
        ] {
            assert_eq!(err(query).key, key, "{query}");
        }
    }

    #[test]
    fn operators_must_suit_the_type() {
        assert_eq!(
            en("filter=user_id:like:5"),
            "The filter operator 'like' cannot be used on user_id; use one of eq, gt, lt, gte, \
             lte, in."
        );
        assert_eq!(
            en("filter=show_on_map:gt:0"),
            "The filter operator 'gt' cannot be used on show_on_map; use one of eq, in."
        );
        assert_eq!(
            err("filter=founded:starts_with:2001").key,
            "query.filter_operator_type"
        );
    }

    #[test]
    fn null_works_only_with_eq() {
        let is_null = condition("filter=email:eq:null");
        assert_eq!((is_null.test, is_null.negated), (Test::IsNull, false));
        let is_not_null = condition("filter=email:not:eq:null");
        assert_eq!(
            (is_not_null.test, is_not_null.negated),
            (Test::IsNull, true)
        );
        assert_eq!(
            test_of("filter=user_id:eq:null"),
            Test::IsNull,
            "null needs no coercion"
        );
        assert_eq!(
            en("filter=email:like:null"),
            "The filter value null in 'email:like:null' works only with eq or not:eq; write \
             \"null\" in quotes to mean the text."
        );
        assert_eq!(err("filter=email:in:a;null").key, "query.filter_null");
        assert_eq!(err("filter=user_id:gt:null").key, "query.filter_null");
    }

    #[test]
    fn related_paths_become_hops() {
        let related = condition("filter=contacts.user.company.name:eq:\"Acme, Inc.\"");
        let hops: Vec<&str> = related.hops.iter().map(|h| h.relation.name).collect();
        assert_eq!(hops, ["contacts", "user", "company"]);
        assert_eq!(related.hops[2].target.name, "company");
        assert!(matches!(related.operand, Operand::Column(c) if c.name == "name"));
        assert_eq!(
            related.test,
            Test::Compare(Comparison::Eq, Value::Text("Acme, Inc.".into()))
        );
        assert!(
            planned(
                "filter=contacts.notes.body:like:x",
                &CUSTOMER,
                PlanKind::Index
            )
            .is_ok()
        );
        assert_eq!(
            err("filter=a.b.c.d.e.name:eq:x").key,
            "query.filter_path_too_long"
        );
        assert_eq!(err("filter=usr.name:eq:x").key, "query.unknown_relation");
    }

    #[test]
    fn a_filter_path_follows_at_most_two_to_many_relations() {
        ok("filter=contacts.notes.body:contains:a");
        ok("filter=user.company.name:eq:a");
        let wide = err("filter=contacts.customer.contacts.notes.body:contains:a");
        assert_eq!(wide.key, "query.filter_path_too_wide");
        assert_eq!(param(&wide, "max"), Some("2"));
    }

    #[test]
    fn a_filter_asks_for_at_most_sixteen_joins() {
        let terms = |n: usize| vec!["contacts.first_name:contains:a"; n].join(",or,");
        ok(&format!("filter={}", terms(16)));
        let costly = err(&format!("filter={}", terms(17)));
        assert_eq!(costly.key, "query.filter_too_costly");
        assert_eq!(param(&costly, "joins"), Some("17"));
        // A custom-field test is a join of its own, with or without a path before it.
        let fields = ["field_values.1:eq:a"; 9].join(",and,");
        let mixed = format!("filter=({fields}),or,(contacts.field_values.2:eq:b)");
        ok(&mixed);
        let over = format!(
            "{mixed},or,(contacts.customer.field_values.3:eq:c),or,(contacts.customer.user.name:eq:x)"
        );
        assert_eq!(param(&err(&over), "joins"), Some("17"));
        // Without relations or fields a filter joins nothing, however many terms it has.
        ok(&format!("filter={}", ["name:eq:a"; 100].join(",or,")));
    }

    #[test]
    fn custom_fields_are_field_values_with_an_id() {
        let own = condition("filter=field_values.12:contains:blue");
        assert!(own.hops.is_empty());
        assert!(matches!(own.operand, Operand::FieldValue(12)));
        assert_eq!(own.test, Test::Match(Pattern::Contains, "blue".into()));
        let related = condition("filter=contacts.field_values.3:gt:7");
        assert_eq!(related.hops.len(), 1);
        assert!(matches!(related.operand, Operand::FieldValue(3)));
        assert_eq!(
            related.test,
            Test::Compare(Comparison::Gt, Value::Text("7".into()))
        );
        for bad in [
            "field_values.0",
            "field_values.x",
            "field_values.99999999999999999999",
        ] {
            assert_eq!(
                err(&format!("filter={bad}:eq:1")).key,
                "query.filter_field_id",
                "{bad}"
            );
        }
        assert_eq!(
            en("filter=user.field_values.1:eq:x"),
            "The filter parameter names 'user.field_values.1', but user has no custom fields."
        );
    }

    #[test]
    fn unknown_fields_list_the_filterable_ones() {
        let allowed = "id, user_id, name, email, revenue, show_on_map, next_contact, founded, \
                       created_at, updated_at";
        assert_eq!(
            en("filter=nam:eq:x"),
            format!(
                "The filter parameter names an unknown field 'nam' of customer; allowed: \
                 {allowed}."
            )
        );
        assert_eq!(err("filter=memo:eq:x").key, "query.unknown_column");
        assert_eq!(err("filter=secret:eq:x").key, "query.unknown_column");
        assert_eq!(err("filter=user.password:eq:x").key, "query.unknown_column");
    }

    #[test]
    fn groups_keep_their_shape() {
        let plan = ok("filter=name:eq:a,or,(user_id:in:1;2,and,show_on_map:eq:true)");
        let Some(Filter::Any(parts)) = plan.filter else {
            panic!("an or")
        };
        assert!(matches!(&parts[..], [Filter::Cond(_), Filter::All(all)] if all.len() == 2));
    }
}

mod order_by {
    use super::*;

    #[test]
    fn sorts_on_sortable_columns_of_the_resource() {
        let plan = ok("order_by=name:desc,id");
        let order: Vec<(&str, Direction)> = plan
            .order_by
            .iter()
            .map(|o| (o.column.name, o.direction))
            .collect();
        assert_eq!(order, [("name", Direction::Desc), ("id", Direction::Asc)]);
        assert!(ok("").order_by.is_empty());
    }

    #[test]
    fn refuses_other_fields_and_directions() {
        let allowed = "id, user_id, name, email, revenue, show_on_map, next_contact, founded, \
                       created_at, updated_at";
        assert_eq!(
            en("order_by=nam"),
            format!(
                "The order_by parameter cannot sort on 'nam' of customer; sortable: {allowed}."
            )
        );
        assert_eq!(err("order_by=memo").key, "query.order_field");
        assert_eq!(err("order_by=secret:asc").key, "query.order_field");
        assert_eq!(err("order_by=user.name").key, "query.order_field");
        assert_eq!(
            en("order_by=name:down"),
            "The order_by parameter has an unknown direction 'down' in 'name:down'; use asc or \
             desc."
        );
    }
}

mod request {
    use super::*;

    #[test]
    fn the_contract_index_example() {
        let query = "with[]=customer&with[]=user&show[]=name&show[]=id&show[]=price\
                     &order_by[]=id:desc&order_by[]=name&order_by[]=price:asc\
                     &filter=customer_id:in:28;29;30&limit=100&offset=0";
        let plan = match planned(query, &CONTRACT, PlanKind::Index) {
            Ok(plan) => plan,
            Err(message) => panic!("{}", message.render(Locale::En)),
        };
        assert_eq!(tree(&plan.with), "customer,user");
        assert_eq!(plan.weight, Some(2));
        assert_eq!(
            select(&plan),
            Some(vec!["id", "customer_id", "user_id", "name", "price"])
        );
        let order: Vec<String> = plan
            .order_by
            .iter()
            .map(|o| format!("{}:{}", o.column.name, o.direction.as_str()))
            .collect();
        assert_eq!(order, ["id:desc", "name:asc", "price:asc"]);
        let Some(Filter::Cond(condition)) = plan.filter else {
            panic!("one condition")
        };
        assert!(matches!(condition.operand, Operand::Column(c) if c.name == "customer_id"));
        assert_eq!(
            condition.test,
            Test::In(vec![Value::Int(28), Value::Int(29), Value::Int(30)])
        );
        assert_eq!(
            plan.page,
            Some(Page {
                limit: 100,
                offset: 0
            })
        );
        assert!(plan.count.is_empty());
    }

    #[test]
    fn a_show_ignores_pagination() {
        let plan = planned("limit=zzz&offset=-1&with=user", &CUSTOMER, PlanKind::Show);
        assert!(plan.is_ok_and(|p| p.page.is_none() && p.weight == Some(1)));
        assert_eq!(
            ok("per_page=20").page,
            Some(Page {
                limit: 20,
                offset: 0
            })
        );
        assert_eq!(err("limit=zzz").key, "query.integer_range");
    }

    #[test]
    fn unknown_parameters_are_ignored_and_repeats_refused() {
        let plan = ok("include=user&fields[customer]=name&sort=-name&page=2&api_token=x");
        assert!(plan.with.is_empty() && plan.select.is_none() && plan.order_by.is_empty());
        assert_eq!(
            en("filter=name:eq:a&filter=name:eq:b"),
            "The filter parameter may be given only once."
        );
    }

    #[test]
    fn every_message_exists_in_both_languages_and_fills_its_placeholders() {
        let queries = [
            "with=",
            "with=a..b",
            "with=usr",
            "with=contacts.notes",
            "with=field_values.field",
            "with=field_values,appointments,assignments,chances,contracts,tasks,user",
            "show=nme",
            "count=user",
            "count=taks",
            "order_by=nam",
            "order_by=name:down",
            "filter[]=x",
            "filter=",
            "filter=name",
            "filter=name:eqq:x",
            "filter=na%20me:eq:x",
            "filter=a:eq:1,,b:eq:2",
            "filter=a:eq:1,",
            "filter=a:eq:1,and",
            "filter=(a:eq:1",
            "filter=a:eq:1)",
            "filter=(a:eq:1)x",
            "filter=a:eq:%22x",
            "filter=a:eq:%22x%5Cn%22",
            "filter=a:eq:%22x%22y",
            "filter=user_id:eq:x",
            "filter=revenue:eq:x",
            "filter=show_on_map:eq:x",
            "filter=next_contact:eq:x",
            "filter=founded:eq:x",
            "filter=user_id:like:1",
            "filter=email:like:null",
            "filter=field_values.0:eq:1",
            "filter=user.field_values.1:eq:1",
            "filter=a.b.c.d.e.f:eq:1",
            "filter=nam:eq:1",
            "limit=x",
            "limit=1&limit=2",
        ];
        let mut keys = Vec::new();
        for query in queries {
            let message = err(query);
            for locale in [Locale::En, Locale::Nl] {
                let text = crate::i18n::text(locale, message.key);
                assert_ne!(text, message.key, "{query}: no {} text", locale.code());
                let rendered = message.render(locale);
                for (name, _) in &message.params {
                    assert!(
                        !rendered.contains(&format!(":{name}")),
                        "{query}: {rendered}"
                    );
                }
            }
            keys.push(message.key);
        }
        let deep = format!("filter={}", "(".repeat(40));
        let many = format!("filter={}", vec!["a:eq:1"; 101].join(","));
        let long = format!("filter=a:eq:{}", "x".repeat(9000));
        for query in [deep, many, long] {
            let message = err(&query);
            assert_ne!(crate::i18n::text(Locale::Nl, message.key), message.key);
            keys.push(message.key);
        }
        keys.push(err_on("with=x", &NOTE).key);
        keys.push(err_on("count=address", &COMPANY).key);
        keys.sort();
        keys.dedup();
        assert!(keys.len() >= 35, "{keys:?}");
    }

    #[test]
    fn plans_work_on_every_fixture() {
        assert!(
            planned(
                "with=customer.user&show=first_name",
                &CONTACT,
                PlanKind::Show
            )
            .is_ok()
        );
        assert!(planned("with=company.address.company", &USER, PlanKind::Index).is_ok());
    }
}

#[test]
fn broken_relations_are_reported() {
    assert!(CUSTOMER.broken_relations(registry()).is_empty());
    assert_eq!(ORPHAN.broken_relations(registry()), ["ghosts"]);
}

fn param<'m>(message: &'m Message, name: &str) -> Option<&'m str> {
    message
        .params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.as_str())
}

#[test]
fn filters_by_keys_are_told_from_scanning_ones() {
    let keyed = |query: &str| ok(query).filter.expect("a filter").by_keys_only();
    assert!(keyed("filter=user_id:eq:3"));
    assert!(keyed("filter=(id:in:1;2,and,user_id:eq:3)"));
    assert!(!keyed("filter=user_id:gt:3"), "a range is not a key lookup");
    assert!(!keyed("filter=user_id:not:eq:3"));
    assert!(!keyed("filter=name:eq:Acme"), "not a key");
    assert!(!keyed("filter=(user_id:eq:3,and,name:contains:bv)"));
    assert!(!keyed("filter=contacts.id:eq:3"), "a relation hop");
}
