//! One run of a scene job: mark the stage running, make the image (from the product's
//! photo when the scene shows it) or the clip (from the approved image), check that the
//! product survived, keep the file, and record it on the scene, unless the scene moved
//! on meanwhile. A result that lost the product is made again once by itself (paid, on
//! the project's budget); a second loss waits for the user, the score shown.

use super::{
    jobs::{enqueue_scene_job, stage_status, SceneStage},
    record::SceneRecord,
    ssr::{lock_scene_for_job, save_scene},
    GenStatus,
};
use crate::{
    generation::ssr::{GenerationError, ImageRequest, Rgb, VideoRequest},
    jobs::{JobContext, Outcome},
    product::{
        check::{pictures_checked, Checked},
        reference::{photo_keys, reference, PhotoKeys},
    },
    projects::VideoFormat,
    storage::{ssr::ObjectKey, AssetKind},
};
use anyhow::Context;
use uuid::Uuid;

/// Which job this is: the stage of which scene generation, and whether it is the one
/// retry a product drift gets.
#[derive(Clone, Copy, Debug)]
pub(super) struct Attempt {
    stage: SceneStage,
    scene_id: Uuid,
    generation: i32,
    drift_retry: bool,
}

impl Attempt {
    pub(super) fn of(stage: SceneStage, scene_id: Uuid, generation: i32) -> Self {
        Self {
            stage,
            scene_id,
            generation,
            drift_retry: false,
        }
    }

