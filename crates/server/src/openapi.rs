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

/// `o`, answering with the schema `name` (`#/components/schemas/…`, a type of `crate::api`).
fn answers(mut o: Value, name: &str) -> Value {
    if let Some(responses) = o.get_mut("responses").and_then(Value::as_object_mut) {
        for (code, r) in responses.iter_mut() {
            if code.starts_with('2') {
                if let Some(content) = r.pointer_mut("/content/application~1json") {
                    *content = json!({"schema": {"$ref": format!("#/components/schemas/{name}")}});
                }
            }
        }
    }
    o
}

fn s(t: &str) -> Value {
    json!({"type": t})
}

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

fn list_of(name: &str) -> Value {
    json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}})
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The schemas of the answers: exactly the fields of `crate::api`'s types (a test holds them
/// to it).
fn answer_schemas() -> Value {
    let object = |properties: Value| json!({"type": "object", "properties": properties});
    json!({
        "Request": object(json!({
            "id": s("string"), "requester": s("string"), "identity": s("string"),
            "identity_kind": s("string"), "account": nullable("string"),
            "permission_set": nullable("string"), "targets": list_of("Target"),
            "extends": nullable("string"), "starts_at": nullable("string"),
            "bundle": s("string"), "duration": s("string"),
            "duration_secs": s("integer"), "reason": s("string"),
            "status": {"type": "string", "enum": ["pending", "approved", "denied", "expired", "cancelled"]},
            "source": s("string"), "break_glass": s("boolean"), "tier": s("integer"),
            "tier_deadline": nullable("string"), "required_approvals": s("integer"),
            "created_at": s("string"), "decided_at": nullable("string")})),
        "Grant": object(json!({
            "id": s("string"), "request_id": s("string"), "requester": s("string"),
            "identity": s("string"), "identity_kind": s("string"),
            "account": nullable("string"), "permission_set": nullable("string"),
            "starts_at": nullable("string"), "bundle": s("string"),
            "status": {"type": "string", "enum": ["approved", "active", "expiring", "revoking", "expired", "revoked"]},
            "cloud_state": {"type": "string", "enum": ["pending", "applied", "removing", "removed"]},
            "cloud_error": s("string"),
            "break_glass": s("boolean"), "created_at": s("string"),
            "activated_at": nullable("string"), "expires_at": s("string"),
            "expires_at_ms": s("integer"), "ended_at": nullable("string"),
            "revoked_by": nullable("string"), "revoke_reason": nullable("string"),
            "session_cutoff": nullable("string")})),
        "Target": object(json!({
            "identity": s("string"), "identity_kind": s("string"),
            "account": nullable("string"), "permission_set": nullable("string")})),
        "Approval": object(json!({
            "approver": s("string"), "decision": {"type": "string", "enum": ["approve", "deny"]},
            "at": s("string"), "comment": nullable("string")})),
        "RequestAnswer": object(json!({"request": schema_ref("Request"),
            "grant": {"oneOf": [schema_ref("Grant"), {"type": "null"}]},
            "grants": list_of("Grant")})),
        "RequestDetail": object(json!({"request": schema_ref("Request"),
            "approvals": list_of("Approval"), "approvers": {"type": "array", "items": s("string")},
            "grants": list_of("Grant")})),
        "RequestList": object(json!({"requests": list_of("Request")})),
        "GrantList": object(json!({"grants": list_of("Grant")})),
        "GrantAnswer": object(json!({"grant": schema_ref("Grant")})),
        "TokenCreated": object(json!({"id": s("string"), "subject": s("string"),
            "role": {"type": "string", "enum": ["requester", "approver", "admin", "auditor", "ingest"]},
            "token": {"type": "string", "description": "the secret, shown once"}})),
    })
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
    let mut doc = body();
    if let (Some(schemas), Value::Object(answers)) = (
        doc.pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut),
        answer_schemas(),
    ) {
        schemas.extend(answers);
    }
    doc
}

