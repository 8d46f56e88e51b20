//! Reading a field name such as `custom_fields[52][value]` into where its value goes
//! (`spec/manageit.md` §4.3, PHP 8.2 `php_register_variable_ex`).
//!
//! The name is read completely before the tree is touched, so a name nested too deeply can be
//! refused without building (and then deleting) its arrays, and the work per name is bounded by
//! the depth limit whatever the client sends.

use super::tree::Key;

/// Where a name says its value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The base name is empty (`=x`, `[a]=x`, `%20=x`): PHP drops the variable.
    Ignored,
    /// A top-level key, already mangled (`a.b` → `a_b`, `a[b` → `a_b`).
    Plain(Key),
    /// `base[s1][s2]…`: the arrays on the way are created as needed and the value goes under
    /// the last segment; a `None` segment (`[]`) appends.
    Path {
        base: Key,
        segments: Vec<Option<Key>>,
    },
    /// More than the allowed levels of brackets. PHP deletes the whole top-level `base`.
    TooDeep { base: Key },
}

/// Reads `name` as PHP does, allowing at most `max_depth` bracket levels.
pub(crate) fn parse_name(name: &str, max_depth: usize) -> Target {
    let name = cut_at_nul(name).trim_start_matches(' ');
    let (raw_base, open) = match name.find('[') {
        Some(open) => (&name[..open], Some(open)),
        None => (name, None),
    };
    let base = mangle(raw_base, |c| c == ' ' || c == '.');
    if base.is_empty() {
        return Target::Ignored;
    }
    match open {
        None => Target::Plain(Key::from_php(&base)),
        Some(open) => parse_brackets(name, base, open, max_depth),
    }
}

/// PHP names are C strings: a NUL byte ends them (`a%00b=1` is `a`).
fn cut_at_nul(name: &str) -> &str {
    name.split('\0').next().unwrap_or_default()
}

/// PHP's loop over `[…]` groups, starting at the `[` at byte `open`.
fn parse_brackets(name: &str, base: String, mut open: usize, max_depth: usize) -> Target {
    let bytes = name.as_bytes();
    let mut segments: Vec<Option<Key>> = Vec::new();
    loop {
        if segments.len() >= max_depth {
            return Target::TooDeep {
                base: Key::from_php(&base),
            };
        }
        let start = open + 1;
        let probe = if bytes.get(start).copied().is_some_and(is_c_space) {
            start + 1
        } else {
            start
        };
        let close = if bytes.get(probe) == Some(&b']') {
            segments.push(None);
            probe
        } else {
            let Some(close) = find_byte(bytes, b']', probe) else {
                return unmatched_bracket(name, base, start, segments);
            };
            segments.push(Some(Key::from_php(&name[start..close])));
            close
        };
        open = close + 1;
        if bytes.get(open) != Some(&b'[') {
            // Text after `]` that is not another `[` is ignored (`a[b]x[c]` is `a[b]`).
            return Target::Path {
                base: Key::from_php(&base),
                segments,
            };
        }
    }
}

/// A `[` with no `]` after it. On the first level the bracket and the rest become part of a
/// plain name (`a[b.c` → `a_b_c`); deeper down the value lands on the last complete key.
fn unmatched_bracket(
    name: &str,
    base: String,
    after_open: usize,
    segments: Vec<Option<Key>>,
) -> Target {
    if segments.is_empty() {
        let rest = mangle(&name[after_open..], |c| c == ' ' || c == '.' || c == '[');
        Target::Plain(Key::from_php(&format!("{base}_{rest}")))
    } else {
        Target::Path {
            base: Key::from_php(&base),
            segments,
        }
    }
}

/// PHP cannot have some characters in variable names and writes `_` instead.
fn mangle(text: &str, replaced: impl Fn(char) -> bool) -> String {
    text.chars()
        .map(|c| if replaced(c) { '_' } else { c })
        .collect()
}

/// C `isspace` in the C locale, which PHP uses to let `[ ]` mean `[]`.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

fn find_byte(bytes: &[u8], needle: u8, from: usize) -> Option<usize> {
    let tail = bytes.get(from..)?;
    tail.iter().position(|&b| b == needle).map(|at| from + at)
}

/// PHP's check on a file part's name ("never repair potential malicious user input",
/// `rfc1867.c`): brackets balanced, never closed before opened, and every `]` followed by `[`
/// or the end. Other file parts are skipped; text parts are not checked this way.
pub(crate) fn is_acceptable_file_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut open_brackets: i64 = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        match byte {
            b'[' => open_brackets += 1,
            b']' => {
                open_brackets -= 1;
                if bytes.get(i + 1).is_some_and(|&next| next != b'[') {
                    return false;
                }
            }
            _ => {}
        }
        if open_brackets < 0 {
            return false;
        }
    }
    open_brackets == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Option<Key> {
        Some(Key::Str(text.into()))
    }

    #[test]
    fn reads_paths_and_appends() {
        assert_eq!(
            parse_name("custom_fields[52][value]", 64),
            Target::Path {
                base: Key::Str("custom_fields".into()),
                segments: vec![Some(Key::Int(52)), s("value")],
            }
        );
        assert_eq!(
            parse_name("a[][ ][\t]", 64),
            Target::Path {
                base: Key::Str("a".into()),
                segments: vec![None, None, None],
            }
        );
    }

    #[test]
    fn refuses_deep_names_without_reading_them_all() {
        let name = format!("a{}", "[]".repeat(100_000));
        assert_eq!(
            parse_name(&name, 64),
            Target::TooDeep {
                base: Key::Str("a".into())
            }
        );
        assert!(matches!(parse_name("a[b]", 0), Target::TooDeep { .. }));
        assert!(matches!(parse_name("a", 0), Target::Plain(_)));
    }

    #[test]
    fn checks_file_part_names_like_php() {
        for good in ["f", "f[]", "f[a][b]", "f[a][]", "my.file"] {
            assert!(is_acceptable_file_name(good), "{good}");
        }
        for bad in ["f[a]x", "f[a", "i[]x", "a]b", "f[a[b]]", "f]["] {
            assert!(!is_acceptable_file_name(bad), "{bad}");
        }
    }
}
