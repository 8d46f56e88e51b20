//! The value tree: a copy of PHP's ordered array, because Laravel validates what PHP built and
//! key order, integer keys and `[]` appends are all visible in its output.

use std::collections::HashMap;
use std::fmt;

/// A PHP array key. PHP turns canonical decimal strings into integers (`"52"` → `52`), so
/// `a[52]` and a later `a[]` interact as they do in PHP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Int(i64),
    Str(String),
}

impl Key {
    /// PHP's `ZEND_HANDLE_NUMERIC_STR`: `"0"`, `"7"`, `"-3"` become integers; `"007"`, `"-0"`,
    /// `"1.5"`, `" 8"` and anything outside `i64` stay strings.
    pub fn from_php(text: &str) -> Key {
        if is_canonical_integer(text)
            && let Ok(number) = text.parse::<i64>()
        {
            return Key::Int(number);
        }
        Key::Str(text.to_string())
    }
}

/// `^(0|-?[1-9][0-9]*)$`: the only spellings PHP reads back as the same integer.
fn is_canonical_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    match digits.as_bytes() {
        [] => false,
        [b'0'] => digits.len() == text.len(),
        [first, rest @ ..] => {
            (b'1'..=b'9').contains(first) && rest.iter().all(|b| b.is_ascii_digit())
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(number) => write!(f, "{number}"),
            Key::Str(text) => f.write_str(text),
        }
    }
}

/// Why an upload arrived but is not usable; Laravel answers "The :attribute failed to upload."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadError {
    /// Over the per-file limit (PHP `UPLOAD_ERR_INI_SIZE`): kept as a marker, not a 413.
    TooLarge,
}

/// A file part the server has already written to storage; the tree only refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// The client's file name, reduced to its base name (Symfony keeps the basename only).
    pub original_name: String,
    /// The part's `Content-Type`, if it had one.
    pub content_type: Option<String>,
    pub size: u64,
    /// Where the server stored the bytes; empty when `error` says nothing was stored.
    pub storage_key: String,
    pub error: Option<UploadError>,
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum FormValue {
    Text(String),
    File(FileRef),
    /// A file input sent empty (`filename=""`): PHP `UPLOAD_ERR_NO_FILE`, which Symfony turns
    /// into `null`.
    NoFile,
    Array(FormArray),
}

/// A PHP array: insertion-ordered, `Int` or `Str` keys, and a `next_free` counter for `[]`.
///
/// Lookups go through a hash index because a hostile body may put a thousand keys in one
/// array, and a linear scan per insert would then be quadratic.
#[derive(Debug, Clone, Default)]
pub struct FormArray {
    entries: Vec<(Key, FormValue)>,
    positions: HashMap<Key, usize>,
    /// PHP's `nNextFreeElement`; `None` until an integer key is inserted (then `[]` uses 0).
    next_free: Option<i64>,
}

/// The root of a parsed body: PHP's `$_POST`, or Laravel's `$request->all()` for multipart.
pub type FormTree = FormArray;

/// Two arrays are equal when they hold the same entries in the same order, as PHP's `===`.
impl PartialEq for FormArray {
    fn eq(&self, other: &FormArray) -> bool {
        self.entries == other.entries
    }
}

impl FormArray {
    pub fn new() -> FormArray {
        FormArray::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &FormValue)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    pub fn get(&self, key: &Key) -> Option<&FormValue> {
        let position = *self.positions.get(key)?;
        self.entries.get(position).map(|(_, value)| value)
    }

    /// Looks a key up as a client would write it: `"52"` finds the integer key 52.
    pub fn get_php(&self, key: &str) -> Option<&FormValue> {
        self.get(&Key::from_php(key))
    }

    /// PHP's `array_is_list`: keys are exactly `0..n` in order. Such arrays encode as JSON
    /// arrays; all others as objects.
    pub fn is_list(&self) -> bool {
        self.entries
            .iter()
            .enumerate()
            .all(|(i, (key, _))| matches!(key, Key::Int(k) if usize::try_from(*k) == Ok(i)))
    }

