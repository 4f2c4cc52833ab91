//! Queries and state changes of the wizard. Every function takes the owner and filters by
//! it, so someone else's storyboard or scene behaves exactly like a missing one. A scene's
//! change, the jobs it starts or stops, and its event are written in one transaction.

use super::{
    events::{emit, Recorded},
    jobs::{cancel_scene_jobs, enqueue, JobKind, ScenePayload},
    BriefState, ChatLine, GenStatus, MoodBoard, SceneView, Stage, StoryboardView,
};
use crate::{
    creative::{
        reachable, rebalance_with, Brief, Mood, PlannedScene, SceneRole, MAX_SCENES,
        MAX_SCENE_TEXT_CHARS, MIN_CLIP_SECS, MIN_SCENES,
    },
    error::AppError,
    projects::Step,
    storage::ssr::{ObjectKey, Storage},
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// How long links in pages and events stay valid.
pub const LINK_LIFETIME: Duration = Duration::from_secs(6 * 3600);

pub fn storyboard_not_found() -> AppError {
    AppError::not_found("Storyboard")
}

pub fn scene_not_found() -> AppError {
    AppError::not_found("Scene")
}

/// A link to a stored object, or none when the key is unusable (logged).
pub async fn link(storage: &dyn Storage, key: &str) -> Option<String> {
    sign(storage, key, None).await
}

/// A link that saves a stored object as `filename`, or none when that fails (logged).
pub async fn download_link(storage: &dyn Storage, key: &str, filename: &str) -> Option<String> {
    sign(storage, key, Some(filename)).await
}

async fn sign(storage: &dyn Storage, key: &str, download: Option<&str>) -> Option<String> {
    let key = ObjectKey::parse(key).ok()?;
    let signed = match download {
        None => storage.signed_url(&key, LINK_LIFETIME).await,
        Some(filename) => storage.download_url(&key, LINK_LIFETIME, filename).await,
    };
    match signed {
        Ok(url) => Some(url),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "could not sign a link");
            None
        }
    }
}

/// A scene as stored, with its assets' keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SceneRecord {
    pub id: Uuid,
    pub storyboard_id: Uuid,
    pub position: i16,
    pub role: SceneRole,
    pub text: String,
    pub visual: String,
    pub duration_secs: u32,
    pub text_approved: bool,
    pub image_status: GenStatus,
    pub image_asset_id: Option<Uuid>,
    pub image_key: Option<String>,
    pub image_approved: bool,
    pub video_status: GenStatus,
    pub video_asset_id: Option<Uuid>,
    pub video_key: Option<String>,
    pub video_approved: bool,
    pub error: Option<String>,
    pub generation: i32,
}

impl SceneRecord {
    pub async fn view(&self, storage: &dyn Storage) -> SceneView {
        let image_url = match &self.image_key {
            Some(key) => link(storage, key).await,
            None => None,
        };
        let video_url = match &self.video_key {
            Some(key) => link(storage, key).await,
            None => None,
        };
        SceneView {
            id: self.id,
            position: self.position,
            role: self.role,
            text: self.text.clone(),
            visual: self.visual.clone(),
            duration_secs: self.duration_secs,
            text_approved: self.text_approved,
            image_status: self.image_status,
            image_url,
            image_approved: self.image_approved,
            video_status: self.video_status,
            video_url,
            video_approved: self.video_approved,
            error: self.error.clone(),
        }
    }

