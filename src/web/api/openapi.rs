//! `GET /api/openapi.json`: the API described as OpenAPI 3.0, written by hand next to the
//! routes (a test checks that every route is described).

use axum::Json;
use serde_json::{json, Map, Value};

use crate::model::CallEventKind;

/// The paths the API serves, as OpenAPI writes them, with their methods.
pub const PATHS: &[(&str, &[&str])] = &[
    ("/api/login", &["post"]),
    ("/api/logout", &["post"]),
    ("/api/me", &["get"]),
    ("/api/calls", &["get"]),
    ("/api/calls/{id}", &["get"]),
    ("/api/calls/{id}/topic", &["put"]),
    ("/api/calls/{id}/recording", &["get"]),
    ("/api/stats", &["get"]),
    ("/api/operators", &["get"]),
    ("/api/queue", &["get"]),
    ("/api/live", &["get"]),
    ("/api/operators/{id}/pause", &["post"]),
    ("/api/operators/{id}/resume", &["post"]),
    ("/api/audit", &["get"]),
    ("/api/users", &["get", "post"]),
    ("/api/tokens", &["post"]),
    ("/api/openapi.json", &["get"]),
    ("/healthz", &["get"]),
    ("/api/calls/{id}/legal-hold", &["put", "delete"]),
    ("/api/worklist", &["get"]),
    ("/api/worklist/{id}", &["get", "patch"]),
    ("/api/worklist/{id}/callback", &["post"]),
];

pub(super) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(super) fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false,
            "schema": { "type": kind }, "description": description })
}

fn id_param(what: &str) -> Value {
    json!({ "name": "id", "in": "path", "required": true,
            "schema": { "type": "string" }, "description": what })
}

