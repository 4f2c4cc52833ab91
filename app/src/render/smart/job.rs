//! Normalising an approved clip in the background, while the user approves the others,
//! so that the final render finds it ready (see `normalise.rs`). The file is kept in
//! storage as the project's asset and recorded by clip, format and encoder settings:
//! a clip approved again, or another render, reuses it; a new clip gets its own.

use super::{
    normalise::{normalise, settings},
    Normalised,
};
use crate::{
    generation::ssr::{GeneratedMedia, GenerationError},
    jobs::{BackgroundJob, JobContext, Outcome},
    projects::VideoFormat,
    render::{
        assemble::fetch,
        compose::{Encoder, FPS},
    },
    storage::AssetKind,
};
use anyhow::Context;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::{path::Path, time::Duration};
use uuid::Uuid;

/// How long normalising one clip may take (a few seconds of video; a busy machine is
/// slow).
const LIMIT: Duration = Duration::from_secs(10 * 60);

/// Normalises an approved clip for the project's format.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NormaliseClip {
    pub clip_asset_id: Uuid,
    pub format: String,
}

/// Queues the normalising of `clip` in `format`, in the caller's transaction (nothing
/// when it is queued or done already).
pub async fn enqueue(
    tx: &mut PgConnection,
    project: Uuid,
    clip: Uuid,
    format: VideoFormat,
) -> sqlx::Result<()> {
    let job = NormaliseClip {
        clip_asset_id: clip,
        format: format.ratio().into(),
    };
    crate::jobs::enqueue(tx, Some(project), &job).await?;
    Ok(())
}

#[async_trait]
impl BackgroundJob for NormaliseClip {
    const KIND: &'static str = "normalise_clip";
    const MAX_ATTEMPTS: i32 = 3;
    /// An encode uses the cores it gets.
    const CONCURRENCY: usize = 1;

    fn idempotency_key(&self) -> String {
        format!(
            "normalise:{}:{}:{}",
            self.clip_asset_id,
            self.format,
            settings(&Encoder::default())
        )
    }

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError> {
        let format = VideoFormat::parse(&self.format).unwrap_or_default();
        let encoder = Encoder::default();
        if find(&context.pool, self.clip_asset_id, format, &encoder)
            .await?
            .is_some()
        {
            return Ok(Outcome::Done);
        }
        let dir = tempfile::Builder::new()
            .prefix("normalise-")
            .tempdir()
            .context("making a folder for the clip")?;
        let source = dir.path().join("clip.mp4");
        fetch(context, self.clip_asset_id, &source).await?;
        let made = tokio::select! {
            _ = context.run.cancel.cancelled() => return Err(GenerationError::Cancelled),
            made = make(context, self.clip_asset_id, format, &encoder, &source) => made?,
        };
        let mut tx = context.pool.begin().await.map_err(anyhow::Error::from)?;
        record(&mut tx, self.clip_asset_id, format, &encoder, made).await?;
        if !context.finish(&mut tx).await.map_err(anyhow::Error::from)? {
            return Ok(Outcome::Obsolete);
        }
        tx.commit().await.map_err(anyhow::Error::from)?;
        Ok(Outcome::Done)
    }
}

/// A normalised file kept in storage: its asset and its frames.
#[derive(Clone, Copy, Debug)]
pub struct Kept {
    pub asset_id: Uuid,
    pub frames: u32,
}

/// The kept normalised file of `clip` in `format`, if there is one.
pub async fn find(
    pool: &PgPool,
    clip: Uuid,
    format: VideoFormat,
    encoder: &Encoder,
) -> anyhow::Result<Option<Kept>> {
    let row = sqlx::query!(
        "SELECT asset_id, frames FROM normalised_clips
         WHERE clip_asset_id = $1 AND format = $2 AND settings = $3",
        clip,
        format.ratio(),
        settings(encoder)
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| Kept {
        asset_id: row.asset_id,
        frames: row.frames.max(0) as u32,
    }))
}

/// Records `kept` as the normalised file of `clip` (a second one made meanwhile by
/// another worker leaves the first recorded).
pub async fn record(
    tx: &mut PgConnection,
    clip: Uuid,
    format: VideoFormat,
    encoder: &Encoder,
    kept: Kept,
) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO normalised_clips (clip_asset_id, format, settings, asset_id, frames)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        clip,
        format.ratio(),
        settings(encoder),
        kept.asset_id,
        kept.frames as i32
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Normalises the clip fetched at `source` and keeps the file in storage, as an asset of
/// the clip's own project; answers it (not yet recorded: see [`record`]).
pub async fn make(
    context: &JobContext,
    clip: Uuid,
    format: VideoFormat,
    encoder: &Encoder,
    source: &Path,
) -> anyhow::Result<Kept> {
    let owner = sqlx::query!(
        "SELECT owner_id, project_id FROM assets WHERE id = $1",
        clip
    )
    .fetch_one(&context.pool)
    .await?;
    let dir = tempfile::Builder::new()
        .prefix("normalised-")
        .tempdir()
        .context("making a folder for the normalised clip")?;
    let output = dir.path().join("normalised.mp4");
    let frames = normalise(source, format, encoder, &output, LIMIT).await?;
    let mut media = GeneratedMedia::new(dir, "normalised.mp4".into(), "mp4", "reelsmith");
    let (width, height) = format.dimensions();
    media.width = Some(width as i32);
    media.height = Some(height as i32);
    media.duration_ms = Some((frames as f64 * 1000.0 / FPS as f64).round() as i32);
    let stored = context
        .keep(
            owner.owner_id,
            owner.project_id.context("a clip of no project")?,
            AssetKind::Video,
            "A clip normalised for the final render",
            media,
        )
        .await?;
    Ok(Kept {
        asset_id: stored.id,
        frames,
    })
}

/// The normalised file of `clip` for a render, fetched into `dir`: the kept one, or one
/// made now from `source` (the clip, fetched already) and kept for the next render.
pub async fn for_render(
    context: &JobContext,
    clip: Uuid,
    format: VideoFormat,
    encoder: &Encoder,
    source: &Path,
    dir: &Path,
) -> anyhow::Result<Normalised> {
    let kept = match find(&context.pool, clip, format, encoder).await? {
        Some(kept) => kept,
        None => {
            let kept = make(context, clip, format, encoder, source).await?;
            let mut tx = context.pool.begin().await?;
            record(&mut tx, clip, format, encoder, kept).await?;
            tx.commit().await?;
            kept
        }
    };
    let path = dir.join(format!("normalised-{clip}.mp4"));
    fetch(context, kept.asset_id, &path).await?;
    Ok(Normalised {
        path,
        frames: kept.frames,
    })
}
