//! Property tests: whatever a client sends, parsing does not panic, stays within its limits,
//! and the tree converts to JSON.

use proptest::prelude::*;
use serde_json::Value;

use super::name::{Target, parse_name};
use super::urlencoded::percent_decode;
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

/// The boundary the multipart bodies below use.
const BOUNDARY: &str = "XyZ";

/// Bytes around the places the part header guard changes state: delimiters whole and cut,
/// line ends, blank lines, the closing `--`, and runs long enough to pass the header limit.
fn multipartish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        8 => prop::sample::select(vec![
            "\r\n", "\r", "\n", "--", "-", "XyZ", "Xy", "--XyZ", "\r\n--XyZ", "\r\n--XyZ--",
            "\r\n--Xy", "\r\n\r\n", "\r\n\r", "Content-Disposition: form-data; name=\"a\"",
            "h", " ",
        ])
        .prop_map(|token| token.as_bytes().to_vec()),
        2 => prop::collection::vec(any::<u8>(), 0..8),
        1 => (1usize..MAX_PART_HEADERS + 64).prop_map(|n| vec![b'h'; n]),
    ];
    prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat())
}

/// Feeds `body` cut at `cuts`, stopping at the first refusal as the server does.
fn guard_fed(body: &[u8], cuts: &[prop::sample::Index]) -> Result<(), HeadersTooLong> {
    let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(body.len() + 1)).collect();
    at.push(0);
    at.push(body.len());
    at.sort_unstable();
    let mut guard = PartHeaders::new(BOUNDARY);
    at.windows(2)
        .try_for_each(|pair| guard.feed(&body[pair[0]..pair[1]]))
}

/// A well-formed body whose parts' header blocks (between the boundary line and the blank
/// line, line ends included) are `header_lens` bytes long; content never holds a delimiter.
fn multipart_body(header_lens: &[usize], content: &[u8]) -> Vec<u8> {
    let mut body = b"preamble".to_vec();
    for len in header_lens {
        body.extend_from_slice(format!("\r\n--{BOUNDARY}\r\n").as_bytes());
        // The block counts the line end after the boundary line, so its text is 2 bytes less.
        let mut header = b"Content-Type: ".to_vec();
        header.resize(len.saturating_sub(2).max(header.len()), b'x');
        body.extend_from_slice(&header);
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(content);
    }
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body.extend(std::iter::repeat_n(b'h', 2 * MAX_PART_HEADERS));
    body
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

    #[test]
    fn percent_encoding_reads_back(text in any::<String>(), keep in prop::sample::select(vec!["", "/", "/:@!*"])) {
        prop_assert_eq!(percent_decode(percent_encode(&text, keep.as_bytes()).as_bytes()), text);
    }

    #[test]
    fn text_without_escapes_decodes_to_itself(text in "[^%+]{0,40}") {
        prop_assert_eq!(percent_decode(text.as_bytes()), text);
    }

    #[test]
    fn plain_names_read_back_their_last_value(
        pairs in prop::collection::vec(("[a-z][a-z0-9_]{0,5}", any::<String>()), 0..12),
    ) {
        let body = pairs
            .iter()
            .map(|(name, value)| format!("{}={}", percent_encode(name, b""), percent_encode(value, b"")))
            .collect::<Vec<_>>()
            .join("&");
        let tree = parse_urlencoded(body.as_bytes(), &Limits::default()).unwrap();
        let mut names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        prop_assert_eq!(tree.len(), names.len());
        for (name, value) in &pairs {
            let last = pairs.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
            if last == Some(value) {
                prop_assert_eq!(tree.get_php(name), Some(&FormValue::Text(value.clone())));
            }
        }
    }

    #[test]
    fn keys_print_as_written(text in prop_oneof![
        any::<String>(),
        "-?[0-9]{1,20}",
        prop::sample::select(vec!["0", "-0", "007", "9223372036854775807", "9223372036854775808",
            "-9223372036854775808", "-9223372036854775809", " 8", "1.5"]).prop_map(str::to_string),
    ]) {
        prop_assert_eq!(Key::from_php(&text).to_string(), text);
    }

    #[test]
    fn names_never_nest_past_the_limit(
        name in prop_oneof![bracketish(), any::<String>()],
        max_depth in 0usize..8,
    ) {
        let plain = |key: &Key| {
            let text = key.to_string();
            !text.is_empty() && !text.contains(['\0', ' ', '.', '['])
        };
        match parse_name(&name, max_depth) {
            Target::Ignored => {}
            Target::Plain(key) => prop_assert!(plain(&key), "{:?}", key),
            Target::TooDeep { base } => {
                prop_assert!(plain(&base));
                prop_assert!(name.matches('[').count() > max_depth);
            }
            Target::Path { base, segments } => {
                prop_assert!(plain(&base));
                prop_assert!(!segments.is_empty() && segments.len() <= max_depth);
                for key in segments.iter().flatten() {
                    prop_assert!(!key.to_string().contains(['\0', ']']), "{:?}", key);
                }
            }
        }
    }

    #[test]
    fn the_part_header_guard_does_not_care_how_the_body_is_cut(
        body in multipartish(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        chunk in 1usize..64,
    ) {
        let whole = guard_fed(&body, &[]);
        prop_assert_eq!(guard_fed(&body, &cuts), whole);
        let mut guard = PartHeaders::new(BOUNDARY);
        prop_assert_eq!(body.chunks(chunk).try_for_each(|c| guard.feed(c)), whole);
    }

    #[test]
    fn part_header_blocks_are_held_exactly_to_the_limit(
        header_lens in prop::collection::vec(
            prop_oneof![16usize..200, MAX_PART_HEADERS - 4..=MAX_PART_HEADERS + 4],
            1..4,
        ),
        content in prop::collection::vec(prop::sample::select(b"ab\r\n- ".to_vec()), 0..300),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let body = multipart_body(&header_lens, &content);
        let fits = header_lens.iter().all(|len| *len <= MAX_PART_HEADERS);
        let expected = if fits { Ok(()) } else { Err(HeadersTooLong) };
        prop_assert_eq!(guard_fed(&body, &cuts), expected);
    }
}
