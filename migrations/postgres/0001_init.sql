-- accounts service
CREATE TABLE account (
    account_id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('customer', 'dealer', 'admin')),
    dealer_status TEXT CHECK (dealer_status IN ('pending', 'approved', 'rejected')),
    dealer_note TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    mfa_secret TEXT,
    mfa_pending_secret TEXT,
    mfa_enabled BIGINT NOT NULL DEFAULT 0,
    mfa_last_step BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX account_dealer_status_idx ON account (dealer_status, created_at);

CREATE TABLE account_session (
    account_session_id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES account (account_id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    ip TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX account_session_account_idx ON account_session (account_id);

CREATE TABLE mfa_challenge (
    mfa_challenge_id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES account (account_id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    attempts BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE recovery_code (
    recovery_code_id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES account (account_id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX recovery_code_account_idx ON recovery_code (account_id);

CREATE TABLE sign_in_failure (
    sign_in_failure_id TEXT PRIMARY KEY NOT NULL,
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sign_in_failure_subject_idx ON sign_in_failure (scope, subject, created_at);

-- kernel: transactional outbox (delivery state is added by the event backbone)
CREATE TABLE outbox_event (
    outbox_event_id TEXT PRIMARY KEY NOT NULL,
    seq BIGSERIAL UNIQUE,
    event_type TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    aggregate_id TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    correlation_id TEXT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_event_aggregate_idx ON outbox_event (aggregate_id, occurred_at);
