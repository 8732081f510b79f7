//! Product views, counted in memory and written in batches (one transaction and one
//! `catalog.ProductsViewed` event every few seconds), so a page view costs a hash-map update.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use catalog::Catalog;

#[derive(Clone)]
pub struct ViewRecorder {
    pending: Arc<Mutex<HashMap<(String, String), i64>>>,
    catalog: Catalog,
}

/// Above this many distinct (product, viewer) pairs the batch is written at once.
const MAX_PENDING: usize = 10_000;

impl ViewRecorder {
    pub fn new(catalog: Catalog) -> Self {
        Self { pending: Arc::new(Mutex::new(HashMap::new())), catalog }
    }

    /// `viewer`: the user id, or an anonymous session marker.
    pub fn record(&self, product_id: &str, viewer: &str) {
        let full = {
            let Ok(mut p) = self.pending.lock() else { return };
            *p.entry((product_id.to_owned(), viewer.to_owned())).or_default() += 1;
            p.len() >= MAX_PENDING
        };
        if full {
            let me = self.clone();
            tokio::spawn(async move { me.flush().await });
        }
    }

    pub async fn flush(&self) {
        let batch = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return,
        };
        if let Err(e) = self.catalog.record_views(&batch).await {
            tracing::warn!(error = %e, views = batch.len(), "could not record product views");
        }
    }

    pub async fn run(self, stop: Arc<tokio::sync::Notify>) {
        loop {
            tokio::select! {
                _ = stop.notified() => break,
                _ = tokio::time::sleep(Duration::from_secs(5)) => self.flush().await,
            }
        }
    }
}
