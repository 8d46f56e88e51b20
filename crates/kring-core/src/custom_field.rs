//! Custom field types and how a value of each type is checked and stored.
//!
//! Values are stored as text in one canonical form per type, so that both databases compare
//! and return them identically: numbers as written by Rust, dates as `YYYY-MM-DD`, datetimes in
//! Kring's timestamp format, checkboxes as `1`/`0`.

use serde_json::Value as Json;

use crate::i18n::Message;
use crate::schema::{STRING_MAX, TEXT_MAX};
use crate::time::{format_date, format_timestamp, parse_date, parse_timestamp};
use crate::validate::is_email;

/// The type names a field may have (Cirqll names; ManageIt's numeric types map onto them).
pub const FIELD_TYPES: &[&str] = &[
    "text",
    "number",
    "date",
    "checkbox",
    "select",
    "textarea",
    "multiselect",
    "datetime",
    "file",
    "email",
];

/// Checks one value for a field of `field_type` and returns its stored text.
/// `Ok(None)` means "no value" (null or empty), which clears the field.
pub fn check(field_type: &str, raw: &Json) -> Result<Option<String>, Message> {
    if raw.is_null() || matches!(raw, Json::String(s) if s.is_empty()) {
        return Ok(None);
    }
    let text = match raw {
        Json::String(s) => Some(s.as_str()),
        _ => None,
    };
    let stored = match field_type {
        "text" | "select" => limited(raw, STRING_MAX)?,
        "textarea" => limited(raw, TEXT_MAX)?,
        "email" => {
            let s = text.ok_or_else(|| Message::new("validation.string"))?;
            if !is_email(s) {
                return Err(Message::new("validation.email"));
            }
            s.to_string()
        }
        "number" => match raw {
            Json::Number(n) => n.to_string(),
            Json::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|_| s.trim().to_string())
                .ok_or_else(|| Message::new("validation.numeric"))?,
            _ => return Err(Message::new("validation.numeric")),
        },
        "date" => text
            .and_then(|s| parse_date(s).or_else(|| parse_timestamp(s).map(|t| t.date_naive())))
            .map(|d| format_date(&d))
            .ok_or_else(|| Message::new("validation.date"))?,
        "datetime" => text
            .and_then(parse_timestamp)
            .map(|t| format_timestamp(&t))
            .ok_or_else(|| Message::new("validation.date"))?,
        "checkbox" => match raw {
            Json::Bool(b) => bool_text(*b),
            Json::Number(n) if n.as_i64() == Some(1) => bool_text(true),
            Json::Number(n) if n.as_i64() == Some(0) => bool_text(false),
            Json::String(s) if s == "1" || s == "true" => bool_text(true),
            Json::String(s) if s == "0" || s == "false" => bool_text(false),
            _ => return Err(Message::new("validation.boolean")),
        },
        "multiselect" => match raw {
            Json::Array(items) if items.iter().all(Json::is_string) => raw.to_string(),
            _ => return Err(Message::new("validation.array")),
        },
        // A file field holds the references the ManageIt dialect writes after an upload
        // (`[{"name", "uuid"}]`); text of any other shape reads back as no files.
        _ => limited(raw, TEXT_MAX)?,
    };
    Ok(Some(stored))
}

fn limited(raw: &Json, max: usize) -> Result<String, Message> {
    let s = match raw {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        _ => return Err(Message::new("validation.string")),
    };
    if s.chars().count() > max {
        return Err(Message::new("validation.max.string").with("max", max.to_string()));
    }
    Ok(s)
}

fn bool_text(b: bool) -> String {
    if b { "1" } else { "0" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_storage_per_type() {
        assert_eq!(check("text", &json!("gold")), Ok(Some("gold".into())));
        assert_eq!(check("text", &json!(42)), Ok(Some("42".into())));
        assert_eq!(check("number", &json!("12.50")), Ok(Some("12.50".into())));
        assert_eq!(check("number", &json!(7)), Ok(Some("7".into())));
        assert_eq!(
            check("date", &json!("2024-02-29")),
            Ok(Some("2024-02-29".into()))
        );
        assert_eq!(check("checkbox", &json!(true)), Ok(Some("1".into())));
        assert_eq!(
            check("datetime", &json!("2024-01-02 03:04:05")),
            Ok(Some("2024-01-02T03:04:05.000000Z".into()))
        );
        assert_eq!(check("text", &json!(null)), Ok(None));
        assert_eq!(check("text", &json!("")), Ok(None));
    }

    #[test]
    fn refuses_wrong_types() {
        assert_eq!(
            check("number", &json!("abc")).map_err(|m| m.key),
            Err("validation.numeric")
        );
        assert_eq!(
            check("date", &json!("2024-02-30")).map_err(|m| m.key),
            Err("validation.date")
        );
        assert_eq!(
            check("checkbox", &json!("yes")).map_err(|m| m.key),
            Err("validation.boolean")
        );
        assert_eq!(
            check("text", &json!({"a": 1})).map_err(|m| m.key),
            Err("validation.string")
        );
        assert_eq!(
            check("text", &json!("x".repeat(256))).map_err(|m| m.key),
            Err("validation.max.string")
        );
        assert_eq!(
            check("email", &json!("nope")).map_err(|m| m.key),
            Err("validation.email")
        );
    }
}
