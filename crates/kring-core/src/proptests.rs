//! Property tests for the parsers that live in one file each: timestamps, column coercion,
//! custom field values and webhook signing.
//!
//! Every property test in the crate is named `…proptests::…`, and `PROPTEST_CASES` overrides
//! each one's case count (the `proptest!` macro applies it on top of an explicit config), so
//! `PROPTEST_CASES=100000 cargo test -p kring-core proptests` runs the whole pass longer.

use proptest::prelude::*;
use serde_json::{Map, Value as Json};

use crate::custom_field;
use crate::i18n::{Locale, Message};
use crate::schema::{
    Column, ColumnType, STRING_MAX, TEXT_MAX, boolean, float, int, text, timestamp,
};
use crate::time::{format_date, format_timestamp, parse_date, parse_timestamp};
use crate::validate::{Mode, check_value, coerce, is_email, is_url, validate};
use crate::value::Value;
use crate::webhook::{BadSecret, SECRET_PREFIX, hmac_sha256, secret_from, sign, signature_header};

/// Message building must not fail for whatever text a check echoes back.
pub(crate) fn assert_renders(message: &Message) {
    for locale in [Locale::En, Locale::Nl] {
        assert!(!message.render(locale).is_empty(), "{}", message.key);
    }
}

/// Text that is mostly almost a date, a time or a number, where the parsers' edge cases are.
fn timeish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "2024",
            "0000",
            "9999",
            "+10000",
            "-0001",
            "+2024",
            "99999",
            "-",
            "-",
            ":",
            ":",
            "T",
            "t",
            " ",
            ".",
            "Z",
            "z",
            "+",
            "+02:00",
            "-14:00",
            "+99:99",
            "+0530",
            "01",
            "02",
            "12",
            "13",
            "29",
            "30",
            "31",
            "00",
            "23",
            "24",
            "59",
            "60",
            "61",
            "123",
            "123456",
            "123456789",
            "1234567890123",
            "\u{a0}",
            "\t",
            "\n",
            "١",
            "e",
            "UTC",
        ])
        .prop_map(str::to_string),
        "[0-9]{1,4}",
    ];
    let soup = prop::collection::vec(token, 0..16).prop_map(|tokens| tokens.concat());
    prop_oneof![soup, datetime_shaped()]
}

/// Text laid out as a timestamp, each part drawn from valid and just-invalid values.
fn datetime_shaped() -> impl Strategy<Value = String> {
    let pick = |items: &[&'static str]| prop::sample::select(items.to_vec());
    let date = (
        pick(&[
            "2024", "0000", "9999", "+10000", "-0001", "+2024", "0", "99999", "1970",
        ]),
        pick(&["01", "02", "12", "13", "00", "1"]),
        pick(&["01", "28", "29", "30", "31", "32", "00", "1"]),
    )
        .prop_map(|(y, m, d)| format!("{y}-{m}-{d}"));
    let time = (
        pick(&["T", " ", "t", "  "]),
        pick(&["00", "23", "24", "9"]),
        pick(&["00", "59", "60"]),
        pick(&["", ":00", ":59", ":60", ":61"]),
        pick(&["", ".5", ".123456", ".123456789", ".1234567891", "."]),
        pick(&[
            "", "Z", "z", "+00:00", "+01:00", "-01:00", "+14:00", "-23:59", "+24:00", " +0100",
        ]),
    )
        .prop_map(|(sep, h, min, sec, frac, zone)| format!("{sep}{h}:{min}{sec}{frac}{zone}"));
    (date, prop::option::of(time), pick(&["", " ", "\t"]))
        .prop_map(|(date, time, pad)| format!("{pad}{date}{}{pad}", time.unwrap_or_default()))
}

/// Timestamps in the range both databases and the fixed-width format hold.
fn instant() -> impl Strategy<Value = chrono::DateTime<chrono::Utc>> {
    // 0000-01-01T00:00:00Z up to 9999-12-31T23:59:59.999999Z, in microseconds.
    (-62_167_219_200_000_000i64..253_402_300_800_000_000)
        .prop_filter_map("in chrono's range", chrono::DateTime::from_timestamp_micros)
}

/// Strings a client might send where a scalar column or a custom field expects a value.
fn scalar_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => timeish(),
        2 => prop::sample::select(vec![
            "", " ", "0", "1", "-1", "true", "false", "TRUE", "yes", "null", "1.5", " 12 ",
            "1e308", "1e309", "-1e309", "NaN", "inf", "-0", "+5", "0x10", "9223372036854775807",
            "9223372036854775808", "-9223372036854775809", "a@b.nl", "a@b..nl", "@", "a@",
            "x@localhost", "http://a", "https://", "http://:80", "https://a b", "http://a\u{0}",
            "gold", "\u{0}", "[]", "{}", "\u{200B}",
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec![STRING_MAX, STRING_MAX + 1, 64, 65, 253, 254])
            .prop_map(|n| "é".repeat(n)),
    ]
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        // NaN and the infinities become null, as serde_json writes them.
        any::<f64>().prop_map(Json::from),
        prop::sample::select(vec![0.0, -0.0, 0.5, 1.0, 9.0e15, 9.1e15, -9.0e15, 1e300])
            .prop_map(Json::from),
        scalar_text().prop_map(Json::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((scalar_text(), inner), 0..4)
                .prop_map(|entries| Json::Object(entries.into_iter().collect())),
        ]
    })
}

