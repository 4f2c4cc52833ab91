//! Server functions of the mood boards.

use super::MoodBoard;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{error::parse_id, state::signed_in};

#[server(endpoint = "studio/moods")]
pub async fn get_moods(project: String) -> Result<Vec<MoodBoard>, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        super::ssr::mood_boards(&me.state.pool, &*me.state.storage, me.owner, project).await
    })
    .await
}

/// Starts making mood boards: all three (`position` empty) or the one at `position`
/// (0–2), each with three sample images, which arrive on the project's live stream.
#[server(endpoint = "studio/generate_moods")]
pub async fn generate_moods(
    project: String,
    position: Option<i16>,
) -> Result<Vec<MoodBoard>, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        super::ssr::start_moods(&me.state, me.owner, project, position).await?;
        super::ssr::mood_boards(&me.state.pool, &*me.state.storage, me.owner, project).await
    })
    .await
}

#[server(endpoint = "studio/choose_mood")]
pub async fn choose_mood(project: String, mood: String) -> Result<(), AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        let mood = parse_id(&mood, "Mood")?;
        super::ssr::choose_mood(&me.state.pool, me.owner, project, mood).await
    })
    .await
}
