//! Server functions of the final step.

use super::FinalState;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::studio::api::parse_id;

/// The final step's state, as every function here answers it.
#[cfg(feature = "ssr")]
async fn state_of(
    state: &crate::state::AppState,
    owner: uuid::Uuid,
    project: uuid::Uuid,
) -> Result<FinalState, AppError> {
    super::ssr::final_state(
        &state.pool,
        &*state.storage,
        owner,
        project,
        state.media.offline,
        &state.public_url,
    )
    .await
}

#[server(endpoint = "render/state")]
pub async fn get_final_state(project: String) -> Result<FinalState, AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond, state::app_state};
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let project = parse_id(&project, "Project")?;
        state_of(&state, owner, project).await
    })
    .await
}

/// Makes (or makes again) the project's music from its mood, as long as the video.
#[server(endpoint = "render/music")]
pub async fn make_music(project: String) -> Result<FinalState, AppError> {
    use crate::generation::ssr::{keep, MusicRequest, Run};
    use crate::{
        auth::ssr::require_user, error::ssr::respond, state::app_state, storage::AssetKind,
    };
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let project = parse_id(&project, "Project")?;
        let before = state_of(&state, owner, project).await?;
        let view = crate::studio::ssr::storyboard_view(
            &state.pool,
            &*state.storage,
            owner,
            project,
            state.media.offline,
        )
        .await?
        .ok_or_else(|| AppError::Conflict("Plan the storyboard first.".into()))?;
        let mood = &view.mood;
        let prompt = format!(
            "{} background music for a video ad: {}; {}",
            mood.name,
            mood.style_keywords.join(", "),
            mood.description
        );
        let seconds = before.seconds.max(5.0).ceil();
        let music = state
            .media
            .music
            .generate_music(
                &MusicRequest {
                    prompt: prompt.clone(),
                    duration_secs: seconds,
                    tempo_bpm: mood.tempo_bpm.clamp(60, 160),
                    seed: rand::random(),
                },
                &Run::default(),
            )
            .await
            .map_err(|error| AppError::invalid(crate::studio::jobs::user_message(&error)))?;
        let stored = keep(
            &state.pool,
            &*state.storage,
            owner,
            project,
            AssetKind::Audio,
            &prompt,
            music,
        )
        .await?;
        super::ssr::set_soundtrack(&state.pool, project, stored.id, &prompt).await?;
        state_of(&state, owner, project).await
    })
    .await
}

/// Queues a new version; `volume` is the music's level in percent (0–100).
#[server(endpoint = "render/start")]
pub async fn start_render(
    project: String,
    music: bool,
    volume: u32,
) -> Result<FinalState, AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond, state::app_state};
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let project = parse_id(&project, "Project")?;
        if volume > 100 {
            return Err(AppError::invalid("Music volume goes from 0 to 100%."));
        }
        super::ssr::start_render(&state.pool, owner, project, music, volume as f32 / 100.0).await?;
        state_of(&state, owner, project).await
    })
    .await
}

#[server(endpoint = "render/cancel")]
pub async fn cancel_render(render: String) -> Result<(), AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond, state::app_state};
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let render = parse_id(&render, "Render")?;
        super::ssr::cancel_render(&state.pool, owner, render).await
    })
    .await
}

/// Makes (or returns) the render's public link token.
#[server(endpoint = "render/share")]
pub async fn share_render(render: String) -> Result<String, AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond, state::app_state};
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        let render = parse_id(&render, "Render")?;
        super::ssr::share(&state.pool, owner, render).await
    })
    .await
}

/// Turns a public link off for good.
#[server(endpoint = "render/revoke")]
pub async fn revoke_share(token: String) -> Result<(), AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond, state::app_state};
    respond(async {
        let owner = require_user().await?;
        let state = app_state()?;
        super::ssr::revoke(&state.pool, owner, token.trim()).await
    })
    .await
}

/// The shared video behind a token (no login), counting the view.
#[server(endpoint = "share/get")]
pub async fn get_shared(token: String) -> Result<super::SharedVideo, AppError> {
    use crate::{error::ssr::respond, state::app_state};
    respond(async {
        let state = app_state()?;
        super::ssr::open_shared(
            &state.pool,
            &*state.storage,
            token.trim(),
            &state.public_url,
        )
        .await
    })
    .await
}
