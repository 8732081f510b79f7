//! The event backbone on both databases: atomic outbox, idempotent redelivery, dead letters that do
//! not hold others up, per-aggregate order, and sagas that survive interruption.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use kernel::{
    events::{BoxFuture, BusConfig, Consumer, EventBus, StoredEvent},
    outbox::{self, Envelope},
    saga::{SagaDef, SagaEngine, SagaStatus, Step, StepOutcome},
    Db, Tx,
};
use serde_json::{json, Value};

use crate::helpers::*;

async fn db_of(app: &TestApp) -> Db {
    let db = Db::connect(&app.database_url).await.expect("db");
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS test_effect (consumer TEXT NOT NULL, event_id TEXT NOT NULL, aggregate_id TEXT NOT NULL, \
         seq BIGINT NOT NULL, n BIGINT NOT NULL)",
    )
    .execute(db.writer())
    .await
    .expect("test table");
    db
}

/// Records what it handled, in order; fails for events whose payload says `poison` (until healed).
struct Recorder {
    name: &'static str,
    counter: AtomicUsize,
    healed: AtomicBool,
}

impl Recorder {
    fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Self { name, counter: AtomicUsize::new(0), healed: AtomicBool::new(false) })
    }
}

impl Consumer for Recorder {
    fn name(&self) -> &'static str {
        self.name
    }
    fn subscribes_to(&self) -> Vec<&'static str> {
        vec!["test.Happened"]
    }
    fn handle<'a>(&'a self, e: &'a StoredEvent, tx: &'a mut Tx) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if e.payload["poison"] == true && !self.healed.load(Ordering::SeqCst) {
                return Err("cannot digest this".into());
            }
            let n = self.counter.fetch_add(1, Ordering::SeqCst) as i64;
            sqlx::query("INSERT INTO test_effect (consumer, event_id, aggregate_id, seq, n) VALUES ($1, $2, $3, $4, $5)")
                .bind(self.name)
                .bind(&e.event_id)
                .bind(&e.aggregate_id)
                .bind(e.seq)
                .bind(n)
                .execute(&mut **tx)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        })
    }
}

fn fast() -> BusConfig {
    BusConfig { max_attempts: 3, base_backoff: Duration::from_millis(20), max_backoff: Duration::from_millis(50), ..BusConfig::default() }
}

async fn emit(db: &Db, aggregate: &str, payload: Value) -> String {
    let mut tx = db.begin().await.expect("tx");
    let e = Envelope::new("test.Happened", aggregate, payload);
    outbox::append(&mut tx, &e).await.expect("append");
    tx.commit().await.expect("commit");
    e.event_id.to_string()
}

async fn effects(db: &Db, consumer: &str) -> Vec<(String, String, i64)> {
    sqlx::query_as("SELECT event_id, aggregate_id, seq FROM test_effect WHERE consumer = $1 ORDER BY n")
        .bind(consumer)
        .fetch_all(db.reader())
        .await
        .expect("effects")
}

/// Runs the bus until nothing is due for a while (retries included).
async fn settle(bus: &EventBus) {
    let mut idle = 0;
    while idle < 5 {
        if bus.run_once().await.expect("run") == 0 {
            idle += 1;
            tokio::time::sleep(Duration::from_millis(30)).await;
        } else {
            idle = 0;
        }
    }
}

both!(outbox_is_atomic_with_the_state_change, |app: TestApp| async move {
    let db = db_of(&app).await;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(db.reader()).await.expect("count") }
    };
    // a failure between the write and the commit: neither the state change nor its event survive
    {
        let mut tx = db.begin().await.expect("tx");
        sqlx::query("INSERT INTO test_effect (consumer, event_id, aggregate_id, seq, n) VALUES ('state', 'x', 'agg', 0, 0)")
            .execute(&mut *tx)
            .await
            .expect("state");
        outbox::append(&mut tx, &Envelope::new("test.Happened", "agg", json!({}))).await.expect("append");
        drop(tx); // the process dies here: no commit
    }
    assert_eq!(count("SELECT COUNT(*) FROM test_effect WHERE consumer = 'state'").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM outbox_event WHERE event_type = 'test.Happened'").await, 0);
    // committed: both
    let mut tx = db.begin().await.expect("tx");
    sqlx::query("INSERT INTO test_effect (consumer, event_id, aggregate_id, seq, n) VALUES ('state', 'y', 'agg', 0, 0)")
        .execute(&mut *tx)
        .await
        .expect("state");
    outbox::append(&mut tx, &Envelope::new("test.Happened", "agg", json!({}))).await.expect("append");
    tx.commit().await.expect("commit");
    assert_eq!(count("SELECT COUNT(*) FROM test_effect WHERE consumer = 'state'").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM outbox_event WHERE event_type = 'test.Happened'").await, 1);
});

