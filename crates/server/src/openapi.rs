//! The OpenAPI 3.1 document for `/api/v1`, served at `/api/v1/openapi.json`.
//! A test checks it describes exactly the router's routes, and that exactly the routes that
//! need a token say so.

use serde_json::{json, Value};

const ERROR: &str = "#/components/responses/Error";

fn op(summary: &str, role: &str, body: Option<Value>, ok: &str) -> Value {
    let mut o = json!({
        "summary": summary,
        "description": format!("Needs a token with at least the `{role}` role (checked before anything else in the request is read)."),
        "security": [{"bearer": []}],
        "responses": {
            ok: {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"$ref": ERROR},
            "401": {"$ref": ERROR},
            "403": {"$ref": ERROR},
            "404": {"$ref": ERROR},
            "409": {"$ref": ERROR},
            "422": {"$ref": ERROR}
        }
    });
    if let Some(b) = body {
        if let Some(obj) = o.as_object_mut() {
            obj.insert(
                "requestBody".into(),
                json!({"required": false, "content": {"application/json": {"schema": b}}}),
            );
        }
        if let Some(responses) = o.get_mut("responses").and_then(Value::as_object_mut) {
            responses.insert("413".into(), json!({"$ref": ERROR}));
            responses.insert("415".into(), json!({"$ref": ERROR}));
        }
    }
    o
}

/// The usage feed reads its body as JSON whatever its declared type.
fn without_415(mut o: Value) -> Value {
    if let Some(responses) = o.get_mut("responses").and_then(Value::as_object_mut) {
        responses.remove("415");
    }
    o
}

/// A listing: a token of any role, query parameters, 400 on bad ones.
fn listing(summary: &str, parameters: Value) -> Value {
    json!({
        "summary": summary,
        "description": "Needs a token (checked before the query is read). Unknown or malformed parameters are `bad_query`.",
        "parameters": parameters,
        "security": [{"bearer": []}],
        "responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"$ref": ERROR},
            "401": {"$ref": ERROR},
            "403": {"$ref": ERROR}
        }
    })
}

/// What the API says about errors.
const ERRORS: &str = "Every error is `{\"error\": {\"code\", \"message\"}}` with a stable code. \
Before a handler runs: `unauthenticated` (401: no, unknown or revoked token; answered before the \
body, path or query is read), `forbidden` (403: the token's role is too low), `not_found` (404: \
no such endpoint, or no such request or grant), `method_not_allowed` (405), `bad_json` (400: \
not JSON, or empty where a body is required), `unknown_field` (400: a field the call does not \
take), `invalid_body` (400: a missing field or a value of the wrong type), \
`unsupported_media_type` (415: a body without `Content-Type: application/json`), \
`body_too_large` (413: over 64 KiB, 2 MiB for /api/v1/events), `bad_query` (400: an unknown or \
malformed query parameter), `bad_path` (400: an id that cannot be one). Refusals (422, 403, \
409) name the rule: e.g. `self_approval`, `duration_too_long`, `unknown_bundle`, \
`missing_reason`, `too_long` (a reason, comment or revoke reason over `server.max_reason_chars` \
characters, 1,000 by default; names over 200), `forbidden_character` (a control character, \
line break or bidirectional formatting character in written text).";

fn id_param(what: &str) -> Value {
    json!([{"name": "id", "in": "path", "required": true, "description": format!("{what} id"), "schema": {"type": "string"}}])
}

