//! The creative director's part of the storyboard: planning the scenes from the brief and
//! the chosen mood, and rewriting one scene's text.

use super::{actions::SceneAction, ssr, StoryboardView};
use crate::{
    creative::{reachable, DEFAULT_TARGET_SECS, MAX_SCENES, MIN_SCENES},
    error::AppError,
    moods::ssr::chosen_mood,
    projects::ssr::project_facts,
    state::Caller,
};
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
    ssr::storyboard_view(
        &state.pool,
        &*state.storage,
        me.owner,
        project,
        state.media.offline,
    )
    .await
}

/// Plans a storyboard of `target_secs` (30 by default), replacing one only if `replace`.
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
    let plan = state
        .director
        .plan(&brief, &mood, target, rand::random())
        .await?;
    ssr::store_storyboard(&state.pool, me.owner, project, &mood, target, &plan).await?;
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
) -> Result<SceneAction, AppError> {
    Ok(match name {
        "edit_text" => SceneAction::EditText {
            text: text.ok_or_else(|| AppError::invalid("A scene needs some text."))?,
            visual: None,
        },
        "regenerate_text" => {
            let (brief, mood, plan, index) =
                ssr::scene_context(&me.state.pool, me.owner, scene).await?;
            let rewritten = me
                .state
                .director
                .rewrite(&brief, &mood, &plan, index, rand::random())
                .await?;
            SceneAction::EditText {
                text: rewritten.text,
                visual: Some(rewritten.visual),
            }
        }
        "approve_text" => SceneAction::ApproveText,
        "regenerate_image" => SceneAction::RegenerateImage,
        "approve_image" => SceneAction::ApproveImage,
        "regenerate_video" => SceneAction::RegenerateVideo,
        "approve_video" => SceneAction::ApproveVideo,
        other => {
            return Err(AppError::invalid(format!(
                "Unknown scene action {other:?}."
            )))
        }
    })
}
