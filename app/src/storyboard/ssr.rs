//! The storyboard's queries. Every function takes the owner and filters by
//! it, so someone else's storyboard or scene behaves exactly like a missing one.

use super::{
    events::{emit, Recorded},
    record::SceneRecord,
    GenStatus, StoryboardView,
};
use crate::{
    budget::ssr::standing,
    creative::{Brief, Mood, PlannedScene, SceneRole},
    error::AppError,
    events::{self, Topic},
    state::AppState,
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub fn storyboard_not_found() -> AppError {
    AppError::not_found("Storyboard")
}

pub fn scene_not_found() -> AppError {
    AppError::not_found("Scene")
}

macro_rules! record {
    ($row:expr) => {{
        let row = $row;
        SceneRecord {
            id: row.id,
            storyboard_id: row.storyboard_id,
            position: row.position,
            role: SceneRole::parse(&row.role).unwrap_or(SceneRole::Feature),
            text: row.text,
            visual: row.visual,
            duration_secs: row.duration_secs.max(0) as u32,
            text_approved: row.text_approved,
            image_status: GenStatus::parse(&row.image_status),
            image_asset_id: row.image_asset_id,
            image_key: row.image_key,
            image_approved: row.image_approved,
            video_status: GenStatus::parse(&row.video_status),
            video_asset_id: row.video_asset_id,
            video_key: row.video_key,
            video_approved: row.video_approved,
            error: row.error,
            generation: row.generation,
            shows_product: row.shows_product,
            image_match: row.image_match,
            image_drift: row.image_drift.unwrap_or(false),
            video_match: row.video_match,
            video_drift: row.video_drift.unwrap_or(false),
            voiceover: row.voiceover,
            voice_status: GenStatus::parse(&row.voice_status),
            voice_asset_id: row.voice_asset_id,
            voice_key: row.voice_key,
            voice_ms: row.voice_ms.map(|ms| ms.max(0) as u32),
            voice_generation: row.voice_generation,
            clip_awaits_voice: row.clip_awaits_voice,
        }
    }};
}

pub async fn scenes_of(
    conn: &mut PgConnection,
    storyboard: Uuid,
) -> sqlx::Result<Vec<SceneRecord>> {
    let rows = sqlx::query!(
        "SELECT s.id, s.storyboard_id, s.position, s.role, s.text, s.visual, s.duration_secs,
                s.text_approved, s.image_status, s.image_asset_id, ia.storage_key AS \"image_key?\",
                s.image_approved, s.video_status, s.video_asset_id, va.storage_key AS \"video_key?\",
                s.video_approved, s.error, s.generation, s.shows_product,
                ia.product_match AS \"image_match?\", ia.product_drift AS \"image_drift?\",
                va.product_match AS \"video_match?\", va.product_drift AS \"video_drift?\",
                s.voiceover, s.voice_status, s.voice_asset_id, vo.storage_key AS \"voice_key?\",
                s.voice_ms, s.voice_generation, s.clip_awaits_voice
         FROM scenes s
         JOIN storyboards sb ON sb.id = s.storyboard_id
         LEFT JOIN assets ia ON ia.id = s.image_asset_id
         LEFT JOIN assets va ON va.id = s.video_asset_id
         LEFT JOIN assets vo ON vo.id = s.voice_asset_id
         WHERE s.storyboard_id = $1 ORDER BY s.position",
        storyboard
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|row| record!(row)).collect())
}

/// The scene, locked for the rest of the transaction, if it is the owner's.
pub async fn lock_scene(
    tx: &mut PgConnection,
    owner: Uuid,
    scene: Uuid,
) -> Result<SceneRecord, AppError> {
    lock_scene_where(tx, scene, Some(owner))
        .await?
        .ok_or_else(scene_not_found)
}

