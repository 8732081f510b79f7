-- catalog: daily activity per product, for popularity over a recent window
CREATE TABLE product_activity_day (
    product_id TEXT NOT NULL REFERENCES product (product_id) ON DELETE CASCADE,
    day BIGINT NOT NULL,
    views BIGINT NOT NULL DEFAULT 0,
    sales BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (product_id, day)
);
CREATE INDEX product_activity_day_day_idx ON product_activity_day (day);
