//! File formats: what a field's `acceptFile` labels allow, and what a file's first bytes say it
//! is, so that a format is checked by content as well as by name (Laravel's `mimes` next to
//! `extensions`).

/// What the first bytes of a file show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Png,
    Jpeg,
    Gif,
    Webp,
    /// A ZIP container: docx, xlsx, pptx, odt and friends, or a plain zip.
    Zip,
    /// An OLE compound file: doc, xls, ppt.
    Ole,
    /// Valid UTF-8 without NUL bytes.
    Text,
    Unknown,
}

/// The kind of file `head` (its first bytes; 512 are plenty) starts.
pub fn sniff(head: &[u8]) -> FileKind {
    const SIGNATURES: &[(&[u8], FileKind)] = &[
        (b"%PDF-", FileKind::Pdf),
        (b"\x89PNG\r\n\x1a\n", FileKind::Png),
        (b"\xFF\xD8\xFF", FileKind::Jpeg),
        (b"GIF87a", FileKind::Gif),
        (b"GIF89a", FileKind::Gif),
        (b"PK\x03\x04", FileKind::Zip),
        (b"PK\x05\x06", FileKind::Zip),
        (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", FileKind::Ole),
    ];
    if let Some((_, kind)) = SIGNATURES.iter().find(|(sig, _)| head.starts_with(sig)) {
        return *kind;
    }
    if head.len() >= 12 && head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        return FileKind::Webp;
    }
    if !head.contains(&0) && utf8_prefix(head) {
        return FileKind::Text;
    }
    FileKind::Unknown
}

/// Whether `head` is valid UTF-8, allowing a character cut off at the end of the sample.
fn utf8_prefix(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// The kind of content an extension promises; `None` for extensions whose content is not
/// checked (their name is all there is to go on).
pub fn expected_kind(extension: &str) -> Option<FileKind> {
    Some(match extension {
        "pdf" => FileKind::Pdf,
        "png" => FileKind::Png,
        "jpg" | "jpeg" => FileKind::Jpeg,
        "gif" => FileKind::Gif,
        "webp" => FileKind::Webp,
        "docx" | "xlsx" | "pptx" | "odt" | "ods" | "odp" | "zip" => FileKind::Zip,
        "doc" | "xls" | "ppt" => FileKind::Ole,
        "txt" | "csv" | "md" | "json" | "xml" => FileKind::Text,
        _ => return None,
    })
}

/// The lowercase extension of a client file name (`Report.PDF` → `pdf`), if it has one.
pub fn extension_of(name: &str) -> Option<String> {
    let (stem, extension) = name.rsplit_once('.')?;
    (!stem.is_empty() && !extension.is_empty()).then(|| extension.to_ascii_lowercase())
}

/// PHP scripts are refused whatever a field accepts, as Laravel's `shouldBlockPhpUpload` does.
pub fn is_php(extension: &str) -> bool {
    matches!(
        extension,
        "php" | "php3" | "php4" | "php5" | "php7" | "php8" | "phtml" | "phar"
    )
}

/// A field's `acceptFile` labels (`["DOCX/DOC", "PDF", "JPG"]`) as extensions: split on `/`,
/// lowercased, `jpeg` with `jpg` (`spec/manageit.md` §5.6). Empty means any format.
pub fn accepted_extensions(labels: &[String]) -> Vec<String> {
    let mut extensions: Vec<String> = Vec::new();
    let mut add = |e: &str| {
        if !e.is_empty() && !extensions.iter().any(|x| x == e) {
            extensions.push(e.to_string());
        }
    };
    for label in labels {
        for part in label.split('/') {
            let extension = part.trim().trim_start_matches('.').to_ascii_lowercase();
            add(&extension);
            match extension.as_str() {
                "jpg" => add("jpeg"),
                "jpeg" => add("jpg"),
                _ => {}
            }
        }
    }
    extensions
}
