//! Property tests of [`json_body`], the reader of every JSON and flat form body: whatever bytes
//! arrive under whatever content type, the answer is an object or an error, never a panic;
//! the size limit holds; no NUL gets through; deep nesting is refused before it can exhaust
//! the stack; and a JSON object reads back as itself.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use proptest::prelude::*;
use serde_json::{Map, Value as Json};

use super::body::json_body;
use crate::error::Error;

const CONTENT_TYPES: [Option<&str>; 12] = [
    None,
    Some(""),
    Some("application/json"),
    Some("APPLICATION/JSON; charset=utf-8"),
    Some("application/merge-patch+json"),
    Some("application/x-www-form-urlencoded"),
    Some("application/x-www-form-urlencoded; charset=UTF-8"),
    Some("text/plain"),
    Some("multipart/form-data; boundary=x"),
    Some("application/"),
    Some("+json"),
    Some("application/json+xml"),
];

fn read(
    content_type: Option<&str>,
    body: &[u8],
    declare_length: bool,
    limit: usize,
) -> Result<Map<String, Json>, Error> {
    let mut request = Request::builder().method("POST").uri("/api/customer");
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    if declare_length {
        request = request.header(header::CONTENT_LENGTH, body.len());
    }
    let request = request.body(Body::from(body.to_vec())).unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(json_body(request, limit))
}

fn holds_nul(value: &Json) -> bool {
    match value {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(holds_nul),
        Json::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fn depth(value: &Json) -> usize {
    match value {
        Json::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Json::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::sample::select(vec![
            "", "a", "\u{0}", "a\u{0}b", "é", "\"", "\\", "[", "0", "12"
        ])
        .prop_map(str::to_string),
    ]
}

/// JSON that survives a trip through text unchanged (no floats serde_json would round).
fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        prop::sample::select(vec![0.5, -1.25, 1e300, 0.0]).prop_map(Json::from),
        text().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((text(), inner), 0..4)
                .prop_map(|entries| Json::Object(entries.into_iter().collect())),
        ]
    })
}

/// Bytes that are nearly JSON or nearly a form, and plain garbage.
fn bodyish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "{", "}", "[", "]", "\"", ":", ",", "\"a\"", "1", "-", "e", "null", "true", " ", "\n",
            "\\u0000", "\\ud800", "\\", "=", "&", "a[b]", "[]", "%00", "%5B", "+", "\u{0}",
        ])
        .prop_map(|token| token.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..6),
    ];
    prop_oneof![
        prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat()),
        json_value().prop_map(|value| value.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

proptest! {
    #[test]
    fn any_body_gets_an_answer(
        body in bodyish(),
        content_type in prop::sample::select(CONTENT_TYPES.to_vec()),
        declare_length in any::<bool>(),
        limit in 0usize..400,
    ) {
        match read(content_type, &body, declare_length, limit) {
            Ok(map) => {
                prop_assert!(body.len() <= limit);
                prop_assert!(!holds_nul(&Json::Object(map)));
            }
            Err(Error::PayloadTooLarge { limit: reported }) => {
                prop_assert!(body.len() > limit);
                prop_assert_eq!(reported, limit);
            }
            Err(Error::BadBody(message)) => {
                prop_assert!(body.len() <= limit);
                prop_assert!(!message.render(kring_core::i18n::Locale::Nl).is_empty());
            }
            Err(Error::UnsupportedMediaType { .. }) => prop_assert!(body.len() <= limit),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn json_objects_read_back_as_themselves(
        entries in prop::collection::vec((text(), json_value()), 0..6),
        content_type in prop::sample::select(vec![None, Some("application/json"), Some("application/vnd.api+json")]),
    ) {
        let map: Map<String, Json> = entries.into_iter().collect();
        let value = Json::Object(map.clone());
        let result = read(content_type, value.to_string().as_bytes(), true, 1 << 20);
        if holds_nul(&value) {
            prop_assert!(matches!(result, Err(Error::BadBody(ref m)) if m.key == "http.nul_character"));
        } else {
            prop_assert_eq!(result.ok(), Some(map));
        }
    }

    #[test]
    fn deep_json_is_refused_not_overflowed(levels in 0usize..20_000, objects in any::<bool>()) {
        let (open, close) = if objects { ("{\"a\":", "}") } else { ("[", "]") };
        let body = format!("{{\"a\":{}1{}}}", open.repeat(levels), close.repeat(levels));
        match read(Some("application/json"), body.as_bytes(), false, 1 << 20) {
            Ok(map) => prop_assert!(depth(&Json::Object(map)) <= 128),
            Err(Error::BadBody(message)) => {
                prop_assert_eq!(message.key, "http.invalid_json");
                prop_assert!(levels >= 100);
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn deep_form_names_are_refused_at_the_depth_limit(levels in 0usize..200) {
        let body = format!("a{}=1", "[b]".repeat(levels));
        let limit = kring_core::form::Limits::default().max_depth;
        let result = read(Some("application/x-www-form-urlencoded"), body.as_bytes(), true, 1 << 20);
        match result {
            Ok(map) => {
                prop_assert!(levels <= limit);
                prop_assert_eq!(depth(&Json::Object(map)), levels + 1);
            }
            Err(Error::BadBody(message)) => {
                prop_assert!(levels > limit);
                prop_assert_eq!(message.key, "form.too_deep");
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn blank_bodies_are_empty_objects(
        body in "[ \t\r\n]{0,20}",
        content_type in prop::sample::select(CONTENT_TYPES.to_vec()),
    ) {
        prop_assert_eq!(read(content_type, body.as_bytes(), true, 1 << 20).ok(), Some(Map::new()));
    }
}