    /// Clears what depends on the text: approvals downstream, running work.
    fn back_to_text(&mut self) {
        self.text_approved = false;
        self.image_approved = false;
        self.video_approved = false;
        if self.image_status.busy() {
            self.image_status = GenStatus::None;
        }
        if self.video_status.busy() {
            self.video_status = GenStatus::None;
        }
        self.error = None;
        self.generation += 1;
    }
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
                s.video_approved, s.error, s.generation
         FROM scenes s
         JOIN storyboards sb ON sb.id = s.storyboard_id
         LEFT JOIN assets ia ON ia.id = s.image_asset_id
         LEFT JOIN assets va ON va.id = s.video_asset_id
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
                s.video_approved, s.error, s.generation
         FROM scenes s
         JOIN storyboards sb ON sb.id = s.storyboard_id
         LEFT JOIN assets ia ON ia.id = s.image_asset_id
         LEFT JOIN assets va ON va.id = s.video_asset_id
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
                generation = $14, updated_at = now()
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
        scene.generation
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
        "SELECT id, project_id, target_secs, mood, last_seq FROM storyboards
         WHERE project_id = $1 AND owner_id = $2",
        project,
        owner
    )
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn project_cost(db: impl sqlx::PgExecutor<'_>, project: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "SELECT COALESCE(SUM(cost_microusd), 0)::bigint AS \"cost!\" FROM assets WHERE project_id = $1",
        project
    )
    .fetch_one(db)
    .await
}

/// The project's storyboard with fresh links, if it has one.
pub async fn storyboard_view(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Uuid,
    offline: bool,
) -> Result<Option<StoryboardView>, AppError> {
    let mut conn = pool.acquire().await?;
    let Some(row) = storyboard_row(&mut conn, owner, project).await? else {
        return Ok(None);
    };
    let records = scenes_of(&mut conn, row.id).await?;
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
        cost_microusd: project_cost(pool, project).await?,
        offline,
    }))
}

/// The storyboard's owner and project, if `owner` owns it.
pub async fn storyboard_of_owner(
    pool: &PgPool,
    owner: Uuid,
    storyboard: Uuid,
) -> Result<(Uuid, i64), AppError> {
    let row = sqlx::query!(
        "SELECT project_id, last_seq FROM storyboards WHERE id = $1 AND owner_id = $2",
        storyboard,
        owner
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(storyboard_not_found)?;
    Ok((row.project_id, row.last_seq))
}

async fn raise_step(conn: &mut PgConnection, project: Uuid, step: Step) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE projects SET step = GREATEST(step, $2), updated_at = now() WHERE id = $1",
        project,
        step.number()
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The project row's wizard fields, checked for ownership.
pub struct ProjectFacts {
    pub id: Uuid,
    pub format: String,
    pub brief: Option<Brief>,
    pub brief_edited_by_hand: bool,
    pub chosen_mood_id: Option<Uuid>,
}

pub async fn project_facts(
    conn: &mut PgConnection,
    owner: Uuid,
    project: Uuid,
) -> Result<ProjectFacts, AppError> {
    let row = sqlx::query!(
        "SELECT id, format, brief, brief_edited_by_hand, chosen_mood_id FROM projects
         WHERE id = $1 AND owner_id = $2",
        project,
        owner
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(crate::projects::ssr::not_found)?;
    Ok(ProjectFacts {
        id: row.id,
        format: row.format,
        brief: row.brief.and_then(|b| serde_json::from_value(b).ok()),
        brief_edited_by_hand: row.brief_edited_by_hand,
        chosen_mood_id: row.chosen_mood_id,
    })
}

// ---- Step 1: chat and brief -------------------------------------------------------

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

// ---- Step 2: moods -----------------------------------------------------------------

pub async fn mood_boards(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Uuid,
) -> Result<Vec<MoodBoard>, AppError> {
    let mut conn = pool.acquire().await?;
    let facts = project_facts(&mut conn, owner, project).await?;
    let rows = sqlx::query!(
        "SELECT m.id, m.position, m.mood,
                COALESCE(ARRAY(SELECT a.storage_key FROM unnest(m.image_asset_ids) WITH ORDINALITY AS i(id, n)
                               JOIN assets a ON a.id = i.id ORDER BY i.n), '{}') AS \"keys!\"
         FROM moods m WHERE m.project_id = $1 ORDER BY m.position",
        project
    )
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut boards = Vec::new();
    for row in rows {
        let mut images = Vec::new();
        for key in &row.keys {
            images.extend(link(storage, key).await);
        }
        boards.push(MoodBoard {
            id: row.id,
            position: row.position,
            mood: serde_json::from_value(row.mood).map_err(anyhow::Error::from)?,
            images,
            chosen: facts.chosen_mood_id == Some(row.id),
        });
    }
    Ok(boards)
}

/// Puts `mood` at `position`, replacing what was there (and its choice).
pub async fn store_mood(
    pool: &PgPool,
    project: Uuid,
    position: i16,
    mood: &Mood,
    images: &[Uuid],
) -> sqlx::Result<Uuid> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "DELETE FROM moods WHERE project_id = $1 AND position = $2",
        project,
        position
    )
    .execute(&mut *tx)
    .await?;
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO moods (id, project_id, position, mood, image_asset_ids) VALUES ($1, $2, $3, $4, $5)",
        id,
        project,
        position,
        serde_json::to_value(mood).expect("moods serialise"),
        images
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE projects SET updated_at = now() WHERE id = $1",
        project
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn choose_mood(
    pool: &PgPool,
    owner: Uuid,
    project: Uuid,
    mood: Uuid,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    project_facts(&mut tx, owner, project).await?;
    let updated = sqlx::query!(
        "UPDATE projects SET chosen_mood_id = $2, updated_at = now()
         WHERE id = $1 AND EXISTS (SELECT 1 FROM moods WHERE id = $2 AND project_id = $1)",
        project,
        mood
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::not_found("Mood"));
    }
    raise_step(&mut tx, project, Step::Storyboard).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn chosen_mood(
    conn: &mut PgConnection,
    project: Uuid,
    mood: Uuid,
) -> sqlx::Result<Option<Mood>> {
    let value = sqlx::query_scalar!(
        "SELECT mood FROM moods WHERE id = $1 AND project_id = $2",
        mood,
        project
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

// ---- Step 3: storyboard ------------------------------------------------------------

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
    // Work for the old storyboard's scenes stops with it.
    sqlx::query!(
        "UPDATE jobs SET status = 'cancelled', updated_at = now()
         WHERE project_id = $1 AND status IN ('queued', 'running')",
        project
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM storyboards WHERE project_id = $1", project)
        .execute(&mut *tx)
        .await?;
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
        "INSERT INTO scenes (id, storyboard_id, position, role, text, visual, duration_secs)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        storyboard,
        position,
        scene.role.as_str(),
        scene.text,
        scene.visual,
        scene.duration_secs as i32
    )
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

fn check_text(text: &str) -> Result<String, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::invalid("A scene needs some text."));
    }
    if text.chars().count() > MAX_SCENE_TEXT_CHARS {
        return Err(AppError::invalid(format!(
            "Keep a scene's text to {MAX_SCENE_TEXT_CHARS} characters or fewer."
        )));
    }
    Ok(text.to_string())
}

