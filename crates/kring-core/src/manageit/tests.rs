use serde_json::{Map, Value as Json, json};

use super::*;
use crate::form::{FILE_MARKER, FileRef, file_to_json};
use crate::i18n::Locale;
use crate::validate::Mode;

const LIMITS: Limits = Limits {
    file_kb: 10,
    photo_kb: 1024,
    max_files: 20,
};

fn field(id: i64, ty: &str, name: &str, required: bool) -> FieldConfig {
    FieldConfig {
        id,
        name: name.into(),
        ty: ty.into(),
        required,
        options: Vec::new(),
        accept: Vec::new(),
        allow_multiple: false,
        max_files: 0,
    }
}

/// Fields 52 (text, required), 68 (select), 54 (textarea), 55 (file: pdf/docx, two files).
fn fields() -> Vec<FieldConfig> {
    let mut select = field(68, "select", "Birthday", false);
    select.options = vec!["January".into(), "February".into()];
    let mut file = field(55, "file", "Documents", false);
    file.accept = vec!["PDF".into(), "DOCX".into()];
    file.allow_multiple = true;
    file.max_files = 2;
    vec![
        field(52, "text", "Department", true),
        select,
        field(54, "textarea", "Notes", false),
        file,
    ]
}

fn upload(name: &str, key: &str, size: u64) -> Json {
    file_to_json(&FileRef {
        original_name: name.into(),
        content_type: None,
        size,
        storage_key: key.into(),
        error: None,
    })
}

/// Storage keys name the content they stand for in these tests.
fn sniffed(key: &str) -> FileKind {
    match key {
        "pdf" => FileKind::Pdf,
        "png" => FileKind::Png,
        "zip" => FileKind::Zip,
        _ => FileKind::Text,
    }
}

fn basic() -> Map<String, Json> {
    let Json::Object(map) = json!({
        "email": "john@example.test", "name": "John", "last_name": "Doe", "phone": "555-123-4567",
        "business_information": {"company_name": "Acme Corp"},
        "permissions": {"invoice": {"view-invoice": "1", "create-invoice": "1"}, "contract": {"view-contract": "1"}},
        "custom_fields": {"52": {"key": "department", "value": "Engineering"}, "2": {"cust": "new 1"}}
    }) else {
        unreachable!()
    };
    map
}

fn run(input: &Map<String, Json>, mode: Mode) -> Result<CustomerInput, Json> {
    validate_customer(input, &fields(), mode, &LIMITS, &sniffed).map_err(|e| e.render(Locale::En))
}

#[test]
fn permission_ids_follow_the_seed() {
    assert_eq!(permission_id("invoice", "view-invoice"), Some(4));
    assert_eq!(permission_id("contract", "view-contract"), Some(8));
    assert_eq!(permission_id("proposal", "view-proposal"), Some(12));
    assert_eq!(permission_id("meeting", "view-meeting"), Some(16));
    assert_eq!(permission_id("invoice", "view-contract"), None);
    assert_eq!(permission_id("invoice", "fly-invoice"), None);
    for id in 1..=16 {
        let name = permission_name(id).unwrap();
        let module = name.rsplit('-').next().unwrap();
        assert_eq!(permission_id(module, &name), Some(id));
    }
    assert_eq!(permission_name(0), None);
    assert_eq!(permission_name(17), None);
}

#[test]
fn a_valid_request_maps_onto_columns_permissions_and_fields() {
    let input = run(&basic(), Mode::Create).expect("valid");
    assert_eq!(input.columns["first_name"], "John");
    assert_eq!(input.columns["name"], "Acme Corp");
    assert_eq!(input.columns["email"], "john@example.test");
    assert_eq!(input.permissions, Some(vec![1, 4, 8]));
    // The unknown field 2 and the `key` are ignored; unmentioned optional fields clear.
    assert!(input.fields.contains(&(
        52,
        FieldInput::Value(Some(Json::String("Engineering".into())))
    )));
    assert!(input.fields.iter().all(|(id, _)| *id != 2));
}

