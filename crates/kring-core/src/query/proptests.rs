//! Property tests: the parsers and the planner never panic, whatever the client sends, and a
//! printed filter reads back as the same tree.

use proptest::prelude::*;

use super::filter::{
    FilterExpr, Literal, MAX_FILTER_BYTES, MAX_FILTER_CONDITIONS, MAX_FILTER_DEPTH, MAX_IN_VALUES,
    Op, RawCondition, parse_filter,
};
use super::fixtures::{CONTRACT, CUSTOMER, registry};
use super::syntax::{Direction, List, OrderItem, Path, QuerySyntax};
use super::{
    Filter, MAX_FILTER_HOPS, MAX_FILTER_JOINS, MAX_FILTER_TO_MANY_HOPS, MAX_LIMIT, MAX_WEIGHT,
    Page, PlanKind, QueryError, parse_query_string, plan,
};
use crate::form::percent_encode;
use crate::i18n::Locale;

/// Renders an error in both languages, so message building is exercised too.
fn render(result: Result<(), QueryError>) {
    if let Err(QueryError(message)) = result {
        for locale in [Locale::En, Locale::Nl] {
            assert!(!message.render(locale).is_empty());
        }
    }
}

/// Text made mostly of the grammar's own characters and words, which reaches deeper into the
/// parser than uniformly random text.
fn filterish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just(";".to_string()),
        Just(".".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just(" ".to_string()),
        Just("and".to_string()),
        Just("OR".to_string()),
        Just("not".to_string()),
        Just("null".to_string()),
        Just("é🎉".to_string()),
        prop::sample::select(Op::ALL.to_vec()).prop_map(|op| op.as_str().to_string()),
        prop::sample::select(vec![
            "name",
            "user_id",
            "show_on_map",
            "next_contact",
            "founded",
            "revenue",
            "user",
            "contacts",
            "company",
            "field_values",
            "12",
            "0",
        ])
        .prop_map(str::to_string),
        "[a-z0-9_.:-]{1,6}",
    ];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        1 => Just(Literal::Null),
        6 => prop::collection::vec(any::<char>(), 0..12)
            .prop_map(|chars| Literal::Text(chars.into_iter().collect())),
        3 => prop::sample::select(vec!["null", "NULL", " a ", "a,b", "(x)", "\"q\"", "\\", "1;2"])
            .prop_map(|text| Literal::Text(text.to_string())),
    ]
}

fn condition() -> impl Strategy<Value = FilterExpr> {
    let path = prop::collection::vec("[A-Za-z0-9_]{1,8}", 1..4).prop_map(Path);
    let op = prop::sample::select(Op::ALL.to_vec());
    (
        path,
        any::<bool>(),
        op,
        prop::collection::vec(literal(), 1..4),
    )
        .prop_map(|(path, negated, op, mut values)| {
            if op != Op::In {
                values.truncate(1);
            }
            FilterExpr::Cond(RawCondition {
                path,
                negated,
                op,
                values,
            })
        })
}

/// Valid trees in the parser's normal form, built with its own constructors.
fn filter_expr() -> impl Strategy<Value = FilterExpr> {
    condition().prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..5).prop_map(FilterExpr::all),
            prop::collection::vec(inner, 2..5).prop_map(FilterExpr::any),
        ]
    })
}

fn query_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "with",
            "with[]",
            "with[0]",
            "show",
            "show[]",
            "count",
            "count[]",
            "order_by",
            "order_by[]",
            "filter",
            "filter[]",
            "limit",
            "offset",
            "per_page",
            "other",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ];
    let value = prop_oneof![filterish(), any::<String>()];
    prop::collection::vec((key, value), 0..6)
}

/// List items as the list parameters produce them: no commas, dots or colons, no padding.
fn list_word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_é🎉-]{1,8}"
}

fn lists() -> impl Strategy<Value = QuerySyntax> {
    let paths = || {
        prop::collection::vec(
            prop::collection::vec(list_word(), 1..4).prop_map(Path),
            0..4,
        )
        .prop_map(List)
    };
    let direction = prop::sample::select(vec![Direction::Asc, Direction::Desc]);
    let order = prop::collection::vec(
        (list_word(), direction).prop_map(|(field, direction)| OrderItem { field, direction }),
        0..4,
    )
    .prop_map(List);
    (paths(), paths(), paths(), order).prop_map(|(with, show, count, order_by)| QuerySyntax {
        with,
        show,
        count,
        order_by,
        filter: None,
    })
}

