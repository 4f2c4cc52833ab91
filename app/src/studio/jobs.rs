//! Durable jobs in Postgres: claimed with `FOR UPDATE SKIP LOCKED` (rows whose lease ran
//! out are claimed again), kept alive by a heartbeat, finished only by the worker holding
//! them, retried with backoff, limited per kind. A scene job saves the provider's
//! prediction id before waiting on it, so a retry resumes that prediction instead of
//! paying for a new one; its result is dropped if the scene moved on meanwhile.

use super::{
    events::{emit, Recorded},
    ssr::{lock_scene_for_job, save_scene, SceneRecord},
    GenStatus,
};
use crate::{
    generation::ssr::{
        keep, GenerationError, ImageRequest, MediaProviders, Rgb, Run, VideoRequest,
    },
    projects::VideoFormat,
    storage::{
        ssr::{ObjectKey, Storage},
        AssetKind,
    },
};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::{postgres::PgListener, PgConnection, PgPool};
use std::{collections::HashMap, sync::Arc, time::Duration};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const CHANNEL: &str = "jobs";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    SceneImage,
    SceneVideo,
    /// The final video (`render` module).
    Render,
    /// Removing a deleted project's stored files (see [`enqueue_file_sweep`]).
    DeleteFiles,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        Self::SceneImage,
        Self::SceneVideo,
        Self::Render,
        Self::DeleteFiles,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SceneImage => "scene_image",
            Self::SceneVideo => "scene_video",
            Self::Render => "render",
            Self::DeleteFiles => "delete_files",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenePayload {
    pub scene_id: Uuid,
    /// The scene's generation the job was made for.
    pub generation: i32,
}