#[test]
fn an_empty_body_lists_what_is_required_in_laravels_order() {
    let errors = run(&Map::new(), Mode::Create).unwrap_err();
    assert_eq!(
        errors,
        json!({"message": "The email field is required. (and 7 more errors)", "errors": {
            "email": ["The email field is required."],
            "name": ["The name field is required."],
            "last_name": ["The last name field is required."],
            "phone": ["The phone field is required."],
            "business_information": ["The business information field is required."],
            "business_information.company_name": ["The business information.company name field is required."],
            "permissions": ["The permissions field is required."],
            "custom_fields.52.value": ["The Department field is required."]
        }})
    );
}

#[test]
fn wrong_shapes_and_values() {
    let mut body = basic();
    body.insert("name".into(), json!(["x"]));
    body.insert("phone".into(), json!(5551234));
    body.insert("email".into(), json!("not-an-email"));
    body.insert("business_information".into(), json!("Acme"));
    body.insert(
        "permissions".into(),
        json!({"invoice": {"fly-invoice": "1"}, "contract": {"view-contract": "yes"}}),
    );
    body.insert(
        "custom_fields".into(),
        json!({"52": "flat", "68": {"value": "June"}}),
    );
    let errors = run(&body, Mode::Create).unwrap_err()["errors"].clone();
    assert_eq!(errors["name"], json!(["The name field must be a string."]));
    assert_eq!(
        errors["phone"],
        json!(["The phone field must be a string."])
    );
    assert_eq!(
        errors["email"],
        json!(["The email field must be a valid email address."])
    );
    assert_eq!(
        errors["business_information"],
        json!(["The business information field must be an array."])
    );
    assert_eq!(
        errors["permissions.invoice"],
        json!(["The permissions.invoice field must be an array."])
    );
    assert_eq!(
        errors["permissions.contract.view-contract"],
        json!(["The selected permissions.contract.view-contract is invalid."])
    );
    assert_eq!(
        errors["custom_fields.52.value"],
        json!(["The Department field is required."])
    );
    assert_eq!(
        errors["custom_fields.68.value"],
        json!(["The selected Birthday is invalid."])
    );

    let mut body = basic();
    body.insert(
        "permissions".into(),
        json!({"billing": {"view-billing": "1"}}),
    );
    let errors = run(&body, Mode::Create).unwrap_err()["errors"].clone();
    assert_eq!(
        errors["permissions"],
        json!(["The permissions field must be an array."])
    );
}

#[test]
fn file_fields_check_count_name_content_and_size() {
    let mut body = basic();
    body.insert(
        "custom_fields".into(),
        json!({"52": {"value": "x"}, "55": {"file_upload": {
            "formats": ["php"],
            "files": [upload("a.pdf", "pdf", 10_241), upload("b.exe", "zip", 10), upload("c.pdf", "text", 10)]
        }}}),
    );
    let errors = run(&body, Mode::Create).unwrap_err()["errors"].clone();
    assert_eq!(
        errors["custom_fields.55.file_upload.files"],
        json!(["The Documents field must not have more than 2 items."])
    );
    assert_eq!(
        errors["custom_fields.55.file_upload.files.0"],
        json!([
            "The custom_fields.55.file_upload.files.0 field must not be greater than 10 kilobytes."
        ])
    );
    assert_eq!(
        errors["custom_fields.55.file_upload.files.1"],
        json!([
            "The custom_fields.55.file_upload.files.1 field must have one of the following extensions: pdf, docx."
        ])
    );
    // Named .pdf, but its content is text: refused by content.
    assert_eq!(
        errors["custom_fields.55.file_upload.files.2"],
        json!([
            "The custom_fields.55.file_upload.files.2 field must be a file of type: pdf, docx."
        ])
    );
}

