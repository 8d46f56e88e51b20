//! What the registry says about each resource, as OpenAPI: the seed's three schemas per resource
//! (`<Name>Response`, `<Name>RequestStore`, `<Name>RequestUpdate`) and the Cirqll operations the
//! generic engine serves for it, with the query language's names listed per resource.

use kring_core::resource::{Action, RelationKind, ResourceDef, Routes};
use kring_core::schema::{Column, ColumnType, Default};
use serde_json::{Map, Value as Json, json};

use super::parts::{
    Operation, PathItem, headers_with, id_parameter, idempotency_key, json_content, query, schema,
};
use crate::registry::{REGISTRY, find};

/// `activity_log` → `ActivityLog`, the seed's spelling of a resource in schema names.
pub fn type_name(def: &ResourceDef) -> String {
    def.name
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// Every resource's schemas, by name: a response for each resource an operation or a
/// relation can show, the request bodies for each that its routes take.
pub fn schemas(into: &mut Map<String, Json>) {
    let related = |def: &ResourceDef| {
        REGISTRY
            .iter()
            .any(|other| other.relations.iter().any(|r| r.target == def.name))
    };
    for def in REGISTRY {
        let name = type_name(def);
        let (store_example, response_example) = seed_examples(def);
        if def.routes != Routes::None || related(def) {
            into.insert(
                format!("{name}Response"),
                with_example(response(def), response_example),
            );
        }
        if def.routes == Routes::Crud {
            into.insert(
                format!("{name}RequestStore"),
                with_example(request(def, true), store_example),
            );
        }
        if def.routes != Routes::None {
            into.insert(format!("{name}RequestUpdate"), request(def, false));
        }
    }
}

/// The examples the seeds give: only the Customer Create page (`000_…txt`) shows a body and
/// its answer.
fn seed_examples(def: &ResourceDef) -> (Option<Json>, Option<Json>) {
    if def.name != "customer" {
        return (None, None);
    }
    let store = json!({
        "user_id": 0, "name": "string", "description": "string", "coc": "string",
        "email": "cleora42@gmail.com", "phone": "1-848-429-9425",
        "next_contact": "2019-08-24T14:15:22.123Z", "show_on_map": true,
        "field_values": [{ "field_id": 0, "value": "string" }]
    });
    let response = json!({
        "id": 1, "user_id": 0, "name": "string", "description": "string", "coc": "string",
        "email": "cleora42@gmail.com", "phone": "1-848-429-9425",
        "next_contact": "2019-08-24T14:15:22.123Z", "show_on_map": true,
        "created_at": "2019-08-24T14:15:22.123Z", "updated_at": "2019-08-24T14:15:22.123Z",
        "next_contact_note": "string"
    });
    (Some(store), Some(response))
}

fn with_example(mut schema: Json, example: Option<Json>) -> Json {
    if let (Json::Object(map), Some(example)) = (&mut schema, example) {
        map.insert("examples".into(), json!([example]));
    }
    schema
}

/// A column's value as JSON Schema; `None` for the text a JSON column holds (any JSON).
fn column_schema(column: &Column) -> Json {
    let mut schema = Map::new();
    let ty = match column.ty {
        ColumnType::Int => {
            schema.insert("format".into(), json!("int64"));
            Some("integer")
        }
        ColumnType::Float => {
            schema.insert("format".into(), json!("double"));
            Some("number")
        }
        ColumnType::Bool => Some("boolean"),
        ColumnType::Text => Some("string"),
        ColumnType::Timestamp => {
            schema.insert("format".into(), json!("date-time"));
            Some("string")
        }
        ColumnType::Date => {
            schema.insert("format".into(), json!("date"));
            Some("string")
        }
        ColumnType::Json => None,
    };
    if let Some(ty) = ty {
        let ty = match column.nullable {
            true => json!([ty, "null"]),
            false => json!(ty),
        };
        schema.insert("type".into(), ty);
    }
    if let Some(max) = column.max {
        schema.insert("maxLength".into(), json!(max));
    }
    if let Some(min) = column.min {
        schema.insert("minLength".into(), json!(min));
    }
    if let Some((low, high)) = column.range {
        schema.insert("minimum".into(), json!(low));
        schema.insert("maximum".into(), json!(high));
    }
    if let Some(choices) = column.one_of {
        let mut values: Vec<Json> = choices.values().iter().map(|v| json!(v)).collect();
        if column.nullable {
            values.push(Json::Null);
        }
        schema.insert("enum".into(), Json::Array(values));
    }
    if column.email {
        schema.insert("format".into(), json!("email"));
    }
    if column.url || column.target {
        schema.insert("format".into(), json!("uri"));
    }
    if let Some(default) = column.default {
        let value = match default {
            Default::Int(n) => json!(n),
            Default::Text(text) => json!(text),
            Default::Bool(flag) => json!(flag),
        };
        schema.insert("default".into(), value);
    }
    let mut notes = Vec::new();
    if let Some(table) = column.references {
        notes.push(format!("The id of one of your company's `{table}`."));
    }
    if column.unique {
        notes.push("Unique within your company.".into());
    }
    if column.fixed {
        notes.push("Set on create; never changes after.".into());
    }
    if column.target {
        notes.push("Must lead to a public address.".into());
    }
    if !notes.is_empty() {
        schema.insert("description".into(), json!(notes.join(" ")));
    }
    Json::Object(schema)
}

/// A record as responses show it: its visible columns, and every relation `with` may embed.
fn response(def: &ResourceDef) -> Json {
    let mut properties = Map::new();
    for column in def.visible_columns() {
        let mut schema = column_schema(column);
        if !column.writable
            && let Json::Object(map) = &mut schema
        {
            map.insert("readOnly".into(), json!(true));
        }
        properties.insert(column.name.into(), schema);
    }
    // A hidden column the server makes is shown once, in the create response (a webhook's
    // signing secret).
    for column in def
        .columns
        .iter()
        .filter(|c| c.hidden && c.generate.is_some())
    {
        let mut schema = column_schema(column);
        if let Json::Object(map) = &mut schema {
            map.insert("readOnly".into(), json!(true));
            map.insert(
                "description".into(),
                json!("Shown once, in the create response."),
            );
        }
        properties.insert(column.name.into(), schema);
    }
    for relation in def.relations {
        let Some(target) = find(relation.target) else {
            continue;
        };
        let record = schema(&format!("{}Response", type_name(target)));
        let embedded = match relation.is_to_many() {
            true => paged(record),
            false => json!({ "oneOf": [record, { "type": "null" }] }),
        };
        let mut embedded = embedded;
        if let Json::Object(map) = &mut embedded {
            map.insert(
                "description".into(),
                json!(format!("With `with={}`.", relation.name)),
            );
        }
        properties.insert(relation.name.into(), embedded);
    }
    json!({
        "type": "object",
        "description": format!("A {} as responses show it. `show` narrows the keys; `count=<relation>` adds `<relation>_count`.", def.name.replace('_', " ")),
        "properties": properties,
    })
}

/// `response` with OpenAPI links from the record it made to the operations on it, its id
/// at `pointer` in the body.
pub fn linked(mut response: Json, name: &str, pointer: &str) -> Json {
    let id = json!({ "id": format!("$response.body#{pointer}") });
    let link = |operation: String| json!({ "operationId": operation, "parameters": id });
    if let Json::Object(map) = &mut response {
        map.insert(
            "links".into(),
            json!({
                "show": link(format!("{name}Show")),
                "update": link(format!("{name}UpdatePatch")),
                "replace": link(format!("{name}UpdatePut")),
                "delete": link(format!("{name}Delete")),
            }),
        );
    }
    response
}

/// A page of `record`s: `Pagination` with its items typed.
pub fn paged(record: Json) -> Json {
    json!({
        "allOf": [
            schema("Pagination"),
            { "type": "object", "properties": { "data": { "type": "array", "items": record } } }
        ]
    })
}

/// The body of a create (`store`) or an update: the writable columns, custom field values,
/// nested lists and link sets.
fn request(def: &ResourceDef, store: bool) -> Json {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for column in def.columns.iter().filter(|c| c.writable) {
        if !store && column.fixed {
            continue;
        }
        let mut schema = column_schema(column);
        if (column.hidden || column.password)
            && let Json::Object(map) = &mut schema
        {
            map.insert("writeOnly".into(), json!(true));
        }
        properties.insert(column.name.into(), schema);
        if store && column.required && column.default.is_none() && column.fill.is_none() {
            required.push(column.name);
        }
    }
    if def.custom_fields {
        properties.insert(
            "field_values".into(),
            json!({
                "type": "array",
                "description": "Custom field values: each field's value as its type takes it.",
                "items": {
                    "type": "object",
                    "required": ["field_id"],
                    "properties": {
                        "field_id": { "type": "integer", "format": "int64" },
                        "value": { "type": ["string", "number", "boolean", "array", "null"] }
                    }
                }
            }),
        );
    }
    for name in def.nested {
        if let Some(item) = nested_item(def, name) {
            properties.insert(
                (*name).into(),
                json!({ "type": "array", "description": "Replaces the whole list.", "items": item }),
            );
        }
    }
    for link in def.links {
        let target = def.relation(link.relation).and_then(|r| find(r.target));
        let items = match target.and_then(|t| t.column("name")) {
            Some(_) => json!({ "type": ["integer", "string"] }),
            None => json!({ "type": "integer", "format": "int64" }),
        };
        properties.insert(
            link.key.into(),
            json!({ "type": "array", "description": format!("Replaces the set of linked `{}`.", link.relation), "items": items }),
        );
    }
    let mut body = json!({ "type": "object", "properties": properties });
    if let Json::Object(map) = &mut body
        && !required.is_empty()
    {
        map.insert("required".into(), json!(required));
    }
    body
}

/// One item of a nested list (a task's `subtasks`): the child's writable columns but the key
/// that ties it to its parent.
fn nested_item(def: &ResourceDef, name: &str) -> Option<Json> {
    let relation = def.relation(name)?;
    let RelationKind::HasMany { key } = relation.kind else {
        return None;
    };
    let child = find(relation.target)?;
    let mut properties = Map::new();
    let mut required = Vec::new();
    for column in child.columns.iter().filter(|c| c.writable && c.name != key) {
        properties.insert(column.name.into(), column_schema(column));
        if column.required && column.default.is_none() {
            required.push(column.name);
        }
    }
    Some(json!({ "type": "object", "properties": properties, "required": required }))
}

/// The query language's parameters for a resource, each naming what this resource allows.
fn query_parameters(def: &ResourceDef, list: bool) -> Vec<Json> {
    let names = |items: Vec<&str>| {
        items
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let relations = names(def.relations.iter().map(|r| r.name).collect());
    let to_many = names(
        def.relations
            .iter()
            .filter(|r| r.is_to_many())
            .map(|r| r.name)
            .collect(),
    );
    let shown = names(def.visible_columns().map(|c| c.name).collect());
    let text = json!({ "type": "string", "maxLength": 2048 });
    let mut parameters = vec![
        query(
            "with",
            &format!(
                "Relations to embed, comma separated, dotted for nested ones (a to-many costs 3, a to-one 1, at most 16 in all): {relations}."
            ),
            text.clone(),
        ),
        query(
            "show",
            &format!("Only these keys, comma separated: {shown}."),
            text.clone(),
        ),
        query(
            "count",
            &format!("Add `<relation>_count` for these to-many relations: {to_many}."),
            text.clone(),
        ),
    ];
    if !list {
        return parameters;
    }
    let filterable = names(
        def.columns
            .iter()
            .filter(|c| c.filterable && !c.hidden)
            .map(|c| c.name)
            .collect(),
    );
    let sortable = names(
        def.columns
            .iter()
            .filter(|c| c.sortable && !c.hidden)
            .map(|c| c.name)
            .collect(),
    );
    let custom = match def.custom_fields {
        true => ", `field_values.<field id>`",
        false => "",
    };
    parameters.extend([
        query(
            "filter",
            &format!("`column:operator:value`, combined as `(a,and,b)` / `(a,or,b)`; operators `eq`, `neq`, `gt`, `gte`, `lt`, `lte`, `in`, `nin` (values split by `;`), `contains`, `starts_with`, `ends_with`, `null`, `not_null`. Columns: {filterable}{custom}, or a relation's column as `<relation>.<column>`."),
            text.clone(),
        ),
        query(
            "order_by",
            &format!("`column` or `column:asc|desc`, comma separated; ties in `id` order. Columns: {sortable}."),
            text,
        ),
        query(
            "limit",
            "Records per page (default 100).",
            json!({ "type": "integer", "minimum": 0, "maximum": kring_core::query::MAX_LIMIT, "default": kring_core::query::DEFAULT_LIMIT }),
        ),
        query(
            "per_page",
            "The same as `limit`.",
            json!({ "type": "integer", "minimum": 0, "maximum": kring_core::query::MAX_LIMIT }),
        ),
        query(
            "offset",
            "Records to skip.",
            json!({ "type": "integer", "minimum": 0, "default": 0 }),
        ),
    ]);
    parameters
}

/// The Cirqll paths of every routed resource.
pub fn paths() -> Vec<PathItem> {
    let mut items = Vec::new();
    for def in REGISTRY {
        match def.routes {
            Routes::Crud => crud(def, &mut items),
            Routes::Singleton => items.push(singleton(def)),
            Routes::None => {}
        }
    }
    items
}

fn crud(def: &'static ResourceDef, items: &mut Vec<PathItem>) {
    let name = type_name(def);
    let read = def.scope(Action::View);
    let write = def.scope(Action::Create);
    let record = schema(&format!("{name}Response"));
    let weighed = headers_with(&["X-Eager-Loading-Weight"]);
    let found = json!({ "description": "The record", "headers": weighed, "content": json_content(record.clone()) });
    let written = |status: &str| json!({ "description": status, "headers": headers_with(&["Idempotent-Replayed"]), "content": json_content(record.clone()) });
    let body = |kind: &str| json_content(schema(&format!("{name}{kind}")));
    let label = def.name.replace('_', " ");
    let tag = def.name;
    let collection = PathItem::new(format!("/api/{}", def.name))
        .on(
            "get",
            Operation::new(format!("{name}Index"), format!("List {label}s"), tag)
                .secured(Some(&read))
                .parameters(query_parameters(def, true))
                .respond(
                    200,
                    json!({ "description": "A page of records", "headers": headers_with(&["X-Eager-Loading-Weight"]), "content": json_content(paged(record.clone())) }),
                )
                .errors(&[400, 401, 403, 429, 503]),
        )
        .on(
            "post",
            Operation::new(format!("{name}Create"), format!("Create a {label}"), tag)
                .secured(Some(&write))
                .parameter(idempotency_key())
                .body(body("RequestStore"), true)
                .respond(201, linked(written("Created"), &name, "/id"))
                .errors(&[400, 401, 403, 409, 413, 415, 422, 429, 503]),
        );
    let update = |method: &str| {
        Operation::new(
            format!("{name}Update{method}"),
            format!("Update a {label}"),
            tag,
        )
        .secured(Some(&write))
        .parameter(id_parameter())
        .parameter(idempotency_key())
        .body(body("RequestUpdate"), true)
        .respond(200, written("Updated"))
        .errors(&[400, 401, 403, 404, 409, 413, 415, 422, 429, 503])
    };
    let record_path = PathItem::new(format!("/api/{}/{{id}}", def.name))
        .on(
            "get",
            Operation::new(format!("{name}Show"), format!("Show a {label}"), tag)
                .secured(Some(&read))
                .parameter(id_parameter())
                .parameters(query_parameters(def, false))
                .respond(200, found.clone())
                .errors(&[400, 401, 403, 404, 429]),
        )
        .on("patch", update("Patch"))
        .on("put", update("Put"))
        .on(
            "delete",
            Operation::new(format!("{name}Delete"), format!("Delete a {label}"), tag)
                .secured(Some(&write))
                .parameter(id_parameter())
                .parameter(idempotency_key())
                .respond(
                    204,
                    json!({ "description": "Deleted", "headers": headers_with(&["Idempotent-Replayed"]) }),
                )
                .errors(&[400, 401, 403, 404, 409, 422, 429, 503]),
        );
    items.push(collection);
    items.push(record_path);
    if def.own_record {
        let me = |id: String| {
            Operation::new(id, format!("The token's own {label}"), tag)
                .secured(Some(&read))
                .parameters(query_parameters(def, false))
                .respond(200, found.clone())
                .errors(&[400, 401, 403, 429])
        };
        items.push(
            PathItem::new(format!("/api/{}/me", def.name)).on("get", me(format!("{name}Me"))),
        );
        items.push(PathItem::new("/api/me").on("get", me("Me".into())));
    }
}

fn singleton(def: &'static ResourceDef) -> PathItem {
    let name = type_name(def);
    let label = def.name.replace('_', " ");
    let record = schema(&format!("{name}Response"));
    let update = |method: &str| {
        Operation::new(
            format!("{name}Update{method}"),
            format!("Update your company's {label}s"),
            def.name,
        )
        .secured(Some(&def.scope(Action::Update)))
        .parameter(idempotency_key())
        .body(json_content(schema(&format!("{name}RequestUpdate"))), true)
        .respond(
            200,
            json!({ "description": "Updated", "headers": headers_with(&["Idempotent-Replayed"]), "content": json_content(record.clone()) }),
        )
        .errors(&[400, 401, 403, 409, 413, 415, 422, 429, 503])
    };
    PathItem::new(format!("/api/{}", def.name))
        .on(
            "get",
            Operation::new(
                format!("{name}Show"),
                format!("Your company's {label}s"),
                def.name,
            )
            .secured(Some(&def.scope(Action::View)))
            .parameters(query_parameters(def, false))
            .respond(
                200,
                json!({ "description": "The record", "headers": headers_with(&["X-Eager-Loading-Weight"]), "content": json_content(record.clone()) }),
            )
            .errors(&[400, 401, 403, 429]),
        )
        .on("patch", update("Patch"))
        .on("put", update("Put"))
}
