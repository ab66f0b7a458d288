//! The OpenAPI 3.1 document for `/api/v1`, served at `/api/v1/openapi.json`.
//! A test checks every route of the router is described here.

use serde_json::{json, Value};

fn op(summary: &str, role: &str, body: Option<Value>, ok: &str) -> Value {
    let mut o = json!({
        "summary": summary,
        "description": format!("Needs a token with at least the `{role}` role."),
        "security": [{"bearer": []}],
        "responses": {
            ok: {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}},
            "401": {"$ref": "#/components/responses/Error"},
            "403": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"},
            "409": {"$ref": "#/components/responses/Error"},
            "422": {"$ref": "#/components/responses/Error"}
        }
    });
    if let (Some(b), Some(obj)) = (body, o.as_object_mut()) {
        obj.insert(
            "requestBody".into(),
            json!({"required": false, "content": {"application/json": {"schema": b}}}),
        );
    }
    o
}

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
            "description": "Permissions on demand: request a bundle for a bounded time, approve or deny, list and revoke grants, read and verify the hash-chained audit log."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`latch token create`)."}},
            "responses": {"Error": {"description": "Refused or failed", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "string", "description": "stable code, e.g. self_approval, duration_too_long, unknown_bundle"},
                    "message": {"type": "string"}}}}}}}}},
            "schemas": {
                "NewRequest": {"type": "object", "required": ["bundle", "duration", "reason"], "properties": {
                    "bundle": {"type": "string"}, "duration": {"type": "string", "examples": ["1h", "30m"]},
                    "reason": {"type": "string"}, "break_glass": {"type": "boolean"},
                    "source": {"type": "string", "enum": ["api", "cli"]}}},
                "Decision": {"type": "object", "properties": {"comment": {"type": "string"}}},
                "Revoke": {"type": "object", "properties": {"reason": {"type": "string"},
                    "cut_sessions": {"type": "boolean", "description": "deny sessions issued before now (aws:TokenIssueTime)"}}},
                "NewToken": {"type": "object", "required": ["subject", "role"], "properties": {
                    "subject": {"type": "string"}, "role": {"type": "string", "enum": ["requester", "approver", "admin"]}}}
            }
        },
        "paths": {
            "/healthz": {"get": {"summary": "Liveness and store reachability", "responses": {"200": {"description": "ok"}, "503": {"description": "store unreachable"}}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "ok"}}}},
            "/api/v1/requests": {
                "post": op("Ask for a bundle", "requester", Some(json!({"$ref": "#/components/schemas/NewRequest"})), "201"),
                "get": {"parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["pending", "approved", "denied", "expired", "all"]}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                    "summary": "List requests (requesters see their own)", "security": [{"bearer": []}],
                    "responses": {"200": {"description": "ok"}, "401": {"$ref": "#/components/responses/Error"}}}
            },
            "/api/v1/requests/{id}": {"parameters": id_param("request"), "get": op("One request with its answers", "requester", None, "200")},
            "/api/v1/requests/{id}/approve": {"parameters": id_param("request"), "post": op("Approve (named approvers only; never one's own)", "approver", Some(json!({"$ref": "#/components/schemas/Decision"})), "200")},
            "/api/v1/requests/{id}/deny": {"parameters": id_param("request"), "post": op("Deny", "approver", Some(json!({"$ref": "#/components/schemas/Decision"})), "200")},
            "/api/v1/grants": {"get": {"parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["live", "all", "approved", "active", "expiring", "revoking", "expired", "revoked"]}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "summary": "List grants (requesters see their own)", "security": [{"bearer": []}],
                "responses": {"200": {"description": "ok"}, "401": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/grants/{id}": {"parameters": id_param("grant"), "get": op("One grant", "requester", None, "200")},
            "/api/v1/grants/{id}/revoke": {"parameters": id_param("grant"), "post": op("Revoke early (own grant, bundle approver, or admin)", "requester", Some(json!({"$ref": "#/components/schemas/Revoke"})), "200")},
            "/api/v1/audit": {"get": {"parameters": [
                    {"name": "after", "in": "query", "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "summary": "Audit entries after a sequence number", "security": [{"bearer": []}],
                "responses": {"200": {"description": "ok"}, "403": {"$ref": "#/components/responses/Error"}}}},
            "/api/v1/audit/verify": {"get": op("Verify the hash chain", "admin", None, "200")},
            "/api/v1/audit/export": {"get": {"summary": "The whole log as JSON Lines", "security": [{"bearer": []}],
                "responses": {"200": {"description": "ok", "content": {"application/x-ndjson": {}}}}}},
            "/api/v1/reconcile": {"post": op("Ask the scheduler to reconcile cloud tags now", "admin", None, "202")},
            "/api/v1/events": {"post": op("The usage feed: CloudTrail records (EventBridge events, bare records, arrays, or {\"Records\": [...]}); denials on actions a bundle holds become one-click Slack offers", "admin", Some(json!({"type": ["object", "array"]})), "202")},
            "/api/v1/tokens": {"post": op("Create an API token (the secret is shown once)", "admin", Some(json!({"$ref": "#/components/schemas/NewToken"})), "201")},
            "/slack/commands": {"post": {"summary": "Slack slash commands (signed by Slack)", "responses": {"200": {"description": "acknowledged"}, "401": {"description": "signature, timestamp or replay check failed"}}}},
            "/slack/interactions": {"post": {"summary": "Slack button clicks (signed by Slack)", "responses": {"200": {"description": "acknowledged"}, "401": {"description": "signature, timestamp or replay check failed"}}}}
        }
    })
}
