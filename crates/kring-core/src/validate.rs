//! The rule engine: a JSON body in, typed column values or Laravel-style errors out.
//!
//! Rules come from the column descriptions ([`crate::schema`]); checks that need the database
//! (does this `user_id` exist in the caller's company?) are added by the server to the same
//! [`ValidationErrors`], so a client sees every problem of a request at once.

use serde_json::{Map, Value as Json};

use crate::i18n::{Locale, Message, attribute, fill, text};
use crate::schema::{Column, ColumnType};
use crate::time::{parse_date, parse_timestamp};
use crate::value::Value;

/// Create checks `required`; update checks only what the body contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Errors keyed by dot path (`name`, `field_values.0.field_id`), in the order they were found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ValidationErrors {
    entries: Vec<(String, Vec<Message>)>,
}

impl ValidationErrors {
    pub fn add(&mut self, path: impl Into<String>, message: Message) {
        let path = path.into();
        match self.entries.iter_mut().find(|(p, _)| *p == path) {
            Some((_, messages)) => messages.push(message),
            None => self.entries.push((path, vec![message])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn has(&self, path: &str) -> bool {
        self.entries.iter().any(|(p, _)| p == path)
    }

    pub fn merge(&mut self, other: ValidationErrors) {
        for (path, messages) in other.entries {
            for message in messages {
                self.add(path.clone(), message);
            }
        }
    }

    /// The same errors under other paths, for a dialect whose names differ from Kring's.
    pub fn renamed(self, rename: impl Fn(&str) -> String) -> ValidationErrors {
        let mut renamed = ValidationErrors::default();
        for (path, messages) in self.entries {
            let path = rename(&path);
            for message in messages {
                renamed.add(path.clone(), message);
            }
        }
        renamed
    }

    /// Adds `other`'s errors under `prefix` (`subtasks.2.` + `name`).
    pub fn merge_prefixed(&mut self, prefix: &str, other: ValidationErrors) {
        for (path, messages) in other.entries {
            for message in messages {
                self.add(format!("{prefix}{path}"), message);
            }
        }
    }

    /// The 422 body: `{"message": first error + summary, "errors": {path: [texts]}}`.
    pub fn render(&self, locale: Locale) -> Json {
        let mut errors = Map::new();
        let mut first: Option<String> = None;
        let mut count = 0usize;
        for (path, messages) in &self.entries {
            let name = attribute(locale, path);
            let texts: Vec<Json> = messages
                .iter()
                .map(|m| {
                    // A message may name its own attribute (a custom field's name).
                    let mut params: Vec<(&str, &str)> =
                        m.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    if !params.iter().any(|(k, _)| *k == "attribute") {
                        params.push(("attribute", name.as_str()));
                    }
                    let rendered = fill(text(locale, m.key), &params);
                    count += 1;
                    first.get_or_insert_with(|| rendered.clone());
                    Json::String(rendered)
                })
                .collect();
            errors.insert(path.clone(), Json::Array(texts));
        }
        let first = first.unwrap_or_default();
        let message = match count.saturating_sub(1) {
            0 => first,
            more => {
                let key = if more == 1 {
                    "validation.summary.one"
                } else {
                    "validation.summary.many"
                };
                fill(
                    text(locale, key),
                    &[("message", &first), ("count", &more.to_string())],
                )
            }
        };
        serde_json::json!({ "message": message, "errors": errors })
    }
}

/// What validation made of a body: the typed values of the writable columns it contained.
#[derive(Debug, Default)]
pub struct Validated {
    pub values: Vec<(&'static str, Value)>,
}

impl Validated {
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(name, _)| *name == column)
            .map(|(_, v)| v)
    }
}

/// Checks `body` against the writable `columns`. Keys that are not writable columns are ignored
/// (Laravel-compatible); an empty string counts as null (Laravel's `ConvertEmptyStringsToNull`).
pub fn validate(
    columns: &'static [Column],
    body: &Map<String, Json>,
    mode: Mode,
) -> (Validated, ValidationErrors) {
    let mut validated = Validated::default();
    let mut errors = ValidationErrors::default();
    for column in columns.iter().filter(|c| c.writable) {
        let raw = body.get(column.name);
        let is_blank = matches!(raw, None | Some(Json::Null)) || raw.is_some_and(is_empty_string);
        if is_blank {
            let missing = raw.is_none();
            if column.required && (mode == Mode::Create || !missing) {
                errors.add(column.name, Message::new("validation.required"));
            } else if !missing {
                if column.nullable {
                    validated.values.push((column.name, Value::Null));
                } else {
                    errors.add(column.name, type_error(column.ty));
                }
            }
            continue;
        }
        let Some(raw) = raw else { continue };
        match check_value(column, raw) {
            Ok(value) => validated.values.push((column.name, value)),
            Err(message) => errors.add(column.name, message),
        }
    }
    (validated, errors)
}

fn is_empty_string(value: &Json) -> bool {
    matches!(value, Json::String(s) if s.is_empty())
}

/// Converts one present, non-blank JSON value to the column's type, or says why it cannot.
pub fn check_value(column: &Column, raw: &Json) -> Result<Value, Message> {
    let value = coerce(column.ty, raw).ok_or_else(|| type_error(column.ty))?;
    if let Value::Text(s) = &value {
        let length = s.chars().count();
        if let Some(max) = column.max.filter(|max| length > *max) {
            return Err(Message::new("validation.max.string").with("max", max.to_string()));
        }
        if let Some(min) = column.min.filter(|min| length < *min) {
            return Err(Message::new("validation.min.string").with("min", min.to_string()));
        }
        if column.url && !is_url(s) {
            return Err(Message::new("validation.url"));
        }
        if column.email && !is_email(s) {
            return Err(Message::new("validation.email"));
        }
        if column
            .one_of
            .is_some_and(|allowed| !allowed.values().contains(&s.as_str()))
        {
            return Err(Message::new("validation.in"));
        }
    }
    if let Some((min, max)) = column.range {
        // Bounds and stored integers are far inside f64's exact range (2^53).
        #[allow(clippy::as_conversions)]
        let (number, min, max) = (
            match value {
                Value::Int(i) => Some(i as f64),
                Value::Float(f) => Some(f),
                _ => None,
            },
            min as f64,
            max as f64,
        );
        if number.is_some_and(|n| n < min || n > max) {
            return Err(Message::new("validation.between.numeric")
                .with("min", min.to_string())
                .with("max", max.to_string()));
        }
    }
    Ok(value)
}

/// An absolute `http://` or `https://` URL with a host and no whitespace.
pub fn is_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with(':')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn type_error(ty: ColumnType) -> Message {
    Message::new(match ty {
        ColumnType::Int => "validation.integer",
        ColumnType::Float => "validation.numeric",
        ColumnType::Bool => "validation.boolean",
        ColumnType::Text => "validation.string",
        ColumnType::Json => "validation.array",
        ColumnType::Timestamp | ColumnType::Date => "validation.date",
    })
}

/// JSON and form bodies both reach here: numbers may arrive as strings ("5"), booleans as
/// `1`/`0`/"true", as Laravel's rules accept them.
pub fn coerce(ty: ColumnType, raw: &Json) -> Option<Value> {
    match (ty, raw) {
        (ColumnType::Text, Json::String(s)) => Some(Value::Text(s.clone())),
        // A JSON column holds a list, stored as its JSON text.
        (ColumnType::Json, Json::Array(_)) => Some(Value::Text(raw.to_string())),
        (ColumnType::Int, Json::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    // A whole number below 2^53: exact as an i64.
                    .map(
                        #[allow(clippy::as_conversions)]
                        |f| f as i64,
                    )
            })
            .map(Value::Int),
        (ColumnType::Int, Json::String(s)) => s.trim().parse::<i64>().ok().map(Value::Int),
        (ColumnType::Float, Json::Number(n)) => n.as_f64().map(Value::Float),
        (ColumnType::Float, Json::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::Float),
        (ColumnType::Bool, Json::Bool(b)) => Some(Value::Bool(*b)),
        (ColumnType::Bool, Json::Number(n)) => match n.as_i64() {
            Some(0) => Some(Value::Bool(false)),
            Some(1) => Some(Value::Bool(true)),
            _ => None,
        },
        (ColumnType::Bool, Json::String(s)) => match s.as_str() {
            "1" | "true" => Some(Value::Bool(true)),
            "0" | "false" => Some(Value::Bool(false)),
            _ => None,
        },
        (ColumnType::Timestamp, Json::String(s)) => parse_timestamp(s).map(Value::Timestamp),
        (ColumnType::Date, Json::String(s)) => parse_date(s)
            .or_else(|| parse_timestamp(s).map(|t| t.date_naive()))
            .map(Value::Date),
        _ => None,
    }
}

/// A pragmatic address check: one `@`, a plausible local part and a dotted or single-label
/// domain, no spaces or control characters. It accepts what mail servers accept in practice and
/// refuses typos such as a missing `@` or a space.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let domain_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{boolean, int, text, timestamp};
    use serde_json::json;