/// Queues a job in the caller's transaction (once per scene generation and kind).
pub async fn enqueue(
    tx: &mut PgConnection,
    kind: JobKind,
    project: Uuid,
    payload: &ScenePayload,
) -> sqlx::Result<()> {
    let key = format!(
        "{}:{}:{}",
        kind.as_str(),
        payload.scene_id,
        payload.generation
    );
    sqlx::query!(
        "INSERT INTO jobs (id, kind, payload, idempotency_key, project_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (idempotency_key) DO NOTHING",
        Uuid::new_v4(),
        kind.as_str(),
        serde_json::to_value(payload).expect("payloads serialise"),
        key,
        project
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("SELECT pg_notify($1, $2)", CHANNEL, kind.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Queues the render of a composition, in the caller's transaction.
pub async fn enqueue_render(
    tx: &mut PgConnection,
    project: Uuid,
    composition: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO jobs (id, kind, payload, idempotency_key, project_id, max_attempts)
         VALUES ($1, $2, $3, $4, $5, 2)",
        Uuid::new_v4(),
        JobKind::Render.as_str(),
        serde_json::json!({ "composition_id": composition }),
        format!("render:{composition}"),
        project
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        CHANNEL,
        JobKind::Render.as_str()
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// How long after a project's deletion its files are swept again: longer than a lease,
/// so a job that was writing a file when the project went has stopped by then.
pub const FILE_SWEEP_DELAY: Duration = Duration::from_secs(120);

/// Queues, in the caller's transaction, a sweep of the stored files under `prefix`. The
/// caller deletes them at once as well; the sweep retries what failed and catches files
/// written after that (a generation finishing as its project went). It belongs to no
/// project, so it outlives the project's rows.
pub async fn enqueue_file_sweep(tx: &mut PgConnection, prefix: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO jobs (id, kind, payload, idempotency_key, max_attempts, run_at)
         VALUES ($1, $2, $3, $4, 10, now() + make_interval(secs => $5))
         ON CONFLICT (idempotency_key) DO NOTHING",
        Uuid::new_v4(),
        JobKind::DeleteFiles.as_str(),
        serde_json::json!({ "prefix": prefix }),
        format!("delete_files:{prefix}"),
        FILE_SWEEP_DELAY.as_secs_f64()
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Cancels a scene's unfinished jobs; a worker running one notices at its next heartbeat.
pub async fn cancel_scene_jobs(tx: &mut PgConnection, scene: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE jobs SET status = 'cancelled', updated_at = now()
         WHERE status IN ('queued', 'running') AND payload->>'scene_id' = $1",
        scene.to_string()
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// How long a claimed job is ours without a heartbeat.
    pub lease: Duration,
    /// How often to look for work when no wake-up comes.
    pub poll: Duration,
    /// Jobs of one kind running at once in this worker.
    pub concurrency: HashMap<JobKind, usize>,
    /// First retry delay; doubled per attempt, with jitter.
    pub backoff: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(5),
            // A render uses every core FFmpeg gets: one at a time.
            concurrency: HashMap::from([
                (JobKind::SceneImage, 2),
                (JobKind::SceneVideo, 2),
                (JobKind::Render, 1),
                (JobKind::DeleteFiles, 1),
            ]),
            backoff: Duration::from_secs(2),
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
    /// Names this worker in `locked_by`.
    pub id: String,
}

struct Claimed {
    id: Uuid,
    kind: JobKind,
    payload: serde_json::Value,
    attempts: i32,
    max_attempts: i32,
    prediction_id: Option<String>,
}

enum Outcome {
    Done,
    /// The scene moved on or is gone: nothing to do.
    Obsolete,
}

impl Worker {
    pub fn new(
        pool: PgPool,
        storage: Arc<dyn Storage>,
        media: MediaProviders,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            pool,
            storage,
            media,
            settings,
            id: format!("worker-{}", Uuid::new_v4().simple()),
        }
    }

    /// Runs jobs until `stop` is cancelled. Jobs still running then are left to their
    /// leases: another worker (or this one after a restart) picks them up.
    pub async fn run(self, stop: CancellationToken) {
        let limits: HashMap<JobKind, Arc<Semaphore>> = JobKind::ALL
            .into_iter()
            .map(|kind| {
                let n = self
                    .settings
                    .concurrency
                    .get(&kind)
                    .copied()
                    .unwrap_or(1)
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
        tracing::info!(worker = %self.id, "job worker started");
        while !stop.is_cancelled() {
            let mut claimed_any = false;
            for kind in JobKind::ALL {
                let Ok(permit) = limits[&kind].clone().try_acquire_owned() else {
                    continue;
                };
                match self.claim(kind).await {
                    Ok(Some(job)) => {
                        claimed_any = true;
                        let worker = self.clone();
                        let stop = stop.clone();
                        running.spawn(async move {
                            worker.execute(job, stop).await;
                            drop(permit);
                        });
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
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
        running.close();
        tracing::info!(worker = %self.id, "job worker stopped");
    }

    async fn claim(&self, kind: JobKind) -> sqlx::Result<Option<Claimed>> {
        let row = sqlx::query!(
            "UPDATE jobs SET status = 'running', locked_by = $1, attempts = attempts + 1,
                    lease_until = now() + make_interval(secs => $2), updated_at = now()
             WHERE id = (
                 SELECT id FROM jobs
                 WHERE kind = $3
                   AND ((status = 'queued' AND run_at <= now())
                        OR (status = 'running' AND lease_until < now()))
                 ORDER BY run_at, created_at
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, payload, attempts, max_attempts, prediction_id",
            self.id,
            self.settings.lease.as_secs_f64(),
            kind.as_str()
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| Claimed {
            id: row.id,
            kind,
            payload: row.payload,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            prediction_id: row.prediction_id,
        }))
    }

    /// Extends the lease while the job runs; cancels it when the job is no longer ours
    /// (cancelled by a user action, or taken over after a lost lease).
    async fn heartbeat(&self, job: Uuid, cancel: CancellationToken) {
        let every = self.settings.lease / 3;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
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
                    tracing::info!(%job, "job cancelled or taken over; stopping it");
                    cancel.cancel();
                    return;
                }
                Err(error) => tracing::warn!(%error, %job, "heartbeat failed"),
            }
        }
    }

    async fn execute(&self, job: Claimed, stop: CancellationToken) {
        let cancel = stop.child_token();
        let heartbeat = tokio::spawn({
            let worker = self.clone();
            let cancel = cancel.clone();
            async move { worker.heartbeat(job.id, cancel).await }
        });
        let result = if job.attempts > job.max_attempts {
            Err(GenerationError::Failed(anyhow::anyhow!(
                "gave up after {} attempts",
                job.max_attempts
            )))
        } else {
            self.perform(&job, &cancel).await
        };
        cancel.cancel();
        let _ = heartbeat.await;
        if stop.is_cancelled() {
            // Shutting down: the lease runs out and the job is picked up again.
            return;
        }
        if let Err(error) = self.settle(&job, result).await {
            tracing::error!(error = format!("{error:#}"), job = %job.id, "could not record a job's end");
        }
    }

    async fn perform(
        &self,
        job: &Claimed,
        cancel: &CancellationToken,
    ) -> Result<Outcome, GenerationError> {
        match job.kind {
            JobKind::Render => return self.perform_render(job, cancel).await,
            JobKind::DeleteFiles => return self.sweep_files(job).await,
            JobKind::SceneImage | JobKind::SceneVideo => {}
        }
        let payload: ScenePayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| GenerationError::Refused(format!("unreadable job: {e}")))?;
        let Some(context) = self.start_scene(job, &payload).await? else {
            return Ok(Outcome::Obsolete);
        };
        let run = Run {
            cancel: cancel.clone(),
            resume: job.prediction_id.clone(),
            on_started: Some(Arc::new({
                let pool = self.pool.clone();
                let job = job.id;
                let me = self.id.clone();
                move |prediction: String| {
                    let pool = pool.clone();
                    let me = me.clone();
                    Box::pin(async move {
                        sqlx::query!(
                            "UPDATE jobs SET prediction_id = $3, updated_at = now()
                             WHERE id = $1 AND locked_by = $2",
                            job,
                            me,
                            prediction
                        )
                        .execute(&pool)
                        .await
                        .context("saving the prediction id")?;
                        Ok(())
                    })
                }
            })),
        };
        let scene = &context.scene;
        let (kind, media, prompt) = match job.kind {
            JobKind::SceneImage => {
                let request = ImageRequest {
                    prompt: scene.visual.clone(),
                    format: context.format,
                    palette: context.palette.clone(),
                    caption: Some(scene.text.clone()),
                    seed: seed_of(scene),
                };
                let media = self.media.image.generate_image(&request, &run).await?;
                (AssetKind::Image, media, request.prompt)
            }
            JobKind::Render | JobKind::DeleteFiles => {
                return Err(GenerationError::Refused("not a scene job".into()));
            }
            JobKind::SceneVideo => {
                let key = scene
                    .image_key
                    .as_deref()
                    .ok_or_else(|| GenerationError::Refused("the scene has no image".into()))?;
                let key = ObjectKey::parse(key)?;
                let bytes = run
                    .cancellable(async { Ok(self.storage.get_bytes(&key).await?) })
                    .await?;
                let dir = tempfile::tempdir().context("making a folder for the seed image")?;
                let image = dir
                    .path()
                    .join(format!("seed.{}", key.extension().unwrap_or("png")));
                tokio::fs::write(&image, &bytes)
                    .await
                    .context("writing the seed image")?;
                let request = VideoRequest {
                    prompt: scene.visual.clone(),
                    format: context.format,
                    image,
                    duration_secs: scene.duration_secs as f64,
                    seed: seed_of(scene),
                };
                let media = self.media.video.generate_video(&request, &run).await?;
                (AssetKind::Video, media, request.prompt)
            }
        };
        let stored = run
            .cancellable(async {
                Ok(keep(
                    &self.pool,
                    &*self.storage,
                    context.owner,
                    context.project,
                    kind,
                    &prompt,
                    media,
                )
                .await?)
            })
            .await?;
        self.finish_scene(job, &payload, kind, stored.id, stored.key.as_str())
            .await
    }

    /// Marks a job done, if it is still this worker's; false when it is not.
    async fn mark_succeeded(&self, tx: &mut PgConnection, job: Uuid) -> sqlx::Result<bool> {
        let ours = sqlx::query_scalar!(
            "UPDATE jobs SET status = 'succeeded', last_error = NULL, updated_at = now()
             WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING id",
            job,
            self.id
        )
        .fetch_optional(&mut *tx)
        .await?;
        Ok(ours.is_some())
    }

    /// Deletes the files under a deleted project's prefix. Storage errors are retried
    /// with backoff (the job allows ten attempts).
    async fn sweep_files(&self, job: &Claimed) -> Result<Outcome, GenerationError> {
        let prefix = job
            .payload
            .get("prefix")
            .and_then(|p| p.as_str())
            .ok_or_else(|| GenerationError::Refused("a file sweep without a prefix".into()))?;
        self.storage
            .delete_prefix(prefix)
            .await
            .map_err(GenerationError::Failed)?;
        let mut tx = self.pool.begin().await.map_err(anyhow::Error::from)?;
        self.mark_succeeded(&mut tx, job.id)
            .await
            .map_err(anyhow::Error::from)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        tracing::info!(prefix, "swept a deleted project's files");
        Ok(Outcome::Done)
    }

    /// Marks the scene's stage as running, unless the job is obsolete.
    async fn start_scene(
        &self,
        job: &Claimed,
        payload: &ScenePayload,
    ) -> Result<Option<SceneJobContext>, GenerationError> {
        let mut tx = self.pool.begin().await.map_err(anyhow::Error::from)?;
        let Some(mut scene) = lock_scene_for_job(&mut tx, payload.scene_id)
            .await
            .map_err(anyhow::Error::from)?
        else {
            return Ok(None);
        };
        if scene.generation != payload.generation {
            return Ok(None);
        }
        let row = sqlx::query!(
            "SELECT p.id, p.owner_id, p.format, sb.mood FROM storyboards sb
             JOIN projects p ON p.id = sb.project_id WHERE sb.id = $1",
            scene.storyboard_id
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(anyhow::Error::from)?;
        let status = stage_status(&mut scene, job.kind);
        if *status != GenStatus::Running {
            *status = GenStatus::Running;
            save_scene(&mut tx, &scene)
                .await
                .map_err(anyhow::Error::from)?;
        }
        tx.commit().await.map_err(anyhow::Error::from)?;
        let palette = row
            .mood
            .get("palette")
            .and_then(|p| p.as_array())
            .map(|colours| {
                colours
                    .iter()
                    .filter_map(|c| c.as_str().and_then(Rgb::parse))
                    .collect::<Vec<_>>()
            })
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| vec![Rgb(0x1f, 0x2a, 0x30), Rgb(0xdf, 0xe7, 0xea)]);
        Ok(Some(SceneJobContext {
            scene,
            project: row.id,
            owner: row.owner_id,
            format: VideoFormat::parse(&row.format).unwrap_or_default(),
            palette,
        }))
    }

    async fn finish_scene(
        &self,
        job: &Claimed,
        payload: &ScenePayload,
        kind: AssetKind,
        asset: Uuid,
        key: &str,
    ) -> Result<Outcome, GenerationError> {
        let mut tx = self.pool.begin().await.map_err(anyhow::Error::from)?;
        let scene = lock_scene_for_job(&mut tx, payload.scene_id)
            .await
            .map_err(anyhow::Error::from)?;
        let Some(mut scene) = scene.filter(|s| s.generation == payload.generation) else {
            return Ok(Outcome::Obsolete);
        };
        let ours = self
            .mark_succeeded(&mut tx, job.id)
            .await
            .map_err(anyhow::Error::from)?;
        if !ours {
            return Ok(Outcome::Obsolete);
        }
        match kind {
            AssetKind::Image => {
                scene.image_status = GenStatus::Ready;
                scene.image_asset_id = Some(asset);
                scene.image_key = Some(key.to_string());
            }
            _ => {
                scene.video_status = GenStatus::Ready;
                scene.video_asset_id = Some(asset);
                scene.video_key = Some(key.to_string());
            }
        }
        scene.error = None;
        save_scene(&mut tx, &scene)
            .await
            .map_err(anyhow::Error::from)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        Ok(Outcome::Done)
    }

    /// Records how a job ended: retried later, failed for good, or nothing more to do.
    async fn settle(
        &self,
        job: &Claimed,
        result: Result<Outcome, GenerationError>,
    ) -> anyhow::Result<()> {
        let error = match result {
            Ok(Outcome::Done) => return Ok(()),
            Ok(Outcome::Obsolete) | Err(GenerationError::Cancelled) => {
                sqlx::query!(
                    "UPDATE jobs SET status = 'cancelled', updated_at = now()
                     WHERE id = $1 AND locked_by = $2 AND status = 'running'",
                    job.id,
                    self.id
                )
                .execute(&self.pool)
                .await?;
                return Ok(());
            }
            Err(error) => error,
        };
        // A render that failed would fail again (FFmpeg is deterministic), unless storage
        // or the database was unavailable.
        let retryable = match job.kind {
            JobKind::Render => matches!(error, GenerationError::Unavailable(_)),
            _ => !matches!(error, GenerationError::Refused(_)),
        };
        let retry = retryable && job.attempts < job.max_attempts;
        let message = user_message(&error);
        tracing::warn!(job = %job.id, kind = job.kind.as_str(), attempt = job.attempts, retry, error = format!("{error:#}"), "job failed");
        let payload: Option<ScenePayload> = serde_json::from_value(job.payload.clone()).ok();
        let mut tx = self.pool.begin().await?;
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
        if job.kind == JobKind::Render {
            if let Some(render) = render_id(job) {
                let status = if retry { "queued" } else { "failed" };
                let changed = sqlx::query_scalar!(
                    "UPDATE compositions SET status = $2, error = $3, stage = $4,
                            finished_at = CASE WHEN $2 = 'failed' THEN now() END
                     WHERE id = $1 AND status IN ('queued', 'running') RETURNING id",
                    render,
                    status,
                    (!retry).then(|| message.clone()),
                    if retry { "Retrying" } else { "Failed" }
                )
                .fetch_optional(&mut *tx)
                .await?;
                if changed.is_some() && !retry {
                    crate::render::ssr::emit(
                        &mut tx,
                        render,
                        &crate::render::ssr::Recorded::Error { message },
                    )
                    .await?;
                }
            }
        } else if let Some(payload) = payload {
            if let Some(mut scene) = lock_scene_for_job(&mut tx, payload.scene_id).await? {
                if scene.generation == payload.generation {
                    let status = stage_status(&mut scene, job.kind);
                    *status = if retry {
                        GenStatus::Queued
                    } else {
                        GenStatus::Failed
                    };
                    scene.error = Some(if retry {
                        format!(
                            "{message} Retrying shortly (attempt {} of {}).",
                            job.attempts + 1,
                            job.max_attempts
                        )
                    } else {
                        message.clone()
                    });
                    save_scene(&mut tx, &scene).await?;
                    if !retry {
                        emit(
                            &mut tx,
                            scene.storyboard_id,
                            &Recorded::StoryboardError {
                                scene_id: scene.id,
                                message,
                            },
                        )
                        .await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The scene's status for the stage a scene job makes: the seed image or the clip.
fn stage_status(scene: &mut SceneRecord, kind: JobKind) -> &mut GenStatus {
    match kind {
        JobKind::SceneImage => &mut scene.image_status,
        JobKind::SceneVideo | JobKind::Render | JobKind::DeleteFiles => &mut scene.video_status,
    }
}

fn render_id(job: &Claimed) -> Option<Uuid> {
    job.payload
        .get("composition_id")
        .and_then(|id| id.as_str())
        .and_then(|id| Uuid::parse_str(id).ok())
}

impl Worker {
    async fn render_progress(&self, render: Uuid, percent: f32, stage: &str) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query_scalar!(
            "UPDATE compositions SET status = 'running', percent = $2, stage = $3
             WHERE id = $1 AND status IN ('queued', 'running') RETURNING id",
            render,
            percent,
            stage
        )
        .fetch_optional(&mut *tx)
        .await?;
        if updated.is_some() {
            crate::render::ssr::emit(
                &mut tx,
                render,
                &crate::render::ssr::Recorded::Progress {
                    percent,
                    stage: stage.to_string(),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn fetch(&self, asset: Uuid, file: &std::path::Path) -> anyhow::Result<()> {
        let key = sqlx::query_scalar!("SELECT storage_key FROM assets WHERE id = $1", asset)
            .fetch_one(&self.pool)
            .await?;
        let bytes = self.storage.get_bytes(&ObjectKey::parse(&key)?).await?;
        tokio::fs::write(file, &bytes).await?;
        Ok(())
    }

    async fn perform_render(
        &self,
        job: &Claimed,
        cancel: &CancellationToken,
    ) -> Result<Outcome, GenerationError> {
        use crate::render::compose::{render, Clip, Composition, Encoder, Music, RenderError};
        let id = render_id(job).ok_or_else(|| GenerationError::Refused("unreadable job".into()))?;
        let row = sqlx::query!(
            "SELECT c.status, c.project_id, c.owner_id, p.format, c.clip_asset_ids, c.title,
                    c.call_to_action, c.music_asset_id, c.music_volume, c.version
             FROM compositions c JOIN projects p ON p.id = c.project_id WHERE c.id = $1",
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(anyhow::Error::from)?;
        let Some(row) = row.filter(|r| matches!(r.status.as_str(), "queued" | "running")) else {
            return Ok(Outcome::Obsolete);
        };
        self.render_progress(id, 0.0, "Fetching the clips").await?;
        let dir = tempfile::Builder::new()
            .prefix("render-")
            .tempdir()
            .context("making a folder for the render")?;
        let mut clips = Vec::new();
        for (i, asset) in row.clip_asset_ids.iter().enumerate() {
            let path = dir.path().join(format!("clip{i}.mp4"));
            run_fetch(self, *asset, &path, cancel).await?;
            let probed = crate::generation::ffmpeg::probe(&path).await?;
            clips.push(Clip {
                duration_secs: probed.duration_secs.unwrap_or(0.0),
                has_audio: probed.audio_codec.is_some(),
                path,
            });
        }
        let music = match row.music_asset_id {
            Some(asset) => {
                let path = dir.path().join("music.m4a");
                run_fetch(self, asset, &path, cancel).await?;
                Some(Music {
                    path,
                    volume: row.music_volume as f64,
                })
            }
            None => None,
        };
        let composition = Composition {
            clips,
            format: VideoFormat::parse(&row.format).unwrap_or_default(),
            title: row.title,
            call_to_action: row.call_to_action,
            music,
            encoder: Encoder::default(),
        };
        self.render_progress(id, 1.0, "Rendering").await?;
        // Progress goes to the database at most every half second, in whole percents.
        let (sender, mut receiver) = tokio::sync::watch::channel(0.0f64);
        let reporter = {
            let worker = self.clone();
            tokio::spawn(async move {
                let mut last = 1.0f32;
                while receiver.changed().await.is_ok() {
                    let percent = (*receiver.borrow_and_update() * 100.0).floor() as f32;
                    let percent = percent.clamp(1.0, 99.0);
                    if percent > last {
                        last = percent;
                        if let Err(error) = worker.render_progress(id, percent, "Rendering").await {
                            tracing::warn!(%error, "could not record render progress");
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
        };
        let output = dir.path().join("final.mp4");
        let rendered = render(
            &composition,
            dir.path(),
            &output,
            |p| {
                let _ = sender.send(p);
            },
            cancel,
        )
        .await;
        drop(sender);
        let _ = reporter.await;
        match rendered {
            Ok(()) => {}
            Err(RenderError::Cancelled) => return Err(GenerationError::Cancelled),
            Err(RenderError::Failed(error)) => return Err(GenerationError::Failed(error)),
        }
        let probed = crate::generation::ffmpeg::probe(&output).await?;
        // A still for the player and for link previews.
        let poster_dir = tempfile::Builder::new()
            .prefix("poster-")
            .tempdir()
            .context("making a folder for the poster")?;
        let at = (probed.duration_secs.unwrap_or(2.0) / 3.0).min(1.5);
        crate::generation::ffmpeg::run(&[
            "-ss".into(),
            format!("{at:.2}"),
            "-i".into(),
            output.to_string_lossy().into_owned(),
            "-frames:v".into(),
            "1".into(),
            "-q:v".into(),
            "3".into(),
            poster_dir
                .path()
                .join("poster.jpg")
                .to_string_lossy()
                .into_owned(),
        ])
        .await?;
        let poster = crate::generation::ssr::GeneratedMedia::new(
            poster_dir,
            "poster.jpg".into(),
            "jpg",
            "reelsmith",
        );
        let poster = keep(
            &self.pool,
            &*self.storage,
            row.owner_id,
            row.project_id,
            AssetKind::Image,
            &format!("Poster of the final video, version {}", row.version),
            poster,
        )
        .await?;
        let mut media = crate::generation::ssr::GeneratedMedia::new(
            dir,
            "final.mp4".into(),
            "mp4",
            "reelsmith",
        );
        let (width, height) = composition.format.dimensions();
        media.width = Some(width as i32);
        media.height = Some(height as i32);
        media.duration_ms = probed.duration_secs.map(|d| (d * 1000.0).round() as i32);
        let duration_ms = media.duration_ms;
        let stored = keep(
            &self.pool,
            &*self.storage,
            row.owner_id,
            row.project_id,
            AssetKind::Render,
            &format!("Final video, version {}", row.version),
            media,
        )
        .await?;
        let mut tx = self.pool.begin().await.map_err(anyhow::Error::from)?;
        let ours = self
            .mark_succeeded(&mut tx, job.id)
            .await
            .map_err(anyhow::Error::from)?;
        let done = sqlx::query_scalar!(
            "UPDATE compositions SET status = 'succeeded', percent = 100, stage = 'Done', asset_id = $2,
                    duration_ms = $3, poster_asset_id = $4, finished_at = now(), error = NULL
             WHERE id = $1 AND status IN ('queued', 'running') RETURNING id",
            id,
            stored.id,
            duration_ms,
            poster.id
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(anyhow::Error::from)?;
        if !ours || done.is_none() {
            return Ok(Outcome::Obsolete);
        }
        crate::render::ssr::emit(
            &mut tx,
            id,
            &crate::render::ssr::Recorded::Progress {
                percent: 100.0,
                stage: "Done".into(),
            },
        )
        .await
        .map_err(anyhow::Error::from)?;
        crate::render::ssr::emit(&mut tx, id, &crate::render::ssr::Recorded::Complete)
            .await
            .map_err(anyhow::Error::from)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        Ok(Outcome::Done)
    }
}

async fn run_fetch(
    worker: &Worker,
    asset: Uuid,
    path: &std::path::Path,
    cancel: &CancellationToken,
) -> Result<(), GenerationError> {
    tokio::select! {
        _ = cancel.cancelled() => Err(GenerationError::Cancelled),
        result = worker.fetch(asset, path) => result.map_err(|e| GenerationError::Unavailable(format!("{e:#}"))),
    }
}

struct SceneJobContext {
    scene: SceneRecord,
    project: Uuid,
    owner: Uuid,
    format: VideoFormat,
    palette: Vec<Rgb>,
}

/// A stable seed per scene and generation: the same request gives the same media.
fn seed_of(scene: &SceneRecord) -> u64 {
    let bytes = scene.id.as_u128();
    (bytes as u64) ^ ((bytes >> 64) as u64) ^ (scene.generation as u64).wrapping_mul(0x9E37_79B9)
}

/// What the user reads when a generation fails.
pub fn user_message(error: &GenerationError) -> String {
    match error {
        GenerationError::Refused(reason) => format!("The provider refused this: {reason}"),
        GenerationError::Unavailable(reason) => format!("The provider is unavailable ({reason})."),
        GenerationError::Cancelled => "Cancelled.".into(),
        GenerationError::Failed(error) => format!("Generation failed: {error}"),
    }
}
