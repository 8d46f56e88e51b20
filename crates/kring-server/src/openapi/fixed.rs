//! The operations with handlers of their own: health, the change feed, webhook operations,
//! OAuth, the ManageIt dialect, files and the document itself.

use serde_json::{Value as Json, json};

use super::parts::{
    Operation, PathItem, headers_with, id_parameter, idempotency_key, json_content, json_response,
    path, query, reference, schema,
};
use super::resources::linked;
use crate::registry::defs::customer::CUSTOMER;
use crate::registry::defs::webhook::WEBHOOK;

pub fn paths() -> Vec<PathItem> {
    let mut items = operations();
    items.extend(oauth());
    items.extend(manageit());
    items
}

fn object(properties: Json) -> Json {
    json!({ "type": "object", "properties": properties })
}

fn operations() -> Vec<PathItem> {
    let status = |word: &str| object(json!({ "status": { "type": "string", "enum": [word] } }));
    let webhook_read = WEBHOOK.scope(kring_core::resource::Action::View);
    let webhook_write = WEBHOOK.scope(kring_core::resource::Action::Update);
    let delivery = schema("WebhookDelivery");
    let webhook = |id: &str, summary: &str| {
        Operation::new(id, summary, "webhook")
            .secured(Some(&webhook_write))
            .parameter(id_parameter())
            .parameter(idempotency_key())
            .errors(&[400, 401, 403, 404, 409, 422, 429, 503])
    };
    vec![
        PathItem::new("/health").on(
            "get",
            Operation::new("Health", "The process is up", "server").respond(
                200,
                json!({ "description": "Up", "content": json_content(status("ok")) }),
            ),
        ),
        PathItem::new("/ready").on(
            "get",
            Operation::new("Ready", "The database answers reads and writes", "server")
                .respond(200, json!({ "description": "Ready", "content": json_content(schema("Readiness")) }))
                .respond(503, json!({ "description": "Not ready; `checks` says why", "content": json_content(schema("Readiness")) })),
        ),
        PathItem::new("/openapi.json").on(
            "get",
            Operation::new("OpenApi", "This document", "server").respond(
                200,
                json!({ "description": "The OpenAPI 3.1 document", "content": json_content(json!({ "type": "object" })) }),
            ),
        ),
        PathItem::new("/docs").on(
            "get",
            Operation::new("Docs", "This document, readable in a browser (works offline)", "server")
                .respond(200, json!({ "description": "An HTML page", "content": { "text/html": { "schema": { "type": "string" } } } })),
        ),
        PathItem::new("/docs/{file}").on(
            "get",
            Operation::new("DocsAsset", "A file of the docs page", "server")
                .parameter(path("file", "The file's name.", json!({ "type": "string" })))
                .respond(200, json!({ "description": "The file", "content": { "*/*": { "schema": { "type": "string" } } } }))
                .errors(&[404]),
        ),
        PathItem::new("/metrics").on(
            "get",
            Operation::new("Metrics", "Prometheus metrics: requests by route, latency, database, outbox, rejections", "server")
                .respond(200, json!({ "description": "The Prometheus text format", "content": { "text/plain": { "schema": { "type": "string" } } } }))
                .respond(401, json!({ "description": "Not the metrics token", "content": json_content(schema("Exception")) }))
                .respond(404, json!({ "description": "No `--metrics-token` is configured: metrics are off on this port", "content": json_content(schema("Exception")) }))
                .with_security(json!([{ "metricsToken": [] }])),
        ),
        PathItem::new("/oauth/scopes").on(
            "get",
            Operation::new("Scopes", "Every OAuth scope", "oauth").respond(
                200,
                json!({ "description": "The scopes", "content": json_content(json!({
                    "type": "array",
                    "items": object(json!({ "id": { "type": "string" }, "description": { "type": "string" } }))
                })) }),
            ),
        ),
        PathItem::new("/api/changes").on(
            "get",
            Operation::new("Changes", "What changed since an event id, oldest first, in the resources the token may read", "changes")
                .secured(None)
                .parameter(query("since", "The last event id seen (0 from the start).", json!({ "type": "integer", "minimum": 0, "default": 0 })))
                .parameter(query("limit", "Events at most.", json!({ "type": "integer", "minimum": 0, "maximum": 1000, "default": 100 })))
                .respond(200, json_response("Events, and the `next` value of `since`", object(json!({
                    "data": { "type": "array", "items": schema("Event") },
                    "next": { "type": "string" }
                }))))
                .errors(&[400, 401, 403, 429, 503]),
        ),
        PathItem::new("/api/webhook/{id}/deliveries").on(
            "get",
            Operation::new("WebhookDeliveries", "A webhook's deliveries, newest first, with their attempts", "webhook")
                .secured(Some(&webhook_read))
                .parameter(id_parameter())
                .parameter(query("limit", "Deliveries per page.", json!({ "type": "integer", "minimum": 0, "maximum": 1000, "default": 100 })))
                .parameter(query("offset", "Deliveries to skip.", json!({ "type": "integer", "minimum": 0, "default": 0 })))
                .respond(200, json_response("A page of deliveries", super::resources::paged(delivery.clone())))
                .errors(&[400, 401, 403, 404, 429]),
        ),
        PathItem::new("/api/webhook/{id}/deliveries/{delivery}/redeliver").on(
            "post",
            webhook("WebhookRedeliver", "Send a delivery's event again, as a new delivery")
                .parameter(path("delivery", "The delivery's id.", json!({ "type": "integer", "minimum": 1 })))
                .respond(202, json_response("Queued", delivery.clone())),
        ),
        PathItem::new("/api/webhook/{id}/test").on(
            "post",
            webhook("WebhookTest", "Queue a `webhook.test` event to this webhook alone")
                .respond(202, json_response("Queued", delivery)),
        ),
        PathItem::new("/api/webhook/{id}/rotate-secret").on(
            "post",
            webhook("WebhookRotateSecret", "A new signing secret; the old one keeps signing alongside for 24 hours")
                .respond(200, json_response("The webhook with its new secret (shown once)", schema("WebhookResponse"))),
        ),
    ]
}