both!(a_redelivered_event_takes_effect_once, |app: TestApp| async move {
    let db = db_of(&app).await;
    let rec = Recorder::new("test.once");
    let bus = EventBus::new(db.clone(), fast(), vec![rec.clone()]);
    bus.install().await.expect("install");
    let id = emit(&db, "agg-1", json!({ "n": 1 })).await;
    settle(&bus).await;
    assert_eq!(effects(&db, "test.once").await.len(), 1);
    // the acknowledgement was lost (e.g. the instance died after committing): deliver again
    sqlx::query("UPDATE event_delivery SET status = 'pending', locked_until = NULL WHERE outbox_event_id = $1")
        .bind(&id)
        .execute(db.writer())
        .await
        .expect("reset");
    settle(&bus).await;
    assert_eq!(effects(&db, "test.once").await.len(), 1, "the second delivery has no effect");
    let status: String = sqlx::query_scalar("SELECT status FROM event_delivery WHERE outbox_event_id = $1")
        .bind(&id)
        .fetch_one(db.reader())
        .await
        .expect("status");
    assert_eq!(status, "done");
});

both!(a_poison_event_is_dead_lettered_without_holding_up_others, |app: TestApp| async move {
    let db = db_of(&app).await;
    let rec = Recorder::new("test.poison");
    let bus = EventBus::new(db.clone(), fast(), vec![rec.clone()]);
    bus.install().await.expect("install");
    let poison = emit(&db, "agg-a", json!({ "poison": true })).await;
    let b = emit(&db, "agg-b", json!({})).await;
    let a2 = emit(&db, "agg-a", json!({})).await;
    let c = emit(&db, "agg-c", json!({})).await;

    // the first pass already handles the other aggregates; agg-a's later event waits (order)
    // (different aggregates have no order between them: compare as sets)
    bus.run_once().await.expect("run");
    let mut done: Vec<String> = effects(&db, "test.poison").await.into_iter().map(|e| e.0).collect();
    done.sort();
    let mut expected = vec![b.clone(), c.clone()];
    expected.sort();
    assert_eq!(done, expected);

    settle(&bus).await;
    let done: Vec<String> = effects(&db, "test.poison").await.into_iter().map(|e| e.0).collect();
    assert_eq!(done.len(), 3);
    assert_eq!(done.last(), Some(&a2), "after the poison is dead-lettered its aggregate moves on");
    let dead = bus.dead_letters(10).await.expect("dead");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event_id, poison);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error.as_deref(), Some("cannot digest this"));
    let metrics = bus.render_metrics().await;
    assert!(metrics.contains("events_dead_lettered_total{consumer=\"test.poison\"} 1"), "{metrics}");
    assert!(metrics.contains("events_retried_total{consumer=\"test.poison\"} 2"), "{metrics}");

    // an admin fixes the cause and re-drives it
    rec.healed.store(true, Ordering::SeqCst);
    assert!(bus.redrive(&poison, "test.poison").await.expect("redrive"));
    assert!(!bus.redrive(&poison, "test.poison").await.expect("redrive"), "only dead letters are re-driven");
    settle(&bus).await;
    assert!(bus.dead_letters(10).await.expect("dead").is_empty());
    assert_eq!(effects(&db, "test.poison").await.len(), 4);
    assert_eq!(bus.lag().await.expect("lag"), None);
});

both!(per_aggregate_order_is_kept, |app: TestApp| async move {
    let db = db_of(&app).await;
    let rec = Recorder::new("test.order");
    let bus = EventBus::new(db.clone(), BusConfig { batch_size: 7, ..fast() }, vec![rec.clone()]);
    bus.install().await.expect("install");
    for i in 0..60 {
        emit(&db, &format!("agg-{}", i % 6), json!({ "i": i })).await;
    }
    // several dispatchers at once, as several instances would
    let runs = (0..3).map(|_| {
        let bus = bus.clone();
        tokio::spawn(async move { settle(&bus).await })
    });
    futures::future::join_all(runs).await;
    let handled = effects(&db, "test.order").await;
    assert_eq!(handled.len(), 60);
    for agg in 0..6 {
        let seqs: Vec<i64> = handled.iter().filter(|e| e.1 == format!("agg-{agg}")).map(|e| e.2).collect();
        assert_eq!(seqs.len(), 10);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "agg-{agg} out of order: {seqs:?}");
    }
});

