//! The OpenAPI 3 description of `/api/v1`, served at `GET /api/openapi.json`.
//! Kept beside the routes it describes; a test checks that every route is in it.

use axum::Json;
use serde_json::{json, Value};

fn body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn ok(schema: Option<&str>, status: &str) -> Value {
    let mut responses = json!({
        "400": { "$ref": "#/components/responses/Error" },
        "401": { "$ref": "#/components/responses/Error" },
        "403": { "$ref": "#/components/responses/Error" },
        "422": { "$ref": "#/components/responses/Error" },
        "429": { "$ref": "#/components/responses/Error" }
    });
    responses[status] = match schema {
        Some(s) => json!({ "description": "success", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{s}") } } } }),
        None => json!({ "description": "success, no content" }),
    };
    responses
}

fn op(summary: &str, tag: &str, req: Option<&str>, resp: Option<&str>, status: &str, public: bool) -> Value {
    let mut o = json!({ "summary": summary, "tags": [tag], "responses": ok(resp, status) });
    if let Some(r) = req {
        o["requestBody"] = body(r);
    }
    if public {
        o["security"] = json!([]);
    }
    o
}

pub fn spec() -> Value {
    let id_param = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }]);
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Bespoke API", "version": "1", "description": "The marketplace's JSON API. Authenticate with `Authorization: Bearer <token>` from sign-in (the same sessions as the web pages)." },
        "servers": [{ "url": "/api/v1" }],
        "security": [{ "bearer": [] }],
        "paths": {
            "/auth/sign-up": { "post": op("Create an account and sign in", "auth", Some("SignUp"), Some("Session"), "201", true) },
            "/auth/sign-in": { "post": op("Sign in with email and password", "auth", Some("SignIn"), Some("SignInResult"), "200", true) },
            "/auth/sign-in/mfa": { "post": op("Finish an MFA sign-in", "auth", Some("MfaSignIn"), Some("Session"), "200", true) },
            "/auth/sign-out": { "post": op("End the current session", "auth", None, None, "204", false) },
            "/me": {
                "get": op("The signed-in user", "account", None, Some("User"), "200", false),
                "patch": op("Change the display name", "account", Some("Profile"), Some("User"), "200", false)
            },
            "/me/password": { "post": op("Change the password (ends other sessions)", "account", Some("PasswordChange"), None, "204", false) },
            "/me/sessions": { "get": op("Active sessions", "account", None, Some("Sessions"), "200", false) },
            "/me/sessions/revoke-all": { "post": op("Sign out everywhere", "account", None, Some("Revoked"), "200", false) },
            "/me/sessions/{id}": { "delete": { "summary": "End one session", "tags": ["account"], "parameters": id_param, "responses": ok(None, "204") } },
            "/me/mfa/setup": { "post": op("Start TOTP enrolment", "mfa", None, Some("MfaSetup"), "200", false) },
            "/me/mfa/confirm": { "post": op("Confirm enrolment with a code", "mfa", Some("Code"), Some("RecoveryCodes"), "200", false) },
            "/me/mfa/disable": { "post": op("Turn MFA off", "mfa", Some("Code"), None, "204", false) },
            "/me/mfa/recovery-codes": { "post": op("Replace the recovery codes", "mfa", Some("Code"), Some("RecoveryCodes"), "200", false) },
            "/me/notifications": { "get": op("In-app notifications, newest first", "account", None, Some("Notifications"), "200", false) },
            "/me/stream": { "get": { "summary": "Realtime pushes as server-sent events", "tags": ["account"],
                "responses": { "200": { "description": "an event stream", "content": { "text/event-stream": { "schema": { "type": "string" } } } },
                               "401": { "$ref": "#/components/responses/Error" } } } },
            "/me/notifications/read-all": { "post": op("Mark every notification read", "account", None, Some("Marked"), "200", false) },
            "/admin/events": { "get": op("Outbox lag and dead letters (admin)", "admin", None, Some("EventHealth"), "200", false) },
            "/admin/events/dead-letters/{event_id}/{consumer}/redrive": { "post": {
                "summary": "Re-drive a dead letter (admin)", "tags": ["admin"],
                "parameters": [
                    { "name": "event_id", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "consumer", "in": "path", "required": true, "schema": { "type": "string" } }
                ],
                "responses": ok(None, "202") } },
            "/dealer/me": { "get": op("The approved dealer's account", "dealer", None, Some("User"), "200", false) },
            "/admin/dealers": { "get": {
                "summary": "Dealers by application status (admin)", "tags": ["admin"],
                "parameters": [{ "name": "status", "in": "query", "schema": { "type": "string", "enum": ["pending", "approved", "rejected"] } }],
                "responses": ok(Some("Dealers"), "200") } },
            "/admin/dealers/{id}/decision": { "post": {
                "summary": "Approve or reject a dealer (admin)", "tags": ["admin"], "parameters": id_param,
                "requestBody": body("Decision"), "responses": ok(Some("User"), "200") } }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": { "Error": { "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                    "code": { "type": "string" }, "message": { "type": "string" }, "field": { "type": "string", "nullable": true } } } } },
                "SignUp": { "type": "object", "required": ["email", "password", "display_name"], "additionalProperties": false, "properties": {
                    "email": { "type": "string", "format": "email", "maxLength": 254 },
                    "password": { "type": "string", "minLength": 8, "maxLength": 128 },
                    "display_name": { "type": "string", "minLength": 1, "maxLength": 80 },
                    "account_type": { "type": "string", "enum": ["customer", "dealer"], "default": "customer" } } },
                "SignIn": { "type": "object", "required": ["email", "password"], "additionalProperties": false, "properties": {
                    "email": { "type": "string" }, "password": { "type": "string" } } },
                "MfaSignIn": { "type": "object", "required": ["challenge", "code"], "additionalProperties": false, "properties": {
                    "challenge": { "type": "string" }, "code": { "type": "string" } } },
                "Session": { "type": "object", "required": ["token", "token_type", "expires_at", "user"], "properties": {
                    "token": { "type": "string" }, "token_type": { "type": "string", "enum": ["Bearer"] },
                    "expires_at": { "type": "string", "format": "date-time" }, "user": { "$ref": "#/components/schemas/User" } } },
                "SignInResult": { "oneOf": [ { "$ref": "#/components/schemas/Session" }, { "type": "object", "required": ["mfa_required", "challenge"], "properties": {
                    "mfa_required": { "type": "boolean" }, "challenge": { "type": "string" } } } ] },
                "User": { "type": "object", "required": ["id", "email", "display_name", "role", "mfa_enabled", "created_at"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "email": { "type": "string" }, "display_name": { "type": "string" },
                    "role": { "type": "string", "enum": ["customer", "dealer", "admin"] },
                    "dealer_status": { "type": "string", "nullable": true, "enum": ["pending", "approved", "rejected"] },
                    "mfa_enabled": { "type": "boolean" }, "created_at": { "type": "string", "format": "date-time" } } },
                "Profile": { "type": "object", "required": ["display_name"], "additionalProperties": false, "properties": { "display_name": { "type": "string", "maxLength": 80 } } },
                "PasswordChange": { "type": "object", "required": ["current_password", "new_password"], "additionalProperties": false, "properties": {
                    "current_password": { "type": "string" }, "new_password": { "type": "string", "minLength": 8, "maxLength": 128 } } },
                "Sessions": { "type": "object", "properties": { "sessions": { "type": "array", "items": { "type": "object", "properties": {
                    "id": { "type": "string" }, "ip": { "type": "string", "nullable": true }, "user_agent": { "type": "string", "nullable": true },
                    "created_at": { "type": "string" }, "last_seen_at": { "type": "string" }, "current": { "type": "boolean" } } } } } },
                "Revoked": { "type": "object", "properties": { "revoked": { "type": "integer" } } },
                "MfaSetup": { "type": "object", "properties": { "secret": { "type": "string" }, "otpauth_uri": { "type": "string" }, "qr_svg": { "type": "string" } } },
                "Code": { "type": "object", "required": ["code"], "additionalProperties": false, "properties": { "code": { "type": "string" } } },
                "RecoveryCodes": { "type": "object", "properties": { "recovery_codes": { "type": "array", "items": { "type": "string" } } } },
                "Dealers": { "type": "object", "properties": { "dealers": { "type": "array", "items": { "$ref": "#/components/schemas/User" } } } },
                "Notifications": { "type": "object", "properties": { "unread": { "type": "integer" }, "notifications": { "type": "array", "items": { "type": "object", "properties": {
                    "id": { "type": "string" }, "kind": { "type": "string" }, "title": { "type": "string" }, "body": { "type": "string" },
                    "link": { "type": "string", "nullable": true }, "read": { "type": "boolean" }, "created_at": { "type": "string", "format": "date-time" } } } } } },
                "Marked": { "type": "object", "properties": { "marked": { "type": "integer" } } },
                "EventHealth": { "type": "object", "properties": { "lag_seconds": { "type": "number" }, "dead_letters": { "type": "array", "items": { "type": "object", "properties": {
                    "event_id": { "type": "string" }, "consumer": { "type": "string" }, "event_type": { "type": "string" }, "aggregate_id": { "type": "string" },
                    "attempts": { "type": "integer" }, "last_error": { "type": "string", "nullable": true }, "payload": {}, "updated_at": { "type": "string" } } } } } },
                "Decision": { "type": "object", "required": ["approve"], "additionalProperties": false, "properties": {
                    "approve": { "type": "boolean" }, "reason": { "type": "string", "nullable": true, "maxLength": 500 } } }
            }
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(spec())
}