fn oauth() -> Vec<PathItem> {
    let form = |properties: Json, required: &[&str]| {
        json!({ "application/x-www-form-urlencoded": { "schema": {
            "type": "object", "properties": properties, "required": required
        } } })
    };
    let oauth_error = |statuses: &[u16], op: Operation| {
        statuses.iter().fold(op, |op, status| {
            op.respond(
                *status,
                json!({ "description": "RFC 6749 error", "content": json_content(schema("OAuthError")) }),
            )
        })
    };
    let text = json!({ "type": "string" });
    let client = object(json!({
        "id": { "type": "string" }, "user_id": { "type": "integer" }, "name": { "type": "string" },
        "redirect": { "type": "string" }, "confidential": { "type": "boolean" },
        "secret": { "type": "string", "description": "Shown once, when the client is made." },
        "revoked": { "type": "boolean" },
        "created_at": { "type": "string", "format": "date-time" },
        "updated_at": { "type": "string", "format": "date-time" }
    }));
    let client_body = json_content(object(json!({
        "name": { "type": "string", "maxLength": 255 },
        "redirect": { "type": "string", "description": "Allowed redirect URIs, comma separated." },
        "confidential": { "type": "boolean" }
    })));
    let authorize_query = [
        ("response_type", "`code`."),
        ("client_id", "The client's id."),
        ("redirect_uri", "One of the client's redirect URIs."),
        ("scope", "Scopes, space separated."),
        ("state", "Returned as given."),
        ("code_challenge", "PKCE: the S256 challenge."),
        ("code_challenge_method", "`S256`."),
    ]
    .map(|(name, description)| query(name, description, text.clone()));
    let redirect = json!({ "description": "Back to the client's redirect URI", "headers": { "Location": reference("headers", "Location") } });
    let page = json!({ "description": "The sign-in and consent page", "content": { "text/html": { "schema": text } } });
    let bad_client =
        json!({ "description": "No such client", "content": json_content(schema("OAuthError")) });
    vec![
        PathItem::new("/oauth/authorize")
            .on(
                "get",
                Operation::new("OAuthAuthorize", "The consent page of the authorization code flow (PKCE S256 required)", "oauth")
                    .parameters(authorize_query.clone())
                    .respond(200, page.clone())
                    .respond(302, redirect.clone())
                    .respond(400, page.clone())
                    .respond(401, bad_client.clone()),
            )
            .on(
                "post",
                Operation::new("OAuthApprove", "Sign in and approve (or deny) the request", "oauth")
                    .parameters(authorize_query.clone())
                    .body(form(json!({
                        "_token": { "type": "string" }, "email": { "type": "string" },
                        "password": { "type": "string" }, "decision": { "type": "string", "enum": ["approve", "deny"] }
                    }), &[]), true)
                    .respond(200, page.clone())
                    .respond(302, redirect.clone())
                    .respond(400, json!({
                        "description": "The page with what is wrong, or a body that cannot be read",
                        "content": { "text/html": { "schema": text }, "application/json": { "schema": schema("Exception") } }
                    }))
                    .respond(401, bad_client.clone())
                    .errors(&[413, 415, 429]),
            )
            .on(
                "delete",
                Operation::new("OAuthDeny", "Deny the request", "oauth")
                    .parameters(authorize_query)
                    .respond(302, redirect)
                    .respond(400, page)
                    .respond(401, bad_client)
                    .errors(&[429]),
            ),
        PathItem::new("/oauth/token").on(
            "post",
            oauth_error(
                &[400, 401],
                Operation::new("OAuthToken", "Exchange a code, a refresh token or client credentials for tokens", "oauth")
                    .body(form(json!({
                        "grant_type": { "type": "string", "enum": ["authorization_code", "refresh_token", "client_credentials"] },
                        "code": text, "redirect_uri": text, "code_verifier": text,
                        "refresh_token": text, "client_id": text, "client_secret": text, "scope": text
                    }), &["grant_type"]), true)
                    .respond(200, json!({ "description": "Tokens", "content": json_content(schema("OAuthTokens")) }))
                    .errors(&[413, 415, 429]),
            ),
        ),
        PathItem::new("/oauth/revoke").on(
            "post",
            oauth_error(
                &[400, 401],
                Operation::new("OAuthRevoke", "Revoke a token (RFC 7009)", "oauth")
                    .body(form(json!({ "token": text, "token_type_hint": text, "client_id": text, "client_secret": text }), &["token"]), true)
                    .respond(200, json!({ "description": "Revoked, or it was never valid" }))
                    .errors(&[413, 415, 429]),
            ),
        ),
        PathItem::new("/oauth/clients")
            .on(
                "get",
                Operation::new("OAuthClients", "Your OAuth clients", "oauth")
                    .secured(None)
                    .respond(200, json_response("The clients", json!({ "type": "array", "items": client })))
                    .errors(&[401, 403, 429]),
            )
            .on(
                "post",
                Operation::new("OAuthClientCreate", "Register an OAuth client", "oauth")
                    .secured(None)
                    .body(client_body.clone(), true)
                    .respond(201, json_response("The client, with its secret shown once", client.clone()))
                    .errors(&[400, 401, 403, 413, 415, 422, 429]),
            ),
        PathItem::new("/oauth/clients/{id}")
            .on(
                "put",
                Operation::new("OAuthClientUpdate", "Rename a client or change its redirect URIs", "oauth")
                    .secured(None)
                    .parameter(path("id", "The client's id.", text.clone()))
                    .body(client_body, true)
                    .respond(200, json_response("The client", client))
                    .errors(&[400, 401, 403, 404, 413, 415, 422, 429]),
            )
            .on(
                "delete",
                Operation::new("OAuthClientDelete", "Delete a client and revoke its tokens", "oauth")
                    .secured(None)
                    .parameter(path("id", "The client's id.", text.clone()))
                    .respond(204, json!({ "description": "Deleted", "headers": headers_with(&[]) }))
                    .errors(&[401, 403, 404, 429]),
            ),
        PathItem::new("/oauth/tokens").on(
            "get",
            Operation::new("OAuthTokens", "The OAuth tokens you granted", "oauth")
                .secured(None)
                .respond(200, json_response("The tokens", json!({ "type": "array", "items": { "type": "object" } })))
                .errors(&[401, 403, 429]),
        ),
        PathItem::new("/oauth/tokens/{id}").on(
            "delete",
            Operation::new("OAuthTokenDelete", "Revoke a token you granted, with its grant", "oauth")
                .secured(None)
                .parameter(path("id", "The token's id.", text))
                .respond(204, json!({ "description": "Revoked", "headers": headers_with(&[]) }))
                .errors(&[401, 403, 404, 429]),
        ),
        PathItem::new("/.well-known/oauth-authorization-server").on(
            "get",
            Operation::new("OAuthMetadata", "RFC 8414 authorization server metadata", "oauth")
                .respond(200, json!({ "description": "The metadata", "content": json_content(json!({ "type": "object" })) })),
        ),
    ]
}

