//! `GET /oauth/authorize`: the login and consent page (no JavaScript, CSRF-protected, English
//! and Dutch); `POST` approves (or, with `decision=deny`, denies); `DELETE` denies. Approval
//! redirects to the client with a single-use `code` and the client's `state`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{Duration, Utc};
use kring_core::i18n::{Locale, text};
use kring_core::query::parse_query_string;
use serde_json::Value as Json;

use super::clients::{self, Client, constant_time_eq};
use super::grants::throttle;
use super::{CODE_MINUTES, oauth_error, requested_scopes};
use crate::auth::{hash_password, random_secret, sha256_hex};
use crate::crypto::verify_password;
use crate::db::Raw;
use crate::error::{Error, OAuthCode};
use crate::http::json_body;
use crate::state::AppState;

/// Password attempts per minute for one account from one address. Counted per source, so
/// that failures elsewhere never lock an account's owner out.
pub const LOGIN_ATTEMPTS_PER_MINUTE: u64 = 10;
/// Password attempts per minute from one address over all accounts: the guard against one
/// source trying a password on many accounts, with room for an office behind one address.
pub const LOGIN_ATTEMPTS_PER_SOURCE: u64 = 30;

const CSRF_COOKIE: &str = "kring_csrf";

/// The parameters of an authorization request, as given.
type Params = HashMap<String, String>;

/// A checked authorization request.
struct Authorization {
    client: Client,
    redirect_uri: String,
    scopes: String,
    state: Option<String>,
    challenge: String,
}

fn locale(headers: &HeaderMap) -> Locale {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Locale::from_accept_language)
        .unwrap_or_default()
}

/// Where the user goes back to with `fields` added to the query.
fn back_to(redirect_uri: &str, fields: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut url = redirect_uri.to_string();
    let mut separator = if url.contains('?') { '&' } else { '?' };
    let state = state.map(|s| ("state", s));
    for (name, value) in fields.iter().copied().chain(state) {
        url.push(separator);
        url.push_str(name);
        url.push('=');
        url.push_str(&encode(value));
        separator = '&';
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn refuse(redirect: &Authorization, error: OAuthCode, description: &str) -> Response {
    back_to(
        &redirect.redirect_uri,
        &[
            ("error", error.as_str()),
            ("error_description", description),
        ],
        redirect.state.as_deref(),
    )
}

/// A malformed request is answered here rather than sent back to the client: before the user
/// has done anything, a redirect would make Kring an open redirector for any self-registered
/// client (RFC 9700 §4.11.2).
fn malformed(code: OAuthCode, hint: &str) -> Response {
    oauth_error(code, hint, false).into_response()
}

/// Checks an authorization request; every problem is answered on the spot (see [`malformed`]).
async fn check(state: &AppState, params: &Params) -> Result<Authorization, Response> {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let client = match get("client_id") {
        Some(id) => clients::find(&state.db, id)
            .await
            .map_err(IntoResponse::into_response)?,
        None => None,
    }
    .ok_or_else(|| oauth_error(OAuthCode::InvalidClient, "", false).into_response())?;
    let redirect_uri = match (get("redirect_uri"), client.redirects.as_slice()) {
        (Some(uri), _) if client.allows_redirect(uri) => uri.to_string(),
        (None, [only]) => only.clone(),
        // League (Passport's server) takes a redirect the client did not register as a
        // failed client authentication.
        _ => {
            let hint = "Check the `redirect_uri` parameter";
            return Err(oauth_error(OAuthCode::InvalidClient, hint, false).into_response());
        }
    };
    if get("response_type") != Some("code") {
        let hint = "Only codes are issued: send response_type=code";
        return Err(malformed(OAuthCode::UnsupportedResponseType, hint));
    }
    let scopes = requested_scopes(get("scope")).map_err(IntoResponse::into_response)?;
    // PKCE as Passport has it: required of public clients, optional for confidential ones
    // (which prove themselves with their secret) unless the operator requires it of all.
    // Only S256; a code issued without a challenge is stored with an empty one.
    let optional = client.confidential && !state.config.require_pkce;
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), Some("S256")) if challenge.len() == 43 => challenge.to_string(),
        (None, None) if optional => String::new(),
        _ => {
            let hint = "PKCE is required: send code_challenge with code_challenge_method=S256";
            return Err(malformed(OAuthCode::InvalidRequest, hint));
        }
    };
    Ok(Authorization {
        client,
        redirect_uri,
        scopes,
        state: get("state").map(str::to_string),
        challenge,
    })
}

