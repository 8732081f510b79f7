//! The catalogue's SQL. Only this module touches the catalogue tables.

use kernel::{Currency, Money, Timestamp, Tx};
use sqlx::{AnyPool, FromRow};

use crate::domain::*;

#[derive(FromRow)]
struct CategoryRow {
    category_id: String,
    parent_id: Option<String>,
    slug: String,
    name: String,
    path: String,
    depth: i64,
}

impl From<CategoryRow> for Category {
    fn from(r: CategoryRow) -> Self {
        Category { id: r.category_id, parent_id: r.parent_id, slug: r.slug, name: r.name, path: r.path, depth: r.depth }
    }
}

pub(crate) async fn categories(pool: &AnyPool) -> Result<Vec<Category>, sqlx::Error> {
    let rows: Vec<CategoryRow> =
        sqlx::query_as("SELECT category_id, parent_id, slug, name, path, depth FROM category ORDER BY path").fetch_all(pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub(crate) async fn category(conn: &mut sqlx::AnyConnection, id_or_path: &str) -> Result<Option<Category>, sqlx::Error> {
    let row: Option<CategoryRow> = sqlx::query_as(
        "SELECT category_id, parent_id, slug, name, path, depth FROM category WHERE category_id = $1 OR path = $1",
    )
    .bind(id_or_path)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

pub(crate) async fn insert_category(tx: &mut Tx, c: &Category, position: i64) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    sqlx::query(
        "INSERT INTO category (category_id, parent_id, slug, name, path, depth, position, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&c.id)
    .bind(&c.parent_id)
    .bind(&c.slug)
    .bind(&c.name)
    .bind(&c.path)
    .bind(c.depth)
    .bind(position)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct StoreRow {
    store_id: String,
    dealer_id: String,
    slug: String,
    name: String,
    description: String,
    location: String,
    logo_key: Option<String>,
    created_at: i64,
    rating_sum: i64,
    rating_count: i64,
}

impl From<StoreRow> for Store {
    fn from(r: StoreRow) -> Self {
        Store {
            // the service replaces the key with its public URL
            logo_url: r.logo_key,
            id: r.store_id,
            dealer_id: r.dealer_id,
            slug: r.slug,
            name: r.name,
            description: r.description,
            location: r.location,
            created_at: Timestamp(r.created_at),
            rating_avg: (r.rating_count > 0).then(|| r.rating_sum as f64 / r.rating_count as f64),
            rating_count: r.rating_count,
        }
    }
}

const STORE_COLS: &str = "store_id, dealer_id, slug, name, description, location, logo_key, created_at, rating_sum, rating_count";

pub(crate) async fn store_where(pool: &AnyPool, column: &str, value: &str) -> Result<Option<Store>, sqlx::Error> {
    let col = match column {
        "dealer_id" => "dealer_id",
        "slug" => "slug",
        _ => "store_id",
    };
    let row: Option<StoreRow> =
        sqlx::query_as(&format!("SELECT {STORE_COLS} FROM store WHERE {col} = $1")).bind(value).fetch_optional(pool).await?;
    Ok(row.map(Into::into))
}

pub(crate) async fn set_store_logo(tx: &mut Tx, store_id: &str, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE store SET logo_key = $1, updated_at = $2 WHERE store_id = $3").bind(key).bind(Timestamp::now().0).bind(store_id).execute(&mut **tx).await?;
    Ok(())
}

/// The currency of a store's newest listing and its most used category (`None` for an empty store).
pub(crate) async fn store_usual_currency_and_category(pool: &AnyPool, store_id: &str) -> Result<(Option<String>, Option<String>), sqlx::Error> {
    let currency = sqlx::query_scalar("SELECT currency FROM product WHERE store_id = $1 ORDER BY created_at DESC LIMIT 1").bind(store_id).fetch_optional(pool).await?;
    let category = sqlx::query_scalar("SELECT category_id FROM product WHERE store_id = $1 GROUP BY category_id ORDER BY COUNT(*) DESC, category_id LIMIT 1")
        .bind(store_id)
        .fetch_optional(pool)
        .await?;
    Ok((currency, category))
}

pub(crate) async fn store_slug_taken(tx: &mut Tx, slug: &str, except: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM store WHERE slug = $1 AND store_id <> $2")
        .bind(slug)
        .bind(except)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n > 0)
}

pub(crate) async fn upsert_store(tx: &mut Tx, s: &Store) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    sqlx::query(
        "INSERT INTO store (store_id, dealer_id, slug, name, description, location, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (store_id) DO UPDATE SET slug = $3, name = $4, description = $5, location = $6, updated_at = $7",
    )
    .bind(&s.id)
    .bind(&s.dealer_id)
    .bind(&s.slug)
    .bind(&s.name)
    .bind(&s.description)
    .bind(&s.location)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(FromRow)]
pub(crate) struct ProductRow {
    pub product_id: String,
    pub store_id: String,
    pub dealer_id: String,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub category_id: String,
    pub price_minor: i64,
    pub currency: String,
    pub stock: Option<i64>,
    pub attributes: String,
    pub status: String,
    pub featured: i64,
    pub view_count: i64,
    pub sales_count: i64,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub published_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set while an admin keeps the listing unlisted (the reason).
    pub moderation_note: Option<String>,
}

const PRODUCT_COLS: &str = "product_id, store_id, dealer_id, slug, title, description, category_id, price_minor, currency, stock, \
     attributes, status, featured, view_count, sales_count, rating_sum, rating_count, published_at, version, created_at, updated_at, moderation_note";

pub(crate) async fn product_row(conn: &mut sqlx::AnyConnection, id_or_slug: &str) -> Result<Option<ProductRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {PRODUCT_COLS} FROM product WHERE product_id = $1 OR slug = $1"))
        .bind(id_or_slug)
        .fetch_optional(conn)
        .await
}

pub(crate) struct NewProduct<'a> {
    pub id: &'a str,
    pub store_id: &'a str,
    pub dealer_id: &'a str,
    pub slug: &'a str,
    pub v: &'a ValidProduct,
    pub category_id: &'a str,
    pub status: ProductStatus,
    pub featured: bool,
    pub published_at: Option<i64>,
}

