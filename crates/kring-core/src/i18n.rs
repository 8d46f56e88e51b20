//! The English and Dutch message catalog (DESIGN §2 "Translations").
//!
//! Messages are carried through the code as a [`Message`] (a catalog key and its parameters) and
//! rendered only at the HTTP boundary, once the request's locale is known. The catalog uses
//! Laravel's `:placeholder` style; the texts are Kring's own.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    Nl,
}

impl Locale {
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Nl => "nl",
        }
    }

    /// Picks the supported language the client prefers most (RFC 9110 §12.5.4 q-values),
    /// English when it names none of ours.
    pub fn from_accept_language(header: &str) -> Locale {
        let mut best: Option<(f32, Locale)> = None;
        for entry in header.split(',').take(32) {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let locale = match primary {
                "en" => Locale::En,
                "nl" => Locale::Nl,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, locale));
            }
        }
        best.map(|(_, locale)| locale).unwrap_or_default()
    }
}

/// A translatable text: a catalog key plus the values of its placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub key: &'static str,
    pub params: Vec<(&'static str, String)>,
}

impl Message {
    pub fn new(key: &'static str) -> Message {
        Message {
            key,
            params: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Message {
        self.params.push((name, value.into()));
        self
    }

    pub fn render(&self, locale: Locale) -> String {
        let params: Vec<(&str, &str)> = self.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fill(text(locale, self.key), &params)
    }
}

type Catalog = HashMap<String, String>;

fn load(source: &str) -> Catalog {
    // The catalogs are part of the build and covered by tests; an unreadable one is empty
    // rather than a crash, and the keys then show as themselves.
    serde_json::from_str(source).unwrap_or_default()
}

fn catalog(locale: Locale) -> &'static Catalog {
    static EN: OnceLock<Catalog> = OnceLock::new();
    static NL: OnceLock<Catalog> = OnceLock::new();
    match locale {
        Locale::En => EN.get_or_init(|| load(include_str!("../lang/en.json"))),
        Locale::Nl => NL.get_or_init(|| load(include_str!("../lang/nl.json"))),
    }
}

fn lookup(locale: Locale, key: &str) -> Option<&'static str> {
    catalog(locale).get(key).map(String::as_str)
}

/// The text for `key`, falling back to English and then to the key itself.
pub fn text(locale: Locale, key: &str) -> &str {
    lookup(locale, key)
        .or_else(|| lookup(Locale::En, key))
        .unwrap_or(key)
}

/// Replaces `:name` placeholders, longest names first so `:max` never eats `:maximum`.
pub fn fill(template: &str, params: &[(&str, &str)]) -> String {
    let mut ordered: Vec<&(&str, &str)> = params.iter().collect();
    ordered.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    'scan: while let Some(pos) = rest.find(':') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        for (name, value) in &ordered {
            if let Some(remainder) = after.strip_prefix(name) {
                out.push_str(value);
                rest = remainder;
                continue 'scan;
            }
        }
        out.push(':');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The name a message uses for a field path: a translation from the catalog when there is one
/// (`field_values.0.field_id` looks up `attributes.field_values.*.field_id`), otherwise
/// Laravel's rule of underscores to spaces.
pub fn attribute(locale: Locale, path: &str) -> String {
    let mut index = "";
    let pattern: Vec<&str> = path
        .split('.')
        .map(|segment| {
            if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                index = segment;
                "*"
            } else {
                segment
            }
        })
        .collect();
    let key = format!("attributes.{}", pattern.join("."));
    match lookup(locale, &key) {
        Some(found) => fill(found, &[("index", index)]),
        // No name for the whole path: name each segment (`subtasks.0.name`, `subtaken.0.naam`).
        None => path
            .split('.')
            .map(
                |segment| match lookup(locale, &format!("attributes.{segment}")) {
                    Some(name) if !segment.bytes().all(|b| b.is_ascii_digit()) => name.to_string(),
                    _ => segment.replace('_', " "),
                },
            )
            .collect::<Vec<_>>()
            .join("."),
    }
}

/// The translated name of a resource (`customer`, `klant`).
pub fn resource_name(locale: Locale, resource: &str) -> String {
    lookup(locale, &format!("resources.{resource}"))
        .unwrap_or(resource)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_the_language() {
        assert_eq!(Locale::from_accept_language(""), Locale::En);
        assert_eq!(Locale::from_accept_language("nl"), Locale::Nl);
        assert_eq!(
            Locale::from_accept_language("nl-NL,nl;q=0.9,en;q=0.8"),
            Locale::Nl
        );
        assert_eq!(
            Locale::from_accept_language("fr, en;q=0.5, nl;q=0.7"),
            Locale::Nl
        );
        assert_eq!(Locale::from_accept_language("de"), Locale::En);
        assert_eq!(Locale::from_accept_language("nl;q=0"), Locale::En);
        assert_eq!(Locale::from_accept_language(";;;,,q=x"), Locale::En);
    }

    #[test]
    fn fills_placeholders_longest_first() {
        let filled = fill(
            ":max and :maximum, :none",
            &[("max", "1"), ("maximum", "2")],
        );
        assert_eq!(filled, "1 and 2, :none");
    }

    #[test]
    fn both_catalogs_have_the_same_keys_for_messages() {
        let en = catalog(Locale::En);
        let nl = catalog(Locale::Nl);
        assert!(en.len() > 20, "the English catalog loads");
        for key in en.keys() {
            assert!(nl.contains_key(key), "nl lacks {key}");
        }
    }

    #[test]
    fn attribute_names_follow_laravel_and_the_catalog() {
        assert_eq!(attribute(Locale::En, "next_contact"), "next contact");
        assert_eq!(
            attribute(Locale::En, "field_values.0.field_id"),
            "field values.0.field id"
        );
        assert_eq!(attribute(Locale::Nl, "name"), "naam");
        assert_eq!(
            attribute(Locale::Nl, "field_values.3.field_id"),
            "veldwaarden.3.veld"
        );
    }

    #[test]
    fn renders_a_message() {
        let msg = Message::new("validation.required").with("attribute", "name");
        assert_eq!(msg.render(Locale::En), "The name field is required.");
        assert_eq!(msg.render(Locale::Nl), "Het veld name is verplicht.");
    }
}
