//! The OAuth 2.0 authorization server through HTTP (`spec/cirqll.md` §7; security plan T01–T07,
//! T09): the consent page, the code flow with PKCE, refresh rotation with replay detection,
//! client credentials, revocation, and every refusal in RFC 6749's words.

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{Backend, Browser, TestApp, available, encode};

/// A token request's form fields.
type Fields<'a> = Vec<(&'a str, &'a str)>;

const REDIRECT: &str = "https://app.test/cb";
const VERIFIER: &str = "a-very-long-code-verifier-of-at-least-forty-three-characters-1234";
const EMAIL: &str = "owner@acme.test";
const PASSWORD: &str = "password123";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

struct Oauth {
    app: TestApp,
    client_id: String,
    secret: String,
    http: reqwest::Client,
}

impl Oauth {
    async fn new() -> Oauth {
        Self::on(Backend::Sqlite).await.unwrap()
    }

    async fn on(backend: Backend) -> Option<Oauth> {
        let app = TestApp::spawn(backend).await?;
        app.user_with_email("Acme", "company_owner", EMAIL).await;
        let client = kring_server::oauth::clients::create(
            &app.db,
            EMAIL,
            "Zapier",
            &[REDIRECT.to_string(), "http://127.0.0.1:9999/cb".to_string()],
            false,
        )
        .await
        .unwrap();
        kring_server::install_tls_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Some(Oauth {
            client_id: client["client_id"].as_str().unwrap().to_string(),
            secret: client["client_secret"].as_str().unwrap().to_string(),
            app,
            http,
        })
    }

    fn authorize_query(&self, redirect: &str, extra: &[(&str, &str)]) -> String {
        let challenge = challenge(VERIFIER);
        let mut fields = vec![
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", "customers:read customers:write"),
            ("state", "xyz"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in extra {
            fields.retain(|(n, _)| n != name);
            if !value.is_empty() {
                fields.push((name, value));
            }
        }
        form(&fields)
    }

    /// Loads the consent page; returns status, headers, body, the CSRF cookie and form token.
    async fn page(&self, query: &str) -> (StatusCode, HeaderMap, String, String) {
        let response = self
            .http
            .get(format!("{}/oauth/authorize?{query}", self.app.base))
            .send()
            .await
            .unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.text().await.unwrap();
        let csrf = headers
            .get("set-cookie")
            .and_then(|c| c.to_str().ok())
            .and_then(|c| c.split(';').next())
            .and_then(|c| c.strip_prefix("kring_csrf="))
            .unwrap_or("")
            .to_string();
        (status, headers, body, csrf)
    }

    /// Submits the consent form as a browser would: the CSRF cookie, and the form's token.
    async fn submit(&self, query: &str, csrf: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.submit_token(query, csrf, csrf, fields).await
    }

    async fn submit_token(
        &self,
        query: &str,
        csrf: &str,
        token: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.submit_from(&self.http, query, csrf, token, fields)
            .await
    }

    /// The consent form sent by `http` (a client from another address, say).
    async fn submit_from(
        &self,
        http: &reqwest::Client,
        query: &str,
        csrf: &str,
        token: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut body = format!("{query}&_token={token}");
        if !fields.is_empty() {
            body.push('&');
            body.push_str(&form(fields));
        }
        http.post(format!("{}/oauth/authorize", self.app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("kring_csrf={csrf}"))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// The full browser half of the flow: the code the client receives.
    async fn code(&self) -> String {
        let query = self.authorize_query(REDIRECT, &[]);
        let (status, _, _, csrf) = self.page(&query).await;
        assert_eq!(status, StatusCode::OK);
        let response = self
            .submit(
                &query,
                &csrf,
                &[
                    ("email", EMAIL),
                    ("password", PASSWORD),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.starts_with(&format!("{REDIRECT}?code=")),
            "{location}"
        );
        assert!(location.ends_with("&state=xyz"), "{location}");
        location
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("code="))
            .unwrap()
            .to_string()
    }

    async fn token(&self, fields: &[(&str, &str)]) -> (StatusCode, HeaderMap, Value) {
        let response = self
            .http
            .post(format!("{}/oauth/token", self.app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(fields))
            .send()
            .await
            .unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.json().await.unwrap())
    }

    async fn exchange(&self, code: &str) -> (StatusCode, HeaderMap, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &self.client_id),
            ("client_secret", &self.secret),
            ("redirect_uri", REDIRECT),
            ("code", code),
            ("code_verifier", VERIFIER),
        ])
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> (StatusCode, HeaderMap, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &self.client_id),
            ("client_secret", &self.secret),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    async fn api(&self, token: &str) -> StatusCode {
        self.app.get(token, "/api/customer").await.0
    }
}

#[tokio::test]
async fn authorization_code_flow_with_pkce_end_to_end() {
    let oauth = Oauth::new().await;
    let code = oauth.code().await;
    let (status, headers, tokens) = oauth.exchange(&code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "customers:read customers:write");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(oauth.api(access).await, StatusCode::OK);
    let (status, _) = oauth.app.get(access, "/api/contact").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the scopes granted");

    // T06: refresh rotates; replaying the old refresh token revokes the whole grant.
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let (status, _, renewed) = oauth.refresh(&first_refresh).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let new_access = renewed["access_token"].as_str().unwrap().to_string();
    let new_refresh = renewed["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, first_refresh);
    assert_eq!(oauth.api(&new_access).await, StatusCode::OK);
    let (status, _, error) = oauth.refresh(&first_refresh).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        oauth.api(&new_access).await,
        StatusCode::UNAUTHORIZED,
        "the family is revoked"
    );
    let (status, _, _) = oauth.refresh(&new_refresh).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "even the newest refresh token"
    );
}

#[tokio::test]
async fn t05_a_code_works_once_and_only_for_its_client_and_uri() {
    let oauth = Oauth::new().await;
    let code = oauth.code().await;
    let (_, _, tokens) = oauth.exchange(&code).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let (status, _, error) = oauth.exchange(&code).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        oauth.api(&access).await,
        StatusCode::UNAUTHORIZED,
        "a replayed code revokes its tokens"
    );

