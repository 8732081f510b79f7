//! Reviews: after delivery the customer rates the product and the dealer (1–5) with a text, once
//! per order line, editable for a while. Averages live in the catalogue, which follows
//! `orders.ReviewSaved` (deltas, so an edit does not count twice).

use accounts::Principal;
use kernel::{outbox, Timestamp};
use sqlx::Row;

use crate::{
    domain::{OrderStatus, ReviewInput, ReviewView},
    events::ReviewSaved,
    service::{iso, new_id},
    Orders, OrdersError,
};

pub const MAX_REVIEW_CHARS: usize = 2000;

fn stars(field: &str, n: i64) -> Result<i64, OrdersError> {
    if (1..=5).contains(&n) {
        Ok(n)
    } else {
        Err(OrdersError::invalid(field, "give 1 to 5 stars"))
    }
}

fn review_from(r: &sqlx::any::AnyRow, now: i64) -> Result<ReviewView, sqlx::Error> {
    Ok(ReviewView {
        id: r.try_get("review_id")?,
        product_rating: r.try_get("product_rating")?,
        dealer_rating: r.try_get("dealer_rating")?,
        body: r.try_get("body")?,
        author: r.try_get("author_name")?,
        editable: r.try_get::<i64, _>("editable_until")? > now,
        created_at: iso(r.try_get("created_at")?),
        updated_at: iso(r.try_get("updated_at")?),
    })
}

const REVIEW_COLS: &str = "review_id, order_line_id, product_rating, dealer_rating, body, author_name, editable_until, created_at, updated_at";

impl Orders {
    /// Writes the review of one line of a delivered order, or edits it while that is allowed.
    pub async fn save_review(&self, p: &Principal, order_id: &str, line_id: &str, input: &ReviewInput) -> Result<ReviewView, OrdersError> {
        let product_rating = stars("product_rating", input.product_rating)?;
        let dealer_rating = stars("dealer_rating", input.dealer_rating)?;
        let body = input.body.trim();
        if body.chars().count() > MAX_REVIEW_CHARS {
            return Err(OrdersError::invalid("body", format!("a review is limited to {MAX_REVIEW_CHARS} characters")));
        }
        let me = p.user.id.to_string();
        let row = sqlx::query(
            "SELECT o.status, o.customer_id, o.dealer_id, l.product_id FROM order_line l JOIN customer_order o ON o.order_id = l.order_id \
             WHERE l.order_line_id = $1 AND o.order_id = $2",
        )
        .bind(line_id)
        .bind(order_id)
        .fetch_optional(self.db().reader())
        .await?
        .ok_or(OrdersError::NotFound)?;
        if row.try_get::<String, _>(1)? != me {
            return Err(OrdersError::NotFound);
        }
        let status = OrderStatus::parse(&row.try_get::<String, _>(0)?).unwrap_or(OrderStatus::Placed);
        if !status.reviewable() {
            return Err(OrdersError::Conflict("you can review an order once it has been delivered".into()));
        }
        let dealer_id: String = row.try_get(2)?;
        let product_id: String = row.try_get(3)?;
        let now = Timestamp::now();
        let mut tx = self.db().begin().await?;
        let existing = sqlx::query(&format!("SELECT {REVIEW_COLS} FROM review WHERE order_line_id = $1")).bind(line_id).fetch_optional(&mut *tx).await?;
        let (review_id, ev) = match existing {
            None => {
                let id = new_id();
                let author = display_name(&p.user.display_name);
                let until = now.plus(self.inner.cfg.review_edit_window).0;
                sqlx::query(
                    "INSERT INTO review (review_id, order_line_id, order_id, product_id, dealer_id, customer_id, author_name, product_rating, dealer_rating, body, editable_until, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
                )
                .bind(&id)
                .bind(line_id)
                .bind(order_id)
                .bind(&product_id)
                .bind(&dealer_id)
                .bind(&me)
                .bind(author)
                .bind(product_rating)
                .bind(dealer_rating)
                .bind(body)
                .bind(until)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
                let ev = ReviewSaved { review_id: id.clone(), product_id, dealer_id, count_delta: 1, product_rating_delta: product_rating, dealer_rating_delta: dealer_rating };
                (id, ev)
            }
            Some(r) => {
                let old = review_from(&r, now.0)?;
                if !old.editable {
                    return Err(OrdersError::Conflict("this review can no longer be edited".into()));
                }
                sqlx::query("UPDATE review SET product_rating = $1, dealer_rating = $2, body = $3, updated_at = $4 WHERE review_id = $5")
                    .bind(product_rating)
                    .bind(dealer_rating)
                    .bind(body)
                    .bind(now.0)
                    .bind(&old.id)
                    .execute(&mut *tx)
                    .await?;
                let ev = ReviewSaved {
                    review_id: old.id.clone(),
                    product_id,
                    dealer_id,
                    count_delta: 0,
                    product_rating_delta: product_rating - old.product_rating,
                    dealer_rating_delta: dealer_rating - old.dealer_rating,
                };
                (old.id, ev)
            }
        };
        outbox::append(&mut tx, &outbox::Envelope::of(&ev)).await?;
        tx.commit().await?;
        let r = sqlx::query(&format!("SELECT {REVIEW_COLS} FROM review WHERE review_id = $1")).bind(&review_id).fetch_one(self.db().reader()).await?;
        Ok(review_from(&r, Timestamp::now().0)?)
    }

    pub(crate) async fn reviews_of_order(&self, order_id: &str) -> Result<Vec<(String, ReviewView)>, OrdersError> {
        let now = Timestamp::now().0;
        let rows = sqlx::query(&format!("SELECT {REVIEW_COLS} FROM review WHERE order_id = $1")).bind(order_id).fetch_all(self.db().reader()).await?;
        Ok(rows.iter().map(|r| Ok((r.try_get::<String, _>("order_line_id")?, review_from(r, now)?))).collect::<Result<_, sqlx::Error>>()?)
    }

    /// A product's reviews, newest first.
    pub async fn product_reviews(&self, product_id: &str, limit: i64) -> Result<Vec<ReviewView>, OrdersError> {
        let now = Timestamp::now().0;
        let rows = sqlx::query(&format!("SELECT {REVIEW_COLS} FROM review WHERE product_id = $1 ORDER BY created_at DESC LIMIT $2"))
            .bind(product_id)
            .bind(limit.clamp(1, 100))
            .fetch_all(self.db().reader())
            .await?;
        Ok(rows.iter().map(|r| review_from(r, now).map(|mut v| {
            v.editable = false;
            v
        })).collect::<Result<_, sqlx::Error>>()?)
    }
}

/// "Carmen Díaz" → "Carmen D." (reviews show a first name and an initial).
fn display_name(full: &str) -> String {
    let mut parts = full.split_whitespace();
    match (parts.next(), parts.last()) {
        (Some(first), Some(last)) => format!("{first} {}.", last.chars().next().unwrap_or(' ')),
        (Some(first), None) => first.to_owned(),
        _ => "A customer".to_owned(),
    }
}