/// A step that records its effect idempotently (keyed by saga and step) and can be told to hang after
/// doing it — the process "dies" mid-saga — or to fail.
struct RecordStep {
    index: i64,
    db: Db,
    hang_after: Arc<AtomicUsize>,
    fail: bool,
    wait_forever: bool,
}

async fn record(db: &Db, consumer: &str, saga: &str, step: i64) -> Result<(), String> {
    let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM test_effect WHERE consumer = $1 AND event_id = $2 AND seq = $3")
        .bind(consumer)
        .bind(saga)
        .bind(step)
        .fetch_one(db.reader())
        .await
        .map_err(|e| e.to_string())?;
    if exists == 0 {
        sqlx::query("INSERT INTO test_effect (consumer, event_id, aggregate_id, seq, n) VALUES ($1, $2, 'saga', $3, 0)")
            .bind(consumer)
            .bind(saga)
            .bind(step)
            .execute(db.writer())
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl Step for RecordStep {
    fn name(&self) -> &'static str {
        "record"
    }
    fn run<'a>(&'a self, state: &'a mut Value) -> BoxFuture<'a, StepOutcome> {
        Box::pin(async move {
            if self.wait_forever {
                return StepOutcome::Retry("waiting for payment".into());
            }
            if self.fail {
                return StepOutcome::Fail("card declined".into());
            }
            let saga = state["id"].as_str().unwrap_or_default().to_owned();
            if let Err(e) = record(&self.db, "saga.do", &saga, self.index).await {
                return StepOutcome::Retry(e);
            }
            if self.hang_after.load(Ordering::SeqCst) == self.index as usize {
                // the effect is done, the progress is not saved: simulate the process dying here
                std::future::pending::<()>().await;
            }
            StepOutcome::Done
        })
    }
    fn compensate<'a>(&'a self, state: &'a mut Value) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let saga = state["id"].as_str().unwrap_or_default().to_owned();
            record(&self.db, "saga.undo", &saga, self.index).await?;
            if self.hang_after.load(Ordering::SeqCst) == 100 + self.index as usize {
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }
}

fn saga_def(db: &Db, hang: &Arc<AtomicUsize>, fail_at: Option<i64>, wait_at: Option<i64>, timeout: Option<Duration>) -> SagaDef {
    SagaDef {
        saga_type: "test.checkout",
        steps: (0..3)
            .map(|i| {
                Arc::new(RecordStep {
                    index: i,
                    db: db.clone(),
                    hang_after: hang.clone(),
                    fail: fail_at == Some(i),
                    wait_forever: wait_at == Some(i),
                }) as Arc<dyn Step>
            })
            .collect(),
        timeout,
        max_attempts: 1000,
        retry_delay: Duration::from_millis(30),
    }
}

async fn steps_done(db: &Db, consumer: &str, saga: &str) -> Vec<i64> {
    sqlx::query_scalar("SELECT seq FROM test_effect WHERE consumer = $1 AND event_id = $2 ORDER BY seq")
        .bind(consumer)
        .bind(saga)
        .fetch_all(db.reader())
        .await
        .expect("steps")
}

async fn start_saga(db: &Db, engine: &SagaEngine, id: &str) -> String {
    let mut tx = db.begin().await.expect("tx");
    let saga = engine.start(&mut tx, "test.checkout", json!({ "id": id })).await.expect("start");
    tx.commit().await.expect("commit");
    saga
}

/// Runs a fresh engine (a restarted process) until the saga is finished either way.
async fn finish(db: &Db, def: SagaDef, saga: &str) -> SagaStatus {
    let engine = SagaEngine::new(db.clone(), vec![def], Duration::from_millis(200));
    for _ in 0..200 {
        engine.run_once().await.expect("run");
        let s = engine.get(saga).await.expect("get").expect("saga").status;
        if matches!(s, SagaStatus::Completed | SagaStatus::Compensated | SagaStatus::Failed) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("saga {saga} did not finish");
}

both!(a_saga_interrupted_after_any_step_finishes_exactly_once, |app: TestApp| async move {
    let db = db_of(&app).await;
    for crash_at in 0..3i64 {
        let hang = Arc::new(AtomicUsize::new(crash_at as usize));
        let engine = SagaEngine::new(db.clone(), vec![saga_def(&db, &hang, None, None, None)], Duration::from_millis(200));
        let id = format!("fwd-{crash_at}");
        let saga = start_saga(&db, &engine, &id).await;
        // the first process runs until it "dies" after step `crash_at`'s effect
        let first = tokio::spawn({
            let engine = engine.clone();
            async move {
                let _ = engine.run_once().await;
            }
        });
        // it hangs right after that effect: wait for it (a loaded machine may take a while), then kill it
        let waited = std::time::Instant::now();
        while steps_done(&db, "saga.do", &id).await.last() != Some(&crash_at) && waited.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        first.abort();
        assert_eq!(steps_done(&db, "saga.do", &id).await.last(), Some(&crash_at));
        // a new process picks it up once the lease expired
        hang.store(usize::MAX, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(250)).await;
        let status = finish(&db, saga_def(&db, &hang, None, None, None), &saga).await;
        assert_eq!(status, SagaStatus::Completed);
        assert_eq!(steps_done(&db, "saga.do", &id).await, vec![0, 1, 2], "each step took effect once");
        assert!(steps_done(&db, "saga.undo", &id).await.is_empty(), "never both finished and compensated");
    }
});

both!(a_failing_saga_compensates_in_reverse_even_when_interrupted, |app: TestApp| async move {
    let db = db_of(&app).await;
    // step 2 fails: steps 1 and 0 are undone; the first process dies while compensating step 1
    let hang = Arc::new(AtomicUsize::new(101));
    let engine = SagaEngine::new(db.clone(), vec![saga_def(&db, &hang, Some(2), None, None)], Duration::from_millis(200));
    let saga = start_saga(&db, &engine, "fail").await;
    let first = tokio::spawn({
        let engine = engine.clone();
        async move {
            let _ = engine.run_once().await;
        }
    });
    // it hangs compensating step 1 (after undoing nothing yet): wait for that state, then kill it
    let waited = std::time::Instant::now();
    while engine.get(&saga).await.expect("get").expect("saga").status != SagaStatus::Compensating && waited.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.abort();
    assert_eq!(engine.get(&saga).await.expect("get").expect("saga").status, SagaStatus::Compensating);
    hang.store(usize::MAX, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let status = finish(&db, saga_def(&db, &hang, Some(2), None, None), &saga).await;
    assert_eq!(status, SagaStatus::Compensated);
    assert_eq!(steps_done(&db, "saga.do", "fail").await, vec![0, 1]);
    assert_eq!(steps_done(&db, "saga.undo", "fail").await, vec![0, 1]);
    let view = engine.get(&saga).await.expect("get").expect("saga");
    assert_eq!(view.last_error, None);
});

both!(an_unpaid_saga_times_out_and_compensates, |app: TestApp| async move {
    let db = db_of(&app).await;
    let hang = Arc::new(AtomicUsize::new(usize::MAX));
    // step 1 waits for a payment that never comes; the saga has 300 ms
    let def = || saga_def(&db, &hang, None, Some(1), Some(Duration::from_millis(300)));
    let engine = SagaEngine::new(db.clone(), vec![def()], Duration::from_millis(200));
    let saga = start_saga(&db, &engine, "unpaid").await;
    engine.run_once().await.expect("run");
    assert_eq!(engine.get(&saga).await.expect("get").expect("saga").status, SagaStatus::Running);
    let status = finish(&db, def(), &saga).await;
    assert_eq!(status, SagaStatus::Compensated);
    assert_eq!(steps_done(&db, "saga.do", "unpaid").await, vec![0]);
    assert_eq!(steps_done(&db, "saga.undo", "unpaid").await, vec![0], "the reservation was released");
});

/// Polls the caller's notifications until one with `title` shows up (the dispatcher runs in the background).
pub async fn wait_for_notification(app: &TestApp, token: &str, title: &str) -> Value {
    for _ in 0..100 {
        let v: Value = app.get("/api/v1/me/notifications", Some(token)).await.json().await.expect("json");
        if v["notifications"].as_array().is_some_and(|l| l.iter().any(|n| n["title"] == title)) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no notification {title:?} arrived");
}

both!(events_reach_people_as_notifications, |app: TestApp| async move {
    let dealer = app.sign_up(&unique_email("notified"), "dealer pass!", "dealer").await;
    let v = wait_for_notification(&app, &dealer.token, "Your dealer application is in").await;
    assert_eq!(v["unread"], 1);
    let admin = app.admin().await;
    let id = dealer.user["id"].as_str().expect("id");
    let res = app
        .post_json(&format!("/api/v1/admin/dealers/{id}/decision"), &json!({ "approve": false, "reason": "no photos of your work" }), Some(&admin.token))
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let v = wait_for_notification(&app, &dealer.token, "Your store was not approved").await;
    let rejected = v["notifications"].as_array().and_then(|l| l.iter().find(|n| n["title"] == "Your store was not approved")).cloned();
    assert_eq!(rejected.map(|n| n["body"].clone()), Some(json!("Reason: no photos of your work")));
    assert_eq!(v["unread"], 2);
    let res = app.post_json("/api/v1/me/notifications/read-all", &json!({}), Some(&dealer.token)).await;
    assert_eq!(res.json::<Value>().await.expect("json")["marked"], 2);
    // nobody else sees them
    let other = app.sign_up(&unique_email("other"), "other pass!", "customer").await;
    let v = wait_for_notification(&app, &other.token, "Welcome to Bespoke").await;
    assert_eq!(v["notifications"].as_array().map(|l| l.len()), Some(1));
    // admins see event health
    let health: Value = app.get("/api/v1/admin/events", Some(&admin.token)).await.json().await.expect("json");
    assert!(health["dead_letters"].as_array().is_some_and(|d| d.is_empty()), "{health}");
    assert_eq!(app.get("/api/v1/admin/events", Some(&other.token)).await.status(), reqwest::StatusCode::FORBIDDEN);
    let metrics = app.get("/metrics", None).await.text().await.expect("text");
    assert!(metrics.contains("events_delivered_total{consumer=\"notify.inbox\"}"), "{metrics}");
    assert!(metrics.contains("outbox_lag_seconds"));
});

/// Serverless mode: no background loops; what a request commits is dispatched before it answers,
/// and the drain endpoint (secret-guarded) picks up anything left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serverless_mode_dispatches_inline_and_drains_on_request() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if backend == Backend::Postgres && pg_admin_url().is_none() {
            continue;
        }
        let app = spawn_app_with(backend, |s| {
            s.events_mode = server::config::EventsMode::Inline;
            s.drain_secret = Some(server::config::SecretString::new("a-long-drain-secret-123"));
        })
        .await;
        let s = app.sign_up(&unique_email("lambda"), "serverless pass", "customer").await;
        // no waiting: the sign-up response came after its events were handled
        let v: Value = app.get("/api/v1/me/notifications", Some(&s.token)).await.json().await.expect("json");
        assert_eq!(v["unread"], 1, "{backend:?}: {v}");

        // an event committed outside any request (e.g. by another process) waits for the scheduler
        let db = Db::connect(&app.database_url).await.expect("db");
        let uid = s.user["id"].as_str().expect("id").to_owned();
        let mut tx = db.begin().await.expect("tx");
        outbox::append(&mut tx, &Envelope::new("accounts.MfaDisabled", uid.clone(), json!({ "user_id": uid }))).await.expect("append");
        tx.commit().await.expect("commit");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let v: Value = app.get("/api/v1/me/notifications", Some(&s.token)).await.json().await.expect("json");
        assert_eq!(v["unread"], 1, "{backend:?}: nothing runs between requests");

        let drain = |secret: Option<&'static str>| {
            let mut r = app.client.post(app.url("/internal/events/drain"));
            if let Some(s) = secret {
                r = r.bearer_auth(s);
            }
            r.send()
        };
        assert_eq!(drain(None).await.expect("req").status(), reqwest::StatusCode::UNAUTHORIZED);
        assert_eq!(drain(Some("wrong-secret-wrong-secret")).await.expect("req").status(), reqwest::StatusCode::UNAUTHORIZED);
        let res = drain(Some("a-long-drain-secret-123")).await.expect("req");
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["events"], 2, "two consumers handled the one event: {body}");
        let v: Value = app.get("/api/v1/me/notifications", Some(&s.token)).await.json().await.expect("json");
        assert_eq!(v["unread"], 2);
    }
}

#[tokio::test]
async fn drain_endpoint_is_off_without_a_secret() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app.client.post(app.url("/internal/events/drain")).bearer_auth("anything-at-all-here").send().await.expect("req");
    assert_eq!(res.status(), reqwest::StatusCode::NOT_FOUND);
}