    let code = oauth.code().await;
    let (status, _, error) = oauth
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &oauth.client_id),
            ("client_secret", &oauth.secret),
            ("redirect_uri", "http://127.0.0.1:9999/cb"),
            ("code", &code),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "another redirect URI"
    );
    let other = kring_server::oauth::clients::create(
        &oauth.app.db,
        EMAIL,
        "Other",
        &[REDIRECT.into()],
        false,
    )
    .await
    .unwrap();
    let (status, _, error) = oauth
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", other["client_id"].as_str().unwrap()),
            ("client_secret", other["client_secret"].as_str().unwrap()),
            ("redirect_uri", REDIRECT),
            ("code", &code),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "another client"
    );
}

#[tokio::test]
async fn t01_t02_t03_the_token_endpoint_refuses_in_rfc_6749_terms() {
    let oauth = Oauth::new().await;
    let id = oauth.client_id.clone();
    let secret = oauth.secret.clone();
    let code = oauth.code().await;
    let cases: Vec<(Fields, StatusCode, &str)> = vec![
        (
            vec![("client_id", &id)],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            vec![("grant_type", "magic"), ("client_id", &id)],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", &id),
                ("username", EMAIL),
                ("password", PASSWORD),
            ],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("client_secret", "wrong"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("code", "nope"),
                ("redirect_uri", REDIRECT),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("refresh_token", "nope"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "wrong-verifier-wrong-verifier-wrong-verifier-wrong",
                ),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "customers:fly"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
    ];
    for (fields, status, error) in cases {
        let (got, headers, body) = oauth.token(&fields).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{fields:?}: {body}"
        );
        assert_eq!(headers["cache-control"], "no-store", "{fields:?}");
        assert!(body["error_description"].is_string() && body["message"].is_string());
    }
    // The hint names a scope-shaped unknown scope, and never reflects anything else (T62).
    for (scope, named) in [
        ("customers:fly", true),
        ("<img/src=x/onerror=alert(1)>", false),
    ] {
        let fields = [
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", scope),
        ];
        let (_, _, body) = oauth.token(&fields).await;
        assert_eq!(body["error"], "invalid_scope", "{body}");
        assert_eq!(body.to_string().contains(scope), named, "{body}");
    }
    // T02: a wrong secret through HTTP Basic is challenged the same way.
    let response = oauth
        .http
        .post(format!("{}/oauth/token", oauth.app.base))
        .basic_auth(&id, Some("wrong"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"OAuth\""
    );
    // Client credentials act as the client's owner, within the scopes asked for.
    let (status, _, tokens) = oauth
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "customers:read"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens.get("refresh_token").is_none());
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(oauth.api(access).await, StatusCode::OK);
    let (status, _) = oauth
        .app
        .post(access, "/api/customer", json!({"name": "X"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn t03_t04_the_consent_page_checks_before_it_redirects() {
    let oauth = Oauth::new().await;
    // T04: near misses of the registered URI are answered here, never redirected to.
    for redirect in [
        "https://app.test/cb/",
        "https://app.test/cb?x=1",
        "https://APP.test/cb",
        "https://app.test.evil.com/cb",
        "https://app.test@evil.com/cb",
        "http://app.test/cb",
        "https://app.test/cb#frag",
    ] {
        let (status, headers, body, _) = oauth.page(&oauth.authorize_query(redirect, &[])).await;
        // As League (Passport's server) answers: an unregistered redirect fails the client.
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{redirect}: {body}");
        assert!(body.contains("invalid_client"), "{redirect}: {body}");
        assert!(headers.get("location").is_none(), "{redirect}");
    }
    let (status, _, _, _) = oauth
        .page(&format!(
            "client_id=999&redirect_uri={REDIRECT}&response_type=code"
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unknown client");
    // T03: PKCE is required, and only S256. Malformed requests are answered here, never by
    // redirecting before the user did anything (no open redirect through self-made clients).
    for (extra, code) in [
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "customers:fly")], "invalid_scope"),
    ] {
        let (status, headers, body, _) = oauth.page(&oauth.authorize_query(REDIRECT, &extra)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(headers.get("location").is_none(), "{extra:?}");
        assert!(body.contains(code), "{extra:?}: {body}");
    }
    // Each code carries its own description, not the server error's.
    let (_, _, body, _) = oauth
        .page(&oauth.authorize_query(REDIRECT, &[("response_type", "token")]))
        .await;
    assert!(
        body.contains("does not support obtaining an authorization code"),
        "{body}"
    );
    // A loopback redirect may come back on any port (RFC 8252 §7.3); nothing else may vary.
    let (status, _, _, _) = oauth
        .page(&oauth.authorize_query("http://127.0.0.1:12345/cb", &[]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _, _) = oauth
        .page(&oauth.authorize_query("http://127.0.0.1:12345/other", &[]))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_consent_form_needs_its_csrf_token_and_the_right_password() {
    let oauth = Oauth::new().await;
    let query = oauth.authorize_query(REDIRECT, &[]);
    let (status, headers, body, csrf) = oauth.page(&query).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Zapier") && body.contains("customers:write"),
        "{body}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    let approve = [
        ("email", EMAIL),
        ("password", PASSWORD),
        ("decision", "approve"),
    ];
    let response = oauth.submit_token(&query, &csrf, "forged", &approve).await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a forged form is refused"
    );
    assert!(response.headers().get("location").is_none());

    let wrong = [
        ("email", EMAIL),
        ("password", "wrong-password"),
        ("decision", "approve"),
    ];
    let response = oauth.submit(&query, &csrf, &wrong).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("These credentials do not match our records.")
    );

    let response = oauth.submit(&query, &csrf, &[("decision", "deny")]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{REDIRECT}?error=access_denied")),
        "{location}"
    );
    assert!(location.ends_with("&state=xyz"));

    let response = oauth
        .http
        .get(format!("{}/oauth/authorize?{query}", oauth.app.base))
        .header("accept-language", "nl")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Inloggen en toestaan"),
        "the page speaks Dutch"
    );
}

#[tokio::test]
async fn t09_revocation_kills_the_grant_and_reveals_nothing() {
    let oauth = Oauth::new().await;
    let (_, _, tokens) = oauth.exchange(&oauth.code().await).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let revoke = |token: String, id: String, secret: String| {
        let http = oauth.http.clone();
        let url = format!("{}/oauth/revoke", oauth.app.base);
        async move {
            http.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[
                    ("token", &token),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ]))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let other = kring_server::oauth::clients::create(
        &oauth.app.db,
        EMAIL,
        "Other",
        &[REDIRECT.into()],
        false,
    )
    .await
    .unwrap();
    let status = revoke(
        refresh.to_string(),
        other["client_id"].as_str().unwrap().into(),
        other["client_secret"].as_str().unwrap().into(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another client's token: 200, and nothing happens"
    );
    assert_eq!(oauth.api(access).await, StatusCode::OK);
    assert_eq!(
        revoke(
            "unknown".into(),
            oauth.client_id.clone(),
            oauth.secret.clone()
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        revoke(refresh.into(), oauth.client_id.clone(), "wrong".into()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        revoke(
            refresh.into(),
            oauth.client_id.clone(),
            oauth.secret.clone()
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        oauth.api(access).await,
        StatusCode::UNAUTHORIZED,
        "the access token went with it"
    );
    let (status, _, _) = oauth.refresh(refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// T14: the metadata names the endpoints the router serves, PKCE S256 only, no implicit or
/// password grant.
#[tokio::test]
async fn t14_authorization_server_metadata() {
    let oauth = Oauth::new().await;
    let response = oauth
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            oauth.app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.unwrap();
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    let grants = metadata["grant_types_supported"].as_array().unwrap();
    assert!(!grants.contains(&json!("password")) && !grants.contains(&json!("implicit")));
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
    ] {
        let url = metadata[endpoint].as_str().unwrap();
        let path = url.split_once("://").unwrap().1.split_once('/').unwrap().1;
        let response = oauth
            .http
            .get(format!("{}/{path}", oauth.app.base))
            .send()
            .await
            .unwrap();
        assert_ne!(
            response.status(),
            StatusCode::NOT_FOUND,
            "{endpoint} is routed"
        );
    }
}

/// T15: Authlib, an OAuth client written by others, runs the code flow with PKCE, calls the
/// API, refreshes and revokes, unmodified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t15_authlib_interop() {
    let python = std::process::Command::new("python3")
        .args(["-c", "import authlib, requests"])
        .status()
        .is_ok_and(|s| s.success());
    if !available("python3 with authlib and requests", python) {
        return;
    }
    let oauth = Oauth::new().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/authlib_flow.py");
    let base = oauth.app.base.clone();
    let (id, secret) = (oauth.client_id.clone(), oauth.secret.clone());
    let output = tokio::process::Command::new("python3")
        .args([script, &base, &id, &secret, EMAIL, PASSWORD, REDIRECT])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "authlib: {stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report,
        json!({"page": 200, "approved": 302, "state_returned": true, "token_type": "Bearer",
               "api": 200, "refreshed": true, "after_refresh": 200, "revoked": 200,
               "after_revoke": 401}),
        "{stderr}"
    );
}

/// The whole authorization-code flow in a real browser: Chromium opens the consent page, a
/// person's email and password are typed, Approve is clicked, and the browser lands on the
/// client's (loopback) redirect URI with a code that the client then exchanges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_code_flow_in_a_real_browser() {
    if !Browser::installed() {
        return;
    }
    // The client's redirect target: a listener on loopback that keeps what it receives.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect = format!(
        "http://127.0.0.1:{}/cb",
        listener.local_addr().unwrap().port()
    );
    let (sender, received) = tokio::sync::oneshot::channel::<String>();
    let sender = std::sync::Arc::new(std::sync::Mutex::new(Some(sender)));
    let app = axum::Router::new().route(
        "/cb",
        axum::routing::get(move |uri: axum::http::Uri| async move {
            if let Some(sender) = sender.lock().unwrap().take() {
                let _ = sender.send(uri.query().unwrap_or("").to_string());
            }
            "You may close this window."
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let oauth = Oauth::new().await;
    let client = kring_server::oauth::clients::create(
        &oauth.app.db,
        EMAIL,
        "Desktop app",
        std::slice::from_ref(&redirect),
        true,
    )
    .await
    .unwrap();
    let client_id = client["client_id"].as_str().unwrap();
    let challenge = challenge(VERIFIER);
    let url = format!(
        "{}/oauth/authorize?{}",
        oauth.app.base,
        form(&[
            ("client_id", client_id),
            ("redirect_uri", &redirect),
            ("response_type", "code"),
            ("scope", "customers:read"),
            ("state", "browser-state"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );
    let browser = Browser::start(&[]).await;
    browser.visit(&url).await;
    browser.type_into("input[name=email]", EMAIL).await;
    browser.type_into("input[name=password]", PASSWORD).await;
    browser.click("button[value=approve]").await;
    let query = tokio::time::timeout(std::time::Duration::from_secs(20), received)
        .await
        .expect("the browser reaches the redirect URI")
        .unwrap();
    browser.quit().await;
    assert!(query.ends_with("state=browser-state"), "{query}");
    let code = query
        .split('&')
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_string();
    // A public client: no secret, the verifier proves it started the flow.
    let (status, _, tokens) = oauth
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("redirect_uri", &redirect),
            ("code", &code),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        oauth.api(tokens["access_token"].as_str().unwrap()).await,
        StatusCode::OK
    );
}

/// Passport's JSON API for the signed-in user's clients and authorized tokens.
#[tokio::test]
async fn users_manage_their_clients_and_tokens() {
    let oauth = Oauth::new().await;
    let owner = oauth
        .app
        .user_with_email("Acme", "company_owner", "dev@acme.test")
        .await;
    let stranger = oauth.app.owner().await;
    let (status, created) = oauth
        .app
        .post(
            &owner,
            "/oauth/clients",
            json!({"name": "CLI", "redirect": "http://127.0.0.1:8000/cb"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(
        created["secret"].as_str().is_some_and(|s| s.len() > 30),
        "the secret, once"
    );
    let id = created["id"].as_str().unwrap().to_string();
    let (_, listed) = oauth.app.get(&owner, "/oauth/clients").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("secret").is_none(), "never again");
    let (status, error) = oauth
        .app
        .post(
            &owner,
            "/oauth/clients",
            json!({"name": "", "redirect": "ftp://x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["errors"]["name"].is_array() && error["errors"]["redirect"].is_array());
    let path = format!("/oauth/clients/{id}");
    let (status, updated) = oauth
        .app
        .send(
            "PUT",
            Some(&owner),
            &path,
            Some(json!({"name": "CLI 2", "redirect": "https://cli.test/cb"})),
        )
        .await;
    assert_eq!(
        (status, updated["name"].as_str()),
        (StatusCode::OK, Some("CLI 2"))
    );
    let (status, _) = oauth
        .app
        .send(
            "PUT",
            Some(&stranger),
            &path,
            Some(json!({"name": "x", "redirect": "https://x.test"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another user's client");

    // The owner's authorized tokens, and revoking one.
    let (_, _, tokens) = oauth.exchange(&oauth.code().await).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let owner_token = oauth
        .app
        .user_with_email("Acme", "company_owner", "again@acme.test")
        .await;
    let (_, listed) = oauth.app.get(&owner_token, "/oauth/tokens").await;
    assert_eq!(listed, json!([]), "only the signed-in user's tokens");
    let pat = kring_server::admin::create_token(&oauth.app.db, EMAIL, "pat")
        .await
        .unwrap();
    let (_, listed) = oauth.app.get(&pat, "/oauth/tokens").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["client"]["name"], "Zapier");
    let token_id = listed[0]["id"].as_str().unwrap();
    let (status, _) = oauth
        .app
        .delete(&pat, &format!("/oauth/tokens/{token_id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(oauth.api(&access).await, StatusCode::UNAUTHORIZED);

    // A token the client holds is refused once the client is deleted, though it has just
    // answered (and its principal is remembered).
    let secret = created["secret"].as_str().unwrap();
    let (status, _, granted) = oauth
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret),
            ("scope", "customers:read"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{granted}");
    let client_token = granted["access_token"].as_str().unwrap().to_string();
    assert_eq!(oauth.api(&client_token).await, StatusCode::OK);

    let (status, _) = oauth.app.delete(&owner, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(oauth.api(&client_token).await, StatusCode::UNAUTHORIZED);
    let (_, listed) = oauth.app.get(&owner, "/oauth/clients").await;
    assert_eq!(listed, json!([]));

    // An app's token, or a narrow personal one, cannot mint itself a client.
    let (_, _, tokens) = oauth.exchange(&oauth.code().await).await;
    let app_token = tokens["access_token"].as_str().unwrap();
    let narrow =
        kring_server::admin::create_token_with_scopes(&oauth.app.db, EMAIL, "n", "customers:read")
            .await
            .unwrap();
    for token in [app_token, narrow.as_str()] {
        let (status, _) = oauth
            .app
            .post(
                token,
                "/oauth/clients",
                json!({"name": "Mine", "redirect": "https://x.test/cb"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            oauth.app.get(token, "/oauth/tokens").await.0,
            StatusCode::FORBIDDEN
        );
    }
}

/// T11: after a whole session, no raw token, refresh token, client secret or password is in
/// the database file; passwords are argon2id with OWASP's parameters.
#[tokio::test]
async fn t11_no_secret_is_stored_in_the_clear() {
    let oauth = Oauth::new().await;
    let (_, _, tokens) = oauth.exchange(&oauth.code().await).await;
    let (_, _, renewed) = oauth
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .await;
    let pat = kring_server::admin::create_token(&oauth.app.db, EMAIL, "pat")
        .await
        .unwrap();
    let secrets = [
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
        renewed["access_token"].as_str().unwrap(),
        renewed["refresh_token"].as_str().unwrap(),
        oauth.secret.as_str(),
        pat.as_str(),
        PASSWORD,
    ];
    let path = oauth.app.sqlite_path().expect("a SQLite test database");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(format!("{}-wal", path.display())).unwrap_or_default());
    for secret in secrets {
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "{secret} is stored in the clear");
    }
    let hashes = oauth
        .app
        .query(
            "SELECT password FROM users",
            &[kring_core::schema::ColumnType::Text],
        )
        .await;
    for row in hashes {
        let kring_core::Value::Text(hash) = &row[0] else {
            panic!()
        };
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }
}

/// T12: guessing client secrets from one address is cut off.
#[tokio::test]
async fn t12_guessing_secrets_meets_429() {
    let oauth = Oauth::new().await;
    let mut statuses = Vec::new();
    for i in 0..40 {
        let guess = format!("guess-{i}");
        let (status, headers, _) = oauth
            .token(&[
                ("grant_type", "client_credentials"),
                ("client_id", &oauth.client_id),
                ("client_secret", &guess),
            ])
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(headers.get("retry-after").is_some());
        }
        statuses.push(status);
    }
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(
        refused <= 30 && limited >= 10,
        "{refused} refused, {limited} throttled"
    );
}

/// T05 and T07: an expired code and an expired access token are refused.
#[tokio::test]
async fn expired_codes_and_tokens_are_refused() {
    let oauth = Oauth::new().await;
    let code = oauth.code().await;
    let mut tx = oauth.app.db.begin().await.unwrap();
    let past = chrono::Utc::now() - chrono::Duration::minutes(11);
    tx.execute(&kring_server::db::Raw::new(
        "UPDATE oauth_codes SET expires_at = ?",
        vec![past.into()],
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (status, _, error) = oauth.exchange(&code).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let (_, _, tokens) = oauth.exchange(&oauth.code().await).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(oauth.api(access).await, StatusCode::OK);
    let mut tx = oauth.app.db.begin().await.unwrap();
    // The token just answered, so its principal is remembered until its real expiry; this
    // edit stands in for the passing hour, and says what it changes as Kring's own would.
    tx.changes_access();
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    tx.execute(&kring_server::db::Raw::new(
        "UPDATE personal_access_tokens SET expires_at = ? WHERE client_id IS NOT NULL",
        vec![past.into()],
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let response = oauth
        .http
        .get(format!("{}/api/customer", oauth.app.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"kring\", error=\"invalid_token\""
    );
}

/// T08: every route of every resource needs its scope: a token with every other scope is
/// refused, a token with just that one is let through.
#[tokio::test]
async fn t08_scope_matrix_over_the_registry() {
    use kring_server::registry::{Action, REGISTRY, Routes};
    let oauth = Oauth::new().await;
    let all: Vec<String> = kring_server::auth::all_scopes()
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| id != "*")
        .collect();
    let mut cells = 0;
    for def in REGISTRY.iter().filter(|d| d.routes == Routes::Crud) {
        for (action, method, path) in [
            (Action::View, "GET", format!("/api/{}", def.name)),
            (Action::Create, "POST", format!("/api/{}", def.name)),
            (Action::Update, "PATCH", format!("/api/{}/999999", def.name)),
            (
                Action::Delete,
                "DELETE",
                format!("/api/{}/999999", def.name),
            ),
        ] {
            let needed = def.scope(action);
            let others: Vec<&str> = all
                .iter()
                .map(String::as_str)
                .filter(|s| *s != needed)
                .collect();
            let lacking = kring_server::admin::create_token_with_scopes(
                &oauth.app.db,
                EMAIL,
                "t",
                &others.join(" "),
            )
            .await
            .unwrap();
            let holding =
                kring_server::admin::create_token_with_scopes(&oauth.app.db, EMAIL, "t", &needed)
                    .await
                    .unwrap();
            let (status, _) = oauth
                .app
                .send(method, Some(&lacking), &path, Some(json!({})))
                .await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {path} without {needed}"
            );
            let (status, body) = oauth
                .app
                .send(method, Some(&holding), &path, Some(json!({})))
                .await;
            assert!(
                status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                "{method} {path} with {needed}: {status} {body}"
            );
            cells += 2;
        }
    }
    assert!(cells >= 120, "{cells} cells");
}

/// Passport's deny is `DELETE /oauth/authorize`; the token endpoint takes JSON as well as forms.
#[tokio::test]
async fn delete_denies_and_json_token_requests_work() {
    let oauth = Oauth::new().await;
    let query = oauth.authorize_query(REDIRECT, &[]);
    let (_, _, _, csrf) = oauth.page(&query).await;
    let response = oauth
        .http
        .delete(format!("{}/oauth/authorize", oauth.app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("kring_csrf={csrf}"))
        .body(format!("{query}&_token={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{REDIRECT}?error=access_denied")),
        "{location}"
    );

    let code = oauth.code().await;
    let response = oauth
        .http
        .post(format!("{}/oauth/token", oauth.app.base))
        .json(&json!({
            "grant_type": "authorization_code", "client_id": oauth.client_id,
            "client_secret": oauth.secret, "redirect_uri": REDIRECT, "code": code,
            "code_verifier": VERIFIER,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
}

/// Concurrent exchanges of one code, or of one refresh token, on PostgreSQL (where they really
/// run side by side): exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_and_a_refresh_token_are_single_use_under_concurrency() {
    let Some(oauth) = Oauth::on(Backend::Postgres).await else {
        eprintln!("KRING_TEST_POSTGRES_URL is not set: test skipped");
        return;
    };
    let oauth = std::sync::Arc::new(oauth);
    let code = oauth.code().await;
    let mut racers = Vec::new();
    for _ in 0..6 {
        let (oauth, code) = (oauth.clone(), code.clone());
        racers.push(tokio::spawn(async move { oauth.exchange(&code).await }));
    }
    let mut won = 0;
    for racer in racers {
        if racer.await.unwrap().0 == StatusCode::OK {
            won += 1;
        }
    }
    assert_eq!(won, 1, "one exchange of a code succeeds");
    // The losers' replays revoked the winner's grant too; race a fresh grant's refresh token.
    let (_, _, tokens) = oauth.exchange(&oauth.code().await).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let mut racers = Vec::new();
    for _ in 0..6 {
        let (oauth, refresh) = (oauth.clone(), refresh.clone());
        racers.push(tokio::spawn(async move { oauth.refresh(&refresh).await.0 }));
    }
    let mut won = 0;
    for racer in racers {
        if racer.await.unwrap() == StatusCode::OK {
            won += 1;
        }
    }
    assert!(won <= 1, "at most one refresh succeeds ({won})");
}

/// Low 11: wrong passwords from one address throttle that address for the account, not the
/// account everywhere: its owner still signs in from elsewhere.
#[tokio::test]
async fn failures_from_elsewhere_do_not_lock_the_owner_out() {
    let oauth = Oauth::new().await;
    let attacker = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let query = oauth.authorize_query(REDIRECT, &[]);
    let (_, _, _, csrf) = oauth.page(&query).await;
    let sign_in = |password: &'static str| {
        [
            ("email", EMAIL),
            ("password", password),
            ("decision", "approve"),
        ]
    };
    let mut statuses = Vec::new();
    for _ in 0..kring_server::oauth::authorize::LOGIN_ATTEMPTS_PER_MINUTE + 2 {
        let response = oauth
            .submit_from(&attacker, &query, &csrf, &csrf, &sign_in("wrong-password"))
            .await;
        statuses.push(response.status());
    }
    assert_eq!(statuses.first(), Some(&StatusCode::UNPROCESSABLE_ENTITY));
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // The right password from the attacker's address is throttled too...
    let response = oauth
        .submit_from(&attacker, &query, &csrf, &csrf, &sign_in(PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...while the owner, elsewhere, signs in.
    let code = oauth.code().await;
    assert!(!code.is_empty());
}

/// Low 10: a user's address is unique within its company only, so creating one tells nothing
/// about other companies; the consent page signs in to the account whose password fits, and
/// says so when one password fits accounts in two companies.
#[tokio::test]
async fn an_address_another_company_holds_is_free_here() {
    let oauth = Oauth::new().await;
    let app = &oauth.app;
    let other = app.user("Other Co", "company_owner").await;
    let (_, roles) = app
        .get(&other, "/api/role?filter=name:eq:company_viewer")
        .await;
    let viewer = roles["data"][0]["id"].clone();
    let user = |password: &str| json!({"name": "Same", "email": EMAIL, "password": password, "role_id": viewer});
    let (status, body) = app.post(&other, "/api/user", user("other-password")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Within one company the address is still taken.
    let (status, body) = app.post(&other, "/api/user", user("third-password")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"]["email"][0],
        "The email has already been taken."
    );

    // Each password opens its own account; a wrong one opens none.
    let query = oauth.authorize_query(REDIRECT, &[]);
    let (_, _, _, csrf) = oauth.page(&query).await;
    let sign_in = |password: &'static str| {
        [
            ("email", EMAIL),
            ("password", password),
            ("decision", "approve"),
        ]
    };
    for (password, status) in [
        (PASSWORD, StatusCode::FOUND),
        ("other-password", StatusCode::FOUND),
        ("neither-password", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let response = oauth.submit(&query, &csrf, &sign_in(password)).await;
        assert_eq!(response.status(), status, "{password}");
    }

    // One password that fits accounts in two companies does not choose between them.
    let third = app.user("Third Co", "company_owner").await;
    let (_, roles) = app
        .get(&third, "/api/role?filter=name:eq:company_viewer")
        .await;
    let body = json!({"name": "Same", "email": EMAIL, "password": PASSWORD, "role_id": roles["data"][0]["id"]});
    let (status, body) = app.post(&third, "/api/user", body).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let response = oauth.submit(&query, &csrf, &sign_in(PASSWORD)).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("more than one company"), "{page}");
}

/// Issue "One model, two dialects" 19: every OAuth route names the methods it answers.
#[tokio::test]
async fn oauth_routes_name_their_own_methods() {
    let oauth = Oauth::new().await;
    for (method, path, allowed) in [
        ("GET", "/oauth/token", "POST"),
        ("PUT", "/oauth/revoke", "POST"),
        ("PATCH", "/oauth/authorize", "GET, HEAD, POST, DELETE"),
        ("DELETE", "/oauth/clients", "GET, HEAD, POST"),
        ("GET", "/oauth/clients/1", "PUT, DELETE"),
        ("POST", "/oauth/tokens", "GET, HEAD"),
        ("GET", "/oauth/tokens/1", "DELETE"),
        (
            "POST",
            "/.well-known/oauth-authorization-server",
            "GET, HEAD",
        ),
        ("POST", "/api/files/abc", "GET, HEAD"),
    ] {
        let response = oauth
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", oauth.app.base),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(response.headers()["allow"], allowed, "{method} {path}");
    }
}

/// Issue "One model, two dialects" 18: failed client secrets are counted per client and
/// address; past the budget even the right secret gets a 429 there, while the client still
/// gets tokens from elsewhere.
#[tokio::test]
async fn a_clients_failed_secrets_are_limited_per_address() {
    let oauth = Oauth::new().await;
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 3]))
        .build()
        .unwrap();
    let attempt = |http: &reqwest::Client, secret: &str| {
        http.post(format!("{}/oauth/token", oauth.app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &oauth.client_id),
                ("client_secret", secret),
            ]))
            .send()
    };
    let budget = kring_server::oauth::grants::CLIENT_FAILURES_PER_MINUTE;
    for i in 0..budget {
        let response = attempt(&elsewhere, &format!("wrong-{i}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let response = attempt(&elsewhere, "wrong-again").await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    let response = attempt(&elsewhere, &oauth.secret).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the right secret too"
    );
    let response = attempt(&oauth.http, &oauth.secret).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "from another address");
}

/// Issue "One model, two dialects" 17: as in Passport, a confidential client may skip PKCE
/// (then its code takes no verifier); a public client may not, nor any client once the
/// operator requires PKCE of all.
#[tokio::test]
async fn pkce_is_optional_for_confidential_clients_as_in_passport() {
    let oauth = Oauth::new().await;
    let without = oauth.authorize_query(
        REDIRECT,
        &[("code_challenge", ""), ("code_challenge_method", "")],
    );
    let code = || async {
        let (status, _, body, csrf) = oauth.page(&without).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let approve = [
            ("email", EMAIL),
            ("password", PASSWORD),
            ("decision", "approve"),
        ];
        let response = oauth.submit(&without, &csrf, &approve).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        location
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("code="))
            .unwrap()
            .to_string()
    };
    let exchange = |code: String, verifier: Option<&'static str>| {
        let oauth = &oauth;
        async move {
            let mut fields = vec![
                ("grant_type", "authorization_code"),
                ("client_id", oauth.client_id.as_str()),
                ("client_secret", oauth.secret.as_str()),
                ("redirect_uri", REDIRECT),
                ("code", code.as_str()),
            ];
            fields.extend(verifier.map(|v| ("code_verifier", v)));
            let (status, _, body) = oauth.token(&fields).await;
            (status, body)
        }
    };
    let (status, body) = exchange(code().await, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = exchange(code().await, Some(VERIFIER)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");

    // A public client needs PKCE.
    let public = kring_server::oauth::clients::create(
        &oauth.app.db,
        EMAIL,
        "Browser app",
        &[REDIRECT.to_string()],
        true,
    )
    .await
    .unwrap();
    let query = without.replace(
        &format!("client_id={}", oauth.client_id),
        &format!("client_id={}", public["client_id"].as_str().unwrap()),
    );
    let (status, _, body, _) = oauth.page(&query).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("PKCE is required"), "{body}");

    // So does every client where the operator requires it.
    let strict = oauth.app.sibling(|c| c.require_pkce = true).await;
    let response = oauth
        .http
        .get(format!("{}/oauth/authorize?{without}", strict.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
