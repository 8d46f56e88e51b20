//! Building the tree field by field, so a multipart body can be read as a stream: the server
//! hands over each text part and, for each file part, a reference to where it stored the bytes
//! (`spec/manageit.md` §4.4).

use super::name::{Target, is_acceptable_file_name, parse_name};
use super::tree::{FileRef, FormArray, FormTree, FormValue};
use super::{FormError, Limits, OnExcess};

/// Collects the fields of one body. Text parts go into PHP's `$_POST` tree, file parts into a
/// separate `$_FILES` tree; [`FormBuilder::finish`] merges them as Laravel ≤ 13.0 does.
#[derive(Debug, Clone)]
pub struct FormBuilder {
    limits: Limits,
    input: FormArray,
    files: FormArray,
    /// Text fields registered (PHP `max_input_vars`).
    fields: usize,
    /// Uploads with content (PHP `max_file_uploads`; empty file inputs do not count).
    uploads: usize,
    /// Every part seen (PHP `max_multipart_body_parts`), so that parts which count towards
    /// nothing else, such as empty file inputs, are bounded too.
    parts: usize,
}

/// A file part the builder wants stored: the server streams the bytes to storage, then calls
/// [`FormBuilder::complete_file`]. It is registered only then, so a failed store leaves no trace.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingFile {
    target: Target,
    original_name: String,
}

impl PendingFile {
    /// The client's file name reduced to its base name, as Symfony reports it; use it for
    /// [`FileRef::original_name`].
    pub fn original_name(&self) -> &str {
        &self.original_name
    }
}

impl FormBuilder {
    pub fn new(limits: Limits) -> FormBuilder {
        FormBuilder {
            limits,
            input: FormArray::new(),
            files: FormArray::new(),
            fields: 0,
            uploads: 0,
            parts: 0,
        }
    }

    /// A text field (urlencoded pair or multipart part without `filename`). Multipart names are
    /// used as sent, not percent-decoded. Repeated names: the last value wins.
    pub fn text(&mut self, name: &str, value: impl Into<String>) -> Result<(), FormError> {
        if !self.take(Counter::Fields)? || !self.take(Counter::Parts)? || !self.name_fits(name)? {
            return Ok(());
        }
        let target = self.target(name, self.limits.depth())?;
        register(&mut self.input, target, FormValue::Text(value.into()));
        Ok(())
    }

    /// Announces a file part (a part with a `filename` parameter, even an empty one) before its
    /// bytes are read. `Some` means: store the bytes, then call [`FormBuilder::complete_file`].
    /// `None` means: drain the part without storing it, because PHP would not keep it (a
    /// malformed name such as `f[a]x`, a limit passed under [`OnExcess::Drop`], or an empty
    /// `filename`, which is recorded here as [`FormValue::NoFile`]).
    pub fn begin_file(
        &mut self,
        name: &str,
        client_filename: &str,
    ) -> Result<Option<PendingFile>, FormError> {
        // An empty file input uploads nothing, so it does not count against `max_files` when
        // excess is refused; under `Drop`, PHP drops such parts past the limit like any other.
        let counts_as_upload =
            !client_filename.is_empty() || matches!(self.limits.on_excess, OnExcess::Drop);
        if !self.take(Counter::Parts)?
            || !is_acceptable_file_name(name)
            || (counts_as_upload && !self.has_room(Counter::Uploads)?)
            || !self.name_fits(name)?
        {
            return Ok(None);
        }
        // PHP files each upload under `name[name]…`, one level deeper than the name says.
        let target = self.target(name, self.limits.depth().saturating_sub(1))?;
        match target {
            Target::Path { .. } | Target::Plain(_) if !client_filename.is_empty() => {
                self.uploads += 1;
                Ok(Some(PendingFile {
                    target,
                    original_name: base_name(client_filename).to_string(),
                }))
            }
            // An empty upload is recorded; an ignored or too deep name needs no bytes either.
            other => {
                register(&mut self.files, other, FormValue::NoFile);
                Ok(None)
            }
        }
    }

    /// Registers a stored file where its part's name said.
    pub fn complete_file(&mut self, pending: PendingFile, file: FileRef) {
        register(&mut self.files, pending.target, FormValue::File(file));
    }

    /// [`FormBuilder::begin_file`] and [`FormBuilder::complete_file`] at once, for a file the
    /// server has already stored: `file.original_name` is the client's `filename` and is
    /// reduced to its base name; an empty one records [`FormValue::NoFile`].
    pub fn file(&mut self, name: &str, file: FileRef) -> Result<(), FormError> {
        if let Some(pending) = self.begin_file(name, &file.original_name)? {
            let original_name = pending.original_name.clone();
            self.complete_file(
                pending,
                FileRef {
                    original_name,
                    ..file
                },
            );
        }
        Ok(())
    }

    /// Laravel's `$request->all()` up to 13.0: `array_replace_recursive(input, files)`, so a
    /// file wins over text at the same path (§4.4 point 5).
    pub fn finish(self) -> FormTree {
        let (mut input, files) = self.into_parts();
        replace_recursive(&mut input, files);
        input
    }

