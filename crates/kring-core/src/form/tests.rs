//! The edge cases of `spec/manageit.md` §4.2–4.4, each with PHP 8.2's output as the spec gives
//! it. JSON is compared as text, because key order is part of what PHP produces.

use serde_json::{Value, json};

use super::*;

/// The body parsed with PHP's limits and behaviour, as compact JSON.
fn php(body: &str) -> String {
    php_with(body, Limits::php())
}

fn php_with(body: &str, limits: Limits) -> String {
    let tree = parse_urlencoded(body.as_bytes(), &limits).unwrap();
    encode(&tree)
}

/// Files written as `"file:<storage key>"`, to keep expectations short.
fn encode(tree: &FormTree) -> String {
    let short = |file: &FileRef| Value::String(format!("file:{}", file.storage_key));
    serde_json::to_string(&tree.to_json_with(&short)).unwrap()
}

fn stored(client_name: &str, storage_key: &str) -> FileRef {
    FileRef {
        original_name: client_name.into(),
        content_type: Some("text/plain".into()),
        size: 3,
        storage_key: storage_key.into(),
        error: None,
    }
}

#[test]
fn e1_numeric_segments_become_integer_keys() {
    let body = "custom_fields[52][key]=department&custom_fields[52][value]=Engineering";
    assert_eq!(
        php(body),
        r#"{"custom_fields":{"52":{"key":"department","value":"Engineering"}}}"#
    );
    let tree = parse_urlencoded(body.as_bytes(), &Limits::php()).unwrap();
    let Some(FormValue::Array(fields)) = tree.get_php("custom_fields") else {
        panic!("custom_fields is an array");
    };
    assert_eq!(fields.iter().next().map(|(k, _)| k), Some(&Key::Int(52)));
}

#[test]
fn e2_empty_brackets_append() {
    assert_eq!(
        php("f[formats][]=pdf&f[formats][]=docx"),
        r#"{"f":{"formats":["pdf","docx"]}}"#
    );
}

