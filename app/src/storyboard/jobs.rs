//! The scene jobs: a scene's seed image, and its clip made from that image. A job carries
//! the scene's generation it was made for; its result is dropped if the scene moved on
//! meanwhile (edited, regenerated, re-timed or deleted).

use super::{
    events::{emit, Recorded},
    record::SceneRecord,
    ssr::{lock_scene_for_job, save_scene},
    GenStatus,
};
use crate::{
    budget::ssr::Tab,
    generation::{
        pricing::Pricing,
        ssr::{GenerationError, ImageRequest, Rgb, VideoRequest},
    },
    jobs::{self, BackgroundJob, Failure, JobContext, Outcome},
    product::reference::{has_photos, photo_keys, reference, PhotoKeys},
    projects::VideoFormat,
    storage::{ssr::ObjectKey, AssetKind},
};
use anyhow::Context;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

/// Which of a scene's media a job makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SceneStage {
    Image,
    Video,
}

/// The seed image of a scene, from its visual prompt and the mood's palette.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SceneImage {
    pub scene_id: Uuid,
    /// The scene's generation the job was made for.
    pub generation: i32,
}

/// The clip of a scene, from its approved seed image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SceneVideo {
    pub scene_id: Uuid,
    pub generation: i32,
}

#[async_trait]
impl BackgroundJob for SceneImage {
    const KIND: &'static str = "scene_image";

    fn idempotency_key(&self) -> String {
        format!("{}:{}:{}", Self::KIND, self.scene_id, self.generation)
    }

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError> {
        make(SceneStage::Image, self.scene_id, self.generation, context).await
    }

    async fn lock_subject(&self, tx: &mut PgConnection) -> sqlx::Result<()> {
        lock_scene_for_job(tx, self.scene_id).await.map(drop)
    }

    async fn on_failure(&self, tx: &mut PgConnection, failure: &Failure) -> anyhow::Result<()> {
        record_failure(
            tx,
            SceneStage::Image,
            self.scene_id,
            self.generation,
            failure,
        )
        .await
    }
}

#[async_trait]
impl BackgroundJob for SceneVideo {
    const KIND: &'static str = "scene_video";

    fn idempotency_key(&self) -> String {
        format!("{}:{}:{}", Self::KIND, self.scene_id, self.generation)
    }

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError> {
        make(SceneStage::Video, self.scene_id, self.generation, context).await
    }

    async fn lock_subject(&self, tx: &mut PgConnection) -> sqlx::Result<()> {
        lock_scene_for_job(tx, self.scene_id).await.map(drop)
    }

    async fn on_failure(&self, tx: &mut PgConnection, failure: &Failure) -> anyhow::Result<()> {
        record_failure(
            tx,
            SceneStage::Video,
            self.scene_id,
            self.generation,
            failure,
        )
        .await
    }
}

/// Queues the job making `stage` of the scene, in the caller's transaction (once per
/// scene generation and stage), with its estimate on the action's tab.
pub async fn enqueue_scene_job(
    tx: &mut PgConnection,
    tab: &mut Tab,
    pricing: &Pricing,
    project: Uuid,
    stage: SceneStage,
    scene: &SceneRecord,
) -> sqlx::Result<()> {
    let (scene_id, generation) = (scene.id, scene.generation);
    match stage {
        SceneStage::Image => {
            let job = SceneImage {
                scene_id,
                generation,
            };
            let estimate = if scene.shows_product && has_photos(&mut *tx, project).await? {
                pricing.product_image()
            } else {
                pricing.image()
            };
            jobs::enqueue_paid(tx, tab, project, &job, estimate).await
        }
        SceneStage::Video => {
            let job = SceneVideo {
                scene_id,
                generation,
            };
            let estimate = pricing.clip(f64::from(scene.duration_secs));
            jobs::enqueue_paid(tx, tab, project, &job, estimate).await
        }
    }
}

/// Cancels a scene's unfinished jobs; a worker running one notices at its next heartbeat.
pub async fn cancel_scene_jobs(tx: &mut PgConnection, scene: Uuid) -> sqlx::Result<()> {
    let scene = scene.to_string();
    jobs::cancel::<SceneImage>(tx, "scene_id", &scene).await?;
    jobs::cancel::<SceneVideo>(tx, "scene_id", &scene).await
}

/// The scene's status for the stage a job makes.
fn stage_status(scene: &mut SceneRecord, stage: SceneStage) -> &mut GenStatus {
    match stage {
        SceneStage::Image => &mut scene.image_status,
        SceneStage::Video => &mut scene.video_status,
    }
}

struct SceneJobContext {
    scene: SceneRecord,
    project: Uuid,
    owner: Uuid,
    format: VideoFormat,
    palette: Vec<Rgb>,
    /// The product's photos, when the scene shows the product and the project has some.
    photos: Option<PhotoKeys>,
}

/// A stable seed per scene and generation: the same request gives the same media.
fn seed_of(scene: &SceneRecord) -> u64 {
    let bytes = scene.id.as_u128();
    (bytes as u64) ^ ((bytes >> 64) as u64) ^ (scene.generation as u64).wrapping_mul(0x9E37_79B9)
}

