//! Property tests: the parsers and the planner never panic, whatever the client sends, and a
//! printed filter reads back as the same tree.

use proptest::prelude::*;

use super::filter::{FilterExpr, Literal, Op, RawCondition, parse_filter};
use super::fixtures::{CONTRACT, CUSTOMER, registry};
use super::syntax::{Direction, List, OrderItem, Path, QuerySyntax};
use super::{PlanKind, QueryError, plan};
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
}
