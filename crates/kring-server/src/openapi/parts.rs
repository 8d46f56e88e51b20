//! The pieces every operation of the document is made of: parameters, the error responses, the
//! headers, security requirements and request bodies.

use serde_json::{Map, Value as Json, json};

/// `#/components/<kind>/<name>`.
pub fn reference(kind: &str, name: &str) -> Json {
    json!({ "$ref": format!("#/components/{kind}/{name}") })
}

pub fn schema(name: &str) -> Json {
    reference("schemas", name)
}

/// A JSON body of `schema`.
pub fn json_content(schema: Json) -> Json {
    json!({ "application/json": { "schema": schema } })
}

/// A response with a JSON body and the headers every API response carries.
pub fn json_response(description: &str, body: Json) -> Json {
    json!({
        "description": description,
        "headers": common_headers(),
        "content": json_content(body),
    })
}

/// The headers on every answer of the API: the rate budget, the request id, the language.
pub fn common_headers() -> Json {
    let mut headers = Map::new();
    for name in [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Used",
        "X-RateLimit-Reset",
        "X-Request-Id",
        "Content-Language",
    ] {
        headers.insert(name.into(), reference("headers", name));
    }
    Json::Object(headers)
}

/// The headers of `common_headers` and `more`.
pub fn headers_with(more: &[&str]) -> Json {
    let mut headers = common_headers();
    if let Json::Object(map) = &mut headers {
        for name in more {
            map.insert((*name).into(), reference("headers", name));
        }
    }
    headers
}

/// Every header the document names, described once.
pub fn header_components() -> Json {
    let integer = |description: &str| json!({ "description": description, "schema": { "type": "integer", "minimum": 0 } });
    let text =
        |description: &str| json!({ "description": description, "schema": { "type": "string" } });
    json!({
        "X-RateLimit-Limit": integer("Requests allowed per minute to the token's owner (per client address without a token)."),
        "X-RateLimit-Remaining": integer("Requests left in the current minute."),
        "X-RateLimit-Used": integer("Requests made in the current minute."),
        "X-RateLimit-Reset": integer("When the current minute's budget renews, as a Unix time."),
        "Retry-After": integer("Seconds to wait before trying again."),
        "X-Request-Id": text("This request's id (the caller's own when it sent a well-formed one); the server log carries it too."),
        "Content-Language": text("The language of the messages in the body."),
        "X-Eager-Loading-Weight": integer("The weight of the relations `with` loaded (at most 16)."),
        "Idempotent-Replayed": {
            "description": "`true` when this is the kept answer of an earlier request with the same `Idempotency-Key`.",
            "schema": { "type": "string", "enum": ["true"] }
        },
        "Location": text("Where the redirect leads."),
    })
}

/// The error answers, by status: `{"message"}`, and for 422 also `errors`.
pub fn error_responses(statuses: &[u16], responses: &mut Map<String, Json>) {
    for status in statuses {
        let (description, body, extra): (&str, &str, &[&str]) = match status {
            400 => ("The query or the body cannot be read", "Exception", &[]),
            401 => ("No valid token", "Exception", &[]),
            403 => (
                "The token's owner or scopes may not do this",
                "Exception",
                &[],
            ),
            404 => ("No such record in your company", "Exception", &[]),
            409 => (
                "The request conflicts with the record's state",
                "Exception",
                &[],
            ),
            413 => ("The body is too large", "Exception", &[]),
            415 => (
                "The body's media type is not accepted here",
                "Exception",
                &[],
            ),
            422 => (
                "The body did not pass validation (`errors` by field), or an `Idempotency-Key` came back with another request",
                "Unprocessable",
                &[],
            ),
            429 => ("Too many requests", "Exception", &["Retry-After"]),
            503 => (
                "The database did not answer in time; try again",
                "Exception",
                &["Retry-After"],
            ),
            507 => ("No room to keep the upload", "Exception", &[]),
            _ => ("An error", "Exception", &[]),
        };
        responses.insert(
            status.to_string(),
            json!({
                "description": description,
                "headers": headers_with(extra),
                "content": json_content(schema(body)),
            }),
        );
    }
}

/// Who may call an operation: an OAuth token with `scope`, or a personal access token.
pub fn secured(scope: Option<&str>) -> Json {
    let scopes: Vec<&str> = scope.into_iter().collect();
    json!([{ "oauth2": scopes }, { "personalAccessToken": [] }])
}

/// A query parameter.
pub fn query(name: &str, description: &str, schema: Json) -> Json {
    json!({ "name": name, "in": "query", "description": description, "schema": schema })
}