fn body() -> Value {
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
                    "source": {"type": "string", "enum": ["api", "cli"]},
                    "account": {"type": "string", "pattern": "^[0-9]{12}$", "description": "The account the grant is for: an Identity Center user names it when they reach several."},
                    "accounts": {"type": "array", "maxItems": latch_grant::workflow::MAX_TARGETS, "items": {"type": "string", "pattern": "^[0-9]{12}$"}, "description": "Several accounts in one request (with or instead of `account`): approved once, one grant per account, each applied (or failing) on its own; refused whole if any is not the requester's."},
                    "start": {"type": "string", "examples": ["2026-12-08T09:00:00Z"], "description": "When the access starts (RFC 3339), for a change window approved ahead: applied by the scheduler at the start, ending `duration` after it; at most 30 days ahead. Default: at once."},
                    "permission_set": {"type": "string", "maxLength": 200, "description": "The permission set whose role in `account` receives the grant, when they reach the account through several."}}},
                "Extend": {"type": "object", "additionalProperties": false, "required": ["duration", "reason"], "properties": {
                    "duration": {"type": "string", "examples": ["30m", "1h"]}, "reason": {"$ref": "#/components/schemas/Text"}}},
                "Text": {"type": "string", "description": "One line of visible text: at most `server.max_reason_chars` characters (1,000 by default); no control characters, line breaks or bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069)."},
                "Decision": {"type": "object", "additionalProperties": false, "properties": {"comment": {"$ref": "#/components/schemas/Text"}}},
                "Revoke": {"type": "object", "additionalProperties": false, "properties": {"reason": {"$ref": "#/components/schemas/Text"},
                    "cut_sessions": {"type": "boolean", "description": "deny sessions issued before now (aws:TokenIssueTime)"}}},
                "NewToken": {"type": "object", "additionalProperties": false, "required": ["subject", "role"], "properties": {
                    "subject": {"type": "string", "maxLength": 200}, "role": {"type": "string", "enum": ["requester", "approver", "admin", "auditor", "ingest"]}}}
            }
        },
        "paths": {
            "/healthz": {"get": {"summary": "Liveness and store reachability", "responses": {"200": {"description": "ok"}, "503": {"description": "store unreachable"}}}},
            "/readyz": {"get": {"summary": "Readiness: the store answers, a scheduler leader is known (this server or another), the cloud answers; each check in `checks`", "responses": {"200": {"description": "ready"}, "503": {"description": "not ready: the failing checks say why"}}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "ok"}}}},
            "/api/v1/requests": {
                "post": answers(op("Ask for a bundle", "requester", Some(json!({"$ref": "#/components/schemas/NewRequest"})), "201"), "RequestAnswer"),
                "get": answers(listing("List requests (requesters see their own)", json!([
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["pending", "approved", "denied", "expired", "all"]}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}}])), "RequestList")
            },
            "/api/v1/requests/{id}": {"parameters": id_param("request"), "get": answers(op("One request with its answers", "requester", None, "200"), "RequestDetail")},
            "/api/v1/requests/{id}/approve": {"parameters": id_param("request"), "post": answers(op("Approve (named approvers only; never one's own)", "approver", Some(json!({"$ref": "#/components/schemas/Decision"})), "200"), "RequestAnswer")},
            "/api/v1/requests/{id}/deny": {"parameters": id_param("request"), "post": answers(op("Deny", "approver", Some(json!({"$ref": "#/components/schemas/Decision"})), "200"), "RequestAnswer")},
            "/api/v1/grants": {"get": answers(listing("List grants (requesters see their own)", json!([
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["live", "all", "approved", "active", "expiring", "revoking", "expired", "revoked"]}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}}])), "GrantList")},
            "/api/v1/grants/{id}": {"parameters": id_param("grant"), "get": answers(op("One grant", "requester", None, "200"), "GrantAnswer")},
            "/api/v1/grants/{id}/revoke": {"parameters": id_param("grant"), "post": answers(op("Revoke early (own grant, bundle approver, or admin)", "requester", Some(json!({"$ref": "#/components/schemas/Revoke"})), "200"), "GrantAnswer")},
            "/api/v1/grants/{id}/extend": {"parameters": id_param("grant"), "post": answers(op("Ask for more time on your own live grant: extended at once within the bundle's self_extend (or for an auto-approved bundle), else a request naming the grant goes to the bundle's approvers; never beyond the bundle's max_total", "requester", Some(json!({"$ref": "#/components/schemas/Extend"})), "201"), "RequestAnswer")},
            "/api/v1/grants/{id}/relinquish": {"parameters": id_param("grant"), "post": answers(op("Give your own grant back before it ends (its holder only); recorded as relinquished, removed like a revocation", "requester", Some(json!({"$ref": "#/components/schemas/Revoke"})), "200"), "GrantAnswer")},
            "/api/v1/audit": {"get": listing("Audit entries after a sequence number (admin)", json!([
                    {"name": "after", "in": "query", "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}}]))},
            "/api/v1/audit/verify": {"get": op("Verify the hash chain and that every request and grant names an entry the log holds", "admin", None, "200")},
            "/api/v1/audit/export": {"get": {"summary": "The whole log as JSON Lines", "description": "Needs a token with the `admin` role.", "security": [{"bearer": []}],
                "responses": {"200": {"description": "ok", "content": {"application/x-ndjson": {}}},
                    "401": {"$ref": ERROR}, "403": {"$ref": ERROR}}}},
            "/api/v1/reconcile": {"post": op("Ask the scheduler to reconcile cloud tags now", "admin", None, "202")},
            "/api/v1/directory/sync": {"post": op("Read the directory ([identity_center]) now and commit what changed: people who appeared or left, group and assignment changes; the pending requests of people who left are cancelled and their grants revoked", "admin", None, "200")},
            "/api/v1/events": {"post": without_415(op("The usage feed: CloudTrail records (EventBridge events, bare records, arrays, or {\"Records\": [...]}); denials on actions a bundle holds become one-click offers in chat (an `ingest` token may call this and nothing else; an `admin` token may too)", "ingest", Some(json!({"type": ["object", "array"]})), "202"))},
            "/api/v1/posture": {
                "get": op("The latest scan, plan and prove summaries kept for the posture page (each null until pushed): when, by whom, the document's SHA-256, its figures and its summary (auditors may read it)", "admin", None, "200"),
                "post": without_415(op("Push a scan report (`latch scan --format json`), a plan (`plan.json`) or a prove report (`latch prove --format json`), told apart by content: summarized and kept (201), or already the latest of its kind (200)", "admin", Some(json!({"type": "object"})), "201"))},
            "/api/v1/tokens": {"post": answers(op("Create an API token (the secret is shown once)", "admin", Some(json!({"$ref": "#/components/schemas/NewToken"})), "201"), "TokenCreated")},
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

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    /// The schemas name exactly the fields the wire types serialize (every optional one set).
    #[test]
    fn the_schemas_are_the_wire_types() {
        use crate::api::*;
        use latch_grant::{
            ApprovalRecord, Decision, GrantRecord, GrantStatus, Identity, IdentityKind,
            RequestRecord, RequestStatus, Role,
        };
        let doc = document();
        let props = |name: &str| keys(&doc["components"]["schemas"][name]["properties"]);
        let fields = |v: Value| keys(&v);
        let identity = Identity {
            kind: IdentityKind::Role,
            id: "arn:aws:iam::111122223333:role/a".into(),
        };
        let r = RequestView::of(&RequestRecord {
            id: "r-1".into(),
            requester: "a".into(),
            identity: identity.clone(),
            account: Some("111122223333".into()),
            permission_set: Some("AdministratorAccess".into()),
            starts_at: Some(1_800_000_000_000),
            extends: Some("g-0".into()),
            more_targets: Vec::new(),
            bundle: "b".into(),
            duration_secs: 60,
            reason: "x".into(),
            status: RequestStatus::Approved,
            source: "api".into(),
            break_glass: false,
            tier: 0,
            tier_deadline: Some(1),
            required_approvals: 1,
            created_at: 0,
            decided_at: Some(1),
            version: 1,
        });
        let g = GrantView::of(&GrantRecord {
            id: "g-1".into(),
            request_id: "r-1".into(),
            requester: "a".into(),
            identity,
            account: Some("111122223333".into()),
            permission_set: Some("AdministratorAccess".into()),
            starts_at: Some(1_800_000_000_000),
            bundle: "b".into(),
            status: GrantStatus::Revoked,
            break_glass: false,
            created_at: 0,
            activated_at: Some(1),
            expires_at: 2,
            ended_at: Some(2),
            revoked_by: Some("b".into()),
            revoke_reason: Some("y".into()),
            session_cutoff: Some(2),
            reminded_at: None,
            version: 1,
        });
        let mut g = g;
        g.cloud_error = Some("AccessDenied".into());
        let a = ApprovalView::of(&ApprovalRecord {
            request_id: "r-1".into(),
            approver: "b".into(),
            decision: Decision::Approve,
            at: 1,
            comment: Some("ok".into()),
        });
        for (name, value) in [
            ("Request", j(&r)),
            ("Grant", j(&g)),
            ("Approval", j(&a)),
            (
                "RequestAnswer",
                j(&RequestAnswer {
                    request: r.clone(),
                    grant: Some(g.clone()),
                    grants: vec![g.clone()],
                }),
            ),
            (
                "RequestDetail",
                j(&RequestDetail {
                    request: r.clone(),
                    approvals: vec![a.clone()],
                    approvers: vec![],
                    grants: vec![],
                }),
            ),
            ("RequestList", j(&RequestList { requests: vec![] })),
            ("GrantList", j(&GrantList { grants: vec![] })),
            ("GrantAnswer", j(&GrantAnswer { grant: g.clone() })),
            (
                "TokenCreated",
                j(&NewToken {
                    id: "t".into(),
                    subject: "s".into(),
                    role: Role::Admin,
                    token: "x".into(),
                }),
            ),
            (
                "NewRequest",
                j(&NewRequestBody {
                    bundle: "b".into(),
                    duration: "1h".into(),
                    reason: "x".into(),
                    break_glass: true,
                    source: Some("cli".into()),
                    account: Some("111122223333".into()),
                    accounts: vec!["444455556666".into()],
                    permission_set: Some("AdministratorAccess".into()),
                    start: Some("2026-12-08T09:00:00Z".into()),
                }),
            ),
            (
                "Decision",
                j(&DecisionBody {
                    comment: Some("c".into()),
                }),
            ),
            (
                "Revoke",
                j(&RevokeBody {
                    reason: Some("r".into()),
                    cut_sessions: Some(true),
                }),
            ),
            (
                "NewToken",
                j(&NewTokenBody {
                    subject: "s".into(),
                    role: Role::Admin,
                }),
            ),
        ] {
            assert_eq!(props(name), fields(value), "schema {name}");
        }
    }

    fn j<T: serde::Serialize>(v: &T) -> Value {
        serde_json::to_value(v).unwrap()
    }

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
