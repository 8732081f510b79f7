-- customization: a thread between a customer and a dealer about custom work, its messages and quotes
CREATE TABLE custom_thread (
    thread_id TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT NOT NULL,
    dealer_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    product_title TEXT NOT NULL,
    request_text TEXT NOT NULL,
    choices TEXT NOT NULL DEFAULT '[]',
    budget_minor BIGINT,
    currency TEXT NOT NULL,
    deadline TEXT,
    status TEXT NOT NULL CHECK (status IN ('new', 'in_discussion', 'quoted', 'accepted', 'declined', 'expired')),
    -- the last message's sequence number (messages are numbered 1, 2, 3… per thread)
    last_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX custom_thread_customer_idx ON custom_thread (customer_id, updated_at);
CREATE INDEX custom_thread_dealer_idx ON custom_thread (dealer_id, status, updated_at);

CREATE TABLE custom_message (
    thread_id TEXT NOT NULL REFERENCES custom_thread (thread_id),
    seq BIGINT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    author_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('request', 'text', 'quote', 'system')),
    body TEXT NOT NULL,
    quote_id TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
CREATE INDEX custom_message_author_idx ON custom_message (author_id, created_at);

CREATE TABLE custom_quote (
    quote_id TEXT PRIMARY KEY NOT NULL,
    thread_id TEXT NOT NULL REFERENCES custom_thread (thread_id),
    price_minor BIGINT NOT NULL CHECK (price_minor > 0),
    currency TEXT NOT NULL,
    lead_time_days BIGINT NOT NULL,
    spec TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('offered', 'accepted', 'declined', 'expired', 'superseded')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX custom_quote_thread_idx ON custom_quote (thread_id, created_at);
CREATE INDEX custom_quote_expiry_idx ON custom_quote (status, expires_at);

CREATE TABLE custom_read (
    thread_id TEXT NOT NULL REFERENCES custom_thread (thread_id),
    user_id TEXT NOT NULL,
    last_read_seq BIGINT NOT NULL,
    PRIMARY KEY (thread_id, user_id)
);

-- orders: a cart line or order line that comes from an accepted quote carries its price and specification
ALTER TABLE cart_item ADD COLUMN quote_id TEXT;
ALTER TABLE cart_item ADD COLUMN quoted_price_minor BIGINT;
ALTER TABLE cart_item ADD COLUMN quoted_spec TEXT;
ALTER TABLE cart_item ADD COLUMN thread_id TEXT;
ALTER TABLE order_line ADD COLUMN quote_id TEXT;
ALTER TABLE order_line ADD COLUMN thread_id TEXT;
