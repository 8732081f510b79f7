//! The catalogue service: the only way to change stores, listings, images and stock.

use std::{collections::HashMap, sync::Arc};

use accounts::Principal;
use kernel::{outbox, Db, Timestamp, Tx};

use crate::{
    db::{self, NewProduct},
    events::{self, ProductChange},
    domain::*,
    images::{self, ImageStore},
    markdown, CatalogError,
};

pub use crate::db::{IndexRow, SummaryRow};

#[derive(Clone)]
pub struct Catalog {
    db: Db,
    images: Arc<dyn ImageStore>,
    /// the window's most active listings, best first, and when they were read: a month's ranking
    /// does not move in a minute, and reading it costs a sort of every activity row in the window
    trending: Arc<std::sync::Mutex<Option<Ranking>>>,
}

/// Listing ids, most active first, and when they were read.
type Ranking = (std::time::Instant, Vec<String>);

/// How long the trending ranking is reused.
const TRENDING_TTL: std::time::Duration = std::time::Duration::from_secs(60);

fn new_slug(title: &str, id: &str) -> String {
    let suffix: String = id.chars().filter(|c| *c != '-').rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{}-{suffix}", slugify(title))
}

/// Inserts a new listing of `store` and returns its id (the slug ends with part of the id, so it is unique).
async fn insert_listing(
    tx: &mut Tx,
    store: &Store,
    v: &ValidProduct,
    category_id: &str,
    status: ProductStatus,
    featured: bool,
    published_at: Option<i64>,
) -> Result<String, sqlx::Error> {
    let id = ProductId::new().to_string();
    let slug = new_slug(&v.title, &id);
    db::insert_product(
        tx,
        &NewProduct { id: &id, store_id: &store.id, dealer_id: &store.dealer_id, slug: &slug, v, category_id, status, featured, published_at },
    )
    .await?;
    Ok(id)
}

impl Catalog {
    pub fn new(db: Db, images: Arc<dyn ImageStore>) -> Self {
        Self { db, images, trending: Arc::default() }
    }

    pub fn image_url(&self, key: &str) -> String {
        self.images.url(key)
    }

    pub async fn categories(&self) -> Result<Vec<Category>, CatalogError> {
        Ok(db::categories(self.db.reader()).await?)
    }

    fn with_logo_url(&self, mut s: Store) -> Store {
        s.logo_url = s.logo_url.map(|k| self.images.url(&k));
        s
    }

    pub async fn store_of_dealer(&self, dealer_id: &str) -> Result<Option<Store>, CatalogError> {
        Ok(db::store_where(self.db.reader(), "dealer_id", dealer_id).await?.map(|s| self.with_logo_url(s)))
    }

    pub async fn store_by_slug(&self, slug: &str) -> Result<Store, CatalogError> {
        db::store_where(self.db.reader(), "slug", slug).await?.map(|s| self.with_logo_url(s)).ok_or(CatalogError::NotFound)
    }

    /// The store's private "custom commission" listing, made on first use: where a quote agreed on a
    /// request opened from the store page (not from a listing) is sold. Unlisted (never in search or on
    /// the store page), made to order, priced only by quotes; in the currency of the store's listings.
    pub async fn commission_listing(&self, store_slug: &str) -> Result<Product, CatalogError> {
        let store = self.store_by_slug(store_slug).await?;
        let slug = format!("commission-{}", store.id);
        if let Ok(p) = self.product(&slug).await {
            return Ok(p);
        }
        let (currency, category) = db::store_usual_currency_and_category(self.db.reader(), &store.id).await?;
        let currency = currency.and_then(|c| kernel::Currency::parse(&c).ok()).unwrap_or(kernel::Currency::EUR);
        let category = match category {
            Some(c) => c,
            None => self.categories().await?.into_iter().next().map(|c| c.id).ok_or_else(|| CatalogError::Internal("no categories".into()))?,
        };
        let v = ValidProduct {
            title: format!("Custom commission from {}", store.name),
            description: "A piece made to the specification agreed with the maker in a custom request.".into(),
            category: String::new(),
            price: kernel::Money::new(0, currency),
            stock: None,
            attributes: vec![],
            options: vec![],
        };
        let id = ProductId::new().to_string();
        let mut tx = self.db.begin().await?;
        let inserted = db::insert_product(
            &mut tx,
            &NewProduct { id: &id, store_id: &store.id, dealer_id: &store.dealer_id, slug: &slug, v: &v, category_id: &category, status: ProductStatus::Unlisted, featured: false, published_at: None },
        )
        .await;
        match inserted {
            Ok(()) => tx.commit().await?,
            // made meanwhile by a concurrent request (the slug is unique): use that one
            Err(_) => drop(tx),
        }
        self.product(&slug).await
    }

