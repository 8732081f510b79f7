//! Sagas: a multi-step business process with a compensation for each step (reserve stock → take
//! payment → confirm; on failure release the stock, refund). The saga's position and state are
//! persisted after every step, so a restarted process resumes where it stopped; a step may therefore
//! run more than once and must be idempotent (its state carries the keys that make it so).
//!
//! A saga moves forward until it completes, or — when a step fails for good, retries run out, or its
//! deadline passes — it compensates the completed steps in reverse order. Never both: compensation is
//! entered once, persisted, and forward steps never run again after it.
//!
//! Claims work like event deliveries: `FOR UPDATE SKIP LOCKED` plus a lease on PostgreSQL, fenced by
//! `locked_by` so an instance whose lease expired cannot overwrite the progress of the one that took over.

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde_json::Value;
use sqlx::Row;

use crate::{db::Backend, events::BoxFuture, Db, Timestamp, Tx};

pub enum StepOutcome {
    /// The step is done; move on.
    Done,
    /// Not yet (e.g. waiting for a payment): run the step again later.
    Retry(String),
    /// The step cannot succeed: compensate what was done.
    Fail(String),
}

pub trait Step: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn run<'a>(&'a self, state: &'a mut Value) -> BoxFuture<'a, StepOutcome>;
    fn compensate<'a>(&'a self, state: &'a mut Value) -> BoxFuture<'a, Result<(), String>>;
}

