-- catalog service: categories (a tree), dealers' stores, products with options, images and stock
CREATE TABLE category (
    category_id TEXT PRIMARY KEY NOT NULL,
    parent_id TEXT REFERENCES category (category_id),
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- materialized path of slugs, "/home/furniture/chairs", so a subtree is one prefix match
    path TEXT NOT NULL UNIQUE,
    depth BIGINT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX category_parent_idx ON category (parent_id, position);

CREATE TABLE store (
    store_id TEXT PRIMARY KEY NOT NULL,
    dealer_id TEXT NOT NULL UNIQUE,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '',
    logo_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE product (
    product_id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES store (store_id),
    dealer_id TEXT NOT NULL,
    slug TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    category_id TEXT NOT NULL REFERENCES category (category_id),
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency TEXT NOT NULL,
    -- NULL stock = made to order (never out of stock)
    stock BIGINT CHECK (stock IS NULL OR stock >= 0),
    attributes TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'unlisted', 'archived')),
    featured BIGINT NOT NULL DEFAULT 0,
    view_count BIGINT NOT NULL DEFAULT 0,
    sales_count BIGINT NOT NULL DEFAULT 0,
    rating_sum BIGINT NOT NULL DEFAULT 0,
    rating_count BIGINT NOT NULL DEFAULT 0,
    published_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX product_slug_idx ON product (slug);
CREATE INDEX product_store_idx ON product (store_id, status, updated_at);
CREATE INDEX product_category_idx ON product (category_id, status);
CREATE INDEX product_status_idx ON product (status, published_at);

CREATE TABLE product_option (
    product_option_id TEXT PRIMARY KEY NOT NULL,
    product_id TEXT NOT NULL REFERENCES product (product_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('choice', 'text')),
    required BIGINT NOT NULL DEFAULT 1,
    -- for text options: the longest text accepted, and the surcharge when given
    max_length BIGINT,
    price_delta_minor BIGINT NOT NULL DEFAULT 0,
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX product_option_product_idx ON product_option (product_id, position);

CREATE TABLE product_option_value (
    product_option_value_id TEXT PRIMARY KEY NOT NULL,
    product_option_id TEXT NOT NULL REFERENCES product_option (product_option_id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    price_delta_minor BIGINT NOT NULL DEFAULT 0,
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX product_option_value_option_idx ON product_option_value (product_option_id, position);

CREATE TABLE product_image (
    product_image_id TEXT PRIMARY KEY NOT NULL,
    product_id TEXT NOT NULL REFERENCES product (product_id) ON DELETE CASCADE,
    storage_key TEXT NOT NULL,
    thumb_key TEXT NOT NULL,
    content_type TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX product_image_product_idx ON product_image (product_id, position);