async fn make(
    stage: SceneStage,
    scene_id: Uuid,
    generation: i32,
    context: &JobContext,
) -> Result<Outcome, GenerationError> {
    let Some(job) = start(stage, scene_id, generation, context).await? else {
        return Ok(Outcome::Obsolete);
    };
    let run = &context.run;
    let scene = &job.scene;
    let (kind, media, prompt) = match stage {
        SceneStage::Image => {
            // The photos are copied next to the job's files for as long as it runs.
            let dir = tempfile::tempdir().context("making a folder for the product photos")?;
            let product = match &job.photos {
                Some(keys) => Some(
                    run.cancellable(async {
                        Ok(reference(
                            &*context.storage,
                            keys,
                            context.public_url.as_deref(),
                            dir.path(),
                        )
                        .await?)
                    })
                    .await?,
                ),
                None => None,
            };
            let request = ImageRequest {
                prompt: scene.visual.clone(),
                format: job.format,
                palette: job.palette.clone(),
                caption: Some(scene.text.clone()),
                seed: seed_of(scene),
                product,
            };
            let media = context.media.image.generate_image(&request, run).await?;
            (AssetKind::Image, media, request.prompt)
        }
        SceneStage::Video => {
            let key = scene
                .image_key
                .as_deref()
                .ok_or_else(|| GenerationError::Refused("the scene has no image".into()))?;
            let key = ObjectKey::parse(key)?;
            let bytes = run
                .cancellable(async { Ok(context.storage.get_bytes(&key).await?) })
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
                format: job.format,
                image,
                duration_secs: scene.duration_secs as f64,
                seed: seed_of(scene),
            };
            let media = context.media.video.generate_video(&request, run).await?;
            (AssetKind::Video, media, request.prompt)
        }
    };
    let stored = run
        .cancellable(async {
            Ok(context
                .keep(job.owner, job.project, kind, &prompt, media)
                .await?)
        })
        .await?;
    finish(
        stage,
        scene_id,
        generation,
        context,
        stored.id,
        stored.key.as_str(),
    )
    .await
}

/// Marks the scene's stage as running, unless the job is obsolete.
async fn start(
    stage: SceneStage,
    scene_id: Uuid,
    generation: i32,
    context: &JobContext,
) -> anyhow::Result<Option<SceneJobContext>> {
    let mut tx = context.pool.begin().await?;
    let Some(mut scene) = lock_scene_for_job(&mut tx, scene_id).await? else {
        return Ok(None);
    };
    if scene.generation != generation {
        return Ok(None);
    }
    let row = sqlx::query!(
        "SELECT p.id, p.owner_id, p.format, sb.mood FROM storyboards sb
         JOIN projects p ON p.id = sb.project_id WHERE sb.id = $1",
        scene.storyboard_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let photos = if stage == SceneStage::Image && scene.shows_product {
        photo_keys(&mut *tx, row.id).await?
    } else {
        None
    };
    let status = stage_status(&mut scene, stage);
    if *status != GenStatus::Running {
        *status = GenStatus::Running;
        save_scene(&mut tx, &scene).await?;
    }
    tx.commit().await?;
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
        photos,
    }))
}

async fn finish(
    stage: SceneStage,
    scene_id: Uuid,
    generation: i32,
    context: &JobContext,
    asset: Uuid,
    key: &str,
) -> Result<Outcome, GenerationError> {
    let mut tx = context.pool.begin().await.map_err(anyhow::Error::from)?;
    let scene = lock_scene_for_job(&mut tx, scene_id)
        .await
        .map_err(anyhow::Error::from)?;
    let Some(mut scene) = scene.filter(|s| s.generation == generation) else {
        return Ok(Outcome::Obsolete);
    };
    if !context.finish(&mut tx).await.map_err(anyhow::Error::from)? {
        return Ok(Outcome::Obsolete);
    }
    match stage {
        SceneStage::Image => {
            scene.image_status = GenStatus::Ready;
            scene.image_asset_id = Some(asset);
            scene.image_key = Some(key.to_string());
        }
        SceneStage::Video => {
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

/// Shows a failed attempt on the scene: queued again with the reason, or failed for good.
async fn record_failure(
    tx: &mut PgConnection,
    stage: SceneStage,
    scene_id: Uuid,
    generation: i32,
    failure: &Failure,
) -> anyhow::Result<()> {
    let Some(mut scene) = lock_scene_for_job(tx, scene_id).await? else {
        return Ok(());
    };
    if scene.generation != generation {
        return Ok(());
    }
    *stage_status(&mut scene, stage) = if failure.retry {
        GenStatus::Queued
    } else {
        GenStatus::Failed
    };
    scene.error = Some(if failure.retry {
        format!(
            "{} Retrying shortly (attempt {} of {}).",
            failure.message,
            failure.attempt + 1,
            failure.max_attempts
        )
    } else {
        failure.message.clone()
    });
    save_scene(tx, &scene).await?;
    if !failure.retry {
        emit(
            tx,
            scene.storyboard_id,
            &Recorded::StoryboardError {
                scene_id: scene.id,
                message: failure.message.clone(),
            },
        )
        .await?;
    }
    Ok(())
}
