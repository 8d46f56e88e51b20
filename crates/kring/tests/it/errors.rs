//! Errors: JSON with a message for every status, Laravel's 422 shape, Dutch on request, and no
//! input that makes the server fail (DESIGN §2).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::TestApp;

backend_tests!(
    validation_errors_in_laravel_shape,
    malformed_bodies_are_client_errors,
    routes_and_methods,
    dutch_messages,
    a_request_without_a_language_gets_its_companys_locale,
);

async fn validation_errors_in_laravel_shape(app: TestApp) {
    let token = app.owner().await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({}), "name", "The name field is required."),
        (json!({"name": ""}), "name", "The name field is required."),
        (json!({"name": null}), "name", "The name field is required."),
        (
            json!({"name": 42}),
            "name",
            "The name field must be a string.",
        ),
        (
            json!({"name": "x".repeat(256)}),
            "name",
            "The name field must not be greater than 255 characters.",
        ),
        (
            json!({"name": "A", "email": "not-an-email"}),
            "email",
            "The email field must be a valid email address.",
        ),
        (
            json!({"name": "A", "show_on_map": "maybe"}),
            "show_on_map",
            "The show on map field must be true or false.",
        ),
        (
            json!({"name": "A", "show_on_map": null}),
            "show_on_map",
            "The show on map field must be true or false.",
        ),
        (
            json!({"name": "A", "next_contact": "someday"}),
            "next_contact",
            "The next contact field must be a valid date.",
        ),
        (
            json!({"name": "A", "user_id": "abc"}),
            "user_id",
            "The user id field must be an integer.",
        ),
        (
            json!({"name": "A", "user_id": 987654}),
            "user_id",
            "The selected user id is invalid.",
        ),
        (
            json!({"name": "A", "description": "d".repeat(65_536)}),
            "description",
            "The description field must not be greater than 65535 characters.",
        ),
        (
            json!({"name": "A", "field_values": "gold"}),
            "field_values",
            "The field values field must be an array.",
        ),
        (
            json!({"name": "A", "field_values": [{"value": "x"}]}),
            "field_values.0.field_id",
            "The field values.0.field id field is required.",
        ),
        (
            json!({"name": "A", "field_values": [{"field_id": 424242, "value": "x"}]}),
            "field_values.0.field_id",
            "The selected field values.0.field id is invalid.",
        ),
    ];
    for (body, path, message) in cases {
        let (status, response) = app.post(&token, "/api/customer", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(response["message"], message, "{body}");
        assert_eq!(response["errors"][path], json!([message]), "{body}");
    }
    let (_, several) = app
        .post(
            &token,
            "/api/customer",
            json!({"email": "bad", "show_on_map": "x"}),
        )
        .await;
    assert_eq!(
        several["message"],
        "The name field is required. (and 2 more errors)"
    );
    assert_eq!(several["errors"].as_object().map(|e| e.len()), Some(3));

    let (_, created) = app
        .post(&token, "/api/customer", json!({"name": "Valid"}))
        .await;
    let path = format!("/api/customer/{}", created["id"]);
    let (status, body) = app
        .patch(&token, &path, json!({"name": "", "email": "x@"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["message"],
        "The name field is required. (and 1 more error)"
    );
    let (_, list) = app.get(&token, "/api/customer").await;
    assert_eq!(list["total"], 1, "no failed create left a row behind");
    assert_eq!(
        app.get(&token, &path).await.1["name"],
        "Valid",
        "a failed update changed nothing"
    );
}

async fn malformed_bodies_are_client_errors(app: TestApp) {
    let token = app.owner().await;
    let url = format!("{}/api/customer", app.base);
    let raw = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(url.clone())
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(Vec<u8>, &str, StatusCode)> = vec![
        (
            b"{\"name\": ".to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            b"[1,2,3]".to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            b"\"just a string\"".to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![0xff, 0xfe, 0x00, 0x7b],
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            b"{\"name\": \"\\ud800\"}".to_vec(),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
        (
            b"name=A".to_vec(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            b"<xml/>".to_vec(),
            "application/xml",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            vec![b' '; 2 * 1024 * 1024],
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            format!("{{\"name\": \"{}\"}}", "a".repeat(1_100_000)).into_bytes(),
            "application/json",
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            format!("{}1{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
            "application/json",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, content_type, expected) in cases {
        let preview = String::from_utf8_lossy(&body[..body.len().min(30)]).to_string();
        let response = raw(body, content_type).await.expect("send");
        assert_eq!(response.status(), expected, "{content_type} {preview}");
        let json: Value = response.json().await.expect("a JSON error body");
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
    }
    let form = raw(
        b"name=Form+BV&email=form%40example.com&show_on_map=1".to_vec(),
        "application/x-www-form-urlencoded",
    )
    .await
    .expect("send");
    assert_eq!(form.status(), StatusCode::CREATED);
    let created: Value = form.json().await.expect("json");
    assert_eq!(
        (created["name"].as_str(), created["show_on_map"].as_bool()),
        (Some("Form BV"), Some(true))
    );
}

async fn routes_and_methods(app: TestApp) {
    let token = app.owner().await;
    let (status, body) = app.get(&token, "/api/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["message"],
        "The route api/nothing-here could not be found."
    );
    for (method, path, allowed) in [
        ("POST", "/api/customer/1", "GET, HEAD, PATCH, PUT, DELETE"),
        ("DELETE", "/api/customer", "GET, HEAD, POST"),
        ("POST", "/health", "GET, HEAD"),
    ] {
        let response = app
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                format!("{}{path}", app.base),
            )
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some(allowed)
        );
        let body: Value = response.json().await.expect("json");
        let expected = format!(
            "The {method} method is not supported for route {}. Supported methods: {allowed}.",
            path.trim_start_matches('/')
        );
        assert_eq!(body["message"], expected.as_str());
    }
    for id in ["abc", "-1", "0", "1.5", "99999999999999999999999"] {
        let (status, body) = app.get(&token, &format!("/api/customer/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        assert!(body["message"].is_string());
    }
    let (status, body) = app.send("GET", None, "/health", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.send("GET", None, "/ready", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );

    let response = app
        .client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .expect("send");
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert_eq!(id.len(), 32, "a request id is generated");
    let echoed = app
        .client
        .get(format!("{}/health", app.base))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .expect("send");
    assert_eq!(
        echoed
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("client-chosen-42")
    );
}

async fn dutch_messages(app: TestApp) {
    let token = app.owner().await;
    let dutch = |path: &str, body: Option<Value>| {
        let mut request = app
            .client
            .request(
                if body.is_some() {
                    reqwest::Method::POST
                } else {
                    reqwest::Method::GET
                },
                format!("{}{path}", app.base),
            )
            .bearer_auth(&token)
            .header("Accept-Language", "nl-NL,nl;q=0.9,en;q=0.5");
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let response = dutch("/api/customer", Some(json!({"email": "fout"})))
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response
            .headers()
            .get("content-language")
            .and_then(|v| v.to_str().ok()),
        Some("nl")
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["message"],
        "Het veld naam is verplicht. (en nog 1 fout)"
    );
    assert_eq!(
        body["errors"]["email"][0],
        "Het veld e-mailadres moet een geldig e-mailadres zijn."
    );

    let body: Value = dutch("/api/customer/77", None)
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(body["message"], "Er bestaat geen klant met id 77.");
    let body: Value = dutch("/api/customer?limit=x", None)
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        body["message"],
        "De parameter limit moet een geheel getal van 0 tot 1000 zijn; 'x' is dat niet."
    );

    let english = app
        .client
        .get(format!("{}/api/customer", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(
        english
            .headers()
            .get("content-language")
            .and_then(|v| v.to_str().ok()),
        Some("en")
    );
}

/// Issue "One model, two dialects" 27: without `Accept-Language`, a caller's errors come in its
/// company's `locale` setting (Dutch by default, as the setting says), English before the
/// caller is known; `Accept-Language` still wins.
async fn a_request_without_a_language_gets_its_companys_locale(app: TestApp) {
    let token = app.owner().await;
    // A client that names no language (the tests' own asks for English).
    let plain = reqwest::Client::new();
    let send = |language: Option<&'static str>, bearer: bool| {
        let mut request = plain
            .post(format!("{}/api/customer", app.base))
            .json(&json!({"email": "not an email"}));
        if bearer {
            request = request.bearer_auth(&token);
        }
        if let Some(language) = language {
            request = request.header("accept-language", language);
        }
        async move {
            let response = request.send().await.expect("a response");
            let language = response.headers()["content-language"]
                .to_str()
                .unwrap_or("")
                .to_string();
            let body: Value = response.json().await.expect("JSON");
            (language, body["message"].as_str().unwrap_or("").to_string())
        }
    };
    let (language, message) = send(None, true).await;
    assert_eq!(language, "nl", "{message}");
    assert!(message.contains("veld"), "Dutch: {message}");
    let (language, _) = send(None, false).await;
    assert_eq!(language, "en", "no caller yet: English");

    app.expect(
        StatusCode::OK,
        "PATCH",
        &token,
        "/api/setting",
        Some(json!({"locale": "en"})),
    )
    .await;
    let (language, message) = send(None, true).await;
    assert_eq!(language, "en", "{message}");
    assert!(message.contains("field"), "English: {message}");
    let (language, message) = send(Some("nl"), true).await;
    assert_eq!(language, "nl", "Accept-Language wins: {message}");
}