fn query_params(request: &Request) -> Params {
    parse_query_string(request.uri().query().unwrap_or(""))
        .into_iter()
        .collect()
}

async fn form_params(state: &AppState, request: Request) -> Result<Params, Error> {
    let body = json_body(request, state.config.body_limit).await?;
    Ok(body
        .into_iter()
        .filter_map(|(k, v)| match v {
            Json::String(s) => Some((k, s)),
            _ => None,
        })
        .collect())
}

pub async fn show(State(state): State<AppState>, request: Request) -> Response {
    let params = query_params(&request);
    let locale = locale(request.headers());
    match check(&state, &params).await {
        Ok(authorization) => match random_secret() {
            Ok(csrf) => page(locale, &authorization, &params, &csrf, None, StatusCode::OK),
            Err(e) => e.into_response(),
        },
        Err(response) => response,
    }
}

pub async fn decide(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    answer(state, address, request, false)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn deny(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    answer(state, address, request, true)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn answer(
    state: AppState,
    address: SocketAddr,
    request: Request,
    denied: bool,
) -> Result<Response, Error> {
    let locale = locale(request.headers());
    let cookie = csrf_cookie(request.headers());
    let params = form_params(&state, request).await?;
    let authorization = match check(&state, &params).await {
        Ok(authorization) => authorization,
        Err(response) => return Ok(response),
    };
    let token = params.get("_token").map(String::as_str).unwrap_or("");
    let csrf_ok = cookie.is_some_and(|c| !c.is_empty() && constant_time_eq(&c, token));
    if !csrf_ok {
        return page_with_error(locale, &authorization, &params, "oauth.expired");
    }
    let denied = denied
        || params.get("decision").map(String::as_str) == Some("deny")
        || params
            .get("_method")
            .is_some_and(|m| m.eq_ignore_ascii_case("delete"));
    if denied {
        let description = "The resource owner or authorization server denied the request.";
        return Ok(refuse(&authorization, OAuthCode::AccessDenied, description));
    }
    throttle(&state, "login", address, LOGIN_ATTEMPTS_PER_SOURCE).await?;
    let email = params.get("email").map(String::as_str).unwrap_or("");
    let account = format!("login-email:{}", email.trim().to_lowercase());
    throttle(&state, &account, address, LOGIN_ATTEMPTS_PER_MINUTE).await?;
    let password = params.get("password").map(String::as_str).unwrap_or("");
    let user_id = match verify_login(&state, email, password).await? {
        Login::User(id) => id,
        Login::Wrong => {
            return page_with_error(locale, &authorization, &params, "oauth.bad_credentials");
        }
        Login::Ambiguous => {
            return page_with_error(locale, &authorization, &params, "oauth.ambiguous_account");
        }
    };
    let code = random_secret()?;
    let now = Utc::now();
    let mut tx = state.db.begin().await?;
    tx.execute(&Raw::new(
        "INSERT INTO oauth_codes (code_hash, client_id, user_id, scopes, redirect_uri, \
         code_challenge, family, used, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            sha256_hex(&code).into(),
            authorization.client.id.into(),
            user_id.into(),
            authorization.scopes.clone().into(),
            authorization.redirect_uri.clone().into(),
            authorization.challenge.clone().into(),
            random_secret()?.into(),
            false.into(),
            (now + Duration::minutes(CODE_MINUTES)).into(),
            now.into(),
        ],
    ))
    .await?;
    tx.commit().await?;
    Ok(back_to(
        &authorization.redirect_uri,
        &[("code", &code)],
        authorization.state.as_deref(),
    ))
}

/// How many accounts (one per company) one address can sign in to here: the oldest ones.
const ACCOUNTS_PER_EMAIL: usize = 3;

/// What an e-mail address and password open.
enum Login {
    User(i64),
    Wrong,
    /// Accounts in more than one company: which one the user meant is not known.
    Ambiguous,
}

/// Checks the password against every account of the address. Always the same number of
/// hashes (dummies where there are fewer accounts, side by side), so the time tells neither
/// whether the address exists nor how many companies hold it.
async fn verify_login(state: &AppState, email: &str, password: &str) -> Result<Login, Error> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("kring").unwrap_or_default());
    let accounts: Vec<(i64, String)> = state
        .db
        .fetch_as(&Raw::new(
            "SELECT id, password FROM users WHERE email = ? ORDER BY id LIMIT ?",
            vec![
                email.into(),
                i64::try_from(ACCOUNTS_PER_EMAIL).unwrap_or(1).into(),
            ],
        ))
        .await?;
    let checks: Vec<_> = (0..ACCOUNTS_PER_EMAIL)
        .map(|i| {
            let stored = accounts
                .get(i)
                .map_or_else(|| dummy.clone(), |(_, hash)| hash.clone());
            let password = password.to_string();
            tokio::spawn(async move { verify_password(&password, stored).await })
        })
        .collect();
    let mut matches = Vec::with_capacity(ACCOUNTS_PER_EMAIL);
    for check in checks {
        matches.push(check.await.unwrap_or(false));
    }
    let opened: Vec<i64> = accounts
        .iter()
        .zip(matches)
        .filter(|(_, matched)| *matched)
        .map(|((id, _), _)| *id)
        .collect();
    Ok(match opened.as_slice() {
        [] => Login::Wrong,
        [id] => Login::User(*id),
        _ => Login::Ambiguous,
    })
}