#[test]
fn text_where_a_file_belongs_and_failed_uploads() {
    let mut body = basic();
    let mut failed = upload("big.pdf", "", 0);
    failed[FILE_MARKER]["error"] = json!("too_large");
    body.insert(
        "custom_fields".into(),
        json!({"52": {"value": "x"}, "55": {"file_upload": {"files": ["string", failed]}}}),
    );
    body.insert("profile_photo_path".into(), json!("string"));
    let errors = run(&body, Mode::Create).unwrap_err()["errors"].clone();
    assert_eq!(
        errors["custom_fields.55.file_upload.files.0"],
        json!([
            "The custom_fields.55.file_upload.files.0 field must be a file.",
            "The custom_fields.55.file_upload.files.0 field must have one of the following extensions: pdf, docx."
        ])
    );
    assert_eq!(
        errors["custom_fields.55.file_upload.files.1"],
        json!(["The custom_fields.55.file_upload.files.1 failed to upload."])
    );
    assert_eq!(
        errors["profile_photo_path"],
        json!(["The profile photo path field must be an image."])
    );
}

#[test]
fn good_files_and_photo_pass() {
    let mut body = basic();
    body.insert(
        "custom_fields".into(),
        json!({"52": {"value": "x"}, "55": {"file_upload": {"files": [upload("a.PDF", "pdf", 100), upload("a.PDF", "pdf", 100)]}}}),
    );
    body.insert("profile_photo_path".into(), upload("me.png", "png", 2000));
    let input = run(&body, Mode::Create).expect("valid");
    let files = input
        .fields
        .iter()
        .find_map(|(id, f)| (*id == 55).then_some(f))
        .unwrap();
    assert!(matches!(files, FieldInput::Files(list) if list.len() == 2));
    assert!(matches!(&input.photo, Photo::New(p) if p.original_name == "me.png"));
}

#[test]
fn updates_check_only_what_is_present() {
    let body: Map<String, Json> = [("phone".to_string(), json!("123"))].into_iter().collect();
    let input = run(&body, Mode::Update).expect("valid");
    assert_eq!(input.columns.len(), 1);
    assert_eq!(input.permissions, None);
    assert!(input.fields.is_empty());

    let body: Map<String, Json> = [(
        "custom_fields".to_string(),
        json!({"52": {"key": "department"}, "55": {"key": "documents", "file_upload": {"formats": ["pdf"]}}}),
    )]
    .into_iter()
    .collect();
    let input = run(&body, Mode::Update).expect("a key alone changes nothing");
    assert!(input.fields.is_empty());

    let body: Map<String, Json> = [(
        "business_information".to_string(),
        json!({"company_name": null, "fax": "333"}),
    )]
    .into_iter()
    .collect();
    let errors = run(&body, Mode::Update).unwrap_err()["errors"].clone();
    assert!(errors.get("business_information.company_name").is_some());
}

#[test]
fn normalisation_trims_and_empties_to_null() {
    let mut value = json!({"name": "  Ann \u{200B}", "empty": "   ", "password": " secret ", "list": [" a ", ""]});
    normalize(&mut value);
    assert_eq!(
        value,
        json!({"name": "Ann", "empty": null, "password": " secret ", "list": ["a", null]})
    );
}

#[test]
fn accept_labels_and_content() {
    assert_eq!(
        accepted_extensions(&["DOCX/DOC".into(), "JPG".into()]),
        vec!["docx", "doc", "jpg", "jpeg"]
    );
    assert_eq!(sniff(b"%PDF-1.7\n"), FileKind::Pdf);
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), FileKind::Png);
    assert_eq!(sniff(b"PK\x03\x04rest"), FileKind::Zip);
    assert_eq!(sniff(b"plain words"), FileKind::Text);
    assert_eq!(sniff(b"\x00\x01\x02"), FileKind::Unknown);
    assert_eq!(type_name(9), Some("file"));
    assert_eq!(type_id("textarea"), Some(7));
}
