//! The call-grading part of `GET /api/openapi.json`: forms, evaluations, flags, the "to
//! grade" list and the quality reports (merged into the document by `openapi.rs`).

use serde_json::{json, Map, Value};

/// The grading paths, as OpenAPI writes them, with their methods.
pub const PATHS: &[(&str, &[&str])] = &[
    ("/api/forms", &["get", "post"]),
    ("/api/forms/{id}", &["get", "put"]),
    ("/api/calls/{id}/evaluations", &["post"]),
    ("/api/evaluations", &["get"]),
    ("/api/evaluations/{id}", &["get"]),
    ("/api/evaluations/{id}/response", &["post"]),
    ("/api/evaluations/{id}/resolution", &["post"]),
    ("/api/calls/{id}/flags", &["get", "post"]),
    ("/api/grading/queue", &["get"]),
    ("/api/grading/sample", &["post"]),
    ("/api/reports/quality", &["get"]),
    ("/api/reports/quality/calibration", &["get"]),
];

fn op(summary: &str, role: &str, params: &[(&str, &str, &str)], body: Option<Value>) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|(name, place, description)| {
            json!({ "name": name, "in": place, "required": *place == "path",
                    "schema": { "type": "string" }, "description": description })
        })
        .collect();
    let mut o = json!({
        "summary": summary,
        "description": format!("Role: {role} or higher."),
        "parameters": parameters,
        "responses": {
            "200": { "description": "OK", "content": { "application/json": { "schema": { "type": "object" } } } },
            "400": { "description": "Bad parameter or body (the text names it)" },
            "401": { "description": "No or invalid credentials" },
            "403": { "description": "Role too low" },
            "404": { "description": "No such item, or not one this user may see" },
        },
    });
    if let Some(schema) = body {
        o["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": schema } } });
    }
    o
}

const ID: (&str, &str, &str) = ("id", "path", "The item's id");
const PERIOD: [(&str, &str, &str); 2] = [
    (
        "from",
        "query",
        "RFC 3339 instant or YYYY-MM-DD (line's zone)",
    ),
    ("to", "query", "Exclusive bound, same forms"),
];

fn form_schema() -> Value {
    json!({ "type": "object", "required": ["name", "groups"], "properties": {
        "name": { "type": "string" },
        "groups": { "type": "array", "items": { "type": "object", "properties": {
            "title": { "type": "string" },
            "questions": { "type": "array", "items": { "type": "object",
                "required": ["id", "text", "kind"], "properties": {
                "id": { "type": "string" }, "text": { "type": "string" }, "help": { "type": "string" },
                "kind": { "type": "string", "enum": ["yes_no", "scale", "choice"] },
                "max": { "type": "integer", "description": "scale: 1..100" },
                "choices": { "type": "array", "items": { "type": "object", "properties": {
                    "value": { "type": "string" }, "label": { "type": "string" }, "points": { "type": "integer" } } } },
                "weight": { "type": "integer", "description": "1..100, default 1" },
                "critical": { "type": "boolean", "description": "failed: the score is 0" } } } } } } } } })
}

/// The grading paths' descriptions.
pub fn paths() -> Map<String, Value> {
    let p = PERIOD;
    let v = json!({
        "/api/forms": {
            "get": op("The latest version of every evaluation form", "qa", &[], None),
            "post": op("A new form (version 1); 201 with the form", "qa", &[], Some(form_schema())),
        },
        "/api/forms/{id}": {
            "get": op("One form version", "operator", &[ID], None),
            "put": op("Edit a form: in place while unused, else a new version (its id is in the answer)", "qa", &[ID], Some(form_schema())),
        },
        "/api/calls/{id}/evaluations": {
            "post": op("Grade a call; 201 with {id, score}, the score 0-100 computed by the server", "qa", &[ID],
                Some(json!({ "type": "object", "required": ["form", "answers"], "properties": {
                    "form": { "type": "integer" },
                    "answers": { "type": "object", "description": "question id → true/false, an integer, or a choice's value" },
                    "comments": { "type": "array", "items": { "type": "object", "properties": {
                        "at_ms": { "type": "integer", "description": "a moment of the recording; absent for a general comment" },
                        "text": { "type": "string" } } } } } }))),
        },
        "/api/evaluations": {
            "get": op("Evaluations, newest first (an operator sees only theirs)", "operator",
                &[("operator", "query", "Operator id"), p[0], p[1],
                  ("status", "query", "graded, acknowledged, disputed or resolved"),
                  ("grader", "query", "Grader's user name"), ("call", "query", "Call id"),
                  ("limit", "query", "1..500, default 50")], None),
        },
        "/api/evaluations/{id}": {
            "get": op("One evaluation with its form version and call", "operator", &[ID], None),
        },
        "/api/evaluations/{id}/response": {
            "post": op("The operator acknowledges or disputes (with a comment) their evaluation, once; 204", "operator", &[ID],
                Some(json!({ "type": "object", "required": ["status"], "properties": {
                    "status": { "type": "string", "enum": ["acknowledged", "disputed"] },
                    "comment": { "type": "string" } } }))),
        },
        "/api/evaluations/{id}/resolution": {
            "post": op("The grader answers a dispute (it becomes resolved); 204", "qa", &[ID],
                Some(json!({ "type": "object", "required": ["reply"], "properties": { "reply": { "type": "string" } } }))),
        },
        "/api/calls/{id}/flags": {
            "get": op("A call's flags", "qa", &[ID], None),
            "post": op("Flag a call by hand (`manual`); 201, or 200 if already flagged", "qa", &[ID],
                Some(json!({ "type": "object", "properties": { "flag": { "type": "string", "enum": ["manual"] },
                    "detail": { "type": "string" } } }))),
        },
        "/api/grading/queue": {
            "get": op("The open \"to grade\" list and the disputes waiting for an answer", "qa",
                &[("mine", "query", "1: only mine"), ("all", "query", "1: graded entries too")], None),
        },
        "/api/grading/sample": {
            "post": op("Run the [quality] sampling rules now over calls received in the period (default: the last 7 days); {added}", "qa", &[],
                Some(json!({ "type": "object", "properties": { "from": { "type": "string" }, "to": { "type": "string" } } }))),
        },
        "/api/reports/quality": {
            "get": op("Average score per operator, form group, question and week; evaluations and calls graded (JSON or CSV)", "qa",
                &[p[0], p[1], ("operator", "query", "Operator id"), ("format", "query", "json or csv")], None),
        },
        "/api/reports/quality/calibration": {
            "get": op("Calls graded by several graders and their spread (min, max, standard deviation)", "qa", &[p[0], p[1]], None),
        },
    });
    match v {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}
