//! The brief's queries: the chat so far, the brief drawn from it, and the user's edits.

use super::{BriefState, ChatLine};
use crate::{
    creative::Brief,
    error::{check_plain_text, AppError},
    projects::{
        ssr::{project_facts, raise_step},
        Step,
    },
};
use sqlx::PgPool;
use uuid::Uuid;

pub const MAX_CHAT_CHARS: usize = 4000;

pub async fn chat_history(pool: &PgPool, project: Uuid) -> sqlx::Result<Vec<ChatLine>> {
    sqlx::query_as!(
        ChatLine,
        "SELECT role, content FROM chat_messages WHERE project_id = $1 ORDER BY id",
        project
    )
    .fetch_all(pool)
    .await
}

pub async fn add_chat_message(
    pool: &PgPool,
    project: Uuid,
    role: &str,
    content: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO chat_messages (project_id, role, content) VALUES ($1, $2, $3)",
        project,
        role,
        content
    )
    .execute(pool)
    .await?;
    sqlx::query!(
        "UPDATE projects SET updated_at = now() WHERE id = $1",
        project
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn brief_state(
    pool: &PgPool,
    owner: Uuid,
    project: Uuid,
    offline: bool,
) -> Result<BriefState, AppError> {
    let mut conn = pool.acquire().await?;
    let facts = project_facts(&mut conn, owner, project).await?;
    drop(conn);
    let brief = facts.brief.unwrap_or_default();
    Ok(BriefState {
        messages: chat_history(pool, project).await?,
        missing: brief.missing().into_iter().map(String::from).collect(),
        brief,
        edited_by_hand: facts.brief_edited_by_hand,
        offline,
    })
}

/// Stores a brief: `by_hand` when the user edited it (the chat then stops overwriting it).
#[tracing::instrument(name = "brief::store", skip_all, fields(user = %owner, project = %project, by_hand))]
pub async fn store_brief(
    pool: &PgPool,
    owner: Uuid,
    project: Uuid,
    brief: &Brief,
    by_hand: bool,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let facts = project_facts(&mut tx, owner, project).await?;
    if !by_hand && facts.brief_edited_by_hand {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE projects SET brief = $2, brief_edited_by_hand = brief_edited_by_hand OR $3,
                updated_at = now()
         WHERE id = $1",
        project,
        serde_json::to_value(brief).map_err(anyhow::Error::from)?,
        by_hand
    )
    .execute(&mut *tx)
    .await?;
    if brief.missing().is_empty() {
        raise_step(&mut tx, project, Step::Mood).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Checks a brief typed by the user.
pub fn check_brief(brief: Brief) -> Result<Brief, AppError> {
    for (field, text) in [
        ("The product name", &brief.product_name),
        ("The audience", &brief.audience),
        ("The call to action", &brief.call_to_action),
    ] {
        check_plain_text(text, field)?;
    }
    for item in brief
        .emotional_tone
        .iter()
        .chain(&brief.visual_style)
        .chain(&brief.key_messages)
    {
        check_plain_text(item, "The brief")?;
    }
    let brief = brief.tidy();
    let too_long = |text: &str, max: usize| text.chars().count() > max;
    if too_long(&brief.product_name, 80)
        || too_long(&brief.audience, 300)
        || too_long(&brief.call_to_action, 120)
    {
        return Err(AppError::invalid(
            "Keep the product name under 80 characters, the audience under 300 and the call to action under 120.",
        ));
    }
    for list in [
        &brief.emotional_tone,
        &brief.visual_style,
        &brief.key_messages,
    ] {
        if list.len() > 8 || list.iter().any(|item| too_long(item, 160)) {
            return Err(AppError::invalid(
                "Lists hold up to 8 items of up to 160 characters each.",
            ));
        }
    }
    Ok(brief)
}
