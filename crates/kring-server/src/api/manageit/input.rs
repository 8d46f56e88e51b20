//! A ManageIt request's input as Laravel's `$request->all()` sees it (`spec/manageit.md` §4):
//! the body (multipart with files, urlencoded, or JSON) plus the query string, in PHP's bracket
//! notation, then trimmed with empty strings as `null`.
//!
//! Multipart file parts are streamed to staging storage as they arrive; the tree holds only a
//! reference to each. The staged files are deleted when the [`Input`] is dropped, unless the
//! write took them.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use axum::http::header;
use futures_core::Stream;
use kring_core::form::{
    FILE_MARKER, FileRef, FormBuilder, FormError, Limits, MAX_PART_HEADERS, PartHeaders,
    parse_urlencoded,
};
use kring_core::i18n::Message;
use kring_core::manageit::{FileKind, normalize};
use serde_json::{Map, Value as Json};

use crate::config::Config;
use crate::error::Error;
use crate::files::{FileStore, StagedFile};
use crate::http::{expects_continue, linger, parse_json_object, read_limited, refuse_unread};
use crate::state::AppState;

/// The request's input and the files it staged.
pub struct Input {
    pub values: Map<String, Json>,
    staged: HashMap<String, StagedFile>,
    /// Each staged file's content type, as its media row records it (by its storage key).
    content_types: HashMap<String, &'static str>,
    store: Arc<FileStore>,
}

impl Input {
    /// What a staged file's bytes are (by its storage key).
    pub fn kind(&self, key: &str) -> FileKind {
        self.staged
            .get(key)
            .map(|f| f.kind)
            .unwrap_or(FileKind::Unknown)
    }

    /// The input as an idempotency fingerprint sees it: a file by its content, not by where
    /// this request staged it.
    pub fn fingerprinted(&self) -> Map<String, Json> {
        let mut values = Json::Object(self.values.clone());
        self.replace_keys(&mut values);
        object(values)
    }

    /// Replaces each file marker's storage key by the file's SHA-256.
    fn replace_keys(&self, value: &mut Json) {
        match value {
            Json::Array(items) => items.iter_mut().for_each(|v| self.replace_keys(v)),
            Json::Object(map) => {
                if let Some(Json::Object(file)) = map.get_mut(FILE_MARKER) {
                    let key = file.get("storage_key").and_then(Json::as_str).unwrap_or("");
                    let digest = self.staged.get(key).map(|f| f.sha256.clone());
                    file.insert("storage_key".into(), Json::from(digest));
                    return;
                }
                map.values_mut().for_each(|v| self.replace_keys(v));
            }
            _ => {}
        }
    }

    /// A staged file of this request, by its storage key.
    pub fn staged(&self, key: &str) -> Option<&StagedFile> {
        self.staged.get(key)
    }

    /// Takes a staged file out of the request's hands: the write now keeps it.
    pub fn take(&mut self, key: &str) -> Option<StagedFile> {
        self.staged.remove(key)
    }

    /// A staged file's content type, from its bytes and its name's extension.
    pub fn content_type(&self, key: &str) -> &'static str {
        self.content_types
            .get(key)
            .copied()
            .unwrap_or("application/octet-stream")
    }

    /// The storage keys of the files still in the request's hands.
    pub fn staged_keys(&self) -> Vec<String> {
        self.staged.keys().cloned().collect()
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.store.discard(self.staged.drain().map(|(key, _)| key));
    }
}