/// The catalog key of a failed parse.
fn key_of<T>(result: &Result<T, QueryError>) -> Option<&'static str> {
    result.as_ref().err().map(|QueryError(message)| message.key)
}

/// Raw query strings: escapes whole, cut short and invalid, separators, and parameter names.
fn query_stringish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "&", "=", "+", "%", "%2", "%zz", "%25", "%26", "%3D", "%2B", "%00", "%C3", "%A9",
            "%C3%A9", "%FF", "%5B", "%5D", "[]", "limit", "offset", "per_page", "filter", "with",
            "order_by", ",", ";", ":", ".", " ", "é", "🎉",
        ])
        .prop_map(str::to_string),
        "[a-z0-9]{1,4}",
    ];
    prop::collection::vec(token, 0..30).prop_map(|tokens| tokens.concat())
}

/// Values for `limit`, `per_page` and `offset`: in range, at the edges, past them, and not
/// numbers at all.
fn page_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..=MAX_LIMIT + 2).prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "",
            " ",
            "1000",
            "1001",
            " 25 ",
            "+5",
            "-0",
            "1.5",
            "1e3",
            "0x10",
            "١",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551616",
            "\u{0}",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

fn page_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop::sample::select(vec!["limit", "per_page", "offset", "page", "limit[]"])
        .prop_map(str::to_string);
    prop::collection::vec((key, page_value()), 0..4)
}

/// List parameters as a client may write them: every spelling of the key, and values made of
/// the characters the list syntax splits and trims on.
fn list_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop::sample::select(vec![
        "with",
        "with[]",
        "with[7]",
        "with[x]",
        "show",
        "show[]",
        "count",
        "count[0]",
        "order_by",
        "order_by[]",
        "order_by[12]",
    ])
    .prop_map(str::to_string);
    let token = prop_oneof![
        prop::sample::select(vec![
            ",", ".", ":", " ", "\t", "\u{a0}", "\u{3000}", "asc", "DESC", "Desc", "up", "é", "🎉",
            "a", "b_c", "12", ";", "(", "\"",
        ])
        .prop_map(str::to_string),
        "[a-z]{1,5}",
    ];
    let value = prop::collection::vec(token, 0..10).prop_map(|tokens| tokens.concat());
    prop::collection::vec((key, value), 0..5)
}

fn printed_lists(syntax: &QuerySyntax) -> Vec<(String, String)> {
    [
        ("with", syntax.with.to_string()),
        ("show", syntax.show.to_string()),
        ("count", syntax.count.to_string()),
        ("order_by", syntax.order_by.to_string()),
    ]
    .into_iter()
    .filter(|(_, printed)| !printed.is_empty())
    .map(|(name, printed)| (name.to_string(), printed))
    .collect()
}

/// Group levels in a tree, the root group counting as one.
fn tree_depth(expr: &FilterExpr) -> usize {
    match expr {
        FilterExpr::Cond(_) => 0,
        FilterExpr::All(parts) | FilterExpr::Any(parts) => {
            1 + parts.iter().map(tree_depth).max().unwrap_or(0)
        }
    }
}

/// How deeply the printed form of `expr` nests parentheses: every group below the top one is
/// printed in its own pair.
fn printed_parens(expr: &FilterExpr) -> usize {
    match expr {
        FilterExpr::Cond(_) => 0,
        FilterExpr::All(parts) | FilterExpr::Any(parts) => parts
            .iter()
            .map(|part| match part {
                FilterExpr::Cond(_) => 0,
                group => 1 + printed_parens(group),
            })
            .max()
            .unwrap_or(0),
    }
}

/// What the parser promises of every tree it returns.
fn assert_normal_and_bounded(expr: &FilterExpr) {
    assert!(expr.conditions() <= MAX_FILTER_CONDITIONS);
    // Each level of parentheses adds at most an OR of ANDs.
    assert!(tree_depth(expr) <= 2 * (MAX_FILTER_DEPTH + 1), "{expr:?}");
    fn walk(expr: &FilterExpr, parent_all: Option<bool>) {
        match expr {
            FilterExpr::Cond(condition) => {
                assert!(!condition.values.is_empty());
                assert!(condition.values.len() <= MAX_IN_VALUES);
                assert!(condition.op == Op::In || condition.values.len() == 1);
                assert!(condition.path.segments().iter().all(|segment| {
                    !segment.is_empty()
                        && segment
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                }));
            }
            FilterExpr::All(parts) | FilterExpr::Any(parts) => {
                let is_all = matches!(expr, FilterExpr::All(_));
                assert!(parts.len() >= 2, "a group of one: {expr:?}");
                assert_ne!(
                    parent_all,
                    Some(is_all),
                    "a group in its own kind: {expr:?}"
                );
                parts.iter().for_each(|part| walk(part, Some(is_all)));
            }
        }
    }
    walk(expr, None);
}

