//! Server functions of the storyboard. Every one is scoped to the logged-in user; ids
//! that are not the user's answer 404 like missing ones.

use super::StoryboardView;
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use crate::{error::parse_id, state::signed_in};

#[server(endpoint = "studio/storyboard")]
pub async fn get_storyboard(project: String) -> Result<Option<StoryboardView>, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        super::plan::storyboard_of_project(&me, project).await
    })
    .await
}

/// Plans the storyboard from the brief and the chosen mood. An existing storyboard is
/// only replaced when `replace` is set.
#[server(endpoint = "studio/plan_storyboard")]
pub async fn plan_storyboard(
    project: String,
    target_secs: Option<u32>,
    replace: Option<bool>,
) -> Result<StoryboardView, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        super::plan::plan(&me, project, target_secs, replace == Some(true)).await
    })
    .await
}

/// One step of a scene's flow: `edit_text` (with `text`, and `voiceover` if it changes
/// too), `regenerate_text`, `approve_text`, `edit_voiceover` (with `voiceover`),
/// `shorten_voiceover`, `regenerate_image`, `approve_image`, `regenerate_video`,
/// `approve_video`, `show_product`, `hide_product`.
#[server(endpoint = "studio/scene")]
pub async fn scene_action(
    scene: String,
    action: String,
    text: Option<String>,
    voiceover: Option<String>,
) -> Result<(), AppError> {
    signed_in(|me| async move {
        let scene = parse_id(&scene, "Scene")?;
        let action = super::plan::scene_action(&me, scene, &action, text, voiceover).await?;
        super::actions::act_on_scene(&me, scene, action).await
    })
    .await
}

#[server(endpoint = "studio/approve_all")]
pub async fn approve_all(storyboard: String, stage: String) -> Result<usize, AppError> {
    signed_in(|me| async move {
        let storyboard = parse_id(&storyboard, "Storyboard")?;
        let stage = super::Stage::parse(&stage)
            .ok_or_else(|| AppError::invalid("Approve all of: text, image or video."))?;
        super::actions::approve_all(&me, storyboard, stage).await
    })
    .await
}

#[server(endpoint = "studio/set_duration")]
pub async fn set_duration(scene: String, seconds: u32) -> Result<(), AppError> {
    signed_in(|me| async move {
        let scene = parse_id(&scene, "Scene")?;
        let lengths = &me.state.media.clip_lengths;
        super::arrange::set_duration(&me.state.pool, me.owner, scene, seconds, lengths).await
    })
    .await
}

/// Moves a scene to `position` (1-based, as shown).
#[server(endpoint = "studio/move_scene")]
pub async fn move_scene(scene: String, position: usize) -> Result<(), AppError> {
    signed_in(|me| async move {
        let scene = parse_id(&scene, "Scene")?;
        if position == 0 {
            return Err(AppError::invalid("Positions start at 1."));
        }
        super::arrange::move_scene(&me.state.pool, me.owner, scene, position - 1).await
    })
    .await
}

/// Adds a scene after scene number `after` (1-based; 0 puts it first).
#[server(endpoint = "studio/add_scene")]
pub async fn add_scene(storyboard: String, after: usize, text: String) -> Result<Uuid, AppError> {
    signed_in(|me| async move {
        let storyboard = parse_id(&storyboard, "Storyboard")?;
        let after = after.checked_sub(1);
        let (pool, lengths) = (&me.state.pool, &me.state.media.clip_lengths);
        super::arrange::add_scene(pool, me.owner, storyboard, after, &text, lengths).await
    })
    .await
}

#[server(endpoint = "studio/delete_scene")]
pub async fn delete_scene(scene: String) -> Result<(), AppError> {
    signed_in(|me| async move {
        let scene = parse_id(&scene, "Scene")?;
        let lengths = &me.state.media.clip_lengths;
        super::arrange::delete_scene(&me.state.pool, me.owner, scene, lengths).await
    })
    .await
}

/// The project's voiceover: `enabled` false is "no voiceover"; `voice` one of the speech
/// provider's. Every approved scene's line is spoken again in it.
#[server(endpoint = "studio/set_voice")]
pub async fn set_voice(
    project: String,
    enabled: bool,
    voice: Option<String>,
) -> Result<(), AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        super::voice::set_voice(&me, project, enabled, voice).await
    })
    .await
}
