//! Search: a tantivy index of the published catalogue, held in each instance's memory, built from
//! the database at start-up and kept current by following the catalogue's events in the outbox (every
//! instance follows them itself, unlike a consumer that one instance handles), so instances stay
//! stateless. BM25 over title, description, attributes and store name; typo tolerance through fuzzy
//! terms; filters with counts; sorts; highlights; suggestions.

mod query;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use catalog::{Catalog, IndexRow};
use kernel::{Db, Timestamp};
use tantivy::{
    schema::{Facet, FacetOptions, Field, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED, STRING},
    Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

pub use query::{Facets, Hit, SearchQuery, SearchResults, Sort, Suggestion, TextParams, MAX_PAGE, MAX_QUERY_CHARS};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("catalogue: {0}")]
    Catalog(#[from] catalog::CatalogError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{field}: {message}")]
    InvalidInput { field: &'static str, message: String },
}

#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub slug: Field,
    pub title: Field,
    pub description: Field,
    pub attributes: Field,
    pub store_name: Field,
    pub store_slug: Field,
    pub category: Field,
    pub price: Field,
    pub currency: Field,
    pub in_stock: Field,
    pub customizable: Field,
    pub rating: Field,
    pub popularity: Field,
    pub published_at: Field,
    pub thumb: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(tantivy::schema::IndexRecordOption::WithFreqsAndPositions),
        );
        if stored { o.set_stored() } else { o }
    };
    let num = || NumericOptions::default().set_indexed().set_fast().set_stored();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        slug: b.add_text_field("slug", STRING | STORED),
        title: b.add_text_field("title", text(true)),
        description: b.add_text_field("description", text(true)),
        attributes: b.add_text_field("attributes", text(false)),
        store_name: b.add_text_field("store_name", text(true)),
        store_slug: b.add_text_field("store_slug", STRING | STORED | FAST),
        category: b.add_facet_field("category", FacetOptions::default().set_stored()),
        price: b.add_i64_field("price", num()),
        currency: b.add_text_field("currency", STRING | STORED),
        in_stock: b.add_u64_field("in_stock", INDEXED | FAST | STORED),
        customizable: b.add_u64_field("customizable", INDEXED | FAST | STORED),
        rating: b.add_f64_field("rating", num()),
        popularity: b.add_f64_field("popularity", num()),
        published_at: b.add_i64_field("published_at", num()),
        thumb: b.add_text_field("thumb", STORED),
    };
    (b.build(), fields)
}

/// A published product's document.
fn document(f: &Fields, r: &IndexRow, thumb_url: Option<String>) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_text(f.id, &r.product_id);
    d.add_text(f.slug, &r.slug);
    d.add_text(f.title, &r.title);
    d.add_text(f.description, catalog::markdown::plain(&r.description));
    let attrs: Vec<(String, String)> = serde_json::from_str(&r.attributes).unwrap_or_default();
    d.add_text(f.attributes, attrs.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(" · "));
    d.add_text(f.store_name, &r.store_name);
    d.add_text(f.store_slug, &r.store_slug);
    d.add_facet(f.category, Facet::from(r.category_path.as_str()));
    d.add_i64(f.price, r.price_minor);
    d.add_text(f.currency, &r.currency);
    d.add_u64(f.in_stock, u64::from(r.stock.is_none_or(|s| s > 0)));
    d.add_u64(f.customizable, u64::from(r.option_count > 0));
    let rating = if r.rating_count > 0 { r.rating_sum as f64 / r.rating_count as f64 } else { 0.0 };
    d.add_f64(f.rating, rating);
    d.add_f64(f.popularity, r.recent_activity as f64);
    d.add_i64(f.published_at, r.published_at.unwrap_or(0));
    if let Some(t) = thumb_url {
        d.add_text(f.thumb, t);
    }
    d
}

pub(crate) struct Inner {
    pub index: Index,
    pub reader: IndexReader,
    writer: Mutex<IndexWriter>,
    pub fields: Fields,
    catalog: Catalog,
    db: Db,
    /// store slug → store name, for the dealer facet's labels
    pub store_names: RwLock<HashMap<String, String>>,
    /// category path → name
    pub category_names: RwLock<HashMap<String, String>>,
    follow: Mutex<FollowState>,
}

struct FollowState {
    cursor: i64,
    /// event ids applied recently, so re-reading the recent window applies each once
    applied: HashMap<String, Instant>,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct SearchIndex {
    pub(crate) inner: Arc<Inner>,
}

/// Catalogue events that change what the index holds.
const FOLLOWED: &[&str] = &[
    "catalog.ProductPublished",
    "catalog.ProductUpdated",
    "catalog.ProductUnpublished",
    "catalog.ProductArchived",
    "catalog.StockChanged",
    "catalog.ProductsViewed",
    "catalog.StoreUpdated",
    "catalog.ProductRated",
];

pub struct BuildStats {
    pub documents: usize,
    pub took: Duration,
}

impl SearchIndex {
    /// Builds the index from the database (run at start-up; the index lives in memory).
    pub async fn build(db: Db, catalog: Catalog) -> Result<(Self, BuildStats), SearchError> {
        let started = Instant::now();
        // the cursor is read before the rows, so nothing committed in between is missed
        let cursor = kernel::outbox::last_seq(&db).await?;
        let rows = catalog.index_rows(None).await?;
        let categories = catalog.categories().await?;
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        let writer: IndexWriter = index.writer_with_num_threads(1, 64_000_000)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let me = Self {
            inner: Arc::new(Inner {
                index,
                reader,
                writer: Mutex::new(writer),
                fields,
                catalog,
                db,
                store_names: RwLock::new(HashMap::new()),
                category_names: RwLock::new(categories.into_iter().map(|c| (c.path, c.name)).collect()),
                follow: Mutex::new(FollowState { cursor, applied: HashMap::new() }),
            }),
        };
        let n = rows.len();
        let this = me.clone();
        tokio::task::spawn_blocking(move || this.replace_all(&rows))
            .await
            .map_err(|e| SearchError::Index(tantivy::TantivyError::InternalError(e.to_string())))??;
        Ok((me, BuildStats { documents: n, took: started.elapsed() }))
    }

