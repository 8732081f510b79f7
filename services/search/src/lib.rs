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
    Directory, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
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
    /// products changed since the last snapshot this instance saved
    dirty: bool,
    /// when this instance last saved a snapshot (or the one it started from was taken)
    snapshot_at: Option<Instant>,
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
    /// started from a stored snapshot (and caught up from the outbox) rather than rebuilt
    pub from_snapshot: bool,
}

/// The snapshot's name in `state_snapshot`.
const SNAPSHOT: &str = "search";
/// A running instance saves a snapshot this often while the index changes.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(600);
/// Bump when [`document`] changes what it writes for the same row.
const DOCUMENT_VERSION: u32 = 1;

/// The snapshot layout's name: tantivy's, ours and the schema's, so any change means a rebuild.
fn snapshot_format(schema: &Schema) -> String {
    let json = serde_json::to_string(schema).unwrap_or_default();
    // FNV-1a: stable across builds, unlike std's hasher
    let h = json.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("tantivy-0.27/doc{DOCUMENT_VERSION}/{h:016x}")
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
        let follow = FollowState { cursor, applied: HashMap::new(), dirty: true, snapshot_at: None };
        let me = Self::open(index, fields, catalog, db, HashMap::new(), categories, follow)?;
        let n = rows.len();
        let this = me.clone();
        tokio::task::spawn_blocking(move || this.replace_all(&rows))
            .await
            .map_err(|e| SearchError::Index(tantivy::TantivyError::InternalError(e.to_string())))??;
        Ok((me, BuildStats { documents: n, took: started.elapsed(), from_snapshot: false }))
    }

    /// Starts from the stored snapshot when there is a usable one (then applies what the outbox
    /// holds after it), else builds from the database. A damaged or foreign snapshot is logged and
    /// rebuilt over, never fatal.
    pub async fn start(db: Db, catalog: Catalog) -> Result<(Self, BuildStats), SearchError> {
        match Self::restore(&db, &catalog).await {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "search snapshot unusable; rebuilding the index"),
        }
        Self::build(db, catalog).await
    }

    async fn restore(db: &Db, catalog: &Catalog) -> Result<Option<(Self, BuildStats)>, SearchError> {
        let started = Instant::now();
        let (schema, fields) = schema();
        let Some(snap) = kernel::snapshot::load_usable(db, SNAPSHOT, &snapshot_format(&schema)).await? else { return Ok(None) };
        let (now, cursor) = (Timestamp::now(), snap.cursor);
        let categories = catalog.categories().await?;
        let body = snap.body;
        let (index, names) = tokio::task::spawn_blocking(move || decode(&body))
            .await
            .map_err(|e| SearchError::Index(tantivy::TantivyError::InternalError(e.to_string())))??;
        let age = Duration::from_micros(now.0.saturating_sub(snap.taken_at.0).max(0) as u64);
        let follow = FollowState { cursor, applied: HashMap::new(), dirty: false, snapshot_at: Instant::now().checked_sub(age) };
        let me = Self::open(index, fields, catalog.clone(), db.clone(), names, categories, follow)?;
        // what changed since: applied before the first request sees the index
        let mut changed = 0;
        loop {
            let before = me.cursor();
            let (n, events) = me.catch_up_counted().await?;
            changed += n;
            if events < CATCH_UP_BATCH as usize || me.cursor() == before {
                break;
            }
        }
        let documents = me.num_docs() as usize;
        tracing::info!(documents, changed, age_s = age.as_secs(), ms = started.elapsed().as_secs_f64() * 1e3, "search index restored from snapshot");
        Ok(Some((me, BuildStats { documents, took: started.elapsed(), from_snapshot: true })))
    }

    /// Saves the index as the stored snapshot, stamped with the outbox position it reflects.
    pub async fn save_snapshot(&self) -> Result<usize, SearchError> {
        let (position, taken_at) = {
            let st = self.inner.follow.lock().map_err(|_| poisoned())?;
            (st.cursor, Timestamp::now())
        };
        let this = self.clone();
        let body = tokio::task::spawn_blocking(move || this.encode())
            .await
            .map_err(|e| SearchError::Index(tantivy::TantivyError::InternalError(e.to_string())))??;
        let (schema, _) = schema();
        kernel::snapshot::save(&self.inner.db, SNAPSHOT, &snapshot_format(&schema), position, taken_at, &body).await?;
        Ok(body.len())
    }

    /// The committed index's files and the store names, as one body. `meta.json` is read before
    /// and after the files: a background merge that committed in between means reading again.
    fn encode(&self) -> Result<Vec<u8>, SearchError> {
        let dir = self.inner.index.directory();
        let meta = std::path::Path::new("meta.json");
        for _ in 0..5 {
            let before = dir.atomic_read(meta).map_err(|e| SearchError::Index(e.into()))?;
            // holding the metas keeps their files from garbage collection while they are read
            let metas = self.inner.index.load_metas()?;
            let mut files = Vec::new();
            for path in metas.list_segment_files() {
                match dir.atomic_read(&path) {
                    Ok(bytes) => files.push((path, bytes)),
                    Err(tantivy::directory::error::OpenReadError::FileDoesNotExist(_)) => {}
                    Err(e) => return Err(SearchError::Index(e.into())),
                }
            }
            if dir.atomic_read(meta).map_err(|e| SearchError::Index(e.into()))? != before {
                continue;
            }
            let mut w = kernel::snapshot::Writer::default();
            w.str("bespoke-search");
            w.u64(files.len() as u64 + 1);
            w.str("meta.json");
            w.bytes(&before);
            for (path, bytes) in &files {
                w.str(&path.to_string_lossy());
                w.bytes(bytes);
            }
            let names = self.inner.store_names.read().map_err(|_| poisoned())?;
            w.u64(names.len() as u64);
            for (slug, name) in names.iter() {
                w.str(slug);
                w.str(name);
            }
            return Ok(w.0);
        }
        Err(SearchError::Index(tantivy::TantivyError::InternalError("the index kept changing while it was read".into())))
    }

    /// Saves a snapshot when the index changed and the last one is older than [`SNAPSHOT_EVERY`]
    /// (or this instance has none yet).
    async fn snapshot_if_due(&self) {
        let due = self.inner.follow.lock().map(|st| st.dirty && st.snapshot_at.is_none_or(|t| t.elapsed() >= SNAPSHOT_EVERY)).unwrap_or(false);
        if !due {
            return;
        }
        if let Ok(mut st) = self.inner.follow.lock() {
            st.dirty = false;
            st.snapshot_at = Some(Instant::now());
        }
        let started = Instant::now();
        match self.save_snapshot().await {
            Ok(bytes) => tracing::info!(bytes, ms = started.elapsed().as_secs_f64() * 1e3, "search snapshot saved"),
            Err(e) => {
                tracing::warn!(error = %e, "search snapshot not saved");
                if let Ok(mut st) = self.inner.follow.lock() {
                    st.dirty = true;
                }
            }
        }
    }

    /// The service around an index (new and empty, or restored).
    fn open(index: Index, fields: Fields, catalog: Catalog, db: Db, store_names: HashMap<String, String>, categories: Vec<catalog::Category>, follow: FollowState) -> Result<Self, SearchError> {
        let writer: IndexWriter = index.writer_with_num_threads(1, 64_000_000)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self {
            inner: Arc::new(Inner {
                index,
                reader,
                writer: Mutex::new(writer),
                fields,
                catalog,
                db,
                store_names: RwLock::new(store_names),
                category_names: RwLock::new(categories.into_iter().map(|c| (c.path, c.name)).collect()),
                follow: Mutex::new(follow),
            }),
        })
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
        Ok(self.catch_up_counted().await?.0)
    }

    /// [`SearchIndex::catch_up`], also returning how many events it read.
    async fn catch_up_counted(&self) -> Result<(usize, usize), SearchError> {
        let (cursor, window_start) = {
            let st = self.inner.follow.lock().map_err(|_| poisoned())?;
            (st.cursor, Timestamp::now().minus(Duration::from_secs(10)).0)
        };
        let events = kernel::outbox::tail(&self.inner.db, cursor, Timestamp(window_start), FOLLOWED, CATCH_UP_BATCH).await?;
        let read = events.len();
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
            if !products.is_empty() || store_changed {
                st.dirty = true;
            }
        }
        if store_changed {
            // a store's name is on all its products: rebuild (stores change rarely)
            let rows = self.inner.catalog.index_rows(None).await?;
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.replace_all(&rows))
                .await
                .map_err(|e| SearchError::Index(tantivy::TantivyError::InternalError(e.to_string())))??;
            return Ok((products.len(), read));
        }
        let ids: Vec<String> = products.into_iter().collect();
        self.refresh_products(&ids).await?;
        Ok((ids.len(), read))
    }

    /// Follows the outbox until `stop`: wakes on local commits and (PostgreSQL) other instances'
    /// notifications, else every second.
    pub async fn follow(self, stop: Arc<tokio::sync::Notify>) {
        let mut wake = self.inner.db.wake_receiver();
        loop {
            if let Err(e) = self.catch_up().await {
                tracing::warn!(error = %e, "search index catch-up failed; retrying");
            }
            self.snapshot_if_due().await;
            tokio::select! {
                _ = stop.notified() => break,
                _ = wake.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn cursor(&self) -> i64 {
        self.inner.follow.lock().map(|st| st.cursor).unwrap_or(i64::MAX)
    }

    pub fn num_docs(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }
}

/// Events one catch-up reads at most.
const CATCH_UP_BATCH: i64 = 2000;

/// An index and its store names from a snapshot body.
fn decode(body: &[u8]) -> Result<(Index, HashMap<String, String>), SearchError> {
    let damaged = |e: kernel::snapshot::Damaged| SearchError::Index(tantivy::TantivyError::InternalError(e.to_string()));
    let mut r = kernel::snapshot::Reader::new(body);
    if r.str().map_err(damaged)? != "bespoke-search" {
        return Err(damaged(kernel::snapshot::Damaged("not a search snapshot")));
    }
    let dir = tantivy::directory::RamDirectory::create();
    let n = r.len(16).map_err(damaged)?;
    let mut managed = Vec::with_capacity(n);
    for _ in 0..n {
        let path = r.str().map_err(damaged)?.to_owned();
        let bytes = r.bytes().map_err(damaged)?;
        // paths are tantivy's own file names: anything else is not ours
        if path.contains('/') || path.contains("..") || path.starts_with('.') {
            return Err(damaged(kernel::snapshot::Damaged("a file name is not an index file's")));
        }
        dir.atomic_write(std::path::Path::new(&path), bytes).map_err(|e| SearchError::Index(e.into()))?;
        if path != "meta.json" {
            managed.push(path);
        }
    }
    // the segment files are tantivy's to delete once merged away
    let list = serde_json::to_vec(&managed).map_err(|e| SearchError::Index(tantivy::TantivyError::InternalError(e.to_string())))?;
    tantivy::Directory::atomic_write(&dir, std::path::Path::new(".managed.json"), &list).map_err(|e| SearchError::Index(e.into()))?;
    let mut names = HashMap::new();
    for _ in 0..r.len(16).map_err(damaged)? {
        let slug = r.str().map_err(damaged)?.to_owned();
        names.insert(slug, r.str().map_err(damaged)?.to_owned());
    }
    let index = Index::open(dir)?;
    Ok((index, names))
}

fn poisoned() -> SearchError {
    SearchError::Index(tantivy::TantivyError::InternalError("a search lock was poisoned".into()))
}


/// A stored text field of a document (empty when absent).
pub(crate) fn text_of(doc: &TantivyDocument, field: Field) -> String {
    doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned()
}