const COLUMN_TYPES: [ColumnType; 7] = [
    ColumnType::Int,
    ColumnType::Float,
    ColumnType::Bool,
    ColumnType::Text,
    ColumnType::Json,
    ColumnType::Timestamp,
    ColumnType::Date,
];

static COLUMNS: [Column; 9] = [
    Column::id(),
    text("name").required(),
    text("email").writable().email(),
    text("website").writable().url(),
    text("kind").writable().one_of(&["lead", "customer"]).min(4),
    int("score").writable().range(-5, 100),
    float("revenue").writable(),
    boolean("active").writable(),
    timestamp("next_contact").writable(),
];

fn column_body() -> impl Strategy<Value = Map<String, Json>> {
    let key = prop_oneof![
        3 => prop::sample::select(COLUMNS.iter().map(|c| c.name).collect::<Vec<_>>())
            .prop_map(str::to_string),
        1 => scalar_text(),
    ];
    prop::collection::vec((key, json_value()), 0..8)
        .prop_map(|entries| entries.into_iter().collect())
}

fn is_within_range(column: &Column, value: &Value) -> bool {
    match (column.range, value) {
        (Some((min, max)), Value::Int(n)) => (min..=max).contains(n),
        (Some((min, max)), Value::Float(f)) => *f >= min as f64 && *f <= max as f64,
        _ => true,
    }
}