    fn thumb(&self, r: &IndexRow) -> Option<String> {
        r.thumb_key.as_deref().map(|k| self.inner.catalog.image_url(k))
    }

    fn replace_all(&self, rows: &[IndexRow]) -> Result<(), SearchError> {
        let f = self.inner.fields;
        let mut w = self.inner.writer.lock().map_err(|_| poisoned())?;
        w.delete_all_documents()?;
        let mut names = self.inner.store_names.write().map_err(|_| poisoned())?;
        for r in rows {
            names.insert(r.store_slug.clone(), r.store_name.clone());
            w.add_document(document(&f, r, self.thumb(r)))?;
        }
        w.commit()?;
        self.inner.reader.reload()?;
        Ok(())
    }

    /// Re-reads these products from the database and puts the index in line with them.
    pub async fn refresh_products(&self, ids: &[String]) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::new();
        for id in ids {
            rows.push((id.clone(), self.inner.catalog.index_rows(Some(id)).await?));
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || -> Result<(), SearchError> {
            let f = this.inner.fields;
            let mut w = this.inner.writer.lock().map_err(|_| poisoned())?;
            let mut names = this.inner.store_names.write().map_err(|_| poisoned())?;
            for (id, found) in &rows {
                w.delete_term(Term::from_field_text(f.id, id));
                for r in found {
                    names.insert(r.store_slug.clone(), r.store_name.clone());
                    w.add_document(document(&f, r, this.thumb(r)))?;
                }
            }
            w.commit()?;
            this.inner.reader.reload()?;
            Ok(())
        })
        .await
        .map_err(|e| SearchError::Index(tantivy::TantivyError::InternalError(e.to_string())))?
    }

    /// Applies catalogue events committed since the last call. Returns how many products changed.
    pub async fn catch_up(&self) -> Result<usize, SearchError> {
        let (cursor, window_start) = {
            let st = self.inner.follow.lock().map_err(|_| poisoned())?;
            (st.cursor, Timestamp::now().minus(Duration::from_secs(10)).0)
        };
        let events = kernel::outbox::tail(&self.inner.db, cursor, Timestamp(window_start), FOLLOWED, 2000).await?;
        let mut products: HashSet<String> = HashSet::new();
        let mut store_changed = false;
        {
            let mut st = self.inner.follow.lock().map_err(|_| poisoned())?;
            let now = Instant::now();
            st.applied.retain(|_, t| now.duration_since(*t) < Duration::from_secs(60));
            for e in &events {
                st.cursor = st.cursor.max(e.seq);
                if st.applied.insert(e.event_id.clone(), now).is_some() {
                    continue;
                }
                match e.event_type.as_str() {
                    "catalog.ProductsViewed" => {
                        let v: serde_json::Value = serde_json::from_str(&e.payload).unwrap_or_default();
                        for p in v["views"].as_array().into_iter().flatten() {
                            if let Some(id) = p["product_id"].as_str() {
                                products.insert(id.to_owned());
                            }
                        }
                    }
                    "catalog.StoreUpdated" => store_changed = true,
                    _ => {
                        products.insert(e.aggregate_id.clone());
                    }
                }
            }
        }
        if store_changed {
            // a store's name is on all its products: rebuild (stores change rarely)
            let rows = self.inner.catalog.index_rows(None).await?;
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.replace_all(&rows))
                .await
                .map_err(|e| SearchError::Index(tantivy::TantivyError::InternalError(e.to_string())))??;
            return Ok(products.len());
        }
        let ids: Vec<String> = products.into_iter().collect();
        self.refresh_products(&ids).await?;
        Ok(ids.len())
    }

    /// Follows the outbox until `stop`: wakes on local commits and (PostgreSQL) other instances'
    /// notifications, else every second.
    pub async fn follow(self, stop: Arc<tokio::sync::Notify>) {
        let mut wake = self.inner.db.wake_receiver();
        loop {
            if let Err(e) = self.catch_up().await {
                tracing::warn!(error = %e, "search index catch-up failed; retrying");
            }
            tokio::select! {
                _ = stop.notified() => break,
                _ = wake.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    pub fn num_docs(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }
}

fn poisoned() -> SearchError {
    SearchError::Index(tantivy::TantivyError::InternalError("a search lock was poisoned".into()))
}


/// A stored text field of a document (empty when absent).
pub(crate) fn text_of(doc: &TantivyDocument, field: Field) -> String {
    doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned()
}