    static COLUMNS: [Column; 5] = [
        Column::id(),
        text("name").required(),
        text("email").writable().email(),
        boolean("show_on_map").writable(),
        timestamp("next_contact").writable(),
    ];
    static WITH_INT: [Column; 1] = [int("user_id").writable()];

    fn run(body: Json, mode: Mode) -> (Validated, ValidationErrors) {
        let map = body.as_object().cloned().unwrap_or_default();
        validate(&COLUMNS, &map, mode)
    }

    #[test]
    fn required_on_create_only() {
        let (_, errors) = run(json!({}), Mode::Create);
        assert!(errors.has("name"));
        let (_, errors) = run(json!({}), Mode::Update);
        assert!(errors.is_empty());
        let (_, errors) = run(json!({"name": ""}), Mode::Update);
        assert!(
            errors.has("name"),
            "an explicit blank name is refused on update too"
        );
    }

    #[test]
    fn renders_laravel_shape_with_summary() {
        let (_, errors) = run(
            json!({"email": "nope", "show_on_map": "maybe"}),
            Mode::Create,
        );
        let body = errors.render(Locale::En);
        assert_eq!(
            body,
            json!({
                "message": "The name field is required. (and 2 more errors)",
                "errors": {
                    "name": ["The name field is required."],
                    "email": ["The email field must be a valid email address."],
                    "show_on_map": ["The show on map field must be true or false."]
                }
            })
        );
        let one = run(json!({"name": "x", "email": "bad"}), Mode::Create)
            .1
            .render(Locale::Nl);
        assert_eq!(
            one["message"],
            "Het veld e-mailadres moet een geldig e-mailadres zijn."
        );
    }

