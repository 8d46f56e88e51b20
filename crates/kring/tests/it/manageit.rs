//! The ManageIt dialect through real HTTP (`spec/manageit.md`): multipart bodies from a real
//! client (reqwest) and hand-built ones for what clients should not send, files on disk,
//! Laravel's 422s, and the same customers and fields as the Cirqll dialect.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(
    seed_basic_customer,
    seed_custom_fields_customer,
    seed_file_upload_customer,
    validation_in_laravels_words,
    file_rules,
    hostile_file_names_stay_inside_the_store,
    cross_dialect_round_trip,
    updates_deletes_and_method_spoofing,
    list_and_laravel_pagination,
    custom_field_configuration,
    idempotent_multipart_replay,
    malformed_multipart,
    forged_file_markers_are_refused,
    files_go_with_their_records,
    list_statements_do_not_grow_with_rows,
    a_customer_shows_every_value_it_holds_beyond_a_related_page,
    multiselect_values_are_written_in_every_body_shape,
    one_email_rule_in_both_dialects,
    a_fetched_customer_put_back_changes_nothing_and_a_photo_can_be_removed,
    a_multipart_body_labelled_json_is_read_as_multipart,
    values_travel_in_their_fields_type_in_both_dialects,
    a_cirqll_write_names_only_files_a_field_holds,
    query_parameters_name_what_manageit_shows,
    changes_only_manageit_shows_are_recorded_in_each_dialects_names,
    every_field_has_a_key_and_a_group_and_cirqll_shows_its_file_configuration,
    files_are_kept_only_for_a_write_that_commits_and_names_them,
    an_update_shows_notes_only_to_who_may_read_notes,
);

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
const DOCX: &[u8] = b"PK\x03\x04\x14\x00\x06\x00word/document.xml";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01";

/// Sends `form` to `path` with `method`; the answer's status and JSON.
async fn send_form(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    form: Form,
) -> (StatusCode, Value) {
    let request = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token)
        .multipart(form);
    answer(request).await
}

/// Sends `request`; the status and the body as JSON (or as a string when it is not JSON).
async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post_form(app: &TestApp, token: &str, path: &str, form: Form) -> (StatusCode, Value) {
    send_form(app, token, reqwest::Method::POST, path, form).await
}

/// The seed's required fields, as `-F` options send them.
fn person(form: Form, email: &str) -> Form {
    form.text("email", email.to_string())
        .text("name", "Test")
        .text("last_name", "Test")
        .text("phone", "654645654654")
        .text("business_information[company_name]", "111")
        .text("permissions[invoice][view-invoice]", "1")
        .text("permissions[contract][view-contract]", "1")
        .text("permissions[invoice][create-invoice]", "1")
}

fn file(bytes: &[u8], name: &str, mime: &str) -> Part {
    Part::bytes(bytes.to_vec())
        .file_name(name.to_string())
        .mime_str(mime)
        .expect("mime")
}

/// A customer field made through `/api/custom-fields`; its id.
async fn field(app: &TestApp, token: &str, body: Value) -> i64 {
    let (status, created) = app.post(token, "/api/custom-fields", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["data"]["id"].as_i64().expect("id")
}

/// Files under the store, relative to its root.
fn stored_files(app: &TestApp) -> Vec<String> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(&app.files_dir, &app.files_dir, &mut out);
    out.sort();
    out
}

async fn media_count(app: &TestApp) -> i64 {
    let rows = app
        .query(
            "SELECT COUNT(*) FROM media",
            &[kring_core::schema::ColumnType::Int],
        )
        .await;
    rows[0][0].as_int().expect("count")
}

