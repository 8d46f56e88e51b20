//! The rules of `POST /api/customers` and its updates (`spec/manageit.md` §5.6), over the input
//! tree as Laravel's `$request->all()` shapes it: errors in Laravel's words on dot paths, in
//! Laravel's rule order, and what passed, in Kring's column names.

use serde_json::{Map, Value as Json};

use super::files::{FileKind, accepted_extensions, expected_kind, extension_of, is_php};
use super::{MODULES, module_actions, permission_id, permission_name};
use crate::custom_field;
use crate::form::FILE_MARKER;
use crate::i18n::Message;
use crate::validate::{Mode, ValidationErrors, is_email};

/// A customer custom field as the rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldConfig {
    pub id: i64,
    pub name: String,
    /// The Cirqll type name (`text`, `select`, `file`, …).
    pub ty: String,
    pub required: bool,
    pub options: Vec<String>,
    /// `fileConfig.acceptFile` as configured (`["DOCX/DOC"]`).
    pub accept: Vec<String>,
    pub allow_multiple: bool,
    pub max_files: i64,
}

/// Upload limits, in kilobytes as Laravel's `max` counts them for files.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub file_kb: u64,
    pub photo_kb: u64,
    /// Files per field when its configuration sets no number.
    pub max_files: usize,
}

/// An upload that passed, as stored by the server.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedFile {
    pub original_name: String,
    pub content_type: Option<String>,
    pub size: u64,
    pub storage_key: String,
}

/// What a request asks of one custom field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldInput {
    /// A value as the engine takes it (text in its stored form, a multiselect's list of
    /// choices); `None` clears the field.
    Value(Option<Json>),
    /// The files a file field now holds.
    Files(Vec<UploadedFile>),
}

/// A request that passed, in Kring's terms.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CustomerInput {
    /// Customer columns to write (`first_name`, `name` for the company, …).
    pub columns: Map<String, Json>,
    /// The permission ids granted, when the request set them.
    pub permissions: Option<Vec<i64>>,
    pub fields: Vec<(i64, FieldInput)>,
    pub photo: Photo,
}

/// What a request does to the profile photo.
#[derive(Debug, Default, Clone, PartialEq)]
pub enum Photo {
    /// Not named (or named as it is).
    #[default]
    Unchanged,
    New(UploadedFile),
    /// `profile_photo_path` sent empty or `null`.
    Removed,
}

/// The person's keys and their columns; `required` on create.
const PERSON: &[(&str, &str, usize, bool)] = &[
    ("email", "email", 255, true),
    ("name", "first_name", 255, true),
    ("last_name", "last_name", 255, true),
    ("phone", "phone", 50, true),
];

/// `business_information`'s keys besides `company_name` (which is the customer's `name`).
const BUSINESS: &[&str] = &[
    "company_phone",
    "company_email",
    "company_website",
    "address_1",
    "address_2",
    "country",
    "city",
    "state",
    "zip_code",
    "fax",
];

/// Checks `input` (normalised: trimmed, `""` as `null`); `sniffed` tells what a stored file's
/// content is, by its storage key. On update only the keys present are checked and written.
pub fn validate_customer(
    input: &Map<String, Json>,
    fields: &[FieldConfig],
    mode: Mode,
    limits: &Limits,
    sniffed: &dyn Fn(&str) -> FileKind,
) -> Result<CustomerInput, ValidationErrors> {
    let mut check = Check {
        mode,
        errors: ValidationErrors::default(),
        out: CustomerInput::default(),
    };
    for (key, column, max, required) in PERSON {
        if let Some(text) = check.string(key, input.get(*key), *max, *required, None) {
            if *key == "email" && !is_email(&text) {
                check.fail(key, Message::new("validation.email"));
                continue;
            }
            check
                .out
                .columns
                .insert(column.to_string(), Json::String(text));
        }
    }
    check.business(input.get("business_information"));
    check.photo(input.get("profile_photo_path"), limits, sniffed);
    check.permissions(input.get("permissions"));
    check.custom_fields(input.get("custom_fields"), fields, limits, sniffed);
    if check.errors.is_empty() {
        Ok(check.out)
    } else {
        Err(check.errors)
    }
}