pub(crate) async fn insert_product(tx: &mut Tx, p: &NewProduct<'_>) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    let attrs = serde_json::to_string(&p.v.attributes).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT INTO product (product_id, store_id, dealer_id, slug, title, description, category_id, price_minor, currency, stock, \
         attributes, status, featured, published_at, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $15)",
    )
    .bind(p.id)
    .bind(p.store_id)
    .bind(p.dealer_id)
    .bind(p.slug)
    .bind(&p.v.title)
    .bind(&p.v.description)
    .bind(p.category_id)
    .bind(p.v.price.minor)
    .bind(p.v.price.currency.code())
    .bind(p.v.stock)
    .bind(attrs)
    .bind(p.status.as_str())
    .bind(i64::from(p.featured))
    .bind(p.published_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    replace_options(tx, p.id, &p.v.options).await
}

pub(crate) async fn update_product(tx: &mut Tx, id: &str, v: &ValidProduct, category_id: &str) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    let attrs = serde_json::to_string(&v.attributes).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "UPDATE product SET title = $1, description = $2, category_id = $3, price_minor = $4, currency = $5, stock = $6, \
         attributes = $7, version = version + 1, updated_at = $8 WHERE product_id = $9",
    )
    .bind(&v.title)
    .bind(&v.description)
    .bind(category_id)
    .bind(v.price.minor)
    .bind(v.price.currency.code())
    .bind(v.stock)
    .bind(attrs)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    replace_options(tx, id, &v.options).await
}

