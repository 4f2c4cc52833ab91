//! The durable job queue in PostgreSQL, in the spirit of crates.io's `BackgroundJob`.
//!
//! A kind of job is a type implementing [`BackgroundJob`]: its name, a serde payload (the
//! type itself), `run`, and what to record when it fails. Each lives with its domain
//! (scene images and clips in `storyboard`, mood images in `moods`, renders and music in
//! `render`, file sweeps in `projects`) and is registered once at start-up in a
//! [`Registry`]. The queue owns the rest: idempotency keys, claiming with
//! `FOR UPDATE SKIP LOCKED` (rows whose lease ran out are claimed again), the heartbeat,
//! retries with backoff, and `LISTEN/NOTIFY` wake-ups. It knows nothing of what a job does.
//!
//! Lock order, everywhere: a job's subject (storyboard, then scene; a mood board), then
//! job rows, then event streams and spend rows, then the account (see `budget::ssr`). A
//! user's action (lock the scene, cancel its jobs) and a job recording its end (lock the
//! scene through [`BackgroundJob::lock_subject`], then its own row) so never wait on
//! each other in a circle.

mod worker;

pub use worker::{Worker, WorkerSettings};

use crate::{
    budget::ssr::{settle_cancelled, settle_job, Tab},
    generation::{
        pricing::Estimate,
        ssr::{keep, GeneratedMedia, GenerationError, MediaProviders, Run},
    },
    storage::{
        ssr::{Storage, StoredAsset},
        AssetKind,
    },
};
use async_trait::async_trait;
use serde::{de::DeserializeOwned, Serialize};
use sqlx::{PgConnection, PgPool};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::Duration,
};
use uuid::Uuid;

pub const CHANNEL: &str = "jobs";

/// What a job's `run` can reach.
pub struct JobContext {
    pub pool: PgPool,
    pub storage: Arc<dyn Storage>,
    pub media: MediaProviders,
    /// Cancellation (by a user, or a lost lease) and the provider prediction to resume.
    pub run: Run,
    job: Uuid,
    worker: String,
    /// What this run's provider calls cost, settled with the job's end.
    cost: Arc<AtomicI64>,
    /// Where providers reach this app, if it is configured (see [`WorkerSettings`]).
    pub public_url: Option<String>,
    pub spending: Arc<crate::budget::ssr::Spending>,
    /// See [`WorkerSettings::product_check`].
    pub product_check: crate::product::check::ProductCheck,
}

impl JobContext {
    /// Marks the job done inside the caller's transaction, so that the domain's change
    /// and the job's end are one (its reservation settled to what it cost); false when
    /// the job is no longer this worker's (it was cancelled or taken over), and the
    /// caller should then drop its change.
    pub async fn finish(&self, tx: &mut PgConnection) -> sqlx::Result<bool> {
        let ours = mark_succeeded(tx, self.job, &self.worker).await?;
        if ours {
            settle_job(tx, self.job, self.cost()).await?;
        }
        Ok(ours)
    }

    /// Adds what a paid call other than a kept asset cost (a vision check) to the run's
    /// cost.
    pub fn charge(&self, microusd: i64) {
        self.cost.fetch_add(microusd.max(0), Ordering::Relaxed);
    }

    fn cost(&self) -> i64 {
        self.cost.load(Ordering::Relaxed)
    }

    /// Keeps what a provider made in storage, with its asset row (and its cost, which
    /// the job's reservation settles to).
    pub async fn keep(
        &self,
        owner: Uuid,
        project: Uuid,
        kind: AssetKind,
        prompt: &str,
        media: GeneratedMedia,
    ) -> anyhow::Result<StoredAsset> {
        self.cost.fetch_add(media.cost_microusd, Ordering::Relaxed);
        keep(
            &self.pool,
            &*self.storage,
            owner,
            project,
            kind,
            prompt,
            media,
        )
        .await
    }
}

/// How a job's run ended, short of an error.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Its subject moved on or is gone: nothing to do.
    Obsolete,
}

/// How a job failed, for its `on_failure`.
pub struct Failure {
    /// What the user reads.
    pub message: String,
    /// It will be tried again.
    pub retry: bool,
    /// The attempt that failed (1 for the first).
    pub attempt: i32,
    pub max_attempts: i32,
}

