//! Starting from snapshots (issue #9's cold start): a running instance saves its search index and
//! item space to the database; the next one loads them, applies what the outbox holds after them,
//! and answers as a rebuilt one would. A damaged snapshot means a rebuild, and the demo seed (which
//! writes without events) drops them.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn hits(index: &search::SearchIndex, text: &str) -> Vec<String> {
    let q = search::SearchQuery::from_text(&search::TextParams { q: text.to_owned(), ..Default::default() }).expect("query");
    index.search(&q).expect("search").hits.into_iter().map(|h| h.slug).collect()
}

async fn services(app: &TestApp) -> (kernel::Db, catalog::Catalog) {
    let db = kernel::Db::connect(&app.database_url).await.expect("db");
    let catalog = catalog::Catalog::new(db.clone(), catalog::LocalDiskStore::new(app.data_dir().join("media")));
    (db, catalog)
}

both_seeded!(a_start_loads_the_snapshots_and_catches_up, 120, |app: TestApp| async move {
    let (db, catalog) = services(&app).await;
    // the running instance saved both after it built them (no snapshot existed after seeding)
    let start = Instant::now();
    loop {
        let search = kernel::snapshot::taken_at(&db, "search").await.expect("read");
        let items = kernel::snapshot::taken_at(&db, "recommend-items").await.expect("read");
        if search.is_some() && items.is_some() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no snapshots saved within 60 s (search {search:?}, items {items:?})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seeded: String = sqlx::query_scalar("SELECT title FROM product WHERE status = 'published' ORDER BY product_id LIMIT 1").fetch_one(db.reader()).await.expect("a seeded listing");
    let seeded_word = seeded.split_whitespace().last().expect("a word").to_lowercase();

    // a listing published after the snapshots were taken
    let dealer = app.approved_dealer("snapshot").await;
    let t = Some(dealer.token.as_str());
    app.put_json("/api/v1/dealer/store", &json!({ "name": "Quokka Works", "location": "Leuven" }), t).await;
    let res = app
        .post_json(
            "/api/v1/dealer/products",
            &json!({ "title": "Quokka walnut bowl", "description": "Turned walnut.", "category": "/woodwork/utensils", "price": "40", "stock": "2" }),
            t,
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let p: Value = res.json().await.expect("json");
    let (id, slug) = (p["id"].as_str().expect("id").to_owned(), p["slug"].as_str().expect("slug").to_owned());
    let res = app.post_json(&format!("/api/v1/dealer/products/{id}/status"), &json!({ "action": "publish" }), t).await;
    assert_eq!(res.status(), StatusCode::OK);

    // a second instance on the same database: from the snapshots, plus the outbox since
    let (index, stats) = search::SearchIndex::start(db.clone(), catalog.clone()).await.expect("search starts");
    assert!(stats.from_snapshot, "the search index was rebuilt, not loaded");
    assert_eq!(index.num_docs(), 121, "120 seeded listings from the snapshot and the new one from the outbox");
    assert!(hits(&index, "quokka").await.contains(&slug), "the listing published after the snapshot is searchable at once");
    assert!(!hits(&index, &seeded_word).await.is_empty(), "seeded listings come from the snapshot ({seeded_word})");
    let rec = recommend::Recommender::start(db.clone(), catalog.clone(), recommend::RecSettings::default()).await.expect("recommendations start");
    assert!(rec.from_snapshot(), "the item space was rebuilt, not loaded");
    assert_eq!(rec.item_count(), 121);
    assert!(!rec.similar(&id, 5, None).is_empty(), "the new listing has a content vector");

    // a damaged snapshot is rebuilt over, not fatal
    sqlx::query("UPDATE state_snapshot SET body = $1").bind(vec![1u8, 2, 3]).execute(db.writer()).await.expect("damage");
    let (index, stats) = search::SearchIndex::start(db.clone(), catalog.clone()).await.expect("search starts over a damaged snapshot");
    assert!(!stats.from_snapshot);
    assert_eq!(index.num_docs(), 121);
    let rec = recommend::Recommender::start(db.clone(), catalog.clone(), recommend::RecSettings::default()).await.expect("recommendations start over a damaged snapshot");
    assert!(!rec.from_snapshot());
    assert_eq!(rec.item_count(), 121);

    // the seed writes listings without events: it drops the snapshots (after the item space the
    // last start rebuilt has been saved again)
    let start = Instant::now();
    while kernel::snapshot::load(&db, "recommend-items").await.expect("read").is_none_or(|s| s.body.len() <= 3) {
        assert!(start.elapsed() < Duration::from_secs(30), "the rebuilt item space was not saved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let accounts = accounts::Accounts::new(db.clone(), accounts::AccountsConfig::default());
    server::seed::catalogue::seed(&accounts, &catalog, 130, 7).await.expect("seed more");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM state_snapshot").fetch_one(db.reader()).await.expect("count");
    assert_eq!(left, 0, "snapshots survive a write that bypassed the outbox");
    db.close().await;
});