/// Reads the whole input of `request`.
pub async fn read(request: Request, state: &AppState) -> Result<Input, Error> {
    let config = &state.config;
    let query = request.uri().query().unwrap_or("").to_string();
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let waits = expects_continue(request.headers());
    let mut input = Input {
        values: Map::new(),
        staged: HashMap::new(),
        content_types: HashMap::new(),
        store: state.files.clone(),
    };
    let shared = SharedBody::new(request.into_body());
    let is_json = |t: &str| t.is_empty() || t.contains("/json") || t.ends_with("+json");
    let (media_type, content_type) = match is_json(&media_type) {
        // The ManageIt seed labels its multipart example `application/json`: a body so
        // labelled that opens with a boundary line is read as what it is.
        true => match opening_boundary(&shared.opening().await) {
            Some(boundary) => (
                "multipart/form-data".to_string(),
                format!("multipart/form-data; boundary={boundary}"),
            ),
            None => (media_type, content_type),
        },
        false => (media_type, content_type),
    };
    // Only a multipart body has files; anywhere else a file marker is forged input.
    let files_allowed = media_type == "multipart/form-data";
    let values = match media_type.as_str() {
        "multipart/form-data" => {
            if declared_length.is_some_and(|n| n > config.upload_request_limit) {
                refuse_unread(shared.into_body(), waits).await;
                return Err(Error::PayloadTooLarge {
                    limit: usize::try_from(config.upload_request_limit).unwrap_or(usize::MAX),
                });
            }
            // A body of unknown length may be as large as the limit.
            let at_most = declared_length.unwrap_or(config.upload_request_limit);
            if let Err(e) = state.files.check_room(at_most) {
                refuse_unread(shared.into_body(), waits).await;
                return Err(e);
            }
            match read_multipart(shared.clone(), &content_type, config, &mut input).await {
                Ok(values) => values,
                Err(e) => {
                    // Read on a little, so the client sees the answer rather than a reset.
                    linger(shared.clone()).await;
                    return Err(e);
                }
            }
        }
        "application/x-www-form-urlencoded" => {
            let bytes = read_limited(shared.into_body(), config.body_limit).await?;
            let tree = parse_urlencoded(&bytes, &Limits::default()).map_err(form_error)?;
            object(tree.to_json())
        }
        t if is_json(t) => {
            let bytes = read_limited(shared.into_body(), config.body_limit).await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                Map::new()
            } else {
                parse_json_object(&bytes)?
            }
        }
        other => {
            refuse_unread(shared.into_body(), waits).await;
            return Err(Error::UnsupportedMediaType {
                content_type: kring_core::query::truncate(other, 60),
                expected: "multipart/form-data, application/x-www-form-urlencoded or application/json",
            });
        }
    };
    let query = object(
        parse_urlencoded(query.as_bytes(), &Limits::default())
            .map_err(form_error)?
            .to_json(),
    );
    let values = Json::Object(values);
    if holds_nul(&values, files_allowed) || holds_nul(&Json::Object(query.clone()), false) {
        return Err(Error::BadBody(Message::new("http.nul_character")));
    }
    // Laravel's input is the body plus the query string; the body wins.
    let mut values = object(values);
    for (key, value) in query {
        values.entry(key).or_insert(value);
    }
    let mut tree = Json::Object(values);
    normalize(&mut tree);
    input.values = object(tree);
    Ok(input)
}

/// PHP encodes an array of keys `0..n` as a JSON list; a body is still an object of fields.
fn object(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        Json::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Map::new(),
    }
}

/// Text with a NUL character: PostgreSQL cannot store it, and the server's own file markers
/// (whose key starts with NUL) are the only place one may appear, in a multipart body's tree.
fn holds_nul(value: &Json, files_allowed: bool) -> bool {
    match value {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(|v| holds_nul(v, files_allowed)),
        Json::Object(map) if files_allowed && map.contains_key(FILE_MARKER) && map.len() == 1 => {
            false
        }
        Json::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains('\0') || holds_nul(v, files_allowed)),
        _ => false,
    }
}

fn form_error(e: FormError) -> Error {
    match e {
        FormError::TooDeep { .. } | FormError::NameTooLong { .. } => Error::BadBody(e.message()),
        _ => Error::FormTooLarge(e.message()),
    }
}

fn multipart_error(e: multer::Error, config: &Config) -> Error {
    match e {
        multer::Error::StreamReadFailed(inner) if inner.is::<PartHeadersTooLong>() => {
            Error::FormTooLarge(
                Message::new("http.part_headers_too_large")
                    .with("limit", MAX_PART_HEADERS.to_string()),
            )
        }
        multer::Error::StreamSizeExceeded { .. } => Error::PayloadTooLarge {
            limit: usize::try_from(config.upload_request_limit).unwrap_or(usize::MAX),
        },
        other => {
            Error::BadBody(Message::new("http.multipart_invalid").with("detail", other.to_string()))
        }
    }
}

/// Streams a multipart body: text parts into the tree, file parts to staging storage.
async fn read_multipart(
    body: SharedBody,
    content_type: &str,
    config: &Config,
    input: &mut Input,
) -> Result<Map<String, Json>, Error> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| multipart_error(e, config))?;
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(config.upload_request_limit));
    let guarded = Guarded {
        guard: PartHeaders::new(&boundary),
        body,
    };
    let mut multipart = multer::Multipart::with_constraints(guarded, boundary, constraints);
    let mut form = FormBuilder::new(Limits::default());
    // All text parts together are held to the limit of a form body.
    let mut text_budget = config.body_limit;
    while let Some(mut part) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, config))?
    {
        let name = part.name().unwrap_or("").to_string();
        let Some(client_name) = part.file_name().map(str::to_string) else {
            let text = read_text(&mut part, config, &mut text_budget).await?;
            form.text(&name, text).map_err(form_error)?;
            continue;
        };
        let Some(pending) = form.begin_file(&name, &client_name).map_err(form_error)? else {
            while part
                .chunk()
                .await
                .map_err(|e| multipart_error(e, config))?
                .is_some()
            {}
            continue;
        };
        let content_type = part.content_type().map(|m| m.to_string());
        let original_name = pending.original_name().to_string();
        let mut staging = input.store.stage().await?;
        while let Some(chunk) = part.chunk().await.map_err(|e| multipart_error(e, config))? {
            staging.write(&chunk).await?;
            if staging.size() > config.upload_file_limit {
                return Err(Error::FormTooLarge(
                    Message::new("http.file_too_large")
                        .with("name", crate::files::display_name(&original_name))
                        .with("limit", config.upload_file_limit.to_string()),
                ));
            }
        }
        let staged = staging.finish().await?;
        let file = FileRef {
            original_name,
            content_type,
            size: staged.size,
            storage_key: staged.key.clone(),
            error: None,
        };
        let extension =
            kring_core::manageit::extension_of(&crate::files::display_name(&file.original_name));
        input.content_types.insert(
            staged.key.clone(),
            crate::files::content_type(staged.kind, extension.as_deref()),
        );
        input.staged.insert(staged.key.clone(), staged);
        form.complete_file(pending, file);
    }
    Ok(object(form.finish().to_json()))
}

