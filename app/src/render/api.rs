//! Server functions of the final step.

use super::FinalState;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{
    error::parse_id,
    state::{signed_in, Caller},
};

/// The final step's state, as every function here answers it.
#[cfg(feature = "ssr")]
async fn state_of(me: &Caller, project: uuid::Uuid) -> Result<FinalState, AppError> {
    let state = &me.state;
    super::ssr::final_state(
        &state.pool,
        &*state.storage,
        me.owner,
        project,
        state.media.offline,
        &state.public_url,
    )
    .await
}

#[server(endpoint = "render/state")]
pub async fn get_final_state(project: String) -> Result<FinalState, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        state_of(&me, project).await
    })
    .await
}

/// Starts making (or making again) the project's music from its mood, as long as the
/// video, as a background job; the page hears when it is ready.
#[server(endpoint = "render/music")]
pub async fn make_music(project: String) -> Result<FinalState, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        let before = state_of(&me, project).await?;
        super::music::start_music(
            &me.state.pool,
            &me.state.spending,
            me.owner,
            project,
            before.seconds,
        )
        .await?;
        state_of(&me, project).await
    })
    .await
}

/// Queues a new version; `volume` is the music's level in percent (0–100).
#[server(endpoint = "render/start")]
pub async fn start_render(
    project: String,
    music: bool,
    volume: u32,
    /// A caption style (`lower_third`, `word_by_word`, `boxed`); none or `none`: no captions.
    captions: Option<String>,
) -> Result<FinalState, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        if volume > 100 {
            return Err(AppError::invalid("Music volume goes from 0 to 100%."));
        }
        let volume = volume as f32 / 100.0;
        let captions = match captions.as_deref().map(str::trim) {
            None | Some("" | "none") => None,
            Some(name) => Some(super::captions::CaptionStyle::parse(name).ok_or_else(|| {
                AppError::invalid("Captions come as lower_third, word_by_word or boxed (or none).")
            })?),
        };
        let pool = &me.state.pool;
        super::ssr::start_render(pool, me.owner, project, music, volume, captions).await?;
        state_of(&me, project).await
    })
    .await
}

#[server(endpoint = "render/cancel")]
pub async fn cancel_render(render: String) -> Result<(), AppError> {
    signed_in(|me| async move {
        let render = parse_id(&render, "Render")?;
        super::ssr::cancel_render(&me.state.pool, me.owner, render).await
    })
    .await
}
