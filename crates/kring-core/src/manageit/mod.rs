//! The ManageIt dialect's pure parts (`spec/manageit.md`): its numeric field types, its
//! permission catalog, Laravel's input normalisation, file formats, and the rules of
//! `POST /api/customers` with Laravel's messages on dot paths.

mod files;
#[cfg(test)]
mod proptests;
mod rules;
#[cfg(test)]
mod tests;

pub use files::{FileKind, accepted_extensions, extension_of, sniff};
pub use rules::{
    CustomerInput, FieldConfig, FieldInput, Limits, Photo, UploadedFile, validate_customer,
};

use serde_json::Value as Json;

/// ManageIt's field type numbers (1 text, 5 select, 7 textarea, 9 file are the seed's; DESIGN §1
/// fills the gaps) and the Cirqll type each one is.
pub const FIELD_TYPES: &[(i64, &str)] = &[
    (1, "text"),
    (2, "number"),
    (3, "date"),
    (4, "checkbox"),
    (5, "select"),
    (6, "multiselect"),
    (7, "textarea"),
    (8, "datetime"),
    (9, "file"),
    (10, "email"),
];

pub fn type_name(id: i64) -> Option<&'static str> {
    FIELD_TYPES.iter().find(|(n, _)| *n == id).map(|(_, t)| *t)
}

pub fn type_id(name: &str) -> Option<i64> {
    FIELD_TYPES
        .iter()
        .find(|(_, t)| *t == name)
        .map(|(n, _)| *n)
}

/// The permission modules and, per module, the actions (`view-invoice`, …), in the docs' order.
pub const MODULES: [&str; 4] = ["invoice", "contract", "proposal", "meeting"];
/// Within a module's block of four ids; `view` is last, so `view-invoice` is 4 and
/// `view-meeting` 16 as the seed shows (`spec/manageit.md` §6.4).
pub const ACTIONS: [&str; 4] = ["create", "edit", "delete", "view"];

/// The id of `action` (`view-invoice`) in `module` (`invoice`).
pub fn permission_id(module: &str, action: &str) -> Option<i64> {
    let m = MODULES.iter().position(|x| *x == module)?;
    let verb = action.strip_suffix(module)?.strip_suffix('-')?;
    let a = ACTIONS.iter().position(|x| *x == verb)?;
    i64::try_from(m * 4 + a + 1).ok()
}

/// `view-invoice` for 4.
pub fn permission_name(id: i64) -> Option<String> {
    let index = usize::try_from(id.checked_sub(1)?).ok()?;
    let module = MODULES.get(index / 4)?;
    let action = ACTIONS.get(index % 4)?;
    Some(format!("{action}-{module}"))
}

/// The actions a module allows, as clients name them.
pub fn module_actions(module: &str) -> Vec<String> {
    ACTIONS.iter().map(|a| format!("{a}-{module}")).collect()
}

/// Keys Laravel's `TrimStrings` leaves alone.
const UNTRIMMED: &[&str] = &["password", "password_confirmation", "current_password"];

/// Laravel's `TrimStrings` then `ConvertEmptyStringsToNull` (`spec/manageit.md` §4.5): every
/// string is trimmed of whitespace and invisible characters, and `""` becomes `null`.
pub fn normalize(value: &mut Json) {
    normalize_under(value, None);
}

fn normalize_under(value: &mut Json, key: Option<&str>) {
    match value {
        Json::String(text) => {
            if !key.is_some_and(|k| UNTRIMMED.contains(&k)) {
                let trimmed = text.trim_matches(is_trimmed);
                if trimmed.len() != text.len() {
                    *text = trimmed.to_string();
                }
            }
            if text.is_empty() {
                *value = Json::Null;
            }
        }
        Json::Array(items) => items.iter_mut().for_each(|v| normalize_under(v, None)),
        Json::Object(map) => {
            // A file marker's fields are the server's, not input.
            if map.contains_key(crate::form::FILE_MARKER) {
                return;
            }
            for (k, v) in map.iter_mut() {
                normalize_under(v, Some(k));
            }
        }
        _ => {}
    }
}

/// Laravel's `Str::trim`: Unicode whitespace and the invisible characters it also strips.
fn is_trimmed(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' | '\u{0}'
        )
}
