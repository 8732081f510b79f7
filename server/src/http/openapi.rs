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
        "404": { "$ref": "#/components/responses/Error" },
        "409": { "$ref": "#/components/responses/Error" },
        "413": { "$ref": "#/components/responses/Error" },
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

fn base() -> Value {
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

/// Carts, checkout, payments, orders, the dealer's queue and balance, reviews.
fn orders_paths() -> Value {
    let id = |name: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } });
    let idem = json!({ "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 255 },
        "description": "The same key with the same body replays the first answer; with another body it is refused (422 idempotency_key_reused)." });
    let with = |mut o: Value, params: Vec<Value>| {
        o["parameters"] = Value::Array(params);
        o
    };
    json!({
        "/cart": { "get": op("The caller's cart (signed in, or the guest cart cookie), priced now", "cart", None, Some("Cart"), "200", true) },
        "/cart/items": { "post": op("Add a product with options and a quantity (a guest gets a cart cookie)", "cart", Some("CartAdd"), Some("Cart"), "201", true) },
        "/cart/items/{id}": {
            "put": with(op("Change a line's quantity", "cart", Some("Quantity"), Some("Cart"), "200", true), vec![id("id")]),
            "delete": with(op("Remove a line", "cart", None, Some("Cart"), "200", true), vec![id("id")])
        },
        "/checkout": { "post": with(op("Check out the whole cart: one order per dealer, one payment, stock held", "checkout", Some("Checkout"), Some("CheckoutView"), "201", false), vec![idem.clone()]) },
        "/checkouts/{id}": { "get": with(op("A checkout, its orders and its payment", "checkout", None, Some("CheckoutView"), "200", false), vec![id("id")]) },
        "/checkouts/{id}/cancel": { "post": with(op("Give up an unpaid checkout (the stock is released)", "checkout", None, Some("CheckoutView"), "200", false), vec![id("id")]) },
        "/payments/config": { "get": op("The payment provider and, for Stripe, the publishable key", "payments", None, Some("Object"), "200", true) },
        "/payments/webhooks/{provider}": { "post": {
            "summary": "Provider webhooks (Stripe-Signature verified over the raw body; applied once per event id)", "tags": ["payments"], "security": [],
            "parameters": [id("provider"), { "name": "Stripe-Signature", "in": "header", "required": true, "schema": { "type": "string" } }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
            "responses": { "200": { "description": "received" }, "400": { "$ref": "#/components/responses/Error" } } } },
        "/sandbox/payment_intents/{id}/confirm": { "post": with(op("The sandbox's card form (test cards only)", "payments", Some("SandboxConfirm"), Some("Object"), "200", true), vec![id("id"), idem]) },
        "/sandbox/payment_intents/{id}/authenticate": { "post": with(op("The sandbox's authentication step", "payments", Some("SandboxAuthenticate"), Some("Object"), "200", true), vec![id("id")]) },
        "/orders": { "get": op("The caller's orders", "orders", None, Some("Object"), "200", false) },
        "/orders/{id}": { "get": with(op("One order (its customer, its dealer or an admin)", "orders", None, Some("Order"), "200", false), vec![id("id")]) },
        "/orders/{id}/cancel": { "post": with(op("Cancel a paid order before shipping (refund + restock)", "orders", None, Some("Order"), "200", false), vec![id("id")]) },
        "/orders/{id}/received": { "post": with(op("Confirm receipt (delivered → completed)", "orders", None, Some("Order"), "200", false), vec![id("id")]) },
        "/orders/{id}/lines/{line}/review": { "put": with(op("Write or edit the review of a delivered line", "orders", Some("Review"), Some("Object"), "200", false), vec![id("id"), id("line")]) },
        "/dealer/orders": { "get": with(op("The dealer's order queue", "dealer", None, Some("Object"), "200", false),
            vec![json!({ "name": "status", "in": "query", "schema": { "type": "string" } })]) },
        "/dealer/orders/{id}/{action}": { "post": {
            "summary": "Move an order: accept, decline ({reason}), start_production, ship ({carrier, tracking_number}), deliver", "tags": ["dealer"],
            "parameters": [id("id"), { "name": "action", "in": "path", "required": true, "schema": { "type": "string", "enum": ["accept", "decline", "start_production", "ship", "deliver"] } }],
            "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object" } } } },
            "responses": ok(Some("Order"), "200") } },
        "/dealer/balance": { "get": op("The dealer's balance and ledger", "dealer", None, Some("Object"), "200", false) },
        "/products/{slug}/reviews": { "get": with(op("A product's reviews and average", "catalog", None, Some("Object"), "200", true), vec![id("slug")]) },
        "/threads": {
            "get": op("The caller's customization threads (as customer and as dealer)", "customization", None, Some("Object"), "200", false),
            "post": op("Request custom work on a listing (`product`) or from a store (`store`): opens a thread with the dealer", "customization", Some("CustomRequest"), Some("Object"), "201", false)
        },
        "/threads/{id}": { "get": with(op("One thread (participants; admins read-only)", "customization", None, Some("Object"), "200", false), vec![id("id")]) },
        "/threads/{id}/messages": {
            "get": with(op("Messages after `after` or a page before `before`", "customization", None, Some("Object"), "200", false), vec![id("id"),
                json!({ "name": "after", "in": "query", "schema": { "type": "integer" } }), json!({ "name": "before", "in": "query", "schema": { "type": "integer" } })]),
            "post": with(op("Post a message (at most 2,000 characters, 30 a minute)", "customization", Some("Object"), Some("Object"), "201", false), vec![id("id")])
        },
        "/threads/{id}/quotes": { "post": with(op("The dealer's quote: price, lead time, specification, validity", "customization", Some("Object"), Some("Object"), "201", false), vec![id("id")]) },
        "/threads/{id}/decline": { "post": with(op("The dealer declines the request (open quotes lapse)", "customization", Some("Object"), Some("Object"), "200", false), vec![id("id")]) },
        "/threads/{id}/read": { "post": with(op("Mark read up to a message", "customization", Some("Object"), None, "204", false), vec![id("id")]) },
        "/threads/{id}/ws": { "get": { "summary": "The live thread (WebSocket; `after` resumes from a message number)", "tags": ["customization"],
            "parameters": [id("id"), { "name": "after", "in": "query", "schema": { "type": "integer" } }],
            "responses": { "101": { "description": "switching protocols" }, "404": { "$ref": "#/components/responses/Error" } } } },
        "/quotes/{id}/accept": { "post": with(op("Accept a quote: the piece goes to the cart at the quoted price", "customization", None, Some("Object"), "200", false), vec![id("id")]) },
        "/quotes/{id}/decline": { "post": with(op("Decline a quote", "customization", None, Some("Object"), "200", false), vec![id("id")]) },
        "/quotes/{id}/counter": { "post": with(op("Counter a quote with the amount the customer proposes (the quote is declined)", "customization", Some("Counter"), Some("Object"), "200", false), vec![id("id")]) },
        "/threads/{id}/attachments": { "post": {
            "summary": "Send a reference image (PNG, JPEG or WebP, at most 5 MB; checked from its bytes) with an optional caption", "tags": ["customization"],
            "parameters": [id("id")],
            "requestBody": { "required": true, "content": { "multipart/form-data": { "schema": { "type": "object", "required": ["image"],
                "properties": { "image": { "type": "string", "format": "binary" }, "caption": { "type": "string", "maxLength": 500 } } } } } },
            "responses": ok(Some("Object"), "201") } },
        "/threads/{id}/attachments/{attachment}": { "get": {
            "summary": "A reference image (participants and admins only; `size=thumb` for the thumbnail)", "tags": ["customization"],
            "parameters": [id("id"), id("attachment"), { "name": "size", "in": "query", "schema": { "type": "string", "enum": ["thumb"] } }],
            "responses": { "200": { "description": "the image", "content": { "image/*": { "schema": { "type": "string", "format": "binary" } } } },
                "404": { "$ref": "#/components/responses/Error" } } } }
    })
}