/// ManageIt's bodies come as `multipart/form-data` or `application/x-www-form-urlencoded` with
/// PHP bracket keys, or as JSON of the same tree.
fn manageit_body(required: bool) -> Json {
    let text = json!({ "type": "string" });
    let fields = object(json!({
        "name": text, "last_name": text, "phone": text, "email": text,
        "business_information": object(json!({
            "company_name": text, "company_phone": text, "company_email": text,
            "company_website": text, "address_1": text, "address_2": text, "country": text,
            "city": text, "state": text, "zip_code": text, "fax": text
        })),
        "custom_fields": {
            "type": "object",
            "description": "By field id: `{\"value\": …}`, or `{\"file_upload\": {\"files\": [file, …]}}` for a file field.",
            "additionalProperties": { "type": "object" }
        },
        "permissions": {
            "type": "object",
            "description": "By module: `{\"view-invoice\": 1, …}`.",
            "additionalProperties": { "type": "object" }
        }
    }));
    let mut fields = fields;
    if required && let Json::Object(map) = &mut fields {
        map.insert("required".into(), json!(["business_information"]));
    }
    let encoding = json!({
        "business_information": { "style": "deepObject", "explode": true },
        "custom_fields": { "style": "deepObject", "explode": true },
        "permissions": { "style": "deepObject", "explode": true }
    });
    json!({
        "multipart/form-data": { "schema": fields, "encoding": encoding },
        "application/x-www-form-urlencoded": { "schema": fields, "encoding": encoding },
        "application/json": { "schema": fields }
    })
}

