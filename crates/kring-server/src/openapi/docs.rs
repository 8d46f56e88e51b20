//! `/docs`: the document in Swagger UI, whose files are embedded in the binary by a crate
//! (`utoipa-swagger-ui` with `vendored`), so the page works with no network. Its own page
//! loads them from this server only, under a policy that lets nothing else load or run.

use std::sync::{Arc, LazyLock};

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;

/// Scripts and requests from this server only; no inline script, no frame, no form elsewhere.
/// Swagger UI sets inline styles (its syntax highlighting) and draws icons from `data:` images.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page: Swagger UI's files named by absolute paths, so `/docs` needs no trailing slash.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kring API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/swagger-initializer.js"></script>
</body>
</html>
"#;

static CONFIG: LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> =
    LazyLock::new(|| Arc::new(utoipa_swagger_ui::Config::from("/openapi.json")));

pub async fn page() -> Response {
    answer("text/html; charset=utf-8", PAGE.as_bytes().to_vec(), false)
}

/// One of Swagger UI's files; 404 for anything else (its own `index.html` included: the page
/// above replaces it).
pub async fn file(Path(name): Path<String>) -> Result<Response, Error> {
    let missing = || Error::RouteNotFound {
        path: format!("docs/{}", kring_core::query::truncate(&name, 80)),
    };
    if name == "index.html" || name.is_empty() {
        return Err(missing());
    }
    let found = utoipa_swagger_ui::serve(&name, CONFIG.clone())
        .map_err(|e| Error::Internal(format!("docs file {name}: {e}")))?
        .ok_or_else(missing)?;
    Ok(answer(
        &found.content_type,
        found.bytes.into_owned(),
        found.gzpipped,
    ))
}

fn answer(content_type: &str, body: Vec<u8>, gzipped: bool) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
