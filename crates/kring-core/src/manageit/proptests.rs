//! Property tests: a ManageIt customer request, read from any form body or JSON body, is
//! checked without panicking, and what passes keeps to the rules; the input normalisation and
//! the file-format helpers take any text.

use proptest::prelude::*;
use serde_json::{Map, Value as Json};

use super::*;
use crate::form::{FILE_MARKER, FileRef, Limits as FormLimits, file_to_json, parse_urlencoded};
use crate::i18n::Locale;
use crate::validate::Mode;

const LIMITS: Limits = Limits {
    file_kb: 10,
    photo_kb: 20,
    max_files: 3,
};

/// One field of every type, with the ids the generated bodies name.
fn fields() -> Vec<FieldConfig> {
    FIELD_TYPES
        .iter()
        .map(|(id, ty)| FieldConfig {
            id: *id,
            name: format!("Field {id}"),
            ty: ty.to_string(),
            required: id % 3 == 0,
            options: vec!["January".into(), "February".into()],
            accept: if *ty == "file" {
                vec!["PDF".into(), "DOCX/DOC".into(), "jpg".into()]
            } else {
                Vec::new()
            },
            allow_multiple: id % 2 == 1,
            max_files: id - 8,
        })
        .collect()
}

/// Storage keys name their content in these tests; any other key is text.
fn sniffed(key: &str) -> FileKind {
    match key {
        "pdf" => FileKind::Pdf,
        "png" => FileKind::Png,
        "jpeg" => FileKind::Jpeg,
        "zip" => FileKind::Zip,
        "ole" => FileKind::Ole,
        _ => FileKind::Text,
    }
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            " ",
            "1",
            "0",
            "2",
            "-1",
            "true",
            "yes",
            "January",
            " January ",
            "john@x.test",
            "bad@",
            "2024-02-29",
            "2024-02-30",
            "2024-01-02 03:04:05",
            "1.5",
            "abc",
            "\u{200B}",
            "\u{0}",
            "a.pdf",
            "a.PHP",
            "report.docx",
            ".pdf",
        ])
        .prop_map(str::to_string),
        Just("x".repeat(256)),
        any::<String>(),
    ]
}

/// Bracket names the customer rules read, with keys that are right, nearly right and wrong.
fn customer_name() -> impl Strategy<Value = String> {
    let field_id = prop_oneof![
        prop::sample::select(
            FIELD_TYPES
                .iter()
                .map(|(id, _)| id.to_string())
                .collect::<Vec<_>>()
        ),
        Just("99".to_string()),
        Just("".to_string()),
    ];
    let field_key = prop::sample::select(vec![
        "[value]",
        "[value][]",
        "[key]",
        "[file_upload][files][]",
        "[file_upload][files][0]",
        "[file_upload][formats]",
        "",
    ]);
    prop_oneof![
        prop::sample::select(vec![
            "email",
            "name",
            "last_name",
            "phone",
            "business_information[company_name]",
            "business_information[company_email]",
            "business_information[zip_code]",
            "business_information",
            "business_information[]",
            "profile_photo_path",
            "permissions",
            "permissions[]",
            "permissions[invoice][view-invoice]",
            "permissions[invoice][view-contract]",
            "permissions[meeting][delete-meeting]",
            "permissions[nothing][x]",
            "custom_fields",
            "custom_fields[]",
        ])
        .prop_map(str::to_string),
        (field_id, field_key).prop_map(|(id, key)| format!("custom_fields[{id}]{key}")),
    ]
}

fn form_body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((customer_name(), word()), 0..16).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", crate::form::percent_encode(value, b"")))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes()
    })
}

/// A file marker as the multipart reader writes one, or one a little off.
fn upload() -> impl Strategy<Value = Json> {
    let name = prop::sample::select(vec![
        "a.pdf", "a.docx", "a.doc", "a.jpg", "a.JPEG", "a.php", "a.phar", "a", ".pdf", "a.", "",
        "a.b.pdf",
    ]);
    let key = prop::sample::select(vec!["pdf", "png", "jpeg", "zip", "ole", "txt"]);
    (name, key, 0u64..40_000, any::<bool>(), any::<bool>()).prop_map(
        |(name, key, size, failed, well_formed)| {
            let file = file_to_json(&FileRef {
                original_name: name.to_string(),
                content_type: None,
                size,
                storage_key: key.to_string(),
                error: failed.then_some(crate::form::UploadError::TooLarge),
            });
            if well_formed {
                file
            } else {
                serde_json::json!({ FILE_MARKER: { "size": "big", "original_name": 7 } })
            }
        },
    )
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        word().prop_map(Json::String),
        upload(),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let key = prop_oneof![
            prop::sample::select(vec![
                "value",
                "key",
                "file_upload",
                "files",
                "company_name",
                "invoice",
                "view-invoice",
                "contract",
                "0",
                "2",
                "9",
                FILE_MARKER,
            ])
            .prop_map(str::to_string),
            word(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((key, inner), 0..4)
                .prop_map(|entries| Json::Object(entries.into_iter().collect())),
        ]
    })
}