    /// Checks and stores the caller's store logo (a square thumbnail is what pages show).
    pub async fn set_store_logo(&self, p: &Principal, bytes: Vec<u8>) -> Result<Store, CatalogError> {
        p.require_dealer()?;
        let store = self.store_of_dealer(&p.user.id.to_string()).await?.ok_or_else(|| CatalogError::invalid("store", "set up your store first"))?;
        let images = self.images.clone();
        let sid = store.id.clone();
        let version = uuid::Uuid::now_v7().simple().to_string();
        let key = tokio::task::spawn_blocking(move || -> Result<String, CatalogError> {
            let processed = images::process(&bytes)?;
            let key = format!("stores/{sid}/logo-{version}.jpg");
            images.put(&key, &processed.thumb_jpeg).map_err(CatalogError::Internal)?;
            Ok(key)
        })
        .await
        .map_err(|e| CatalogError::Internal(e.to_string()))??;
        let mut tx = self.db.begin().await?;
        db::set_store_logo(&mut tx, &store.id, &key).await?;
        outbox::append(&mut tx, &outbox::Envelope::of(&events::StoreUpdated { store_id: store.id.clone(), dealer_id: store.dealer_id.clone() })).await?;
        tx.commit().await?;
        self.store_by_slug(&store.slug).await
    }

    /// Creates or updates the caller's storefront. Approved dealers only.
    pub async fn save_store(&self, p: &Principal, input: &StoreInput) -> Result<Store, CatalogError> {
        p.require_dealer()?;
        let (name, description, location) = input.validate()?;
        let dealer_id = p.user.id.to_string();
        let existing = db::store_where(self.db.reader(), "dealer_id", &dealer_id).await?;
        let mut tx = self.db.begin().await?;
        let id = existing.as_ref().map(|s| s.id.clone()).unwrap_or_else(|| StoreId::new().to_string());
        let mut slug = slugify(&name);
        let mut n = 1;
        while db::store_slug_taken(&mut tx, &slug, &id).await? {
            n += 1;
            slug = format!("{}-{n}", slugify(&name));
        }
        let store = Store {
            id: id.clone(),
            dealer_id: dealer_id.clone(),
            slug,
            name,
            description,
            location,
            logo_url: None,
            created_at: existing.map(|s| s.created_at).unwrap_or_else(Timestamp::now),
            rating_avg: None,
            rating_count: 0,
        };
        db::upsert_store(&mut tx, &store).await?;
        outbox::append(&mut tx, &outbox::Envelope::of(&events::StoreUpdated { store_id: id.clone(), dealer_id: dealer_id.clone() })).await?;
        tx.commit().await?;
        self.store_by_slug(&store.slug).await
    }

    async fn owned_row(&self, tx: &mut Tx, p: &Principal, id: &str) -> Result<db::ProductRow, CatalogError> {
        let row = db::product_row(tx, id).await?.ok_or(CatalogError::NotFound)?;
        if row.dealer_id != p.user.id.to_string() {
            // another dealer's listing: indistinguishable from a missing one
            return Err(CatalogError::NotFound);
        }
        Ok(row)
    }