    pub(super) fn retried_for_drift(self, drift_retry: bool) -> Self {
        Self {
            drift_retry,
            ..self
        }
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

/// What a run made: the stored asset, and how well it kept the product.
struct Made {
    asset: Uuid,
    key: String,
    checked: Option<Checked>,
}

pub(super) async fn make(
    attempt: Attempt,
    context: &JobContext,
) -> Result<Outcome, GenerationError> {
    let Some(job) = start(attempt, context).await? else {
        return Ok(Outcome::Obsolete);
    };
    let run = &context.run;
    let scene = &job.scene;
    // The photos are copied next to the job's files for as long as it runs.
    let dir = tempfile::tempdir().context("making a folder for the job's files")?;
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
    let compared_with = product
        .as_ref()
        .map(|p| p.cutout.clone().unwrap_or_else(|| p.photo.clone()));
    let (kind, media, prompt, clip_secs) = match attempt.stage {
        SceneStage::Image => {
            let request = ImageRequest {
                prompt: scene.visual.clone(),
                format: job.format,
                palette: job.palette.clone(),
                caption: Some(scene.text.clone()),
                seed: seed_of(scene),
                product,
            };
            let media = context.media.image.generate_image(&request, run).await?;
            (AssetKind::Image, media, request.prompt, None)
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
            let secs = media
                .duration_ms
                .map_or(request.duration_secs, |ms| f64::from(ms) / 1000.0);
            (AssetKind::Video, media, request.prompt, Some(secs))
        }
    };
    let checked = match &compared_with {
        Some(reference) => {
            let checked = run
                .cancellable(async {
                    Ok(context
                        .product_check
                        .check(reference, &media.path(), clip_secs)
                        .await?)
                })
                .await?;
            context.charge(context.spending.pricing.product_check_used(
                checked.usage,
                checked.judged,
                pictures_checked(clip_secs.is_some()),
            ));
            Some(checked)
        }
        None => None,
    };
    let stored = run
        .cancellable(async {
            Ok(context
                .keep(job.owner, job.project, kind, &prompt, media)
                .await?)
        })
        .await?;
    let made = Made {
        asset: stored.id,
        key: stored.key.as_str().to_string(),
        checked,
    };
    finish(attempt, context, job.project, made)
        .await
        .map_err(GenerationError::Failed)
}

/// Marks the scene's stage as running, unless the job is obsolete.
async fn start(attempt: Attempt, context: &JobContext) -> anyhow::Result<Option<SceneJobContext>> {
    let mut tx = context.pool.begin().await?;
    let Some(mut scene) = lock_scene_for_job(&mut tx, attempt.scene_id).await? else {
        return Ok(None);
    };
    if scene.generation != attempt.generation {
        return Ok(None);
    }
    let row = sqlx::query!(
        "SELECT p.id, p.owner_id, p.format, sb.mood FROM storyboards sb
         JOIN projects p ON p.id = sb.project_id WHERE sb.id = $1",
        scene.storyboard_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let photos = if scene.shows_product {
        photo_keys(&mut *tx, row.id).await?
    } else {
        None
    };
    let status = stage_status(&mut scene, attempt.stage);
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

/// Records what was made on the scene (and its check on the asset), in one transaction
/// with the job's end; a drift starts the one retry.
async fn finish(
    attempt: Attempt,
    context: &JobContext,
    project: Uuid,
    made: Made,
) -> anyhow::Result<Outcome> {
    let mut tx = context.pool.begin().await?;
    let scene = lock_scene_for_job(&mut tx, attempt.scene_id).await?;
    let Some(mut scene) = scene.filter(|s| s.generation == attempt.generation) else {
        return Ok(Outcome::Obsolete);
    };
    if !context.finish(&mut tx).await? {
        return Ok(Outcome::Obsolete);
    }
    if let Some(checked) = &made.checked {
        sqlx::query!(
            "UPDATE assets SET product_match = $2, product_match_note = $3, product_drift = $4
             WHERE id = $1",
            made.asset,
            checked.score as f32,
            checked.note,
            checked.drift
        )
        .execute(&mut *tx)
        .await?;
    }
    let (asset, key, score, drift, what) = match attempt.stage {
        SceneStage::Image => (
            &mut scene.image_asset_id,
            &mut scene.image_key,
            &mut scene.image_match,
            &mut scene.image_drift,
            "image",
        ),
        SceneStage::Video => (
            &mut scene.video_asset_id,
            &mut scene.video_key,
            &mut scene.video_match,
            &mut scene.video_drift,
            "clip",
        ),
    };
    *asset = Some(made.asset);
    *key = Some(made.key);
    *score = made.checked.as_ref().map(|c| c.score as f32);
    *drift = made.checked.as_ref().is_some_and(|c| c.drift);
    *stage_status(&mut scene, attempt.stage) = GenStatus::Ready;
    scene.error = None;
    let drifted = made.checked.as_ref().filter(|c| c.drift);
    if let Some(checked) = drifted {
        let reason = drift_reason(checked, what);
        scene.error = Some(if attempt.drift_retry {
            format!("Product drift again: {reason}. Make it again, or approve it as it is.")
        } else {
            match retry(&mut tx, context, project, attempt.stage, &mut scene).await? {
                Ok(()) => format!("Product drift: {reason}, so it is being made again once."),
                Err(refused) => {
                    format!("Product drift: {reason}. It was not made again: {refused}")
                }
            }
        });
    }
    save_scene(&mut tx, &scene).await?;
    tx.commit().await?;
    Ok(Outcome::Done)
}

/// Why a result counts as drift, in the scene's words: the vision model's reason where
/// it judged, else the share of the photo found.
fn drift_reason(checked: &Checked, what: &str) -> String {
    let percent = (checked.score * 100.0).round();
    if checked.judged {
        format!(
            "the {what} scored {percent} % in the vision check ({})",
            checked.note.trim_end_matches('.')
        )
    } else {
        format!("the {what} shows {percent} % of the product photo")
    }
}

/// Queues the drift's one retry of `stage` as a new generation of the scene, reserved on
/// the project's budget like a user's click; a refusal (budget, rate) leaves the scene
/// as it is and says why.
async fn retry(
    tx: &mut sqlx::PgConnection,
    context: &JobContext,
    project: Uuid,
    stage: SceneStage,
    scene: &mut SceneRecord,
) -> anyhow::Result<Result<(), String>> {
    use sqlx::Acquire;
    let owner = sqlx::query_scalar!("SELECT owner_id FROM projects WHERE id = $1", project)
        .fetch_one(&mut *tx)
        .await?;
    let mut retried = scene.clone();
    retried.generation += 1;
    *stage_status(&mut retried, stage) = GenStatus::Queued;
    // A savepoint: a refused reservation takes the queued job back with it.
    let mut savepoint = tx.begin().await?;
    let mut tab = context.spending.tab(owner, Some(project));
    let pricing = &context.spending.pricing;
    enqueue_scene_job(
        &mut savepoint,
        &mut tab,
        pricing,
        project,
        stage,
        &retried,
        true,
    )
    .await?;
    match tab.reserve(&mut savepoint).await {
        Ok(_) => {
            savepoint.commit().await?;
            *scene = retried;
            Ok(Ok(()))
        }
        Err(refused) => {
            savepoint.rollback().await?;
            Ok(Err(refused.to_string()))
        }
    }
}