async fn seed_basic_customer(app: TestApp) {
    let token = app.owner().await;
    let form = person(Form::new(), "test@example.test")
        .text("custom_fields[2][key]", "new 2")
        .text("custom_fields[2][cust]", "new 1")
        .text("custom_fields[2][file_upload][formats][]", "jpg");
    let (status, body) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let data = &body["data"];
    let keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "last_name",
            "phone",
            "profile_photo_path",
            "email",
            "stripe_customer_flag",
            "business_information",
            "custom_fields",
            "notes",
            "activity_log",
            "permissions"
        ]
    );
    assert_eq!(data["name"], "Test");
    assert_eq!(data["phone"], "654645654654");
    assert_eq!(data["profile_photo_path"], Value::Null);
    assert_eq!(data["stripe_customer_flag"], false);
    assert_eq!(
        data["business_information"],
        json!({"company_name": "111", "company_phone": null, "company_email": null,
               "company_website": null, "address_1": null, "address_2": null, "country": null,
               "city": null, "state": null, "zip_code": null, "fax": null})
    );
    assert_eq!(
        data["custom_fields"],
        json!([]),
        "field 2 is not configured"
    );
    assert_eq!(data["notes"], json!([]));
    assert_eq!(data["activity_log"], json!([]));
    assert_eq!(
        data["permissions"],
        json!({"1": "create-invoice", "4": "view-invoice", "8": "view-contract"})
    );
    let id = data["id"].as_i64().unwrap();
    let (status, shown) = app.get(&token, &format!("/api/customers/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["data"]["permissions"], data["permissions"]);
    assert!(
        shown["data"].get("notes").is_none(),
        "shows end at permissions"
    );

    // The seed's JSON equivalent works the same way.
    let (status, body) = app
        .post(
            &token,
            "/api/customers",
            json!({"email": "john@example.test", "name": "John", "last_name": "Doe",
                   "phone": "555-123-4567", "business_information": {"company_name": "Acme Corp"},
                   "permissions": {"invoice": {"view-invoice": "1", "create-invoice": "1"},
                                   "contract": {"view-contract": "1"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["data"]["business_information"]["company_name"],
        "Acme Corp"
    );
}

async fn seed_custom_fields_customer(app: TestApp) {
    let token = app.owner().await;
    let department = field(
        &app,
        &token,
        json!({"type": 1, "name": "Department", "key": "department", "required": true}),
    )
    .await;
    let birthday = field(
        &app,
        &token,
        json!({"type": 5, "name": "Birthday", "fields": {"options": ["January", "February"]}}),
    )
    .await;
    let notes = field(&app, &token, json!({"type": 7, "name": "q"})).await;
    let form = person(Form::new(), "jane@example.test")
        .text(format!("custom_fields[{department}][key]"), "search_test")
        .text(
            format!("custom_fields[{department}][value]"),
            "Engineering Department",
        )
        .text(format!("custom_fields[{birthday}][key]"), "birthday")
        .text(format!("custom_fields[{birthday}][value]"), "January")
        .text(
            format!("custom_fields[{notes}][value]"),
            "Important client notes",
        );
    let (status, body) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let fields = body["data"]["custom_fields"].as_array().unwrap();
    let ids: Vec<i64> = fields.iter().map(|f| f["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [department, birthday, notes], "by field id");
    let first = fields[0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "user_id",
            "location",
            "type",
            "name",
            "key",
            "description",
            "placeholder",
            "fields",
            "group",
            "created_at",
            "updated_at",
            "custom_field_values"
        ]
    );
    assert_eq!(first["type"], 1);
    assert_eq!(first["location"], 3);
    assert_eq!(
        first["key"], "department",
        "the configured key, not the client's"
    );
    assert_eq!(
        first["fields"],
        json!({"options": null, "fileConfig": null})
    );
    assert_eq!(first["group"].as_str().map(str::len), Some(36), "a UUID");
    let value = &first["custom_field_values"][0];
    let id = body["data"]["id"].as_i64().unwrap();
    assert_eq!(value["value"], "Engineering Department");
    assert_eq!(value["user_id"], id);
    assert_eq!(value["custom_field_id"], department);
    assert!(value["owner_id"].as_i64().is_some());
    assert_eq!(
        fields[1]["fields"]["options"],
        json!(["January", "February"])
    );
    assert_eq!(fields[1]["custom_field_values"][0]["value"], "January");

    let (status, config) = app.get(&token, "/api/custom-fields").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["data"][0]["required"], true);
    assert_eq!(config["data"][0]["name"], "Department");
    assert_eq!(config["data"].as_array().map(Vec::len), Some(3));
}

async fn seed_file_upload_customer(app: TestApp) {
    let token = app.owner().await;
    let documents = field(
        &app,
        &token,
        json!({"type": 9, "name": "Documents", "key": "documents",
               "fields": {"fileConfig": {"acceptFile": ["PDF", "DOCX"], "allowMultiple": true, "maxFiles": 2}}}),
    )
    .await;
    let name = format!("custom_fields[{documents}][file_upload][files][]");
    let form = person(Form::new(), "mike@example.test")
        .text(format!("custom_fields[{documents}][key]"), "jpg")
        .text(
            format!("custom_fields[{documents}][file_upload][formats][]"),
            "DOCX",
        )
        .part(name.clone(), file(PDF, "contract.pdf", "application/pdf"))
        .part(
            name,
            file(DOCX, "proposal.docx", "application/octet-stream"),
        )
        .part("profile_photo_path", file(PNG, "me.png", "image/png"));
    let (status, body) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let data = &body["data"];
    let field = &data["custom_fields"][0];
    assert_eq!(field["type"], 9);
    assert_eq!(
        field["fields"]["fileConfig"],
        json!({"acceptFile": ["PDF", "DOCX"], "allowMultiple": true, "maxFiles": 2})
    );
    let value = field["custom_field_values"][0]["value"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(value.len(), 2);
    assert_eq!(value[0]["name"], "contract.pdf");
    assert_eq!(value[1]["name"], "proposal.docx");
    assert_eq!(media_count(&app).await, 3);

    // Each path downloads the very bytes, to this company only.
    let path = value[0]["path"].as_str().unwrap().to_string();
    assert!(
        path.starts_with(&format!("{}/api/files/", app.base)),
        "{path}"
    );
    let response = app
        .client
        .get(&path)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"contract.pdf\"; filename*=UTF-8''contract.pdf"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), PDF);
    let photo = data["profile_photo_path"].as_str().unwrap().to_string();
    let response = app
        .client
        .get(&photo)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.bytes().await.unwrap().as_ref(), PNG);

    // The bearer route: the link's path without its signature.
    let path = link_path(&json!(path));
    let stranger = app.user("Other", "company_owner").await;
    let response = app
        .client
        .get(&path)
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "T44");
    let response = app.client.get(&path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    for unknown in [
        "0123456789abcdef0123456789abcdef",
        "../../etc/passwd",
        "not-hex",
    ] {
        let (status, body) = app.get(&token, &format!("/api/files/{unknown}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}: {body}");
    }

    // The files are under generated names inside the store.
    let files = stored_files(&app);
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.iter().all(|f| f.starts_with("objects/")), "{files:?}");
}

async fn validation_in_laravels_words(app: TestApp) {
    let token = app.owner().await;
    let department = field(
        &app,
        &token,
        json!({"type": 1, "name": "Department", "required": true}),
    )
    .await;
    let birthday = field(
        &app,
        &token,
        json!({"type": 5, "name": "Birthday", "fields": {"options": ["January"]}}),
    )
    .await;
    let (status, body) = post_form(
        &app,
        &token,
        "/api/customers",
        Form::new().text("name", "  "),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["message"],
        "The email field is required. (and 7 more errors)"
    );
    let keys: Vec<&str> = body["errors"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "email",
            "name",
            "last_name",
            "phone",
            "business_information",
            "business_information.company_name",
            "permissions",
            &format!("custom_fields.{department}.value")
        ]
    );
    assert_eq!(
        body["errors"][format!("custom_fields.{department}.value")],
        json!(["The Department field is required."])
    );

    let form = person(Form::new(), "not-an-email")
        .text("permissions[contract][view-contract]", "yes")
        .text("permissions[invoice][fly-invoice]", "1")
        .text(format!("custom_fields[{department}]"), "flat")
        .text(format!("custom_fields[{birthday}][value]"), "June")
        .text("profile_photo_path", "string");
    let (status, body) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors = &body["errors"];
    assert_eq!(
        errors["email"],
        json!(["The email field must be a valid email address."])
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
        errors["profile_photo_path"],
        json!(["The profile photo path field must be an image."])
    );
    assert_eq!(
        errors[format!("custom_fields.{birthday}.value")],
        json!(["The selected Birthday is invalid."])
    );
    assert_eq!(
        errors[format!("custom_fields.{department}.value")],
        json!(["The Department field is required."])
    );

    // The email is unique; in Dutch on request.
    let ok = person(Form::new(), "dup@example.test")
        .text(format!("custom_fields[{department}][value]"), "x");
    let (status, _) = post_form(&app, &token, "/api/customers", ok).await;
    assert_eq!(status, StatusCode::CREATED);
    let again = person(Form::new(), "DUP@Example.test")
        .text(format!("custom_fields[{department}][value]"), "x");
    let response = app
        .client
        .post(format!("{}/api/customers", app.base))
        .bearer_auth(&token)
        .header("accept-language", "nl")
        .multipart(again)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"]["email"],
        json!(["De waarde van e-mailadres is al in gebruik."])
    );
    assert_eq!(
        app.query(
            "SELECT id FROM customers",
            &[kring_core::schema::ColumnType::Int]
        )
        .await
        .len(),
        1
    );
}

async fn file_rules(app: TestApp) {
    let token = app.owner().await;
    let documents = field(
        &app,
        &token,
        json!({"type": 9, "name": "Documents",
               "fields": {"fileConfig": {"acceptFile": ["PDF", "DOCX"], "allowMultiple": true, "maxFiles": 2}}}),
    )
    .await;
    let name = format!("custom_fields[{documents}][file_upload][files][]");
    let with_files = |files: Vec<Part>| {
        files
            .into_iter()
            .fold(person(Form::new(), "f@example.test"), |form, part| {
                form.part(name.clone(), part)
            })
    };
    let refused = |body: &Value, index: usize| {
        body["errors"][format!("custom_fields.{documents}.file_upload.files.{index}")].clone()
    };

    // Too many files for the field (T41), nothing stored.
    let three = with_files(vec![
        file(PDF, "a.pdf", "application/pdf"),
        file(PDF, "b.pdf", "application/pdf"),
        file(PDF, "c.pdf", "application/pdf"),
    ]);
    let (status, body) = post_form(&app, &token, "/api/customers", three).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"][format!("custom_fields.{documents}.file_upload.files")],
        json!(["The Documents field must not have more than 2 items."])
    );
    // A client-sent format cannot loosen the field's (T25); content counts, not the name (T42).
    let form = with_files(vec![
        file(b"MZ\x90\x00", "tool.exe", "application/pdf"),
        file(PNG, "image.pdf", "application/pdf"),
    ])
    .text(
        format!("custom_fields[{documents}][file_upload][formats][]"),
        "exe",
    );
    let (status, body) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let path0 = format!("custom_fields.{documents}.file_upload.files.0");
    let path1 = format!("custom_fields.{documents}.file_upload.files.1");
    assert_eq!(
        refused(&body, 0),
        json!([format!(
            "The {path0} field must have one of the following extensions: pdf, docx."
        )])
    );
    assert_eq!(
        refused(&body, 1),
        json!([format!(
            "The {path1} field must be a file of type: pdf, docx."
        )])
    );
    assert_eq!(media_count(&app).await, 0);
    assert_eq!(
        stored_files(&app),
        Vec::<String>::new(),
        "refused uploads are not kept"
    );

    // Over the per-file limit: 413, and nothing left behind.
    let small = app
        .sibling(|c| {
            c.rate_limit = 1_000_000;
            c.upload_file_limit = 1024;
            c.upload_request_limit = 64 * 1024;
        })
        .await;
    let big = with_files(vec![file(&[b'%'; 4096], "big.pdf", "application/pdf")]);
    let (status, body) = post_form(&small, &token, "/api/customers", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(
        body["message"],
        "The file 'big.pdf' is larger than the limit of 1024 bytes."
    );
    assert_eq!(stored_files(&small), Vec::<String>::new());

    // Over the request limit (T40): 413 before the body is read, declared or streamed.
    let (content_type, body) = raw_multipart(&[("name", Some("huge.pdf"), &[b'%'; 200 * 1024])]);
    let (status, refused) = post_raw(
        &small,
        &token,
        "/api/customers",
        &content_type,
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{refused}");
    assert_eq!(
        refused["message"],
        "The request body is larger than the limit of 65536 bytes."
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let streamed = small
        .client
        .post(format!("{}/api/customers", small.base))
        .bearer_auth(&token)
        .header("content-type", content_type)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )));
    let (status, refused) = answer(streamed).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{refused}");
    assert_eq!(stored_files(&small), Vec::<String>::new());

    // More files than any request may carry (PHP's max_file_uploads, 20): 413.
    let many = with_files(
        (0..21)
            .map(|i| file(PDF, &format!("{i}.pdf"), "application/pdf"))
            .collect(),
    );
    let (status, body) = post_form(&app, &token, "/api/customers", many).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["message"], "The request has more than 20 files.");
    assert_eq!(stored_files(&app), Vec::<String>::new());
}

/// A multipart body built by hand, for names a well-behaved client would not send.
fn raw_multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "kringtestboundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, filename, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match filename {
            Some(f) => {
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n")
            }
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_raw(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let request = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body);
    answer(request).await
}

fn required_parts() -> Vec<(&'static str, Option<&'static str>, &'static [u8])> {
    vec![
        ("email", None, b"h@example.test"),
        ("name", None, b"H"),
        ("last_name", None, b"H"),
        ("phone", None, b"1"),
        ("business_information[company_name]", None, b"H"),
        ("permissions[invoice][view-invoice]", None, b"1"),
    ]
}

