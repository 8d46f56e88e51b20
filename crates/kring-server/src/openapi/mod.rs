//! The OpenAPI 3.1 document: generated from the registry (resources, fields, rules, relations,
//! events, scopes) and the handlers' own operations, never written by hand. `GET /openapi.json`
//! serves it, `kring openapi` prints it, `/docs` renders it offline, and a test holds it to the
//! routes the router serves.
//!
//! It is built as plain JSON: the registry is data and so is the document; a typed builder
//! would add a layer between the two and check nothing the validators in CI do not.

pub mod docs;
mod fixed;
mod parts;
mod resources;

use serde_json::{Map, Value as Json, json};

use crate::registry::{find, subscribable_events};
use parts::{PathItem, header_components, json_content, schema};

/// The document, as `/openapi.json` serves it.
pub fn document() -> Json {
    let items = all_paths();
    let tags = tags(&items);
    let mut paths = Map::new();
    for item in items {
        let operations: Map<String, Json> = item
            .operations
            .iter()
            .map(|(method, op)| ((*method).to_string(), op.to_json()))
            .collect();
        paths.insert(item.path, Json::Object(operations));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Kring",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A self-hostable CRM API in two dialects: Cirqll (`/api/<resource>`) and ManageIt (`/api/customers`, `/api/custom-fields`). `HEAD` answers as `GET` without a body. Every error is JSON with a `message`.",
            "license": { "name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later" }
        },
        "servers": [{ "url": "/", "description": "This server" }],
        "tags": tags,
        "paths": paths,
        "webhooks": webhooks(),
        "components": {
            "schemas": schemas(),
            "headers": header_components(),
            "securitySchemes": security_schemes(),
        },
    })
}

/// Every documented path with its methods in upper case, for the test that compares them with
/// what the router serves.
pub fn documented() -> Vec<(String, Vec<String>)> {
    all_paths()
        .into_iter()
        .map(|item| {
            let methods = item
                .operations
                .iter()
                .map(|(method, _)| method.to_uppercase())
                .collect();
            (item.path, methods)
        })
        .collect()
}

fn all_paths() -> Vec<PathItem> {
    let mut items = resources::paths();
    items.extend(fixed::paths());
    items
}

/// The tags in the order their first operation appears.
fn tags(items: &[PathItem]) -> Json {
    let mut names: Vec<&str> = Vec::new();
    for item in items {
        for (_, op) in &item.operations {
            if !names.contains(&op.tag) {
                names.push(op.tag);
            }
        }
    }
    Json::Array(
        names
            .into_iter()
            .map(|name| json!({ "name": name, "description": tag_description(name) }))
            .collect(),
    )
}

fn tag_description(tag: &str) -> String {
    match tag {
        "server" => "Health, readiness and this document".into(),
        "oauth" => "The OAuth 2.0 authorization server (Passport's routes)".into(),
        "changes" => "Every change, in order, for polling and catching up".into(),
        "manageit" => "The ManageIt dialect: customers and their custom fields".into(),
        "files" => "Uploaded files".into(),
        resource => format!("Cirqll: {}s", resource.replace('_', " ")),
    }
}

fn security_schemes() -> Json {
    let scopes: Map<String, Json> = crate::auth::all_scopes()
        .into_iter()
        .map(|(id, description)| (id, json!(description)))
        .collect();
    json!({
        "oauth2": {
            "type": "oauth2",
            "description": "OAuth 2.0: authorization code with PKCE (S256, required) for apps acting for a user; client credentials for a confidential client acting as its owner. `*` grants what the user may do.",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/oauth/authorize",
                    "tokenUrl": "/oauth/token",
                    "refreshUrl": "/oauth/token",
                    "scopes": scopes,
                },
                "clientCredentials": {
                    "tokenUrl": "/oauth/token",
                    "scopes": scopes,
                }
            }
        },
        "metricsToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The token of `--metrics-token`, for `/metrics` on the API's port."
        },
        "personalAccessToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token (`kring token create`), acting as its user with every scope."
        }
    })
}