pub struct SagaDef {
    pub saga_type: &'static str,
    pub steps: Vec<Arc<dyn Step>>,
    /// From the start; past it the saga compensates (an unpaid reservation expires).
    pub timeout: Option<Duration>,
    /// Retries of one forward step before the saga compensates.
    pub max_attempts: i64,
    pub retry_delay: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaStatus {
    Running,
    Compensating,
    Completed,
    Compensated,
    Failed,
}

impl SagaStatus {
    fn as_str(self) -> &'static str {
        match self {
            SagaStatus::Running => "running",
            SagaStatus::Compensating => "compensating",
            SagaStatus::Completed => "completed",
            SagaStatus::Compensated => "compensated",
            SagaStatus::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "running" => SagaStatus::Running,
            "compensating" => SagaStatus::Compensating,
            "completed" => SagaStatus::Completed,
            "compensated" => SagaStatus::Compensated,
            _ => SagaStatus::Failed,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SagaView {
    pub saga_id: String,
    pub saga_type: String,
    pub status: SagaStatus,
    pub step: i64,
    pub state: Value,
    pub last_error: Option<String>,
}

#[derive(Clone)]
pub struct SagaEngine {
    db: Db,
    defs: Arc<HashMap<&'static str, Arc<SagaDef>>>,
    instance_id: String,
    lease: Duration,
}

/// Compensation never gives up silently: after this many failed tries the saga is `failed`, for an admin.
const MAX_COMPENSATION_ATTEMPTS: i64 = 20;

impl SagaEngine {
    pub fn new(db: Db, defs: Vec<SagaDef>, lease: Duration) -> Self {
        let defs = defs.into_iter().map(|d| (d.saga_type, Arc::new(d))).collect();
        Self { db, defs: Arc::new(defs), instance_id: uuid::Uuid::now_v7().simple().to_string(), lease }
    }

    /// Starts a saga inside the caller's transaction: it exists if and only if the caller commits.
    pub async fn start(&self, tx: &mut Tx, saga_type: &'static str, state: Value) -> Result<String, sqlx::Error> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = Timestamp::now();
        let deadline = self.defs.get(saga_type).and_then(|d| d.timeout).map(|t| now.plus(t).0);
        sqlx::query(
            "INSERT INTO saga (saga_id, saga_type, status, step, state, attempts, deadline_at, next_run_at, created_at, updated_at) \
             VALUES ($1, $2, 'running', 0, $3, 0, $4, $5, $5, $5)",
        )
        .bind(&id)
        .bind(saga_type)
        .bind(state.to_string())
        .bind(deadline)
        .bind(now.0)
        .execute(&mut **tx)
        .await?;
        tx.mark_events_written();
        Ok(id)
    }

    /// Runs a waiting saga now instead of at its next retry (e.g. the payment it waits for arrived).
    pub async fn nudge(&self, saga_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE saga SET next_run_at = $1 WHERE saga_id = $2 AND status IN ('running', 'compensating')")
            .bind(Timestamp::now().0)
            .bind(saga_id)
            .execute(self.db.writer())
            .await?;
        self.db.wake();
        Ok(())
    }

    pub async fn get(&self, saga_id: &str) -> Result<Option<SagaView>, sqlx::Error> {
        let row = sqlx::query("SELECT saga_id, saga_type, status, step, state, last_error FROM saga WHERE saga_id = $1")
            .bind(saga_id)
            .fetch_optional(self.db.reader())
            .await?;
        row.map(|r| {
            let state: String = r.try_get(4)?;
            let status: String = r.try_get(2)?;
            Ok(SagaView {
                saga_id: r.try_get(0)?,
                saga_type: r.try_get(1)?,
                status: SagaStatus::parse(&status),
                step: r.try_get(3)?,
                state: serde_json::from_str(&state).unwrap_or(Value::Null),
                last_error: r.try_get(5)?,
            })
        })
        .transpose()
    }

    async fn claim(&self, limit: i64) -> Result<Vec<(String, String, String, i64, String, i64, Option<i64>)>, sqlx::Error> {
        let now = Timestamp::now();
        let lock = if self.db.backend() == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        let types: Vec<&'static str> = self.defs.keys().copied().collect();
        if types.is_empty() {
            return Ok(vec![]);
        }
        let ph: Vec<String> = (0..types.len()).map(|i| format!("${}", i + 5)).collect();
        let sql = format!(
            "UPDATE saga SET locked_until = $1, locked_by = $2, updated_at = $3 WHERE saga_id IN ( \
               SELECT saga_id FROM saga WHERE status IN ('running', 'compensating') AND next_run_at <= $3 \
               AND (locked_until IS NULL OR locked_until < $3) AND saga_type IN ({}) ORDER BY next_run_at LIMIT $4 {lock}) \
             RETURNING saga_id, saga_type, status, step, state, attempts, deadline_at",
            ph.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(now.plus(self.lease).0).bind(&self.instance_id).bind(now.0).bind(limit);
        for t in &types {
            q = q.bind(*t);
        }
        let mut tx = self.db.begin().await?;
        let rows = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?)))
            .collect()
    }

