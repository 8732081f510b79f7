//! The recommendation service of the marketplace: signals from events, the item space (content
//! vectors and facts of every published listing), the served model (ONNX in tract, hot-swapped),
//! and the answers the pages and the API ask for.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use catalog::{Catalog, IndexRow};
use futures::future::BoxFuture;
use kernel::events::{Consumer, StoredEvent};
use kernel::{Db, Timestamp, Tx};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::content::{tokens, Vectors};
use crate::data::Interactions;
use crate::eval::{leave_one_out, Popularity};
use crate::model::{self, Config, Kind, Progress};
use crate::onnx::{self, TractScorer};

/// How much each kind of signal counts (`BESPOKE_RECOMMEND__WEIGHT_*`), when to retrain, and
/// whether search results are personalised.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RecSettings {
    pub weight_view: f32,
    pub weight_cart: f32,
    pub weight_purchase: f32,
    pub weight_custom: f32,
    /// Retrain after this many new signals (0 = never automatically).
    pub retrain_after: i64,
    /// … or when the newest model is older than this many hours and there are new signals.
    pub retrain_hours: u64,
    pub epochs: usize,
    pub personalize_search: bool,
    /// Whether the follow loop trains when a retraining is due. Off under AWS Lambda, where an
    /// instance sleeps between requests: a scheduled invocation retrains there instead.
    pub train_while_following: bool,
}