async fn lock_scene_where(
    tx: &mut PgConnection,
    scene: Uuid,
    owner: Option<Uuid>,
) -> sqlx::Result<Option<SceneRecord>> {
    // The storyboard first, then the scene: every transaction that changes scenes takes
    // the locks in this order (events bump the storyboard row too), so none deadlock.
    let storyboard = sqlx::query_scalar!(
        "SELECT sb.id FROM storyboards sb JOIN scenes s ON s.storyboard_id = sb.id
         WHERE s.id = $1 AND ($2::uuid IS NULL OR sb.owner_id = $2) FOR UPDATE OF sb",
        scene,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?;
    if storyboard.is_none() {
        return Ok(None);
    }
    let row = sqlx::query!(
        "SELECT s.id, s.storyboard_id, s.position, s.role, s.text, s.visual, s.duration_secs,
                s.text_approved, s.image_status, s.image_asset_id, ia.storage_key AS \"image_key?\",
                s.image_approved, s.video_status, s.video_asset_id, va.storage_key AS \"video_key?\",
                s.video_approved, s.error, s.generation, s.shows_product,
                ia.product_match AS \"image_match?\", ia.product_drift AS \"image_drift?\",
                va.product_match AS \"video_match?\", va.product_drift AS \"video_drift?\",
                s.voiceover, s.voice_status, s.voice_asset_id, vo.storage_key AS \"voice_key?\",
                s.voice_ms, s.voice_generation, s.clip_awaits_voice
         FROM scenes s
         JOIN storyboards sb ON sb.id = s.storyboard_id
         LEFT JOIN assets ia ON ia.id = s.image_asset_id
         LEFT JOIN assets va ON va.id = s.video_asset_id
         LEFT JOIN assets vo ON vo.id = s.voice_asset_id
         WHERE s.id = $1 AND ($2::uuid IS NULL OR sb.owner_id = $2) FOR UPDATE OF s",
        scene,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|row| record!(row)))
}

/// The scene for a job (no owner: the job was made for it), locked.
pub async fn lock_scene_for_job(
    tx: &mut PgConnection,
    scene: Uuid,
) -> sqlx::Result<Option<SceneRecord>> {
    lock_scene_where(tx, scene, None).await
}

/// Writes a scene's state and records the event.
pub async fn save_scene(tx: &mut PgConnection, scene: &SceneRecord) -> sqlx::Result<i64> {
    sqlx::query!(
        "UPDATE scenes SET position = $2, text = $3, visual = $4, duration_secs = $5,
                text_approved = $6, image_status = $7, image_asset_id = $8, image_approved = $9,
                video_status = $10, video_asset_id = $11, video_approved = $12, error = $13,
                generation = $14, shows_product = $15, voiceover = $16, voice_status = $17,
                voice_asset_id = $18, voice_ms = $19, voice_generation = $20,
                clip_awaits_voice = $21, updated_at = now()
         WHERE id = $1",
        scene.id,
        scene.position,
        scene.text,
        scene.visual,
        scene.duration_secs as i32,
        scene.text_approved,
        scene.image_status.as_str(),
        scene.image_asset_id,
        scene.image_approved,
        scene.video_status.as_str(),
        scene.video_asset_id,
        scene.video_approved,
        scene.error,
        scene.generation,
        scene.shows_product,
        scene.voiceover,
        scene.voice_status.as_str(),
        scene.voice_asset_id,
        scene.voice_ms.map(|ms| ms as i32),
        scene.voice_generation,
        scene.clip_awaits_voice
    )
    .execute(&mut *tx)
    .await?;
    emit(tx, scene.storyboard_id, &Recorded::scene(scene)).await
}

struct StoryboardRow {
    id: Uuid,
    project_id: Uuid,
    target_secs: i32,
    mood: serde_json::Value,
    last_seq: i64,
}

