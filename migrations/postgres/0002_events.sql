-- event backbone: who listens to what, one delivery row per (event, consumer), idempotency records,
-- and persisted sagas
CREATE TABLE event_subscription (
    consumer TEXT NOT NULL,
    event_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_type)
);
CREATE INDEX event_subscription_type_idx ON event_subscription (event_type);

CREATE TABLE event_delivery (
    outbox_event_id TEXT NOT NULL REFERENCES outbox_event (outbox_event_id),
    consumer TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    locked_by TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (outbox_event_id, consumer)
);
CREATE INDEX event_delivery_due_idx ON event_delivery (status, seq);
CREATE INDEX event_delivery_order_idx ON event_delivery (consumer, aggregate_id, status, seq);

CREATE TABLE processed_event (
    consumer TEXT NOT NULL,
    outbox_event_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, outbox_event_id)
);

CREATE TABLE saga (
    saga_id TEXT PRIMARY KEY NOT NULL,
    saga_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'compensating', 'completed', 'compensated', 'failed')),
    step BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    deadline_at BIGINT,
    next_run_at BIGINT NOT NULL,
    locked_until BIGINT,
    locked_by TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX saga_due_idx ON saga (status, next_run_at);
