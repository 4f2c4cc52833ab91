//! The final step's queries: what a render is made of, its versions, the soundtrack, and
//! starting or cancelling a render (run by [`super::jobs::RenderJob`]).

use super::{
    assemble::Recipe,
    captions::CaptionStyle,
    download_name,
    events::{emit, Recorded},
    jobs::RenderJob,
    music::MakeMusic,
    FinalState, RenderView,
};
use crate::{
    creative::Brief,
    error::AppError,
    jobs,
    projects::{ssr::not_found, VideoFormat},
    storage::{
        links::{download_link, link},
        ssr::Storage,
    },
    storyboard::{record::SceneRecord, ssr::scenes_of, GenStatus},
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The music's volume the final page starts at.
const DEFAULT_VOLUME: f32 = 0.3;

pub fn render_not_found() -> AppError {
    AppError::not_found("Render")
}

/// A render, if `owner` (when given) owns it.
pub async fn render_view(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Option<Uuid>,
    render: Uuid,
) -> Result<RenderView, AppError> {
    let row = sqlx::query!(
        "SELECT c.id, c.version, c.status, c.percent, c.stage, c.duration_ms, c.error,
                c.music_asset_id, COALESCE(es.last_seq, 0) AS \"last_seq!\", a.storage_key AS \"key?\", a.bytes AS \"bytes?\",
                a.width, a.height, sl.token AS \"share_token?\", sl.views AS \"share_views?\",
                p.name AS project_name, c.captions IS NOT NULL AS \"has_captions!\"
         FROM compositions c JOIN projects p ON p.id = c.project_id
         LEFT JOIN assets a ON a.id = c.asset_id
         LEFT JOIN share_links sl ON sl.composition_id = c.id AND sl.revoked_at IS NULL
         LEFT JOIN event_streams es ON es.topic = 'render' AND es.topic_id = c.id
         WHERE c.id = $1 AND ($2::uuid IS NULL OR c.owner_id = $2)",
        render,
        owner
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(render_not_found)?;
    let (video_url, download_url) = match &row.key {
        Some(key) => (
            link(storage, key).await,
            download_link(storage, key, &download_name(&row.project_name, row.version)).await,
        ),
        None => (None, None),
    };
    Ok(RenderView {
        id: row.id,
        version: row.version,
        status: row.status,
        percent: row.percent,
        stage: row.stage,
        video_url,
        download_url,
        bytes: row.bytes,
        width: row.width,
        height: row.height,
        duration_ms: row.duration_ms,
        error: row.error,
        with_music: row.music_asset_id.is_some(),
        last_event_id: row.last_seq,
        share_token: row.share_token,
        share_views: row.share_views.unwrap_or(0),
        captions_vtt_url: row
            .has_captions
            .then(|| format!("/api/compositions/{}/captions.vtt", row.id)),
        captions_srt_url: row
            .has_captions
            .then(|| format!("/api/compositions/{}/captions.srt", row.id)),
    })
}

/// What a render is made of, read from the approved storyboard.
struct Ingredients {
    clips: Vec<Uuid>,
    /// The spoken lines, each with the index of the clip it is spoken over.
    voices: Vec<VoiceLineRef>,
    seconds: f64,
    blocked: Option<String>,
}

/// A voiceover line as a render row keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VoiceLineRef {
    pub asset_id: Uuid,
    /// The clip (scene) it is spoken over.
    pub scene: usize,
    /// What it says and how long it is spoken, for the captions.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub ms: u32,
}

async fn ingredients(conn: &mut PgConnection, project: Uuid) -> sqlx::Result<Ingredients> {
    let board = sqlx::query!(
        "SELECT sb.id, p.voiceover AS speaks FROM storyboards sb
         JOIN projects p ON p.id = sb.project_id WHERE sb.project_id = $1",
        project
    )
    .fetch_optional(&mut *conn)
    .await?;
    let (scenes, speaks) = match board {
        Some(board) => (scenes_of(conn, board.id).await?, board.speaks),
        None => (Vec::new(), false),
    };
    let spoken = |scene: &SceneRecord| speaks && !scene.voiceover.trim().is_empty();
    let unspoken = scenes
        .iter()
        .position(|s| spoken(s) && (s.voice_pending() || s.voice_asset_id.is_none()));
    let too_long = scenes.iter().position(|s| speaks && s.voice_too_long());
    let blocked = if scenes.is_empty() {
        Some("Plan the storyboard first.".to_string())
    } else if scenes
        .iter()
        .any(|s| !s.video_approved || s.video_asset_id.is_none())
    {
        Some("Approve every scene's clip first.".to_string())
    } else if let Some(i) = unspoken {
        Some(format!("Scene {}'s voiceover is not made yet.", i + 1))
    } else {
        too_long.map(|i| {
            format!(
                "Scene {}'s line runs past its scene: shorten the line or lengthen the scene.",
                i + 1
            )
        })
    };
    let voices = scenes
        .iter()
        .enumerate()
        .filter(|_| speaks)
        .filter_map(|(scene, s)| {
            let asset_id = s
                .voice_asset_id
                .filter(|_| s.voice_status == GenStatus::Ready)?;
            Some(VoiceLineRef {
                asset_id,
                scene,
                text: s.voiceover.trim().to_string(),
                ms: s.voice_ms.unwrap_or(0),
            })
        })
        .collect();
    let total: f64 = scenes.iter().map(|s| f64::from(s.duration_secs)).sum();
    Ok(Ingredients {
        voices,
        clips: scenes.iter().filter_map(|s| s.video_asset_id).collect(),
        // Clips hold their last frame through each crossfade: the video lasts as planned.
        seconds: total,
        blocked,
    })
}

pub async fn final_state(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Uuid,
    offline: bool,
    public_url: &str,
) -> Result<FinalState, AppError> {
    let mut conn = pool.acquire().await?;
    let name = sqlx::query_scalar!(
        "SELECT name FROM projects WHERE id = $1 AND owner_id = $2",
        project,
        owner
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found)?;
    let parts = ingredients(&mut conn, project).await?;
    let music_busy = jobs::busy::<MakeMusic>(&mut *conn, project).await?;
    let music_error =
        sqlx::query_scalar!("SELECT music_error FROM projects WHERE id = $1", project)
            .fetch_one(&mut *conn)
            .await?;
    let soundtrack = sqlx::query_scalar!(
        "SELECT a.storage_key FROM soundtracks s JOIN assets a ON a.id = s.asset_id WHERE s.project_id = $1",
        project
    )
    .fetch_optional(&mut *conn)
    .await?;
    let ids = sqlx::query_scalar!(
        "SELECT id FROM compositions WHERE project_id = $1 ORDER BY version DESC",
        project
    )
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut renders = Vec::new();
    for id in ids {
        renders.push(render_view(pool, storage, Some(owner), id).await?);
    }
    let soundtrack_url = match soundtrack {
        Some(key) => link(storage, &key).await,
        None => None,
    };
    Ok(FinalState {
        project_name: name,
        ready: parts.blocked.is_none(),
        blocked: parts.blocked,
        clips: parts.clips.len(),
        seconds: parts.seconds,
        soundtrack_url,
        music_busy,
        music_error,
        renders,
        offline,
        public_url: public_url.trim_end_matches('/').to_string(),
    })
}

/// Queues a new version of the final video.
#[tracing::instrument(name = "render::start", skip_all, fields(user = %owner, project = %project, with_music))]
pub async fn start_render(
    pool: &PgPool,
    owner: Uuid,
    project: Uuid,
    with_music: bool,
    volume: f32,
    captions: Option<CaptionStyle>,
) -> Result<Uuid, AppError> {
    if !(0.0..=1.0).contains(&volume) {
        return Err(AppError::invalid("Music volume goes from 0 to 100%."));
    }
    let mut tx = pool.begin().await?;
    sqlx::query_scalar!(
        "SELECT id FROM projects WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        project,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    let recipe = recipe(&mut tx, owner, project, with_music, volume, captions).await?;
    let busy = sqlx::query_scalar!(
        "SELECT count(*) AS \"n!\" FROM compositions WHERE project_id = $1 AND status IN ('queued', 'running')",
        project
    )
    .fetch_one(&mut *tx)
    .await?;
    if busy > 0 {
        return Err(AppError::Conflict(
            "A render of this project is already under way.".into(),
        ));
    }
    let version = sqlx::query_scalar!(
        "SELECT COALESCE(MAX(version), 0) + 1 AS \"v!\" FROM compositions WHERE project_id = $1",
        project
    )
    .fetch_one(&mut *tx)
    .await?;
    let brand = recipe
        .brand
        .map(|brand| serde_json::to_value(brand).map_err(anyhow::Error::from))
        .transpose()?;
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO compositions (id, project_id, owner_id, version, clip_asset_ids, title,
                                   call_to_action, music_asset_id, music_volume, brand,
                                   voice_lines, caption_style)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        id,
        project,
        owner,
        version,
        &recipe.clip_asset_ids,
        recipe.title,
        recipe.call_to_action,
        recipe.music_asset_id,
        volume,
        brand,
        serde_json::to_value(&recipe.voice_lines).map_err(anyhow::Error::from)?,
        captions.map(CaptionStyle::as_str)
    )
    .execute(&mut *tx)
    .await?;
    jobs::enqueue(&mut tx, Some(project), &RenderJob { composition_id: id }).await?;
    tx.commit().await?;
    Ok(id)
}

/// What a render of `project` asked for now would be made of, or why it cannot be made.
async fn recipe(
    conn: &mut PgConnection,
    owner: Uuid,
    project: Uuid,
    with_music: bool,
    volume: f32,
    captions: Option<CaptionStyle>,
) -> Result<Recipe, AppError> {
    let facts = sqlx::query!(
        "SELECT brief, format FROM projects WHERE id = $1 AND owner_id = $2",
        project,
        owner
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found)?;
    let parts = ingredients(conn, project).await?;
    if let Some(reason) = parts.blocked {
        return Err(AppError::Conflict(reason));
    }
    let music = if with_music {
        Some(
            sqlx::query_scalar!(
                "SELECT asset_id FROM soundtracks WHERE project_id = $1",
                project
            )
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| {
                AppError::Conflict("Make the music first, or render without it.".into())
            })?,
        )
    } else {
        None
    };
    let brief: Brief = facts
        .brief
        .and_then(|b| serde_json::from_value(b).ok())
        .unwrap_or_default();
    // The kit as it is now: editing it while the render runs changes nothing.
    let brand = crate::brand::ssr::for_render(conn, owner, project).await?;
    Ok(Recipe {
        format: VideoFormat::parse(&facts.format).unwrap_or_default(),
        clip_asset_ids: parts.clips,
        title: Some(brief.product_name).filter(|t| !t.is_empty()),
        call_to_action: Some(brief.call_to_action).filter(|t| !t.is_empty()),
        music_asset_id: music,
        music_volume: volume,
        brand,
        voice_lines: parts.voices,
        captions,
    })
}