/// What a user can do to one scene.
#[derive(Clone, Debug)]
pub enum SceneAction {
    EditText {
        text: String,
        visual: Option<String>,
    },
    ApproveText,
    RegenerateImage,
    ApproveImage,
    RegenerateVideo,
    ApproveVideo,
}

/// Applies an action to a locked scene: the new state and the job to start, if any.
fn apply(scene: &mut SceneRecord, action: &SceneAction) -> Result<Option<JobKind>, AppError> {
    let conflict = |message: &str| Err(AppError::Conflict(message.to_string()));
    match action {
        SceneAction::EditText { text, visual } => {
            scene.text = check_text(text)?;
            if let Some(visual) = visual {
                scene.visual = visual.trim().chars().take(1000).collect();
            }
            scene.back_to_text();
            Ok(None)
        }
        SceneAction::ApproveText => {
            if scene.text_approved {
                return Ok(None);
            }
            scene.text_approved = true;
            scene.image_approved = false;
            scene.video_approved = false;
            scene.image_status = GenStatus::Queued;
            scene.error = None;
            scene.generation += 1;
            Ok(Some(JobKind::SceneImage))
        }
        SceneAction::RegenerateImage => {
            if !scene.text_approved {
                return conflict("Approve the scene's text before making its image.");
            }
            scene.image_approved = false;
            scene.video_approved = false;
            scene.image_status = GenStatus::Queued;
            if scene.video_status.busy() {
                scene.video_status = GenStatus::None;
            }
            scene.error = None;
            scene.generation += 1;
            Ok(Some(JobKind::SceneImage))
        }
        SceneAction::ApproveImage => {
            if scene.image_approved {
                return Ok(None);
            }
            if scene.image_status != GenStatus::Ready || scene.image_asset_id.is_none() {
                return conflict("The scene's image is not ready yet.");
            }
            scene.image_approved = true;
            scene.video_approved = false;
            scene.video_status = GenStatus::Queued;
            scene.error = None;
            scene.generation += 1;
            Ok(Some(JobKind::SceneVideo))
        }
        SceneAction::RegenerateVideo => {
            if !scene.image_approved {
                return conflict("Approve the scene's image before making its clip.");
            }
            scene.video_approved = false;
            scene.video_status = GenStatus::Queued;
            scene.error = None;
            scene.generation += 1;
            Ok(Some(JobKind::SceneVideo))
        }
        SceneAction::ApproveVideo => {
            if scene.video_status != GenStatus::Ready || scene.video_asset_id.is_none() {
                return conflict("The scene's clip is not ready yet.");
            }
            scene.video_approved = true;
            Ok(None)
        }
    }
}