fn csrf_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == CSRF_COOKIE)
        .map(|(_, value)| value.to_string())
}

fn page_with_error(
    locale: Locale,
    authorization: &Authorization,
    params: &Params,
    error: &'static str,
) -> Result<Response, Error> {
    let csrf = random_secret()?;
    Ok(page(
        locale,
        authorization,
        params,
        &csrf,
        Some(error),
        StatusCode::UNPROCESSABLE_ENTITY,
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The login and consent form. Every request parameter travels in hidden fields, so the POST
/// is checked exactly like the GET was.
fn page(
    locale: Locale,
    authorization: &Authorization,
    params: &Params,
    csrf: &str,
    error: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let t = |key: &str| escape(text(locale, key));
    let client = escape(&authorization.client.name);
    let mut hidden = String::new();
    for name in [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    ] {
        if let Some(value) = params.get(name) {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(value)
            ));
        }
    }
    let scopes: String = authorization
        .scopes
        .split_whitespace()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    let error = error
        .map(|key| format!("<p class=\"error\" role=\"alert\">{}</p>", t(key)))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:26rem;\
         margin:3rem auto;padding:0 1rem}}label{{display:block;margin-top:1rem}}\
         input[type=email],input[type=password]{{width:100%;padding:.5rem}}\
         button{{margin-top:1.5rem;margin-right:.5rem;padding:.5rem 1.2rem}}\
         .error{{color:#a00}}</style></head><body>\
         <h1>{title}</h1><p>{asks}</p><ul>{scopes}</ul>{error}\
         <form method=\"post\" action=\"/oauth/authorize\">{hidden}\
         <input type=\"hidden\" name=\"_token\" value=\"{csrf}\">\
         <label>{email_label}<input type=\"email\" name=\"email\" autocomplete=\"username\" required></label>\
         <label>{password_label}<input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\
         <button type=\"submit\" name=\"decision\" value=\"approve\">{approve}</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>{deny}</button>\
         </form></body></html>",
        lang = locale.code(),
        title = t("oauth.title"),
        asks = t("oauth.asks").replace(":client", &format!("<strong>{client}</strong>")),
        email_label = t("oauth.email"),
        password_label = t("oauth.password"),
        approve = t("oauth.approve"),
        deny = t("oauth.deny"),
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={csrf}; Path=/oauth; HttpOnly; SameSite=Strict"
    )) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        // No `form-action`: browsers apply it to the redirect that follows the form, which
        // goes to the client.
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(locale.code()),
    );
    response
}