    /// A new listing, as a draft, in the caller's store.
    pub async fn create_product(&self, p: &Principal, input: &ProductInput) -> Result<Product, CatalogError> {
        p.require_dealer()?;
        let v = input.validate()?;
        let store = self
            .store_of_dealer(&p.user.id.to_string())
            .await?
            .ok_or_else(|| CatalogError::invalid("store", "set up your store first"))?;
        let mut tx = self.db.begin().await?;
        let category = db::category(&mut tx, &v.category).await?.ok_or_else(|| CatalogError::invalid("category", "no such category"))?;
        let id = insert_listing(&mut tx, &store, &v, &category.id, ProductStatus::Draft, false, None).await?;
        outbox::append(&mut tx, &ProductChange::Created.envelope(&id, &store.dealer_id)).await?;
        tx.commit().await?;
        self.product(&id).await
    }

    pub async fn update_product(&self, p: &Principal, id: &str, input: &ProductInput) -> Result<Product, CatalogError> {
        p.require_dealer()?;
        let v = input.validate()?;
        let mut tx = self.db.begin().await?;
        let row = self.owned_row(&mut tx, p, id).await?;
        if row.status == "archived" {
            return Err(CatalogError::Conflict("an archived listing cannot be edited".into()));
        }
        let category = db::category(&mut tx, &v.category).await?.ok_or_else(|| CatalogError::invalid("category", "no such category"))?;
        db::update_product(&mut tx, &row.product_id, &v, &category.id).await?;
        outbox::append(&mut tx, &ProductChange::Updated.envelope(&row.product_id, &row.dealer_id)).await?;
        if v.stock != row.stock {
            outbox::append(&mut tx, &outbox::Envelope::of(&events::StockChanged { product_id: row.product_id.clone(), stock: v.stock })).await?;
        }
        tx.commit().await?;
        self.product(&row.product_id).await
    }

    /// Publish, unpublish (back to draft, hidden) or archive (final) a listing.
    pub async fn set_status(&self, p: &Principal, id: &str, action: StatusAction) -> Result<Product, CatalogError> {
        // a pending or rejected dealer is refused here, whatever the page showed
        p.require_dealer()?;
        let mut tx = self.db.begin().await?;
        let row = self.owned_row(&mut tx, p, id).await?;
        let current = ProductStatus::parse(&row.status).unwrap_or(ProductStatus::Draft);
        if current == ProductStatus::Archived {
            return Err(CatalogError::Conflict("this listing is archived".into()));
        }
        if action == StatusAction::Publish {
            if let Some(note) = &row.moderation_note {
                return Err(CatalogError::Conflict(format!("this listing was unlisted by moderation ({note}): it cannot be published until support restores it")));
            }
        }
        let (status, change) = match action {
            StatusAction::Publish => (ProductStatus::Published, ProductChange::Published),
            StatusAction::Unpublish => (ProductStatus::Draft, ProductChange::Unpublished),
            StatusAction::Archive => (ProductStatus::Archived, ProductChange::Archived),
        };
        if status == current {
            tx.commit().await?;
            return self.product(id).await;
        }
        db::set_status(&mut tx, &row.product_id, status, (status == ProductStatus::Published).then(|| Timestamp::now().0)).await?;
        outbox::append(&mut tx, &change.envelope(&row.product_id, &row.dealer_id)).await?;
        tx.commit().await?;
        self.product(&row.product_id).await
    }