async fn storyboard_row(
    conn: &mut PgConnection,
    owner: Uuid,
    project: Uuid,
) -> Result<Option<StoryboardRow>, AppError> {
    Ok(sqlx::query_as!(
        StoryboardRow,
        "SELECT sb.id, sb.project_id, sb.target_secs, sb.mood, COALESCE(es.last_seq, 0) AS \"last_seq!\"
         FROM storyboards sb
         LEFT JOIN event_streams es ON es.topic = 'storyboard' AND es.topic_id = sb.id
         WHERE sb.project_id = $1 AND sb.owner_id = $2",
        project,
        owner
    )
    .fetch_optional(&mut *conn)
    .await?)
}

/// The project's storyboard with fresh links, if it has one.
pub async fn storyboard_view(
    state: &AppState,
    owner: Uuid,
    project: Uuid,
) -> Result<Option<StoryboardView>, AppError> {
    let (pool, storage) = (&state.pool, &*state.storage);
    let mut conn = pool.acquire().await?;
    let Some(row) = storyboard_row(&mut conn, owner, project).await? else {
        return Ok(None);
    };
    let records = scenes_of(&mut conn, row.id).await?;
    let has_product_photos = crate::product::reference::has_photos(&mut *conn, project).await?;
    let voice = super::voice::voice_settings(&mut conn, &*state.media.speech, project).await?;
    drop(conn);
    let mut scenes = Vec::with_capacity(records.len());
    for record in &records {
        scenes.push(record.view(storage).await);
    }
    Ok(Some(StoryboardView {
        id: row.id,
        project_id: row.project_id,
        target_secs: row.target_secs.max(0) as u32,
        mood: serde_json::from_value(row.mood).map_err(anyhow::Error::from)?,
        scenes,
        last_event_id: row.last_seq,
        standing: standing(pool, &state.spending, owner, project).await?,
        prices: state.spending.pricing.for_pages(),
        offline: state.media.offline,
        has_product_photos,
        voice,
        clip_lengths: state.media.clip_lengths.allowed(),
    }))
}

/// The storyboard's owner and project, if `owner` owns it.
pub async fn storyboard_of_owner(
    pool: &PgPool,
    owner: Uuid,
    storyboard: Uuid,
) -> Result<(Uuid, i64), AppError> {
    let row = sqlx::query!(
        "SELECT project_id FROM storyboards WHERE id = $1 AND owner_id = $2",
        storyboard,
        owner
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(storyboard_not_found)?;
    let last = events::last_seq(pool, Topic::Storyboard(storyboard)).await?;
    Ok((row.project_id, last))
}

/// The brief, mood and plan a scene belongs to (for rewriting its text).
/// What the director needs to rewrite one scene.
pub struct SceneContext {
    pub project: Uuid,
    pub brief: Brief,
    pub mood: Mood,
    pub plan: Vec<PlannedScene>,
    /// The scene's place in `plan`.
    pub index: usize,
}

pub async fn scene_context(
    pool: &PgPool,
    owner: Uuid,
    scene_id: Uuid,
) -> Result<SceneContext, AppError> {
    let mut conn = pool.acquire().await?;
    let row = sqlx::query!(
        "SELECT sb.id, sb.mood, p.brief, p.id AS project FROM scenes s
         JOIN storyboards sb ON sb.id = s.storyboard_id
         JOIN projects p ON p.id = sb.project_id
         WHERE s.id = $1 AND sb.owner_id = $2",
        scene_id,
        owner
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(scene_not_found)?;
    let scenes = scenes_of(&mut conn, row.id).await?;
    let index = scenes
        .iter()
        .position(|s| s.id == scene_id)
        .ok_or_else(scene_not_found)?;
    let plan = scenes
        .iter()
        .map(|s| PlannedScene {
            role: s.role,
            text: s.text.clone(),
            visual: s.visual.clone(),
            duration_secs: s.duration_secs,
            shows_product: s.shows_product,
            voiceover: s.voiceover.clone(),
        })
        .collect();
    Ok(SceneContext {
        project: row.project,
        brief: row
            .brief
            .and_then(|b| serde_json::from_value(b).ok())
            .unwrap_or_default(),
        mood: serde_json::from_value(row.mood).map_err(anyhow::Error::from)?,
        plan,
        index,
    })
}