fn schemas() -> Map<String, Json> {
    let mut schemas = Map::new();
    resources::schemas(&mut schemas);
    let integer = json!({ "type": "integer", "minimum": 0 });
    let timestamp = json!({ "type": "string", "format": "date-time" });
    let text = json!({ "type": "string" });
    let extra = json!({
        "Pagination": {
            "type": "object",
            "description": "A page of an index: its records, the page size and place, and how many match in all.",
            "required": ["data", "limit", "total", "offset"],
            "properties": {
                "data": { "type": "array", "items": { "type": "object" } },
                "limit": integer, "total": integer, "offset": integer
            }
        },
        "Exception": {
            "type": "object",
            "required": ["message"],
            "properties": { "message": text },
            "examples": [{ "message": "Unauthenticated." }]
        },
        "ValidationException": {
            "type": "object",
            "required": ["message", "errors"],
            "properties": {
                "message": text,
                "errors": {
                    "type": "object",
                    "description": "By field (a dot path for nested input): its messages.",
                    "additionalProperties": { "type": "array", "items": text }
                }
            },
            "examples": [{
                "message": "The name field is required. (and 1 more error)",
                "errors": {
                    "name": ["The name field is required."],
                    "email": ["The email field must be a valid email address."]
                }
            }]
        },
        "Unprocessable": {
            "anyOf": [schema("ValidationException"), schema("Exception")]
        },
        "OAuthError": {
            "type": "object",
            "required": ["error", "error_description", "message"],
            "properties": { "error": text, "error_description": text, "hint": text, "message": text }
        },
        "OAuthTokens": {
            "type": "object",
            "required": ["token_type", "expires_in", "access_token"],
            "properties": {
                "token_type": { "type": "string", "enum": ["Bearer"] },
                "expires_in": integer, "access_token": text, "refresh_token": text, "scope": text
            }
        },
        "Readiness": {
            "type": "object",
            "required": ["status", "checks"],
            "properties": {
                "status": { "type": "string", "enum": ["ready", "not_ready"] },
                "checks": { "type": "object", "additionalProperties": text }
            }
        },
        "Event": {
            "type": "object",
            "description": "A change: the record as a show returns it; on an update also the changed fields and their previous values. A webhook delivery's body is the same.",
            "required": ["id", "event", "created_at", "data"],
            "properties": {
                "id": text, "event": text, "created_at": timestamp,
                "data": { "type": "object" },
                "changed_fields": { "type": "array", "items": text },
                "previous": { "type": "object" }
            }
        },
        "WebhookDelivery": {
            "type": "object",
            "properties": {
                "id": integer, "event_id": integer, "event": text, "message_id": text,
                "redelivery_of": { "type": ["integer", "null"] },
                "status": text, "attempts": integer,
                "history": { "type": "array", "items": { "type": "object" } },
                "response_status": { "type": ["integer", "null"] },
                "error": { "type": ["string", "null"] },
                "next_attempt_at": { "type": ["string", "null"], "format": "date-time" },
                "created_at": timestamp
            }
        },
        "ManageItCustomer": {
            "type": "object",
            "description": "A customer as ManageIt shows it: the person, `business_information`, `custom_fields` by field, `permissions` by module.",
            "properties": {
                "id": { "type": "integer" }, "name": { "type": ["string", "null"] },
                "last_name": { "type": ["string", "null"] }, "phone": { "type": ["string", "null"] },
                "email": { "type": ["string", "null"] },
                "business_information": { "type": "object" },
                "custom_fields": { "type": ["array", "object"] },
                "permissions": { "type": ["array", "object"] }
            }
        }
    });
    if let Json::Object(extra) = extra {
        schemas.extend(extra);
    }
    schemas
}

/// Every event a webhook may subscribe to, as the request Kring sends: Standard Webhooks'
/// headers and the event with its record.
fn webhooks() -> Json {
    let header = |name: &str, description: &str| json!({ "name": name, "in": "header", "required": true, "description": description, "schema": { "type": "string" } });
    let mut hooks = Map::new();
    for event in subscribable_events() {
        let record = event
            .split_once('.')
            .and_then(|(resource, _)| find(resource))
            .map(|def| schema(&format!("{}Response", resources::type_name(def))))
            .unwrap_or_else(|| json!({ "type": "object" }));
        let body = json!({
            "allOf": [schema("Event"), { "type": "object", "properties": { "event": { "const": event }, "data": record } }]
        });
        hooks.insert(
            (*event).to_string(),
            json!({ "post": {
                "summary": format!("`{event}`"),
                "operationId": format!("webhook_{}", event.replace('.', "_")),
                "parameters": [
                    header("webhook-id", "The message id: the same on every retry of one delivery."),
                    header("webhook-timestamp", "When this attempt was signed, as a Unix time."),
                    header("webhook-signature", "`v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>` with the webhook's secret; during a secret rotation, one per secret, space separated.")
                ],
                "security": [],
                "requestBody": { "required": true, "content": json_content(body) },
                "responses": { "2XX": { "description": "Received; any other answer is retried with backoff" } }
            } }),
        );
    }
    Json::Object(hooks)
}