async fn hostile_file_names_stay_inside_the_store(app: TestApp) {
    let token = app.owner().await;
    let documents = field(
        &app,
        &token,
        json!({"type": 9, "name": "Documents", "fields": {"fileConfig": {"acceptFile": ["PDF"], "allowMultiple": true, "maxFiles": 10}}}),
    )
    .await;
    let name = format!("custom_fields[{documents}][file_upload][files][]");
    let mut parts = required_parts();
    let long = format!("{}.pdf", "x".repeat(1000));
    let hostile = [
        "../../evil.pdf",
        "..\\..\\win.pdf",
        "/etc/passwd.pdf",
        "C:\\boot.pdf",
        "rtl\u{202E}fdp.pdf",
    ];
    for h in hostile.iter().copied().chain([long.as_str()]) {
        parts.push((name.as_str(), Some(h), PDF));
    }
    let (content_type, body) = raw_multipart(&parts);
    let (status, created) = post_raw(&app, &token, "/api/customers", &content_type, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let shown: Vec<String> = created["data"]["custom_fields"][0]["custom_field_values"][0]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        &shown[..5],
        [
            "evil.pdf",
            "win.pdf",
            "passwd.pdf",
            "boot.pdf",
            "rtlfdp.pdf"
        ]
    );
    assert!(
        shown[5].len() <= 255 && shown[5].starts_with("xxx"),
        "{}",
        shown[5]
    );
    let files = stored_files(&app);
    assert_eq!(files.len(), 6);
    for f in &files {
        let key = f.rsplit('/').next().unwrap();
        assert!(
            key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()),
            "{f}"
        );
    }
    for name in &shown {
        assert!(!name.contains(['/', '\\', '\u{202E}']), "{name}");
    }
}