struct Check {
    mode: Mode,
    errors: ValidationErrors,
    out: CustomerInput,
}

impl Check {
    fn fail(&mut self, path: &str, message: Message) {
        self.errors.add(path, message);
    }

    /// Whether a key's rules apply: always on create, when present on update (`sometimes`).
    fn applies(&self, value: Option<&Json>) -> bool {
        self.mode == Mode::Create || value.is_some()
    }

    /// `[required|nullable]|string|max:N`; the text when the value is a string that fits.
    /// `attribute` overrides the name the message uses.
    fn string(
        &mut self,
        path: &str,
        value: Option<&Json>,
        max: usize,
        required: bool,
        attribute: Option<&str>,
    ) -> Option<String> {
        if !self.applies(value) {
            return None;
        }
        let named = |m: Message| match attribute {
            Some(name) => m.with("attribute", name),
            None => m,
        };
        match value.unwrap_or(&Json::Null) {
            Json::Null if required => self.fail(path, named(Message::new("validation.required"))),
            Json::Null => {}
            Json::String(text) if text.chars().count() > max => self.fail(
                path,
                named(Message::new("validation.max.string").with("max", max.to_string())),
            ),
            Json::String(text) => return Some(text.clone()),
            _ => self.fail(path, named(Message::new("validation.string"))),
        }
        None
    }

    /// `business_information`: required|array, its `company_name` required, the rest nullable.
    fn business(&mut self, value: Option<&Json>) {
        if !self.applies(value) {
            return;
        }
        let empty = Map::new();
        let details = match value {
            Some(Json::Object(map)) => map,
            None | Some(Json::Null) => {
                self.fail("business_information", Message::new("validation.required"));
                &empty
            }
            Some(_) => {
                self.fail("business_information", Message::new("validation.array"));
                &empty
            }
        };
        let company = details.get("company_name");
        // On update the company name may be left out, but not emptied.
        if (self.mode == Mode::Create || company.is_some())
            && let Some(name) = self.string(
                "business_information.company_name",
                company,
                255,
                true,
                None,
            )
        {
            self.out.columns.insert("name".into(), Json::String(name));
        }
        for key in BUSINESS {
            let Some(given) = details.get(*key) else {
                continue;
            };
            let path = format!("business_information.{key}");
            match self.string(&path, Some(given), 255, false, None) {
                Some(text) if *key == "company_email" && !is_email(&text) => {
                    self.fail(&path, Message::new("validation.email"));
                }
                Some(text) => {
                    self.out.columns.insert(key.to_string(), Json::String(text));
                }
                None if given.is_null() => {
                    self.out.columns.insert(key.to_string(), Json::Null);
                }
                None => {}
            }
        }
    }

    /// `profile_photo_path`: nullable|image (jpg, jpeg, png by content)|max.
    fn photo(&mut self, value: Option<&Json>, limits: &Limits, sniffed: &dyn Fn(&str) -> FileKind) {
        const PATH: &str = "profile_photo_path";
        let Some(value) = value else {
            return;
        };
        if value.is_null() || value.as_str() == Some("") {
            self.out.photo = Photo::Removed;
            return;
        }
        let Some(file) = file_of(value) else {
            self.fail(PATH, Message::new("validation.image"));
            return;
        };
        if file.failed {
            self.fail(PATH, Message::new("validation.uploaded"));
            return;
        }
        if !matches!(
            sniffed(&file.upload.storage_key),
            FileKind::Png | FileKind::Jpeg
        ) {
            self.fail(PATH, Message::new("validation.image"));
        } else if over(file.upload.size, limits.photo_kb) {
            self.fail(
                PATH,
                Message::new("validation.max.file").with("max", limits.photo_kb.to_string()),
            );
        } else {
            self.out.photo = Photo::New(file.upload);
        }
    }