impl Default for RecSettings {
    fn default() -> Self {
        RecSettings { weight_view: 1.0, weight_cart: 3.0, weight_purchase: 4.0, weight_custom: 4.0, retrain_after: 500, retrain_hours: 24, epochs: 15, personalize_search: true, train_while_following: true }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    #[error(transparent)]
    Model(#[from] crate::RecError),
    #[error("{0}")]
    NotEnoughData(String),
}

/// Why an item is suggested (shown under it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    BecauseYouViewed { product_id: String, title: String },
    PickedForYou,
    Popular,
    Similar,
    BoughtTogether { customers: i64 },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Suggestion {
    pub product_id: String,
    pub score: f32,
    pub reason: Reason,
}

#[derive(Clone, Debug)]
struct ItemMeta {
    dealer_id: String,
    title: String,
    in_stock: bool,
    popularity: f32,
}

/// Every published listing: its facts and its content vector.
#[derive(Clone, Debug, Default)]
struct ItemSpace {
    ids: Vec<String>,
    index: HashMap<String, usize>,
    meta: Vec<ItemMeta>,
    live: Vec<bool>,
    /// live and in stock, by position: read for every listing a neighbour search touches (tens of
    /// thousands a request at 100,000 listings), so kept apart from `meta`, one byte each
    avail: Vec<bool>,
    /// each position's dealer, as an index into `dealers` (the same reason)
    dealer_ix: Vec<u32>,
    dealers: HashMap<String, u32>,
    vectors: Vectors,
    /// indices by popularity, most popular first
    popular: Vec<usize>,
}

/// The words a listing's content vector is made of: its title (twice) and its category (the leaf
/// four times, the top level twice) weigh most, then its options' names and choices and its
/// attributes. Descriptions and store names
/// are left out: their boilerplate made unrelated listings look alike.
fn document(r: &IndexRow) -> Vec<String> {
    let mut d: Vec<String> = Vec::new();
    let segments: Vec<&str> = r.category_path.split('/').filter(|s| !s.is_empty()).collect();
    for _ in 0..2 {
        d.extend(tokens(&r.title));
    }
    // what a buyer can choose (sizes, woods, engraving) says what kind of piece it is
    d.extend(tokens(&r.options).map(|t| format!("o:{t}")));
    if let Some(leaf) = segments.last() {
        for _ in 0..4 {
            d.push(format!("c:{leaf}"));
        }
    }
    if segments.len() > 1 {
        for _ in 0..2 {
            d.push(format!("c:{}", segments[0]));
        }
    }
    d.extend(tokens(&r.attributes));
    d
}

impl ItemSpace {
    fn build(rows: &[IndexRow]) -> Self {
        let docs: Vec<Vec<String>> = rows.iter().map(document).collect();
        let mut s = ItemSpace { vectors: Vectors::build(&docs), ..Default::default() };
        for (k, r) in rows.iter().enumerate() {
            s.index.insert(r.product_id.clone(), k);
            s.ids.push(r.product_id.clone());
            s.meta.push(meta(r));
            s.live.push(true);
            s.facts(k);
        }
        s.rank();
        s
    }

    /// The snapshot body: ids, facts, liveness and the content vectors (the rest is derived).
    fn encode(&self) -> Vec<u8> {
        let mut w = kernel::snapshot::Writer::default();
        w.str("bespoke-items");
        w.u64(self.ids.len() as u64);
        for (k, id) in self.ids.iter().enumerate() {
            let m = &self.meta[k];
            w.str(id);
            w.str(&m.dealer_id);
            w.str(&m.title);
            w.u8(u8::from(m.in_stock) | (u8::from(self.live[k]) << 1));
            w.f32(m.popularity);
        }
        self.vectors.encode(&mut w);
        w.0
    }

    fn decode(body: &[u8]) -> Result<Self, kernel::snapshot::Damaged> {
        let mut r = kernel::snapshot::Reader::new(body);
        if r.str()? != "bespoke-items" {
            return Err(kernel::snapshot::Damaged("not an item-space snapshot"));
        }
        let n = r.len(30)?;
        let mut s = ItemSpace::default();
        for k in 0..n {
            let id = r.str()?.to_owned();
            let dealer_id = r.str()?.to_owned();
            let title = r.str()?.to_owned();
            let flags = r.u8()?;
            let popularity = r.f32()?;
            s.index.insert(id.clone(), k);
            s.ids.push(id);
            s.meta.push(ItemMeta { dealer_id, title, in_stock: flags & 1 != 0, popularity });
            s.live.push(flags & 2 != 0);
            s.facts(k);
        }
        if s.index.len() != n {
            return Err(kernel::snapshot::Damaged("a listing appears twice"));
        }
        s.vectors = Vectors::decode(&mut r)?;
        if s.vectors.items.len() > n || !r.is_empty() {
            return Err(kernel::snapshot::Damaged("the vectors do not match the listings"));
        }
        s.rank();
        Ok(s)
    }

    /// Brings `avail` and `dealer_ix` in line with `live` and `meta` at position `k`.
    fn facts(&mut self, k: usize) {
        let next = self.dealers.len() as u32;
        let d = *self.dealers.entry(self.meta[k].dealer_id.clone()).or_insert(next);
        let a = self.live[k] && self.meta[k].in_stock;
        if k < self.avail.len() {
            self.avail[k] = a;
            self.dealer_ix[k] = d;
        } else {
            self.avail.push(a);
            self.dealer_ix.push(d);
        }
    }

    fn rank(&mut self) {
        let mut p: Vec<usize> = (0..self.ids.len()).filter(|&i| self.live[i]).collect();
        p.sort_by(|a, b| self.meta[*b].popularity.total_cmp(&self.meta[*a].popularity).then(a.cmp(b)));
        self.popular = p;
    }

    /// Puts these products in line with the database (`rows` holds those still published).
    fn apply(&mut self, ids: &[String], rows: &[IndexRow]) {
        let by_id: HashMap<&str, &IndexRow> = rows.iter().map(|r| (r.product_id.as_str(), r)).collect();
        for id in ids {
            match (self.index.get(id).copied(), by_id.get(id.as_str())) {
                (Some(k), Some(r)) => {
                    self.meta[k] = meta(r);
                    self.live[k] = true;
                    self.facts(k);
                    self.vectors.upsert(k, &document(r));
                }
                (None, Some(r)) => {
                    let k = self.ids.len();
                    self.ids.push(id.clone());
                    self.index.insert(id.clone(), k);
                    self.meta.push(meta(r));
                    self.live.push(true);
                    self.facts(k);
                    self.vectors.upsert(k, &document(r));
                }
                (Some(k), None) => {
                    self.live[k] = false;
                    self.facts(k);
                }
                (None, None) => {}
            }
        }
        self.rank();
    }
}

fn meta(r: &IndexRow) -> ItemMeta {
    ItemMeta {
        dealer_id: r.dealer_id.clone(),
        title: r.title.clone(),
        in_stock: r.stock.is_none_or(|s| s > 0),
        popularity: (r.recent_activity as f32 + 1.0).ln() + 0.5 * (r.sales_count as f32 + 1.0).ln(),
    }
}

/// The item space's snapshot name and layout (it is rebuilt and saved every 10 minutes while an
/// instance runs).
const ITEMS_SNAPSHOT: &str = "recommend-items";
const ITEMS_FORMAT: &str = "items/1";

async fn save_items(db: &Db, position: i64, taken_at: Timestamp, body: Vec<u8>) {
    match kernel::snapshot::save(db, ITEMS_SNAPSHOT, ITEMS_FORMAT, position, taken_at, &body).await {
        Ok(()) => tracing::info!(bytes = body.len(), "recommendations: item-space snapshot saved"),
        Err(e) => tracing::warn!(error = %e, "recommendations: item-space snapshot not saved"),
    }
}

/// The stored item space and the outbox position to follow from, when a usable one is stored.
async fn restore_items(db: &Db) -> Result<Option<(i64, ItemSpace)>, ServiceError> {
    let Some(snap) = kernel::snapshot::load_usable(db, ITEMS_SNAPSHOT, ITEMS_FORMAT).await? else { return Ok(None) };
    let cursor = snap.cursor;
    let body = snap.body;
    let space = tokio::task::spawn_blocking(move || ItemSpace::decode(&body))
        .await
        .map_err(|e| ServiceError::NotEnoughData(e.to_string()))?
        .map_err(|e| ServiceError::NotEnoughData(e.to_string()))?;
    Ok(Some((cursor, space)))
}

/// The id of the newest good model, if any.
async fn latest_model_id(db: &Db) -> Result<Option<String>, ServiceError> {
    let id: Option<String> = sqlx::query_scalar("SELECT model_id FROM rec_model WHERE status = 'ready' ORDER BY created_at DESC, model_id DESC LIMIT 1").fetch_optional(db.reader()).await?;
    Ok(id)
}

/// The newest good model, loaded, if there is one.
async fn newest_model(db: &Db) -> Result<Option<Served>, ServiceError> {
    match latest_model_id(db).await? {
        Some(id) => load_model(db, &id).await.map(Some),
        None => Ok(None),
    }
}

/// Reads the stored model `id` and loads it into tract (on a blocking thread).
async fn load_model(db: &Db, id: &str) -> Result<Served, ServiceError> {
    let started = Instant::now();
    let row = sqlx::query("SELECT onnx, users, items FROM rec_model WHERE model_id = $1").bind(id).fetch_one(db.reader()).await?;
    let bytes: Vec<u8> = row.try_get(0)?;
    let users: Vec<String> = serde_json::from_str(&row.try_get::<String, _>(1)?).unwrap_or_default();
    let items: Vec<String> = serde_json::from_str(&row.try_get::<String, _>(2)?).unwrap_or_default();
    let (nu, ni) = (users.len(), items.len());
    let scorer = tokio::task::spawn_blocking(move || TractScorer::load(&bytes, 256, nu, ni)).await.map_err(|e| ServiceError::NotEnoughData(e.to_string()))??;
    let served = Served {
        model_id: id.to_owned(),
        scorer,
        users: users.into_iter().enumerate().map(|(k, u)| (u, k as u32)).collect(),
        items: items.into_iter().enumerate().map(|(k, i)| (i, k as u32)).collect(),
    };
    tracing::info!(model = id, ms = started.elapsed().as_secs_f64() * 1e3, "recommendation model loaded");
    Ok(served)
}

/// The model being served, with its id maps.
struct Served {
    model_id: String,
    scorer: TractScorer,
    users: HashMap<String, u32>,
    items: HashMap<String, u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelInfo {
    pub model_id: String,
    pub created_at: i64,
    pub kind: String,
    pub status: String,
    pub users: i64,
    pub items: i64,
    pub interactions: i64,
    pub val_hr10: f64,
    pub popularity_val_hr10: f64,
    pub epochs: i64,
    pub seconds: f64,
}

struct Inner {
    db: Db,
    catalog: Catalog,
    settings: RecSettings,
    items: RwLock<Arc<ItemSpace>>,
    model: RwLock<Option<Arc<Served>>>,
    follow: Mutex<(i64, HashMap<String, Instant>)>,
    training: tokio::sync::Mutex<()>,
    progress: Arc<Mutex<Training>>,
    /// the item space came from the stored snapshot (then the outbox), not from every listing
    from_snapshot: bool,
}

/// How this instance's training is going (for the admin console's progress bar).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Training {
    pub running: bool,
    /// `validation` (choosing the epochs), then `refit` (on every signal)
    pub phase: String,
    pub epoch: usize,
    pub epochs: usize,
    /// Share of the whole job done, 0–1.
    pub done: f64,
    pub loss: f64,
    pub val_hr10: Option<f64>,
    pub started_at: i64,
    /// How the last run ended: the stored model's id, or the error.
    pub model_id: Option<String>,
    pub error: Option<String>,
}

/// Forwards a training run's progress to the caller's reporter and to the shared [`Training`].
struct Tracked<'a> {
    inner: &'a mut (dyn Progress + Send),
    state: Arc<Mutex<Training>>,
    /// The share of the job this phase covers: (start, width).
    span: (f64, f64),
    epochs: usize,
}

impl Tracked<'_> {
    fn update(&self, f: impl FnOnce(&mut Training)) {
        if let Ok(mut g) = self.state.lock() {
            f(&mut g);
        }
    }
}

