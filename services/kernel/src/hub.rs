//! Realtime hub: publish/subscribe by topic, for pushes to browsers (chat, order tracking,
//! notifications). One broadcast channel per topic in a map behind a briefly held mutex
//! (mini-redis's pattern). On PostgreSQL, publishing goes through `NOTIFY` and every instance's
//! listener delivers to its local subscribers, so a subscriber on instance B receives what instance A
//! published. Channels are bounded: a subscriber that falls behind gets `Lagged` (and should resync),
//! it never makes the server buffer without limit.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::broadcast;

use crate::{db::Backend, Db};

/// Messages kept per topic for slow subscribers before they are marked lagged.
pub const TOPIC_CAPACITY: usize = 256;
/// PostgreSQL limits NOTIFY payloads to 8000 bytes; topic and framing take the rest.
pub const MAX_MESSAGE_BYTES: usize = 7000;
pub(crate) const HUB_CHANNEL: &str = "bespoke_hub";

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("message too large for the hub ({0} bytes, at most {MAX_MESSAGE_BYTES})")]
    TooLarge(usize),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The realtime topic of one person's pushes (notifications, order updates).
pub fn user_topic(account_id: &str) -> String {
    format!("user:{account_id}")
}

/// Pushed on a person's topic when their sessions end (suspension, deletion): every live stream
/// and socket of theirs, on every instance, closes.
pub const SIGNED_OUT: &str = r#"{"type":"signed_out"}"#;

#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    topics: Mutex<HashMap<String, broadcast::Sender<Arc<str>>>>,
    db: Option<Db>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Wire {
    t: String,
    m: String,
}

impl Hub {
    /// In-process only (SQLite, tests).
    pub fn local() -> Self {
        Self { inner: Arc::new(HubInner { topics: Mutex::new(HashMap::new()), db: None }) }
    }

    /// Fans out through the database when it is PostgreSQL; in-process otherwise.
    pub fn for_db(db: &Db) -> Self {
        let db = (db.backend() == Backend::Postgres).then(|| db.clone());
        Self { inner: Arc::new(HubInner { topics: Mutex::new(HashMap::new()), db }) }
    }

    pub fn subscribe(&self, topic: &str) -> broadcast::Receiver<Arc<str>> {
        let mut topics = self.inner.topics.lock().unwrap_or_else(|p| p.into_inner());
        topics.entry(topic.to_owned()).or_insert_with(|| broadcast::channel(TOPIC_CAPACITY).0).subscribe()
    }

    pub async fn publish(&self, topic: &str, message: &str) -> Result<(), HubError> {
        if message.len() + topic.len() > MAX_MESSAGE_BYTES {
            return Err(HubError::TooLarge(message.len()));
        }
        match &self.inner.db {
            None => {
                self.deliver_local(topic, message);
                Ok(())
            }
            Some(db) => {
                let wire = serde_json::to_string(&Wire { t: topic.to_owned(), m: message.to_owned() }).unwrap_or_default();
                sqlx::query("SELECT pg_notify($1, $2)").bind(HUB_CHANNEL).bind(wire).execute(db.reader()).await?;
                Ok(())
            }
        }
    }

    /// Delivers to this instance's subscribers; drops the topic when nobody listens any more.
    pub(crate) fn deliver_local(&self, topic: &str, message: &str) {
        let mut topics = self.inner.topics.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = topics.get(topic) {
            if tx.send(Arc::from(message)).is_err() {
                topics.remove(topic);
            }
        }
    }

    pub(crate) fn deliver_wire(&self, payload: &str) {
        if let Ok(w) = serde_json::from_str::<Wire>(payload) {
            self.deliver_local(&w.t, &w.m);
        }
    }

    /// Topics with at least one subscriber on this instance.
    pub fn topic_count(&self) -> usize {
        self.inner.topics.lock().map(|t| t.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slow_subscribers_lag_instead_of_growing() {
        let hub = Hub::local();
        let mut slow = hub.subscribe("t");
        for i in 0..(TOPIC_CAPACITY + 10) {
            hub.publish("t", &i.to_string()).await.ok();
        }
        match slow.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 10),
            other => panic!("expected lag, got {other:?}"),
        }
        // after the lag mark it continues from the oldest message still kept
        assert_eq!(slow.recv().await.ok().as_deref(), Some("10"));
    }

    #[tokio::test]
    async fn topics_are_separate_and_dropped_when_unused() {
        let hub = Hub::local();
        let mut a = hub.subscribe("a");
        let b = hub.subscribe("b");
        hub.publish("a", "hello").await.ok();
        assert_eq!(a.recv().await.ok().as_deref(), Some("hello"));
        drop(b);
        hub.publish("b", "nobody").await.ok();
        assert_eq!(hub.topic_count(), 1);
        assert!(matches!(hub.publish("a", &"x".repeat(MAX_MESSAGE_BYTES + 1)).await, Err(HubError::TooLarge(_))));
    }
}

/// On PostgreSQL: one `LISTEN` connection per instance that wakes the event dispatcher on new events
/// and hands hub messages to local subscribers. Reconnects on failure (and then wakes the dispatcher,
/// since notifications sent while disconnected are lost; the dispatcher's poll covers the gap too).
pub fn spawn_pg_listener(db: &Db, hub: Hub, stop: Arc<tokio::sync::Notify>) -> Option<tokio::task::JoinHandle<()>> {
    if db.backend() != Backend::Postgres {
        return None;
    }
    let url = db.url().to_owned();
    let db = db.clone();
    Some(tokio::spawn(async move {
        loop {
            let listener = async {
                let mut l = sqlx::postgres::PgListener::connect(&url).await?;
                l.listen_all([crate::outbox::EVENTS_CHANNEL, HUB_CHANNEL]).await?;
                db.wake();
                loop {
                    let n = l.recv().await?;
                    if n.channel() == HUB_CHANNEL {
                        hub.deliver_wire(n.payload());
                    } else {
                        db.wake();
                    }
                }
                #[allow(unreachable_code)]
                Ok::<(), sqlx::Error>(())
            };
            tokio::select! {
                _ = stop.notified() => return,
                r = listener => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }))
}
