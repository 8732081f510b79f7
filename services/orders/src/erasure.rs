//! `orders.erasure`: when a person erases their account (`accounts.UserDeleted`), their cart goes,
//! their shipping addresses are replaced by a placeholder (sealed like any address), and their
//! reviews lose their name and text (the stars stay in the averages). Orders themselves stay: the
//! dealer's books and the money trail must.

use kernel::{
    events::{BoxFuture, Consumer, StoredEvent},
    Db, Timestamp, Tx,
};

use crate::{domain::Address, protect};

pub const USER_DELETED: &str = "accounts.UserDeleted";

pub struct ErasureConsumer {
    pub db: Db,
}

/// What an erased address reads as.
pub fn erased_address() -> Address {
    Address { name: "Deleted customer".into(), line1: "(erased)".into(), line2: String::new(), city: "(erased)".into(), postal_code: String::new(), country: String::new() }
}

impl Consumer for ErasureConsumer {
    fn name(&self) -> &'static str {
        "orders.erasure"
    }

    fn subscribes_to(&self) -> Vec<&'static str> {
        vec![USER_DELETED]
    }

    fn handle<'a>(&'a self, event: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let Some(user) = event.payload["user_id"].as_str() else { return Err("accounts.UserDeleted without user_id".into()) };
            let db_err = |e: sqlx::Error| format!("database: {e}");
            sqlx::query("DELETE FROM cart_item WHERE owner = $1").bind(crate::CartOwner::User(user.to_owned()).key()).execute(&mut **tx).await.map_err(db_err)?;
            let checkouts: Vec<String> = sqlx::query_scalar("SELECT checkout_id FROM checkout WHERE customer_id = $1")
                .bind(user)
                .fetch_all(&mut **tx)
                .await
                .map_err(db_err)?;
            let erased = erased_address();
            for id in checkouts {
                let sealed = protect(&self.db, &id, &erased).map_err(|e| e.to_string())?;
                sqlx::query("UPDATE checkout SET shipping_address = $1 WHERE checkout_id = $2").bind(sealed).bind(&id).execute(&mut **tx).await.map_err(db_err)?;
            }
            sqlx::query("UPDATE review SET author_name = 'Former customer', body = '', updated_at = $1 WHERE customer_id = $2")
                .bind(Timestamp::now().0)
                .bind(user)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }
}
