//! Form bodies with PHP bracket names (`custom_fields[52][value]`, `tags[]`), read into the same
//! tree PHP 8.2 and Laravel build (`spec/manageit.md` §4.2–4.4), so that validation sees what a
//! Laravel API would see.
//!
//! - [`parse_urlencoded`]: an `application/x-www-form-urlencoded` body (or a query string).
//! - [`FormBuilder`]: a `multipart/form-data` body, fed part by part while the server streams it;
//!   file bytes never pass through here, only a [`FileRef`] to where the server stored them.
//! - [`FormArray::to_json`]: the tree as Laravel's `json_encode($request->all())` shapes it.
//!
//! Everything is bounded by [`Limits`]: a hostile name such as `a[[[[…` or `a[][][]…` costs at
//! most `max_depth` steps and arrays, whatever its length.

mod builder;
mod json;
mod name;
mod part_headers;
mod tree;
pub(crate) mod urlencoded;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use part_headers::{HeadersTooLong, MAX_PART_HEADERS, PartHeaders};

use std::fmt;

use crate::i18n::Message;

pub use builder::{FormBuilder, PendingFile};
pub use json::{FILE_MARKER, file_to_json};
pub use tree::{FileRef, FormArray, FormTree, FormValue, Key, UploadError};
pub use urlencoded::{parse_urlencoded, percent_encode};

/// The deepest nesting any configuration may allow. Trees are walked recursively (merging,
/// JSON, dropping), so the depth must stay far below what a thread's stack holds.
pub const HARD_MAX_DEPTH: usize = 256;

/// What happens when a body goes over a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExcess {
    /// Fail with a [`FormError`] naming the limit.
    Reject,
    /// Do what PHP does: drop further fields and files silently; a name nested too deeply
    /// deletes its whole top-level variable (E11); a name over the length limit is dropped.
    Drop,
}

/// Caps on what one body may make us build. The defaults are PHP's (`max_input_vars`,
/// `max_file_uploads`, `max_input_nesting_level`); PHP has no name-length limit, ours only
/// keeps one name from costing more than it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bracket levels per name (`a[b][c]` has 2); clamped to [`HARD_MAX_DEPTH`].
    pub max_depth: usize,
    /// Text fields (urlencoded pairs or multipart text parts).
    pub max_fields: usize,
    /// Uploaded files; as in PHP, an empty file input (`filename=""`) does not count. All
    /// parts together, empty file inputs included, may number `max_fields + max_files` (PHP's
    /// default `max_multipart_body_parts`).
    pub max_files: usize,
    /// Bytes in one field name (after percent-decoding).
    pub max_name_bytes: usize,
    pub on_excess: OnExcess,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 64,
            max_fields: 1000,
            max_files: 20,
            max_name_bytes: 4096,
            on_excess: OnExcess::Reject,
        }
    }
}

impl Limits {
    /// PHP's defaults and PHP's silent dropping, for bit-for-bit compatibility.
    pub fn php() -> Limits {
        Limits {
            on_excess: OnExcess::Drop,
            ..Limits::default()
        }
    }

    fn max_parts(&self) -> usize {
        self.max_fields.saturating_add(self.max_files)
    }

    fn depth(&self) -> usize {
        self.max_depth.min(HARD_MAX_DEPTH)
    }
}

/// A body over one of its [`Limits`] (only with [`OnExcess::Reject`]). The server picks the
/// status: the counts suit 413, the shape of a name suits 422.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormError {
    TooManyFields { limit: usize },
    TooManyFiles { limit: usize },
    TooManyParts { limit: usize },
    TooDeep { limit: usize },
    NameTooLong { limit: usize },
}

impl FormError {
    /// The limit that was exceeded.
    pub fn limit(&self) -> usize {
        match *self {
            FormError::TooManyFields { limit }
            | FormError::TooManyFiles { limit }
            | FormError::TooManyParts { limit }
            | FormError::TooDeep { limit }
            | FormError::NameTooLong { limit } => limit,
        }
    }

    /// The client-facing text, from the `form.*` catalog keys.
    pub fn message(&self) -> Message {
        let key = match self {
            FormError::TooManyFields { .. } => "form.too_many_fields",
            FormError::TooManyFiles { .. } => "form.too_many_files",
            FormError::TooManyParts { .. } => "form.too_many_parts",
            FormError::TooDeep { .. } => "form.too_deep",
            FormError::NameTooLong { .. } => "form.name_too_long",
        };
        Message::new(key).with("limit", self.limit().to_string())
    }
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message().render(crate::i18n::Locale::En))
    }
}

impl std::error::Error for FormError {}
