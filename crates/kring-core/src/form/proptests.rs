//! Property tests: whatever a client sends, parsing does not panic, stays within its limits,
//! and the tree converts to JSON.

use proptest::prelude::*;
use serde_json::Value;

use super::*;

/// Name and body text made mostly of the characters the name grammar cares about, which
/// reaches deeper into the parser than uniformly random bytes.
fn bracketish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("[".to_string()),
        Just("]".to_string()),
        Just("[]".to_string()),
        Just("[ ]".to_string()),
        Just(" ".to_string()),
        Just(".".to_string()),
        Just("\t".to_string()),
        Just("%5B".to_string()),
        Just("%5D".to_string()),
        Just("%00".to_string()),
        Just("%".to_string()),
        Just("+".to_string()),
        Just("=".to_string()),
        Just("&".to_string()),
        Just("é".to_string()),
        Just("9223372036854775807".to_string()),
        Just("9223372036854775808".to_string()),
        prop::sample::select(vec!["a", "b", "0", "1", "-1", "07", "-0", "x.y"])
            .prop_map(str::to_string),
    ];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

fn limits() -> impl Strategy<Value = Limits> {
    (0usize..6, 0usize..12, 0usize..5, 1usize..40, any::<bool>()).prop_map(
        |(max_depth, max_fields, max_files, max_name_bytes, drop)| Limits {
            max_depth,
            max_fields,
            max_files,
            max_name_bytes,
            on_excess: if drop {
                OnExcess::Drop
            } else {
                OnExcess::Reject
            },
        },
    )
}

/// Levels of arrays, counting the root as one.
fn depth(array: &FormArray) -> usize {
    1 + array
        .iter()
        .map(|(_, value)| match value {
            FormValue::Array(child) => depth(child),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

/// (non-array values, arrays below the root, uploaded files)
fn census(array: &FormArray) -> (usize, usize, usize) {
    array.iter().fold(
        (0, 0, 0),
        |(leaves, arrays, files), (_, value)| match value {
            FormValue::Array(child) => {
                let (l, a, f) = census(child);
                (leaves + l, arrays + a + 1, files + f)
            }
            FormValue::File(_) => (leaves + 1, arrays, files + 1),
            FormValue::Text(_) | FormValue::NoFile => (leaves + 1, arrays, files),
        },
    )
}

/// Every array is a JSON array exactly when PHP would call it a list.
fn json_matches_php(array: &FormArray, json: &Value) -> bool {
    let children: Vec<&Value> = match json {
        Value::Array(items) if array.is_list() => items.iter().collect(),
        Value::Object(object) if !array.is_list() => object.values().collect(),
        _ => return false,
    };
    children.len() == array.len()
        && array
            .iter()
            .zip(children)
            .all(|((_, value), json)| match value {
                FormValue::Array(child) => json_matches_php(child, json),
                _ => true,
            })
}

fn assert_within(tree: &FormTree, limits: &Limits) {
    let max_depth = limits.max_depth.min(HARD_MAX_DEPTH);
    assert!(depth(tree) <= max_depth + 1, "depth {}", depth(tree));
    let (leaves, arrays, files) = census(tree);
    assert!(leaves <= limits.max_fields + limits.max_files);
    assert!(arrays <= (limits.max_fields + limits.max_files) * max_depth.max(1));
    assert!(files <= limits.max_files);
    assert!(json_matches_php(tree, &tree.to_json()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_parse(body in prop::collection::vec(any::<u8>(), 0..200), limits in limits()) {
        if let Ok(tree) = parse_urlencoded(&body, &limits) {
            assert_within(&tree, &limits);
        }
        let tree = parse_urlencoded(&body, &Limits::php()).unwrap();
        assert_within(&tree, &Limits::php());
    }

    #[test]
    fn bracket_bodies_respect_limits(body in bracketish(), limits in limits()) {
        let pieces = body.split('&').filter(|piece| !piece.is_empty()).count();
        match parse_urlencoded(body.as_bytes(), &limits) {
            Ok(tree) => {
                assert_within(&tree, &limits);
                if limits.on_excess == OnExcess::Reject {
                    prop_assert!(pieces <= limits.max_fields);
                }
            }
            Err(error) => {
                prop_assert_eq!(limits.on_excess, OnExcess::Reject);
                prop_assert!(!error.message().render(crate::i18n::Locale::Nl).is_empty());
            }
        }
    }

    #[test]
    fn reject_mode_agrees_with_php_when_within_limits(body in bracketish(), limits in limits()) {
        let strict = Limits { on_excess: OnExcess::Reject, ..limits };
        let php = Limits { on_excess: OnExcess::Drop, ..limits };
        if let Ok(tree) = parse_urlencoded(body.as_bytes(), &strict) {
            prop_assert_eq!(Ok(tree), parse_urlencoded(body.as_bytes(), &php));
        }
    }

    #[test]
    fn drop_mode_never_fails(body in bracketish(), limits in limits()) {
        let limits = Limits { on_excess: OnExcess::Drop, ..limits };
        let tree = parse_urlencoded(body.as_bytes(), &limits).unwrap();
        assert_within(&tree, &limits);
    }

    #[test]
    fn multipart_parts_respect_limits(
        parts in prop::collection::vec((any::<bool>(), bracketish(), bracketish()), 0..30),
        limits in limits(),
    ) {
        let mut form = FormBuilder::new(limits);
        let mut failed = false;
        for (n, (is_file, name, value)) in parts.iter().enumerate() {
            let result = if *is_file {
                form.file(name, FileRef {
                    original_name: value.clone(),
                    content_type: None,
                    size: 0,
                    storage_key: format!("k{n}"),
                    error: None,
                })
            } else {
                form.text(name, value.clone())
            };
            if result.is_err() {
                prop_assert_eq!(limits.on_excess, OnExcess::Reject);
                failed = true;
                break;
            }
        }
        let tree = form.finish();
        assert_within(&tree, &limits);
        if !failed && limits.on_excess == OnExcess::Reject {
            let texts = parts.iter().filter(|(is_file, ..)| !is_file).count();
            prop_assert!(texts <= limits.max_fields);
        }
    }

    #[test]
    fn hostile_names_stay_cheap(repeats in 0usize..20_000, unit in prop::sample::select(vec!["[", "[]", "[a]", "]", "[[]]"])) {
        let body = format!("a{}=1", unit.repeat(repeats));
        for limits in [Limits::default(), Limits::php()] {
            let limits = Limits { max_name_bytes: usize::MAX, ..limits };
            if let Ok(tree) = parse_urlencoded(body.as_bytes(), &limits) {
                assert_within(&tree, &limits);
            }
        }
    }
}