fn orders_schemas() -> Value {
    let money = json!({ "type": "object", "properties": { "minor": { "type": "integer" }, "currency": { "type": "string" }, "display": { "type": "string" } } });
    json!({
        "Object": { "type": "object" },
        "Counter": { "type": "object", "required": ["price"], "additionalProperties": false, "properties": {
            "price": { "type": "string", "description": "a decimal amount, e.g. 150.00" }, "note": { "type": "string", "maxLength": 1000 } } },
        "CustomRequest": { "type": "object", "required": ["text"], "additionalProperties": false, "properties": {
            "product": { "type": "string", "description": "a listing's id or slug" }, "store": { "type": "string", "description": "a store's slug (when there is no listing)" }, "text": { "type": "string", "maxLength": 2000 }, "choices": { "type": "array", "items": { "type": "object" } },
            "budget": { "type": "string", "nullable": true }, "deadline": { "type": "string", "nullable": true, "description": "YYYY-MM-DD" } } },
        "Money": money,
        "CartAdd": { "type": "object", "required": ["product"], "additionalProperties": false, "properties": {
            "product": { "type": "string", "description": "id or slug" },
            "options": { "type": "array", "items": { "type": "object", "required": ["option_id", "value"], "properties": { "option_id": { "type": "string" }, "value": { "type": "string" } } } },
            "quantity": { "type": "integer", "minimum": 1, "maximum": 99, "default": 1 } } },
        "Quantity": { "type": "object", "required": ["quantity"], "additionalProperties": false, "properties": { "quantity": { "type": "integer", "minimum": 1, "maximum": 99 } } },
        "Cart": { "type": "object", "properties": { "groups": { "type": "array", "items": { "type": "object" } }, "item_count": { "type": "integer" },
            "total": { "allOf": [{ "$ref": "#/components/schemas/Money" }], "nullable": true }, "can_check_out": { "type": "boolean" }, "problem": { "type": "string", "nullable": true } } },
        "Checkout": { "type": "object", "required": ["shipping_address"], "additionalProperties": false, "properties": { "shipping_address": {
            "type": "object", "required": ["name", "line1", "city", "postal_code", "country"], "additionalProperties": false, "properties": {
                "name": { "type": "string", "maxLength": 100 }, "line1": { "type": "string", "maxLength": 200 }, "line2": { "type": "string", "maxLength": 200 },
                "city": { "type": "string", "maxLength": 100 }, "postal_code": { "type": "string", "maxLength": 20 }, "country": { "type": "string", "minLength": 2, "maxLength": 2 } } } } },
        "CheckoutView": { "type": "object", "properties": { "id": { "type": "string" }, "status": { "type": "string", "enum": ["pending_payment", "paid", "failed", "expired", "cancelled"] },
            "total": { "$ref": "#/components/schemas/Money" }, "orders": { "type": "array", "items": { "type": "object" } },
            "payment": { "type": "object", "properties": { "provider": { "type": "string" }, "status": { "type": "string" }, "client_secret": { "type": "string", "nullable": true },
                "intent_id": { "type": "string", "nullable": true }, "failure_reason": { "type": "string", "nullable": true } } }, "expires_at": { "type": "string" } } },
        "SandboxConfirm": { "type": "object", "required": ["client_secret", "card_number"], "additionalProperties": false, "properties": {
            "client_secret": { "type": "string" }, "card_number": { "type": "string" } } },
        "SandboxAuthenticate": { "type": "object", "required": ["client_secret", "outcome"], "additionalProperties": false, "properties": {
            "client_secret": { "type": "string" }, "outcome": { "type": "string", "enum": ["approve", "fail"] } } },
        "Order": { "type": "object", "properties": { "id": { "type": "string" }, "number": { "type": "string" },
            "status": { "type": "string", "enum": ["placed", "paid", "accepted", "in_production", "shipped", "delivered", "completed", "declined", "cancelled", "refunded"] },
            "total": { "$ref": "#/components/schemas/Money" }, "lines": { "type": "array", "items": { "type": "object" } }, "timeline": { "type": "array", "items": { "type": "object" } },
            "actions": { "type": "array", "items": { "type": "string" } } } },
        "Review": { "type": "object", "required": ["product_rating", "dealer_rating"], "additionalProperties": false, "properties": {
            "product_rating": { "type": "integer", "minimum": 1, "maximum": 5 }, "dealer_rating": { "type": "integer", "minimum": 1, "maximum": 5 },
            "body": { "type": "string", "maxLength": 2000 } } }
    })
}