/// Saves an applied action with its jobs and events, in the caller's transaction.
async fn commit_action(
    tx: &mut PgConnection,
    before_generation: i32,
    scene: &SceneRecord,
    job: Option<JobKind>,
    project: Uuid,
) -> sqlx::Result<()> {
    if scene.generation != before_generation {
        cancel_scene_jobs(tx, scene.id).await?;
    }
    save_scene(tx, scene).await?;
    if let Some(kind) = job {
        enqueue(
            tx,
            kind,
            project,
            &ScenePayload {
                scene_id: scene.id,
                generation: scene.generation,
            },
        )
        .await?;
    }
    Ok(())
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
/// approved clip.
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
    }
    Ok(())
}

pub async fn act_on_scene(
    pool: &PgPool,
    owner: Uuid,
    scene_id: Uuid,
    action: SceneAction,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let mut scene = lock_scene(&mut tx, owner, scene_id).await?;
    let before = scene.clone();
    let job = apply(&mut scene, &action)?;
    let project = project_of_storyboard(&mut tx, scene.storyboard_id).await?;
    if job.is_none()
        && before.text == scene.text
        && before.visual == scene.visual
        && before.text_approved == scene.text_approved
        && before.video_approved == scene.video_approved
    {
        // Nothing changed (an approval repeated): nothing to record.
        return Ok(());
    }
    commit_action(&mut tx, before.generation, &scene, job, project).await?;
    if matches!(action, SceneAction::ApproveVideo) {
        check_complete(&mut tx, scene.storyboard_id, project).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Applies the stage's approval to every scene that can take it.
pub async fn approve_all(
    pool: &PgPool,
    owner: Uuid,
    storyboard: Uuid,
    stage: Stage,
) -> Result<usize, AppError> {
    let mut tx = pool.begin().await?;
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
    let mut approved = 0;
    for id in ids {
        let mut scene = lock_scene(&mut tx, owner, id).await?;
        let before = scene.generation;
        let ready = match stage {
            Stage::Text => !scene.text_approved,
            Stage::Image => {
                scene.text_approved
                    && !scene.image_approved
                    && scene.image_status == GenStatus::Ready
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
        let job = apply(&mut scene, &action)?;
        commit_action(&mut tx, before, &scene, job, project).await?;
        approved += 1;
    }
    if approved > 0 && matches!(stage, Stage::Video | Stage::Done) {
        check_complete(&mut tx, storyboard, project).await?;
    }
    tx.commit().await?;
    Ok(approved)
}

/// A scene whose length changed loses its clip's approval: the clip no longer fits.
fn set_length(scene: &mut SceneRecord, secs: u32) -> bool {
    if scene.duration_secs == secs {
        return false;
    }
    scene.duration_secs = secs;
    if scene.video_status != GenStatus::None || scene.video_approved {
        scene.video_approved = false;
        scene.video_status = GenStatus::None;
        if scene.image_approved {
            scene.error = Some("The scene's length changed: make its clip again.".into());
        }
        scene.generation += 1;
    }
    true
}

async fn lock_storyboard(
    tx: &mut PgConnection,
    owner: Uuid,
    storyboard: Uuid,
) -> Result<(Uuid, u32), AppError> {
    let row = sqlx::query!(
        "SELECT project_id, target_secs FROM storyboards WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        storyboard,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(storyboard_not_found)?;
    Ok((row.project_id, row.target_secs.max(0) as u32))
}

/// Saves every scene whose position, length or state changed.
async fn save_changed(
    tx: &mut PgConnection,
    before: &[SceneRecord],
    after: &[SceneRecord],
) -> sqlx::Result<()> {
    for scene in after {
        let old = before.iter().find(|s| s.id == scene.id);
        let changed = old.is_none_or(|old| {
            old.position != scene.position
                || old.duration_secs != scene.duration_secs
                || old.generation != scene.generation
        });
        if changed {
            if old.is_some_and(|old| old.generation != scene.generation) {
                cancel_scene_jobs(tx, scene.id).await?;
            }
            save_scene(tx, scene).await?;
        }
    }
    Ok(())
}

/// Moves scenes to positions 0..n in `order` (positions are unique at commit).
fn renumber(scenes: &mut [SceneRecord]) {
    for (position, scene) in scenes.iter_mut().enumerate() {
        scene.position = position as i16;
    }
}

/// Sets a scene's length; the others are re-balanced so the total stays the target.
pub async fn set_duration(
    pool: &PgPool,
    owner: Uuid,
    scene_id: Uuid,
    secs: u32,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let scene = lock_scene(&mut tx, owner, scene_id).await?;
    let (_, target) = lock_storyboard(&mut tx, owner, scene.storyboard_id).await?;
    let before = scenes_of(&mut tx, scene.storyboard_id).await?;
    let index = before
        .iter()
        .position(|s| s.id == scene_id)
        .ok_or_else(scene_not_found)?;
    let lengths: Vec<u32> = before.iter().map(|s| s.duration_secs).collect();
    let balanced = rebalance_with(&lengths, index, secs, target)
        .map_err(|error| AppError::invalid(format!("{error}.")))?;
    let mut after = before.clone();
    for (scene, secs) in after.iter_mut().zip(balanced) {
        set_length(scene, secs);
    }
    save_changed(&mut tx, &before, &after).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves a scene to `position` (0-based), shifting the ones between.
pub async fn move_scene(
    pool: &PgPool,
    owner: Uuid,
    scene_id: Uuid,
    position: usize,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let scene = lock_scene(&mut tx, owner, scene_id).await?;
    lock_storyboard(&mut tx, owner, scene.storyboard_id).await?;
    let before = scenes_of(&mut tx, scene.storyboard_id).await?;
    if position >= before.len() {
        return Err(AppError::invalid(format!(
            "A scene can move to positions 1 to {}.",
            before.len()
        )));
    }
    let mut after = before.clone();
    let from = after
        .iter()
        .position(|s| s.id == scene_id)
        .ok_or_else(scene_not_found)?;
    let moved = after.remove(from);
    after.insert(position, moved);
    renumber(&mut after);
    save_changed(&mut tx, &before, &after).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a scene after `after` (0-based; none: at the start), re-balancing lengths.
pub async fn add_scene(
    pool: &PgPool,
    owner: Uuid,
    storyboard: Uuid,
    after_position: Option<usize>,
    text: &str,
) -> Result<Uuid, AppError> {
    let text = check_text(text)?;
    let mut tx = pool.begin().await?;
    let (_, target) = lock_storyboard(&mut tx, owner, storyboard).await?;
    let before = scenes_of(&mut tx, storyboard).await?;
    if before.len() >= MAX_SCENES {
        return Err(AppError::invalid(format!(
            "A storyboard has at most {MAX_SCENES} scenes."
        )));
    }
    let at = after_position.map_or(0, |p| (p + 1).min(before.len()));
    let mood: Mood = serde_json::from_value(
        sqlx::query_scalar!("SELECT mood FROM storyboards WHERE id = $1", storyboard)
            .fetch_one(&mut *tx)
            .await?,
    )
    .map_err(anyhow::Error::from)?;
    let id = Uuid::new_v4();
    let new = SceneRecord {
        id,
        storyboard_id: storyboard,
        position: at as i16,
        role: SceneRole::Feature,
        visual: format!(
            "{text}; {}; {}",
            mood.style_keywords.join(", "),
            mood.aesthetic
        ),
        text,
        duration_secs: MIN_CLIP_SECS,
        text_approved: false,
        image_status: GenStatus::None,
        image_asset_id: None,
        image_key: None,
        image_approved: false,
        video_status: GenStatus::None,
        video_asset_id: None,
        video_key: None,
        video_approved: false,
        error: None,
        generation: 0,
    };
    let mut after = before.clone();
    after.insert(at, new.clone());
    renumber(&mut after);
    let lengths: Vec<u32> = after.iter().map(|s| s.duration_secs).collect();
    // The new scene gets an average share; the others keep their proportions.
    let average =
        (target / after.len() as u32).clamp(MIN_CLIP_SECS, crate::creative::MAX_CLIP_SECS);
    let balanced = rebalance_with(&lengths, at, average, target)
        .map_err(|error| AppError::invalid(format!("{error}.")))?;
    for (scene, secs) in after.iter_mut().zip(balanced) {
        set_length(scene, secs);
    }
    // Make room, then insert: positions are checked at commit.
    let inserted = after
        .iter()
        .find(|s| s.id == id)
        .cloned()
        .expect("just added");
    sqlx::query!(
        "INSERT INTO scenes (id, storyboard_id, position, role, text, visual, duration_secs)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        storyboard,
        inserted.position,
        inserted.role.as_str(),
        inserted.text,
        inserted.visual,
        inserted.duration_secs as i32
    )
    .execute(&mut *tx)
    .await?;
    save_changed(&mut tx, &before, &after).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn delete_scene(pool: &PgPool, owner: Uuid, scene_id: Uuid) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let scene = lock_scene(&mut tx, owner, scene_id).await?;
    let (_, target) = lock_storyboard(&mut tx, owner, scene.storyboard_id).await?;
    let before = scenes_of(&mut tx, scene.storyboard_id).await?;
    if before.len() <= MIN_SCENES {
        return Err(AppError::invalid(format!(
            "A storyboard has at least {MIN_SCENES} scenes."
        )));
    }
    let mut after: Vec<SceneRecord> = before
        .iter()
        .filter(|s| s.id != scene_id)
        .cloned()
        .collect();
    if !reachable(after.len(), target) {
        return Err(AppError::invalid(format!(
            "{} scenes cannot fill {target} seconds.",
            after.len()
        )));
    }
    renumber(&mut after);
    let weights: Vec<f64> = after.iter().map(|s| s.duration_secs as f64).collect();
    let balanced = crate::creative::balance(&weights, target)
        .map_err(|error| AppError::invalid(format!("{error}.")))?;
    for (scene, secs) in after.iter_mut().zip(balanced) {
        set_length(scene, secs);
    }
    cancel_scene_jobs(&mut tx, scene_id).await?;
    sqlx::query!("DELETE FROM scenes WHERE id = $1", scene_id)
        .execute(&mut *tx)
        .await?;
    emit(&mut tx, scene.storyboard_id, &Recorded::removed(scene_id)).await?;
    save_changed(&mut tx, &before, &after).await?;
    tx.commit().await?;
    Ok(())
}

/// The brief, mood and plan a scene belongs to (for rewriting its text).
pub async fn scene_context(
    pool: &PgPool,
    owner: Uuid,
    scene_id: Uuid,
) -> Result<(Brief, Mood, Vec<PlannedScene>, usize), AppError> {
    let mut conn = pool.acquire().await?;
    let row = sqlx::query!(
        "SELECT sb.id, sb.mood, p.brief FROM scenes s
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
        })
        .collect();
    Ok((
        row.brief
            .and_then(|b| serde_json::from_value(b).ok())
            .unwrap_or_default(),
        serde_json::from_value(row.mood).map_err(anyhow::Error::from)?,
        plan,
        index,
    ))
}