/// Filter text that parses more often than soup does: printed trees, with their spacing and
/// case changed where the grammar allows.
fn filter_text() -> impl Strategy<Value = String> {
    prop_oneof![
        filterish(),
        filter_expr().prop_map(|expr| expr.to_string()),
        (filter_expr(), any::<bool>()).prop_map(|(expr, upper)| {
            let printed = expr.to_string().replace(',', " , ");
            if upper {
                printed.replace(":eq:", ":EQ:").replace(",and,", ",AND,")
            } else {
                printed
            }
        }),
    ]
}

/// A resource of the fixtures: its relations as (name, target), and a few of its columns.
struct Node {
    name: &'static str,
    relations: &'static [(&'static str, &'static str)],
    columns: &'static [&'static str],
}

const GRAPH: &[Node] = &[
    Node {
        name: "customer",
        relations: &[("user", "user"), ("contacts", "contact"), ("tasks", "task")],
        columns: &["name", "email", "field_values.12"],
    },
    Node {
        name: "user",
        relations: &[("company", "company"), ("customers", "customer")],
        columns: &["name", "email"],
    },
    Node {
        name: "company",
        relations: &[("address", "address")],
        columns: &["name"],
    },
    Node {
        name: "address",
        relations: &[("company", "company")],
        columns: &["city", "street"],
    },
    Node {
        name: "contact",
        relations: &[("user", "user"), ("customer", "customer")],
        columns: &["first_name"],
    },
    Node {
        name: "task",
        relations: &[],
        columns: &["id"],
    },
];

/// A walk through the fixtures' relations from `customer`, so that plans succeed often and
/// reach the join, hop and weight limits: (the relations walked, a column at the end).
fn relation_walk() -> impl Strategy<Value = (String, String)> {
    (
        prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(steps, leaf)| {
            let mut at = "customer";
            let mut hops = Vec::new();
            for step in steps {
                let Some(node) = GRAPH.iter().find(|node| node.name == at) else {
                    break;
                };
                if node.relations.is_empty() {
                    break;
                }
                let (relation, target) = node.relations[step.index(node.relations.len())];
                hops.push(relation);
                at = target;
            }
            let columns = GRAPH
                .iter()
                .find(|node| node.name == at)
                .map_or(&["id"][..], |node| node.columns);
            (
                hops.join("."),
                columns[leaf.index(columns.len())].to_string(),
            )
        })
}

fn planned_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let test = prop::sample::select(vec![
        "eq:null",
        "not:eq:null",
        "not:eq:null",
        "like:a",
        "eq:x",
    ]);
    let condition = (relation_walk(), test).prop_map(|((hops, column), test)| {
        let path = if hops.is_empty() {
            column
        } else {
            format!("{hops}.{column}")
        };
        format!("{path}:{test}")
    });
    let filter =
        prop::collection::vec(condition, 1..24).prop_map(|conditions| conditions.join(","));
    let with = prop::collection::vec(relation_walk(), 1..8).prop_map(|walks| {
        let paths: Vec<String> = walks
            .into_iter()
            .map(|(hops, _)| hops)
            .filter(|h| !h.is_empty())
            .collect();
        if paths.is_empty() {
            "user".to_string()
        } else {
            paths.join(",")
        }
    });
    let limit = prop_oneof![4 => (0..=MAX_LIMIT).prop_map(|n| n.to_string()), 1 => page_value()];
    (
        prop::option::of(filter),
        prop::option::of(with),
        prop::option::weighted(0.3, limit),
    )
        .prop_map(|(filter, with, limit)| {
            let mut pairs = Vec::new();
            pairs.extend(filter.map(|f| ("filter".to_string(), f)));
            pairs.extend(with.map(|w| ("with".to_string(), w)));
            pairs.extend(limit.map(|l| ("limit".to_string(), l)));
            pairs
        })
}