/// The catalogue, the admin console's API and the person's own data.
fn more_paths() -> Value {
    let p = |name: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } });
    let q = |name: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "schema": schema });
    let s = || json!({ "type": "string", "maxLength": 200 });
    let with = |mut o: Value, params: Vec<Value>| {
        o["parameters"] = Value::Array(params);
        o
    };
    let image = json!({ "required": true, "content": { "multipart/form-data": { "schema": { "type": "object", "required": ["image"],
        "properties": { "image": { "type": "string", "format": "binary" } } } } } });
    json!({
        "/categories": { "get": op("The category tree", "catalog", None, Some("Object"), "200", true) },
        "/search": { "get": with(op("Full-text search with filters, facets and sorting", "catalog", None, Some("Object"), "200", true), vec![
            q("q", s()), q("category", s()), q("min_price", s()), q("max_price", s()), q("store", s()),
            q("in_stock", json!({ "type": "string", "enum": ["1", "0"] })), q("customizable", json!({ "type": "string", "enum": ["1", "0"] })),
            q("min_rating", s()), q("sort", json!({ "type": "string", "enum": ["relevance", "newest", "price_asc", "price_desc", "rating", "popular"] })),
            q("page", s()), q("per_page", s()), q("personal", json!({ "type": "string", "enum": ["on", "off"] }))]) },
        "/search/suggest": { "get": with(op("Completions while typing", "catalog", None, Some("Object"), "200", true), vec![q("q", s())]) },
        "/recommendations": { "get": with(op("Recommended listings with the reason for each: for the caller (signed in or not), similar to a listing, or bought together with it", "catalog", None, Some("Object"), "200", true), vec![
            q("kind", json!({ "type": "string", "enum": ["for_you", "similar", "also_bought"] })), q("product", s()), q("limit", s()), q("recent", s())]) },
        "/products/{slug}": { "get": with(op("A published listing (its dealer and admins also see drafts)", "catalog", None, Some("Object"), "200", true), vec![p("slug")]) },
        "/products/{slug}/price": { "post": with(op("The price with chosen options", "catalog", Some("Object"), Some("Object"), "200", true), vec![p("slug")]) },
        "/stores/{slug}": { "get": with(op("A storefront and its listings", "catalog", None, Some("Object"), "200", true), vec![p("slug")]) },
        "/dealer/store": {
            "get": op("The dealer's store", "dealer", None, Some("Object"), "200", false),
            "put": op("Create or change the dealer's store", "dealer", Some("StoreInput"), Some("Object"), "200", false)
        },
        "/dealer/store/logo": { "post": { "summary": "Upload the store's logo", "tags": ["dealer"], "requestBody": image.clone(), "responses": ok(Some("Object"), "200") } },
        "/dealer/products": {
            "get": op("The dealer's listings, any status", "dealer", None, Some("Object"), "200", false),
            "post": op("A new listing (draft)", "dealer", Some("ProductInput"), Some("Object"), "201", false)
        },
        "/dealer/products/{id}": { "put": with(op("Change a listing", "dealer", Some("ProductInput"), Some("Object"), "200", false), vec![p("id")]) },
        "/dealer/products/{id}/status": { "post": with(op("Publish, unpublish or archive a listing", "dealer", Some("StatusChange"), Some("Object"), "200", false), vec![p("id")]) },
        "/dealer/products/{id}/stock": { "put": with(op("Set the stock (null: made to order)", "dealer", Some("Stock"), Some("Object"), "200", false), vec![p("id")]) },
        "/dealer/products/{id}/images": { "post": { "summary": "Add an image to a listing", "tags": ["dealer"], "parameters": [p("id")], "requestBody": image, "responses": ok(Some("Object"), "201") } },
        "/dealer/products/{id}/images/{image_id}": { "delete": { "summary": "Remove an image", "tags": ["dealer"], "parameters": [p("id"), p("image_id")], "responses": ok(None, "204") } },
        "/dealer/import": { "post": { "summary": "Import listings from CSV (a report per row)", "tags": ["dealer"],
            "requestBody": { "required": true, "content": { "text/csv": { "schema": { "type": "string" } } } }, "responses": ok(Some("Object"), "200") } },
        "/me/export": { "get": op("Everything held about the caller, as a JSON download", "account", None, Some("Object"), "200", false) },
        "/me/delete": { "post": op("Erase the caller's account (password required; refused while an order is in progress)", "account", Some("Password"), None, "204", false) },
        "/admin/users": { "get": with(op("Users by email or name (admin)", "admin", None, Some("Object"), "200", false), vec![
            q("q", s()), q("role", json!({ "type": "string", "enum": ["customer", "dealer", "admin"] })), q("status", json!({ "type": "string", "enum": ["active", "suspended"] }))]) },
        "/admin/users/{id}/suspend": { "post": with(op("Suspend an account: its sessions end at once (admin)", "admin", Some("Reason"), Some("Object"), "200", false), vec![p("id")]) },
        "/admin/users/{id}/reinstate": { "post": with(op("Reinstate a suspended account (admin)", "admin", None, Some("Object"), "200", false), vec![p("id")]) },
        "/admin/users/{id}/role": { "put": with(op("Change someone's role (admin; not one's own)", "admin", Some("RoleChange"), Some("Object"), "200", false), vec![p("id")]) },
        "/admin/products": { "get": with(op("Listings for moderation (admin)", "admin", None, Some("Object"), "200", false), vec![q("q", s()), q("moderated", json!({ "type": "boolean" }))]) },
        "/admin/products/{id}/unlist": { "post": with(op("Unlist a listing with a reason the dealer is told (admin)", "admin", Some("Reason"), Some("Object"), "200", false), vec![p("id")]) },
        "/admin/products/{id}/restore": { "post": with(op("Restore a moderated listing to draft (admin)", "admin", None, Some("Object"), "200", false), vec![p("id")]) },
        "/admin/orders": { "get": with(op("Any order, by number prefix or status (admin)", "admin", None, Some("Object"), "200", false), vec![q("q", s()), q("status", s())]) },
        "/admin/orders/{id}/refund": { "post": with(op("Refund an order in full, at any stage after payment (admin)", "admin", Some("Reason"), Some("Object"), "200", false), vec![p("id")]) },
        "/admin/recommendations": { "get": op("The served recommendation model, the stored ones, and the signals since the last training (admin)", "admin", None, Some("Object"), "200", false) },
        "/admin/recommendations/train": { "post": op("Train a recommendation model on the recorded signals now (admin); served at once if it beats popularity", "admin", None, Some("Object"), "200", false) },
        "/admin/kpis": { "get": with(op("The dashboard's figures per day (admin)", "admin", None, Some("Object"), "200", false), vec![
            q("days", json!({ "type": "integer", "enum": [7, 30, 90] }))]) },
        "/admin/audit": { "get": with(op("The audit log, newest first (admin)", "admin", None, Some("Object"), "200", false), vec![
            q("actor", s()), q("action", s()), q("target", s()), q("before", json!({ "type": "integer", "minimum": 0 }))]) }
    })
}

