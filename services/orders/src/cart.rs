//! Carts: a signed-in customer's (`u:<id>`) or a guest's (`g:<token>`), merged at sign-in. Only
//! product, options and quantity are stored; prices and availability are recomputed from the
//! catalogue every time the cart is read.

use std::collections::BTreeMap;

use catalog::{OptionKind, Product, ProductStatus, Selection};
use kernel::{Money, Timestamp};
use sqlx::Row;

use crate::{
    domain::{CartAdd, CartGroup, CartLine, CartView},
    service::new_id,
    Orders, OrdersError,
};

pub const MAX_QUANTITY: i64 = 99;
const MAX_LINES: i64 = 100;

/// Whose cart: a signed-in person or a guest's cart token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartOwner {
    User(String),
    Guest(String),
}

impl CartOwner {
    pub fn key(&self) -> String {
        match self {
            CartOwner::User(id) => format!("u:{id}"),
            CartOwner::Guest(t) => format!("g:{t}"),
        }
    }
}

/// A fresh guest cart token (128 random bits, hex).
pub fn new_guest_token() -> String {
    kernel::ids::random_hex(16)
}

pub fn valid_guest_token(t: &str) -> bool {
    t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit())
}

pub(crate) fn selections_key(sel: &[Selection]) -> String {
    let mut s: Vec<(String, String)> = sel.iter().map(|s| (s.option_id.clone(), s.value.clone())).collect();
    s.sort();
    serde_json::to_string(&s).unwrap_or_default()
}

/// "Size: Large; Engraving: Ada" — the options as the customer chose them.
pub(crate) fn options_label(p: &Product, sel: &[Selection]) -> String {
    let mut parts = Vec::new();
    for o in &p.options {
        let Some(s) = sel.iter().find(|s| s.option_id == o.id) else { continue };
        let v = match o.kind {
            OptionKind::Choice => o.values.iter().find(|v| v.id == s.value).map(|v| v.label.clone()).unwrap_or_default(),
            OptionKind::Text => s.value.clone(),
        };
        if !v.is_empty() {
            parts.push(format!("{}: {v}", o.name));
        }
    }
    parts.join("; ")
}

fn check_quantity(q: i64) -> Result<i64, OrdersError> {
    if !(1..=MAX_QUANTITY).contains(&q) {
        return Err(OrdersError::invalid("quantity", format!("choose a quantity from 1 to {MAX_QUANTITY}")));
    }
    Ok(q)
}

/// One stored cart line, priced against the catalogue as it is now.
pub(crate) struct PricedLine {
    pub id: String,
    /// From an accepted quote: (quote id, thread id, agreed specification); the price is the quote's.
    pub quote: Option<(String, String, String)>,
    pub product: Product,
    pub selections: Vec<Selection>,
    pub quantity: i64,
    pub unit: Option<Money>,
    pub problem: Option<String>,
}

