//! Server functions of the brief. The chat itself streams through `chat.rs`.

use super::BriefState;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{creative::Brief, error::parse_id, state::signed_in};

#[server(endpoint = "studio/brief")]
pub async fn get_brief(project: String) -> Result<BriefState, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        super::ssr::brief_state(
            &me.state.pool,
            me.owner,
            project,
            me.state.director.offline(),
        )
        .await
    })
    .await
}

/// Splits a list typed one item per line (or separated by semicolons, or commas where
/// `commas`).
#[cfg(feature = "ssr")]
fn items(text: &str, commas: bool) -> Vec<String> {
    text.split(|c| matches!(c, '\n' | ';') || (commas && c == ','))
        .map(|item| item.trim().to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

#[server(endpoint = "studio/save_brief")]
pub async fn save_brief(
    project: String,
    product_name: String,
    audience: String,
    emotional_tone: String,
    visual_style: String,
    key_messages: String,
    call_to_action: String,
) -> Result<BriefState, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        let brief = super::ssr::check_brief(Brief {
            product_name,
            audience,
            emotional_tone: items(&emotional_tone, true),
            visual_style: items(&visual_style, true),
            key_messages: items(&key_messages, false),
            call_to_action,
        })?;
        let (pool, offline) = (&me.state.pool, me.state.director.offline());
        super::ssr::store_brief(pool, me.owner, project, &brief, true).await?;
        super::ssr::brief_state(pool, me.owner, project, offline).await
    })
    .await
}
