//! What a user does to one scene, or to every scene at a stage: edit, approve,
//! regenerate. A scene's change, the jobs it starts or stops, and its event are written
//! in one transaction. (The storyboard's shape, lengths and order, is `arrange.rs`.)

use super::{
    events::{emit, Recorded},
    jobs::{cancel_scene_jobs, enqueue_scene_job, SceneStage},
    record::SceneRecord,
    ssr::{lock_scene, save_scene, scenes_of, storyboard_not_found},
    voice::{cancel_voice_jobs, enqueue_voice, project_voice, voice_allows_clip},
    GenStatus, Stage,
};
use crate::{
    budget::ssr::Tab,
    creative::{MAX_SCENE_TEXT_CHARS, MAX_VOICEOVER_CHARS},
    error::AppError,
    generation::pricing::Pricing,
    projects::{ssr::raise_step, Step, VideoFormat},
    state::Caller,
};
use sqlx::PgConnection;
use uuid::Uuid;

pub(super) fn check_text(text: &str) -> Result<String, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::invalid("A scene needs some text."));
    }
    crate::error::check_plain_text(text, "A scene's text")?;
    if text.chars().count() > MAX_SCENE_TEXT_CHARS {
        return Err(AppError::invalid(format!(
            "Keep a scene's text to {MAX_SCENE_TEXT_CHARS} characters or fewer."
        )));
    }
    Ok(text.to_string())
}

fn check_voiceover(line: &str) -> Result<String, AppError> {
    let line = line.trim();
    crate::error::check_plain_text(line, "A voiceover line")?;
    if line.chars().count() > MAX_VOICEOVER_CHARS {
        return Err(AppError::invalid(format!(
            "Keep a voiceover line to {MAX_VOICEOVER_CHARS} characters or fewer."
        )));
    }
    Ok(line.to_string())
}

/// What a user can do to one scene.
#[derive(Clone, Debug)]
pub enum SceneAction {
    EditText {
        text: String,
        visual: Option<String>,
        /// A new voiceover line with it, if any.
        voiceover: Option<String>,
    },
    /// A new voiceover line: only its speech is made again (and the clip only if the new
    /// line no longer fits).
    EditVoiceover(String),
    ApproveText,
    RegenerateImage,
    ApproveImage,
    RegenerateVideo,
    ApproveVideo,
    /// Whether the product is in the picture; changing it asks for a new image.
    ShowProduct(bool),
}