#[async_trait]
pub trait BackgroundJob: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name stored in `jobs.kind`.
    const KIND: &'static str;
    const MAX_ATTEMPTS: i32 = 5;
    /// Jobs of this kind running at once in one worker.
    const CONCURRENCY: usize = 2;
    /// How long after queueing the job may start.
    const DELAY: Duration = Duration::ZERO;

    /// Two jobs with the same key are one: the second is not queued.
    fn idempotency_key(&self) -> String;

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError>;

    /// Whether an error is worth another attempt (a refusal is not).
    fn retryable(&self, error: &GenerationError) -> bool {
        !matches!(error, GenerationError::Refused(_))
    }

    /// Records a failure in the domain (inside the transaction that records the job's),
    /// for every failed attempt, retried or final.
    async fn on_failure(&self, _tx: &mut PgConnection, _failure: &Failure) -> anyhow::Result<()> {
        Ok(())
    }

    /// Locks what `on_failure` changes, before the queue locks the job's row: subject
    /// first is the lock order of the user's actions too (see the module's notes).
    async fn lock_subject(&self, _tx: &mut PgConnection) -> sqlx::Result<()> {
        Ok(())
    }
}

/// Queues a job that pays no provider in the caller's transaction, unless one with its
/// key exists; returns the new job's id.
pub async fn enqueue<J: BackgroundJob>(
    tx: &mut PgConnection,
    project: Option<Uuid>,
    job: &J,
) -> sqlx::Result<Option<Uuid>> {
    let payload =
        serde_json::to_value(job).map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let id = sqlx::query_scalar!(
        "INSERT INTO jobs (id, kind, payload, idempotency_key, project_id, max_attempts, run_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        Uuid::new_v4(),
        J::KIND,
        payload,
        job.idempotency_key(),
        project,
        J::MAX_ATTEMPTS,
        J::DELAY.as_secs_f64()
    )
    .fetch_optional(&mut *tx)
    .await?;
    if id.is_some() {
        sqlx::query!("SELECT pg_notify($1, $2)", CHANNEL, J::KIND)
            .execute(&mut *tx)
            .await?;
    }
    Ok(id)
}

/// Queues a paid job and puts its estimate on the action's tab (reserved when the action
/// reserves its tab, in the same transaction); a job already queued costs nothing new.
pub async fn enqueue_paid<J: BackgroundJob>(
    tx: &mut PgConnection,
    tab: &mut Tab,
    project: Uuid,
    job: &J,
    estimate: Estimate,
) -> sqlx::Result<()> {
    if let Some(id) = enqueue(tx, Some(project), job).await? {
        tab.add(Some(id), estimate);
    }
    Ok(())
}

/// Cancels the unfinished jobs of kind `J` whose payload has `field` = `value`; a worker
/// running one notices at its next heartbeat.
pub async fn cancel<J: BackgroundJob>(
    tx: &mut PgConnection,
    field: &str,
    value: &str,
) -> sqlx::Result<()> {
    let stopped = sqlx::query!(
        "WITH target AS (SELECT id, status FROM jobs
                         WHERE kind = $1 AND status IN ('queued', 'running') AND payload->>$2 = $3
                         FOR UPDATE)
         UPDATE jobs j SET status = 'cancelled', updated_at = now() FROM target t
         WHERE j.id = t.id RETURNING j.id, t.status AS was",
        J::KIND,
        field,
        value
    )
    .fetch_all(&mut *tx)
    .await?;
    settle_stopped(tx, stopped.into_iter().map(|row| (row.id, row.was))).await
}

/// Settles the reservations of jobs just cancelled, by whether they were running.
async fn settle_stopped(
    tx: &mut PgConnection,
    stopped: impl Iterator<Item = (Uuid, String)>,
) -> sqlx::Result<()> {
    let (running, queued): (Vec<_>, Vec<_>) = stopped.partition(|(_, was)| was == "running");
    if running.is_empty() && queued.is_empty() {
        return Ok(());
    }
    let ids = |jobs: Vec<(Uuid, String)>| jobs.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    settle_cancelled(tx, &ids(running), &ids(queued)).await
}

