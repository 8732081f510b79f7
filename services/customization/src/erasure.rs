//! `customization.erasure`: when a person erases their account (`accounts.UserDeleted`), the text
//! they wrote in requests and messages is replaced by a placeholder (sealed like any message), their
//! reference images are deleted, and their open requests are declined. The other side keeps the
//! thread, quotes and prices: the order trail must stand.

use std::sync::Arc;

use catalog::ImageStore;
use kernel::{
    crypto::Vault,
    events::{BoxFuture, Consumer, StoredEvent},
    Db, Timestamp, Tx,
};

pub struct ErasureConsumer {
    pub db: Db,
    pub files: Arc<dyn ImageStore>,
}

const ERASED: &str = "[deleted by its author]";

impl ErasureConsumer {
    fn vault(&self) -> Result<&Vault, String> {
        self.db.vault().map_err(|e| e.to_string())
    }
}

impl Consumer for ErasureConsumer {
    fn name(&self) -> &'static str {
        "customization.erasure"
    }

    fn subscribes_to(&self) -> Vec<&'static str> {
        vec!["accounts.UserDeleted"]
    }

    fn handle<'a>(&'a self, event: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let Some(user) = event.payload["user_id"].as_str() else { return Err("accounts.UserDeleted without user_id".into()) };
            let db_err = |e: sqlx::Error| format!("database: {e}");
            let vault = self.vault()?;
            let threads: Vec<String> = sqlx::query_scalar("SELECT thread_id FROM custom_thread WHERE customer_id = $1")
                .bind(user)
                .fetch_all(&mut **tx)
                .await
                .map_err(db_err)?;
            for id in &threads {
                let sealed = vault.seal("custom_thread", "request_text", id, ERASED).map_err(|e| e.to_string())?;
                sqlx::query("UPDATE custom_thread SET request_text = $1, status = CASE WHEN status IN ('new', 'in_discussion', 'quoted') THEN 'declined' ELSE status END, updated_at = $2 WHERE thread_id = $3")
                    .bind(sealed)
                    .bind(Timestamp::now().0)
                    .bind(id)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("UPDATE custom_quote SET status = 'declined' WHERE thread_id = $1 AND status = 'offered'").bind(id).execute(&mut **tx).await.map_err(db_err)?;
            }
            let messages: Vec<String> = sqlx::query_scalar("SELECT message_id FROM custom_message WHERE author_id = $1 AND kind IN ('request', 'text')")
                .bind(user)
                .fetch_all(&mut **tx)
                .await
                .map_err(db_err)?;
            for id in &messages {
                let sealed = vault.seal("custom_message", "body", id, ERASED).map_err(|e| e.to_string())?;
                sqlx::query("UPDATE custom_message SET body = $1 WHERE message_id = $2").bind(sealed).bind(id).execute(&mut **tx).await.map_err(db_err)?;
            }
            let files: Vec<(String, String, String)> = sqlx::query_as("SELECT attachment_id, storage_key, thumb_key FROM custom_attachment WHERE uploader_id = $1")
                .bind(user)
                .fetch_all(&mut **tx)
                .await
                .map_err(db_err)?;
            for (id, key, thumb) in &files {
                sqlx::query("UPDATE custom_message SET attachment_id = NULL WHERE attachment_id = $1").bind(id).execute(&mut **tx).await.map_err(db_err)?;
                sqlx::query("DELETE FROM custom_attachment WHERE attachment_id = $1").bind(id).execute(&mut **tx).await.map_err(db_err)?;
                // a file already gone is fine (a retry after a rolled-back attempt)
                let _ = self.files.delete(key);
                let _ = self.files.delete(thumb);
            }
            Ok(())
        })
    }
}