    /// PHP's `$a[$key] = $value`: overwrites in place (keeping the position) or appends.
    pub fn set(&mut self, key: Key, value: FormValue) {
        match self.positions.get(&key) {
            Some(&position) => {
                if let Some(slot) = self.entries.get_mut(position) {
                    slot.1 = value;
                }
            }
            None => self.push(key, value),
        }
    }

    /// PHP's `$a[] = $value`. Returns `false`, storing nothing, when the next integer key is
    /// taken (only after `i64::MAX` was used as a key), as PHP refuses then too.
    pub fn append(&mut self, value: FormValue) -> bool {
        let key = Key::Int(self.next_free.unwrap_or(0));
        if self.positions.contains_key(&key) {
            return false;
        }
        self.push(key, value);
        true
    }

    /// PHP's `unset($a[$key])`. Never lowers `next_free`, as in PHP.
    pub fn remove(&mut self, key: &Key) -> Option<FormValue> {
        let position = self.positions.remove(key)?;
        let (_, value) = self.entries.remove(position);
        for later in self.positions.values_mut() {
            if *later > position {
                *later -= 1;
            }
        }
        Some(value)
    }

    /// Keeps only the entries `keep` accepts, like PHP's `array_filter` (keys unchanged).
    pub fn retain(&mut self, mut keep: impl FnMut(&FormValue) -> bool) {
        self.entries.retain(|(_, value)| keep(value));
        self.reindex();
    }

    /// PHP's `$this + $other`: keys of `other` missing here are added at the end. Laravel
    /// merges the body with the query string this way (body keys win).
    pub fn add_missing(&mut self, other: FormArray) {
        for (key, value) in other.entries {
            if !self.positions.contains_key(&key) {
                self.push(key, value);
            }
        }
    }

    /// The value at `key`, which must be an array, for writing deeper (PHP's
    /// `$a[$key][...] = ...`): a missing entry becomes a new empty array at the end, a
    /// non-array one is replaced in place. `None` (append) adds a new array at `next_free`.
    pub(crate) fn child_array(&mut self, key: Option<Key>) -> Option<&mut FormArray> {
        let position = match key {
            None => {
                if !self.append(FormValue::Array(FormArray::new())) {
                    return None;
                }
                self.entries.len().checked_sub(1)?
            }
            Some(key) => self.array_position(key),
        };
        match self.entries.get_mut(position) {
            Some((_, FormValue::Array(child))) => Some(child),
            _ => None,
        }
    }

    /// Mutable access to an existing entry, for merging trees.
    pub(crate) fn get_mut(&mut self, key: &Key) -> Option<&mut FormValue> {
        let position = *self.positions.get(key)?;
        self.entries.get_mut(position).map(|(_, value)| value)
    }

    pub(crate) fn into_entries(self) -> Vec<(Key, FormValue)> {
        self.entries
    }

    /// Where the array under `key` is, creating or replacing it as PHP does.
    fn array_position(&mut self, key: Key) -> usize {
        match self.positions.get(&key) {
            Some(&position) => {
                if let Some(slot) = self.entries.get_mut(position)
                    && !matches!(slot.1, FormValue::Array(_))
                {
                    slot.1 = FormValue::Array(FormArray::new());
                }
                position
            }
            None => {
                self.push(key, FormValue::Array(FormArray::new()));
                self.entries.len().saturating_sub(1)
            }
        }
    }

    /// Adds a new entry; the caller has checked the key is absent.
    fn push(&mut self, key: Key, value: FormValue) {
        self.note_key(&key);
        self.positions.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
    }

    /// PHP: inserting integer key `k` raises `next_free` to `k + 1` (saturating at the max).
    fn note_key(&mut self, key: &Key) {
        if let Key::Int(k) = *key {
            let candidate = k.saturating_add(1);
            if self.next_free.is_none_or(|next| candidate > next) {
                self.next_free = Some(candidate);
            }
        }
    }

    fn reindex(&mut self) {
        self.positions = self
            .entries
            .iter()
            .enumerate()
            .map(|(position, (key, _))| (key.clone(), position))
            .collect();
    }
}
