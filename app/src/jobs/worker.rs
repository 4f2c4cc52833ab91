//! The worker: claims jobs of every registered kind (up to each kind's concurrency), keeps
//! them alive by a heartbeat, runs their handler and records how they ended. A job saves
//! its provider prediction's id before waiting on it (through [`Run::on_started`]), so
//! that a retry, here or on another instance, resumes that prediction instead of paying
//! for a new one.

use super::{Failure, Handler, JobContext, Outcome, Registry, CHANNEL};
use crate::{
    budget::ssr::{settle_job, Spending},
    error::user_message,
    generation::ssr::{GenerationError, MediaProviders, Run},
    storage::ssr::Storage,
};
use anyhow::Context;
use futures::FutureExt;
use sqlx::{postgres::PgListener, PgPool};
use std::{
    collections::{HashMap, HashSet},
    panic::AssertUnwindSafe,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// How long a claimed job is ours without a heartbeat.
    pub lease: Duration,
    /// How often to look for work when no wake-up comes.
    pub poll: Duration,
    /// Jobs of one kind running at once in this worker, where not the kind's own default.
    pub concurrency: HashMap<&'static str, usize>,
    /// First retry delay; doubled per attempt, with jitter.
    pub backoff: Duration,
    /// Jobs of one account running at once across every worker: the rest of its work
    /// waits while other accounts' runs.
    pub per_account: i64,
    /// Where providers reach this app (`REELSMITH_PUBLIC_URL`), for links to stored files
    /// they fetch; unset, they are sent the files themselves.
    pub public_url: Option<String>,
    /// Prices and limits for the paid work a job queues by itself (a product drift's
    /// one retry), as the app's actions reserve it.
    pub spending: Arc<Spending>,
    /// How a scene's image or clip is checked for the product (a threshold, and the
    /// vision model where configured).
    pub product_check: crate::product::check::ProductCheck,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(20),
            poll: Duration::from_secs(5),
            concurrency: HashMap::new(),
            backoff: Duration::from_secs(2),
            per_account: 10,
            public_url: None,
            // Free work: the offline provider's prices.
            spending: Arc::new(Spending::offline(0)),
            product_check: Default::default(),
        }
    }
}

/// What a worker needs to run jobs.
#[derive(Clone)]
pub struct Worker {
    pub pool: PgPool,
    pub storage: Arc<dyn Storage>,
    pub media: MediaProviders,
    pub settings: WorkerSettings,
    handlers: Registry,
    /// Names this worker in `locked_by`.
    pub id: String,
    /// The jobs this worker is running now. A lease can run out while its run goes on
    /// (a heartbeat held up by a busy database); this worker must not claim such a job
    /// again beside its own run, which renews the lease at its next beat.
    running: Arc<std::sync::Mutex<HashSet<Uuid>>>,
}

/// A worker's name in `locked_by`: the machine and process first, so that an operator
/// sees which instance runs a job, then a part of its own (a process may run several).
fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_default();
    let own = Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &own[..8])
}

struct Claimed {
    id: Uuid,
    kind: &'static str,
    payload: serde_json::Value,
    attempts: i32,
    max_attempts: i32,
    prediction_id: Option<String>,
    /// Handed back at a shutdown before: see `Run::retried`.
    handed_over: bool,
}

impl Worker {
    pub fn new(
        pool: PgPool,
        storage: Arc<dyn Storage>,
        media: MediaProviders,
        settings: WorkerSettings,
        handlers: Registry,
    ) -> Self {
        Self {
            pool,
            storage,
            media,
            settings,
            handlers,
            id: worker_name(),
            running: Default::default(),
        }
    }

    fn handler(&self, kind: &str) -> &Arc<dyn Handler> {
        &self.handlers.handlers[kind]
    }