pub(super) fn json_response(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

pub(super) fn json_body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

pub(super) fn error(description: &str) -> Value {
    json_response(description, schema_ref("Error"))
}

/// One operation: its summary, the role it needs, parameters, body and answers.
pub(super) fn op(
    summary: &str,
    role: Option<&str>,
    params: Vec<Value>,
    body: Option<Value>,
    mut responses: Map<String, Value>,
) -> Value {
    let mut o = json!({ "summary": summary, "parameters": params });
    if let Some(body) = body {
        o["requestBody"] = body;
    }
    match role {
        Some(role) => {
            o["description"] = Value::String(format!("Role: {role} or higher."));
            responses.insert("401".into(), error("No or invalid credentials"));
            responses.insert("403".into(), error("Role too low"));
        }
        None => o["security"] = json!([]),
    }
    o["responses"] = Value::Object(responses);
    o
}

pub(super) fn responses(list: Vec<(&str, Value)>) -> Map<String, Value> {
    list.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn period_params() -> Vec<Value> {
    vec![
        query(
            "from",
            "string",
            "RFC 3339, or YYYY-MM-DD (start of that day in the line's zone)",
        ),
        query("to", "string", "Exclusive; RFC 3339 or YYYY-MM-DD"),
    ]
}

fn schemas() -> Value {
    let text = json!({ "type": "string" });
    let opt_text = json!({ "type": "string", "nullable": true });
    let opt_int = json!({ "type": "integer", "nullable": true });
    let mut call = Map::new();
    for c in [
        "id",
        "sip_call_id",
        "caller",
        "dialed",
        "source",
        "received_at",
        "outcome",
    ] {
        call.insert(c.into(), text.clone());
    }
    for c in [
        "answered_at",
        "queued_at",
        "connected_at",
        "ended_at",
        "operator_id",
        "operator_name",
        "hangup_by",
        "end_reason",
        "recording_path",
        "recording_sha256",
        "recording_error",
        "notice_played_at",
        "topic",
        "recording_url",
    ] {
        call.insert(c.into(), opt_text.clone());
    }
    call.insert(
        "direction".into(),
        json!({ "type": "string", "enum": ["inbound", "outbound"] }),
    );
    for c in [
        "wait_ms",
        "talk_ms",
        "final_status",
        "recording_ms",
        "recording_bytes",
    ] {
        call.insert(c.into(), opt_int.clone());
    }
    call.insert(
        "notice_completed".into(),
        json!({ "type": "boolean", "nullable": true }),
    );
    let mut totals = Map::new();
    for c in [
        "calls",
        "answered",
        "abandoned",
        "after_hours",
        "overflow",
        "no_operators",
        "rejected",
        "self_service",
    ] {
        totals.insert(c.into(), json!({ "type": "integer" }));
    }
    for (c, source) in [
        ("readings_phone", "keyed in by callers"),
        ("readings_operator", "entered by operators"),
    ] {
        totals.insert(
            c.into(),
            json!({ "type": "integer", "description": format!("Meter readings {source} (by the day they were handed in)") }),
        );
    }
    totals.insert(
        "self_service_share".into(),
        json!({ "type": "number", "nullable": true,
                "description": "Share of the calls that ended `self_service` (settled without an operator)" }),
    );
    for c in ["wait_ms_avg", "wait_ms_p90", "talk_ms_avg"] {
        totals.insert(c.into(), opt_int.clone());
    }
    totals.insert(
        "service_level".into(),
        json!({ "type": "number", "nullable": true,
                "description": "Share of answered calls connected within 20 s of queueing" }),
    );
    let mut day = totals.clone();
    day.insert("date".into(), json!({ "type": "string", "format": "date" }));
    json!({
        "Error": { "type": "object", "properties": { "error": text } },
        "Me": { "type": "object", "properties": { "username": text, "role": { "type": "string", "enum": ["qa", "supervisor", "admin"] } } },
        "Call": { "type": "object", "properties": call },
        "CallDetail": { "allOf": [schema_ref("Call"), { "type": "object", "properties": {
            "rings": { "type": "array", "items": { "type": "object", "properties": {
                "operator_id": text, "started_at": text, "ended_at": text,
                "result": { "type": "string", "description": "How the ring ended: `answered`, \
                    `no_answer`, `caller_gone`, `busy`, `declined`, `error` (older rows may say \
                    `cancelled`, `failed`, `answered_late`)" } } } },
            "events": { "type": "array", "description": "Hold, resume and media moves, in time order",
                "items": schema_ref("CallEvent") },
            "holds": { "type": "array", "items": { "type": "object", "description":
                "A hold paired from its hold and resume events, in the order holds began. During an \
                 operator's hold the caller heard hold music, and the recording's operator channel \
                 is what the operator said, which the caller did not hear.",
                "properties": {
                    "by": { "type": "string", "enum": ["caller", "operator"] },
                    "from": text,
                    "to": { "type": "string", "nullable": true,
                        "description": "The resume; without one, the call's `ended_at` (null while it goes on)" } } } },
            "timeline": { "type": "array", "description": "The call's moments and its events, in time order",
                "items": { "type": "object", "properties": {
                    "at": text,
                    "event": { "type": "string", "enum": [
                        "received", "answered", "notice", "queued", "connected", "ended",
                        "caller_hold", "caller_resume", "operator_hold", "operator_resume",
                        "caller_media_moved", "operator_media_moved"] },
                    "detail": { "type": "string", "nullable": true, "description": "Events only" } } } },
            "readings": { "type": "array", "description": "Meter readings handed in during the call, oldest first",
                "items": schema_ref("Reading") } } }] },
        "CallEvent": { "type": "object", "properties": {
            "at": text,
            "kind": { "type": "string", "enum": CallEventKind::ALL.map(CallEventKind::as_str) },
            "detail": opt_text } },
        "Totals": { "type": "object", "properties": totals },
        "Day": { "type": "object", "properties": day },
        "Stats": { "type": "object", "properties": {
            "from": text, "to": text, "zone": text,
            "days": { "type": "array", "items": schema_ref("Day") },
            "total": schema_ref("Totals"),
            "operators": { "type": "array", "items": { "type": "object", "properties": {
                "operator_id": text, "name": opt_text, "answered": { "type": "integer" },
                "talk_ms_avg": opt_int, "talk_ms_total": { "type": "integer" } } } },
            "topics": { "type": "array", "items": { "type": "object", "properties": {
                "topic": opt_text, "label": opt_text, "calls": { "type": "integer" } } } } } },
        "Reading": super::openapi_readings::reading_schema(),
        "OperatorLive": { "type": "object", "properties": {
            "id": text, "name": text,
            "state": { "type": "string", "enum": ["offline", "available", "ringing", "talking", "wrap_up", "paused"] },
            "pause_reason": opt_text, "call_id": opt_text, "registered": { "type": "boolean" },
            "skills": { "type": "array", "items": text } } },
        "WaitingLive": { "type": "object", "properties": {
            "call_id": text, "caller": text, "position": { "type": "integer" },
            "waited_ms": { "type": "integer" }, "ringing": opt_text, "topic": opt_text } },
        "CallBackLive": { "type": "object", "properties": {
            "call_id": text, "item": { "type": "integer" }, "number": text, "operator": text,
            "direction": { "type": "string", "enum": ["outbound"] },
            "stage": { "type": "string", "enum": ["ringing_operator", "ringing_citizen", "talking"] },
            "since": text, "stage_ms": { "type": "integer" }, "topic": opt_text } },
        "LiveSnapshot": { "type": "object", "properties": {
            "at": text,
            "operators": { "type": "array", "items": schema_ref("OperatorLive") },
            "waiting": { "type": "array", "items": schema_ref("WaitingLive") },
            "callbacks": { "type": "array", "items": schema_ref("CallBackLive") },
            "active_calls": { "type": "integer" }, "longest_wait_ms": { "type": "integer" } } },
        "AuditEntry": { "type": "object", "properties": {
            "at": text, "username": opt_text,
            "action": { "type": "string", "enum": ["login", "login_failed", "logout", "recording_stream", "recording_download", "topic_set", "operator_pause", "operator_resume", "user_add", "token_add", "reading_add"] },
            "call_id": opt_text, "remote": opt_text, "detail": opt_text } },
    })
}

/// The whole description.
pub fn document() -> Value {
    let ok = |d: &str, s: Value| ("200", json_response(d, s));
    let no_content = || ("204", json!({ "description": "Done" }));
    let topic = json!({ "type": "string", "nullable": true,
        "enum": ["billing", "meter_readings", "contract", "connection", "debt", "referred", "other", null] });
    let mut calls_params = period_params();
    calls_params.extend([
        query(
            "caller",
            "string",
            "Digits that occur in the caller's number",
        ),
        query("operator", "string", "Operator id"),
        query("outcome", "string", "Outcome name"),
        query(
            "direction",
            "string",
            "`inbound` (callers) or `outbound` (call-backs)",
        ),
        query(
            "topic",
            "string",
            "Topic name, or `none` for calls without one",
        ),
        query("min_duration_ms", "integer", "Minimum talk time"),
        query("limit", "integer", "1..500, default 50"),
        query("offset", "integer", "Default 0"),
    ]);
    calls_params.extend([
        query("min_overtalk_ms", "integer", "Analysed calls with at least this much overtalk"),
        query("min_silence_ms", "integer", "Analysed calls with at least this much dead air"),
        query("operator_silent", "boolean", "`true`: calls flagged `operator_silent`"),
        query(
            "flagged",
            "string",
            "`true`: calls with any flag (audio or manual); or one kind: `long_dead_air`, `heavy_overtalk`, `operator_silent`, `manual`",
        ),
    ]);
    let mut stats_params = period_params();
    stats_params.push(query("format", "string", "`json` (default) or `csv`"));
    let paths = json!({
        "/api/login": { "post": op("Log in: sets the `hotline_session` cookie", None, vec![],
            Some(json_body(json!({ "type": "object", "required": ["username", "password"],
                "properties": { "username": { "type": "string" }, "password": { "type": "string" } } }))),
            responses(vec![ok("Logged in", schema_ref("Me")), ("401", error("Wrong name or password")),
                ("429", json!({ "description": "Too many failed logins for this name or from this address",
                    "headers": { "Retry-After": { "description": "Seconds until the lock lifts",
                        "schema": { "type": "integer" } } },
                    "content": { "application/json": { "schema": schema_ref("Error") } } }))])) },
        "/api/logout": { "post": op("Log out: ends the session, clears the cookie", Some("qa"), vec![], None,
            responses(vec![no_content()])) },
        "/api/me": { "get": op("Who is logged in", Some("qa"), vec![], None,
            responses(vec![ok("The user", schema_ref("Me"))])) },
        "/api/calls": { "get": op("Search the call register, newest first", Some("qa"), calls_params, None,
            responses(vec![ok("A page of calls", json!({ "type": "object", "properties": {
                "calls": { "type": "array", "items": schema_ref("Call") }, "total": { "type": "integer" } } })),
                ("400", error("Bad parameter"))])) },
        "/api/calls/{id}": { "get": op("One call with its rings, events, holds and timeline", Some("qa"), vec![id_param("Call id")], None,
            responses(vec![ok("The call", schema_ref("CallDetail")), ("404", error("No such call"))])) },
        "/api/calls/{id}/topic": { "put": op("Set or clear a call's topic", Some("qa"), vec![id_param("Call id")],
            Some(json_body(json!({ "type": "object", "required": ["topic"], "properties": { "topic": topic } }))),
            responses(vec![no_content(), ("400", error("Unknown topic")), ("404", error("No such call"))])) },
        "/api/calls/{id}/recording": { "get": op("The recording (audited); single byte ranges", Some("qa"),
            vec![id_param("Call id"), query("download", "string", "`1`: as an attachment"),
                 json!({ "name": "Range", "in": "header", "required": false, "schema": { "type": "string" },
                         "description": "bytes=a-b, bytes=a- or bytes=-n" })], None,
            responses(vec![
                ("200", json!({ "description": "The WAV", "content": { "audio/wav": { "schema": { "type": "string", "format": "binary" } } } })),
                ("206", json!({ "description": "The range", "content": { "audio/wav": { "schema": { "type": "string", "format": "binary" } } } })),
                ("404", error("No such call or no recording")),
                ("410", error("The recording was destroyed under the retention rules")),
                ("416", error("Range not satisfiable"))])) },
        "/api/stats": { "get": op("Statistics per day (line's zone), in total, per operator and topic", Some("qa"), stats_params, None,
            responses(vec![("200", json!({ "description": "Statistics", "content": {
                "application/json": { "schema": schema_ref("Stats") },
                "text/csv": { "schema": { "type": "string" } } } })), ("400", error("Bad parameter"))])) },
        "/api/operators": { "get": op("Live state of each operator", Some("supervisor"), vec![], None,
            responses(vec![ok("Operators", json!({ "type": "array", "items": schema_ref("OperatorLive") })),
                ("503", error("The line is not running"))])) },
        "/api/queue": { "get": op("Callers waiting now", Some("supervisor"), vec![], None,
            responses(vec![ok("The queue", json!({ "type": "object", "properties": {
                "waiting": { "type": "array", "items": schema_ref("WaitingLive") },
                "longest_wait_ms": { "type": "integer" }, "active_calls": { "type": "integer" } } })),
                ("503", error("The line is not running"))])) },
        "/api/live": { "get": op("Server-sent events: `snapshot` with a LiveSnapshot, at once and on every change", Some("supervisor"), vec![], None,
            responses(vec![("200", json!({ "description": "Event stream", "content": { "text/event-stream": { "schema": { "type": "string" } } } })),
                ("503", error("The line is not running"))])) },
        "/api/operators/{id}/pause": { "post": op("Pause an operator", Some("supervisor"), vec![id_param("Operator id")],
            Some(json_body(json!({ "type": "object", "properties": { "reason": { "type": "string" } } }))),
            responses(vec![no_content(), ("404", error("No such operator")), ("409", error("Refused by the switchboard"))])) },
        "/api/operators/{id}/resume": { "post": op("Resume a paused operator", Some("supervisor"), vec![id_param("Operator id")], None,
            responses(vec![no_content(), ("404", error("No such operator")), ("409", error("Refused by the switchboard"))])) },
        "/api/audit": { "get": op("The audit log, newest first", Some("admin"),
            vec![query("limit", "integer", "1..500, default 50"), query("offset", "integer", "Default 0")], None,
            responses(vec![ok("A page of entries", json!({ "type": "object", "properties": {
                "entries": { "type": "array", "items": schema_ref("AuditEntry") }, "total": { "type": "integer" } } }))])) },
        "/api/users": {
            "get": op("Users", Some("admin"), vec![], None,
                responses(vec![ok("Users", json!({ "type": "array", "items": { "type": "object", "properties": {
                    "username": { "type": "string" }, "role": { "type": "string" }, "created_at": { "type": "string" } } } }))])),
            "post": op("Add a user", Some("admin"), vec![],
                Some(json_body(json!({ "type": "object", "required": ["username", "password", "role"], "properties": {
                    "username": { "type": "string" }, "password": { "type": "string", "minLength": 8 },
                    "role": { "type": "string", "enum": ["operator", "qa", "supervisor", "admin"] },
                    "operator": { "type": "string", "description": "role operator: the operator id" } } }))),
                responses(vec![("201", json_response("Created", schema_ref("Me"))), ("400", error("Bad parameter")),
                    ("409", error("The name is taken"))])) },
        "/api/tokens": { "post": op("Make an API token for a user (shown once)", Some("admin"), vec![],
            Some(json_body(json!({ "type": "object", "required": ["name", "username"], "properties": {
                "name": { "type": "string" }, "username": { "type": "string" } } }))),
            responses(vec![("201", json_response("Created", json!({ "type": "object", "properties": { "token": { "type": "string" } } }))),
                ("404", error("No such user"))])) },
        "/api/openapi.json": { "get": op("This description", None, vec![], None,
            responses(vec![ok("OpenAPI 3.0", json!({ "type": "object" }))])) },
        "/healthz": { "get": op("Liveness", None, vec![], None,
            responses(vec![("200", json!({ "description": "`ok`", "content": { "text/plain": { "schema": { "type": "string" } } } }))])) },
    });
    let mut paths = paths;
    paths
        .as_object_mut()
        .expect("an object")
        .extend(super::openapi_quality::paths());
    paths["/api/calls/{id}/legal-hold"] = json!({
        "put": op("Put a call under legal hold: its recording is never purged (audited)", Some("admin"),
            vec![id_param("Call id")],
            Some(json_body(json!({ "type": "object", "required": ["reason"],
                "properties": { "reason": { "type": "string" } } }))),
            responses(vec![no_content(), ("400", error("Missing reason")), ("404", error("No such call"))])),
        "delete": op("Lift a call's legal hold (audited)", Some("admin"), vec![id_param("Call id")], None,
            responses(vec![no_content(), ("404", error("No legal hold on this call"))])),
    });
    worklist_paths(&mut paths);
    paths
        .as_object_mut()
        .expect("an object")
        .extend(super::openapi_readings::paths());
    // Every changing request passes the same-origin door first (`web/same_origin.rs`).
    for ops in paths.as_object_mut().expect("an object").values_mut() {
        for (method, o) in ops.as_object_mut().expect("an object") {
            if method != "get" {
                let answers = &mut o["responses"];
                answers["403"] = error("Role too low, or (without a bearer token) an Origin or Referer that is not this server's");
                answers["415"] = error(
                    "Body not sent as Content-Type: application/json (without a bearer token)",
                );
            }
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": { "title": "hotline QA API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Call register, recordings, statistics and the live board of the hotline. Times are RFC 3339 UTC with milliseconds." },
        "servers": [{ "url": "/" }],
        "security": [{ "session": [] }, { "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": { "type": "apiKey", "in": "cookie", "name": "hotline_session" },
                "bearer": { "type": "http", "scheme": "bearer" },
            },
            "schemas": schemas(),
        },
    })
}

/// The missed-calls worklist's paths.
fn worklist_paths(paths: &mut Value) {
    let ok = |d: &str, s: Value| ("200", json_response(d, s));
    let item = json!({ "type": "object", "properties": {
        "id": { "type": "integer" }, "number": { "type": "string" },
        "state": { "type": "string", "enum": ["new", "in_progress", "called_back", "unreachable", "closed"] },
        "first_at": { "type": "string" }, "last_at": { "type": "string" },
        "waited_ms": { "type": "integer", "description": "The longest wait of its missed calls" },
        "missed_calls": { "type": "integer" }, "calls_today": { "type": "integer" },
        "worked_by": { "type": "string", "nullable": true }, "updated_at": { "type": "string" },
        "calls": { "type": "array", "items": { "type": "object" } },
        "history": { "type": "array", "items": { "type": "object" } } } });
    let state = json!({ "type": "object", "required": ["state"], "properties": {
        "state": { "type": "string" }, "note": { "type": "string" } } });
    let operator = json!({ "type": "object", "required": ["operator"], "properties": {
        "operator": { "type": "string" } } });
    let p = paths.as_object_mut().expect("an object");
    p.insert("/api/worklist".into(), json!({ "get": op("Missed calls merged per number, open first", Some("qa"),
        vec![query("state", "string", "Only items in this state")], None,
        responses(vec![ok("Items", json!({ "type": "object", "properties": { "items": { "type": "array", "items": item.clone() } } })),
            ("400", error("Bad parameter"))])) }));
    p.insert("/api/worklist/{id}".into(), json!({
        "get": op("One item with its calls and history", Some("qa"), vec![id_param("Item id")], None,
            responses(vec![ok("The item", item.clone()), ("404", error("No such item"))])),
        "patch": op("Set an item's state (worked by the caller)", Some("qa"), vec![id_param("Item id")],
            Some(json_body(state)),
            responses(vec![ok("The item", item), ("400", error("Bad state")), ("404", error("No such item"))])) }));
    p.insert("/api/worklist/{id}/callback".into(), json!({ "post": op(
        "Call the number back: the operator's phone rings first, then the citizen through the provider",
        Some("qa"), vec![id_param("Item id")], Some(json_body(operator)),
        responses(vec![("202", json_response("Started: the outbound call's id, the item and the operator",
                json!({ "type": "object", "properties": { "call_id": { "type": "string" },
                    "item": { "type": "integer" }, "operator": { "type": "string" } } }))),
            ("404", error("No such item or operator")),
            ("409", error("Item settled, or the operator not registered or not free")),
            ("503", error("No provider configured or registered to call through"))])) }));
}

pub async fn get() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let every: Vec<_> = PATHS
            .iter()
            .chain(super::super::openapi_quality::PATHS)
            .chain(super::super::openapi_readings::PATHS)
            .collect();
        assert_eq!(paths.len(), every.len());
        for (path, methods) in every {
            for m in *methods {
                assert!(paths[*path][*m].is_object(), "{m} {path}");
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(doc["components"]["schemas"][&name].is_object(), "{name}");
        }
    }
}