/// Cancels the unfinished jobs of kind `J` of a project.
pub async fn cancel_for_project<J: BackgroundJob>(
    tx: &mut PgConnection,
    project: Uuid,
) -> sqlx::Result<()> {
    let stopped = sqlx::query!(
        "WITH target AS (SELECT id, status FROM jobs
                         WHERE kind = $1 AND status IN ('queued', 'running') AND project_id = $2
                         FOR UPDATE)
         UPDATE jobs j SET status = 'cancelled', updated_at = now() FROM target t
         WHERE j.id = t.id RETURNING j.id, t.status AS was",
        J::KIND,
        project
    )
    .fetch_all(&mut *tx)
    .await?;
    settle_stopped(tx, stopped.into_iter().map(|row| (row.id, row.was))).await
}

/// Whether a job of kind `J` for `project` is queued or running.
pub async fn busy<J: BackgroundJob>(
    db: impl sqlx::PgExecutor<'_>,
    project: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE kind = $1 AND project_id = $2
                        AND status IN ('queued', 'running')) AS \"busy!\"",
        J::KIND,
        project
    )
    .fetch_one(db)
    .await
}

async fn mark_succeeded(tx: &mut PgConnection, job: Uuid, worker: &str) -> sqlx::Result<bool> {
    let ours = sqlx::query_scalar!(
        "UPDATE jobs SET status = 'succeeded', last_error = NULL, lease_until = NULL,
                updated_at = now()
         WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING id",
        job,
        worker
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(ours.is_some())
}

/// A job kind with its payload type forgotten, as the worker holds it.
#[async_trait]
trait Handler: Send + Sync {
    fn concurrency(&self) -> usize;
    async fn run(
        &self,
        payload: &serde_json::Value,
        context: &JobContext,
    ) -> Result<Outcome, GenerationError>;
    fn retryable(&self, payload: &serde_json::Value, error: &GenerationError) -> bool;
    async fn on_failure(
        &self,
        payload: &serde_json::Value,
        tx: &mut PgConnection,
        failure: &Failure,
    ) -> anyhow::Result<()>;
    async fn lock_subject(
        &self,
        payload: &serde_json::Value,
        tx: &mut PgConnection,
    ) -> sqlx::Result<()>;
}

struct Typed<J>(std::marker::PhantomData<fn() -> J>);

fn decode<J: BackgroundJob>(payload: &serde_json::Value) -> Result<J, GenerationError> {
    J::deserialize(payload)
        .map_err(|error| GenerationError::Refused(format!("unreadable {} job: {error}", J::KIND)))
}

#[async_trait]
impl<J: BackgroundJob> Handler for Typed<J> {
    fn concurrency(&self) -> usize {
        J::CONCURRENCY
    }

    async fn run(
        &self,
        payload: &serde_json::Value,
        context: &JobContext,
    ) -> Result<Outcome, GenerationError> {
        decode::<J>(payload)?.run(context).await
    }

    fn retryable(&self, payload: &serde_json::Value, error: &GenerationError) -> bool {
        decode::<J>(payload).is_ok_and(|job| job.retryable(error))
    }

    async fn on_failure(
        &self,
        payload: &serde_json::Value,
        tx: &mut PgConnection,
        failure: &Failure,
    ) -> anyhow::Result<()> {
        match decode::<J>(payload) {
            Ok(job) => job.on_failure(tx, failure).await,
            Err(_) => Ok(()),
        }
    }

    async fn lock_subject(
        &self,
        payload: &serde_json::Value,
        tx: &mut PgConnection,
    ) -> sqlx::Result<()> {
        match decode::<J>(payload) {
            Ok(job) => job.lock_subject(tx).await,
            Err(_) => Ok(()),
        }
    }
}

/// The job kinds a worker runs, registered at start-up.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn Handler>>,
}

impl Registry {
    pub fn register<J: BackgroundJob>(mut self) -> Self {
        self.handlers
            .insert(J::KIND, Arc::new(Typed::<J>(std::marker::PhantomData)));
        self
    }

    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }
}
