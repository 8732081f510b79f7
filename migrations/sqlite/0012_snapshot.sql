-- Snapshots of per-instance in-memory state (the search index, the recommendations' item space),
-- each stamped with the outbox position it reflects: a starting instance loads one and catches up
-- from the outbox instead of rebuilding from every listing.
CREATE TABLE state_snapshot (
    name TEXT PRIMARY KEY,
    format TEXT NOT NULL,
    position BIGINT NOT NULL,
    taken_at BIGINT NOT NULL,
    body BLOB NOT NULL
);

-- followers read "after this sequence number, or created in the last seconds": the second half
-- needs its own index, else every catch-up scans the whole outbox
CREATE INDEX outbox_event_created_idx ON outbox_event (created_at);

-- the home page's "featured" rail: published and featured, newest first, without reading every
-- published listing
CREATE INDEX product_featured_idx ON product (status, featured, published_at);