    /// Moderation (admins): `Some(reason)` unlists a listing, whatever its status but archived, and
    /// keeps its dealer from republishing it; `None` restores it as a draft. The dealer is notified;
    /// the action is audited.
    pub async fn moderate(&self, p: &Principal, id: &str, reason: Option<&str>) -> Result<ModeratedListing, CatalogError> {
        if p.user.role != accounts::Role::Admin {
            return Err(CatalogError::Forbidden);
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > 500 || r.chars().any(char::is_control)) {
            return Err(CatalogError::invalid("reason", "the reason is limited to 500 plain characters"));
        }
        let mut tx = self.db.begin().await?;
        let row = db::product_row(&mut tx, id).await?.ok_or(CatalogError::NotFound)?;
        if row.status == ProductStatus::Archived.as_str() {
            return Err(CatalogError::Conflict("this listing is archived".into()));
        }
        let (status, change, action) = match reason {
            Some(_) => (ProductStatus::Unlisted, ProductChange::Unpublished, "listing.unlisted"),
            None => (ProductStatus::Draft, ProductChange::Unpublished, "listing.restored"),
        };
        db::set_moderation(&mut tx, &row.product_id, status, reason).await?;
        outbox::append(&mut tx, &change.envelope(&row.product_id, &row.dealer_id)).await?;
        let ev = events::ListingModerated { product_id: row.product_id.clone(), dealer_id: row.dealer_id.clone(), title: row.title.clone(), reason: reason.map(str::to_owned) };
        outbox::append(&mut tx, &outbox::Envelope::of(&ev)).await?;
        kernel::audit::append(&mut tx, &kernel::audit::Entry::new(&p.user.id.to_string(), action, &row.product_id).detail(reason.unwrap_or(""))).await?;
        tx.commit().await?;
        Ok(ModeratedListing { id: row.product_id, slug: row.slug, title: row.title, status: status.as_str().to_owned(), dealer_id: row.dealer_id, store_name: String::new(), moderation_note: reason.map(str::to_owned) })
    }

    /// Listings for the moderation page (admins): title matches, any status, newest first (100).
    pub async fn admin_listings(&self, p: &Principal, query: &str, moderated_only: bool) -> Result<Vec<ModeratedListing>, CatalogError> {
        if p.user.role != accounts::Role::Admin {
            return Err(CatalogError::Forbidden);
        }
        let q = query.trim().to_lowercase();
        if q.chars().count() > 200 {
            return Err(CatalogError::invalid("q", "search text is too long (at most 200 characters)"));
        }
        let like = format!("%{}%", q.replace(['%', '_'], ""));
        let rows = db::admin_listings(self.db.reader(), &like, moderated_only).await?;
        Ok(rows
            .into_iter()
            .map(|(id, slug, title, status, dealer_id, store_name, moderation_note)| ModeratedListing { id, slug, title, status, dealer_id, store_name, moderation_note })
            .collect())
    }

    /// New listings per day since `since` (admin dashboard).
    pub async fn new_listings_per_day(&self, since: Timestamp) -> Result<Vec<(i64, i64)>, CatalogError> {
        Ok(db::new_listings_per_day(self.db.reader(), since).await?)
    }

    pub async fn set_stock(&self, p: &Principal, id: &str, stock: Option<i64>) -> Result<Product, CatalogError> {
        p.require_dealer()?;
        if stock.is_some_and(|s| !(0..=1_000_000).contains(&s)) {
            return Err(CatalogError::invalid("stock", "stock must be a whole number from 0 to 1,000,000, or empty for made to order"));
        }
        let mut tx = self.db.begin().await?;
        let row = self.owned_row(&mut tx, p, id).await?;
        db::set_stock(&mut tx, &row.product_id, stock).await?;
        outbox::append(&mut tx, &outbox::Envelope::of(&events::StockChanged { product_id: row.product_id.clone(), stock })).await?;
        tx.commit().await?;
        self.product(&row.product_id).await
    }