fn assert_filter_within_limits(filter: &Filter) {
    match filter {
        Filter::All(parts) | Filter::Any(parts) => {
            parts.iter().for_each(assert_filter_within_limits)
        }
        Filter::Cond(condition) => {
            assert!(condition.hops.len() <= MAX_FILTER_HOPS);
            let to_many = condition
                .hops
                .iter()
                .filter(|step| step.relation.is_to_many())
                .count();
            assert!(to_many <= MAX_FILTER_TO_MANY_HOPS);
        }
    }
}

proptest! {
    #[test]
    fn printed_lists_parse_back_to_the_same_items(syntax in lists()) {
        let mut pairs = Vec::new();
        for (name, printed) in [
            ("with", syntax.with.to_string()),
            ("show", syntax.show.to_string()),
            ("count", syntax.count.to_string()),
            ("order_by", syntax.order_by.to_string()),
        ] {
            if !printed.is_empty() {
                pairs.push((name.to_string(), printed));
            }
        }
        prop_assert_eq!(QuerySyntax::parse(&pairs), Ok(syntax));
    }

    #[test]
    fn the_filter_parser_never_panics_on_any_text(input in any::<String>()) {
        render(parse_filter(&input).map(drop));
    }

    #[test]
    fn the_filter_parser_never_panics_on_grammar_soup(input in filterish()) {
        render(parse_filter(&input).map(drop));
    }

    #[test]
    fn printed_filters_parse_back_to_the_same_tree(expr in filter_expr()) {
        let printed = expr.to_string();
        prop_assume!(printed.len() <= super::filter::MAX_FILTER_BYTES);
        prop_assert_eq!(parse_filter(&printed), Ok(expr), "printed as {}", printed);
    }

    #[test]
    fn planning_never_panics(pairs in query_pairs(), show in any::<bool>()) {
        let kind = if show { PlanKind::Show } else { PlanKind::Index };
        for def in [&CUSTOMER, &CONTRACT] {
            render(plan(&pairs, def, registry(), kind).map(drop));
        }
    }

    #[test]
    fn planning_valid_looking_filters_never_panics(input in filterish()) {
        let pairs = vec![("filter".to_string(), input)];
        render(plan(&pairs, &CUSTOMER, registry(), PlanKind::Index).map(drop));
    }

    #[test]
    fn query_strings_decode_whatever_is_sent(query in prop_oneof![query_stringish(), any::<String>()]) {
        let pairs = parse_query_string(&query);
        prop_assert!(pairs.len() <= query.split('&').count());
        render(Page::parse(&pairs).map(drop));
        render(QuerySyntax::parse(&pairs).map(drop));
        render(plan(&pairs, &CUSTOMER, registry(), PlanKind::Index).map(drop));
    }

    #[test]
    fn encoded_pairs_decode_to_themselves(
        pairs in prop::collection::vec((any::<String>(), any::<String>()), 0..6),
    ) {
        let query = pairs
            .iter()
            .map(|(key, value)| format!("{}={}", percent_encode(key, b""), percent_encode(value, b"")))
            .collect::<Vec<_>>()
            .join("&");
        prop_assert_eq!(parse_query_string(&query), pairs);
    }

    #[test]
    fn pages_stay_within_their_bounds(pairs in page_pairs()) {
        let given = |names: &[&str]| pairs.iter().filter(|(k, _)| names.contains(&k.as_str())).count();
        match Page::parse(&pairs) {
            Ok(page) => {
                prop_assert!(page.limit <= MAX_LIMIT);
                prop_assert!(page.offset <= i64::MAX.unsigned_abs());
                prop_assert!(given(&["limit", "per_page"]) <= 1 && given(&["offset"]) <= 1);
            }
            Err(error) => render(Err(error)),
        }
    }

    #[test]
    fn page_numbers_are_read_exactly(limit in any::<u64>(), offset in any::<u64>(), pad in "[ \t]{0,2}") {
        let pairs = vec![
            ("limit".to_string(), format!("{pad}{limit}{pad}")),
            ("offset".to_string(), offset.to_string()),
        ];
        let fits = limit <= MAX_LIMIT && offset <= i64::MAX.unsigned_abs();
        match Page::parse(&pairs) {
            Ok(page) => {
                prop_assert!(fits);
                prop_assert_eq!(page, Page { limit, offset });
            }
            Err(_) => prop_assert!(!fits),
        }
    }

    #[test]
    fn parsed_lists_print_back_to_themselves(pairs in list_pairs()) {
        let Ok(syntax) = QuerySyntax::parse(&pairs) else { return Ok(()) };
        for path in syntax.with.iter().chain(syntax.show.iter()).chain(syntax.count.iter()) {
            prop_assert!(path.segments().iter().all(|s| !s.is_empty() && !s.contains([',', '.'])));
        }
        for item in syntax.order_by.iter() {
            prop_assert!(!item.field.is_empty() && !item.field.contains([',', ':']));
        }
        prop_assert_eq!(QuerySyntax::parse(&printed_lists(&syntax)), Ok(syntax));
    }

    #[test]
    fn parsed_filters_are_normal_bounded_and_print_back(input in filter_text()) {
        let Ok(expr) = parse_filter(&input) else { return Ok(()) };
        assert_normal_and_bounded(&expr);
        // Printing may add parentheses (`a,b,or,c` prints as `(a,and,b),or,c`) and quotes,
        // so a tree at the limits can print past them; anything else reads back the same.
        let printed = expr.to_string();
        match parse_filter(&printed) {
            Ok(again) => prop_assert_eq!(again, expr, "printed as {}", printed),
            Err(QueryError(message)) => prop_assert!(
                matches!(message.key, "query.filter_too_deep" | "query.filter_too_long"),
                "{} for {}", message.key, printed
            ),
        }
    }

    #[test]
    fn parentheses_nest_exactly_to_the_limit(extra in 0usize..=MAX_FILTER_DEPTH + 8, expr in filter_expr()) {
        let text = format!("{}{expr}{}", "(".repeat(extra), ")".repeat(extra));
        let depth = extra + printed_parens(&expr);
        let result = parse_filter(&text);
        if text.len() > MAX_FILTER_BYTES {
            prop_assert_eq!(key_of(&result), Some("query.filter_too_long"));
        } else if depth > MAX_FILTER_DEPTH {
            prop_assert_eq!(key_of(&result), Some("query.filter_too_deep"));
        } else {
            // Parentheses around a whole filter change nothing.
            prop_assert_eq!(result, Ok(expr));
        }
    }

    #[test]
    fn conditions_count_exactly_to_the_limit(
        n in 1usize..=MAX_FILTER_CONDITIONS + 10,
        connector in prop::sample::select(vec![",", ",and,", ",or,", " , OR , "]),
    ) {
        let text = vec!["a:eq:1"; n].join(connector);
        match parse_filter(&text) {
            Ok(expr) => prop_assert!(n <= MAX_FILTER_CONDITIONS && expr.conditions() == n),
            Err(QueryError(message)) => {
                prop_assert!(n > MAX_FILTER_CONDITIONS);
                prop_assert_eq!(message.key, "query.filter_too_many");
            }
        }
    }

    #[test]
    fn in_lists_hold_exactly_up_to_the_limit(n in 1usize..=MAX_IN_VALUES + 10, quoted in any::<bool>()) {
        let values: Vec<String> = (0..n)
            .map(|i| if quoted { format!("\"{i};\"") } else { i.to_string() })
            .collect();
        let text = format!("a:in:{}", values.join(";"));
        match parse_filter(&text) {
            Ok(FilterExpr::Cond(condition)) => {
                prop_assert!(n <= MAX_IN_VALUES);
                prop_assert_eq!(condition.values.len(), n);
            }
            Ok(other) => prop_assert!(false, "{:?}", other),
            Err(QueryError(message)) => {
                prop_assert!(n > MAX_IN_VALUES);
                prop_assert_eq!(message.key, "query.filter_too_many_values");
            }
        }
    }

    #[test]
    fn filters_past_the_byte_limit_are_refused_unread(extra in 1usize..64, fill in "[a-z(,:]") {
        let text = format!("a:eq:{}", fill.repeat(MAX_FILTER_BYTES + extra));
        prop_assert_eq!(key_of(&parse_filter(&text)), Some("query.filter_too_long"));
    }

    #[test]
    fn successful_plans_stay_within_the_cost_limits(pairs in planned_pairs(), show in any::<bool>()) {
        let kind = if show { PlanKind::Show } else { PlanKind::Index };
        match plan(&pairs, &CUSTOMER, registry(), kind) {
            Ok(planned) => {
                if let Some(filter) = &planned.filter {
                    prop_assert!(filter.joins() <= MAX_FILTER_JOINS);
                    assert_filter_within_limits(filter);
                }
                prop_assert!(planned.weight.is_none_or(|weight| weight <= MAX_WEIGHT));
                prop_assert!(planned.page.is_none_or(|page| page.limit <= MAX_LIMIT));
            }
            Err(error) => render(Err(error)),
        }
    }
}