    /// `permissions`: required|array:<modules>; each module array:<its actions>; each value in:0,1.
    fn permissions(&mut self, value: Option<&Json>) {
        if !self.applies(value) {
            return;
        }
        let modules = match value {
            // The shape a response shows (`{"4": "view-invoice"}`), sent back as it came.
            Some(Json::Object(map))
                if !map.is_empty() && map.keys().all(|k| k.parse::<i64>().is_ok()) =>
            {
                return self.shown_permissions(map);
            }
            Some(Json::Object(map)) if !map.is_empty() => map,
            None | Some(Json::Null) => {
                return self.fail("permissions", Message::new("validation.required"));
            }
            Some(Json::Array(items)) if items.is_empty() => {
                return self.fail("permissions", Message::new("validation.required"));
            }
            Some(_) => return self.fail("permissions", Message::new("validation.array")),
        };
        if modules.keys().any(|m| !MODULES.contains(&m.as_str())) {
            return self.fail("permissions", Message::new("validation.array"));
        }
        let mut granted = Vec::new();
        for (module, actions) in modules {
            let path = format!("permissions.{module}");
            let allowed = module_actions(module);
            let Json::Object(actions) = actions else {
                self.fail(&path, Message::new("validation.array"));
                continue;
            };
            if actions.keys().any(|a| !allowed.contains(a)) {
                self.fail(&path, Message::new("validation.array"));
                continue;
            }
            for (action, flag) in actions {
                match grant(flag) {
                    Some(true) => granted.extend(permission_id(module, action)),
                    Some(false) => {}
                    None => self.fail(&format!("{path}.{action}"), Message::new("validation.in")),
                }
            }
        }
        granted.sort_unstable();
        self.out.permissions = Some(granted);
    }

    /// Permissions in the response's shape: each id with the name it has.
    fn shown_permissions(&mut self, shown: &Map<String, Json>) {
        let mut granted = Vec::new();
        for (key, name) in shown {
            let id = key.parse::<i64>().ok();
            // Both sides must be there: an unknown id has no name, and `null` is none.
            let named = |id: &i64| permission_name(*id).is_some_and(|n| name.as_str() == Some(&*n));
            match id.filter(named) {
                Some(id) => granted.push(id),
                None => self.fail(&format!("permissions.{key}"), Message::new("validation.in")),
            }
        }
        granted.sort_unstable();
        granted.dedup();
        self.out.permissions = Some(granted);
    }

    /// `custom_fields`: sometimes|array; each configured field by its type. Ids that are not the
    /// company's customer fields, and keys such as `key` or `cust`, are ignored.
    fn custom_fields(
        &mut self,
        value: Option<&Json>,
        fields: &[FieldConfig],
        limits: &Limits,
        sniffed: &dyn Fn(&str) -> FileKind,
    ) {
        let empty = Map::new();
        let given = match value {
            None | Some(Json::Null) => &empty,
            Some(Json::Object(map)) => map,
            Some(Json::Array(items)) if items.is_empty() => &empty,
            // A list is an array too (`custom_fields[]=…`), but names no field id.
            Some(Json::Array(_)) => &empty,
            Some(_) => return self.fail("custom_fields", Message::new("validation.array")),
        };
        for field in fields {
            // A scalar where the field's object belongs is an object without keys (§5.5).
            let entry = match given.get(&field.id.to_string()) {
                Some(Json::Object(map)) => map,
                _ => &empty,
            };
            // An update changes a field only when it names the value (`sometimes`): a `key`
            // alone, as clients send it, leaves the value as it is.
            let named = if field.ty == "file" {
                entry
                    .get("file_upload")
                    .and_then(Json::as_object)
                    .is_some_and(|u| u.contains_key("files"))
            } else {
                entry.contains_key("value")
            };
            if self.mode == Mode::Update && !named {
                continue;
            }
            let prefix = format!("custom_fields.{}", field.id);
            if field.ty == "file" {
                self.file_field(&prefix, field, entry, limits, sniffed);
            } else {
                self.value_field(&prefix, field, entry.get("value"));
            }
        }
    }

