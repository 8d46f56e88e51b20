//! The tree as JSON, shaped as PHP's `json_encode` shapes the same array, for the validator and
//! for storing custom-field values.

use serde_json::{Map, Value, json};

use super::tree::{FileRef, FormArray, FormValue, UploadError};

/// The single key of the object that stands for an uploaded file:
/// `{"\u0000file": {"original_name": …, "content_type": …, "size": …, "storage_key": …,
/// "error": null | "too_large"}}`.
///
/// It starts with a NUL byte because no form name can contain one (PHP cuts names at NUL), so a
/// client cannot forge a file reference through form fields, for instance to attach another
/// user's stored file by its key. A JSON body can contain any key, so the server must honour
/// this marker only in JSON produced here, never in a client's JSON body.
pub const FILE_MARKER: &str = "\u{0}file";

impl FormArray {
    /// PHP's `json_encode`: a list (keys exactly `0..n` in order, or empty) becomes a JSON
    /// array, anything else an object with string keys in insertion order. Files become
    /// [`FILE_MARKER`] objects ([`file_to_json`]), empty uploads `null`.
    pub fn to_json(&self) -> Value {
        self.to_json_with(&file_to_json)
    }

    /// As [`FormArray::to_json`], with the caller deciding how a file is written.
    pub fn to_json_with(&self, file: &dyn Fn(&FileRef) -> Value) -> Value {
        if self.is_list() {
            return Value::Array(self.iter().map(|(_, v)| v.to_json_with(file)).collect());
        }
        let object: Map<String, Value> = self
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_json_with(file)))
            .collect();
        Value::Object(object)
    }
}

impl FormValue {
    pub fn to_json(&self) -> Value {
        self.to_json_with(&file_to_json)
    }

    pub fn to_json_with(&self, file: &dyn Fn(&FileRef) -> Value) -> Value {
        match self {
            FormValue::Text(text) => Value::String(text.clone()),
            FormValue::File(reference) => file(reference),
            FormValue::NoFile => Value::Null,
            FormValue::Array(array) => array.to_json_with(file),
        }
    }
}

/// The default JSON form of a file: an object whose only key is [`FILE_MARKER`].
pub fn file_to_json(file: &FileRef) -> Value {
    let error = file.error.map(|error| match error {
        UploadError::TooLarge => "too_large",
    });
    let mut object = Map::new();
    object.insert(
        FILE_MARKER.to_string(),
        json!({
            "original_name": file.original_name,
            "content_type": file.content_type,
            "size": file.size,
            "storage_key": file.storage_key,
            "error": error,
        }),
    );
    Value::Object(object)
}