fn json_body() -> impl Strategy<Value = Map<String, Json>> {
    let key = prop::sample::select(vec![
        "email",
        "name",
        "last_name",
        "phone",
        "business_information",
        "profile_photo_path",
        "permissions",
        "custom_fields",
        "other",
    ])
    .prop_map(str::to_string);
    prop::collection::vec((key, json_value()), 0..8)
        .prop_map(|entries| entries.into_iter().collect())
}

/// Runs the rules on `input` as the server does (normalised first) and checks what they say.
fn check_customer(input: Json, mode: Mode) -> Result<(), TestCaseError> {
    let mut input = input;
    normalize(&mut input);
    let Json::Object(input) = input else {
        return Ok(());
    };
    let fields = fields();
    match validate_customer(&input, &fields, mode, &LIMITS, &sniffed) {
        Ok(customer) => {
            if let Some(ids) = &customer.permissions {
                prop_assert!(ids.windows(2).all(|pair| pair[0] <= pair[1]));
                prop_assert!(ids.iter().all(|id| permission_name(*id).is_some()));
            }
            for (id, given) in &customer.fields {
                let field = fields.iter().find(|f| f.id == *id);
                prop_assert!(field.is_some(), "field {} is not configured", id);
                if let (Some(field), FieldInput::Files(files)) = (field, given) {
                    prop_assert_eq!(field.ty.as_str(), "file");
                    for file in files {
                        let extension = extension_of(&file.original_name).unwrap_or_default();
                        prop_assert!(!files::is_php(&extension));
                        prop_assert!(file.size <= LIMITS.file_kb * 1024);
                    }
                }
            }
            if let super::Photo::New(photo) = &customer.photo {
                prop_assert!(photo.size <= LIMITS.photo_kb * 1024);
            }
        }
        Err(errors) => {
            for locale in [Locale::En, Locale::Nl] {
                let rendered = errors.render(locale);
                prop_assert!(rendered["message"].as_str().is_some_and(|m| !m.is_empty()));
            }
        }
    }
    Ok(())
}

/// No string is left that trimming would change or that is empty, outside the keys Laravel
/// leaves alone and the server's own file markers.
fn is_normal(value: &Json, key: Option<&str>) -> bool {
    match value {
        Json::String(text) => {
            !text.is_empty()
                && (key.is_some_and(|k| UNTRIMMED.contains(&k))
                    || text.trim_matches(|c: char| {
                        c.is_whitespace() || "\u{200B}\u{200C}\u{200D}\u{FEFF}\u{0}".contains(c)
                    }) == text)
        }
        Json::Array(items) => items.iter().all(|item| is_normal(item, None)),
        Json::Object(map) if map.contains_key(FILE_MARKER) => true,
        Json::Object(map) => map.iter().all(|(k, v)| is_normal(v, Some(k))),
        _ => true,
    }
}

proptest! {
    #[test]
    fn customer_form_bodies_are_checked_without_panicking(body in form_body(), create in any::<bool>()) {
        let mode = if create { Mode::Create } else { Mode::Update };
        let tree = parse_urlencoded(&body, &FormLimits::php()).unwrap();
        check_customer(tree.to_json(), mode)?;
    }

    #[test]
    fn customer_json_bodies_are_checked_without_panicking(body in json_body(), create in any::<bool>()) {
        let mode = if create { Mode::Create } else { Mode::Update };
        check_customer(Json::Object(body), mode)?;
    }

    #[test]
    fn normalising_settles_in_one_pass(value in json_value(), key in prop::sample::select(vec![
        "name", "password", "password_confirmation", "current_password", "value",
    ])) {
        let mut once = serde_json::json!({ key: value });
        normalize(&mut once);
        prop_assert!(is_normal(&once, None), "{}", once);
        let mut twice = once.clone();
        normalize(&mut twice);
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn file_helpers_take_any_name(
        head in prop::collection::vec(any::<u8>(), 0..64),
        name in prop_oneof![any::<String>(), "[a-zA-Z.]{0,8}"],
        labels in prop::collection::vec(prop_oneof![any::<String>(), "[a-zA-Z./ ]{0,10}"], 0..4),
    ) {
        let _ = sniff(&head);
        if let Some(extension) = extension_of(&name) {
            prop_assert!(!extension.is_empty() && !extension.contains('.'));
            let suffix = format!(".{extension}");
            prop_assert!(name.to_ascii_lowercase().ends_with(&suffix));
        }
        let extensions = accepted_extensions(&labels);
        for (i, extension) in extensions.iter().enumerate() {
            prop_assert!(!extension.is_empty() && !extension.contains('/'));
            prop_assert!(!extensions[..i].contains(extension), "{} twice", extension);
        }
        let has = |e: &str| extensions.iter().any(|x| x == e);
        prop_assert_eq!(has("jpg"), has("jpeg"));
    }

    #[test]
    fn permission_ids_and_names_agree(id in -2i64..40) {
        if let Some(name) = permission_name(id) {
            let module = MODULES.iter().find(|m| name.ends_with(*m));
            prop_assert_eq!(module.and_then(|m| permission_id(m, &name)), Some(id));
        }
    }
}