    /// The text tree and the file tree apart (after Symfony's clean-up of empty uploads), for
    /// callers that merge differently, e.g. text winning as in Laravel ≥ 13.25.
    pub fn into_parts(self) -> (FormTree, FormTree) {
        (self.input, symfony_files(self.files))
    }

    /// Counts one more of `counter`; `false` when the limit says to drop it.
    fn take(&mut self, counter: Counter) -> Result<bool, FormError> {
        if !self.has_room(counter)? {
            return Ok(false);
        }
        *self.used(counter) += 1;
        Ok(true)
    }

    /// Whether one more of `counter` fits; over the limit, an error or `false` (drop).
    fn has_room(&mut self, counter: Counter) -> Result<bool, FormError> {
        let (limit, error) = match counter {
            Counter::Fields => (
                self.limits.max_fields,
                FormError::TooManyFields {
                    limit: self.limits.max_fields,
                },
            ),
            Counter::Uploads => (
                self.limits.max_files,
                FormError::TooManyFiles {
                    limit: self.limits.max_files,
                },
            ),
            Counter::Parts => {
                let limit = self.limits.max_parts();
                (limit, FormError::TooManyParts { limit })
            }
        };
        if *self.used(counter) >= limit {
            return excess(self.limits.on_excess, error);
        }
        Ok(true)
    }

    fn used(&mut self, counter: Counter) -> &mut usize {
        match counter {
            Counter::Fields => &mut self.fields,
            Counter::Uploads => &mut self.uploads,
            Counter::Parts => &mut self.parts,
        }
    }

    fn name_fits(&self, name: &str) -> Result<bool, FormError> {
        let limit = self.limits.max_name_bytes;
        if name.len() > limit {
            return excess(self.limits.on_excess, FormError::NameTooLong { limit });
        }
        Ok(true)
    }

    fn target(&self, name: &str, max_depth: usize) -> Result<Target, FormError> {
        let target = parse_name(name, max_depth);
        if matches!(target, Target::TooDeep { .. }) && self.limits.on_excess == OnExcess::Reject {
            return Err(FormError::TooDeep {
                limit: self.limits.depth(),
            });
        }
        Ok(target)
    }
}

#[derive(Debug, Clone, Copy)]
enum Counter {
    Fields,
    Uploads,
    Parts,
}

/// Over a limit: an error, or `Ok(false)` (drop this one) when PHP's behaviour is wanted.
fn excess(on_excess: OnExcess, error: FormError) -> Result<bool, FormError> {
    match on_excess {
        OnExcess::Reject => Err(error),
        OnExcess::Drop => Ok(false),
    }
}

/// PHP's `php_register_variable_ex` once the name is read (§4.3).
fn register(tree: &mut FormArray, target: Target, value: FormValue) {
    match target {
        Target::Ignored => {}
        Target::Plain(key) => tree.set(key, value),
        Target::TooDeep { base } => {
            tree.remove(&base);
        }
        Target::Path { base, segments } => {
            let mut container = tree;
            let mut index = Some(base);
            for segment in segments {
                let Some(child) = container.child_array(index) else {
                    return;
                };
                container = child;
                index = segment;
            }
            match index {
                Some(key) => container.set(key, value),
                None => {
                    container.append(value);
                }
            }
        }
    }
}

/// Symfony keeps only the client name's last path component (`C:\x\a.pdf` → `a.pdf`).
fn base_name(client_filename: &str) -> &str {
    client_filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(client_filename)
}

/// Symfony's `FileBag::convertFileInformation`: below the top level, a list (keys `0..n`)
/// loses its empty uploads and empty arrays (`array_filter`, keys kept), so `files[]` sent
/// empty becomes `[]`.
fn symfony_files(files: FormArray) -> FormArray {
    let mut converted = FormArray::new();
    for (key, value) in files.into_entries() {
        converted.set(key, without_empty_uploads(value));
    }
    converted
}

fn without_empty_uploads(value: FormValue) -> FormValue {
    let FormValue::Array(array) = value else {
        return value;
    };
    let mut cleaned = symfony_files(array);
    if cleaned.is_list() {
        cleaned.retain(is_truthy);
    }
    FormValue::Array(cleaned)
}

/// PHP truthiness as `array_filter` sees the file tree: no upload and `[]` are false.
fn is_truthy(value: &FormValue) -> bool {
    match value {
        FormValue::NoFile => false,
        FormValue::Array(array) => !array.is_empty(),
        FormValue::Text(text) => !(text.is_empty() || text == "0"),
        FormValue::File(_) => true,
    }
}

/// PHP's `array_replace_recursive($base, $replacement)`: arrays on both sides merge, anything
/// else from `replacement` overwrites in place or is appended.
fn replace_recursive(base: &mut FormArray, replacement: FormArray) {
    for (key, value) in replacement.into_entries() {
        let value = match (value, base.get_mut(&key)) {
            (FormValue::Array(newer), Some(FormValue::Array(existing))) => {
                replace_recursive(existing, newer);
                continue;
            }
            (value, _) => value,
        };
        base.set(key, value);
    }
}
