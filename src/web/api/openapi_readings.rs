//! The meter-readings part of `GET /api/openapi.json`: readings (the billing export and an
//! operator's entry) and an account's meters (merged into the document by `openapi.rs`).

use serde_json::{json, Map, Value};

use super::openapi::{error, json_body, op, query, responses, schema_ref};

/// The readings paths, as OpenAPI writes them, with their methods.
pub const PATHS: &[(&str, &[&str])] = &[
    ("/api/readings", &["get", "post"]),
    ("/api/subscribers/{account}", &["get"]),
];

/// One reading as `GET /api/readings`, `POST /api/readings` and a call's page show it.
pub fn reading_schema() -> Value {
    json!({ "type": "object", "properties": {
        "account": { "type": "string" }, "meter": { "type": "string" },
        "value": { "type": "integer", "description": "Whole m³" },
        "previous": { "type": "integer", "description": "The meter's last reading known to billing when this one was taken" },
        "at": { "type": "string" },
        "source": { "type": "string", "enum": ["phone", "operator"] },
        "call_id": { "type": "string", "nullable": true } } })
}

/// The readings paths' descriptions.
pub fn paths() -> Map<String, Value> {
    let readings = json!({ "type": "object", "properties": {
        "readings": { "type": "array", "items": schema_ref("Reading") },
        "more": { "type": "boolean", "description": "With `limit`: older readings of the period were left out" } } });
    let v = json!({
        "/api/readings": {
            "get": op("Meter readings handed in, by period and account, oldest first: the billing export. \
                       An operator must name the account (403 otherwise)", Some("operator"),
                vec![query("from", "string", "start (date or RFC 3339); default: 30 days ago"),
                     query("to", "string", "end, exclusive"),
                     query("account", "string", "one account (required for the operator role)"),
                     query("limit", "integer", "only the newest so many, 1..5000 (default: all of the period)"),
                     query("format", "string", "`json` (default) or `csv` (`account;meter;value;previous;at;source;call_id`)")], None,
                responses(vec![("200", json!({ "description": "Readings", "content": {
                    "application/json": { "schema": readings },
                    "text/csv": { "schema": { "type": "string" } } } })), ("400", error("Bad parameter"))])),
            "post": op("Enter a reading given during a call (source `operator`; audited as `reading_add`)", Some("operator"), vec![],
                Some(json_body(json!({ "type": "object", "required": ["account", "meter", "value"], "properties": {
                    "account": { "type": "string" }, "meter": { "type": "string" },
                    "value": { "type": "integer", "minimum": 0 },
                    "call_id": { "type": "string", "description": "The call it was given in: one the user may see" } } }))),
                responses(vec![("201", json!({ "description": "Stored", "content": {
                        "application/json": { "schema": schema_ref("Reading") } } })),
                    ("400", error("Bad value or below the last reading")),
                    ("404", error("No such meter of the account, or no such call (for an operator: not their call)"))])),
        },
        "/api/subscribers/{account}": {
            "get": op("An account's meters as billing exported them, in the export's order", Some("operator"),
                vec![json!({ "name": "account", "in": "path", "required": true,
                             "schema": { "type": "string" }, "description": "Account number" })], None,
                responses(vec![("200", json!({ "description": "The account", "content": { "application/json": {
                        "schema": { "type": "object", "properties": {
                            "account": { "type": "string" },
                            "meters": { "type": "array", "items": { "type": "object", "properties": {
                                "meter": { "type": "string" },
                                "kind": { "type": "string", "enum": ["cold", "hot"] },
                                "last_reading": { "type": "integer" } } } } } } } } })),
                    ("404", error("No such account"))])),
        },
    });
    match v {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}