    #[test]
    fn coerces_form_strings() {
        let (ok, errors) = run(
            json!({"name": "Acme", "show_on_map": "1", "next_contact": "2024-01-02"}),
            Mode::Create,
        );
        assert!(errors.is_empty());
        assert_eq!(ok.get("show_on_map"), Some(&Value::Bool(true)));
        assert!(matches!(ok.get("next_contact"), Some(Value::Timestamp(_))));
        let map = json!({"user_id": "12"});
        let (ok, _) = validate(
            &WITH_INT,
            map.as_object().unwrap_or(&Map::new()),
            Mode::Create,
        );
        assert_eq!(ok.get("user_id"), Some(&Value::Int(12)));
    }

    #[test]
    fn ignores_unknown_and_read_only_keys() {
        let (ok, errors) = run(
            json!({"name": "Acme", "id": 99, "company_id": 7, "hack": true}),
            Mode::Create,
        );
        assert!(errors.is_empty());
        assert_eq!(ok.values.len(), 1);
    }

    #[test]
    fn max_length_counts_characters() {
        let name = "é".repeat(255);
        assert!(run(json!({ "name": name }), Mode::Create).1.is_empty());
        let name = "é".repeat(256);
        let errors = run(json!({ "name": name }), Mode::Create).1;
        assert_eq!(
            errors.render(Locale::En)["errors"]["name"][0],
            "The name field must not be greater than 255 characters."
        );
    }

    #[test]
    fn email_check() {
        for good in [
            "a@b.nl",
            "cleora42@gmail.com",
            "first.last+tag@sub.example.com",
            "x@localhost",
        ] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "", "a", "a@", "@b.nl", "a b@c.nl", "a@b..nl", "a@-b.nl", ".a@b.nl", "a@b@c",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