    /// Checks, stores and thumbnails an uploaded image for the caller's listing.
    pub async fn add_image(&self, p: &Principal, id: &str, bytes: Vec<u8>) -> Result<ImageRef, CatalogError> {
        p.require_dealer()?;
        {
            let mut tx = self.db.begin().await?;
            self.owned_row(&mut tx, p, id).await?;
            tx.commit().await?;
        }
        let store = self.images.clone();
        let image_id = uuid::Uuid::now_v7().simple().to_string();
        let pid = id.to_owned();
        let iid = image_id.clone();
        let (processed, key, thumb) = tokio::task::spawn_blocking(move || -> Result<_, CatalogError> {
            let processed = images::process(&bytes)?;
            let key = format!("products/{pid}/{iid}.{}", processed.extension);
            let thumb = format!("products/{pid}/{iid}-thumb.jpg");
            store.put(&key, &bytes).map_err(CatalogError::Internal)?;
            store.put(&thumb, &processed.thumb_jpeg).map_err(CatalogError::Internal)?;
            Ok((processed, key, thumb))
        })
        .await
        .map_err(|e| CatalogError::Internal(e.to_string()))??;
        let mut tx = self.db.begin().await?;
        let row = self.owned_row(&mut tx, p, id).await?;
        db::insert_image(&mut tx, &image_id, &row.product_id, &key, &thumb, processed.content_type, i64::from(processed.width), i64::from(processed.height))
            .await?;
        outbox::append(&mut tx, &ProductChange::Updated.envelope(&row.product_id, &row.dealer_id)).await?;
        tx.commit().await?;
        Ok(ImageRef {
            id: image_id,
            url: self.images.url(&key),
            thumb_url: self.images.url(&thumb),
            width: i64::from(processed.width),
            height: i64::from(processed.height),
        })
    }

    pub async fn remove_image(&self, p: &Principal, id: &str, image_id: &str) -> Result<(), CatalogError> {
        p.require_dealer()?;
        let mut tx = self.db.begin().await?;
        let row = self.owned_row(&mut tx, p, id).await?;
        let keys = db::delete_image(&mut tx, &row.product_id, image_id).await?.ok_or(CatalogError::NotFound)?;
        outbox::append(&mut tx, &ProductChange::Updated.envelope(&row.product_id, &row.dealer_id)).await?;
        tx.commit().await?;
        for k in [keys.0, keys.1] {
            if let Err(e) = self.images.delete(&k) {
                tracing::warn!(error = %e, key = %k, "could not delete an image file");
            }
        }
        Ok(())
    }

    /// A product by id or slug, whatever its status (callers decide who may see drafts).
    pub async fn product(&self, id_or_slug: &str) -> Result<Product, CatalogError> {
        let mut conn = self.db.reader().acquire().await?;
        let row = db::product_row(&mut conn, id_or_slug).await?.ok_or(CatalogError::NotFound)?;
        let category = db::category(&mut conn, &row.category_id).await?.ok_or(CatalogError::NotFound)?;
        let options = db::options_of(&mut conn, &row.product_id).await?;
        let images = db::images_of(&mut conn, &row.product_id).await?;
        drop(conn);
        let store = db::store_where(self.db.reader(), "store_id", &row.store_id).await?.map(|s| self.with_logo_url(s)).ok_or(CatalogError::NotFound)?;
        let attributes: Vec<(String, String)> = serde_json::from_str(&row.attributes).unwrap_or_default();
        Ok(Product {
            id: row.product_id.clone(),
            slug: row.slug.clone(),
            title: row.title.clone(),
            description_html: markdown::render(&row.description),
            description: row.description.clone(),
            category,
            price: db::row_money(&row),
            stock: row.stock,
            status: ProductStatus::parse(&row.status).unwrap_or(ProductStatus::Draft),
            attributes,
            options,
            images: images
                .into_iter()
                .map(|i| ImageRef { url: self.images.url(&i.storage_key), thumb_url: self.images.url(&i.thumb_key), id: i.product_image_id, width: i.width, height: i.height })
                .collect(),
            store,
            rating_avg: (row.rating_count > 0).then(|| row.rating_sum as f64 / row.rating_count as f64),
            rating_count: row.rating_count,
            view_count: row.view_count,
            sales_count: row.sales_count,
            featured: row.featured == 1,
            published_at: row.published_at.map(Timestamp),
            created_at: Timestamp(row.created_at),
            updated_at: Timestamp(row.updated_at),
            version: row.version,
        })
    }

    /// A product as a visitor may see it: published ones for everybody, others for their dealer and admins.
    pub async fn product_for(&self, viewer: Option<&Principal>, id_or_slug: &str) -> Result<Product, CatalogError> {
        let p = self.product(id_or_slug).await?;
        let privileged = viewer.is_some_and(|v| v.user.id.to_string() == p.store.dealer_id || v.user.role == accounts::Role::Admin);
        if p.status == ProductStatus::Published || privileged {
            Ok(p)
        } else {
            Err(CatalogError::NotFound)
        }
    }