proptest! {
    #[test]
    fn timestamps_parse_any_text_without_panicking(input in any::<String>()) {
        let _ = parse_timestamp(&input);
        let _ = parse_date(&input);
    }

    #[test]
    fn parsed_timestamps_print_fixed_width_and_read_back(input in timeish()) {
        if let Some(t) = parse_timestamp(&input) {
            let printed = format_timestamp(&t);
            prop_assert_eq!(printed.len(), "2025-07-29T12:32:45.000000Z".len(), "{}", printed);
            prop_assert_eq!(t.timestamp_subsec_nanos() % 1000, 0);
            prop_assert_eq!(parse_timestamp(&printed), Some(t), "{}", printed);
        }
        if let Some(d) = parse_date(&input) {
            let printed = format_date(&d);
            prop_assert_eq!(printed.len(), "2025-07-29".len(), "{}", printed);
            prop_assert_eq!(parse_date(&printed), Some(d));
        }
    }

    #[test]
    fn printed_timestamps_read_back_in_every_accepted_form(t in instant()) {
        let printed = format_timestamp(&t);
        prop_assert_eq!(parse_timestamp(&printed), Some(t));
        let spaced = t.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        prop_assert_eq!(parse_timestamp(&spaced), Some(t));
        let local = t.with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap());
        // Near the end of year 9999 the local year has five digits, which RFC 3339 cannot write.
        if chrono::Datelike::year(&local) <= 9999 {
            prop_assert_eq!(parse_timestamp(&local.to_rfc3339()), Some(t));
        }
        prop_assert_eq!(parse_date(&format_date(&t.date_naive())), Some(t.date_naive()));
    }

    #[test]
    fn coercion_yields_the_column_type_or_nothing(
        ty in prop::sample::select(COLUMN_TYPES.to_vec()),
        raw in json_value(),
    ) {
        let Some(value) = coerce(ty, &raw) else { return Ok(()) };
        match (ty, &value) {
            (ColumnType::Int, Value::Int(n)) => {
                if let Some(exact) = raw.as_i64() {
                    prop_assert_eq!(*n, exact);
                }
            }
            (ColumnType::Float, Value::Float(f)) => prop_assert!(f.is_finite()),
            (ColumnType::Bool, Value::Bool(_)) | (ColumnType::Text, Value::Text(_)) => {}
            (ColumnType::Json, Value::Text(stored)) => {
                let reread = serde_json::from_str::<Json>(stored);
                prop_assert!(matches!(reread, Ok(Json::Array(_))), "{}", stored);
            }
            (ColumnType::Timestamp, Value::Timestamp(t)) => {
                prop_assert_eq!(parse_timestamp(&format_timestamp(t)), Some(*t));
            }
            (ColumnType::Date, Value::Date(_)) => {}
            (ty, value) => prop_assert!(false, "{:?} coerced to {:?}", ty, value),
        }
    }

    #[test]
    fn checked_values_keep_their_columns_rules(raw in json_value()) {
        for column in &COLUMNS {
            match check_value(column, &raw) {
                Ok(value) => {
                    if let Value::Text(s) = &value {
                        let chars = s.chars().count();
                        prop_assert!(column.max.is_none_or(|max| chars <= max));
                        prop_assert!(column.min.is_none_or(|min| chars >= min));
                        prop_assert!(!column.email || is_email(s));
                        prop_assert!(!column.url || is_url(s));
                        prop_assert!(column.one_of.is_none_or(|c| c.values().contains(&s.as_str())));
                    }
                    prop_assert!(is_within_range(column, &value), "{:?}", value);
                }
                Err(message) => assert_renders(&message),
            }
        }
    }

    #[test]
    fn validation_takes_any_body(body in column_body(), create in any::<bool>()) {
        let mode = if create { Mode::Create } else { Mode::Update };
        let (validated, errors) = validate(&COLUMNS, &body, mode);
        for (name, _) in &validated.values {
            prop_assert!(COLUMNS.iter().any(|c| c.name == *name && c.writable));
            prop_assert!(!errors.has(name));
        }
        for locale in [Locale::En, Locale::Nl] {
            let rendered = errors.render(locale);
            prop_assert!(rendered["errors"].is_object());
        }
    }

    #[test]
    fn address_checks_take_any_text(s in prop_oneof![any::<String>(), scalar_text()]) {
        if is_email(&s) {
            prop_assert!(s.contains('@'));
            prop_assert!(!s.chars().any(char::is_whitespace));
        }
        if is_url(&s) {
            prop_assert!(s.starts_with("http://") || s.starts_with("https://"));
            prop_assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control()));
        }
    }

    #[test]
    fn custom_field_values_are_stored_canonically(
        field_type in prop::sample::select(
            custom_field::FIELD_TYPES.iter().copied().chain(["", "bogus"]).collect::<Vec<_>>()
        ),
        raw in json_value(),
    ) {
        let stored = match custom_field::check(field_type, &raw) {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                prop_assert!(raw.is_null() || raw == Json::String(String::new()));
                return Ok(());
            }
            Err(message) => {
                assert_renders(&message);
                return Ok(());
            }
        };
        let chars = stored.chars().count();
        match field_type {
            "text" | "select" => prop_assert!(chars <= STRING_MAX),
            "checkbox" => prop_assert!(stored == "0" || stored == "1"),
            "email" => prop_assert!(is_email(&stored)),
            "multiselect" => {
                let reread = serde_json::from_str::<Json>(&stored);
                let Ok(Json::Array(items)) = reread else {
                    return Err(TestCaseError::fail(format!("multiselect stored {stored}")));
                };
                prop_assert!(items.iter().all(Json::is_string));
                return Ok(());
            }
            _ => prop_assert!(chars <= TEXT_MAX),
        }
        // The stored text is itself a valid value of the type, stored unchanged.
        let again = custom_field::check(field_type, &Json::String(stored.clone()));
        prop_assert_eq!(again, Ok(Some(stored)));
    }

    #[test]
    fn signing_takes_any_secret(
        secret in prop_oneof![
            any::<String>(),
            any::<String>().prop_map(|s| format!("{SECRET_PREFIX}{s}")),
            "whsec_[A-Za-z0-9+/]{0,40}={0,3}",
        ],
        id in any::<String>(),
        timestamp in any::<i64>(),
        payload in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        use base64::Engine as _;
        let decoded = secret
            .strip_prefix(SECRET_PREFIX)
            .map(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded));
        match sign(&secret, &id, timestamp, &payload) {
            Ok(signature) => {
                prop_assert!(matches!(decoded, Some(Ok(_))));
                let encoded = signature.strip_prefix("v1,").unwrap_or_default();
                let mac = base64::engine::general_purpose::STANDARD.decode(encoded);
                prop_assert_eq!(mac.map(|m| m.len()), Ok(32));
            }
            Err(BadSecret) => prop_assert!(!matches!(decoded, Some(Ok(_)))),
        }
    }

    #[test]
    fn fresh_secrets_sign_once_per_secret(
        randoms in prop::collection::vec(any::<[u8; 24]>(), 0..4),
        timestamp in any::<i64>(),
    ) {
        let secrets: Vec<String> = randoms.iter().map(secret_from).collect();
        let borrowed: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let header = signature_header(&borrowed, "msg_1", timestamp, b"{}").unwrap();
        let signatures: Vec<&str> = header.split(' ').filter(|s| !s.is_empty()).collect();
        prop_assert_eq!(signatures.len(), secrets.len());
        for (signature, secret) in signatures.iter().zip(&secrets) {
            prop_assert_eq!(Ok(signature.to_string()), sign(secret, "msg_1", timestamp, b"{}"));
        }
    }

    #[test]
    fn hmac_keys_follow_rfc_2104(
        key in prop::collection::vec(any::<u8>(), 0..200),
        message in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        use sha2::Digest as _;
        let mac = hmac_sha256(&key, &message);
        if key.len() > 64 {
            // A long key is replaced by its hash.
            prop_assert_eq!(mac, hmac_sha256(&sha2::Sha256::digest(&key), &message));
        } else {
            // A short key is padded with zeros to the block size.
            let mut padded = key.clone();
            padded.resize(64, 0);
            prop_assert_eq!(mac, hmac_sha256(&padded, &message));
        }
    }
}