impl Progress for Tracked<'_> {
    fn batch(&mut self, epoch: usize, done: f64, loss: f64) {
        self.inner.batch(epoch, done, loss);
        let (start, width, epochs) = (self.span.0, self.span.1, self.epochs.max(1));
        self.update(|t| {
            t.epoch = epoch;
            t.epochs = epochs;
            t.loss = loss;
            t.done = (start + width * ((epoch - 1) as f64 + done) / epochs as f64).min(1.0);
        });
    }
    fn epoch(&mut self, e: &model::Epoch) {
        self.inner.epoch(e);
        let hr = (e.val.hr10 > 0.0).then_some(e.val.hr10);
        self.update(|t| {
            if hr.is_some() {
                t.val_hr10 = hr;
            }
        });
    }
}

#[derive(Clone)]
pub struct Recommender {
    inner: Arc<Inner>,
}

const FOLLOWED: &[&str] = &["catalog.ProductPublished", "catalog.ProductUpdated", "catalog.ProductUnpublished", "catalog.ProductArchived", "catalog.StockChanged", "catalog.StoreUpdated"];

/// A signed-in person's signals: (product, weight, purchased), newest first.
struct History {
    items: Vec<(String, f32, bool)>,
}

pub fn subject_of_user(user_id: &str) -> String {
    format!("u:{user_id}")
}