    fn value_field(&mut self, prefix: &str, field: &FieldConfig, value: Option<&Json>) {
        let path = format!("{prefix}.value");
        let value = value.unwrap_or(&Json::Null);
        let named = |m: Message| m.with("attribute", field.name.as_str());
        if value.is_null() {
            if field.required {
                self.fail(&path, named(Message::new("validation.required")));
            } else {
                self.out.fields.push((field.id, FieldInput::Value(None)));
            }
            return;
        }
        let stored = match field.ty.as_str() {
            "text" => self.string(&path, Some(value), 255, false, Some(&field.name)),
            "textarea" => self.string(&path, Some(value), 65_535, false, Some(&field.name)),
            "select" => match value {
                Json::String(s) if field.options.contains(s) => Some(s.clone()),
                _ => {
                    self.fail(&path, named(Message::new("validation.in")));
                    None
                }
            },
            "multiselect" => {
                if let Some(choices) = self.choices(&path, value, field) {
                    self.out
                        .fields
                        .push((field.id, FieldInput::Value(Some(choices))));
                }
                return;
            }
            other => match custom_field::check(other, value) {
                Ok(stored) => stored,
                Err(message) => {
                    self.fail(&path, named(message));
                    None
                }
            },
        };
        if let Some(stored) = stored {
            self.out
                .fields
                .push((field.id, FieldInput::Value(Some(Json::String(stored)))));
        }
    }