/// The document.
#[must_use]
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Latch control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Permissions on demand: request a bundle for a bounded time, approve or deny, list and revoke grants, read and verify the hash-chained audit log. {ERRORS}")
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`latch token create`)."}},
            "responses": {"Error": {"description": "Refused or failed", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "string", "description": "stable code, e.g. unauthenticated, bad_json, unknown_field, body_too_large, self_approval, duration_too_long, unknown_bundle, too_long, forbidden_character (see the description of this API)"},
                    "message": {"type": "string"}}}}}}}}},
            "schemas": {
                "NewRequest": {"type": "object", "additionalProperties": false, "required": ["bundle", "duration", "reason"], "properties": {
                    "bundle": {"type": "string", "maxLength": 200}, "duration": {"type": "string", "examples": ["1h", "30m"]},
                    "reason": {"$ref": "#/components/schemas/Text"}, "break_glass": {"type": "boolean"},
                    "source": {"type": "string", "enum": ["api", "cli"]}}},
                "Text": {"type": "string", "description": "One line of visible text: at most `server.max_reason_chars` characters (1,000 by default); no control characters, line breaks or bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069)."},
                "Decision": {"type": "object", "additionalProperties": false, "properties": {"comment": {"$ref": "#/components/schemas/Text"}}},
                "Revoke": {"type": "object", "additionalProperties": false, "properties": {"reason": {"$ref": "#/components/schemas/Text"},
                    "cut_sessions": {"type": "boolean", "description": "deny sessions issued before now (aws:TokenIssueTime)"}}},
                "NewToken": {"type": "object", "additionalProperties": false, "required": ["subject", "role"], "properties": {
                    "subject": {"type": "string", "maxLength": 200}, "role": {"type": "string", "enum": ["requester", "approver", "admin"]}}}
            }
        },
        "paths": {
            "/healthz": {"get": {"summary": "Liveness and store reachability", "responses": {"200": {"description": "ok"}, "503": {"description": "store unreachable"}}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "ok"}}}},
            "/api/v1/requests": {
                "post": op("Ask for a bundle", "requester", Some(json!({"$ref": "#/components/schemas/NewRequest"})), "201"),
                "get": listing("List requests (requesters see their own)", json!([
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["pending", "approved", "denied", "expired", "all"]}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}}]))
            },
            "/api/v1/requests/{id}": {"parameters": id_param("request"), "get": op("One request with its answers", "requester", None, "200")},
            "/api/v1/requests/{id}/approve": {"parameters": id_param("request"), "post": op("Approve (named approvers only; never one's own)", "approver", Some(json!({"$ref": "#/components/schemas/Decision"})), "200")},
            "/api/v1/requests/{id}/deny": {"parameters": id_param("request"), "post": op("Deny", "approver", Some(json!({"$ref": "#/components/schemas/Decision"})), "200")},
            "/api/v1/grants": {"get": listing("List grants (requesters see their own)", json!([
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["live", "all", "approved", "active", "expiring", "revoking", "expired", "revoked"]}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}}]))},
            "/api/v1/grants/{id}": {"parameters": id_param("grant"), "get": op("One grant", "requester", None, "200")},
            "/api/v1/grants/{id}/revoke": {"parameters": id_param("grant"), "post": op("Revoke early (own grant, bundle approver, or admin)", "requester", Some(json!({"$ref": "#/components/schemas/Revoke"})), "200")},
            "/api/v1/audit": {"get": listing("Audit entries after a sequence number (admin)", json!([
                    {"name": "after", "in": "query", "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}}]))},
            "/api/v1/audit/verify": {"get": op("Verify the hash chain and that every request and grant names an entry the log holds", "admin", None, "200")},
            "/api/v1/audit/export": {"get": {"summary": "The whole log as JSON Lines", "description": "Needs a token with the `admin` role.", "security": [{"bearer": []}],
                "responses": {"200": {"description": "ok", "content": {"application/x-ndjson": {}}},
                    "401": {"$ref": ERROR}, "403": {"$ref": ERROR}}}},
            "/api/v1/reconcile": {"post": op("Ask the scheduler to reconcile cloud tags now", "admin", None, "202")},
            "/api/v1/events": {"post": without_415(op("The usage feed: CloudTrail records (EventBridge events, bare records, arrays, or {\"Records\": [...]}); denials on actions a bundle holds become one-click offers in chat", "admin", Some(json!({"type": ["object", "array"]})), "202"))},
            "/api/v1/tokens": {"post": op("Create an API token (the secret is shown once)", "admin", Some(json!({"$ref": "#/components/schemas/NewToken"})), "201")},
            "/slack/commands": {"post": {"summary": "Slack slash commands (signed by Slack)", "responses": {"200": {"description": "acknowledged"}, "401": {"description": "signature, timestamp or replay check failed"}}}},
            "/slack/interactions": {"post": {"summary": "Slack button clicks (signed by Slack)", "responses": {"200": {"description": "acknowledged"}, "401": {"description": "signature, timestamp or replay check failed"}}}},
            "/teams/messages": {"post": {"summary": "Microsoft Teams activities: messages to the bot and Action.Execute card buttons (a Bot Framework token for this bot)", "responses": {"200": {"description": "acknowledged; for a card button, the invoke response that replaces the card"}, "401": {"description": "token check failed (signature, issuer, audience, expiry, service URL) or the activity was replayed"}, "403": {"description": "the activity comes from another Entra tenant"}}}}
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::http::{route_access, Access};

    #[test]
    fn describes_exactly_the_routes_and_which_need_a_token() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let routes = route_access();
        let mut described: Vec<&str> = paths.keys().map(String::as_str).collect();
        let mut routed: Vec<&str> = routes.iter().map(|(p, _)| *p).collect();
        described.sort_unstable();
        routed.sort_unstable();
        assert_eq!(described, routed);
        for (path, access) in routes {
            for (method, operation) in paths[path].as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let secured = operation.get("security").is_some();
                assert_eq!(
                    secured,
                    matches!(access, Access::Token(..)),
                    "{method} {path}: security in the document and the router disagree"
                );
                if secured {
                    assert_eq!(
                        operation["responses"]["401"]["$ref"], ERROR,
                        "{method} {path} does not describe its 401"
                    );
                }
            }
        }
    }
}
