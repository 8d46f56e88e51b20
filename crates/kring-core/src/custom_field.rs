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
        // A file field's value names files the record holds (see [`held_files`]); the caller
        // checks it against them, never this text-only check.
        "file" => return Err(Message::new("validation.file_value")),
        _ => limited(raw, TEXT_MAX)?,
    };
    Ok(Some(stored))
}

/// One file a file field holds, as its stored value names it (`[{"name", "uuid"}]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub name: String,
    pub uuid: String,
}

/// The files a file field's stored value names; text of another shape names none.
pub fn stored_files(text: &str) -> Vec<StoredFile> {
    let Ok(Json::Array(items)) = serde_json::from_str::<Json>(text) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            Some(StoredFile {
                name: item.get("name")?.as_str()?.to_string(),
                uuid: item.get("uuid")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// The stored text of a file field holding `files`; `None` when it holds none.
pub fn files_text(files: &[StoredFile]) -> Option<String> {
    if files.is_empty() {
        return None;
    }
    let items: Vec<Json> = files
        .iter()
        .map(|f| serde_json::json!({ "name": f.name, "uuid": f.uuid }))
        .collect();
    Some(Json::Array(items).to_string())
}

/// A written file value, checked against the files the field may hold (those it holds now and
/// any the request itself uploaded): files are added only by upload, so a value may only name
/// held files, each by its name, its uuid, its download URL, or as the object a read shows
/// (`{"url": …}`, `{"path": …}`, `{"uuid": …}`, `{"name": …}`). `null`, `""` and `[]` hold none.
/// The stored text form itself is accepted, as the ManageIt dialect hands it on.
pub fn held_files(raw: &Json, held: &[StoredFile]) -> Result<Vec<StoredFile>, Message> {
    let refused = || Message::new("validation.file_value");
    let items: Vec<Json> = match raw {
        Json::Null => return Ok(Vec::new()),
        Json::String(s) if s.is_empty() => return Ok(Vec::new()),
        Json::String(s) => match serde_json::from_str::<Json>(s) {
            Ok(Json::Array(items)) => items,
            _ => vec![raw.clone()],
        },
        Json::Array(items) => items.clone(),
        Json::Object(_) => vec![raw.clone()],
        _ => return Err(refused()),
    };
    let mut chosen: Vec<StoredFile> = Vec::with_capacity(items.len());
    for item in &items {
        let file = held
            .iter()
            .find(|file| names_file(item, file))
            .ok_or_else(refused)?;
        if !chosen.contains(file) {
            chosen.push(file.clone());
        }
    }
    Ok(chosen)
}

/// Whether one item of a written file value names `file`.
fn names_file(item: &Json, file: &StoredFile) -> bool {
    let names = |text: &str| {
        text == file.uuid || text == file.name || crate::file_url::links_to(text, &file.uuid)
    };
    match item {
        Json::String(text) => names(text),
        Json::Object(map) => {
            let by_uuid = map.get("uuid").and_then(Json::as_str);
            if let Some(uuid) = by_uuid {
                return uuid == file.uuid;
            }
            ["url", "path", "name"]
                .iter()
                .find_map(|key| map.get(*key).and_then(Json::as_str))
                .is_some_and(names)
        }
        _ => false,
    }
}

/// A stored value as it travels: in the type of its field. Numbers and checkboxes as JSON
/// numbers and booleans, a multiselect as its list, a file field as its `[{"name", "uuid"}]`
/// (to which the response adds what the file is and where), dates and text as stored.
pub fn present(field_type: &str, stored: &str) -> Json {
    let text = || Json::String(stored.to_string());
    match field_type {
        "number" => stored
            .parse::<i64>()
            .map(Json::from)
            .ok()
            .or_else(|| {
                let float = stored.parse::<f64>().ok()?;
                serde_json::Number::from_f64(float).map(Json::Number)
            })
            .unwrap_or_else(text),
        "checkbox" => match stored {
            "1" => Json::Bool(true),
            "0" => Json::Bool(false),
            _ => text(),
        },
        "multiselect" => match serde_json::from_str::<Json>(stored) {
            Ok(list @ Json::Array(_)) => list,
            _ => text(),
        },
        "file" => {
            let items: Vec<Json> = stored_files(stored)
                .into_iter()
                .map(|f| serde_json::json!({ "name": f.name, "uuid": f.uuid }))
                .collect();
            Json::Array(items)
        }
        _ => text(),
    }
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
        assert_eq!(
            check("file", &json!("hello.pdf")).map_err(|m| m.key),
            Err("validation.file_value")
        );
    }

    #[test]
    fn values_travel_in_their_fields_type() {
        assert_eq!(present("number", "42.5"), json!(42.5));
        assert_eq!(present("number", "7"), json!(7));
        assert_eq!(present("number", "12.50"), json!(12.5));
        assert_eq!(present("checkbox", "1"), json!(true));
        assert_eq!(present("checkbox", "0"), json!(false));
        assert_eq!(
            present("multiselect", r#"["red","blue"]"#),
            json!(["red", "blue"])
        );
        assert_eq!(present("date", "2024-02-29"), json!("2024-02-29"));
        assert_eq!(present("text", "42"), json!("42"));
        assert_eq!(
            present("file", r#"[{"name":"a.pdf","uuid":"u1"}]"#),
            json!([{ "name": "a.pdf", "uuid": "u1" }])
        );
        assert_eq!(present("file", "hello.pdf"), json!([]));
    }

    fn file(name: &str, uuid: &str) -> StoredFile {
        StoredFile {
            name: name.into(),
            uuid: uuid.into(),
        }
    }

    #[test]
    fn a_file_value_names_only_files_the_field_holds() {
        let held = [file("a.pdf", "u1"), file("b.png", "u2")];
        let named = |raw: Json| held_files(&raw, &held).map_err(|m| m.key);
        assert_eq!(named(json!(null)), Ok(vec![]));
        assert_eq!(named(json!([])), Ok(vec![]));
        assert_eq!(named(json!("b.png")), Ok(vec![held[1].clone()]));
        assert_eq!(
            named(json!([{ "url": "https://k.test/api/files/u2?expires=1&signature=x" }, "u1"])),
            Ok(vec![held[1].clone(), held[0].clone()])
        );
        assert_eq!(
            named(json!([{ "path": "/api/files/u1" }])),
            Ok(vec![held[0].clone()])
        );
        assert_eq!(
            named(json!(r#"[{"name":"a.pdf","uuid":"u1"}]"#)),
            Ok(vec![held[0].clone()])
        );
        assert_eq!(named(json!("hello.pdf")), Err("validation.file_value"));
        assert_eq!(
            named(json!([{ "uuid": "u3", "name": "a.pdf" }])),
            Err("validation.file_value")
        );
        assert_eq!(named(json!(42)), Err("validation.file_value"));
        assert_eq!(
            held_files(&json!("a.pdf"), &[]).map_err(|m| m.key),
            Err("validation.file_value")
        );
    }
}