/// A text part, taken from what is left of the text budget.
async fn read_text(
    part: &mut multer::Field<'_>,
    config: &Config,
    budget: &mut usize,
) -> Result<String, Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = part.chunk().await.map_err(|e| multipart_error(e, config))? {
        *budget = budget
            .checked_sub(chunk.len())
            .ok_or(Error::PayloadTooLarge {
                limit: config.body_limit,
            })?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A request body that the multipart parser reads and that can still be drained after the
/// parser gave up on it.
#[derive(Clone)]
struct SharedBody(Arc<Mutex<Peekable>>);

/// The body's chunks, and what was read ahead of them to see how the body begins.
struct Peekable {
    ahead: Option<Bytes>,
    stream: BodyDataStream,
}

/// How much of a body is read ahead to find a multipart boundary line (at most 70 characters
/// after `--`, RFC 2046).
const BOUNDARY_LINE: usize = 80;

impl SharedBody {
    fn new(body: Body) -> SharedBody {
        SharedBody(Arc::new(Mutex::new(Peekable {
            ahead: None,
            stream: body.into_data_stream(),
        })))
    }

    /// The body's first bytes (up to a line ending or [`BOUNDARY_LINE`]), read ahead and then
    /// still read by whoever reads the body.
    async fn opening(&self) -> Bytes {
        let mut ahead = Vec::new();
        let mut this = self.clone();
        while ahead.len() < BOUNDARY_LINE && !ahead.windows(2).any(|w| w == b"\r\n") {
            match std::future::poll_fn(|cx| Pin::new(&mut this).poll_next(cx)).await {
                Some(Ok(chunk)) => ahead.extend_from_slice(&chunk),
                _ => break,
            }
        }
        let ahead = Bytes::from(ahead);
        if let Ok(mut peekable) = self.0.lock() {
            peekable.ahead = Some(ahead.clone()).filter(|a| !a.is_empty());
        }
        ahead
    }

    fn into_body(self) -> Body {
        Body::from_stream(self)
    }
}

impl Stream for SharedBody {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.0.lock() {
            Ok(mut peekable) => match peekable.ahead.take() {
                Some(ahead) => Poll::Ready(Some(Ok(ahead))),
                None => Pin::new(&mut peekable.stream).poll_next(cx),
            },
            Err(_) => Poll::Ready(None),
        }
    }
}

/// The boundary of a body that opens with a multipart boundary line (`--<boundary>\r\n`).
fn opening_boundary(opening: &[u8]) -> Option<String> {
    let line = opening.strip_prefix(b"--")?;
    let end = line.windows(2).position(|w| w == b"\r\n")?;
    let boundary = std::str::from_utf8(line.get(..end)?).ok()?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "'()+_,-./:=? ".contains(c);
    let valid = (1..=70).contains(&boundary.len())
        && boundary.chars().all(allowed)
        && !boundary.ends_with(' ');
    valid.then(|| boundary.to_string())
}

/// The body as the multipart parser reads it, with every part's header block held to
/// [`MAX_PART_HEADERS`] as it streams by (the parser would otherwise buffer one whole).
struct Guarded {
    guard: PartHeaders,
    body: SharedBody,
}

#[derive(Debug)]
struct PartHeadersTooLong;

impl std::fmt::Display for PartHeadersTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a part's headers take more than {MAX_PART_HEADERS} bytes"
        )
    }
}

impl std::error::Error for PartHeadersTooLong {}

impl Stream for Guarded {
    type Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(match this.guard.feed(&chunk) {
                Ok(()) => Ok(chunk),
                Err(_) => Err(Box::new(PartHeadersTooLong)),
            })),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl axum::extract::FromRequest<AppState> for Input {
    type Rejection = Error;

    /// The whole input, the body's files streamed to staging as they arrive.
    async fn from_request(request: Request, state: &AppState) -> Result<Self, Error> {
        read(request, state).await
    }
}

#[cfg(test)]
#[path = "input_proptests.rs"]
mod proptests;
