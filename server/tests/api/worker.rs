//! The job worker itself, with a job kind of the tests' own: how soon it takes the next
//! queued job, and what becomes of a job whose run panics, in its handler or past it (a
//! bug, which the release build unwinds from).

use crate::helpers::{replicate_worker, TestApp};
use app::{
    generation::ssr::GenerationError,
    jobs::{BackgroundJob, Failure, JobContext, Outcome, Registry},
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};
use tokio_util::sync::CancellationToken;

/// A job kind with bugs: the one numbered 0 panics; the one numbered [`PANICS_RECORDING`]
/// fails its first run and panics recording that failure (outside the handler, where
/// nothing catches it); the others are done at once.
#[derive(Serialize, Deserialize)]
struct Buggy {
    number: u32,
}

const PANICS_RECORDING: u32 = 7;

/// Whether the job numbered [`PANICS_RECORDING`] panicked recording its failure yet.
static RECORDING_PANICKED: AtomicBool = AtomicBool::new(false);

#[async_trait]
impl BackgroundJob for Buggy {
    const KIND: &'static str = "test_buggy";
    const MAX_ATTEMPTS: i32 = 2;
    const CONCURRENCY: usize = 1;

    fn idempotency_key(&self) -> String {
        format!("test_buggy:{}", self.number)
    }

    async fn run(&self, _context: &JobContext) -> Result<Outcome, GenerationError> {
        if self.number == 0 {
            panic!("a bug in the handler");
        }
        if self.number == PANICS_RECORDING && !RECORDING_PANICKED.load(Ordering::SeqCst) {
            return Err(GenerationError::Failed(anyhow::anyhow!(
                "a first run fails"
            )));
        }
        Ok(Outcome::Done)
    }

    async fn on_failure(&self, _tx: &mut PgConnection, _failure: &Failure) -> anyhow::Result<()> {
        if self.number == PANICS_RECORDING && !RECORDING_PANICKED.swap(true, Ordering::SeqCst) {
            panic!("a bug recording the failure");
        }
        Ok(())
    }
}

async fn queue(app: &TestApp, number: u32) -> uuid::Uuid {
    let mut connection = app.pool.acquire().await.unwrap();
    app::jobs::enqueue(&mut connection, None, &Buggy { number })
        .await
        .unwrap()
        .unwrap()
}

/// The job's status, attempts, error and whether it still holds a lease, once it is
/// `status` (30 s at most).
async fn once(app: &TestApp, job: uuid::Uuid, status: &str) -> (i32, Option<String>, bool) {
    let started = std::time::Instant::now();
    loop {
        let (now, attempts, error, leased): (String, i32, Option<String>, bool) = sqlx::query_as(
            "SELECT status, attempts, last_error, lease_until IS NOT NULL FROM jobs WHERE id = $1",
        )
        .bind(job)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if now == status {
            return (attempts, error, leased);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the job is still {now} (attempt {attempts}), not {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A worker running `Buggy` jobs alone. No provider is called: the address given for
/// one is never asked.
fn buggy_worker(app: &TestApp, work: &std::path::Path) -> app::jobs::Worker {
    replicate_worker(
        app.pool.clone(),
        app.storage.clone(),
        "http://127.0.0.1:9",
        work,
        Registry::default().register::<Buggy>(),
    )
}

#[tokio::test]
async fn a_worker_takes_the_next_queued_job_as_soon_as_one_ends() {
    let app = TestApp::spawn_without_worker().await;
    let work = tempfile::tempdir().unwrap();
    // Four jobs queued, and a worker that runs one at a time and, when nothing wakes
    // it, looks at the queue once a minute.
    let jobs = [
        queue(&app, 1).await,
        queue(&app, 2).await,
        queue(&app, 3).await,
        queue(&app, 4).await,
    ];
    let mut worker = buggy_worker(&app, work.path());
    worker.settings.poll = Duration::from_secs(60);
    let stop = CancellationToken::new();
    let started = std::time::Instant::now();
    let running = tokio::spawn(worker.run(stop.clone()));
    for job in jobs {
        once(&app, job, "succeeded").await;
    }
    // Each ended job's place is filled at once, not at the next look a minute later.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "four quick jobs took {:?}",
        started.elapsed()
    );
    stop.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_job_whose_handler_panics_is_retried_then_failed_and_the_worker_carries_on() {
    let app = TestApp::spawn_without_worker().await;
    let work = tempfile::tempdir().unwrap();
    let worker = buggy_worker(&app, work.path());
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    let buggy = queue(&app, 0).await;
    let (attempts, error, leased) = once(&app, buggy, "failed").await;
    assert_eq!(attempts, 2, "retried once, then failed");
    assert_eq!(error.as_deref(), Some("an internal error"));
    assert!(!leased, "a failed job holds no lease");

    // The worker carries on: the next job of the kind (one at a time) runs.
    let next = queue(&app, 1).await;
    once(&app, next, "succeeded").await;
    stop.cancel();
    running.await.unwrap();
}

/// A panic past the handler (here recording a failure) unwinds the run half-way: its
/// heartbeat must stop all the same, so that the lease runs out and the job is run
/// again, by this very worker, instead of staying `running` for ever.
#[tokio::test]
async fn a_job_whose_run_panics_past_its_handler_is_run_again_when_its_lease_runs_out() {
    let app = TestApp::spawn_without_worker().await;
    let work = tempfile::tempdir().unwrap();
    let worker = buggy_worker(&app, work.path());
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));

    let job = queue(&app, PANICS_RECORDING).await;
    let (attempts, _, leased) = once(&app, job, "succeeded").await;
    assert!(RECORDING_PANICKED.load(Ordering::SeqCst), "the bug was hit");
    assert_eq!(attempts, 2, "claimed again once its lease ran out");
    assert!(!leased, "a job that is done holds no lease");
    stop.cancel();
    running.await.unwrap();
}