/// The render the user of `project` is most likely to ask for next (their last render's
/// choices of music and captions, else the final page's defaults), with its owner; `None`
/// when it cannot be made yet.
pub async fn likely_recipe(
    conn: &mut PgConnection,
    project: Uuid,
) -> Result<Option<(Uuid, Recipe)>, AppError> {
    let Some(owner) = sqlx::query_scalar!("SELECT owner_id FROM projects WHERE id = $1", project)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let last = sqlx::query!(
        "SELECT music_asset_id IS NOT NULL AS \"with_music!\", music_volume, caption_style
         FROM compositions WHERE project_id = $1 ORDER BY version DESC LIMIT 1",
        project
    )
    .fetch_optional(&mut *conn)
    .await?;
    let soundtrack = sqlx::query_scalar!(
        "SELECT count(*) AS \"n!\" FROM soundtracks WHERE project_id = $1",
        project
    )
    .fetch_one(&mut *conn)
    .await?
        > 0;
    let (with_music, volume, captions) = match last {
        Some(last) => (
            last.with_music && soundtrack,
            last.music_volume,
            last.caption_style.as_deref().and_then(CaptionStyle::parse),
        ),
        None => (soundtrack, DEFAULT_VOLUME, Some(CaptionStyle::default())),
    };
    match recipe(conn, owner, project, with_music, volume, captions).await {
        Ok(recipe) => Ok(Some((owner, recipe))),
        Err(AppError::Conflict(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// A render's status, its row locked for the rest of the transaction, if `owner` owns it.
pub async fn lock_render(
    tx: &mut PgConnection,
    owner: Uuid,
    render: Uuid,
) -> Result<String, AppError> {
    sqlx::query_scalar!(
        "SELECT status FROM compositions WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        render,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(render_not_found)
}

/// Stops a queued or running render; the worker's heartbeat notices and kills FFmpeg.
#[tracing::instrument(name = "render::cancel", skip_all, fields(user = %owner, render = %render))]
pub async fn cancel_render(pool: &PgPool, owner: Uuid, render: Uuid) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let status = lock_render(&mut tx, owner, render).await?;
    if !matches!(status.as_str(), "queued" | "running") {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE compositions SET status = 'cancelled', stage = 'Cancelled', finished_at = now() WHERE id = $1",
        render
    )
    .execute(&mut *tx)
    .await?;
    jobs::cancel::<RenderJob>(&mut tx, "composition_id", &render.to_string()).await?;
    emit(
        &mut tx,
        render,
        &Recorded::Error {
            message: "The render was cancelled.".into(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