/// Applies an action to a locked scene: the new state and the job to start, if any (a
/// voiceover to speak shows as the scene's voice status turned queued). `speaks`: the
/// project has a voiceover.
fn apply(
    scene: &mut SceneRecord,
    action: &SceneAction,
    speaks: bool,
) -> Result<Option<SceneStage>, AppError> {
    let conflict = |message: &str| Err(AppError::Conflict(message.to_string()));
    match action {
        SceneAction::EditText {
            text,
            visual,
            voiceover,
        } => {
            scene.text = check_text(text)?;
            if let Some(visual) = visual {
                scene.visual = visual.trim().chars().take(1000).collect();
            }
            if let Some(line) = voiceover {
                scene.voiceover = check_voiceover(line)?;
            }
            scene.back_to_text();
            if scene.voice_status != GenStatus::None || voiceover.is_some() {
                // Spoken again when the text is approved.
                scene.revoice(false);
            }
            Ok(None)
        }
        SceneAction::EditVoiceover(line) => {
            let line = check_voiceover(line)?;
            // The same line again is a no-op, unless its speech failed: then it is the
            // way to have it spoken again.
            if line == scene.voiceover && scene.voice_status != GenStatus::Failed {
                return Ok(None);
            }
            scene.voiceover = line;
            scene.revoice(speaks && scene.text_approved);
            Ok(None)
        }
        SceneAction::ApproveText => {
            if scene.text_approved {
                return Ok(None);
            }
            if speaks && scene.voice_status != GenStatus::Ready {
                scene.revoice(true);
            }
            scene.text_approved = true;
            scene.image_approved = false;
            scene.video_approved = false;
            scene.image_status = GenStatus::Queued;
            scene.error = None;
            scene.generation += 1;
            Ok(Some(SceneStage::Image))
        }
        SceneAction::RegenerateImage => {
            if !scene.text_approved {
                return conflict("Approve the scene's text before making its image.");
            }
            scene.back_to_image();
            scene.image_status = GenStatus::Queued;
            Ok(Some(SceneStage::Image))
        }
        SceneAction::ApproveImage => {
            if scene.image_approved {
                return Ok(None);
            }
            if scene.image_status != GenStatus::Ready || scene.image_asset_id.is_none() {
                return conflict("The scene's image is not ready yet.");
            }
            if speaks && scene.voice_pending() {
                // The clip's length waits for the spoken line's: the approval is kept
                // and the clip asked for when the speech is done (`voice.rs`).
                scene.image_approved = true;
                scene.video_approved = false;
                scene.clip_awaits_voice = true;
                scene.error = None;
                return Ok(None);
            }
            voice_allows_clip(scene, speaks)?;
            scene.image_approved = true;
            scene.video_approved = false;
            scene.video_status = GenStatus::Queued;
            scene.error = None;
            scene.generation += 1;
            Ok(Some(SceneStage::Video))
        }
        SceneAction::RegenerateVideo => {
            if !scene.image_approved {
                return conflict("Approve the scene's image before making its clip.");
            }
            voice_allows_clip(scene, speaks)?;
            scene.clip_awaits_voice = false;
            scene.video_approved = false;
            scene.video_status = GenStatus::Queued;
            scene.error = None;
            scene.generation += 1;
            Ok(Some(SceneStage::Video))
        }
        SceneAction::ApproveVideo => {
            if scene.video_status != GenStatus::Ready || scene.video_asset_id.is_none() {
                return conflict("The scene's clip is not ready yet.");
            }
            scene.video_approved = true;
            Ok(None)
        }
        SceneAction::ShowProduct(shows) => {
            if scene.shows_product != *shows {
                scene.shows_product = *shows;
                scene.back_to_image();
            }
            Ok(None)
        }
    }
}

/// Saves an applied action with its jobs (their estimates on `tab`) and events, in the
/// caller's transaction.
async fn commit_action(
    tx: &mut PgConnection,
    tab: &mut Tab,
    pricing: &Pricing,
    before: &SceneRecord,
    scene: &SceneRecord,
    job: Option<SceneStage>,
    project: Uuid,
) -> sqlx::Result<()> {
    if scene.generation != before.generation {
        cancel_scene_jobs(tx, scene.id).await?;
    }
    let revoiced = scene.voice_generation != before.voice_generation;
    if revoiced {
        cancel_voice_jobs(tx, scene.id).await?;
    }
    save_scene(tx, scene).await?;
    // An approved clip is made ready for the final render while the user goes on.
    if let (false, true, Some(clip)) = (
        before.video_approved,
        scene.video_approved,
        scene.video_asset_id,
    ) {
        let format = project_format(tx, project).await?;
        crate::render::smart::job::enqueue(tx, project, clip, format).await?;
    }
    if revoiced && scene.voice_status == GenStatus::Queued {
        enqueue_voice(tx, tab, pricing, project, scene).await?;
    }
    if let Some(stage) = job {
        enqueue_scene_job(tx, tab, pricing, project, stage, scene, false).await?;
    }
    Ok(())
}

async fn project_format(tx: &mut PgConnection, project: Uuid) -> sqlx::Result<VideoFormat> {
    let format = sqlx::query_scalar!("SELECT format FROM projects WHERE id = $1", project)
        .fetch_one(&mut *tx)
        .await?;
    Ok(VideoFormat::parse(&format).unwrap_or_default())
}

async fn project_of_storyboard(tx: &mut PgConnection, storyboard: Uuid) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        "SELECT project_id FROM storyboards WHERE id = $1",
        storyboard
    )
    .fetch_one(&mut *tx)
    .await
}

/// Emits `storyboard_complete` (and opens the final step) when every scene has an
/// approved clip, and queues the making of the final video's pieces ahead.
async fn check_complete(
    tx: &mut PgConnection,
    storyboard: Uuid,
    project: Uuid,
) -> sqlx::Result<()> {
    let scenes = scenes_of(tx, storyboard).await?;
    if !scenes.is_empty() && scenes.iter().all(|s| s.video_approved) {
        emit(
            tx,
            storyboard,
            &Recorded::StoryboardComplete {
                storyboard_id: storyboard,
            },
        )
        .await?;
        raise_step(tx, project, Step::FinalVideo).await?;
        // The final video's pieces are made while the user looks at the last step.
        let clips: Vec<Uuid> = scenes.iter().filter_map(|s| s.video_asset_id).collect();
        crate::render::smart::ahead::enqueue(tx, project, clips).await?;
    }
    Ok(())
}

