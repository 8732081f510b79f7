-- catalog: stock held for an order, so that stock can never be oversold. One row per order and product;
-- `held` at checkout, `committed` when paid, `released` when the payment failed, expired or the
-- order was declined, cancelled or refunded (the stock is then given back exactly once).
CREATE TABLE stock_reservation (
    reservation_id TEXT NOT NULL,
    product_id TEXT NOT NULL REFERENCES product (product_id),
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    -- 1 when the product had counted stock (made-to-order products reserve nothing)
    counted BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('held', 'committed', 'released')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (reservation_id, product_id)
);
CREATE INDEX stock_reservation_product_idx ON stock_reservation (product_id, status);

-- catalog: dealers' ratings (products already have rating_sum / rating_count)
ALTER TABLE store ADD COLUMN rating_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE store ADD COLUMN rating_count BIGINT NOT NULL DEFAULT 0;

-- orders: carts of signed-in customers ('u:<user id>') and guests ('g:<cart token>')
CREATE TABLE cart_item (
    cart_item_id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    product_id TEXT NOT NULL,
    -- the chosen options as JSON, and a canonical key of them (same product + same choices = one line)
    selections TEXT NOT NULL,
    selections_key TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX cart_item_line_idx ON cart_item (owner, product_id, selections_key);

-- orders: one checkout = one payment for one order per dealer
CREATE TABLE checkout (
    checkout_id TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending_payment', 'paid', 'failed', 'expired', 'cancelled')),
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL,
    -- personal data: written only through orders::protect (sealed once envelope encryption lands)
    shipping_address TEXT NOT NULL,
    saga_id TEXT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX checkout_customer_idx ON checkout (customer_id, created_at);

CREATE TABLE customer_order (
    order_id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL UNIQUE,
    checkout_id TEXT NOT NULL REFERENCES checkout (checkout_id),
    customer_id TEXT NOT NULL,
    dealer_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    store_name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('placed', 'paid', 'accepted', 'in_production', 'shipped', 'delivered', 'completed', 'declined', 'cancelled', 'refunded')),
    currency TEXT NOT NULL,
    subtotal_minor BIGINT NOT NULL,
    shipping_minor BIGINT NOT NULL DEFAULT 0,
    tax_minor BIGINT NOT NULL DEFAULT 0,
    total_minor BIGINT NOT NULL,
    commission_minor BIGINT NOT NULL,
    has_custom BIGINT NOT NULL DEFAULT 0,
    carrier TEXT,
    tracking_number TEXT,
    cancel_reason TEXT,
    refund_requested BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX customer_order_customer_idx ON customer_order (customer_id, created_at);
CREATE INDEX customer_order_dealer_idx ON customer_order (dealer_id, status, created_at);
CREATE INDEX customer_order_checkout_idx ON customer_order (checkout_id);

CREATE TABLE order_line (
    order_line_id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES customer_order (order_id),
    product_id TEXT NOT NULL,
    product_slug TEXT NOT NULL,
    title TEXT NOT NULL,
    selections TEXT NOT NULL,
    -- the options as the customer saw them ("Size: Large; Engraving: Ada")
    options_label TEXT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    line_total_minor BIGINT NOT NULL,
    -- the platform's commission at sale time: a snapshot, never recomputed
    commission_bps BIGINT NOT NULL,
    commission_minor BIGINT NOT NULL,
    made_to_order BIGINT NOT NULL,
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX order_line_order_idx ON order_line (order_id, position);

-- the tracking timeline
CREATE TABLE order_status_change (
    order_id TEXT NOT NULL REFERENCES customer_order (order_id),
    position BIGINT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE payment (
    payment_id TEXT PRIMARY KEY NOT NULL,
    checkout_id TEXT NOT NULL UNIQUE REFERENCES checkout (checkout_id),
    provider TEXT NOT NULL,
    provider_ref TEXT UNIQUE,
    client_secret TEXT,
    status TEXT NOT NULL CHECK (status IN ('requires_payment', 'requires_action', 'processing', 'succeeded', 'failed', 'cancelled')),
    amount_minor BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    failure_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE refund (
    refund_id TEXT PRIMARY KEY NOT NULL,
    payment_id TEXT NOT NULL REFERENCES payment (payment_id),
    order_id TEXT NOT NULL UNIQUE REFERENCES customer_order (order_id),
    amount_minor BIGINT NOT NULL,
    provider_ref TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- provider webhooks already applied (a replayed event id is acknowledged and ignored)
CREATE TABLE webhook_event (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- Idempotency-Key: the first response to a key is kept and replayed
CREATE TABLE idempotency_record (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code BIGINT,
    response_body TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);

-- dealers' balance: each order's net amount, pending until delivery + the hold period
CREATE TABLE ledger_entry (
    ledger_entry_id TEXT PRIMARY KEY NOT NULL,
    dealer_id TEXT NOT NULL,
    order_id TEXT NOT NULL UNIQUE REFERENCES customer_order (order_id),
    order_number TEXT NOT NULL,
    gross_minor BIGINT NOT NULL,
    commission_minor BIGINT NOT NULL,
    net_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'reversed')),
    available_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ledger_entry_dealer_idx ON ledger_entry (dealer_id, created_at);

CREATE TABLE review (
    review_id TEXT PRIMARY KEY NOT NULL,
    order_line_id TEXT NOT NULL UNIQUE REFERENCES order_line (order_line_id),
    order_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    dealer_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    author_name TEXT NOT NULL,
    product_rating BIGINT NOT NULL CHECK (product_rating BETWEEN 1 AND 5),
    dealer_rating BIGINT NOT NULL CHECK (dealer_rating BETWEEN 1 AND 5),
    body TEXT NOT NULL,
    editable_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX review_product_idx ON review (product_id, created_at);

-- the sandbox payment provider's own books (it stands in for an outside provider, so it keeps its own)
CREATE TABLE sandbox_intent (
    intent_id TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    client_secret TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    checkout_id TEXT NOT NULL,
    status TEXT NOT NULL,
    last4 TEXT,
    failure TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE sandbox_refund (
    refund_id TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    intent_id TEXT NOT NULL REFERENCES sandbox_intent (intent_id),
    amount_minor BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
-- the sandbox's webhook deliveries to our own endpoint (retried until acknowledged, like a provider's)
CREATE TABLE sandbox_webhook (
    event_id TEXT PRIMARY KEY NOT NULL,
    payload TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sandbox_webhook_due_idx ON sandbox_webhook (delivered_at, next_attempt_at);