#[test]
fn e3_repeated_scalar_last_wins() {
    assert_eq!(php("name=a&name=b"), r#"{"name":"b"}"#);
}

#[test]
fn e4_repeated_nested_last_wins() {
    assert_eq!(php("a[x]=1&a[x]=2"), r#"{"a":{"x":"2"}}"#);
}

#[test]
fn e5_array_replaces_earlier_scalar() {
    assert_eq!(php("a=1&a[b]=2"), r#"{"a":{"b":"2"}}"#);
}

#[test]
fn e6_scalar_replaces_earlier_array() {
    assert_eq!(php("a[b]=2&a=1"), r#"{"a":"1"}"#);
}

#[test]
fn e7_append_uses_max_integer_key_plus_one() {
    assert_eq!(
        php("a[]=x&a[5]=y&a[]=z&a[k]=w&a[]=v"),
        r#"{"a":{"0":"x","5":"y","6":"z","k":"w","7":"v"}}"#
    );
}

#[test]
fn e8_only_canonical_integers_become_integer_keys() {
    let tree = parse_urlencoded(b"a[007]=x&a[7]=y&a[-3]=z&a[1.5]=w&a[ 8]=s", &Limits::php());
    let Some(FormValue::Array(a)) = tree.unwrap().get_php("a").cloned() else {
        panic!("a is an array");
    };
    let keys: Vec<Key> = a.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(
        keys,
        vec![
            Key::Str("007".into()),
            Key::Int(7),
            Key::Int(-3),
            Key::Str("1.5".into()),
            Key::Str(" 8".into()),
        ]
    );
    assert_eq!(Key::from_php("-0"), Key::Str("-0".into()));
    assert_eq!(Key::from_php("0"), Key::Int(0));
    assert_eq!(Key::from_php("-"), Key::Str("-".into()));
    assert_eq!(Key::from_php(""), Key::Str(String::new()));
    assert_eq!(Key::from_php("-9223372036854775808"), Key::Int(i64::MIN));
}

#[test]
fn e9_append_after_a_negative_key() {
    assert_eq!(php("a[-3]=x&a[]=y"), r#"{"a":{"-3":"x","-2":"y"}}"#);
}

#[test]
fn e10_empty_values_kept_empty_names_dropped() {
    assert_eq!(
        php("a=&b&c[]=&=nokey&[x]=nokey2"),
        r#"{"a":"","b":"","c":[""]}"#
    );
    assert_eq!(php("%20=x"), "[]");
}

#[test]
fn e11_too_deep_deletes_the_whole_variable() {
    let deep: String = (1..=65).map(|level| format!("[{level}]")).collect();
    let body = format!("b[x]=1&b{deep}=deep&c=2");
    assert_eq!(php(&body), r#"{"c":"2"}"#);

    let three = Limits {
        max_depth: 3,
        ..Limits::php()
    };
    assert_eq!(
        php_with("b[x]=1&b[1][2][3][4]=deep&c=2", three),
        r#"{"c":"2"}"#
    );
    assert_eq!(
        php_with("b[x]=1&b[1][2][3]=ok&c=2", three),
        r#"{"b":{"x":"1","1":{"2":{"3":"ok"}}},"c":"2"}"#
    );
    // Exactly 64 levels are still fine.
    let sixty_four: String = (1..=64).map(|level| format!("[{level}]")).collect();
    assert!(php(&format!("b{sixty_four}=deep")).contains("deep"));
}

#[test]
fn e12_dots_and_spaces_mangled_in_the_base_name_only() {
    assert_eq!(
        php("a.b=1&a b=2&a[b.c]=3&a[b c]=4&  lead=5"),
        r#"{"a_b":"2","a":{"b.c":"3","b c":"4"},"lead":"5"}"#
    );
    assert_eq!(php("a+b=2&++lead=5"), r#"{"a_b":"2","lead":"5"}"#);
}

#[test]
fn e13_unmatched_bracket_on_the_first_level_makes_a_plain_name() {
    assert_eq!(php("a[b=1"), r#"{"a_b":"1"}"#);
    assert_eq!(php("a[b.c=1"), r#"{"a_b_c":"1"}"#);
    assert_eq!(php("a[b[c d=1"), r#"{"a_b_c_d":"1"}"#);
}

#[test]
fn e14_unmatched_bracket_deeper_lands_on_the_last_key() {
    assert_eq!(php("a[b][c=2"), r#"{"a":{"b":"2"}}"#);
    assert_eq!(php("a[][c=2"), r#"{"a":["2"]}"#);
}

#[test]
fn e15_text_after_a_closing_bracket_is_ignored() {
    assert_eq!(php("a[b]x[c]=1"), r#"{"a":{"b":"1"}}"#);
}

#[test]
fn e16_a_key_runs_to_the_first_closing_bracket() {
    assert_eq!(php("a[b[c]]=1"), r#"{"a":{"b[c":"1"}}"#);
}

#[test]
fn e17_closing_bracket_in_the_base_name_is_literal() {
    assert_eq!(php("a]b=3"), r#"{"a]b":"3"}"#);
}

#[test]
fn e18_one_whitespace_inside_brackets_still_appends() {
    assert_eq!(php("a[ ]=1&a[\t]=2"), r#"{"a":["1","2"]}"#);
    assert_eq!(php("a[+]=1&a[%09]=2"), r#"{"a":["1","2"]}"#);
    assert_eq!(php("a[  ]=1"), r#"{"a":{"  ":"1"}}"#);
}

#[test]
fn e19_every_append_makes_a_new_element() {
    assert_eq!(php("a[][x]=1&a[][y]=2"), r#"{"a":[{"x":"1"},{"y":"2"}]}"#);
}

#[test]
fn e20_explicit_index_overwrites_in_place() {
    assert_eq!(php("a[]=1&a[]=2&a[0]=z"), r#"{"a":["z","2"]}"#);
}

#[test]
fn e21_overflowing_numbers_stay_string_keys() {
    assert_eq!(
        php("a[9223372036854775808]=big&a[]=n"),
        r#"{"a":{"9223372036854775808":"big","0":"n"}}"#
    );
}

#[test]
fn e22_hyphens_are_ordinary_characters() {
    assert_eq!(
        php("permissions[invoice][view-invoice]=1"),
        r#"{"permissions":{"invoice":{"view-invoice":"1"}}}"#
    );
}

#[test]
fn append_after_the_largest_key_is_refused() {
    assert_eq!(
        php("a[9223372036854775807]=max&a[]=lost"),
        r#"{"a":{"9223372036854775807":"max"}}"#
    );
}

#[test]
fn pairs_split_on_ampersand_only() {
    assert_eq!(php("d=1;e=2"), r#"{"d":"1;e=2"}"#);
    assert_eq!(php("a=1&&b=2&"), r#"{"a":"1","b":"2"}"#);
    assert_eq!(php("a=b=c"), r#"{"a":"b=c"}"#);
}

#[test]
fn invalid_escapes_stay_as_written() {
    assert_eq!(php("x=%ZZ&y=%4"), r#"{"x":"%ZZ","y":"%4"}"#);
}

#[test]
fn names_are_decoded_before_brackets_are_read() {
    assert_eq!(php("k%5Bx%5D=enc"), r#"{"k":{"x":"enc"}}"#);
}

#[test]
fn nul_cuts_the_name() {
    assert_eq!(php("a%00b=1"), r#"{"a":"1"}"#);
    assert_eq!(php("%00a=1"), "[]");
    assert_eq!(php("v=a%00b"), "{\"v\":\"a\\u0000b\"}");
}

#[test]
fn field_limit_drops_or_rejects() {
    let three = Limits {
        max_fields: 3,
        ..Limits::php()
    };
    assert_eq!(
        php_with("a=1&b=2&c=3&d=4", three),
        r#"{"a":"1","b":"2","c":"3"}"#
    );
    let strict = Limits {
        on_excess: OnExcess::Reject,
        ..three
    };
    assert_eq!(
        parse_urlencoded(b"a=1&b=2&c=3&d=4", &strict),
        Err(FormError::TooManyFields { limit: 3 })
    );
    assert!(parse_urlencoded(b"a=1&b=2&c=3", &strict).is_ok());
}

#[test]
fn depth_and_name_length_reject_by_default() {
    let deep = format!("a{}=1", "[x]".repeat(65));
    assert_eq!(
        parse_urlencoded(deep.as_bytes(), &Limits::default()),
        Err(FormError::TooDeep { limit: 64 })
    );
    let long = format!("{}=1", "n".repeat(4097));
    assert_eq!(
        parse_urlencoded(long.as_bytes(), &Limits::default()),
        Err(FormError::NameTooLong { limit: 4096 })
    );
    assert_eq!(php(&long), "[]");
}

#[test]
fn depth_is_clamped_to_the_hard_maximum() {
    let limits = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    let deep = format!("a{}=1", "[]".repeat(HARD_MAX_DEPTH + 1));
    assert_eq!(
        parse_urlencoded(deep.as_bytes(), &limits),
        Err(FormError::TooDeep {
            limit: HARD_MAX_DEPTH
        })
    );
}

#[test]
fn errors_have_messages_in_both_languages() {
    use crate::i18n::Locale;
    for error in [
        FormError::TooManyFields { limit: 1000 },
        FormError::TooManyFiles { limit: 20 },
        FormError::TooManyParts { limit: 1020 },
        FormError::TooDeep { limit: 64 },
        FormError::NameTooLong { limit: 4096 },
    ] {
        for locale in [Locale::En, Locale::Nl] {
            let text = error.message().render(locale);
            assert!(!text.starts_with("form."), "{text}");
            assert!(text.contains(&error.limit().to_string()), "{text}");
        }
    }
}

#[test]
fn json_follows_php_json_encode() {
    let mut sparse = FormArray::new();
    sparse.set(Key::Int(4), FormValue::Text("view-invoice".into()));
    assert_eq!(sparse.to_json(), json!({"4": "view-invoice"}));
    let mut one = FormArray::new();
    one.set(Key::Int(1), FormValue::Text("a".into()));
    assert_eq!(
        serde_json::to_string(&one.to_json()).unwrap(),
        r#"{"1":"a"}"#
    );
    assert_eq!(FormArray::new().to_json(), json!([]));
    let mut reversed = FormArray::new();
    reversed.set(Key::Int(1), FormValue::Text("b".into()));
    reversed.set(Key::Int(0), FormValue::Text("a".into()));
    assert_eq!(
        serde_json::to_string(&reversed.to_json()).unwrap(),
        r#"{"1":"b","0":"a"}"#
    );
}

#[test]
fn query_string_fills_keys_the_body_lacks() {
    let mut body = parse_urlencoded(b"name=body", &Limits::php()).unwrap();
    let query = parse_urlencoded(b"name=query&page=2", &Limits::php()).unwrap();
    body.add_missing(query);
    assert_eq!(encode(&body), r#"{"name":"body","page":"2"}"#);
}

// ---- multipart (§4.4) ----

#[test]
fn multipart_text_names_are_not_percent_decoded() {
    let mut form = FormBuilder::new(Limits::php());
    form.text("name", "A").unwrap();
    form.text("name", "B").unwrap();
    form.text("k%5Bx%5D", "raw").unwrap();
    form.text("c[52][value]", "v").unwrap();
    assert_eq!(
        encode(&form.finish()),
        r#"{"name":"B","k%5Bx%5D":"raw","c":{"52":{"value":"v"}}}"#
    );
}

#[test]
fn empty_file_inputs_vanish_from_lists() {
    let mut form = FormBuilder::new(Limits::php());
    form.file("c[9][file_upload][files][]", stored("", "unused"))
        .unwrap();
    form.file("doc", stored("", "unused")).unwrap();
    assert_eq!(
        encode(&form.finish()),
        r#"{"c":{"9":{"file_upload":{"files":[]}}},"doc":null}"#
    );
}

#[test]
fn empty_upload_before_a_real_one_keeps_its_key() {
    // `array_filter` keeps keys, so the list becomes `[1 => file]`: an object in JSON.
    let mut form = FormBuilder::new(Limits::php());
    form.file("files[]", stored("", "unused")).unwrap();
    form.file("files[]", stored("a.txt", "k1")).unwrap();
    assert_eq!(encode(&form.finish()), r#"{"files":{"1":"file:k1"}}"#);
}

#[test]
fn client_file_names_keep_only_the_base_name() {
    let mut form = FormBuilder::new(Limits::php());
    let pending = form.begin_file("a", r"C:\Users\x\a.pdf").unwrap().unwrap();
    assert_eq!(pending.original_name(), "a.pdf");
    let pending = form.begin_file("b", "dir/sub/b.txt").unwrap().unwrap();
    assert_eq!(pending.original_name(), "b.txt");
    form.file("c", stored("../../etc/passwd", "k")).unwrap();
    let Some(FormValue::File(file)) = form.finish().get_php("c").cloned() else {
        panic!("c is a file");
    };
    assert_eq!(file.original_name, "passwd");
}

#[test]
fn malformed_file_names_are_skipped() {
    let mut form = FormBuilder::new(Limits::php());
    for name in ["f[a]x", "f[a", "i[]x"] {
        assert_eq!(form.begin_file(name, "a.txt").unwrap(), None, "{name}");
    }
    form.text("f[a]x", "text").unwrap();
    assert_eq!(encode(&form.finish()), r#"{"f":{"a":"text"}}"#);
}

#[test]
fn duplicate_file_names_last_wins_unless_appended() {
    let mut form = FormBuilder::new(Limits::php());
    form.file("p", stored("a.txt", "k1")).unwrap();
    form.file("p", stored("doc.pdf", "k2")).unwrap();
    form.file("q[]", stored("a.txt", "k3")).unwrap();
    form.file("q[]", stored("a.txt", "k4")).unwrap();
    assert_eq!(
        encode(&form.finish()),
        r#"{"p":"file:k2","q":["file:k3","file:k4"]}"#
    );
}

#[test]
fn file_limit_drops_or_rejects() {
    let three = Limits {
        max_files: 3,
        ..Limits::php()
    };
    let mut form = FormBuilder::new(three);
    for n in 1..=4 {
        form.file("f[]", stored("a.txt", &format!("k{n}"))).unwrap();
    }
    assert_eq!(
        encode(&form.finish()),
        r#"{"f":["file:k1","file:k2","file:k3"]}"#
    );

    let mut strict = FormBuilder::new(Limits {
        on_excess: OnExcess::Reject,
        ..three
    });
    for n in 1..=3 {
        strict
            .file("f[]", stored("a.txt", &format!("k{n}")))
            .unwrap();
    }
    assert_eq!(
        strict.begin_file("f[]", "a.txt"),
        Err(FormError::TooManyFiles { limit: 3 })
    );
}

#[test]
fn files_win_over_text_at_the_same_path() {
    let mut form = FormBuilder::new(Limits::php());
    form.text("c[2][file_upload][files][]", "string").unwrap();
    form.text("c[2][name]", "kept").unwrap();
    form.file("c[2][file_upload][files][]", stored("a.txt", "k0"))
        .unwrap();
    form.file("c[2][file_upload][files][]", stored("b.txt", "k1"))
        .unwrap();
    form.text("doc", "text").unwrap();
    form.file("doc", stored("", "unused")).unwrap();
    assert_eq!(
        encode(&form.clone().finish()),
        r#"{"c":{"2":{"file_upload":{"files":["file:k0","file:k1"]},"name":"kept"}},"doc":null}"#
    );
    let (text, files) = form.into_parts();
    assert_eq!(
        encode(&text),
        r#"{"c":{"2":{"file_upload":{"files":["string"]},"name":"kept"}},"doc":"text"}"#
    );
    assert_eq!(
        encode(&files),
        r#"{"c":{"2":{"file_upload":{"files":["file:k0","file:k1"]}}},"doc":null}"#
    );
}

#[test]
fn file_names_allow_one_level_less_as_in_php() {
    // PHP files an upload under `f[name][a]…`, one level deeper than its name.
    let three = Limits {
        max_depth: 3,
        ..Limits::php()
    };
    let mut form = FormBuilder::new(three);
    form.file("f[x]", stored("a.txt", "k1")).unwrap();
    assert_eq!(form.begin_file("f[a][b][c]", "b.txt").unwrap(), None);
    form.file("g[a][b]", stored("c.txt", "k2")).unwrap();
    assert_eq!(encode(&form.finish()), r#"{"g":{"a":{"b":"file:k2"}}}"#);
}

#[test]
fn pending_files_register_when_completed() {
    let mut form = FormBuilder::new(Limits::default());
    let pending = form.begin_file("doc", "big.bin").unwrap().unwrap();
    let file = FileRef {
        original_name: pending.original_name().to_string(),
        content_type: None,
        size: 9_000_000,
        storage_key: String::new(),
        error: Some(UploadError::TooLarge),
    };
    form.complete_file(pending, file);
    assert_eq!(
        form.finish().to_json(),
        json!({"doc": {FILE_MARKER: {
            "original_name": "big.bin",
            "content_type": null,
            "size": 9_000_000,
            "storage_key": "",
            "error": "too_large",
        }}})
    );
}

#[test]
fn form_fields_cannot_forge_the_file_marker() {
    // The name ends at the NUL, leaving an unmatched `[`.
    let tree = parse_urlencoded(b"doc[%00file][storage_key]=other", &Limits::php()).unwrap();
    assert_eq!(encode(&tree), r#"{"doc_":"other"}"#);
    let tree = parse_urlencoded(b"doc[x%00file][storage_key]=other", &Limits::php()).unwrap();
    assert_eq!(encode(&tree), r#"{"doc_x":"other"}"#);
}

#[test]
fn empty_file_inputs_do_not_count_as_uploads_but_as_parts() {
    let limits = Limits {
        max_fields: 1,
        max_files: 1,
        ..Limits::default()
    };
    let mut form = FormBuilder::new(limits);
    form.file("a", stored("", "unused")).unwrap();
    form.file("b", stored("b.txt", "k1")).unwrap();
    assert_eq!(
        form.text("c", "x"),
        Err(FormError::TooManyParts { limit: 2 })
    );
    assert_eq!(encode(&form.finish()), r#"{"a":null,"b":"file:k1"}"#);
}

/// An empty optional file input next to a full set of uploads is no excess when refusing.
#[test]
fn empty_file_inputs_do_not_count_against_the_file_limit() {
    let mut strict = FormBuilder::new(Limits {
        max_files: 2,
        on_excess: OnExcess::Reject,
        ..Limits::php()
    });
    for n in 1..=2 {
        strict
            .file("f[]", stored("a.txt", &format!("k{n}")))
            .unwrap();
    }
    assert_eq!(
        strict.begin_file("photo", "").map(|p| p.is_none()),
        Ok(true)
    );
    assert!(
        strict.begin_file("g", "b.txt").is_err(),
        "a third real upload is too many"
    );
}
