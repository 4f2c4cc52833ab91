//! The render job: fetches the approved clips and the music, runs the one-pass FFmpeg
//! render with progress on the render's stream, keeps the video and a poster still. A
//! render that failed would fail again (FFmpeg is deterministic), so only a storage or
//! database outage is retried.

use super::{
    assemble::Recipe,
    captions::{CaptionStyle, TimedCaption},
    events::{emit, Recorded},
    run::{render_best, RenderError},
    smart::kept::{self, KeptPieces},
};
use crate::{
    generation::{
        ffmpeg,
        ssr::{GeneratedMedia, GenerationError},
    },
    jobs::{BackgroundJob, Failure, JobContext, Outcome},
    projects::VideoFormat,
    storage::AssetKind,
};
use anyhow::Context;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// Renders one version of a project's final video.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RenderJob {
    pub composition_id: Uuid,
}

#[async_trait]
impl BackgroundJob for RenderJob {
    const KIND: &'static str = "render";
    const MAX_ATTEMPTS: i32 = 2;
    /// A render uses every core FFmpeg gets: one at a time.
    const CONCURRENCY: usize = 1;

    fn idempotency_key(&self) -> String {
        format!("render:{}", self.composition_id)
    }

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError> {
        perform(self.composition_id, context).await
    }

    fn retryable(&self, error: &GenerationError) -> bool {
        matches!(error, GenerationError::Unavailable(_))
    }

    async fn on_failure(&self, tx: &mut PgConnection, failure: &Failure) -> anyhow::Result<()> {
        let status = if failure.retry { "queued" } else { "failed" };
        let changed = sqlx::query_scalar!(
            "UPDATE compositions SET status = $2, error = $3, stage = $4,
                    finished_at = CASE WHEN $2 = 'failed' THEN now() END
             WHERE id = $1 AND status IN ('queued', 'running') RETURNING id",
            self.composition_id,
            status,
            (!failure.retry).then(|| failure.message.clone()),
            if failure.retry { "Retrying" } else { "Failed" }
        )
        .fetch_optional(&mut *tx)
        .await?;
        if changed.is_some() && !failure.retry {
            let message = failure.message.clone();
            emit(tx, self.composition_id, &Recorded::Error { message }).await?;
        }
        Ok(())
    }
}