fn more_schemas() -> Value {
    json!({
        "Reason": { "type": "object", "required": ["reason"], "additionalProperties": false, "properties": { "reason": { "type": "string", "minLength": 1, "maxLength": 500 } } },
        "RoleChange": { "type": "object", "required": ["role"], "additionalProperties": false, "properties": { "role": { "type": "string", "enum": ["customer", "dealer", "admin"] } } },
        "Password": { "type": "object", "required": ["password"], "additionalProperties": false, "properties": { "password": { "type": "string", "maxLength": 128 } } },
        "StoreInput": { "type": "object", "required": ["name"], "additionalProperties": false, "properties": {
            "name": { "type": "string", "maxLength": 80 }, "description": { "type": "string", "maxLength": 5000 }, "location": { "type": "string", "maxLength": 100 } } },
        "ProductInput": { "type": "object", "required": ["title", "category", "price"], "additionalProperties": false, "properties": {
            "title": { "type": "string", "maxLength": 120 }, "description": { "type": "string", "maxLength": 10000 }, "category": { "type": "string" },
            "price": { "type": "string", "description": "a decimal amount, e.g. 12.50" }, "currency": { "type": "string", "enum": ["EUR", "USD", "GBP"] },
            "stock": { "type": "string", "nullable": true }, "attributes": { "type": "array", "items": { "type": "array", "items": { "type": "string" } } },
            "options": { "type": "array", "items": { "type": "object" } } } },
        "StatusChange": { "type": "object", "required": ["action"], "additionalProperties": false, "properties": { "action": { "type": "string", "enum": ["publish", "unpublish", "archive"] } } },
        "Stock": { "type": "object", "required": ["stock"], "additionalProperties": false, "properties": { "stock": { "type": "integer", "nullable": true, "minimum": 0 } } }
    })
}

/// Every operation can also answer our error shape (bad input, authentication, limits): a
/// `default` response documents it wherever an operation does not list the status.
fn with_default_errors(s: &mut Value) {
    let Some(paths) = s["paths"].as_object_mut() else { return };
    for ops in paths.values_mut() {
        let Some(ops) = ops.as_object_mut() else { continue };
        for op in ops.values_mut() {
            if let Some(r) = op.get_mut("responses").and_then(Value::as_object_mut) {
                r.entry("default").or_insert_with(|| json!({ "$ref": "#/components/responses/Error" }));
            }
        }
    }
}

/// The whole document.
pub fn spec() -> Value {
    let mut s = base();
    for more in [orders_paths(), more_paths()] {
        if let (Some(paths), Value::Object(more)) = (s["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    if let (Some(schemas), Value::Object(more)) = (s["components"]["schemas"].as_object_mut(), more_schemas()) {
        schemas.extend(more);
    }
    with_default_errors(&mut s);
    if let (Some(schemas), Value::Object(more)) = (s["components"]["schemas"].as_object_mut(), orders_schemas()) {
        schemas.extend(more);
    }
    s
}

pub async fn document() -> Json<Value> {
    Json(spec())
}
