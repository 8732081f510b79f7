//! Stock held for orders. The orders service calls these inside its own transaction, so an order and
//! the stock it holds are committed together or not at all. A reservation is keyed by the order id:
//! `held` at checkout, `committed` once paid, `released` (stock given back, exactly once) when the
//! payment fails or expires, or the order is declined, cancelled or refunded.
//!
//! Overselling is impossible on both databases: the decrement is one conditional `UPDATE … WHERE
//! stock >= quantity`; PostgreSQL's row lock makes concurrent checkouts of the last item queue behind
//! each other and re-check the condition, SQLite has a single writer.

use kernel::{
    events::{BoxFuture, Consumer, StoredEvent},
    outbox, Timestamp, Tx,
};
use sqlx::Row;

use crate::{db, events::StockChanged, CatalogError};

#[derive(Debug, Clone)]
pub struct StockItem {
    pub product_id: String,
    pub quantity: i64,
}

/// Holds `items` for `reservation_id`. Fails with [`CatalogError::OutOfStock`] naming the first
/// product that has too little; the caller's transaction must then be rolled back.
pub async fn reserve(tx: &mut Tx, reservation_id: &str, items: &[StockItem]) -> Result<(), CatalogError> {
    // the same order everywhere: two checkouts of the same products cannot deadlock
    let mut merged: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for i in items {
        *merged.entry(i.product_id.as_str()).or_default() += i.quantity;
    }
    let now = Timestamp::now().0;
    for (product_id, quantity) in merged {
        let left: Option<i64> = sqlx::query_scalar(
            "UPDATE product SET stock = stock - $1, updated_at = $2 WHERE product_id = $3 AND stock IS NOT NULL AND stock >= $1 RETURNING stock",
        )
        .bind(quantity)
        .bind(now)
        .bind(product_id)
        .fetch_optional(&mut **tx)
        .await?;
        let counted = match left {
            Some(stock) => {
                outbox::append(tx, &outbox::Envelope::of(&StockChanged { product_id: product_id.to_owned(), stock: Some(stock) })).await?;
                1
            }
            None => {
                let row = sqlx::query("SELECT stock, title FROM product WHERE product_id = $1").bind(product_id).fetch_optional(&mut **tx).await?;
                let Some(row) = row else { return Err(CatalogError::NotFound) };
                let stock: Option<i64> = row.try_get(0)?;
                match stock {
                    None => 0, // made to order: nothing to hold
                    Some(available) => {
                        return Err(CatalogError::OutOfStock { product_id: product_id.to_owned(), title: row.try_get(1)?, available })
                    }
                }
            }
        };
        sqlx::query(
            "INSERT INTO stock_reservation (reservation_id, product_id, quantity, counted, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'held', $5, $5)",
        )
        .bind(reservation_id)
        .bind(product_id)
        .bind(quantity)
        .bind(counted)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The held stock was paid for: it is sold (counted in sales and popularity). Idempotent; returns how
/// many products changed state.
pub async fn commit(tx: &mut Tx, reservation_id: &str) -> Result<usize, CatalogError> {
    let now = Timestamp::now();
    let rows = sqlx::query(
        "UPDATE stock_reservation SET status = 'committed', updated_at = $1 WHERE reservation_id = $2 AND status = 'held' RETURNING product_id, quantity",
    )
    .bind(now.0)
    .bind(reservation_id)
    .fetch_all(&mut **tx)
    .await?;
    for r in &rows {
        let product_id: String = r.try_get(0)?;
        let quantity: i64 = r.try_get(1)?;
        sqlx::query("UPDATE product SET sales_count = sales_count + $1 WHERE product_id = $2").bind(quantity).bind(&product_id).execute(&mut **tx).await?;
        db::add_activity(tx, &product_id, db::day_of(now), 0, quantity).await?;
    }
    Ok(rows.len())
}

/// Gives the stock of `reservation_id` back (held or sold). Idempotent: a second call finds nothing
/// to release. Returns how many products got stock back.
pub async fn release(tx: &mut Tx, reservation_id: &str) -> Result<usize, CatalogError> {
    let now = Timestamp::now().0;
    let rows = sqlx::query(
        "UPDATE stock_reservation SET status = 'released', updated_at = $1 WHERE reservation_id = $2 AND status IN ('held', 'committed') \
         RETURNING product_id, quantity, counted",
    )
    .bind(now)
    .bind(reservation_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut n = 0;
    for r in &rows {
        let counted: i64 = r.try_get(2)?;
        if counted == 0 {
            continue;
        }
        let product_id: String = r.try_get(0)?;
        let quantity: i64 = r.try_get(1)?;
        let stock: Option<Option<i64>> = sqlx::query_scalar("UPDATE product SET stock = stock + $1, updated_at = $2 WHERE product_id = $3 RETURNING stock")
            .bind(quantity)
            .bind(now)
            .bind(&product_id)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(stock) = stock {
            outbox::append(tx, &outbox::Envelope::of(&StockChanged { product_id, stock })).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// Applies review ratings to products and stores (`orders.ReviewSaved`: deltas, so an edit moves
/// the average without counting twice), then tells search.
pub struct RatingsConsumer;

pub const REVIEW_SAVED: &str = "orders.ReviewSaved";

impl Consumer for RatingsConsumer {
    fn name(&self) -> &'static str {
        "catalog.ratings"
    }

    fn subscribes_to(&self) -> Vec<&'static str> {
        vec![REVIEW_SAVED]
    }

    fn handle<'a>(&'a self, event: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let p = &event.payload;
            let (Some(product_id), Some(dealer_id)) = (p["product_id"].as_str(), p["dealer_id"].as_str()) else {
                return Err("orders.ReviewSaved without product_id or dealer_id".into());
            };
            let n = p["count_delta"].as_i64().unwrap_or(0);
            let ps = p["product_rating_delta"].as_i64().unwrap_or(0);
            let ds = p["dealer_rating_delta"].as_i64().unwrap_or(0);
            apply_rating(tx, product_id, dealer_id, n, ps, ds).await.map_err(|e| e.to_string())
        })
    }
}

async fn apply_rating(tx: &mut Tx, product_id: &str, dealer_id: &str, n: i64, product_delta: i64, dealer_delta: i64) -> Result<(), sqlx::Error> {
    let now = Timestamp::now().0;
    let row = sqlx::query(
        "UPDATE product SET rating_sum = rating_sum + $1, rating_count = rating_count + $2, updated_at = $3 WHERE product_id = $4 RETURNING rating_sum, rating_count",
    )
    .bind(product_delta)
    .bind(n)
    .bind(now)
    .bind(product_id)
    .fetch_optional(&mut **tx)
    .await?;
    sqlx::query("UPDATE store SET rating_sum = rating_sum + $1, rating_count = rating_count + $2, updated_at = $3 WHERE dealer_id = $4")
        .bind(dealer_delta)
        .bind(n)
        .bind(now)
        .bind(dealer_id)
        .execute(&mut **tx)
        .await?;
    if let Some(r) = row {
        let sum: i64 = r.try_get(0)?;
        let count: i64 = r.try_get(1)?;
        let ev = crate::events::ProductRated {
            product_id: product_id.to_owned(),
            rating_avg: (count > 0).then(|| sum as f64 / count as f64),
            rating_count: count,
        };
        outbox::append(tx, &outbox::Envelope::of(&ev)).await?;
    }
    Ok(())
}

/// `catalog.erasure`: an erased dealer's listings are archived (out of search and the storefront)
/// and their store is closed; the listings stay for the orders that name them.
pub struct ErasureConsumer;

impl Consumer for ErasureConsumer {
    fn name(&self) -> &'static str {
        "catalog.erasure"
    }

    fn subscribes_to(&self) -> Vec<&'static str> {
        vec!["accounts.UserDeleted"]
    }

    fn handle<'a>(&'a self, event: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let Some(user) = event.payload["user_id"].as_str() else { return Err("accounts.UserDeleted without user_id".into()) };
            let ids: Vec<String> = sqlx::query_scalar("SELECT product_id FROM product WHERE dealer_id = $1 AND status <> 'archived'")
                .bind(user)
                .fetch_all(&mut **tx)
                .await
                .map_err(|e| e.to_string())?;
            let now = Timestamp::now().0;
            for id in ids {
                sqlx::query("UPDATE product SET status = 'archived', version = version + 1, updated_at = $1 WHERE product_id = $2")
                    .bind(now)
                    .bind(&id)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| e.to_string())?;
                outbox::append(tx, &crate::events::ProductChange::Archived.envelope(&id, user)).await.map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }
}