async fn replace_options(tx: &mut Tx, product_id: &str, options: &[ValidOption]) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    sqlx::query("DELETE FROM product_option WHERE product_id = $1").bind(product_id).execute(&mut **tx).await?;
    for (i, o) in options.iter().enumerate() {
        let oid = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO product_option (product_option_id, product_id, name, kind, required, max_length, price_delta_minor, position, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(&oid)
        .bind(product_id)
        .bind(&o.name)
        .bind(match o.kind {
            OptionKind::Choice => "choice",
            OptionKind::Text => "text",
        })
        .bind(i64::from(o.required))
        .bind(o.max_length)
        .bind(o.price_delta)
        .bind(i as i64)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        for (j, (label, delta)) in o.values.iter().enumerate() {
            sqlx::query(
                "INSERT INTO product_option_value (product_option_value_id, product_option_id, label, price_delta_minor, position, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&oid)
            .bind(label)
            .bind(*delta)
            .bind(j as i64)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

pub(crate) async fn set_status(tx: &mut Tx, id: &str, status: ProductStatus, published_at: Option<i64>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE product SET status = $1, published_at = COALESCE(published_at, $2), version = version + 1, updated_at = $3 WHERE product_id = $4",
    )
    .bind(status.as_str())
    .bind(published_at)
    .bind(Timestamp::now().0)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn set_stock(tx: &mut Tx, id: &str, stock: Option<i64>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE product SET stock = $1, version = version + 1, updated_at = $2 WHERE product_id = $3")
        .bind(stock)
        .bind(Timestamp::now().0)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(FromRow)]
struct OptionRow {
    product_option_id: String,
    name: String,
    kind: String,
    required: i64,
    max_length: Option<i64>,
    price_delta_minor: i64,
}

#[derive(FromRow)]
struct ValueRow {
    product_option_value_id: String,
    product_option_id: String,
    label: String,
    price_delta_minor: i64,
}

pub(crate) async fn options_of(conn: &mut sqlx::AnyConnection, product_id: &str) -> Result<Vec<ProductOption>, sqlx::Error> {
    let opts: Vec<OptionRow> = sqlx::query_as(
        "SELECT product_option_id, name, kind, required, max_length, price_delta_minor FROM product_option WHERE product_id = $1 ORDER BY position",
    )
    .bind(product_id)
    .fetch_all(&mut *conn)
    .await?;
    let values: Vec<ValueRow> = sqlx::query_as(
        "SELECT v.product_option_value_id, v.product_option_id, v.label, v.price_delta_minor FROM product_option_value v \
         JOIN product_option o ON o.product_option_id = v.product_option_id WHERE o.product_id = $1 ORDER BY v.position",
    )
    .bind(product_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(opts
        .into_iter()
        .map(|o| ProductOption {
            values: values
                .iter()
                .filter(|v| v.product_option_id == o.product_option_id)
                .map(|v| OptionValue { id: v.product_option_value_id.clone(), label: v.label.clone(), price_delta_minor: v.price_delta_minor })
                .collect(),
            id: o.product_option_id,
            name: o.name,
            kind: if o.kind == "text" { OptionKind::Text } else { OptionKind::Choice },
            required: o.required == 1,
            max_length: o.max_length,
            price_delta_minor: o.price_delta_minor,
        })
        .collect())
}

#[derive(FromRow)]
pub(crate) struct ImageRow {
    pub product_image_id: String,
    pub storage_key: String,
    pub thumb_key: String,
    pub width: i64,
    pub height: i64,
}

pub(crate) async fn images_of(conn: &mut sqlx::AnyConnection, product_id: &str) -> Result<Vec<ImageRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT product_image_id, storage_key, thumb_key, width, height FROM product_image WHERE product_id = $1 ORDER BY position",
    )
    .bind(product_id)
    .fetch_all(conn)
    .await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_image(
    tx: &mut Tx,
    id: &str,
    product_id: &str,
    key: &str,
    thumb: &str,
    content_type: &str,
    w: i64,
    h: i64,
) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    sqlx::query(
        "INSERT INTO product_image (product_image_id, product_id, storage_key, thumb_key, content_type, width, height, position, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT COALESCE(MAX(position), -1) + 1 FROM product_image WHERE product_id = $2), $8, $8)",
    )
    .bind(id)
    .bind(product_id)
    .bind(key)
    .bind(thumb)
    .bind(content_type)
    .bind(w)
    .bind(h)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE product SET version = version + 1, updated_at = $1 WHERE product_id = $2").bind(now).bind(product_id).execute(&mut **tx).await?;
    Ok(())
}

pub(crate) async fn delete_image(tx: &mut Tx, product_id: &str, image_id: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let keys: Option<(String, String)> = sqlx::query_as(
        "SELECT storage_key, thumb_key FROM product_image WHERE product_image_id = $1 AND product_id = $2",
    )
    .bind(image_id)
    .bind(product_id)
    .fetch_optional(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM product_image WHERE product_image_id = $1 AND product_id = $2").bind(image_id).bind(product_id).execute(&mut **tx).await?;
    Ok(keys)
}

pub(crate) fn row_money(row: &ProductRow) -> Money {
    Money::new(row.price_minor, Currency::parse(&row.currency).unwrap_or(Currency::EUR))
}

#[derive(FromRow, Debug, Clone)]
pub struct SummaryRow {
    pub product_id: String,
    pub slug: String,
    pub title: String,
    pub price_minor: i64,
    pub currency: String,
    pub stock: Option<i64>,
    pub status: String,
    pub store_name: String,
    pub store_slug: String,
    pub thumb_key: Option<String>,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub updated_at: i64,
}

const SUMMARY_SQL: &str = "SELECT p.product_id, p.slug, p.title, p.price_minor, p.currency, p.stock, p.status, s.name AS store_name, \
     s.slug AS store_slug, (SELECT i.thumb_key FROM product_image i WHERE i.product_id = p.product_id ORDER BY i.position LIMIT 1) AS thumb_key, \
     p.rating_sum, p.rating_count, p.updated_at FROM product p JOIN store s ON s.store_id = p.store_id";

pub(crate) async fn summaries(pool: &AnyPool, filter: &str, order: &str, args: &[&str], limit: i64) -> Result<Vec<SummaryRow>, sqlx::Error> {
    let sql = format!("{SUMMARY_SQL} WHERE {filter} ORDER BY {order} LIMIT {limit}");
    let mut q = sqlx::query_as(&sql);
    for a in args {
        q = q.bind(*a);
    }
    q.fetch_all(pool).await
}

/// The listings with the most activity since `since_day` (views + 20 × sales), most first.
pub(crate) async fn most_active(pool: &AnyPool, since_day: i64, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT a.product_id FROM product_activity_day a WHERE a.day >= $1 \
         GROUP BY a.product_id ORDER BY SUM(a.views + 20 * a.sales) DESC, a.product_id LIMIT $2",
    )
    .bind(since_day)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Everything the search index holds for a product.
#[derive(FromRow, Debug, Clone)]
pub struct IndexRow {
    pub product_id: String,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub attributes: String,
    pub price_minor: i64,
    pub currency: String,
    pub stock: Option<i64>,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub view_count: i64,
    pub sales_count: i64,
    pub published_at: Option<i64>,
    /// Views + 20 × sales over the last [`POPULARITY_DAYS`] days.
    pub recent_activity: i64,
    pub dealer_id: String,
    pub store_name: String,
    pub store_slug: String,
    pub category_path: String,
    pub option_count: i64,
    pub thumb_key: Option<String>,
    /// The options' names and choices ("Size Small Large Engraving"), for content similarity.
    #[sqlx(skip)]
    pub options: String,
}

const INDEX_SQL: &str = "SELECT p.product_id, p.slug, p.title, p.description, p.attributes, p.price_minor, p.currency, p.stock, \
     p.rating_sum, p.rating_count, p.view_count, p.sales_count, p.published_at, \
     CAST(COALESCE((SELECT SUM(a.views + 20 * a.sales) FROM product_activity_day a WHERE a.product_id = p.product_id AND a.day >= $1), 0) AS BIGINT) AS recent_activity, \
     p.dealer_id, s.name AS store_name, s.slug AS store_slug, \
     c.path AS category_path, (SELECT COUNT(*) FROM product_option o WHERE o.product_id = p.product_id) AS option_count, \
     (SELECT i.thumb_key FROM product_image i WHERE i.product_id = p.product_id ORDER BY i.position LIMIT 1) AS thumb_key \
     FROM product p JOIN store s ON s.store_id = p.store_id JOIN category c ON c.category_id = p.category_id \
     WHERE p.status = 'published'";

pub(crate) async fn index_rows(pool: &AnyPool, only: Option<&str>) -> Result<Vec<IndexRow>, sqlx::Error> {
    let since = day_of(Timestamp::now()) - POPULARITY_DAYS;
    let (mut rows, options): (Vec<IndexRow>, Vec<(String, String, Option<String>)>) = match only {
        Some(id) => (
            sqlx::query_as(&format!("{INDEX_SQL} AND p.product_id = $2")).bind(since).bind(id).fetch_all(pool).await?,
            sqlx::query_as(&format!("{OPTIONS_SQL} WHERE o.product_id = $1 ORDER BY o.product_id, o.position, v.position")).bind(id).fetch_all(pool).await?,
        ),
        None => (
            sqlx::query_as(INDEX_SQL).bind(since).fetch_all(pool).await?,
            sqlx::query_as(&format!("{OPTIONS_SQL} ORDER BY o.product_id, o.position, v.position")).fetch_all(pool).await?,
        ),
    };
    // one pass over the options (sorted by product) instead of a query per listing
    let mut text: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut last_option: Option<(String, String)> = None;
    for (product, name, label) in options {
        let t = text.entry(product.clone()).or_default();
        if last_option.as_ref() != Some(&(product.clone(), name.clone())) {
            t.push_str(&name);
            t.push(' ');
            last_option = Some((product, name));
        }
        if let Some(l) = label {
            t.push_str(&l);
            t.push(' ');
        }
    }
    for r in &mut rows {
        if let Some(t) = text.remove(&r.product_id) {
            r.options = t.trim_end().to_owned();
        }
    }
    Ok(rows)
}

const OPTIONS_SQL: &str = "SELECT o.product_id, o.name, v.label FROM product_option o LEFT JOIN product_option_value v ON v.product_option_id = o.product_option_id";

/// Days since the epoch: the bucket of `product_activity_day`.
pub(crate) fn day_of(t: Timestamp) -> i64 {
    t.unix_seconds().div_euclid(86_400)
}

/// The window "popular" and "trending" look at.
pub(crate) const POPULARITY_DAYS: i64 = 30;

pub(crate) async fn add_views(tx: &mut Tx, product_id: &str, n: i64) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    sqlx::query("UPDATE product SET view_count = view_count + $1 WHERE product_id = $2").bind(n).bind(product_id).execute(&mut **tx).await?;
    add_activity(tx, product_id, day_of(now), n, 0).await
}

pub(crate) async fn add_activity(tx: &mut Tx, product_id: &str, day: i64, views: i64, sales: i64) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    sqlx::query(
        "INSERT INTO product_activity_day (product_id, day, views, sales, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (product_id, day) DO UPDATE SET views = product_activity_day.views + $3, sales = product_activity_day.sales + $4, updated_at = $5",
    )
    .bind(product_id)
    .bind(day)
    .bind(views)
    .bind(sales)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moderation: the listing's status and note (`None` clears it).
pub(crate) async fn set_moderation(tx: &mut Tx, product_id: &str, status: ProductStatus, note: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE product SET status = $1, moderation_note = $2, version = version + 1, updated_at = $3 WHERE product_id = $4")
        .bind(status.as_str())
        .bind(note)
        .bind(Timestamp::now().0)
        .bind(product_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// (id, slug, title, status, dealer id, store name, moderation note) as the moderation page reads it.
pub(crate) type ListingRow = (String, String, String, String, String, String, Option<String>);

/// Listings whose title matches `like`, any status but archived, newest change first (100).
pub(crate) async fn admin_listings(pool: &AnyPool, like: &str, moderated_only: bool) -> Result<Vec<ListingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.product_id, p.slug, p.title, p.status, p.dealer_id, s.name, p.moderation_note FROM product p JOIN store s ON s.store_id = p.store_id \
         WHERE LOWER(p.title) LIKE $1 AND ($2 = 0 OR p.moderation_note IS NOT NULL) AND p.status <> 'archived' ORDER BY p.updated_at DESC LIMIT 100",
    )
    .bind(like)
    .bind(i64::from(moderated_only))
    .fetch_all(pool)
    .await
}

/// New listings per day since `since` (day index, count).
pub(crate) async fn new_listings_per_day(pool: &AnyPool, since: Timestamp) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT (created_at - $1) / $2, COUNT(*) FROM product WHERE created_at >= $1 AND status <> 'unlisted' GROUP BY (created_at - $1) / $2")
        .bind(since.0)
        .bind(86_400_000_000_i64)
        .fetch_all(pool)
        .await
}