    /// The caller's own listings, any status, newest change first.
    pub async fn dealer_products(&self, p: &Principal) -> Result<Vec<SummaryRow>, CatalogError> {
        p.require_dealer()?;
        Ok(db::summaries(self.db.reader(), "p.dealer_id = $1", "p.updated_at DESC", &[&p.user.id.to_string()], 500).await?)
    }

    /// Published listings of one store.
    pub async fn store_products(&self, store_id: &str, limit: i64) -> Result<Vec<SummaryRow>, CatalogError> {
        Ok(db::summaries(self.db.reader(), "p.store_id = $1 AND p.status = 'published'", "p.published_at DESC", &[store_id], limit.clamp(1, 200)).await?)
    }

    /// Published listings by id, in the order asked (unknown or unpublished ids are left out).
    pub async fn summaries_of(&self, ids: &[String]) -> Result<Vec<SummaryRow>, CatalogError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = ids.iter().take(200).map(String::as_str).collect();
        let marks: Vec<String> = (1..=ids.len()).map(|k| format!("${k}")).collect();
        // the status is checked here, not in SQL: with it there, SQLite's planner walked the status
        // index (every published listing, 10–20 ms at 10,000) instead of looking the ids up
        let filter = format!("p.product_id IN ({})", marks.join(", "));
        let rows = db::summaries(self.db.reader(), &filter, "p.product_id", &ids, ids.len() as i64).await?;
        let mut by_id: HashMap<String, SummaryRow> = rows.into_iter().filter(|r| r.status == "published").map(|r| (r.product_id.clone(), r)).collect();
        Ok(ids.iter().filter_map(|id| by_id.remove(*id)).collect())
    }

    /// Home page rails.
    pub async fn featured(&self, limit: i64) -> Result<Vec<SummaryRow>, CatalogError> {
        Ok(db::summaries(self.db.reader(), "p.status = 'published' AND p.featured = 1", "p.published_at DESC", &[], limit).await?)
    }

    pub async fn newest(&self, limit: i64) -> Result<Vec<SummaryRow>, CatalogError> {
        Ok(db::summaries(self.db.reader(), "p.status = 'published'", "p.published_at DESC", &[], limit).await?)
    }

    /// Most viewed and bought over the last 30 days (the ranking is at most [`TRENDING_TTL`] old;
    /// what is shown of it is read now, so an unpublished listing leaves the rail at once).
    pub async fn trending(&self, limit: i64) -> Result<Vec<SummaryRow>, CatalogError> {
        let cached = self.trending.lock().ok().and_then(|g| g.as_ref().filter(|(at, _)| at.elapsed() < TRENDING_TTL).map(|(_, ids)| ids.clone()));
        let ids = match cached {
            Some(ids) => ids,
            None => {
                let since = db::day_of(Timestamp::now()) - db::POPULARITY_DAYS;
                let ids = db::most_active(self.db.reader(), since, 64).await?;
                if let Ok(mut g) = self.trending.lock() {
                    *g = Some((std::time::Instant::now(), ids.clone()));
                }
                ids
            }
        };
        let mut rows = self.summaries_of(&ids).await?;
        rows.truncate(limit.max(0) as usize);
        if (rows.len() as i64) < limit {
            for r in self.newest(limit).await? {
                if (rows.len() as i64) < limit && !rows.iter().any(|x| x.product_id == r.product_id) {
                    rows.push(r);
                }
            }
        }
        Ok(rows)
    }

    /// Rows for the search index: all published products, or one product (empty if it is not published).
    pub async fn index_rows(&self, only: Option<&str>) -> Result<Vec<IndexRow>, CatalogError> {
        Ok(db::index_rows(self.db.reader(), only).await?)
    }

    /// Adds a batch of product views (collected in memory by the caller) and publishes them as one
    /// `catalog.ProductsViewed` event for the recommendation signals.
    pub async fn record_views(&self, views: &HashMap<(String, String), i64>) -> Result<(), CatalogError> {
        if views.is_empty() {
            return Ok(());
        }
        let mut per_product: HashMap<&str, i64> = HashMap::new();
        for ((product, _), n) in views {
            *per_product.entry(product.as_str()).or_default() += n;
        }
        let mut tx = self.db.begin().await?;
        for (product, n) in &per_product {
            db::add_views(&mut tx, product, *n).await?;
        }
        let views = views.iter().map(|((p, viewer), n)| events::View { product_id: p.clone(), viewer: viewer.clone(), count: *n }).collect();
        outbox::append(&mut tx, &outbox::Envelope::of(&events::ProductsViewed { views })).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds categories (seed and admin tooling), parents before children.
    pub async fn ensure_category(&self, parent_path: Option<&str>, slug: &str, name: &str, position: i64) -> Result<Category, CatalogError> {
        let path = format!("{}/{}", parent_path.unwrap_or(""), slug);
        let mut tx = self.db.begin().await?;
        if let Some(c) = db::category(&mut tx, &path).await? {
            tx.commit().await?;
            return Ok(c);
        }
        let parent = match parent_path {
            Some(pp) => Some(db::category(&mut tx, pp).await?.ok_or(CatalogError::NotFound)?),
            None => None,
        };
        let c = Category {
            id: CategoryId::new().to_string(),
            parent_id: parent.as_ref().map(|p| p.id.clone()),
            slug: slug.to_owned(),
            name: name.to_owned(),
            depth: parent.map(|p| p.depth + 1).unwrap_or(0),
            path,
        };
        db::insert_category(&mut tx, &c, position).await?;
        tx.commit().await?;
        Ok(c)
    }

    /// Bulk insert for the demo seed: published products straight from validated input, without events
    /// (the search index is built from the database at start-up).
    pub async fn seed_products(&self, store: &Store, items: &[(ProductInput, bool, i64, Vec<(i64, i64)>)]) -> Result<usize, CatalogError> {
        let mut tx = self.db.begin().await?;
        let mut cats: HashMap<String, String> = HashMap::new();
        for (input, featured, published_at, activity) in items {
            let v = input.validate()?;
            let cat_id = match cats.get(&v.category) {
                Some(id) => id.clone(),
                None => {
                    let c = db::category(&mut tx, &v.category).await?.ok_or_else(|| CatalogError::invalid("category", "no such category"))?;
                    cats.insert(v.category.clone(), c.id.clone());
                    c.id
                }
            };
            let id = insert_listing(&mut tx, store, &v, &cat_id, ProductStatus::Published, *featured, Some(*published_at)).await?;
            for (day, views) in activity {
                db::add_activity(&mut tx, &id, *day, *views, 0).await?;
            }
        }
        tx.commit().await?;
        // written without events: snapshots of the search index and item space no longer hold
        kernel::snapshot::clear(&self.db).await?;
        Ok(items.len())
    }

    /// Seed helper: a store for a dealer account, without the approved-dealer check (trusted caller).
    pub async fn seed_store(&self, dealer_id: &str, input: &StoreInput) -> Result<Store, CatalogError> {
        if let Some(s) = self.store_of_dealer(dealer_id).await? {
            return Ok(s);
        }
        let (name, description, location) = input.validate()?;
        let mut tx = self.db.begin().await?;
        let store = Store {
            id: StoreId::new().to_string(),
            dealer_id: dealer_id.to_owned(),
            slug: slugify(&name),
            name,
            description,
            location,
            logo_url: None,
            created_at: Timestamp::now(),
            rating_avg: None,
            rating_count: 0,
        };
        db::upsert_store(&mut tx, &store).await?;
        tx.commit().await?;
        // written without events: snapshots of the search index and item space no longer hold
        kernel::snapshot::clear(&self.db).await?;
        Ok(store)
    }
}