    /// A multiselect's choices, as a JSON list (`["golf"]`), repeated form parts (`value[]`) or
    /// indexed form keys (`value[0]`), each one of the field's options. A single string is
    /// refused with a message that says to send a list.
    fn choices(&mut self, path: &str, value: &Json, field: &FieldConfig) -> Option<Json> {
        let named = |m: Message| m.with("attribute", field.name.as_str());
        let items: Vec<&Json> = match value {
            Json::Array(items) => items.iter().collect(),
            // PHP's indexed keys (`value[0]=…&value[1]=…`), in the order sent.
            Json::Object(map) if map.keys().all(|k| k.parse::<usize>().is_ok()) => {
                map.values().collect()
            }
            Json::String(_) => {
                self.fail(path, named(Message::new("validation.choices_list")));
                return None;
            }
            _ => {
                self.fail(path, named(Message::new("validation.array")));
                return None;
            }
        };
        let mut choices = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Json::String(s) if field.options.is_empty() || field.options.contains(s) => {
                    choices.push(Json::String(s.clone()));
                }
                _ => {
                    self.fail(path, named(Message::new("validation.in")));
                    return None;
                }
            }
        }
        Some(Json::Array(choices))
    }

    /// `….file_upload.files`: array|max:<items>, each `file|extensions|mimes|max`. The formats a
    /// client sends (`file_upload.formats`) cannot loosen the field's own.
    fn file_field(
        &mut self,
        prefix: &str,
        field: &FieldConfig,
        entry: &Map<String, Json>,
        limits: &Limits,
        sniffed: &dyn Fn(&str) -> FileKind,
    ) {
        let path = format!("{prefix}.file_upload.files");
        let named = |m: Message| m.with("attribute", field.name.as_str());
        let files = entry
            .get("file_upload")
            .and_then(|u| u.as_object())
            .and_then(|u| u.get("files"));
        let items: Vec<&Json> = match files {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(items)) => items.iter().collect(),
            Some(Json::Object(map)) if map.contains_key(FILE_MARKER) => {
                return self.fail(&path, named(Message::new("validation.array")));
            }
            Some(Json::Object(map)) => map.values().collect(),
            Some(_) => return self.fail(&path, named(Message::new("validation.array"))),
        };
        if items.is_empty() {
            if field.required {
                self.fail(&path, named(Message::new("validation.required")));
            } else if files.is_some() {
                self.out
                    .fields
                    .push((field.id, FieldInput::Files(Vec::new())));
            }
            return;
        }
        let max_items = match (field.allow_multiple, usize::try_from(field.max_files)) {
            (false, _) => 1,
            (true, Ok(n)) if n > 0 => n,
            _ => limits.max_files,
        };
        if items.len() > max_items {
            self.fail(
                &path,
                named(Message::new("validation.max.array").with("max", max_items.to_string())),
            );
        }
        let accepted = accepted_extensions(&field.accept);
        let mut kept = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}.{index}");
            if let Some(upload) = self.one_file(&item_path, item, &accepted, limits, sniffed) {
                kept.push(upload);
            }
        }
        if kept.len() == items.len() && items.len() <= max_items {
            self.out.fields.push((field.id, FieldInput::Files(kept)));
        }
    }

    /// One item of a file list, its messages named by its raw path as a wildcard rule's are.
    fn one_file(
        &mut self,
        path: &str,
        item: &Json,
        accepted: &[String],
        limits: &Limits,
        sniffed: &dyn Fn(&str) -> FileKind,
    ) -> Option<UploadedFile> {
        let named = |m: Message| m.with("attribute", path);
        let values = accepted.join(", ");
        let Some(file) = file_of(item) else {
            self.fail(path, named(Message::new("validation.file")));
            if !accepted.is_empty() {
                self.fail(
                    path,
                    named(Message::new("validation.extensions").with("values", &values)),
                );
            }
            return None;
        };
        if file.failed {
            self.fail(path, named(Message::new("validation.uploaded")));
            return None;
        }
        let extension = extension_of(&file.upload.original_name).unwrap_or_default();
        let mut problems = Vec::new();
        let allowed = !is_php(&extension) && (accepted.is_empty() || accepted.contains(&extension));
        // Without a configured list, the messages name the file's own extension.
        let values = if accepted.is_empty() {
            extension.clone()
        } else {
            values
        };
        if !allowed {
            problems.push(Message::new("validation.extensions").with("values", &values));
        } else if expected_kind(&extension)
            .is_some_and(|expected| sniffed(&file.upload.storage_key) != expected)
        {
            problems.push(Message::new("validation.mimes").with("values", &values));
        }
        if over(file.upload.size, limits.file_kb) {
            problems
                .push(Message::new("validation.max.file").with("max", limits.file_kb.to_string()));
        }
        if problems.is_empty() {
            return Some(file.upload);
        }
        for problem in problems {
            self.fail(path, named(problem));
        }
        None
    }
}

/// A value in:0,1 (`"1"`, `"0"`, and from JSON `1`, `0`, `true`, `false`): whether it grants.
fn grant(flag: &Json) -> Option<bool> {
    match flag {
        Json::String(s) if s == "1" => Some(true),
        Json::String(s) if s == "0" => Some(false),
        Json::Number(n) if n.as_i64() == Some(1) => Some(true),
        Json::Number(n) if n.as_i64() == Some(0) => Some(false),
        Json::Bool(b) => Some(*b),
        _ => None,
    }
}

/// Laravel's `max:N` for files: the size in kilobytes (fractional) above `N`.
fn over(bytes: u64, max_kb: u64) -> bool {
    bytes > max_kb.saturating_mul(1024)
}

struct MarkedFile {
    upload: UploadedFile,
    failed: bool,
}

/// A file marker object as the form tree writes one; anything else is not a file.
fn file_of(value: &Json) -> Option<MarkedFile> {
    let file = value.as_object()?.get(FILE_MARKER)?.as_object()?;
    let text = |key: &str| file.get(key).and_then(Json::as_str).map(str::to_string);
    Some(MarkedFile {
        upload: UploadedFile {
            original_name: text("original_name").unwrap_or_default(),
            content_type: text("content_type"),
            size: file.get("size").and_then(Json::as_u64).unwrap_or(0),
            storage_key: text("storage_key").unwrap_or_default(),
        },
        failed: file.get("error").is_some_and(|e| !e.is_null()),
    })
}