/// A ManageIt delete: 204, as Cirqll's.
fn delete(id: &str, summary: &str, scope: &str) -> Operation {
    Operation::new(id, summary, "manageit")
        .secured(Some(scope))
        .parameter(id_parameter())
        .parameter(idempotency_key())
        .respond(
            204,
            json!({ "description": "Deleted", "headers": headers_with(&["Idempotent-Replayed"]) }),
        )
        .errors(&[400, 401, 403, 404, 409, 422, 429, 503])
}

fn manageit() -> Vec<PathItem> {
    let read = CUSTOMER.scope(kring_core::resource::Action::View);
    let write = CUSTOMER.scope(kring_core::resource::Action::Create);
    let field_read = crate::registry::defs::field::FIELD.scope(kring_core::resource::Action::View);
    let field_write =
        crate::registry::defs::field::FIELD.scope(kring_core::resource::Action::Create);
    let customer =
        json!({ "type": "object", "properties": { "data": schema("ManageItCustomer") } });
    let customers = object(json!({
        "data": { "type": "array", "items": schema("ManageItCustomer") },
        "links": { "type": "object" }, "meta": { "type": "object" }
    }));
    let field = object(json!({ "data": { "type": "object" } }));
    let fields = object(json!({ "data": { "type": "array", "items": { "type": "object" } } }));
    let page = [
        query(
            "page",
            "A page number: answers with Laravel's `links` and `meta`.",
            json!({ "type": "integer", "minimum": 1 }),
        ),
        query(
            "limit",
            "Customers per page.",
            json!({ "type": "integer", "minimum": 0, "maximum": 1000 }),
        ),
        query(
            "per_page",
            "The same as `limit`.",
            json!({ "type": "integer", "minimum": 0, "maximum": 1000 }),
        ),
        query(
            "filter",
            "As Cirqll's `filter`, over the names this dialect shows.",
            json!({ "type": "string" }),
        ),
        query(
            "order_by",
            "As Cirqll's `order_by`.",
            json!({ "type": "string" }),
        ),
    ];
    let customer_update = |id: &str, summary: &str| {
        Operation::new(id, summary, "manageit")
            .secured(Some(&write))
            .parameter(id_parameter())
            .parameter(idempotency_key())
            .body(manageit_body(false), true)
            .respond(200, json_response("The customer", customer.clone()))
            .errors(&[400, 401, 403, 404, 409, 413, 415, 422, 429, 503, 507])
    };
    let field_update = |id: &str| {
        Operation::new(id, "Update a custom field", "manageit")
            .secured(Some(&field_write))
            .parameter(id_parameter())
            .parameter(idempotency_key())
            .body(json_content(json!({ "type": "object" })), true)
            .respond(200, json_response("The field", field.clone()))
            .errors(&[400, 401, 403, 404, 409, 413, 415, 422, 429, 503])
    };
    vec![
        PathItem::new("/api/customers")
            .on(
                "get",
                Operation::new("ManageItCustomers", "List customers (ManageIt)", "manageit")
                    .secured(Some(&read))
                    .parameters(page)
                    .respond(200, json_response("Customers", customers))
                    .errors(&[400, 401, 403, 429, 503]),
            )
            .on(
                "post",
                Operation::new("ManageItCustomerCreate", "Create a customer with custom fields and files (ManageIt)", "manageit")
                    .secured(Some(&write))
                    .parameter(idempotency_key())
                    .body(manageit_body(true), true)
                    .respond(201, linked(json_response("The customer", customer.clone()), "ManageItCustomer", "/data/id"))
                    .errors(&[400, 401, 403, 409, 413, 415, 422, 429, 503, 507]),
            ),
        PathItem::new("/api/customers/{id}")
            .on(
                "get",
                Operation::new("ManageItCustomerShow", "Show a customer (ManageIt)", "manageit")
                    .secured(Some(&read))
                    .parameter(id_parameter())
                    .respond(200, json_response("The customer", customer.clone()))
                    .errors(&[400, 401, 403, 404, 429]),
            )
            .on("put", customer_update("ManageItCustomerUpdatePut", "Update a customer (ManageIt)"))
            .on("patch", customer_update("ManageItCustomerUpdatePatch", "Update a customer (ManageIt)"))
            .on(
                "post",
                customer_update("ManageItCustomerPost", "Update a customer from a form: `_method=PUT` (or `PATCH`, `DELETE`) in the body, as Laravel spoofs methods")
                    .respond(405, json!({ "description": "No `_method` in the body", "content": json_content(schema("Exception")) })),
            )
            .on("delete", delete("ManageItCustomerDelete", "Delete a customer (ManageIt)", &write)),
        PathItem::new("/api/custom-fields")
            .on(
                "get",
                Operation::new("ManageItFields", "The customer custom fields (ManageIt)", "manageit")
                    .secured(Some(&field_read))
                    .respond(200, json_response("Fields", fields))
                    .errors(&[400, 401, 403, 429]),
            )
            .on(
                "post",
                Operation::new("ManageItFieldCreate", "Create a custom field (ManageIt)", "manageit")
                    .secured(Some(&field_write))
                    .parameter(idempotency_key())
                    .body(json_content(json!({ "type": "object" })), true)
                    .respond(201, linked(json_response("The field", field.clone()), "ManageItField", "/data/id"))
                    .errors(&[400, 401, 403, 409, 413, 415, 422, 429, 503]),
            ),
        PathItem::new("/api/custom-fields/{id}")
            .on(
                "get",
                Operation::new("ManageItFieldShow", "Show a custom field (ManageIt)", "manageit")
                    .secured(Some(&field_read))
                    .parameter(id_parameter())
                    .respond(200, json_response("The field", field.clone()))
                    .errors(&[400, 401, 403, 404, 429]),
            )
            .on("put", field_update("ManageItFieldUpdatePut"))
            .on("patch", field_update("ManageItFieldUpdatePatch"))
            .on("delete", delete("ManageItFieldDelete", "Delete a custom field (ManageIt)", &field_write)),
        PathItem::new("/api/files/{uuid}").on(
            "get",
            Operation::new("File", "Download an uploaded file: a signed link needs no token", "files")
                .secured(None)
                .parameter(path("uuid", "The file's id.", json!({ "type": "string" })))
                .parameter(query("expires", "A signed link's expiry (Unix time).", json!({ "type": "integer" })))
                .parameter(query("signature", "A signed link's signature.", json!({ "type": "string" })))
                .respond(200, json!({ "description": "The file", "headers": headers_with(&[]), "content": { "application/octet-stream": { "schema": { "type": "string", "contentMediaType": "application/octet-stream" } } } }))
                .errors(&[401, 403, 404, 429]),
        ),
    ]
}
