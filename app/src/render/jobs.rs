//! The render job: fetches the approved clips and the music, runs the one-pass FFmpeg
//! render with progress on the render's stream, keeps the video and a poster still. A
//! render that failed would fail again (FFmpeg is deterministic), so only a storage or
//! database outage is retried.

use super::{
    branding::{Brand, Logo},
    captions::{CaptionStyle, TimedCaption},
    compose::{Clip, Composition, Encoder, Music},
    events::{emit, Recorded},
    mix::VoiceLine,
    run::{render_best, RenderError},
    smart::{job::for_render, Normalised},
    ssr::VoiceLineRef,
};
use crate::{
    brand::{bundled_font, font::bundled_bytes, ssr::BrandSnapshot, BUNDLED_FONTS},
    creative::timing::VOICE_LEAD_SECS,
    generation::{
        ffmpeg,
        ssr::{GeneratedMedia, GenerationError},
    },
    jobs::{BackgroundJob, Failure, JobContext, Outcome},
    projects::VideoFormat,
    storage::{ssr::ObjectKey, AssetKind},
};
use anyhow::Context;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
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

/// Fetches asset `asset` from storage into `file`.
pub(crate) async fn fetch(
    context: &JobContext,
    asset: Uuid,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    let key = sqlx::query_scalar!("SELECT storage_key FROM assets WHERE id = $1", asset)
        .fetch_one(&context.pool)
        .await?;
    let bytes = context.storage.get_bytes(&ObjectKey::parse(&key)?).await?;
    tokio::fs::write(file, &bytes).await?;
    Ok(())
}

async fn run_fetch(
    context: &JobContext,
    asset: Uuid,
    path: &std::path::Path,
    cancel: &CancellationToken,
) -> Result<(), GenerationError> {
    tokio::select! {
        _ = cancel.cancelled() => Err(GenerationError::Cancelled),
        result = fetch(context, asset, path) => result.map_err(|e| GenerationError::Unavailable(format!("{e:#}"))),
    }
}

/// The kit of a render with its files fetched into `dir`: the logo, and the uploaded font
/// or the bundled one.
async fn brand_files(
    context: &JobContext,
    snapshot: &BrandSnapshot,
    dir: &std::path::Path,
    cancel: &CancellationToken,
) -> Result<Brand, GenerationError> {
    let font = dir.join("brand-font");
    match snapshot.font_asset_id {
        Some(asset) => run_fetch(context, asset, &font, cancel).await?,
        None => {
            let bundled = bundled_font(&snapshot.bundled_font).unwrap_or(BUNDLED_FONTS[0]);
            tokio::fs::write(&font, bundled_bytes(bundled))
                .await
                .context("writing the font")?;
        }
    }
    let logo = match snapshot.logo_asset_id {
        Some(asset) => {
            let size = sqlx::query!("SELECT width, height FROM assets WHERE id = $1", asset)
                .fetch_one(&context.pool)
                .await
                .map_err(anyhow::Error::from)?;
            let path = dir.join("brand-logo.png");
            run_fetch(context, asset, &path, cancel).await?;
            Some(Logo {
                path,
                width: size.width.unwrap_or(1).max(1) as u32,
                height: size.height.unwrap_or(1).max(1) as u32,
            })
        }
        None => None,
    };
    Ok(Brand {
        font,
        colors: snapshot.colors.clone(),
        logo,
        corner: snapshot.logo_corner,
        logo_size: snapshot.logo_size as f64,
        handle: snapshot.handle.clone(),
        end_card_secs: snapshot.end_card_secs.map(f64::from),
    })
}

/// Each clip's normalised file (made in the background when it was approved; made now
/// for any that is not there yet, and kept), or none at all if one cannot be had: the
/// render is then made in one pass, which needs only the clips.
async fn normalised_clips(
    context: &JobContext,
    assets: &[Uuid],
    clips: &[Clip],
    format: VideoFormat,
    encoder: &Encoder,
    dir: &std::path::Path,
) -> Result<Vec<Normalised>, GenerationError> {
    let mut normalised = Vec::new();
    for (asset, clip) in assets.iter().zip(clips) {
        let made = tokio::select! {
            _ = context.run.cancel.cancelled() => return Err(GenerationError::Cancelled),
            made = for_render(context, *asset, format, encoder, &clip.path, dir) => made,
        };
        match made {
            Ok(file) => normalised.push(file),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), clip = %asset, "no normalised clip; the render is made in one pass");
                return Ok(Vec::new());
            }
        }
    }
    Ok(normalised)
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
    render_progress(&context.pool, id, 0.0, "Fetching the clips").await?;
    let dir = tempfile::Builder::new()
        .prefix("render-")
        .tempdir()
        .context("making a folder for the render")?;
    let format = VideoFormat::parse(&row.format).unwrap_or_default();
    let encoder = Encoder::default();
    let mut clips = Vec::new();
    for (i, asset) in row.clip_asset_ids.iter().enumerate() {
        let path = dir.path().join(format!("clip{i}.mp4"));
        run_fetch(context, *asset, &path, cancel).await?;
        let probed = ffmpeg::probe(&path).await?;
        clips.push(Clip {
            duration_secs: probed.duration_secs.unwrap_or(0.0),
            has_audio: probed.audio_codec.is_some(),
            path,
        });
    }
    render_progress(&context.pool, id, 0.0, "Preparing the clips").await?;
    let normalised = normalised_clips(
        context,
        &row.clip_asset_ids,
        &clips,
        format,
        &encoder,
        dir.path(),
    )
    .await?;
    let music = match row.music_asset_id {
        Some(asset) => {
            let path = dir.path().join("music.m4a");
            run_fetch(context, asset, &path, cancel).await?;
            Some(Music {
                path,
                volume: row.music_volume as f64,
            })
        }
        None => None,
    };
    let brand = match row.brand {
        Some(snapshot) => {
            let snapshot: BrandSnapshot =
                serde_json::from_value(snapshot).map_err(anyhow::Error::from)?;
            Some(brand_files(context, &snapshot, dir.path(), cancel).await?)
        }
        None => None,
    };
    let mut composition = Composition {
        clips,
        format,
        title: row.title,
        call_to_action: row.call_to_action,
        music,
        brand,
        voices: Vec::new(),
        captions: row.caption_style.as_deref().and_then(CaptionStyle::parse),
        encoder,
    };
    let lines: Vec<VoiceLineRef> =
        serde_json::from_value(row.voice_lines).map_err(anyhow::Error::from)?;
    // Each line starts a breath after its scene does, where the scene plays in the video
    // (the end card shortens the clips a little).
    let starts: Vec<f64> = composition
        .slots()
        .iter()
        .scan(0.0, |start, slot| {
            let this = *start;
            *start += slot;
            Some(this)
        })
        .collect();
    for (j, line) in lines.iter().enumerate() {
        let Some(start) = starts.get(line.scene) else {
            continue;
        };
        let path = dir.path().join(format!("voice{j}.wav"));
        run_fetch(context, line.asset_id, &path, cancel).await?;
        composition.voices.push(VoiceLine {
            path,
            start_secs: start + VOICE_LEAD_SECS,
            text: line.text.clone(),
            secs: f64::from(line.ms) / 1000.0,
        });
    }
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
    Ok(Outcome::Done)
}