impl Recommender {
    /// Builds the item space from the published catalogue and loads the newest good model.
    pub async fn start(db: Db, catalog: Catalog, settings: RecSettings) -> Result<Self, ServiceError> {
        let started = Instant::now();
        // the newest good model loads (tract, on a blocking thread) beside the item space
        let (restored, model) = tokio::join!(restore_items(&db), newest_model(&db));
        let restored = match restored {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "recommendations: item-space snapshot unusable; rebuilding");
                None
            }
        };
        let from_snapshot = restored.is_some();
        let (cursor, space) = match restored {
            Some(found) => found,
            None => {
                let cursor = kernel::outbox::last_seq(&db).await?;
                let taken_at = Timestamp::now();
                let rows = catalog.index_rows(None).await?;
                let space = tokio::task::spawn_blocking(move || ItemSpace::build(&rows)).await.map_err(|e| ServiceError::NotEnoughData(e.to_string()))?;
                tracing::info!(ms = started.elapsed().as_secs_f64() * 1e3, "recommendations: item space built");
                // the next start loads this instead (in the background: serving does not wait)
                let (db, body) = (db.clone(), space.encode());
                tokio::spawn(async move { save_items(&db, cursor, taken_at, body).await });
                (cursor, space)
            }
        };
        let me = Recommender {
            inner: Arc::new(Inner {
                db,
                catalog,
                settings,
                items: RwLock::new(Arc::new(space)),
                model: RwLock::new(match model {
                    Ok(m) => m.map(Arc::new),
                    Err(e) => {
                        tracing::warn!(error = %e, "no recommendation model loaded; popularity and content only");
                        None
                    }
                }),
                follow: Mutex::new((cursor, HashMap::new())),
                training: tokio::sync::Mutex::new(()),
                progress: Arc::new(Mutex::new(Training::default())),
                from_snapshot,
            }),
        };
        if from_snapshot {
            // what changed since the snapshot, before the first request
            let n = me.catch_up().await?;
            tracing::info!(items = me.space().ids.len(), changed = n, ms = started.elapsed().as_secs_f64() * 1e3, "recommendations: item space restored from snapshot");
        }
        Ok(me)
    }

    /// Whether this instance started from the stored item-space snapshot.
    pub fn from_snapshot(&self) -> bool {
        self.inner.from_snapshot
    }

    /// How many listings the item space holds (published or not any more).
    pub fn item_count(&self) -> usize {
        self.space().ids.len()
    }

    pub fn settings(&self) -> &RecSettings {
        &self.inner.settings
    }

    /// This instance's training: running or how the last one ended.
    pub fn training(&self) -> Training {
        self.inner.progress.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Starts a training run in the background unless one is running here; returns whether it
    /// started. Its progress is [`Recommender::training`].
    pub fn train_in_background(&self) -> bool {
        {
            let Ok(mut g) = self.inner.progress.lock() else { return false };
            if g.running || self.inner.training.try_lock().is_err() {
                return false;
            }
            *g = Training { running: true, phase: "starting".into(), started_at: Timestamp::now().0, ..Default::default() };
        }
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.train(Box::new(model::Quiet)).await {
                tracing::warn!(error = %e, "recommendations: training failed");
            }
        });
        true
    }

    fn space(&self) -> Arc<ItemSpace> {
        self.inner.items.read().map(|g| g.clone()).unwrap_or_default()
    }

    fn served(&self) -> Option<Arc<Served>> {
        self.inner.model.read().ok().and_then(|g| g.clone())
    }

    /// The id of the model being served.
    pub fn model_id(&self) -> Option<String> {
        self.served().map(|s| s.model_id.clone())
    }

    /// Loads the newest good model if it is not the one being served (a hot swap: requests in
    /// flight keep the model they started with). Returns whether a new model was loaded.
    pub async fn load_latest(&self) -> Result<bool, ServiceError> {
        let Some(id) = latest_model_id(&self.inner.db).await? else { return Ok(false) };
        if self.model_id().as_deref() == Some(id.as_str()) {
            return Ok(false);
        }
        self.load(&id).await?;
        Ok(true)
    }

    async fn load(&self, id: &str) -> Result<(), ServiceError> {
        let served = load_model(&self.inner.db, id).await?;
        if let Ok(mut g) = self.inner.model.write() {
            *g = Some(Arc::new(served));
        }
        Ok(())
    }

    async fn history(&self, user_id: &str) -> Result<History, ServiceError> {
        let s = &self.inner.settings;
        let rows = sqlx::query("SELECT product_id, views, carts, purchases, customs FROM rec_signal WHERE subject = $1 ORDER BY last_at DESC LIMIT 200")
            .bind(subject_of_user(user_id))
            .fetch_all(self.inner.db.reader())
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let (v, c, p, cu): (i64, i64, i64, i64) = (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
            let w = v as f32 * s.weight_view + c as f32 * s.weight_cart + p as f32 * s.weight_purchase + cu as f32 * s.weight_custom;
            items.push((r.try_get::<String, _>(0)?, w, p > 0));
        }
        Ok(History { items })
    }

    /// "Recommended for you": for a person (signed in or not) with the listings they viewed in
    /// this session (`recent`, newest first).
    pub async fn for_person(&self, user_id: Option<&str>, recent: &[String], limit: usize) -> Result<Vec<Suggestion>, ServiceError> {
        let history = match user_id {
            Some(u) => self.history(u).await?,
            None => History { items: Vec::new() },
        };
        Ok(self.rank_for(user_id, recent, &history, limit))
    }

    fn rank_for(&self, user_id: Option<&str>, recent: &[String], history: &History, limit: usize) -> Vec<Suggestion> {
        let space = self.space();
        let served = self.served();
        // anchors: this session's views first, then the person's strongest recent signals
        let mut anchors: Vec<usize> = Vec::new();
        for id in recent.iter().map(String::as_str).chain(history.items.iter().map(|h| h.0.as_str())) {
            if let Some(&k) = space.index.get(id) {
                if !anchors.contains(&k) {
                    anchors.push(k);
                }
            }
            if anchors.len() >= 8 {
                break;
            }
        }
        // what the person bought, and what they just looked at, is not suggested back to them:
        // as positions in the item space (a short list: `allowed` runs for every listing the
        // neighbour search touches, tens of thousands a request at 100,000 listings, and hashing
        // each one's id there cost most of a request)
        let mut excluded: Vec<usize> = history.items.iter().filter(|h| h.2).filter_map(|h| space.index.get(&h.0).copied()).collect();
        excluded.extend(anchors.iter().copied().chain(recent.iter().filter_map(|id| space.index.get(id).copied())));
        excluded.sort_unstable();
        excluded.dedup();
        // a dealer's own listings are not suggested to them (no index: they have no listings)
        let own = user_id.map(|u| space.dealers.get(u).copied());
        let allowed = |k: usize| -> bool { space.avail[k] && excluded.binary_search(&k).is_err() && own.is_none_or(|d| d != Some(space.dealer_ix[k])) };
        // candidates: content neighbours of the anchors, then the most popular
        let mut cand: Vec<usize> = Vec::new();
        let mut in_cand: HashSet<usize> = HashSet::new();
        for &a in &anchors {
            for (j, _) in space.vectors.neighbours(a, 40, &|j| !allowed(j as usize)) {
                if in_cand.insert(j as usize) {
                    cand.push(j as usize);
                }
            }
        }
        for &k in space.popular.iter().filter(|&&k| allowed(k)).take(300) {
            if cand.len() >= 512 {
                break;
            }
            if in_cand.insert(k) {
                cand.push(k);
            }
        }
        if cand.is_empty() {
            return Vec::new();
        }
        // session similarity: the best cosine to an anchor, recent anchors counting more
        let mut sim = vec![0f32; cand.len()];
        let mut because = vec![None; cand.len()];
        for (c, &k) in cand.iter().enumerate() {
            for (rank, &a) in anchors.iter().enumerate() {
                let s = space.vectors.cosine(k, a) * (1.0 - 0.05 * rank as f32);
                if s > sim[c] {
                    sim[c] = s;
                    because[c] = Some(a);
                }
            }
        }
        let pop = zscore(&cand.iter().map(|&k| space.meta[k].popularity).collect::<Vec<_>>());
        // the model's preference, for people it knows
        let mut model = vec![0f32; cand.len()];
        let mut personal = false;
        if let (Some(s), Some(u)) = (&served, user_id) {
            if let Some(&ui) = s.users.get(&subject_of_user(u)) {
                let known: Vec<(usize, u32)> = cand.iter().enumerate().filter_map(|(c, &k)| s.items.get(&space.ids[k]).map(|&i| (c, i))).collect();
                if !known.is_empty() {
                    let items: Vec<u32> = known.iter().map(|x| x.1).collect();
                    if let Ok(scores) = s.scorer.scores(&vec![ui; items.len()], &items) {
                        let z = zscore(&scores);
                        let floor = z.iter().copied().fold(f32::INFINITY, f32::min);
                        model.iter_mut().for_each(|m| *m = floor);
                        for ((c, _), v) in known.iter().zip(z) {
                            model[*c] = v;
                        }
                        personal = true;
                    }
                }
            }
        }
        let mut scored: Vec<(usize, f32, Reason)> = cand
            .iter()
            .enumerate()
            .map(|(c, &k)| {
                let score = if personal { model[c] + 4.0 * sim[c] + 0.2 * pop[c] } else { 4.0 * sim[c] + pop[c] };
                let reason = match because[c] {
                    Some(a) if sim[c] >= 0.15 => Reason::BecauseYouViewed { product_id: space.ids[a].clone(), title: space.meta[a].title.clone() },
                    _ if personal => Reason::PickedForYou,
                    _ => Reason::Popular,
                };
                (k, score, reason)
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        // at most three in a row from one store: variety
        let mut per_store: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::with_capacity(limit);
        for (k, score, reason) in scored {
            let n = per_store.entry(space.meta[k].dealer_id.as_str()).or_insert(0);
            if *n >= 3 {
                continue;
            }
            *n += 1;
            out.push(Suggestion { product_id: space.ids[k].clone(), score, reason });
            if out.len() >= limit {
                break;
            }
        }
        out
    }

    /// "Similar items": content neighbours of a listing, in stock and published, not from
    /// `exclude_dealer` (the viewer's own store).
    pub fn similar(&self, product_id: &str, limit: usize, exclude_dealer: Option<&str>) -> Vec<Suggestion> {
        let space = self.space();
        let Some(&k) = space.index.get(product_id) else { return Vec::new() };
        let own = exclude_dealer.map(|d| space.dealers.get(d).copied());
        space
            .vectors
            .neighbours(k, limit, &|j| {
                let j = j as usize;
                !space.avail[j] || own.is_some_and(|d| d == Some(space.dealer_ix[j]))
            })
            .into_iter()
            .map(|(j, s)| Suggestion { product_id: space.ids[j as usize].clone(), score: s, reason: Reason::Similar })
            .collect()
    }

    /// "Customers also bought": listings bought by the people who bought this one.
    pub async fn also_bought(&self, product_id: &str, limit: usize) -> Result<Vec<Suggestion>, ServiceError> {
        let rows = sqlx::query(
            "SELECT b.product_id, COUNT(*) AS n FROM rec_signal a JOIN rec_signal b ON b.subject = a.subject AND b.product_id <> a.product_id \
             WHERE a.product_id = $1 AND a.purchases > 0 AND b.purchases > 0 GROUP BY b.product_id ORDER BY n DESC, b.product_id LIMIT $2",
        )
        .bind(product_id)
        .bind((limit * 3) as i64)
        .fetch_all(self.inner.db.reader())
        .await?;
        let space = self.space();
        let mut out = Vec::new();
        for r in rows {
            let id: String = r.try_get(0)?;
            let n: i64 = r.try_get(1)?;
            if space.index.get(&id).is_some_and(|&k| space.avail[k]) {
                out.push(Suggestion { product_id: id, score: n as f32, reason: Reason::BoughtTogether { customers: n } });
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Whether the served model knows this person (their search can be personalised).
    pub fn knows(&self, user_id: &str) -> bool {
        self.served().is_some_and(|s| s.users.contains_key(&subject_of_user(user_id)))
    }

    /// Personalised search: re-orders results of similar relevance (within 10 % of the first of
    /// their run) by the person's predicted preference; returns whether anything was re-ranked.
    /// `results` are (product id, relevance) in the engine's order.
    pub fn rerank(&self, user_id: &str, results: &mut [(String, f32)]) -> bool {
        let Some(s) = self.served() else { return false };
        let Some(&ui) = s.users.get(&subject_of_user(user_id)) else { return false };
        let known: Vec<Option<u32>> = results.iter().map(|r| s.items.get(&r.0).copied()).collect();
        let items: Vec<u32> = known.iter().flatten().copied().collect();
        if items.len() < 2 {
            return false;
        }
        let Ok(scores) = s.scorer.scores(&vec![ui; items.len()], &items) else { return false };
        let mut it = scores.into_iter();
        let pref: Vec<f32> = known.iter().map(|k| if k.is_some() { it.next().unwrap_or(f32::MIN) } else { f32::MIN }).collect();
        let mut keyed: Vec<((String, f32), f32)> = results.iter().cloned().zip(pref).collect();
        let mut start = 0;
        let mut changed = false;
        while start < keyed.len() {
            let lead = keyed[start].0 .1;
            let mut end = start + 1;
            while end < keyed.len() && keyed[end].0 .1 >= lead * 0.9 {
                end += 1;
            }
            let before: Vec<String> = keyed[start..end].iter().map(|k| k.0 .0.clone()).collect();
            keyed[start..end].sort_by(|a, b| b.1.total_cmp(&a.1));
            changed |= keyed[start..end].iter().map(|k| &k.0 .0).ne(before.iter());
            start = end;
        }
        for (r, k) in results.iter_mut().zip(keyed) {
            *r = k.0;
        }
        changed
    }

    /// Re-reads products named by catalogue events since the last call (new listings get content
    /// vectors at once: no retraining needed for "similar items").
    pub async fn catch_up(&self) -> Result<usize, ServiceError> {
        let cursor = self.inner.follow.lock().map(|g| g.0).unwrap_or(0);
        let since = Timestamp::now().minus(Duration::from_secs(10));
        let events = kernel::outbox::tail(&self.inner.db, cursor, since, FOLLOWED, 2000).await?;
        let mut ids: Vec<String> = Vec::new();
        let mut rebuild = false;
        if let Ok(mut st) = self.inner.follow.lock() {
            let now = Instant::now();
            st.1.retain(|_, t| now.duration_since(*t) < Duration::from_secs(60));
            for e in &events {
                st.0 = st.0.max(e.seq);
                if st.1.insert(e.event_id.clone(), now).is_some() {
                    continue;
                }
                if e.event_type == "catalog.StoreUpdated" {
                    rebuild = true;
                } else if !ids.contains(&e.aggregate_id) {
                    ids.push(e.aggregate_id.clone());
                }
            }
        }
        if rebuild {
            self.rebuild().await?;
            return Ok(ids.len());
        }
        if ids.is_empty() {
            return Ok(0);
        }
        let mut rows = Vec::new();
        for id in &ids {
            rows.extend(self.inner.catalog.index_rows(Some(id)).await?);
        }
        let mut space = (*self.space()).clone();
        space.apply(&ids, &rows);
        if let Ok(mut g) = self.inner.items.write() {
            *g = Arc::new(space);
        }
        Ok(ids.len())
    }

    /// Rebuilds the item space from the catalogue (popularity and vocabulary afresh) and saves it
    /// as the snapshot the next instance starts from.
    pub async fn rebuild(&self) -> Result<(), ServiceError> {
        let position = kernel::outbox::last_seq(&self.inner.db).await?;
        let taken_at = Timestamp::now();
        let rows = self.inner.catalog.index_rows(None).await?;
        let (space, body) = tokio::task::spawn_blocking(move || {
            let space = ItemSpace::build(&rows);
            let body = space.encode();
            (space, body)
        })
        .await
        .map_err(|e| ServiceError::NotEnoughData(e.to_string()))?;
        if let Ok(mut g) = self.inner.items.write() {
            *g = Arc::new(space);
        }
        save_items(&self.inner.db, position, taken_at, body).await;
        Ok(())
    }

    /// Follows the catalogue (every second or on a wake-up), picks up models trained by any
    /// instance (every 30 s), rebuilds popularity (every 10 min) and retrains when due.
    pub async fn follow(self, stop: Arc<tokio::sync::Notify>) {
        let mut wake = self.inner.db.wake_receiver();
        let mut last_model_check = Instant::now();
        let mut last_rebuild = Instant::now();
        loop {
            if let Err(e) = self.catch_up().await {
                tracing::warn!(error = %e, "recommendations: catalogue catch-up failed; retrying");
            }
            if last_model_check.elapsed() >= Duration::from_secs(30) {
                last_model_check = Instant::now();
                if let Err(e) = self.load_latest().await {
                    tracing::warn!(error = %e, "recommendations: model check failed");
                }
                if self.inner.settings.train_while_following {
                    match self.retrain_if_due().await {
                        Ok(Some(m)) => tracing::info!(model = %m.model_id, status = %m.status, "recommendation model retrained"),
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "recommendations: retraining failed"),
                    }
                }
            }
            if last_rebuild.elapsed() >= Duration::from_secs(600) {
                last_rebuild = Instant::now();
                if let Err(e) = self.rebuild().await {
                    tracing::warn!(error = %e, "recommendations: rebuild failed");
                }
            }
            tokio::select! {
                _ = stop.notified() => break,
                _ = wake.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Whether any signed-in person's signal is recorded.
    pub async fn has_signals(&self) -> Result<bool, ServiceError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM rec_signal WHERE subject LIKE 'u:%'").fetch_one(self.inner.db.reader()).await?.try_get(0)?;
        Ok(n > 0)
    }

    /// Records signals directly (the demo store's browsing history): (subject, product, views,
    /// carts, purchases, at). Adds to what is there.
    pub async fn record_signals(&self, rows: &[(String, String, i64, i64, i64, i64)]) -> Result<usize, ServiceError> {
        let mut tx: Tx = self.inner.db.begin().await?;
        for (subject, product, views, carts, purchases, at) in rows {
            sqlx::query(
                "INSERT INTO rec_signal (subject, product_id, views, carts, purchases, customs, last_at) VALUES ($1, $2, $3, $4, $5, 0, $6) \
                 ON CONFLICT (subject, product_id) DO UPDATE SET views = rec_signal.views + $3, carts = rec_signal.carts + $4, purchases = rec_signal.purchases + $5, \
                 last_at = CASE WHEN rec_signal.last_at > $6 THEN rec_signal.last_at ELSE $6 END",
            )
            .bind(subject)
            .bind(product)
            .bind(views)
            .bind(carts)
            .bind(purchases)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Signals recorded since the newest model was trained.
    pub async fn new_signals(&self) -> Result<(i64, Option<i64>), ServiceError> {
        let last: Option<i64> = sqlx::query("SELECT MAX(created_at) FROM rec_model").fetch_one(self.inner.db.reader()).await?.try_get(0)?;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM rec_signal WHERE last_at > $1").bind(last.unwrap_or(0)).fetch_one(self.inner.db.reader()).await?.try_get(0)?;
        Ok((n, last))
    }

    /// Trains when enough new signals arrived (or the model is old and anything new arrived). One
    /// instance at a time: a lease row in `rec_state`.
    pub async fn retrain_if_due(&self) -> Result<Option<ModelInfo>, ServiceError> {
        let s = &self.inner.settings;
        if s.retrain_after <= 0 {
            return Ok(None);
        }
        let (n, last) = self.new_signals().await?;
        let old = last.is_some_and(|t| Timestamp::now().0 - t > (s.retrain_hours as i64) * 3_600_000_000);
        if n < s.retrain_after && !(old && n > 0) {
            return Ok(None);
        }
        let now = Timestamp::now().0;
        let lease = sqlx::query("UPDATE rec_state SET value = $1 WHERE key = 'training_lease' AND value < $2")
            .bind(now + 30 * 60 * 1_000_000)
            .bind(now)
            .execute(self.inner.db.writer())
            .await?;
        if lease.rows_affected() == 0 {
            return Ok(None);
        }
        let res = self.train(Box::new(model::Quiet)).await;
        sqlx::query("UPDATE rec_state SET value = 0 WHERE key = 'training_lease'").execute(self.inner.db.writer()).await?;
        res.map(Some)
    }

    /// Trains NeuMF on the recorded signals, stores it (ONNX and id maps) with its validation
    /// figures, and serves it if it beats popularity on the held-out interactions.
    pub async fn train(&self, progress: Box<dyn Progress + Send>) -> Result<ModelInfo, ServiceError> {
        let _guard = self.inner.training.lock().await;
        let state = self.inner.progress.clone();
        if let Ok(mut g) = state.lock() {
            *g = Training { running: true, phase: "reading signals".into(), started_at: Timestamp::now().0, ..Default::default() };
        }
        let res = self.train_locked(progress).await;
        if let Ok(mut g) = state.lock() {
            g.running = false;
            match &res {
                Ok(m) => {
                    g.done = 1.0;
                    g.phase = "done".into();
                    g.model_id = Some(m.model_id.clone());
                }
                Err(e) => {
                    g.phase = "failed".into();
                    g.error = Some(e.to_string());
                }
            }
        }
        res
    }

    async fn train_locked(&self, mut progress: Box<dyn Progress + Send>) -> Result<ModelInfo, ServiceError> {
        let s = self.inner.settings.clone();
        let rows = sqlx::query("SELECT subject, product_id, views, carts, purchases, customs FROM rec_signal WHERE subject LIKE 'u:%' ORDER BY subject, last_at, product_id")
            .fetch_all(self.inner.db.reader())
            .await?;
        let mut users: Vec<String> = Vec::new();
        let mut user_ix: HashMap<String, usize> = HashMap::new();
        let mut items: Vec<String> = Vec::new();
        let mut item_ix: HashMap<String, u32> = HashMap::new();
        let mut per_user: Vec<Vec<(u32, f32)>> = Vec::new();
        for r in &rows {
            let subject: String = r.try_get(0)?;
            let product: String = r.try_get(1)?;
            let (v, c, p, cu): (i64, i64, i64, i64) = (r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?);
            let w = v as f32 * s.weight_view + c as f32 * s.weight_cart + p as f32 * s.weight_purchase + cu as f32 * s.weight_custom;
            if w <= 0.0 {
                continue;
            }
            let u = *user_ix.entry(subject.clone()).or_insert_with(|| {
                users.push(subject.clone());
                per_user.push(Vec::new());
                users.len() - 1
            });
            let i = *item_ix.entry(product.clone()).or_insert_with(|| {
                items.push(product.clone());
                (items.len() - 1) as u32
            });
            per_user[u].push((i, w.max(1.0)));
        }
        if users.len() < 2 || items.len() < 3 {
            return Err(ServiceError::NotEnoughData(format!("{} people and {} listings with signals: too few to train on", users.len(), items.len())));
        }
        let interactions: usize = per_user.iter().map(Vec::len).sum();
        let data = Interactions::weighted(users.len(), items.len(), per_user);
        let epochs = s.epochs;
        let started = Instant::now();
        // training runs on the blocking pool: it never holds up the async runtime
        let state = self.inner.progress.clone();
        let (trained, val_hr, pop_hr) = tokio::task::spawn_blocking(move || -> Result<_, crate::RecError> {
            let mut cfg = Config::new(Kind::NeuMF);
            cfg.factors = 16;
            cfg.layers = vec![64, 32, 16];
            // a young store's few hundred signals would make one or two steps an epoch at 512 and
            // stop early having learnt nothing: at least ~32 steps an epoch
            cfg.batch = (data.len() * (1 + cfg.negatives) / 32).clamp(32, 512);
            cfg.lr = 0.005;
            cfg.epochs = epochs;
            // epochs on a few thousand signals take milliseconds: more patience there (a first
            // few epochs at chance would otherwise stop it before it learns anything)
            cfg.patience = if data.len() < 10_000 { 10 } else { 3 };
            let (tr, val) = data.split_last(99.min(data.n_items.saturating_sub(1)), 11);
            let phase = |name: &str| {
                if let Ok(mut g) = state.lock() {
                    g.phase = name.into();
                }
            };
            phase("validation");
            // the validation run is most of the job; the refit runs only up to its best epoch
            let mut tracked = Tracked { inner: progress.as_mut(), state: state.clone(), span: (0.0, 0.7), epochs: cfg.epochs };
            let t = model::train(&cfg, &tr, &val, None, &mut tracked)?;
            let pop = if val.is_empty() { 0.0 } else { leave_one_out(&Popularity::fit(&tr), &val).hr10 };
            let best = t.history.iter().map(|e| e.val.hr10).fold(0.0, f64::max);
            // validation chose the epochs; the served model learns from everything, each person's
            // latest signal included (the most telling one for what they look at next)
            let t = if val.is_empty() {
                t
            } else {
                phase("refit");
                let mut refit = cfg.clone();
                refit.epochs = t.best_epoch;
                let mut tracked = Tracked { inner: progress.as_mut(), state: state.clone(), span: (0.7, 0.3), epochs: refit.epochs };
                let full = model::train(&refit, &data, &[], None, &mut tracked)?;
                model::Trained { history: t.history, best_epoch: t.best_epoch, weights: full.weights }
            };
            Ok((t, best, pop))
        })
        .await
        .map_err(|e| ServiceError::NotEnoughData(format!("training stopped: {e}")))??;
        let bytes = onnx::export(&trained.weights)?;
        let model_id = uuid::Uuid::now_v7().to_string();
        let now = Timestamp::now().0;
        let good = val_hr >= pop_hr;
        let info = ModelInfo {
            model_id: model_id.clone(),
            created_at: now,
            kind: "NeuMF".into(),
            status: if good { "ready".into() } else { "rejected".into() },
            users: users.len() as i64,
            items: items.len() as i64,
            interactions: interactions as i64,
            val_hr10: val_hr,
            popularity_val_hr10: pop_hr,
            epochs: trained.history.len() as i64,
            seconds: started.elapsed().as_secs_f64(),
        };
        let mut tx: Tx = self.inner.db.begin().await?;
        sqlx::query("INSERT INTO rec_model (model_id, created_at, kind, status, metrics, users, items, onnx) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&model_id)
            .bind(now)
            .bind("NeuMF")
            .bind(&info.status)
            .bind(serde_json::to_string(&info).unwrap_or_default())
            .bind(serde_json::to_string(&users).unwrap_or_default())
            .bind(serde_json::to_string(&items).unwrap_or_default())
            .bind(bytes)
            .execute(&mut *tx)
            .await?;
        kernel::outbox::append(&mut tx, &kernel::outbox::Envelope::new("recommend.ModelTrained", model_id.clone(), serde_json::json!({ "model_id": model_id, "status": info.status, "val_hr10": val_hr }))).await?;
        tx.commit().await?;
        if good {
            self.load(&model_id).await?;
        }
        Ok(info)
    }

    /// The stored models, newest first.
    pub async fn models(&self, limit: i64) -> Result<Vec<ModelInfo>, ServiceError> {
        let rows = sqlx::query("SELECT metrics FROM rec_model ORDER BY created_at DESC, model_id DESC LIMIT $1").bind(limit).fetch_all(self.inner.db.reader()).await?;
        Ok(rows.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).filter_map(|m| serde_json::from_str(&m).ok()).collect())
    }
}

fn zscore(v: &[f32]) -> Vec<f32> {
    if v.is_empty() {
        return Vec::new();
    }
    let n = v.len() as f32;
    let mean = v.iter().sum::<f32>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n).sqrt().max(1e-6);
    v.iter().map(|x| (x - mean) / sd).collect()
}

/// `recommend.signals`: views, cart additions, purchases and custom requests of signed-in people
/// become (person, listing) counts in `rec_signal`.
pub struct SignalsConsumer;

impl Consumer for SignalsConsumer {
    fn name(&self) -> &'static str {
        "recommend.signals"
    }

    fn subscribes_to(&self) -> Vec<&'static str> {
        vec!["catalog.ProductsViewed", "orders.CartItemAdded", "orders.OrderPaid", "customization.CustomizationRequested"]
    }

    fn handle<'a>(&'a self, event: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let p = &event.payload;
            let at = event.occurred_at.0;
            let mut add: Vec<(String, String, &str, i64)> = Vec::new();
            match event.event_type.as_str() {
                "catalog.ProductsViewed" => {
                    for v in p["views"].as_array().into_iter().flatten() {
                        let (Some(viewer), Some(product)) = (v["viewer"].as_str(), v["product_id"].as_str()) else { continue };
                        if viewer != "anonymous" && !viewer.is_empty() {
                            add.push((subject_of_user(viewer), product.to_owned(), "views", v["count"].as_i64().unwrap_or(1).max(1)));
                        }
                    }
                }
                "orders.CartItemAdded" => {
                    if let (Some(u), Some(product)) = (p["user_id"].as_str(), p["product_id"].as_str()) {
                        add.push((subject_of_user(u), product.to_owned(), "carts", 1));
                    }
                }
                "orders.OrderPaid" => {
                    if let Some(u) = p["customer_id"].as_str() {
                        for id in p["product_ids"].as_array().into_iter().flatten().filter_map(|x| x.as_str()) {
                            add.push((subject_of_user(u), id.to_owned(), "purchases", 1));
                        }
                    }
                }
                "customization.CustomizationRequested" => {
                    if let (Some(u), Some(product)) = (p["customer_id"].as_str(), p["product_id"].as_str()) {
                        add.push((subject_of_user(u), product.to_owned(), "customs", 1));
                    }
                }
                _ => {}
            }
            for (subject, product, column, n) in add {
                // the column name comes from the match above, never from the payload
                let sql = format!(
                    "INSERT INTO rec_signal (subject, product_id, views, carts, purchases, customs, last_at) VALUES ($1, $2, 0, 0, 0, 0, $3) \
                     ON CONFLICT (subject, product_id) DO UPDATE SET last_at = CASE WHEN rec_signal.last_at > $3 THEN rec_signal.last_at ELSE $3 END"
                );
                sqlx::query(&sql).bind(&subject).bind(&product).bind(at).execute(&mut **tx).await.map_err(|e| e.to_string())?;
                sqlx::query(&format!("UPDATE rec_signal SET {column} = {column} + $1 WHERE subject = $2 AND product_id = $3"))
                    .bind(n)
                    .bind(&subject)
                    .bind(&product)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }
}

/// Erases a deleted person's signals (`accounts.UserDeleted`).
pub struct ErasureConsumer;

impl Consumer for ErasureConsumer {
    fn name(&self) -> &'static str {
        "recommend.erasure"
    }

    fn subscribes_to(&self) -> Vec<&'static str> {
        vec!["accounts.UserDeleted"]
    }

    fn handle<'a>(&'a self, event: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let Some(u) = event.payload["user_id"].as_str() else { return Err("accounts.UserDeleted without user_id".into()) };
            sqlx::query("DELETE FROM rec_signal WHERE subject = $1").bind(subject_of_user(u)).execute(&mut **tx).await.map_err(|e| e.to_string())?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, title: &str, options: &str) -> IndexRow {
        IndexRow {
            product_id: id.into(),
            slug: id.into(),
            title: title.into(),
            description: String::new(),
            attributes: String::new(),
            price_minor: 1000,
            currency: "EUR".into(),
            stock: None,
            rating_sum: 0,
            rating_count: 0,
            view_count: 0,
            sales_count: 0,
            published_at: Some(1),
            recent_activity: 0,
            dealer_id: "d".into(),
            store_name: "S".into(),
            store_slug: "s".into(),
            category_path: "/woodwork/boards".into(),
            option_count: 0,
            thumb_key: None,
            options: options.into(),
        }
    }

    #[test]
    fn options_make_listings_alike() {
        // three boards alike in title and category; two offer the same choices
        let rows = [row("a", "Serving board", "Wood Walnut Cherry Engraving"), row("b", "Serving board", "Wood Walnut Cherry Engraving"), row("c", "Serving board", "")];
        let space = ItemSpace::build(&rows);
        let doc = document(&rows[0]);
        assert!(doc.iter().any(|t| t.starts_with("o:") && t.contains("walnut")), "{doc:?}");
        let (a, b, c) = (space.index["a"], space.index["b"], space.index["c"]);
        assert!(space.vectors.cosine(a, b) > space.vectors.cosine(a, c), "shared options count");
    }
}
