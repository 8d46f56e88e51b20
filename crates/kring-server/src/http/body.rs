//! Request bodies: JSON and form bodies read with a size limit, and the bounded draining of an
//! oversized one.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use kring_core::i18n::Message;
use serde_json::{Map, Value as Json};

use crate::error::Error;

/// Reads a JSON object body (or a flat form body) up to `limit` bytes.
///
/// No body, or an empty one, is an empty object: a PATCH that changes nothing is valid, and a
/// create without a body reports its required fields like Laravel does.
pub async fn json_body(request: Request, limit: usize) -> Result<Map<String, Json>, Error> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let waits = expects_continue(request.headers());
    let body = request.into_body();
    if declared_length.is_some_and(|n| n > limit) {
        refuse_unread(body, waits).await;
        return Err(Error::PayloadTooLarge { limit });
    }
    let bytes = read_limited(body, limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let map = match media_type {
        "" | "application/json" => parse_json_object(&bytes),
        t if t.starts_with("application/") && t.ends_with("+json") => parse_json_object(&bytes),
        "application/x-www-form-urlencoded" => parse_form(&bytes),
        other => Err(Error::UnsupportedMediaType {
            content_type: kring_core::query::truncate(other, 60),
            expected: "application/json or application/x-www-form-urlencoded",
        }),
    }?;
    if map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)) {
        return Err(Error::BadBody(Message::new("http.nul_character")));
    }
    Ok(map)
}

/// Text with a NUL character: PostgreSQL cannot store it, and no CRM field needs it.
fn holds_nul(value: &Json) -> bool {
    match value {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(holds_nul),
        Json::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// How long, and how much of, a refused body is read and thrown away before the answer goes
/// out: a client still sending when the server closes sees a reset instead of the answer
/// (Python's urllib sends a whole body before it reads), so Kring lingers, within bounds that
/// keep a client from holding the connection by sending forever.
pub const LINGER_FOR: std::time::Duration = std::time::Duration::from_secs(5);
pub const LINGER_BYTES: usize = 256 * 1024 * 1024;

/// Whether the client waits for `100 Continue` before it sends its body.
pub fn expects_continue(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

/// Before refusing a body that was not read: a client that waits for `100 Continue` has sent
/// nothing and is answered at once (reading would invite the body); any other is drained.
pub async fn refuse_unread(body: Body, waits_for_continue: bool) {
    if !waits_for_continue {
        drain(body).await;
    }
}

async fn next_chunk(body: &mut Body) -> Option<Result<axum::body::Bytes, axum::Error>> {
    use axum::body::HttpBody;
    loop {
        let frame =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await?;
        match frame.map(|f| f.into_data()) {
            Ok(Ok(data)) => return Some(Ok(data)),
            Ok(Err(_trailers)) => continue,
            Err(e) => return Some(Err(e)),
        }
    }
}

/// Reads and discards the rest of `body`, for at most [`LINGER_FOR`] and [`LINGER_BYTES`].
pub async fn drain(body: Body) {
    linger(body.into_data_stream()).await
}

/// [`drain`] for a body already turned into a stream of chunks.
pub async fn linger<E>(
    mut chunks: impl futures_core::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
) {
    let discard = async {
        let mut seen = 0usize;
        while let Some(Ok(chunk)) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut chunks).poll_next(cx)).await
        {
            seen = seen.saturating_add(chunk.len());
            if seen > LINGER_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_FOR, discard).await;
}

/// Reads at most `limit` bytes; past that, drains a bounded amount and answers 413.
pub async fn read_limited(mut body: Body, limit: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await {
        let chunk = chunk.map_err(|e| {
            Error::BadBody(Message::new("http.invalid_json").with("detail", e.to_string()))
        })?;
        if bytes.len() + chunk.len() > limit {
            drain(body).await;
            return Err(Error::PayloadTooLarge { limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

pub fn parse_json_object(bytes: &[u8]) -> Result<Map<String, Json>, Error> {
    match serde_json::from_slice::<Json>(bytes) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(_) => Err(Error::BadBody(Message::new("http.body_not_object"))),
        Err(e) => Err(Error::BadBody(
            Message::new("http.invalid_json").with("detail", e.to_string()),
        )),
    }
}

/// A form body in PHP's bracket notation (`field_values[0][value]=gold`), as Laravel reads it:
/// values are strings, coerced later by each column's type.
fn parse_form(bytes: &[u8]) -> Result<Map<String, Json>, Error> {
    let tree = kring_core::form::parse_urlencoded(bytes, &kring_core::form::Limits::default())
        .map_err(|e| Error::BadBody(e.message()))?;
    match tree.to_json() {
        Json::Object(map) => Ok(map),
        // PHP's `json_encode` makes an array of keys 0..n; a body is still an object of fields.
        Json::Array(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect()),
        _ => Ok(Map::new()),
    }
}