/// A required path parameter.
pub fn path(name: &str, description: &str, schema: Json) -> Json {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": schema })
}

/// The record id in a path.
pub fn id_parameter() -> Json {
    path(
        "id",
        "The record's id.",
        json!({ "type": "integer", "format": "int64", "minimum": 1 }),
    )
}

/// `Idempotency-Key`, taken by every write.
pub fn idempotency_key() -> Json {
    json!({
        "name": "Idempotency-Key",
        "in": "header",
        "description": "Any string up to 255 characters: a retry with the same key and body gets the first answer again (marked `Idempotent-Replayed`) instead of writing twice; with another body, 422.",
        "schema": { "type": "string", "pattern": "^[!-~]{1,255}$" }
    })
}

/// An operation: its summary, tag, id, security, parameters, body and answers.
pub struct Operation {
    pub id: String,
    pub summary: String,
    pub tag: &'static str,
    pub security: Option<Json>,
    pub parameters: Vec<Json>,
    pub body: Option<Json>,
    pub responses: Map<String, Json>,
}

impl Operation {
    pub fn new(id: impl Into<String>, summary: impl Into<String>, tag: &'static str) -> Self {
        Operation {
            id: id.into(),
            summary: summary.into(),
            tag,
            security: None,
            parameters: Vec::new(),
            body: None,
            responses: Map::new(),
        }
    }

    pub fn secured(mut self, scope: Option<&str>) -> Self {
        self.security = Some(secured(scope));
        self
    }

    /// Security other than a user's token (the metrics token).
    pub fn with_security(mut self, security: Json) -> Self {
        self.security = Some(security);
        self
    }

    pub fn parameter(mut self, parameter: Json) -> Self {
        self.parameters.push(parameter);
        self
    }

    pub fn parameters(mut self, parameters: impl IntoIterator<Item = Json>) -> Self {
        self.parameters.extend(parameters);
        self
    }

    pub fn body(mut self, content: Json, required: bool) -> Self {
        self.body = Some(json!({ "required": required, "content": content }));
        self
    }

    pub fn respond(mut self, status: u16, response: Json) -> Self {
        self.responses.insert(status.to_string(), response);
        self
    }

    pub fn errors(mut self, statuses: &[u16]) -> Self {
        error_responses(statuses, &mut self.responses);
        self
    }

    pub fn to_json(&self) -> Json {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(self.id));
        op.insert("summary".into(), json!(self.summary));
        op.insert("tags".into(), json!([self.tag]));
        if let Some(security) = &self.security {
            op.insert("security".into(), security.clone());
        } else {
            op.insert("security".into(), json!([]));
        }
        if !self.parameters.is_empty() {
            op.insert("parameters".into(), json!(self.parameters));
        }
        if let Some(body) = &self.body {
            op.insert("requestBody".into(), body.clone());
        }
        let mut responses = self.responses.clone();
        // Any request may carry a URI longer than the server reads; the HTTP layer refuses it
        // before any handler, without a body.
        responses.insert(
            "414".into(),
            json!({ "description": "The URI is longer than the server reads" }),
        );
        op.insert("responses".into(), Json::Object(responses));
        Json::Object(op)
    }

    /// The same operation for `HEAD`: the GET's answers without their bodies.
    pub fn head(&self) -> Operation {
        let responses = self
            .responses
            .iter()
            .map(|(status, response)| {
                let mut response = response.clone();
                if let Json::Object(map) = &mut response {
                    map.remove("content");
                }
                (status.clone(), response)
            })
            .collect();
        Operation {
            id: format!("{}Head", self.id),
            summary: format!("{} (headers only)", self.summary),
            tag: self.tag,
            security: self.security.clone(),
            parameters: self.parameters.clone(),
            body: None,
            responses,
        }
    }
}

/// One path's operations by method (lower case, as OpenAPI keys them).
pub struct PathItem {
    pub path: String,
    pub operations: Vec<(&'static str, Operation)>,
}

impl PathItem {
    pub fn new(path: impl Into<String>) -> Self {
        PathItem {
            path: path.into(),
            operations: Vec::new(),
        }
    }

    /// Adds `operation` under `method`; a `get` brings its `head`.
    pub fn on(mut self, method: &'static str, operation: Operation) -> Self {
        if method == "get" {
            let head = operation.head();
            self.operations.push(("get", operation));
            self.operations.push(("head", head));
        } else {
            self.operations.push((method, operation));
        }
        self
    }
}
