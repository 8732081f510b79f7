//! Recommendation latency at 100,000 products, server-side (in process, the code the API calls):
//! candidate generation (content neighbours of the person's anchors + popularity), batched tract
//! scoring of NeuMF, re-ranking and filtering. Signals for `--users` people are generated into
//! `rec_signal` (each person views twelve listings among the 300-listing head of one category, buys
//! two; a thirteenth is held out for the personalised-search replay), a model is trained on
//! them with the service's own training, and requests are timed for people the model knows, for
//! anonymous sessions with recent views, and for someone new (popularity only: the baseline).
//!
//! `cargo build --release -p server -p bench && ./target/release/recommend --products 100000 [--users 5000] [--requests 3000]`
//! Seeds (or reuses) the same SQLite database as the search benchmark.

use std::time::{Duration, Instant};

use bench::{arg, ms, percentile};
use kernel::Db;
use sqlx::Row;

fn table(name: &str, mut t: Vec<Duration>) -> String {
    t.sort();
    format!(
        "| {name} | {} | {} | {} | {} | {} |",
        t.len(),
        ms(percentile(&t, 0.50)),
        ms(percentile(&t, 0.95)),
        ms(percentile(&t, 0.99)),
        ms(*t.last().unwrap_or(&Duration::ZERO))
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let products: usize = arg("--products").and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let users: usize = arg("--users").and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let requests: usize = arg("--requests").and_then(|v| v.parse().ok()).unwrap_or(3_000);
    let (dir, url) = bench::seeded_sqlite(products, None)?;
    let db = Db::connect(&url).await?;

    // the signals: each person views twelve listings of one leaf category and buys two of them
    let rows = sqlx::query("SELECT p.product_id, c.path FROM product p JOIN category c ON c.category_id = p.category_id WHERE p.status = 'published' ORDER BY p.product_id")
        .fetch_all(db.reader())
        .await?;
    let mut by_cat: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in rows {
        by_cat.entry(r.try_get(1)?).or_default().push(r.try_get(0)?);
    }
    let cats: Vec<Vec<String>> = by_cat.into_values().filter(|v| v.len() >= 50).collect();
    sqlx::query("DELETE FROM rec_signal").execute(db.writer()).await?;
    sqlx::query("DELETE FROM rec_model").execute(db.writer()).await?;
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut histories: Vec<Vec<String>> = Vec::with_capacity(users);
    let t = Instant::now();
    for chunk in (0..users).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.begin().await?;
        for &u in chunk {
            let cat = &cats[u % cats.len()];
            let mut seen = Vec::new();
            while seen.len() < 13 {
                // popular listings of the category are chosen more often (the square of a uniform draw)
                let r = (next() % 1_000_000) as f64 / 1_000_000.0;
                // most attention goes to a category's head: its 300 best-placed listings (a model
                // learns nothing about listings nobody looked at; content covers those)
                let head = cat.len().min(300);
                let id = cat[((r * r) * head as f64) as usize % head].clone();
                if !seen.contains(&id) {
                    seen.push(id);
                }
            }
            // the 13th is held out: the listing this person goes on to look for (personalised search)
            for (k, id) in seen.iter().take(12).enumerate() {
                sqlx::query("INSERT INTO rec_signal (subject, product_id, views, carts, purchases, customs, last_at) VALUES ($1, $2, $3, 0, $4, 0, $5)")
                    .bind(format!("u:bench-{u}"))
                    .bind(id)
                    .bind(1 + (k % 3) as i64)
                    .bind(i64::from(k < 2))
                    .bind(1_000_000 + k as i64)
                    .execute(&mut *tx)
                    .await?;
            }
            histories.push(seen);
        }
        tx.commit().await?;
    }
    eprintln!("{} signals for {users} people in {:.1} s", users * 12, t.elapsed().as_secs_f64());

    let catalog = catalog::Catalog::new(db.clone(), catalog::LocalDiskStore::new(dir.join("media")));
    let t = Instant::now();
    let rec = recommend::Recommender::start(db.clone(), catalog, recommend::RecSettings::default()).await?;
    let space_build = t.elapsed();
    let t = Instant::now();
    let model = rec.train(Box::new(recommend::model::Bar::new("NeuMF", 15))).await?;
    let train_time = t.elapsed();
    eprintln!("model {} {}: validation HR@10 {:.4} (popularity {:.4})", model.model_id, model.status, model.val_hr10, model.popularity_val_hr10);

    // warm-up, then the timed requests
    for u in 0..200 {
        rec.for_person(Some(&format!("bench-{u}")), &[], 12).await?;
    }
    let (mut known, mut anon, mut fresh) = (Vec::new(), Vec::new(), Vec::new());
    let mut empty = 0usize;
    for i in 0..requests {
        let u = (next() as usize) % users;
        let recent = vec![histories[u][(i * 7) % 12].clone()];
        let t = Instant::now();
        let r = rec.for_person(Some(&format!("bench-{u}")), &recent, 12).await?;
        known.push(t.elapsed());
        empty += usize::from(r.is_empty());
        let recent: Vec<String> = histories[(u + 1) % users][..3].to_vec();
        let t = Instant::now();
        rec.for_person(None, &recent, 12).await?;
        anon.push(t.elapsed());
        let t = Instant::now();
        rec.for_person(None, &[], 12).await?;
        fresh.push(t.elapsed());
    }
    println!("## Recommendations at {products} products\n");
    println!("| figure | value |\n|---|---|");
    println!("| item space (content vectors of every published listing) built at start | {:.2} s |", space_build.as_secs_f64());
    println!("| training (NeuMF, {} people, {} listings, {} interactions, {} epochs) | {:.1} s |", model.users, model.items, model.interactions, model.epochs, train_time.as_secs_f64());
    println!("| validation HR@10 of the model / of popularity | {:.4} / {:.4} |", model.val_hr10, model.popularity_val_hr10);
    println!("| requests with an empty answer | {empty} |\n");
    println!("| request (12 suggestions) | n | p50 | p95 | p99 | max |\n|---|---|---|---|---|---|");
    println!("{}", table("signed-in person the model knows (history + 1 recent view; tract scoring)", known));
    println!("{}", table("anonymous session with 3 recent views (content)", anon));
    println!("{}", table("someone new (popularity only: the baseline)", fresh));

    // Personalised search, replayed: each person searches for the noun of the listing they went on
    // to want (held out of the signals); where does that listing rank with and without re-ranking?
    let catalog = catalog::Catalog::new(db.clone(), catalog::LocalDiskStore::new(dir.join("media")));
    let (index, _) = search::SearchIndex::build(db.clone(), catalog).await?;
    let (mut found_off, mut found_on, mut rr_off, mut rr_on, mut hit_off, mut hit_on, mut reranked, mut asked) = (0usize, 0usize, 0.0f64, 0.0f64, 0usize, 0usize, 0usize, 0usize);
    let mut rerank_time = Vec::new();
    let titles: std::collections::HashMap<String, String> = sqlx::query("SELECT product_id, title FROM product").fetch_all(db.reader()).await?.into_iter().filter_map(|r| Some((r.try_get(0).ok()?, r.try_get(1).ok()?))).collect();
    for (u, h) in histories.iter().enumerate().take(users.min(2_000)) {
        let target = &h[12];
        let Some(word) = titles.get(target).and_then(|t| t.split_whitespace().last()).map(str::to_lowercase) else { continue };
        let q = search::SearchQuery { q: word, per_page: 48, ..Default::default() };
        let res = index.search(&q)?;
        let mut pairs: Vec<(String, f32)> = res.hits.iter().map(|h| (h.product_id.clone(), h.score)).collect();
        let off = pairs.iter().position(|p| &p.0 == target);
        let t = Instant::now();
        reranked += usize::from(rec.rerank(&format!("bench-{u}"), &mut pairs));
        rerank_time.push(t.elapsed());
        let on = pairs.iter().position(|p| &p.0 == target);
        asked += 1;
        for (pos, found, rr, hit) in [(off, &mut found_off, &mut rr_off, &mut hit_off), (on, &mut found_on, &mut rr_on, &mut hit_on)] {
            if let Some(k) = pos {
                *found += 1;
                *rr += 1.0 / (k + 1) as f64;
                *hit += usize::from(k < 10);
            }
        }
    }
    let n = asked.max(1) as f64;
    println!("\n## Personalised search, replayed ({asked} people, each searching for the noun of a listing held out of their signals; first 48 results)\n");
    println!("| ranking | held-out listing in the first 10 | MRR@48 | in the first 48 |\n|---|---|---|---|");
    println!("| the engine's (BM25) | {:.1} % | {:.4} | {:.1} % |", 100.0 * hit_off as f64 / n, rr_off / n, 100.0 * found_off as f64 / n);
    println!("| personalised (runs within 10 % of BM25 re-ordered by NeuMF) | {:.1} % | {:.4} | {:.1} % |", 100.0 * hit_on as f64 / n, rr_on / n, 100.0 * found_on as f64 / n);
    println!("\nre-ranked: {reranked} of {asked} result lists; MRR ratio {:.2}×; {}", if rr_off > 0.0 { rr_on / rr_off } else { 0.0 }, table("re-ranking 48 results (tract scoring)", rerank_time).replace('|', " "));
    Ok(())
}