async fn cross_dialect_round_trip(app: TestApp) {
    let token = app.owner().await;
    let tier = field(&app, &token, json!({"type": 1, "name": "Tier"})).await;
    let form = person(Form::new(), "cross@example.test")
        .text("business_information[fax]", "333")
        .text(format!("custom_fields[{tier}][value]"), "gold");
    let (status, created) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["data"]["id"].as_i64().unwrap();
    // ManageIt → Cirqll: the business is the customer; the field value is the same value.
    let (status, cirqll) = app
        .get(&token, &format!("/api/customer/{id}?with=field_values"))
        .await;
    assert_eq!(status, StatusCode::OK, "{cirqll}");
    assert_eq!(cirqll["name"], "111");
    assert_eq!(cirqll["email"], "cross@example.test");
    assert_eq!(cirqll["phone"], "654645654654");
    assert_eq!(cirqll["field_values"]["data"][0]["field_id"], tier);
    assert_eq!(cirqll["field_values"]["data"][0]["value"], "gold");
    assert!(
        cirqll.get("last_name").is_none(),
        "Cirqll's shape stays the seed's"
    );

    // Cirqll → ManageIt.
    let (status, made) = app
        .post(
            &token,
            "/api/customer",
            json!({"name": "Tech Solutions Inc", "email": "cirqll@example.test", "phone": "5627143119",
                   "field_values": [{"field_id": tier, "value": "silver"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let other = made["id"].as_i64().unwrap();
    let (status, shown) = app.get(&token, &format!("/api/customers/{other}")).await;
    assert_eq!(status, StatusCode::OK);
    let data = &shown["data"];
    assert_eq!(
        data["business_information"]["company_name"],
        "Tech Solutions Inc"
    );
    assert_eq!(data["email"], "cirqll@example.test");
    assert_eq!(data["name"], Value::Null);
    assert_eq!(
        data["custom_fields"][0]["custom_field_values"][0]["value"],
        "silver"
    );
    assert_eq!(data["permissions"], json!({}));

    // A Cirqll update is seen by ManageIt, and the other way round.
    app.patch(
        &token,
        &format!("/api/customer/{id}"),
        json!({"name": "Renamed BV"}),
    )
    .await;
    let (_, shown) = app.get(&token, &format!("/api/customers/{id}")).await;
    assert_eq!(
        shown["data"]["business_information"]["company_name"],
        "Renamed BV"
    );
    assert_eq!(shown["data"]["business_information"]["fax"], "333");
}

async fn updates_deletes_and_method_spoofing(app: TestApp) {
    let token = app.owner().await;
    let (_, created) = post_form(
        &app,
        &token,
        "/api/customers",
        person(Form::new(), "u@example.test"),
    )
    .await;
    let id = created["data"]["id"].as_i64().unwrap();
    let path = format!("/api/customers/{id}");

    // PHP clients send multipart updates as POST with _method=PUT.
    let form = Form::new()
        .text("_method", "PUT")
        .text("phone", "999")
        .text("permissions[meeting][view-meeting]", "1")
        .part("profile_photo_path", file(PNG, "new.png", "image/png"));
    let (status, updated) = post_form(&app, &token, &path, form).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["data"]["phone"], "999");
    assert_eq!(updated["data"]["name"], "Test", "partial: the rest stays");
    assert_eq!(
        updated["data"]["permissions"],
        json!({"16": "view-meeting"})
    );
    assert!(updated["data"]["profile_photo_path"].is_string());
    // Created, then one change: the phone and what Cirqll's customer does not hold.
    let log = updated["data"]["activity_log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "{updated}");
    let manageit = log
        .iter()
        .find(|e| e["properties"]["attributes"].get("permissions").is_some())
        .expect("logged");
    assert_eq!(manageit["properties"]["attributes"]["phone"], "999");
    assert_eq!(
        manageit["properties"]["attributes"]["permissions"],
        json!(["view-meeting"])
    );
    assert_eq!(
        manageit["properties"]["old"]["permissions"],
        json!(["create-invoice", "view-invoice", "view-contract"])
    );
    assert_eq!(
        manageit["properties"]["attributes"]["profile_photo"],
        "new.png"
    );

    let (status, patched) = app
        .patch(
            &token,
            &path,
            json!({"last_name": "Wilson", "email": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{patched}");
    assert_eq!(patched["errors"].as_object().unwrap().len(), 1);
    let (status, patched) = app
        .patch(&token, &path, json!({"last_name": "Wilson"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["data"]["last_name"], "Wilson");
    assert_eq!(patched["data"]["phone"], "999");

    let (status, body) = post_form(&app, &token, &path, Form::new().text("_method", "GET")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    // The override header, as Symfony reads it, wins over the body.
    let request = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(&token)
        .header("x-http-method-override", "patch")
        .json(&json!({"_method": "DELETE", "fax": "x", "business_information": {"fax": "777"}}));
    let (status, patched) = answer(request).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["data"]["business_information"]["fax"], "777");

    // A viewer may not update, even disguised.
    let viewer = app.user("Acme", "company_viewer").await;
    let (status, _) = post_form(
        &app,
        &viewer,
        &path,
        Form::new().text("_method", "PATCH").text("phone", "1"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = post_form(&app, &token, &path, Form::new().text("_method", "DELETE")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&token, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.delete(&token, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        media_count(&app).await,
        0,
        "the photo went with the customer"
    );
}

async fn list_and_laravel_pagination(app: TestApp) {
    let token = app.owner().await;
    for i in 0..3 {
        let (status, _) = post_form(
            &app,
            &token,
            "/api/customers",
            person(Form::new(), &format!("l{i}@example.test")),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, list) = app.get(&token, "/api/customers").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["data"]
    );
    let emails: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["l0@example.test", "l1@example.test", "l2@example.test"]
    );

    let (_, page) = app.get(&token, "/api/customers?page=2&per_page=2").await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["meta"]["current_page"], 2);
    assert_eq!(page["meta"]["last_page"], 2);
    assert_eq!(page["meta"]["total"], 3);
    assert_eq!(page["meta"]["from"], 3);
    assert_eq!(page["meta"]["to"], 3);
    assert_eq!(page["links"]["next"], Value::Null);
    // Links keep every parameter but `page` (issue 14, point 10), so following them keeps
    // the page size.
    assert_eq!(
        page["links"]["prev"],
        format!("{}/api/customers?per_page=2&page=1", app.base)
    );
    let (_, first) = app.get(&token, "/api/customers?per_page=2&page=1").await;
    let next = first["links"]["next"].as_str().expect("a next page");
    let (_, followed) = app.get(&token, &next[app.base.len()..]).await;
    assert_eq!(followed["data"], page["data"]);
    assert_eq!(followed["meta"]["per_page"], 2);
    // Laravel's `meta.links`: previous, each page, next.
    let labels: Vec<(&str, bool)> = page["meta"]["links"]
        .as_array()
        .expect("meta.links")
        .iter()
        .map(|l| (l["label"].as_str().unwrap(), l["active"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        labels,
        [
            ("&laquo; Previous", false),
            ("1", false),
            ("2", true),
            ("Next &raquo;", false)
        ]
    );
    assert_eq!(page["meta"]["links"][3]["url"], Value::Null);
    // Without `page`, a list the cap cut short says so; one that fits stays bare.
    let (_, capped) = app.get(&token, "/api/customers?limit=2").await;
    assert_eq!(capped["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(capped["meta"]["total"], 3, "{capped}");
    let next = capped["links"]["next"].as_str().expect("a next page");
    assert!(next.ends_with("per_page=2&page=2"), "{next}");
    let (_, rest) = app.get(&token, &next[app.base.len()..]).await;
    assert_eq!(rest["data"].as_array().map(Vec::len), Some(1), "{rest}");

    // Cirqll's query language works here too.
    let (_, filtered) = app
        .get(&token, "/api/customers?filter=email:eq:l1@example.test")
        .await;
    assert_eq!(filtered["data"].as_array().map(Vec::len), Some(1));
    let (status, bad) = app.get(&token, "/api/customers?page=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
}

async fn custom_field_configuration(app: TestApp) {
    let token = app.owner().await;
    let id = field(
        &app,
        &token,
        json!({"type": "5", "name": "Priority", "fields": {"options": ["high", "low"]}}),
    )
    .await;
    let (status, shown) = app.get(&token, &format!("/api/custom-fields/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["data"]["type"], 5);
    assert_eq!(shown["data"]["key"], "priority");
    assert_eq!(shown["data"]["required"], false);

    let (status, changed) = app
        .patch(
            &token,
            &format!("/api/custom-fields/{id}"),
            json!({"name": "Urgency", "required": true, "fields": {"options": ["now"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["data"]["name"], "Urgency");
    assert_eq!(changed["data"]["fields"]["options"], json!(["now"]));
    let (status, refused) = app
        .patch(
            &token,
            &format!("/api/custom-fields/{id}"),
            json!({"type": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused["errors"]["type"].is_array());
    let (status, refused) = app
        .post(
            &token,
            "/api/custom-fields",
            json!({"type": 42, "name": "X"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused["errors"]["type"],
        json!(["The selected type is invalid."])
    );

    // The same field through Cirqll; a contact field is not a ManageIt field.
    let (_, cirqll) = app
        .get(&token, &format!("/api/field/{id}?with=options"))
        .await;
    assert_eq!(cirqll["type"], "select");
    assert_eq!(cirqll["model"], "customer");
    let (_, contact_field) = app
        .post(
            &token,
            "/api/field",
            json!({"name": "Shoe size", "type": "number", "model": "contact"}),
        )
        .await;
    let contact_field = contact_field["id"].as_i64().unwrap();
    let (status, _) = app
        .get(&token, &format!("/api/custom-fields/{contact_field}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get(&token, "/api/custom-fields").await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));

    let (status, _) = app
        .delete(&token, &format!("/api/custom-fields/{id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&token, &format!("/api/custom-fields/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let stranger = app.user("Other", "company_owner").await;
    let (status, _) = app
        .get(&stranger, &format!("/api/custom-fields/{contact_field}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn idempotent_multipart_replay(app: TestApp) {
    let token = app.owner().await;
    let send = |bytes: &'static [u8]| {
        let form = person(Form::new(), "idem@example.test")
            .part("profile_photo_path", file(bytes, "me.png", "image/png"));
        app.client
            .post(format!("{}/api/customers", app.base))
            .bearer_auth(&token)
            .header("idempotency-key", "create-idem-1")
            .multipart(form)
            .send()
    };
    let first = send(PNG).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send(PNG).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    let other: &'static [u8] = b"\x89PNG\r\n\x1a\nother bytes";
    let different = send(other).await.unwrap();
    assert_eq!(different.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(media_count(&app).await, 1);
    assert_eq!(stored_files(&app).len(), 1, "replays keep no files");
}

async fn malformed_multipart(app: TestApp) {
    let token = app.owner().await;
    let (status, body) = post_raw(
        &app,
        &token,
        "/api/customers",
        "multipart/form-data",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (content_type, mut bytes) = raw_multipart(&[("name", Some("a.pdf"), PDF)]);
    bytes.truncate(bytes.len() - 30);
    let (status, body) = post_raw(&app, &token, "/api/customers", &content_type, bytes).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let empty: Vec<(&str, Option<&str>, &[u8])> =
        (0..10_000).map(|_| ("a[]", None, &b""[..])).collect();
    let (content_type, bytes) = raw_multipart(&empty);
    let (status, body) = post_raw(&app, &token, "/api/customers", &content_type, bytes).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (status, body) =
        post_raw(&app, &token, "/api/customers", "text/plain", b"hi".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(
        stored_files(&app),
        Vec::<String>::new(),
        "T45: no temp files left"
    );
}

async fn forged_file_markers_are_refused(app: TestApp) {
    let token = app.owner().await;
    let documents = field(&app, &token, json!({"type": 9, "name": "Documents"})).await;
    let forged = json!({"\u{0}file": {"original_name": "a.bin", "size": 1, "storage_key": "x"}});
    let mut body = json!({"email": "forge@example.test", "name": "F", "last_name": "F", "phone": "1",
        "business_information": {"company_name": "F"}, "permissions": {"invoice": {"view-invoice": "1"}}});
    body["custom_fields"] = json!({ documents.to_string(): {"file_upload": {"files": [forged]}} });
    let (status, answer) = app.post(&token, "/api/customers", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // In a query string a NUL ends the name (PHP), so no marker can be formed there either: the
    // otherwise valid request is created without a photo.
    let mut body = json!({"email": "forge2@example.test", "name": "F", "last_name": "F", "phone": "1",
        "business_information": {"company_name": "F"}, "permissions": {"invoice": {"view-invoice": "1"}}});
    body["custom_fields"] = json!({});
    let (status, created) = app
        .post(
            &token,
            "/api/customers?profile_photo_path[%00file][storage_key]=x",
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["data"]["profile_photo_path"], Value::Null);
    assert_eq!(media_count(&app).await, 0);
}

/// Waits (bounded) until the store holds `expected` files: removals run after commit.
async fn settle(app: &TestApp, expected: usize) -> Vec<String> {
    for _ in 0..100 {
        let files = stored_files(app);
        if files.len() == expected {
            return files;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stored_files(app)
}

async fn files_go_with_their_records(app: TestApp) {
    let token = app.owner().await;
    let documents = field(
        &app,
        &token,
        json!({"type": 9, "name": "Documents", "fields": {"fileConfig": {"acceptFile": ["PDF"], "allowMultiple": true}}}),
    )
    .await;
    let tier = field(&app, &token, json!({"type": 1, "name": "Tier"})).await;
    let files_name = format!("custom_fields[{documents}][file_upload][files][]");
    let form = person(Form::new(), "gone@example.test")
        .text(format!("custom_fields[{tier}][value]"), "gold")
        .part(files_name.clone(), file(PDF, "a.pdf", "application/pdf"))
        .part(files_name.clone(), file(PDF, "b.pdf", "application/pdf"))
        .part("profile_photo_path", file(PNG, "me.png", "image/png"));
    let (status, created) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["data"]["id"].as_i64().unwrap();
    assert_eq!(settle(&app, 3).await.len(), 3);

    // An update naming a field's key only leaves its value alone (the seed always sends keys).
    let form = Form::new()
        .text("_method", "PATCH")
        .text(format!("custom_fields[{tier}][key]"), "tier")
        .text(format!("custom_fields[{documents}][key]"), "documents");
    let (status, updated) = post_form(&app, &token, &format!("/api/customers/{id}"), form).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["data"]["custom_fields"].as_array().map(Vec::len),
        Some(2)
    );

    // A new photo replaces the old one; an empty file input clears the field and its files.
    let form = Form::new()
        .text("_method", "PUT")
        .part(files_name, file(b"", "", "application/octet-stream"))
        .part("profile_photo_path", file(PNG, "new.png", "image/png"));
    let (status, updated) = post_form(&app, &token, &format!("/api/customers/{id}"), form).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let ids: Vec<i64> = updated["data"]["custom_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [tier], "the file field has no value now");
    assert_eq!(
        settle(&app, 1).await.len(),
        1,
        "old photo and documents removed"
    );
    assert_eq!(media_count(&app).await, 1);

    // Deleted through Cirqll, the customer takes its files along.
    let (status, _) = app.delete(&token, &format!("/api/customer/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(settle(&app, 0).await, Vec::<String>::new());
    assert_eq!(media_count(&app).await, 0);
}

/// A customer shows all its field values, however many: its values are read whole, not as
/// the 50 a related page holds (`with=field_values` in Cirqll).
async fn a_customer_shows_every_value_it_holds_beyond_a_related_page(app: TestApp) {
    let token = app.owner().await;
    let mut form = person(Form::new(), "many@example.test");
    for i in 0..55 {
        let id = field(
            &app,
            &token,
            json!({"type": 1, "name": format!("Field {i}")}),
        )
        .await;
        form = form.text(format!("custom_fields[{id}][value]"), format!("v{i}"));
    }
    let (status, body) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["data"]["custom_fields"].as_array().map(Vec::len),
        Some(55)
    );
    let id = body["data"]["id"].as_i64().unwrap();
    let (status, shown) = app.get(&token, &format!("/api/customers/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(
        shown["data"]["custom_fields"].as_array().map(Vec::len),
        Some(55)
    );
    let (_, listed) = app.get(&token, "/api/customers").await;
    assert_eq!(
        listed["data"][0]["custom_fields"].as_array().map(Vec::len),
        Some(55)
    );
}

/// A page of 2 and a page of 12 customers, each with field values, permissions and a photo,
/// cost the same statements: the list has no N+1.
async fn list_statements_do_not_grow_with_rows(app: TestApp) {
    let token = app.owner().await;
    let tier = field(&app, &token, json!({"type": 1, "name": "Tier"})).await;
    for i in 0..12 {
        let form = person(Form::new(), &format!("n{i}@example.test"))
            .text(format!("custom_fields[{tier}][value]"), "gold")
            .part("profile_photo_path", file(PNG, "me.png", "image/png"));
        let (status, body) = post_form(&app, &token, "/api/customers", form).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut costs = Vec::new();
    for limit in [2, 12] {
        let before = app.db.reads();
        let (status, list) = app
            .get(&token, &format!("/api/customers?limit={limit}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let rows = list["data"].as_array().unwrap();
        assert_eq!(rows.len(), limit);
        assert!(rows.iter().all(|c| c["profile_photo_path"].is_string()));
        assert!(
            rows.iter()
                .all(|c| c["custom_fields"][0]["custom_field_values"][0]["value"] == "gold")
        );
        costs.push(app.db.reads() - before);
    }
    assert_eq!(costs[0], costs[1], "statements per request: {costs:?}");
    // The page's rows with its total, one statement each for the page's field values, files
    // (photos among them) and permissions, then the fields with their options: each customer
    // row is read once. The principal is remembered from the creates.
    assert_eq!(costs[0], 5, "{costs:?}");
}

/// Issue "One model, two dialects" 1: a multiselect (type 6) takes a list as JSON, as repeated
/// multipart parts and as indexed form keys, and stores the list; a plain string is a 422 that
/// says to send a list.
async fn multiselect_values_are_written_in_every_body_shape(app: TestApp) {
    let token = app.owner().await;
    let sports = field(
        &app,
        &token,
        json!({"type": 6, "name": "Sports", "fields": {"options": ["golf", "tennis", "chess"]}}),
    )
    .await;
    let stored = |body: &Value| {
        body["data"]["custom_fields"]
            .as_array()
            .and_then(|fields| fields.iter().find(|f| f["id"] == sports))
            .map(|f| f["custom_field_values"][0]["value"].clone())
            .unwrap_or(Value::Null)
    };
    let mut json_body = json!({
        "email": "multi-json@example.test", "name": "M", "last_name": "J", "phone": "1",
        "business_information": {"company_name": "M"},
        "permissions": {"invoice": {"view-invoice": "1"}},
    });
    json_body["custom_fields"] = json!({ sports.to_string(): {"value": ["golf", "tennis"]} });
    let (status, body) = app.post(&token, "/api/customers", json_body).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(stored(&body), json!(["golf", "tennis"]), "{body}");

    let form = person(Form::new(), "multi-form@example.test")
        .text(format!("custom_fields[{sports}][value][]"), "golf")
        .text(format!("custom_fields[{sports}][value][]"), "chess");
    let (status, body) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(stored(&body), json!(["golf", "chess"]), "{body}");

    let encoded = format!(
        "email=multi-url%40example.test&name=M&last_name=U&phone=1\
         &business_information[company_name]=M&permissions[invoice][view-invoice]=1\
         &custom_fields[{sports}][value][0]=tennis&custom_fields[{sports}][value][1]=golf"
    );
    let request = app
        .client
        .post(format!("{}/api/customers", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encoded);
    let (status, body) = answer(request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(stored(&body), json!(["tennis", "golf"]), "{body}");

    let form = person(Form::new(), "multi-string@example.test")
        .text(format!("custom_fields[{sports}][value]"), "golf");
    let (status, body) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["errors"][format!("custom_fields.{sports}.value")][0]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("list"), "{body}");
}

/// Issue "One model, two dialects" 8: a customer's email is unique within its company, ignoring
/// case, whichever dialect writes it; a record never conflicts with itself; another company may
/// hold the same address.
async fn one_email_rule_in_both_dialects(app: TestApp) {
    let token = app.owner().await;
    let (status, first) = app
        .post(
            &token,
            "/api/customer",
            json!({"name": "First", "email": "dup@example.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["id"].as_i64().expect("id");
    let (status, body) = app
        .post(
            &token,
            "/api/customer",
            json!({"name": "Second", "email": "DUP@example.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"]["email"][0],
        "The email has already been taken."
    );
    let form = person(Form::new(), "Dup@Example.test");
    let (status, body) = post_form(&app, &token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"]["email"][0],
        "The email has already been taken."
    );

    // Sending a record's own address back is no conflict, in either dialect.
    let (status, body) = app
        .patch(
            &token,
            &format!("/api/customer/{id}"),
            json!({"email": "dup@example.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .send(
            "PUT",
            Some(&token),
            &format!("/api/customers/{id}"),
            Some(json!({"email": "dup@example.test", "last_name": "Kept"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let other = app.user("Elsewhere", "company_owner").await;
    let (status, body) = app
        .post(
            &other,
            "/api/customer",
            json!({"name": "Theirs", "email": "dup@example.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Issue "One model, two dialects" 12 and 13: the customer a client fetched, PUT back as it
/// came (permissions as `{"4": "view-invoice"}`, the photo as its URL), changes nothing; an
/// empty or `null` `profile_photo_path` removes the photo and its file.
async fn a_fetched_customer_put_back_changes_nothing_and_a_photo_can_be_removed(app: TestApp) {
    let token = app.owner().await;
    let mut ids = Vec::new();
    for email in ["photo-a@example.test", "photo-b@example.test"] {
        let form =
            person(Form::new(), email).part("profile_photo_path", file(PNG, "me.png", "image/png"));
        let (status, body) = post_form(&app, &token, "/api/customers", form).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["data"]["id"].as_i64().expect("id"));
    }
    assert_eq!(media_count(&app).await, 2);
    let path = format!("/api/customers/{}", ids[0]);
    let (_, fetched) = app.get(&token, &path).await;
    let (status, body) = app
        .send("PUT", Some(&token), &path, Some(fetched["data"].clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["permissions"], fetched["data"]["permissions"]);
    // The same file's link (its signature's expiry moves on with the clock's minute).
    assert_eq!(
        link_path(&body["data"]["profile_photo_path"]),
        link_path(&fetched["data"]["profile_photo_path"])
    );
    assert_eq!(media_count(&app).await, 2, "the photo stayed");
    // A permission id without its name is not a permission the response showed.
    let (status, body) = app
        .send(
            "PUT",
            Some(&token),
            &path,
            Some(json!({"permissions": {"0": null}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["errors"]["permissions.0"].is_array(), "{body}");
    // Another URL is not an image.
    let (status, body) = app
        .send(
            "PUT",
            Some(&token),
            &path,
            Some(json!({"profile_photo_path": "https://elsewhere.test/x.png"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Empty in a form, null in JSON: the photo goes.
    let form = Form::new()
        .text("_method", "PUT")
        .text("profile_photo_path", "");
    let (status, body) = post_form(&app, &token, &path, form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["profile_photo_path"], Value::Null, "{body}");
    let other = format!("/api/customers/{}", ids[1]);
    let (status, body) = app
        .send(
            "PUT",
            Some(&token),
            &other,
            Some(json!({"profile_photo_path": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["profile_photo_path"], Value::Null, "{body}");
    assert_eq!(media_count(&app).await, 0);
    crate::support::wait_for(
        || !stored_files(&app).iter().any(|f| f.starts_with("objects")),
        std::time::Duration::from_secs(10),
        "the photos' files to go",
    )
    .await;
}

/// A download link without its query (the signature that expires).
fn link_path(link: &Value) -> String {
    let link = link.as_str().expect("a link");
    link.split('?').next().unwrap_or(link).to_string()
}

/// Issue "One model, two dialects" 21: the seed shows `Content-Type: application/json` beside
/// a multipart body; a client that copies it is read as the multipart body it sends.
async fn a_multipart_body_labelled_json_is_read_as_multipart(app: TestApp) {
    let token = app.owner().await;
    let boundary = "----seedcopy7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in [
        ("email", "labelled@example.test"),
        ("name", "Label"),
        ("last_name", "Json"),
        ("phone", "1"),
        ("business_information[company_name]", "Label Co"),
        ("permissions[invoice][view-invoice]", "1"),
    ] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .into_bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"profile_photo_path\"; \
             filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .into_bytes(),
    );
    body.extend_from_slice(PNG);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let request = app
        .client
        .post(format!("{}/api/customers", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body);
    let (status, created) = answer(request).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["data"]["last_name"], "Json");
    assert!(
        created["data"]["profile_photo_path"].is_string(),
        "{created}"
    );
    // JSON stays JSON, and broken JSON is still a 400.
    let request = app
        .client
        .post(format!("{}/api/customers", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"email\": ");
    let (status, _) = answer(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A customer made through ManageIt with a value of each type and two files; the field ids in
/// the order (number, checkbox, multiselect, date, text, file), and the customer's id.
async fn typed_customer(app: &TestApp, token: &str) -> ([i64; 6], i64) {
    let number = field(app, token, json!({"type": 2, "name": "Seats"})).await;
    let checkbox = field(app, token, json!({"type": 4, "name": "Active"})).await;
    let colours = field(
        app,
        token,
        json!({"type": 6, "name": "Colours", "fields": {"options": ["red", "blue", "green"]}}),
    )
    .await;
    let date = field(app, token, json!({"type": 3, "name": "Since"})).await;
    let text = field(app, token, json!({"type": 1, "name": "Tier"})).await;
    let documents = field(
        app,
        token,
        json!({"type": 9, "name": "Documents",
               "fields": {"fileConfig": {"acceptFile": ["PDF"], "allowMultiple": true, "maxFiles": 3}}}),
    )
    .await;
    let files = format!("custom_fields[{documents}][file_upload][files][]");
    let form = person(Form::new(), "typed@example.test")
        .text(format!("custom_fields[{number}][value]"), "42.5")
        .text(format!("custom_fields[{checkbox}][value]"), "1")
        .text(format!("custom_fields[{colours}][value][]"), "red")
        .text(format!("custom_fields[{colours}][value][]"), "blue")
        .text(format!("custom_fields[{date}][value]"), "2024-02-29")
        .text(format!("custom_fields[{text}][value]"), "42")
        .part(files.clone(), file(PDF, "a.pdf", "application/pdf"))
        .part(files, file(PDF, "b.pdf", "application/pdf"));
    let (status, created) = post_form(app, token, "/api/customers", form).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["data"]["id"].as_i64().expect("id");
    ([number, checkbox, colours, date, text, documents], id)
}

/// Each field's value as a Cirqll read shows it, by field id.
async fn cirqll_values(app: &TestApp, token: &str, id: i64) -> HashMap<i64, Value> {
    let path = format!("/api/customer/{id}?with=field_values");
    let (status, body) = app.get(token, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let values = body["field_values"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a field_values relation: {body}"));
    values
        .iter()
        .map(|v| {
            (
                v["field_id"].as_i64().expect("field id"),
                v["value"].clone(),
            )
        })
        .collect()
}

/// Each field's value as a ManageIt read shows it, by field id.
async fn manageit_values(app: &TestApp, token: &str, id: i64) -> HashMap<i64, Value> {
    let (status, body) = app.get(token, &format!("/api/customers/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["custom_fields"]
        .as_array()
        .expect("custom fields")
        .iter()
        .map(|f| {
            let value = f["custom_field_values"][0]["value"].clone();
            (f["id"].as_i64().expect("id"), value)
        })
        .collect()
}

/// Issue "One model, two dialects" 2: a value goes out in its field's type, the same stored
/// value the same way in both dialects, whichever dialect wrote it; a file value is a list of
/// files with name, size, content type and a URL that downloads it.
async fn values_travel_in_their_fields_type_in_both_dialects(app: TestApp) {
    let token = app.owner().await;
    let ([number, checkbox, colours, date, text, documents], id) =
        typed_customer(&app, &token).await;
    let expected = [
        (number, json!(42.5)),
        (checkbox, json!(true)),
        (colours, json!(["red", "blue"])),
        (date, json!("2024-02-29")),
        (text, json!("42")),
    ];
    let cirqll = cirqll_values(&app, &token, id).await;
    let manageit = manageit_values(&app, &token, id).await;
    for (field, value) in &expected {
        assert_eq!(
            cirqll.get(field),
            Some(value),
            "Cirqll, field {field}: {cirqll:?}"
        );
        assert_eq!(
            manageit.get(field),
            Some(value),
            "ManageIt, field {field}: {manageit:?}"
        );
    }
    let size = PDF.len();
    let files = cirqll[&documents].as_array().expect("files").clone();
    assert_eq!(files.len(), 2, "{files:?}");
    for (shown, name) in files.iter().zip(["a.pdf", "b.pdf"]) {
        let keys: Vec<&str> = shown
            .as_object()
            .expect("file")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["name", "size", "content_type", "url"], "{shown}");
        assert_eq!(shown["name"], name);
        assert_eq!(shown["size"], size);
        assert_eq!(shown["content_type"], "application/pdf");
    }
    let shown = manageit[&documents].as_array().expect("files").clone();
    assert_eq!(shown.len(), 2, "{shown:?}");
    for (item, cirqll_item) in shown.iter().zip(&files) {
        assert_eq!(item["name"], cirqll_item["name"]);
        assert_eq!(
            item["path"], cirqll_item["url"],
            "the same file, the same URL"
        );
        assert_eq!(item["size"], size);
        assert_eq!(item["content_type"], "application/pdf");
    }
    let url = files[0]["url"].as_str().expect("url");
    let response = app
        .client
        .get(url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), PDF);

    // Written through Cirqll's JSON, the values read back in the same types.
    let (status, body) = app
        .post(
            &token,
            "/api/customer",
            json!({"name": "Typed too", "field_values": [
                {"field_id": number, "value": 42.5},
                {"field_id": checkbox, "value": true},
                {"field_id": colours, "value": ["red", "blue"]},
                {"field_id": date, "value": "2024-02-29"},
                {"field_id": text, "value": 42},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let other = body["id"].as_i64().expect("id");
    let cirqll = cirqll_values(&app, &token, other).await;
    let manageit = manageit_values(&app, &token, other).await;
    for (field, value) in &expected {
        assert_eq!(cirqll.get(field), Some(value), "Cirqll, field {field}");
        assert_eq!(manageit.get(field), Some(value), "ManageIt, field {field}");
    }

    // Lists show them the same way.
    let (status, list) = app
        .get(
            &token,
            &format!("/api/customer?with=field_values&filter=id:eq:{id}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let values = &list["data"][0]["field_values"];
    let values = values["data"].as_array().expect("values");
    let seats = values
        .iter()
        .find(|v| v["field_id"] == number)
        .expect("seats");
    assert_eq!(seats["value"], json!(42.5));
    let docs = values
        .iter()
        .find(|v| v["field_id"] == documents)
        .expect("documents");
    assert_eq!(docs["value"], Value::Array(files));
}

/// Writes one field value of a customer through Cirqll.
async fn set_files(
    app: &TestApp,
    token: &str,
    path: &str,
    field: i64,
    value: Value,
) -> (StatusCode, Value) {
    let body = json!({"field_values": [{"field_id": field, "value": value}]});
    app.patch(token, path, body).await
}

/// The names of the files a customer's file field holds, as ManageIt shows them.
async fn held_names(app: &TestApp, token: &str, id: i64, field: i64) -> Vec<String> {
    manageit_values(app, token, id)
        .await
        .get(&field)
        .and_then(Value::as_array)
        .map(|files| {
            files
                .iter()
                .map(|f| f["name"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Issue "One model, two dialects" 3: files come only by upload. A Cirqll write may keep or
/// drop the files a file field holds, by name, uuid, URL or the object a read shows; any other
/// value is a 422 that changes nothing, and files a write drops are released.
async fn a_cirqll_write_names_only_files_a_field_holds(app: TestApp) {
    let token = app.owner().await;
    let ([.., documents], id) = typed_customer(&app, &token).await;
    let path = format!("/api/customer/{id}");
    assert_eq!(settle(&app, 2).await.len(), 2);

    for refused in [
        json!("hello.pdf"),
        json!([{"name": "x.pdf", "uuid": "0123456789abcdef0123456789abcdef"}]),
        json!(7),
    ] {
        let (status, answer) = set_files(&app, &token, &path, documents, refused.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused}: {answer}"
        );
        let message = answer["errors"]["field_values.0.value"][0]
            .as_str()
            .unwrap_or("");
        assert!(
            message.contains("Documents") && message.contains("upload"),
            "{answer}"
        );
        assert_eq!(
            held_names(&app, &token, id, documents).await,
            ["a.pdf", "b.pdf"],
            "{refused} changed nothing"
        );
    }
    // A new record holds no files, so it may name none, not even another record's.
    let (status, answer) = app
        .post(
            &token,
            "/api/customer",
            json!({"name": "Thief", "field_values": [{"field_id": documents, "value": "a.pdf"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");

    // The value as a read shows it, sent back, changes nothing.
    let shown = cirqll_values(&app, &token, id).await[&documents].clone();
    let (status, answer) = set_files(&app, &token, &path, documents, json!(shown)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        held_names(&app, &token, id, documents).await,
        ["a.pdf", "b.pdf"]
    );

    // Keeping one file by name releases the other, its row and its bytes.
    let (status, answer) = set_files(&app, &token, &path, documents, json!(["b.pdf"])).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(held_names(&app, &token, id, documents).await, ["b.pdf"]);
    assert_eq!(media_count(&app).await, 1);
    assert_eq!(
        settle(&app, 1).await.len(),
        1,
        "the released file is removed"
    );

    // `null` releases them all.
    let (status, answer) = set_files(&app, &token, &path, documents, json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        held_names(&app, &token, id, documents).await,
        Vec::<String>::new()
    );
    assert_eq!(media_count(&app).await, 0);
    assert_eq!(settle(&app, 0).await, Vec::<String>::new());
}

/// Issue "One model, two dialects" 15, on both engines: `signed_links` with each.
mod signed_links_open_files_without_a_header {
    use crate::support::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::signed_links(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::signed_links(Backend::Postgres).await;
    }
}

/// Download links in responses are signed and expire: they open their file with no header
/// (an image inline, anything else as an attachment, never sniffed), through any instance of
/// the deployment, until they expire; a wrong, expired or borrowed signature is a 403 JSON
/// error; the bearer route keeps working.
async fn signed_links(backend: crate::support::Backend) {
    use kring_server::clock::{Clock, ManualClock};
    let clock = std::sync::Arc::new(ManualClock::at(1_900_000_000));
    let shared = clock.clone();
    let configure = move |c: &mut kring_server::config::Config| {
        c.rate_limit = 1_000_000;
        c.clock = shared;
        c.file_link_lifetime = std::time::Duration::from_secs(600);
    };
    let Some(app) = TestApp::spawn_configured(backend, configure.clone()).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: PostgreSQL half skipped");
        return;
    };
    let token = app.owner().await;
    let ([.., documents], id) = typed_customer(&app, &token).await;
    let form = Form::new()
        .text("_method", "PUT")
        .part("profile_photo_path", file(PNG, "me.png", "image/png"));
    let (status, body) = post_form(&app, &token, &format!("/api/customers/{id}"), form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let photo = body["data"]["profile_photo_path"]
        .as_str()
        .expect("photo")
        .to_string();
    let pdf = manageit_values(&app, &token, id).await[&documents][0]["path"]
        .as_str()
        .expect("path")
        .to_string();
    let expires: i64 = pdf
        .split("expires=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .and_then(|e| e.parse().ok())
        .expect("an expiry");
    let now = i64::try_from(clock.epoch_seconds()).expect("now");
    assert!(
        (600..660).contains(&(expires - now)),
        "{pdf}: a lifetime from now"
    );

    let fetch = |url: String| {
        let client = app.client.clone();
        async move { client.get(url).send().await.expect("download") }
    };
    let response = fetch(pdf.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap_or("")
            .starts_with("attachment;"),
        "{headers:?}"
    );
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), PDF);
    let response = fetch(photo.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(
        response.headers()["content-disposition"],
        "inline; filename=\"me.png\"; filename*=UTF-8''me.png"
    );
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), PNG);

    // Another instance of the deployment opens the same link.
    let sibling = app
        .sibling({
            let files_dir = app.files_dir.clone();
            let configure = configure.clone();
            move |c| {
                configure(c);
                c.files_dir = files_dir;
            }
        })
        .await;
    let on_sibling = pdf.replace(&app.base, &sibling.base);
    assert_eq!(fetch(on_sibling).await.status(), StatusCode::OK);

    // A signature for another file, altered, or missing half: 403, with a message.
    let query = pdf
        .split_once('?')
        .map(|(_, q)| q.to_string())
        .expect("query");
    let photo_path = link_path(&json!(photo));
    let borrowed = format!("{photo_path}?{query}");
    let altered = pdf.replace("signature=", "signature=0");
    let later = pdf.replace(
        &format!("expires={expires}"),
        &format!("expires={}", expires + 60),
    );
    let unsigned = pdf.split("&signature").next().unwrap_or("").to_string();
    for refused in [borrowed, altered, later, unsigned] {
        let response = fetch(refused.clone()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{refused}");
        let body: Value = response.json().await.expect("a JSON error");
        assert_eq!(
            body["message"], "This download link is not valid for this file.",
            "{refused}"
        );
    }

    // Past its expiry the genuine link is refused as expired; a fresh read gives a new one.
    clock.advance(661);
    let response = fetch(pdf.clone()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.expect("a JSON error");
    assert!(
        body["message"].as_str().unwrap_or("").contains("expired"),
        "{body}"
    );
    let fresh = manageit_values(&app, &token, id).await[&documents][0]["path"]
        .as_str()
        .expect("path")
        .to_string();
    assert_ne!(fresh, pdf);
    assert_eq!(fetch(fresh).await.status(), StatusCode::OK);

    // The bearer route is unchanged: 401 without the header, the file with it.
    let bare = link_path(&json!(pdf));
    assert_eq!(fetch(bare.clone()).await.status(), StatusCode::UNAUTHORIZED);
    let response = app
        .client
        .get(&bare)
        .bearer_auth(&token)
        .send()
        .await
        .expect("bearer");
    assert_eq!(response.status(), StatusCode::OK);
}

/// Issue "One model, two dialects" 7: on `/api/customers`, `filter` and `order_by` name the
/// fields the ManageIt response shows (`name` is the person's first name there, the company is
/// `business_information.company_name`), custom fields as `custom_fields.<id>`, and a Cirqll
/// name the response does not show is a 400 that lists the names it takes.
async fn query_parameters_name_what_manageit_shows(app: TestApp) {
    let token = app.owner().await;
    let tier = field(&app, &token, json!({"type": 1, "name": "Tier"})).await;
    for (first, last, company, tier_value) in [
        ("Jane", "Zimmer", "acme BV", "gold"),
        ("John", "Appel", "Zeta Holding", "silver"),
        ("jane", "Moss", "Acme Corp", "gold"),
    ] {
        let form = Form::new()
            .text(
                "email",
                format!("{}.{last}@example.test", first.to_lowercase()),
            )
            .text("name", first)
            .text("last_name", last)
            .text("phone", "0612345678")
            .text("business_information[company_name]", company)
            .text("business_information[city]", "Utrecht")
            .text("permissions[invoice][view-invoice]", "1")
            .text(format!("custom_fields[{tier}][value]"), tier_value);
        let (status, body) = post_form(&app, &token, "/api/customers", form).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let listed = |body: &Value, pick: &dyn Fn(&Value) -> Value| -> Vec<Value> {
        body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {body}"))
            .iter()
            .map(pick)
            .collect()
    };
    let last_names = |body: &Value| listed(body, &|c| c["last_name"].clone());
    let get = |query: &str| {
        let path = format!("/api/customers?{query}");
        let app = &app;
        let token = &token;
        async move { app.get(token, &path).await }
    };

    let (status, body) = get("filter=name:eq:Jane").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        last_names(&body),
        [json!("Zimmer")],
        "the person named Jane"
    );
    let (_, body) = get("filter=last_name:starts_with:m").await;
    assert_eq!(last_names(&body), [json!("Moss")]);
    let (_, body) = get("order_by=last_name").await;
    assert_eq!(
        last_names(&body),
        [json!("Appel"), json!("Moss"), json!("Zimmer")]
    );
    let (_, body) = get("order_by=business_information.company_name:desc").await;
    assert_eq!(
        listed(&body, &|c| c["business_information"]["company_name"]
            .clone()),
        [json!("Zeta Holding"), json!("Acme Corp"), json!("acme BV")],
        "the company's name, ignoring case"
    );
    let (_, body) =
        get("filter=business_information.company_name:contains:acme&order_by=name,id").await;
    assert_eq!(
        last_names(&body),
        [json!("Zimmer"), json!("Moss")],
        "Jane before jane, by id"
    );
    let (_, body) = get(&format!(
        "filter=custom_fields.{tier}:eq:gold&order_by=last_name:desc"
    ))
    .await;
    assert_eq!(last_names(&body), [json!("Zimmer"), json!("Moss")]);
    let (_, body) = get("filter=business_information.city:eq:Utrecht&per_page=2&page=1").await;
    assert_eq!(body["meta"]["total"], 3, "{body}");

    // Cirqll's names for what ManageIt names otherwise are not this dialect's.
    for (query, field) in [
        ("filter=first_name:eq:Jane", "first_name"),
        ("order_by=next_contact", "next_contact"),
        ("filter=contacts.email:eq:x", "contacts.email"),
    ] {
        let (status, body) = get(query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let message = body["message"].as_str().unwrap_or("");
        assert!(message.contains(field), "{query}: {message}");
        assert!(
            message.contains("business_information.company_name"),
            "{query}: {message}"
        );
    }
}

/// Issue "One model, two dialects" 9: a change to what only ManageIt shows (the person's
/// names, the business details, permissions) is one change, recorded in full: in the activity
/// log under each dialect's names, and in the event the change feed and webhooks carry.
async fn changes_only_manageit_shows_are_recorded_in_each_dialects_names(app: TestApp) {
    let token = app.owner().await;
    let (status, created) = post_form(
        &app,
        &token,
        "/api/customers",
        person(Form::new(), "jane@example.test").text("business_information[city]", "Utrecht"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["data"]["id"].as_i64().expect("id");
    let form = Form::new()
        .text("_method", "PUT")
        .text("name", "Janet")
        .text("last_name", "Doe")
        .text("business_information[city]", "Leiden")
        .text("permissions[meeting][view-meeting]", "1");
    let (status, updated) = post_form(&app, &token, &format!("/api/customers/{id}"), form).await;
    assert_eq!(status, StatusCode::OK, "{updated}");

    // ManageIt's activity log, in ManageIt's names.
    let log = updated["data"]["activity_log"].as_array().expect("log");
    let change = log
        .iter()
        .find(|e| e["event"] == "updated")
        .unwrap_or_else(|| panic!("an update entry: {updated}"));
    let attributes = &change["properties"]["attributes"];
    let old = &change["properties"]["old"];
    assert_eq!(attributes["name"], "Janet", "{change}");
    assert_eq!(attributes["last_name"], "Doe", "{change}");
    assert_eq!(
        attributes["business_information.city"], "Leiden",
        "{change}"
    );
    assert_eq!(
        attributes["permissions"],
        json!(["view-meeting"]),
        "{change}"
    );
    assert_eq!(old["name"], "Test", "{change}");
    assert_eq!(old["business_information.city"], "Utrecht", "{change}");

    // Cirqll's activity log, in Cirqll's names.
    let (status, shown) = app
        .get(&token, &format!("/api/customer/{id}?with=activity_log"))
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let entries = shown["activity_log"]["data"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "created, then one change: {shown}");
    let attributes = &entries
        .iter()
        .find(|e| e["properties"]["old"].is_object())
        .expect("the update")["properties"]["attributes"];
    assert_eq!(attributes["first_name"], "Janet", "{attributes}");
    assert_eq!(attributes["city"], "Leiden", "{attributes}");

    // One event, with every changed field and its previous value (what webhooks carry).
    let (status, feed) = app.get(&token, "/api/changes?since=0").await;
    assert_eq!(status, StatusCode::OK, "{feed}");
    let updates: Vec<&Value> = feed["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == "customer.updated")
        .collect();
    assert_eq!(updates.len(), 1, "{feed}");
    let mut changed: Vec<String> = updates[0]["changed_fields"]
        .as_array()
        .expect("changed fields")
        .iter()
        .filter_map(|f| f.as_str().map(String::from))
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        ["city", "first_name", "last_name", "permissions"],
        "{}",
        updates[0]
    );
    assert_eq!(updates[0]["previous"]["first_name"], "Test");
    assert_eq!(updates[0]["previous"]["city"], "Utrecht");
    assert_eq!(updates[0]["data"]["first_name"], "Janet");
    assert_eq!(updates[0]["data"]["permissions"], json!(["view-meeting"]));
}

/// Issue "One model, two dialects" 5: a field made through Cirqll has a key made from its name
/// (unique in the company) and a group in ManageIt; an explicit key already taken is a 422;
/// Cirqll shows a field's file configuration; fields an older version left without a key or
/// group get them at the next start.
async fn every_field_has_a_key_and_a_group_and_cirqll_shows_its_file_configuration(app: TestApp) {
    let token = app.owner().await;
    let mut ids = Vec::new();
    for name in ["Contract Type", "contract type"] {
        let body = json!({"name": name, "type": "text", "model": "customer"});
        let created = app
            .expect(
                StatusCode::CREATED,
                "POST",
                &token,
                "/api/field",
                Some(body),
            )
            .await;
        ids.push(created["id"].as_i64().expect("id"));
    }
    let manageit_field = |id: i64| {
        let app = &app;
        let token = &token;
        async move {
            let path = format!("/api/custom-fields/{id}");
            app.expect(StatusCode::OK, "GET", token, &path, None).await["data"].clone()
        }
    };
    let first = manageit_field(ids[0]).await;
    let second = manageit_field(ids[1]).await;
    assert_eq!(first["key"], "contract_type", "{first}");
    assert_eq!(second["key"], "contract_type_2", "{second}");
    for field in [&first, &second] {
        let group = field["group"]
            .as_str()
            .unwrap_or_else(|| panic!("a group: {field}"));
        assert_eq!(group.len(), 36, "a UUID: {group}");
    }
    assert_ne!(first["group"], second["group"]);

    let (status, body) = app
        .post(
            &token,
            "/api/custom-fields",
            json!({"type": 1, "name": "Other", "key": "Contract_Type"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["errors"]["key"].is_array(), "{body}");

    let documents = field(
        &app,
        &token,
        json!({"type": 9, "name": "Documents",
               "fields": {"fileConfig": {"acceptFile": ["PDF"], "allowMultiple": true, "maxFiles": 2}}}),
    )
    .await;
    let shown = app
        .expect(
            StatusCode::OK,
            "GET",
            &token,
            &format!("/api/field/{documents}"),
            None,
        )
        .await;
    assert_eq!(shown["accept_file"], json!(["PDF"]), "{shown}");
    assert_eq!(shown["allow_multiple"], true, "{shown}");
    assert_eq!(shown["max_files"], 2, "{shown}");

    // What an older version wrote: no key, no group. The next start fills them.
    app.execute("UPDATE fields SET field_key = NULL, field_group = NULL")
        .await;
    let restarted = app.sibling(|_| {}).await;
    let path = format!("/api/custom-fields/{}", ids[1]);
    let again = restarted
        .expect(StatusCode::OK, "GET", &token, &path, None)
        .await["data"]
        .clone();
    let key = again["key"]
        .as_str()
        .unwrap_or_else(|| panic!("a key: {again}"));
    assert!(key.starts_with("contract_type"), "{again}");
    assert_eq!(again["group"].as_str().map(str::len), Some(36), "{again}");
    let keys = restarted
        .query(
            "SELECT field_key FROM fields ORDER BY field_key",
            &[kring_core::schema::ColumnType::Text],
        )
        .await;
    assert_eq!(
        keys.iter().map(|row| row[0].to_json()).collect::<Vec<_>>(),
        [
            json!("contract_type"),
            json!("contract_type_2"),
            json!("documents"),
        ],
        "unique again (the refused field was never made)"
    );
}

/// A write's files are put in place before its transaction begins (so that no write holds the
/// database through a directory sync or an upload to a bucket): a write refused after that
/// leaves none of them behind, and one that commits keeps only those its record names.
async fn files_are_kept_only_for_a_write_that_commits_and_names_them(app: TestApp) {
    let token = app.owner().await;
    let refused = person(Form::new(), "not-an-email")
        .part("profile_photo_path", file(PNG, "me.png", "image/png"));
    let (status, body) = post_form(&app, &token, "/api/customers", refused).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(stored_files(&app), Vec::<String>::new());
    assert_eq!(media_count(&app).await, 0);

    let unnamed = person(Form::new(), "kept@example.test")
        .part("profile_photo_path", file(PNG, "me.png", "image/png"))
        .part("attachment", file(PDF, "stray.pdf", "application/pdf"));
    let (status, body) = post_form(&app, &token, "/api/customers", unnamed).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let files = stored_files(&app);
    assert_eq!(files.len(), 1, "only the photo: {files:?}");
    assert!(files[0].starts_with("objects/"), "{files:?}");
    assert_eq!(media_count(&app).await, 1);
    let photo = body["data"]["profile_photo_path"].as_str().expect("a link");
    let response = app.client.get(photo).send().await.expect("download");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), PNG);
}

/// An update's answer carries the customer's notes (as the seed shows) only for a caller whose
/// role may read notes; one that may update customers but not read notes gets the seed's shape
/// with an empty `notes` (T19).
async fn an_update_shows_notes_only_to_who_may_read_notes(app: TestApp) {
    use crate::privilege::{member, role};
    let owner = app.owner().await;
    let (_, created) = post_form(
        &app,
        &owner,
        "/api/customers",
        person(Form::new(), "notes@example.test"),
    )
    .await;
    let id = created["data"]["id"].as_i64().expect("id");
    let (status, note) = app
        .post(
            &owner,
            "/api/note",
            json!({"customer_id": id, "content": "Call back on Monday"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    let updaters = ["customer.view", "customer.update"];
    let blind = role(&app, &owner, &updaters).await;
    let reader = role(
        &app,
        &owner,
        &[updaters.as_slice(), &["note.view"]].concat(),
    )
    .await;
    let path = format!("/api/customers/{id}");
    for (role, sees_notes) in [(blind, false), (reader, true)] {
        let (_, token) = member(&app, &owner, role).await;
        let form = Form::new().text("_method", "PUT").text("phone", "555");
        let (status, updated) = post_form(&app, &token, &path, form).await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["data"]["phone"], "555");
        let notes = updated["data"]["notes"].as_array().expect("notes");
        match sees_notes {
            true => assert_eq!(notes[0]["content"], "Call back on Monday", "{updated}"),
            false => assert!(notes.is_empty(), "{updated}"),
        }
    }
}
