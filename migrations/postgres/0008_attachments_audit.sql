-- customization: reference images in a thread (private: served only to the two participants and admins)
CREATE TABLE custom_attachment (
    attachment_id TEXT PRIMARY KEY NOT NULL,
    thread_id TEXT NOT NULL REFERENCES custom_thread (thread_id),
    uploader_id TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    thumb_key TEXT NOT NULL,
    content_type TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX custom_attachment_thread_idx ON custom_attachment (thread_id, uploader_id);
ALTER TABLE custom_message ADD COLUMN attachment_id TEXT;
-- a customer's counter-offer to a quote (the amount they propose, in the thread's currency)
ALTER TABLE custom_message ADD COLUMN counter_minor BIGINT;

-- the audit log: append-only, each row's hash covers its fields and the previous row's hash;
-- audit_head holds the last sequence number and hash (also the lock that orders appends)
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    ip TEXT NOT NULL,
    request_id TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, seq);
CREATE INDEX audit_log_action_idx ON audit_log (action, seq);
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
