-- Recommendations: implicit-feedback signals per person and listing, trained models, job state.
CREATE TABLE rec_signal (
    subject TEXT NOT NULL,
    product_id TEXT NOT NULL,
    views BIGINT NOT NULL DEFAULT 0,
    carts BIGINT NOT NULL DEFAULT 0,
    purchases BIGINT NOT NULL DEFAULT 0,
    customs BIGINT NOT NULL DEFAULT 0,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (subject, product_id)
);
CREATE INDEX rec_signal_product ON rec_signal (product_id);
CREATE INDEX rec_signal_last_at ON rec_signal (last_at);

CREATE TABLE rec_model (
    model_id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ready', 'rejected')),
    metrics TEXT NOT NULL,
    users TEXT NOT NULL,
    items TEXT NOT NULL,
    onnx BLOB NOT NULL
);
CREATE INDEX rec_model_created ON rec_model (created_at);

CREATE TABLE rec_state (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO rec_state (key, value) VALUES ('training_lease', 0);
