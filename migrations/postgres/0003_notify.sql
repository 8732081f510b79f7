-- notify service: in-app notifications (no foreign key to account: services own their tables)
CREATE TABLE notification (
    notification_id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT,
    source_event_id TEXT NOT NULL,
    read_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX notification_account_idx ON notification (account_id, created_at);

-- every mail the mail sender was asked to send (the log mailer's outbox, and an audit of what was sent)
CREATE TABLE sent_mail (
    sent_mail_id TEXT PRIMARY KEY NOT NULL,
    recipient_account_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    source_event_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