impl Orders {
    pub async fn add_to_cart(&self, owner: &CartOwner, input: &CartAdd) -> Result<CartView, OrdersError> {
        let quantity = check_quantity(input.quantity)?;
        let product = self.inner.catalog.product(&input.product).await.map_err(|e| match e {
            catalog::CatalogError::NotFound => OrdersError::invalid("product", "no such product"),
            other => other.into(),
        })?;
        if product.status != ProductStatus::Published {
            return Err(OrdersError::invalid("product", "this product is not for sale"));
        }
        if let CartOwner::User(id) = owner {
            if *id == product.store.dealer_id {
                return Err(OrdersError::invalid("product", "you cannot buy from your own store"));
            }
        }
        product.price_for(&input.options)?;
        let key = owner.key();
        let skey = selections_key(&input.options);
        let existing: Option<i64> = sqlx::query_scalar("SELECT quantity FROM cart_item WHERE owner = $1 AND product_id = $2 AND selections_key = $3")
            .bind(&key)
            .bind(&product.id)
            .bind(&skey)
            .fetch_optional(self.db().reader())
            .await?;
        let total = existing.unwrap_or(0) + quantity;
        if total > MAX_QUANTITY {
            return Err(OrdersError::invalid("quantity", format!("at most {MAX_QUANTITY} of one item per order")));
        }
        if let Some(stock) = product.stock {
            if total > stock {
                return Err(OrdersError::OutOfStock { product_id: product.id.clone(), title: product.title.clone(), available: stock });
            }
        }
        let lines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cart_item WHERE owner = $1").bind(&key).fetch_one(self.db().reader()).await?;
        if existing.is_none() && lines >= MAX_LINES {
            return Err(OrdersError::invalid("product", format!("a cart holds at most {MAX_LINES} different items")));
        }
        let now = Timestamp::now().0;
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "INSERT INTO cart_item (cart_item_id, owner, product_id, selections, selections_key, quantity, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (owner, product_id, selections_key) DO UPDATE SET quantity = cart_item.quantity + $6, updated_at = $7",
        )
        .bind(new_id())
        .bind(&key)
        .bind(&product.id)
        .bind(serde_json::to_string(&input.options).unwrap_or_default())
        .bind(&skey)
        .bind(quantity)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // a signal for recommendations (signed-in people only: a guest has no lasting identity)
        if let CartOwner::User(id) = owner {
            let ev = kernel::outbox::Envelope::new("orders.CartItemAdded", product.id.clone(), serde_json::json!({ "user_id": id.to_string(), "product_id": product.id, "quantity": quantity }));
            kernel::outbox::append(&mut tx, &ev).await?;
        }
        tx.commit().await?;
        self.cart(owner).await
    }

    pub async fn set_cart_quantity(&self, owner: &CartOwner, item_id: &str, quantity: i64) -> Result<CartView, OrdersError> {
        let quantity = check_quantity(quantity)?;
        let n = sqlx::query("UPDATE cart_item SET quantity = $1, updated_at = $2 WHERE cart_item_id = $3 AND owner = $4 AND quote_id IS NULL")
            .bind(quantity)
            .bind(Timestamp::now().0)
            .bind(item_id)
            .bind(owner.key())
            .execute(self.db().writer())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(OrdersError::NotFound);
        }
        self.cart(owner).await
    }

    pub async fn remove_from_cart(&self, owner: &CartOwner, item_id: &str) -> Result<CartView, OrdersError> {
        let n = sqlx::query("DELETE FROM cart_item WHERE cart_item_id = $1 AND owner = $2")
            .bind(item_id)
            .bind(owner.key())
            .execute(self.db().writer())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(OrdersError::NotFound);
        }
        self.cart(owner).await
    }

    /// Moves a guest's cart into the signed-in person's (quantities add up, capped). Idempotent.
    pub async fn merge_guest_cart(&self, guest_token: &str, user_id: &str) -> Result<usize, OrdersError> {
        if !valid_guest_token(guest_token) {
            return Ok(0);
        }
        let guest = CartOwner::Guest(guest_token.to_owned()).key();
        let user = CartOwner::User(user_id.to_owned()).key();
        // most requests carry a cookie of an empty (or already merged) cart: no write transaction then
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cart_item WHERE owner = $1").bind(&guest).fetch_one(self.db().reader()).await?;
        if pending == 0 {
            return Ok(0);
        }
        let mut tx = self.db().begin().await?;
        let rows = sqlx::query("SELECT product_id, selections, selections_key, quantity FROM cart_item WHERE owner = $1")
            .bind(&guest)
            .fetch_all(&mut *tx)
            .await?;
        let now = Timestamp::now().0;
        for r in &rows {
            sqlx::query(
                "INSERT INTO cart_item (cart_item_id, owner, product_id, selections, selections_key, quantity, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (owner, product_id, selections_key) DO UPDATE SET quantity = \
                 CASE WHEN cart_item.quantity + $6 > $8 THEN $8 ELSE cart_item.quantity + $6 END, updated_at = $7",
            )
            .bind(new_id())
            .bind(&user)
            .bind(r.try_get::<String, _>(0)?)
            .bind(r.try_get::<String, _>(1)?)
            .bind(r.try_get::<String, _>(2)?)
            .bind(r.try_get::<i64, _>(3)?)
            .bind(now)
            .bind(MAX_QUANTITY)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM cart_item WHERE owner = $1").bind(&guest).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Puts the piece of an accepted quote into the customer's cart at the quoted price (once per
    /// quote; the price comes from the quote, never from a client). Called by the customization service.
    pub async fn add_quoted_line(&self, customer_id: &str, product_id: &str, quote_id: &str, thread_id: &str, price_minor: i64, spec: &str) -> Result<(), OrdersError> {
        let now = Timestamp::now().0;
        sqlx::query(
            "INSERT INTO cart_item (cart_item_id, owner, product_id, selections, selections_key, quantity, quote_id, quoted_price_minor, quoted_spec, thread_id, created_at, updated_at) \
             VALUES ($1, $2, $3, '[]', $4, 1, $5, $6, $7, $8, $9, $9) ON CONFLICT (owner, product_id, selections_key) DO NOTHING",
        )
        .bind(new_id())
        .bind(CartOwner::User(customer_id.to_owned()).key())
        .bind(product_id)
        .bind(format!("quote:{quote_id}"))
        .bind(quote_id)
        .bind(price_minor)
        .bind(spec.chars().take(500).collect::<String>())
        .bind(thread_id)
        .bind(now)
        .execute(self.db().writer())
        .await?;
        Ok(())
    }

    pub async fn cart_count(&self, owner: &CartOwner) -> Result<i64, OrdersError> {
        let n: Option<i64> = sqlx::query_scalar("SELECT CAST(SUM(quantity) AS BIGINT) FROM cart_item WHERE owner = $1")
            .bind(owner.key())
            .fetch_one(self.db().reader())
            .await?;
        Ok(n.unwrap_or(0))
    }

    /// The stored lines priced against the catalogue now.
    pub(crate) async fn priced_lines(&self, owner: &CartOwner) -> Result<Vec<PricedLine>, OrdersError> {
        let rows = sqlx::query(
            "SELECT cart_item_id, product_id, selections, quantity, quote_id, quoted_price_minor, quoted_spec, thread_id FROM cart_item \
             WHERE owner = $1 ORDER BY created_at, cart_item_id",
        )
            .bind(owner.key())
            .fetch_all(self.db().reader())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let product_id: String = r.try_get(1)?;
            let product = match self.inner.catalog.product(&product_id).await {
                Ok(p) => p,
                Err(catalog::CatalogError::NotFound) => continue,
                Err(e) => return Err(e.into()),
            };
            let selections: Vec<Selection> = serde_json::from_str(&r.try_get::<String, _>(2)?).unwrap_or_default();
            let quantity: i64 = r.try_get(3)?;
            let quote_id: Option<String> = r.try_get(4)?;
            let quoted: Option<i64> = r.try_get(5)?;
            let quote = match (quote_id, quoted) {
                (Some(q), Some(_)) => Some((q, r.try_get::<Option<String>, _>(7)?.unwrap_or_default(), r.try_get::<Option<String>, _>(6)?.unwrap_or_default())),
                _ => None,
            };
            let (unit, mut problem) = match (quoted, product.price_for(&selections)) {
                // the agreed price of an accepted quote, set by the server when the quote was accepted
                (Some(minor), _) if quote.is_some() => (Some(Money::new(minor, product.price.currency)), None),
                (_, Ok(m)) => (Some(m), None),
                (_, Err(_)) => (None, Some("the options of this item changed: remove it and add it again".to_owned())),
            };
            // a quoted piece may be on the store's unlisted commission listing (a request from the store page)
            let for_sale = product.status == ProductStatus::Published || (quote.is_some() && product.status == ProductStatus::Unlisted);
            if !for_sale {
                problem = Some("no longer for sale".into());
            } else if let Some(stock) = product.stock.filter(|s| *s < quantity && quote.is_none()) {
                // (a quoted piece is made to order: the listing's stock does not limit it)
                problem = Some(if stock == 0 { "out of stock".into() } else { format!("only {stock} left") });
            }
            out.push(PricedLine { id: r.try_get(0)?, quote, product, selections, quantity, unit, problem });
        }
        Ok(out)
    }

    pub async fn cart(&self, owner: &CartOwner) -> Result<CartView, OrdersError> {
        let lines = self.priced_lines(owner).await?;
        let mut groups: BTreeMap<String, CartGroup> = BTreeMap::new();
        let mut currencies: Vec<kernel::Currency> = Vec::new();
        let mut total_minor = 0i64;
        let mut item_count = 0;
        let mut any_problem = false;
        for l in &lines {
            let currency = l.product.price.currency;
            if !currencies.contains(&currency) {
                currencies.push(currency);
            }
            let unit = l.unit.unwrap_or(l.product.price);
            let line_total = Money::new(unit.minor * l.quantity, currency);
            if l.problem.is_none() {
                total_minor += line_total.minor;
            } else {
                any_problem = true;
            }
            item_count += l.quantity;
            let g = groups.entry(l.product.store.dealer_id.clone()).or_insert_with(|| CartGroup {
                dealer_id: l.product.store.dealer_id.clone(),
                store_name: l.product.store.name.clone(),
                store_slug: l.product.store.slug.clone(),
                lines: Vec::new(),
                subtotal: Money::new(0, currency).into(),
            });
            if l.problem.is_none() {
                g.subtotal = Money::new(g.subtotal.minor + line_total.minor, currency).into();
            }
            g.lines.push(CartLine {
                id: l.id.clone(),
                product_id: l.product.id.clone(),
                product_slug: l.product.slug.clone(),
                title: l.product.title.clone(),
                thumb_url: l.product.images.first().map(|i| i.thumb_url.clone()),
                options_label: match &l.quote {
                    Some((_, _, spec)) => format!("Custom (agreed quote): {spec}"),
                    None => options_label(&l.product, &l.selections),
                },
                options: l.selections.clone(),
                quantity: l.quantity,
                unit_price: unit.into(),
                line_total: line_total.into(),
                stock: l.product.stock,
                problem: l.problem.clone(),
            });
        }
        let mixed = currencies.len() > 1;
        let problem = if mixed {
            Some(format!(
                "your cart mixes currencies ({}): check out one currency at a time",
                currencies.iter().map(|c| c.code()).collect::<Vec<_>>().join(", ")
            ))
        } else if any_problem {
            Some("some items cannot be bought as they are: see below".into())
        } else {
            None
        };
        Ok(CartView {
            total: currencies.first().map(|c| Money::new(total_minor, *c).into()),
            can_check_out: !lines.is_empty() && !mixed && !any_problem,
            groups: groups.into_values().collect(),
            item_count,
            problem,
        })
    }
}
