//! The scene jobs: a scene's seed image, and its clip made from that image. A job carries
//! the scene's generation it was made for; its result is dropped if the scene moved on
//! meanwhile (edited, regenerated, re-timed or deleted).

use super::{
    events::{emit, Recorded},
    making::{make, Attempt},
    record::SceneRecord,
    ssr::{lock_scene_for_job, save_scene},
    GenStatus,
};
use crate::{
    budget::ssr::Tab,
    generation::{pricing::Pricing, ssr::GenerationError},
    jobs::{self, BackgroundJob, Failure, JobContext, Outcome},
    product::{check::pictures_checked, reference::has_photos},
};
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
    /// Made again by itself because the last one lost the product: if this one loses it
    /// too, it waits for the user.
    #[serde(default)]
    pub drift_retry: bool,
}

/// The clip of a scene, from its approved seed image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SceneVideo {
    pub scene_id: Uuid,
    pub generation: i32,
    #[serde(default)]
    pub drift_retry: bool,
}

#[async_trait]
impl BackgroundJob for SceneImage {
    const KIND: &'static str = "scene_image";

    fn idempotency_key(&self) -> String {
        format!("{}:{}:{}", Self::KIND, self.scene_id, self.generation)
    }

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError> {
        let attempt = Attempt::of(SceneStage::Image, self.scene_id, self.generation);
        make(attempt.retried_for_drift(self.drift_retry), context).await
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
        let attempt = Attempt::of(SceneStage::Video, self.scene_id, self.generation);
        make(attempt.retried_for_drift(self.drift_retry), context).await
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
/// scene generation and stage), with its estimate on the action's tab; `drift_retry`
/// for the one retry of a result that lost the product.
pub async fn enqueue_scene_job(
    tx: &mut PgConnection,
    tab: &mut Tab,
    pricing: &Pricing,
    project: Uuid,
    stage: SceneStage,
    scene: &SceneRecord,
    drift_retry: bool,
) -> sqlx::Result<()> {
    let (scene_id, generation) = (scene.id, scene.generation);
    // A scene made from the product's photo is checked for it afterwards, by a vision
    // model where one is configured: its price is part of the job's estimate.
    let checked = scene.shows_product && has_photos(&mut *tx, project).await?;
    let check = if checked {
        pricing.product_check(pictures_checked(stage == SceneStage::Video))
    } else {
        0
    };
    match stage {
        SceneStage::Image => {
            let job = SceneImage {
                scene_id,
                generation,
                drift_retry,
            };
            let mut estimate = if checked {
                pricing.product_image()
            } else {
                pricing.image()
            };
            estimate.microusd += check;
            jobs::enqueue_paid(tx, tab, project, &job, estimate).await
        }
        SceneStage::Video => {
            let job = SceneVideo {
                scene_id,
                generation,
                drift_retry,
            };
            let mut estimate = pricing.clip(f64::from(scene.duration_secs));
            estimate.microusd += check;
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
pub(super) fn stage_status(scene: &mut SceneRecord, stage: SceneStage) -> &mut GenStatus {
    match stage {
        SceneStage::Image => &mut scene.image_status,
        SceneStage::Video => &mut scene.video_status,
    }
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