    /// Persists progress if this instance still holds the saga. False: the lease was lost.
    #[allow(clippy::too_many_arguments)]
    async fn save(
        &self,
        id: &str,
        status: SagaStatus,
        step: i64,
        state: &Value,
        attempts: i64,
        next_run: Timestamp,
        error: Option<&str>,
        release: bool,
    ) -> Result<bool, sqlx::Error> {
        let now = Timestamp::now().0;
        let n = sqlx::query(
            "UPDATE saga SET status = $1, step = $2, state = $3, attempts = $4, next_run_at = $5, last_error = $6, \
             locked_until = CASE WHEN $7 = 1 THEN NULL ELSE locked_until END, updated_at = $8 \
             WHERE saga_id = $9 AND locked_by = $10",
        )
        .bind(status.as_str())
        .bind(step)
        .bind(state.to_string())
        .bind(attempts)
        .bind(next_run.0)
        .bind(error.map(|e| e.chars().take(2000).collect::<String>()))
        .bind(i64::from(release))
        .bind(now)
        .bind(id)
        .bind(&self.instance_id)
        .execute(self.db.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Advances every due saga as far as it can go now. Returns how many were touched.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let claimed = self.claim(32).await?;
        let n = claimed.len();
        for (id, saga_type, status, step, state, attempts, deadline) in claimed {
            let Some(def) = self.defs.get(saga_type.as_str()).cloned() else { continue };
            let state = serde_json::from_str(&state).unwrap_or(Value::Null);
            self.advance(&id, &def, SagaStatus::parse(&status), step, state, attempts, deadline).await?;
        }
        Ok(n)
    }

    #[allow(clippy::too_many_arguments)]
    async fn advance(
        &self,
        id: &str,
        def: &SagaDef,
        mut status: SagaStatus,
        mut step: i64,
        mut state: Value,
        mut attempts: i64,
        deadline: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let now = Timestamp::now;
        loop {
            match status {
                SagaStatus::Running => {
                    if deadline.is_some_and(|d| now().0 >= d) {
                        status = SagaStatus::Compensating;
                        attempts = 0;
                        if !self.save(id, status, step, &state, 0, now(), Some("timed out"), false).await? {
                            return Ok(());
                        }
                        continue;
                    }
                    let Some(s) = usize::try_from(step).ok().and_then(|i| def.steps.get(i)).cloned() else {
                        self.save(id, SagaStatus::Completed, step, &state, 0, now(), None, true).await?;
                        return Ok(());
                    };
                    match s.run(&mut state).await {
                        StepOutcome::Done => {
                            step += 1;
                            attempts = 0;
                            let done = usize::try_from(step).unwrap_or(usize::MAX) >= def.steps.len();
                            let st = if done { SagaStatus::Completed } else { SagaStatus::Running };
                            if !self.save(id, st, step, &state, 0, now(), None, done).await? || done {
                                return Ok(());
                            }
                        }
                        StepOutcome::Retry(why) => {
                            attempts += 1;
                            if attempts >= def.max_attempts && deadline.is_none() {
                                status = SagaStatus::Compensating;
                                if !self.save(id, status, step, &state, 0, now(), Some(&why), false).await? {
                                    return Ok(());
                                }
                                continue;
                            }
                            let mut next = now().plus(def.retry_delay);
                            if let Some(d) = deadline {
                                next = Timestamp(next.0.min(d));
                            }
                            self.save(id, status, step, &state, attempts, next, Some(&why), true).await?;
                            return Ok(());
                        }
                        StepOutcome::Fail(why) => {
                            tracing::warn!(saga_id = id, step = s.name(), error = %why, "saga step failed; compensating");
                            status = SagaStatus::Compensating;
                            if !self.save(id, status, step, &state, 0, now(), Some(&why), false).await? {
                                return Ok(());
                            }
                        }
                    }
                }
                SagaStatus::Compensating => {
                    if step <= 0 {
                        self.save(id, SagaStatus::Compensated, 0, &state, 0, now(), None, true).await?;
                        return Ok(());
                    }
                    let Some(s) = usize::try_from(step - 1).ok().and_then(|i| def.steps.get(i)).cloned() else {
                        step -= 1;
                        continue;
                    };
                    match s.compensate(&mut state).await {
                        Ok(()) => {
                            step -= 1;
                            attempts = 0;
                            if !self.save(id, status, step, &state, 0, now(), None, false).await? {
                                return Ok(());
                            }
                        }
                        Err(why) => {
                            attempts += 1;
                            let st = if attempts >= MAX_COMPENSATION_ATTEMPTS { SagaStatus::Failed } else { status };
                            if st == SagaStatus::Failed {
                                tracing::error!(saga_id = id, step = s.name(), error = %why, "saga compensation failed for good");
                            }
                            self.save(id, st, step, &state, attempts, now().plus(def.retry_delay), Some(&why), true).await?;
                            return Ok(());
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Runs until `stop` is notified, waking on new sagas or every `poll`.
    pub async fn run(self, stop: Arc<tokio::sync::Notify>, poll: Duration) {
        let mut wake = self.db.wake_receiver();
        loop {
            match self.run_once().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "saga runner failed; retrying shortly"),
            }
            tokio::select! {
                _ = stop.notified() => break,
                _ = wake.changed() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}