async fn render_progress(
    pool: &PgPool,
    render: Uuid,
    percent: f32,
    stage: &str,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
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
        let stage = stage.to_string();
        emit(&mut tx, render, &Recorded::Progress { percent, stage }).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn perform(id: Uuid, context: &JobContext) -> Result<Outcome, GenerationError> {
    let cancel = &context.run.cancel;
    let row = sqlx::query!(
        "SELECT c.status, c.project_id, c.owner_id, p.format, c.clip_asset_ids, c.title,
                c.call_to_action, c.music_asset_id, c.music_volume, c.version, c.brand,
                c.voice_lines, c.caption_style
         FROM compositions c JOIN projects p ON p.id = c.project_id WHERE c.id = $1",
        id
    )
    .fetch_optional(&context.pool)
    .await
    .map_err(anyhow::Error::from)?;
    let Some(row) = row.filter(|r| matches!(r.status.as_str(), "queued" | "running")) else {
        return Ok(Outcome::Obsolete);
    };
    let recipe = Recipe {
        format: VideoFormat::parse(&row.format).unwrap_or_default(),
        clip_asset_ids: row.clip_asset_ids,
        title: row.title,
        call_to_action: row.call_to_action,
        music_asset_id: row.music_asset_id,
        music_volume: row.music_volume,
        brand: row
            .brand
            .map(serde_json::from_value)
            .transpose()
            .map_err(anyhow::Error::from)?,
        voice_lines: serde_json::from_value(row.voice_lines).map_err(anyhow::Error::from)?,
        captions: row.caption_style.as_deref().and_then(CaptionStyle::parse),
    };
    render_progress(&context.pool, id, 0.0, "Fetching the clips").await?;
    let dir = tempfile::Builder::new()
        .prefix("render-")
        .tempdir()
        .context("making a folder for the render")?;
    let composition = recipe.composition(context, dir.path(), cancel).await?;
    render_progress(&context.pool, id, 0.0, "Preparing the clips").await?;
    let normalised = recipe.normalised(context, &composition, dir.path()).await?;
    // Pieces this render neither makes nor fetches are let go once it is done.
    let started_at = kept::now(&context.pool).await?;
    let pieces = KeptPieces::new(context, row.owner_id, row.project_id);
    render_progress(&context.pool, id, 1.0, "Rendering").await?;
    // Progress goes to the database at most every half second, in whole percents.
    let (sender, mut receiver) = tokio::sync::watch::channel(0.0f64);
    let reporter = {
        let pool = context.pool.clone();
        tokio::spawn(async move {
            let mut last = 1.0f32;
            while receiver.changed().await.is_ok() {
                let percent = (*receiver.borrow_and_update() * 100.0).floor() as f32;
                let percent = percent.clamp(1.0, 99.0);
                if percent > last {
                    last = percent;
                    if let Err(error) = render_progress(&pool, id, percent, "Rendering").await {
                        tracing::warn!(%error, "could not record render progress");
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let output = dir.path().join("final.mp4");
    let rendered = render_best(
        &composition,
        &normalised,
        dir.path(),
        &output,
        &pieces,
        |p| {
            let _ = sender.send(p);
        },
        cancel,
    )
    .await;
    drop(sender);
    let _ = reporter.await;
    match rendered {
        Ok(way) => tracing::info!(render = %id, ?way, "rendered the final video"),
        Err(RenderError::Cancelled) => return Err(GenerationError::Cancelled),
        // Killed past its limit: tried once more (the job's second attempt), then failed.
        Err(error @ RenderError::TimedOut(_)) => {
            return Err(GenerationError::Unavailable(error.to_string()))
        }
        Err(RenderError::Failed(error)) => return Err(GenerationError::Failed(error)),
    }
    let probed = ffmpeg::probe(&output).await?;
    // A still for the player and for link previews.
    let poster_dir = tempfile::Builder::new()
        .prefix("poster-")
        .tempdir()
        .context("making a folder for the poster")?;
    let at = (probed.duration_secs.unwrap_or(2.0) / 3.0).min(1.5);
    ffmpeg::run(&[
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
    let poster = GeneratedMedia::new(poster_dir, "poster.jpg".into(), "jpg", "reelsmith");
    let poster = context
        .keep(
            row.owner_id,
            row.project_id,
            AssetKind::Image,
            &format!("Poster of the final video, version {}", row.version),
            poster,
        )
        .await?;
    let mut media = GeneratedMedia::new(dir, "final.mp4".into(), "mp4", "reelsmith");
    let (width, height) = composition.format.dimensions();
    media.width = Some(width as i32);
    media.height = Some(height as i32);
    media.duration_ms = probed.duration_secs.map(|d| (d * 1000.0).round() as i32);
    let duration_ms = media.duration_ms;
    let stored = context
        .keep(
            row.owner_id,
            row.project_id,
            AssetKind::Render,
            &format!("Final video, version {}", row.version),
            media,
        )
        .await?;
    // The captions as burned in, for their SRT and WebVTT files.
    let captions = composition.captions.map(|_| {
        let cues: Vec<TimedCaption> = composition
            .caption_cues()
            .iter()
            .map(TimedCaption::from)
            .collect();
        serde_json::json!(cues)
    });
    let mut tx = context.pool.begin().await.map_err(anyhow::Error::from)?;
    let ours = context.finish(&mut tx).await.map_err(anyhow::Error::from)?;
    let done = sqlx::query_scalar!(
        "UPDATE compositions SET status = 'succeeded', percent = 100, stage = 'Done', asset_id = $2,
                duration_ms = $3, poster_asset_id = $4, finished_at = now(), error = NULL,
                captions = $5
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING id",
        id,
        stored.id,
        duration_ms,
        poster.id,
        captions
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(anyhow::Error::from)?;
    if !ours || done.is_none() {
        return Ok(Outcome::Obsolete);
    }
    emit(
        &mut tx,
        id,
        &Recorded::Progress {
            percent: 100.0,
            stage: "Done".into(),
        },
    )
    .await
    .map_err(anyhow::Error::from)?;
    emit(&mut tx, id, &Recorded::Complete)
        .await
        .map_err(anyhow::Error::from)?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    kept::let_go_unused(context, row.project_id, started_at).await;
    Ok(Outcome::Done)
}
