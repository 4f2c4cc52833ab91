//! The creative director's part of the storyboard: planning the scenes from the brief and
//! the chosen mood, and rewriting one scene's text.

use super::{
    actions::SceneAction,
    jobs::{SceneImage, SceneVideo},
    ssr,
    voice::SceneVoice,
    StoryboardView,
};
use crate::{
    budget::ssr::metered,
    creative::{
        reachable,
        timing::{fit, ClipLengths, SceneTiming},
        Mood, PlannedScene, DEFAULT_TARGET_SECS, MAX_SCENES, MAX_VOICEOVER_CHARS, MIN_SCENES,
    },
    error::AppError,
    events::{self, Topic},
    jobs,
    moods::ssr::chosen_mood,
    projects::{
        ssr::{project_facts, raise_step},
        Step,
    },
    state::Caller,
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The project's storyboard, if it has one (404 for someone else's project).
pub async fn storyboard_of_project(
    me: &Caller,
    project: Uuid,
) -> Result<Option<StoryboardView>, AppError> {
    let state = &me.state;
    let mut conn = state.pool.acquire().await?;
    project_facts(&mut conn, me.owner, project).await?;
    drop(conn);
    ssr::storyboard_view(state, me.owner, project).await
}

/// Plans a storyboard of `target_secs` (30 by default), replacing one only if `replace`.
#[tracing::instrument(name = "storyboard::plan", skip_all, fields(user = %me.owner, project = %project, replace))]
pub async fn plan(
    me: &Caller,
    project: Uuid,
    target_secs: Option<u32>,
    replace: bool,
) -> Result<StoryboardView, AppError> {
    let state = &me.state;
    let target = target_secs.unwrap_or(DEFAULT_TARGET_SECS);
    if !(15..=70).contains(&target) || !(MIN_SCENES..=MAX_SCENES).any(|n| reachable(n, target)) {
        return Err(AppError::invalid(
            "Pick a length between 15 and 70 seconds.",
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let facts = project_facts(&mut conn, me.owner, project).await?;
    let brief = facts.brief.unwrap_or_default();
    if !brief.missing().is_empty() {
        return Err(AppError::invalid("Finish the brief first."));
    }
    let mood_id = facts
        .chosen_mood_id
        .ok_or_else(|| AppError::invalid("Pick a mood first."))?;
    let mood = chosen_mood(&mut conn, project, mood_id)
        .await?
        .ok_or_else(|| AppError::invalid("Pick a mood first."))?;
    drop(conn);
    if !replace && storyboard_of_project(me, project).await?.is_some() {
        return Err(AppError::Conflict(
            "This project already has a storyboard; confirm to replace it.".into(),
        ));
    }
    let estimate = state.spending.pricing.director(brief.prompt_chars());
    let plan = metered(
        &state.pool,
        &state.spending,
        me.owner,
        project,
        estimate,
        async {
            Ok(state
                .director
                .plan(&brief, &mood, target, rand::random())
                .await?)
        },
    )
    .await?;
    // The director plans in whole seconds; the video model may make only some lengths.
    let plan = fit_plan(plan, target, &state.media.clip_lengths)?;
    store_storyboard(&state.pool, me.owner, project, &mood, target, &plan).await?;
    storyboard_of_project(me, project)
        .await?
        .ok_or(AppError::Internal)
}

/// The action named `name` (as the page sends it); `regenerate_text` asks the director
/// for a new text and visual, which then apply as an edit.
pub async fn scene_action(
    me: &Caller,
    scene: Uuid,
    name: &str,
    text: Option<String>,
    voiceover: Option<String>,
) -> Result<SceneAction, AppError> {
    Ok(match name {
        "edit_text" => SceneAction::EditText {
            text: text.ok_or_else(|| AppError::invalid("A scene needs some text."))?,
            visual: None,
            voiceover,
        },
        "edit_voiceover" => SceneAction::EditVoiceover(voiceover.unwrap_or_default()),
        "shorten_voiceover" => {
            let context = ssr::scene_context(&me.state.pool, me.owner, scene).await?;
            let current = &context.plan[context.index];
            if current.voiceover.trim().is_empty() {
                return Err(AppError::invalid("This scene has no voiceover line."));
            }
            let director = &me.state.director;
            let line = directed(me, &context, current.voiceover.len(), async {
                director
                    .shorten_line(&context.brief, &current.voiceover, current.duration_secs)
                    .await
            })
            .await?;
            SceneAction::EditVoiceover(line)
        }
        "regenerate_text" => {
            let context = ssr::scene_context(&me.state.pool, me.owner, scene).await?;
            let director = &me.state.director;
            let rewritten = directed(me, &context, 0, async {
                director
                    .rewrite(
                        &context.brief,
                        &context.mood,
                        &context.plan,
                        context.index,
                        rand::random(),
                    )
                    .await
            })
            .await?;
            SceneAction::EditText {
                text: rewritten.text,
                visual: Some(rewritten.visual),
                voiceover: Some(rewritten.voiceover).filter(|line| !line.trim().is_empty()),
            }
        }
        "approve_text" => SceneAction::ApproveText,
        "regenerate_image" => SceneAction::RegenerateImage,
        "approve_image" => SceneAction::ApproveImage,
        "regenerate_video" => SceneAction::RegenerateVideo,
        "approve_video" => SceneAction::ApproveVideo,
        "show_product" => SceneAction::ShowProduct(true),
        "hide_product" => SceneAction::ShowProduct(false),
        other => {
            return Err(AppError::invalid(format!(
                "Unknown scene action {other:?}."
            )))
        }
    })
}

/// The plan with lengths the video model makes, as close to the director's as they come.
fn fit_plan(
    mut plan: Vec<PlannedScene>,
    target: u32,
    lengths: &ClipLengths,
) -> Result<Vec<PlannedScene>, AppError> {
    let timings: Vec<SceneTiming> = plan
        .iter()
        .map(|scene| SceneTiming {
            secs: scene.duration_secs,
            min_secs: 0,
            locked: false,
        })
        .collect();
    let fitted = fit(&timings, target, lengths).ok_or_else(|| {
        AppError::invalid(format!(
            "This video model makes clips of {}: {} scenes cannot add up to {target} seconds. Pick another length.",
            lengths.describe(),
            plan.len()
        ))
    })?;
    for (scene, secs) in plan.iter_mut().zip(fitted) {
        scene.duration_secs = secs;
    }
    Ok(plan)
}

/// A director call about one scene, metered on its project's budgets (`extra_chars`:
/// what the prompt holds beside the brief).
async fn directed<T>(
    me: &Caller,
    context: &ssr::SceneContext,
    extra_chars: usize,
    call: impl std::future::Future<Output = Result<T, crate::generation::ssr::GenerationError>>,
) -> Result<T, AppError> {
    let state = &me.state;
    let estimate = state
        .spending
        .pricing
        .director(context.brief.prompt_chars() + extra_chars);
    metered(
        &state.pool,
        &state.spending,
        me.owner,
        context.project,
        estimate,
        async { Ok(call.await?) },
    )
    .await
}

/// Replaces the project's storyboard with a new plan.
pub async fn store_storyboard(
    pool: &PgPool,
    owner: Uuid,
    project: Uuid,
    mood: &Mood,
    target_secs: u32,
    plan: &[PlannedScene],
) -> Result<Uuid, AppError> {
    crate::creative::validate(plan, target_secs).map_err(|e| AppError::invalid(e.to_string()))?;
    let mut tx = pool.begin().await?;
    project_facts(&mut tx, owner, project).await?;
    // Work for the old storyboard's scenes stops with it, and its events go.
    jobs::cancel_for_project::<SceneImage>(&mut tx, project).await?;
    jobs::cancel_for_project::<SceneVideo>(&mut tx, project).await?;
    jobs::cancel_for_project::<SceneVoice>(&mut tx, project).await?;
    let old = sqlx::query_scalar!(
        "DELETE FROM storyboards WHERE project_id = $1 RETURNING id",
        project
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(old) = old {
        events::forget(&mut tx, Topic::Storyboard(old)).await?;
    }
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO storyboards (id, project_id, owner_id, mood, target_secs) VALUES ($1, $2, $3, $4, $5)",
        id,
        project,
        owner,
        serde_json::to_value(mood).map_err(anyhow::Error::from)?,
        target_secs as i32
    )
    .execute(&mut *tx)
    .await?;
    for (position, scene) in plan.iter().enumerate() {
        insert_scene(&mut tx, id, position as i16, scene).await?;
    }
    raise_step(&mut tx, project, Step::Storyboard).await?;
    tx.commit().await?;
    Ok(id)
}

async fn insert_scene(
    tx: &mut PgConnection,
    storyboard: Uuid,
    position: i16,
    scene: &PlannedScene,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO scenes (id, storyboard_id, position, role, text, visual, duration_secs,
                             shows_product, voiceover)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        id,
        storyboard,
        position,
        scene.role.as_str(),
        scene.text,
        scene.visual,
        scene.duration_secs as i32,
        scene.shows_product,
        scene
            .voiceover
            .trim()
            .chars()
            .take(MAX_VOICEOVER_CHARS)
            .collect::<String>()
    )
    .execute(&mut *tx)
    .await?;
    Ok(id)
}