#[tracing::instrument(name = "storyboard::act_on_scene", skip_all, fields(user = %me.owner, scene = %scene_id))]
pub async fn act_on_scene(
    me: &Caller,
    scene_id: Uuid,
    action: SceneAction,
) -> Result<(), AppError> {
    let owner = me.owner;
    let spending = &me.state.spending;
    let mut tx = me.state.pool.begin().await?;
    let mut scene = lock_scene(&mut tx, owner, scene_id).await?;
    let before = scene.clone();
    let project = project_of_storyboard(&mut tx, scene.storyboard_id).await?;
    let (speaks, _) = project_voice(&mut tx, project).await?;
    let job = apply(&mut scene, &action, speaks)?;
    if job.is_none()
        && before.text == scene.text
        && before.visual == scene.visual
        && before.voiceover == scene.voiceover
        && before.voice_generation == scene.voice_generation
        && before.text_approved == scene.text_approved
        && before.image_approved == scene.image_approved
        && before.clip_awaits_voice == scene.clip_awaits_voice
        && before.video_approved == scene.video_approved
        && before.shows_product == scene.shows_product
    {
        // Nothing changed (an approval repeated): nothing to record.
        return Ok(());
    }
    let mut tab = spending.tab(owner, Some(project));
    let pricing = &spending.pricing;
    commit_action(&mut tx, &mut tab, pricing, &before, &scene, job, project).await?;
    if matches!(action, SceneAction::ApproveVideo) {
        check_complete(&mut tx, scene.storyboard_id, project).await?;
    }
    tab.reserve(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Applies the stage's approval to every scene that can take it: all of them, or none
/// when their jobs together would pass a budget.
#[tracing::instrument(name = "storyboard::approve_all", skip_all, fields(user = %me.owner, storyboard = %storyboard, stage = ?stage))]
pub async fn approve_all(me: &Caller, storyboard: Uuid, stage: Stage) -> Result<usize, AppError> {
    let owner = me.owner;
    let spending = &me.state.spending;
    let mut tx = me.state.pool.begin().await?;
    let project = sqlx::query_scalar!(
        "SELECT project_id FROM storyboards WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        storyboard,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(storyboard_not_found)?;
    let ids: Vec<Uuid> = scenes_of(&mut tx, storyboard)
        .await?
        .iter()
        .map(|s| s.id)
        .collect();
    let (speaks, _) = project_voice(&mut tx, project).await?;
    let mut approved = 0;
    let mut tab = spending.tab(owner, Some(project));
    for id in ids {
        let mut scene = lock_scene(&mut tx, owner, id).await?;
        let before = scene.clone();
        let ready = match stage {
            Stage::Text => !scene.text_approved,
            Stage::Image => {
                scene.text_approved
                    && !scene.image_approved
                    && scene.image_status == GenStatus::Ready
                    // A line too long for its scene holds the clip back; one still
                    // being spoken only delays it (the approval is remembered).
                    && !(speaks && scene.voice_too_long())
            }
            Stage::Video | Stage::Done => {
                scene.image_approved
                    && !scene.video_approved
                    && scene.video_status == GenStatus::Ready
            }
        };
        if !ready {
            continue;
        }
        let action = match stage {
            Stage::Text => SceneAction::ApproveText,
            Stage::Image => SceneAction::ApproveImage,
            Stage::Video | Stage::Done => SceneAction::ApproveVideo,
        };
        let job = apply(&mut scene, &action, speaks)?;
        let pricing = &spending.pricing;
        commit_action(&mut tx, &mut tab, pricing, &before, &scene, job, project).await?;
        approved += 1;
    }
    if approved > 0 && matches!(stage, Stage::Video | Stage::Done) {
        check_complete(&mut tx, storyboard, project).await?;
    }
    tab.reserve(&mut tx).await?;
    tx.commit().await?;
    Ok(approved)
}