    /// Runs jobs until `stop` is cancelled. Jobs still running then are handed back to
    /// the queue, their provider predictions left running: another worker (or this one
    /// after a restart) resumes them.
    pub async fn run(self, stop: CancellationToken) {
        let limits: HashMap<&'static str, Arc<Semaphore>> = self
            .handlers
            .kinds()
            .map(|kind| {
                let n = self
                    .settings
                    .concurrency
                    .get(kind)
                    .copied()
                    .unwrap_or_else(|| self.handler(kind).concurrency())
                    .max(1);
                (kind, Arc::new(Semaphore::new(n)))
            })
            .collect();
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => Some(listener),
                Err(_) => None,
            },
            Err(error) => {
                tracing::warn!(%error, "job wake-ups unavailable; polling");
                None
            }
        };
        let running = tokio_util::task::TaskTracker::new();
        // A run that ends frees its place: the queue is looked at again at once, where
        // it would otherwise wait for the next poll (or a new job's wake-up) with work
        // queued, leaving the place empty for up to `poll`.
        let freed = Arc::new(Notify::new());
        tracing::info!(worker = %self.id, "job worker started");
        while !stop.is_cancelled() {
            let mut claimed_any = false;
            for (kind, limit) in &limits {
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    continue;
                };
                match self.claim(kind).await {
                    Ok(Some(job)) => {
                        claimed_any = true;
                        let worker = self.clone();
                        let stop = stop.clone();
                        let freed = freed.clone();
                        // Every log line of the job names it.
                        let span = tracing::info_span!("job", kind = job.kind, id = %job.id);
                        running.spawn(
                            async move {
                                worker.execute(job, stop).await;
                                drop(permit);
                                freed.notify_one();
                            }
                            .instrument(span),
                        );
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(%error, "claiming a job failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            if claimed_any {
                continue;
            }
            let wake = async {
                match listener.as_mut() {
                    Some(listener) => {
                        let _ = listener.try_recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = wake => {}
                _ = freed.notified() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
        running.close();
        // Handing over is one quick update per job; a stuck database is not waited on
        // for long (the leases then run out instead).
        if tokio::time::timeout(Duration::from_secs(10), running.wait())
            .await
            .is_err()
        {
            tracing::warn!(worker = %self.id, "jobs not handed over in time; their leases will run out");
        }
        tracing::info!(worker = %self.id, "job worker stopped");
    }

    /// Claims the next job of `kind`, fairly: from the account with the fewest jobs
    /// running, then the one whose turn came longest ago, then the oldest job; accounts
    /// at their limit of running jobs wait. Jobs whose lease ran out are claimed again.
    async fn claim(&self, kind: &'static str) -> sqlx::Result<Option<Claimed>> {
        let own: Vec<Uuid> = self.running_now().iter().copied().collect();
        let row = sqlx::query!(
            "WITH busy AS (
                 SELECT p.owner_id, count(*) AS n FROM jobs r JOIN projects p ON p.id = r.project_id
                 WHERE r.status = 'running' AND r.lease_until >= now()
                 GROUP BY p.owner_id),
             pick AS (
                 SELECT j.id, p.owner_id FROM jobs j
                 LEFT JOIN projects p ON p.id = j.project_id
                 LEFT JOIN busy b ON b.owner_id = p.owner_id
                 LEFT JOIN job_turns t ON t.owner_id = p.owner_id
                 WHERE j.kind = $3
                   AND ((j.status = 'queued' AND j.run_at <= now())
                        OR (j.status = 'running' AND j.lease_until < now()))
                   AND NOT (j.id = ANY($5))
                   AND COALESCE(b.n, 0) < $4
                 ORDER BY COALESCE(b.n, 0), t.claimed_at NULLS FIRST, j.run_at, j.created_at
                 LIMIT 1
                 FOR UPDATE OF j SKIP LOCKED)
             UPDATE jobs SET status = 'running', locked_by = $1, attempts = attempts + 1,
                    lease_until = now() + make_interval(secs => $2), updated_at = now()
             FROM pick WHERE jobs.id = pick.id
             RETURNING jobs.id, jobs.payload, jobs.attempts, jobs.max_attempts,
                       jobs.prediction_id, jobs.handed_over, pick.owner_id AS \"owner?\"",
            self.id,
            self.settings.lease.as_secs_f64(),
            kind,
            self.settings.per_account,
            &own
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if let Some(owner) = row.owner {
            sqlx::query!(
                "INSERT INTO job_turns (owner_id, claimed_at) VALUES ($1, clock_timestamp())
                 ON CONFLICT (owner_id) DO UPDATE SET claimed_at = EXCLUDED.claimed_at",
                owner
            )
            .execute(&self.pool)
            .await?;
        }
        self.running_now().insert(row.id);
        Ok(Some(Claimed {
            id: row.id,
            kind,
            payload: row.payload,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            prediction_id: row.prediction_id,
            handed_over: row.handed_over,
        }))
    }

    fn running_now(&self) -> std::sync::MutexGuard<'_, HashSet<Uuid>> {
        // A panic elsewhere while it was held leaves the set as it was: still usable.
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Extends the lease while the job runs; cancels the run when the job is no longer
    /// ours: cancelled by a user action (the provider's work is stopped too), or taken
    /// over by another worker after this one lost its lease (the provider's work is then
    /// handed off: the new owner resumes it).
    async fn heartbeat(&self, job: Uuid, run: Run) {
        let every = self.settings.lease / 3;
        loop {
            tokio::select! {
                _ = run.cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let still_ours = sqlx::query_scalar!(
                "UPDATE jobs SET lease_until = now() + make_interval(secs => $3), updated_at = now()
                 WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING id",
                job,
                self.id,
                self.settings.lease.as_secs_f64()
            )
            .fetch_optional(&self.pool)
            .await;
            match still_ours {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let taken_over = self.taken_over(job).await;
                    tracing::info!(%job, taken_over, "job cancelled or taken over; stopping it");
                    run.handed_off.store(taken_over, Ordering::Release);
                    run.cancel.cancel();
                    return;
                }
                Err(error) => tracing::warn!(%error, %job, "heartbeat failed"),
            }
        }
    }

    /// Whether a job that is no longer ours is another worker's now (or queued for one),
    /// rather than cancelled by a user or gone with its project. Unsure, it says no: a
    /// prediction stopped by mistake costs one retry, one left running may be paid for
    /// by nobody's use.
    async fn taken_over(&self, job: Uuid) -> bool {
        let holder = sqlx::query!("SELECT status, locked_by FROM jobs WHERE id = $1", job)
            .fetch_optional(&self.pool)
            .await;
        match holder {
            Ok(Some(row)) => row.status != "cancelled" && row.locked_by.as_ref() != Some(&self.id),
            Ok(None) => false,
            Err(error) => {
                tracing::warn!(%error, %job, "could not tell who holds the job");
                false
            }
        }
    }

    /// A run that saves the provider's prediction id on the job as soon as it exists.
    fn run_for(&self, job: &Claimed) -> Run {
        let pool = self.pool.clone();
        let id = job.id;
        let me = self.id.clone();
        Run {
            cancel: CancellationToken::new(),
            handed_off: Default::default(),
            resume: job.prediction_id.clone(),
            // A crashed attempt counts (attempts > 1); one handed over at shutdown does
            // not, and is remembered instead. Either may have been dropped mid-create.
            retried: (job.attempts > 1 || job.handed_over) && job.prediction_id.is_none(),
            on_started: Some(Arc::new(move |prediction: String| {
                let pool = pool.clone();
                let me = me.clone();
                Box::pin(async move {
                    sqlx::query!(
                        "UPDATE jobs SET prediction_id = $3, updated_at = now()
                         WHERE id = $1 AND locked_by = $2",
                        id,
                        me,
                        prediction
                    )
                    .execute(&pool)
                    .await
                    .context("saving the prediction id")?;
                    Ok(())
                })
            })),
        }
    }

    async fn execute(&self, job: Claimed, stop: CancellationToken) {
        // Cancelling the run stops the work and, for a user's action, tells the provider;
        // for a lost lease the provider's work is left to the new owner (the heartbeat
        // decides which). Shutting down is neither: the work is dropped where it stands
        // and handed over, and the provider's prediction runs on for the next worker.
        let run = self.run_for(&job);
        // However this run ends, its heartbeat stops and the worker may claim the job
        // again: see `Running`.
        let _running = Running {
            worker: self,
            job: job.id,
            cancel: run.cancel.clone(),
        };
        let heartbeat = tokio::spawn({
            let worker = self.clone();
            let run = run.clone();
            async move { worker.heartbeat(job.id, run).await }
        });
        let cost = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let started = std::time::Instant::now();
        let result = if job.attempts > job.max_attempts {
            Some(Err(GenerationError::Failed(anyhow::anyhow!(
                "gave up after {} attempts",
                job.max_attempts
            ))))
        } else {
            let context = JobContext {
                pool: self.pool.clone(),
                storage: self.storage.clone(),
                media: self.media.clone(),
                run: run.clone(),
                job: job.id,
                worker: self.id.clone(),
                cost: cost.clone(),
                public_url: self.settings.public_url.clone(),
                spending: self.settings.spending.clone(),
                product_check: self.settings.product_check.clone(),
            };
            // A handler that panics is a bug, but its job must still end: the panic is
            // the run's error, retried or failed like any other.
            let work = AssertUnwindSafe(self.handler(job.kind).run(&job.payload, &context));
            tokio::select! {
                result = work.catch_unwind() => Some(result.unwrap_or_else(|panic| {
                    // What it said is for the operator; the user is told no more than
                    // that it was not the provider.
                    let panic = panic_message(panic.as_ref());
                    tracing::error!(job = %job.id, kind = job.kind, panic, "a job's handler panicked");
                    Err(GenerationError::Failed(anyhow::anyhow!("an internal error")))
                })),
                _ = stop.cancelled() => None,
            }
        };
        run.cancel.cancel();
        let _ = heartbeat.await;
        let cost = cost.load(Ordering::Relaxed);
        count_run(
            &job,
            result.as_ref(),
            run.is_handed_off(),
            started.elapsed(),
        );
        let outcome = match result {
            Some(result) => self.settle(&job, result, cost).await,
            None => self.hand_over(&job).await,
        };
        if let Err(error) = outcome {
            tracing::error!(error = format!("{error:#}"), job = %job.id, "could not record a job's end");
        }
    }

    /// Gives a job back to the queue at shutdown, at once and without counting the
    /// attempt, keeping its prediction id for whoever resumes it, and marking it handed
    /// over: dropped mid-create, it may have made a prediction whose id it never saved.
    async fn hand_over(&self, job: &Claimed) -> anyhow::Result<()> {
        sqlx::query!(
            "UPDATE jobs SET status = 'queued', locked_by = NULL, lease_until = NULL,
                    attempts = GREATEST(attempts - 1, 0), handed_over = true,
                    run_at = now(), updated_at = now()
             WHERE id = $1 AND locked_by = $2 AND status = 'running'",
            job.id,
            self.id
        )
        .execute(&self.pool)
        .await?;
        tracing::info!(job = %job.id, kind = job.kind, "job handed over at shutdown");
        Ok(())
    }

    /// Records how a job ended: done, retried later, failed for good, or nothing to do;
    /// a job that ended settles its reservation to `cost`, what its run paid for.
    async fn settle(
        &self,
        job: &Claimed,
        result: Result<Outcome, GenerationError>,
        cost: i64,
    ) -> anyhow::Result<()> {
        let error = match result {
            Ok(Outcome::Done) => {
                // Handlers that change nothing in the database leave this to the queue
                // (the others have done it already, and this changes nothing).
                let mut tx = self.pool.begin().await?;
                if super::mark_succeeded(&mut tx, job.id, &self.id).await? {
                    settle_job(&mut tx, job.id, cost).await?;
                }
                tx.commit().await?;
                return Ok(());
            }
            Ok(Outcome::Obsolete) | Err(GenerationError::Cancelled) => {
                let mut tx = self.pool.begin().await?;
                let ours = sqlx::query_scalar!(
                    "UPDATE jobs SET status = 'cancelled', lease_until = NULL, updated_at = now()
                     WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING id",
                    job.id,
                    self.id
                )
                .fetch_optional(&mut *tx)
                .await?;
                if ours.is_some() {
                    settle_job(&mut tx, job.id, cost).await?;
                }
                tx.commit().await?;
                return Ok(());
            }
            Err(error) => error,
        };
        let handler = self.handler(job.kind);
        let retry = handler.retryable(&job.payload, &error) && job.attempts < job.max_attempts;
        tracing::warn!(job = %job.id, kind = job.kind, attempt = job.attempts, retry, error = format!("{error:#}"), "job failed");
        let mut tx = self.pool.begin().await?;
        handler.lock_subject(&job.payload, &mut tx).await?;
        let delay = self.settings.backoff.as_secs_f64() * 2f64.powi(job.attempts.clamp(1, 10) - 1);
        let jitter = delay * (rand::random::<f64>() * 0.3);
        let updated = sqlx::query_scalar!(
            "UPDATE jobs SET status = $3, last_error = $4, locked_by = NULL, lease_until = NULL,
                    run_at = now() + make_interval(secs => $5), updated_at = now()
             WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING id",
            job.id,
            self.id,
            if retry { "queued" } else { "failed" },
            format!("{error:#}"),
            delay + jitter
        )
        .fetch_optional(&mut *tx)
        .await?;
        if updated.is_none() {
            return Ok(());
        }
        if !retry {
            settle_job(&mut tx, job.id, cost).await?;
        }
        let failure = Failure {
            message: user_message(&error),
            retry,
            attempt: job.attempts,
            max_attempts: job.max_attempts,
        };
        handler.on_failure(&job.payload, &mut tx, &failure).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Held by a run while it lasts. The release build unwinds on panic: were `execute` to
/// stop half-way, its heartbeat would otherwise renew the lease for ever (the job would
/// stay `running`, never retried) and the worker would never claim the job again.
/// Dropped, it ends the heartbeat, and the lease runs out for another claim.
struct Running<'a> {
    worker: &'a Worker,
    job: Uuid,
    cancel: CancellationToken,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.cancel.cancel();
        self.worker.running_now().remove(&self.job);
    }
}

/// What a panic said, for the job's error: `panic!` with a message gives a `&str` or a
/// `String`; anything else says nothing readable.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic")
}

/// A run's figures for `/metrics`: how it ended and how long it took (what it paid is
/// counted by provider as it is settled: `budget::ssr::settle_job`).
fn count_run(
    job: &Claimed,
    result: Option<&Result<Outcome, GenerationError>>,
    taken_over: bool,
    took: Duration,
) {
    let ended = match result {
        _ if taken_over => "taken_over",
        Some(Ok(Outcome::Done)) => "succeeded",
        Some(Ok(Outcome::Obsolete) | Err(GenerationError::Cancelled)) => "cancelled",
        Some(Err(_)) => "failed",
        None => "handed_over",
    };
    metrics::counter!("reelsmith_job_runs_total", "kind" => job.kind, "ended" => ended)
        .increment(1);
    metrics::histogram!("reelsmith_job_run_duration_seconds", "kind" => job.kind)
        .record(took.as_secs_f64());
}
