//! Renders: queued as durable jobs, run by the worker, reported through events like the
//! storyboard's (numbered per render under its row lock, announced with `pg_notify`).

use super::{download_name, FinalState, RenderEvent, RenderView};
use crate::{
    creative::Brief,
    error::AppError,
    storage::ssr::Storage,
    studio::{
        events::CHANNEL,
        jobs::{enqueue_render, JobKind},
        ssr::{download_link, link},
    },
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub fn render_not_found() -> AppError {
    AppError::not_found("Render")
}

/// An event as stored; `Complete` is turned into the render's view (fresh links) when sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Recorded {
    Progress { percent: f32, stage: String },
    Complete,
    Error { message: String },
}

impl Recorded {
    fn kind(&self) -> &'static str {
        match self {
            Self::Progress { .. } => "progress",
            Self::Complete => "complete",
            Self::Error { .. } => "error",
        }
    }
}

pub async fn emit(tx: &mut PgConnection, render: Uuid, event: &Recorded) -> sqlx::Result<i64> {
    let seq = sqlx::query_scalar!(
        "UPDATE compositions SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
        render
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO composition_events (composition_id, seq, kind, payload) VALUES ($1, $2, $3, $4)",
        render,
        seq,
        event.kind(),
        serde_json::to_value(event).expect("events serialise")
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        CHANNEL,
        format!("{render}:{seq}")
    )
    .execute(&mut *tx)
    .await?;
    Ok(seq)
}

pub async fn since(pool: &PgPool, render: Uuid, after: i64) -> sqlx::Result<Vec<(i64, Recorded)>> {
    let rows = sqlx::query!(
        "SELECT seq, payload FROM composition_events WHERE composition_id = $1 AND seq > $2
         ORDER BY seq LIMIT 500",
        render,
        after
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| Some((row.seq, serde_json::from_value(row.payload).ok()?)))
        .collect())
}

/// The event a client gets.
pub async fn to_event(
    pool: &PgPool,
    storage: &dyn Storage,
    render: Uuid,
    recorded: Recorded,
) -> RenderEvent {
    match recorded {
        Recorded::Progress { percent, stage } => RenderEvent::Progress { percent, stage },
        Recorded::Error { message } => RenderEvent::Error { message },
        Recorded::Complete => match render_view(pool, storage, None, render).await {
            Ok(view) => RenderEvent::Complete {
                render: Box::new(view),
            },
            Err(error) => RenderEvent::Error {
                message: error.to_string(),
            },
        },
    }
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
                c.music_asset_id, c.last_seq, a.storage_key AS \"key?\", a.bytes AS \"bytes?\",
                a.width, a.height, sl.token AS \"share_token?\", sl.views AS \"share_views?\",
                p.name AS project_name
         FROM compositions c JOIN projects p ON p.id = c.project_id
         LEFT JOIN assets a ON a.id = c.asset_id
         LEFT JOIN share_links sl ON sl.composition_id = c.id AND sl.revoked_at IS NULL
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
    })
}

/// What a render is made of, read from the approved storyboard.
struct Ingredients {
    clips: Vec<Uuid>,
    seconds: f64,
    blocked: Option<String>,
}

async fn ingredients(conn: &mut PgConnection, project: Uuid) -> sqlx::Result<Ingredients> {
    let rows = sqlx::query!(
        "SELECT s.video_asset_id, s.video_approved, s.duration_secs FROM scenes s
         JOIN storyboards sb ON sb.id = s.storyboard_id
         WHERE sb.project_id = $1 ORDER BY s.position",
        project
    )
    .fetch_all(&mut *conn)
    .await?;
    let blocked = if rows.is_empty() {
        Some("Plan the storyboard first.".to_string())
    } else if rows
        .iter()
        .any(|r| !r.video_approved || r.video_asset_id.is_none())
    {
        Some("Approve every scene's clip first.".to_string())
    } else {
        None
    };
    let total: f64 = rows.iter().map(|r| r.duration_secs as f64).sum();
    let n = rows.len();
    Ok(Ingredients {
        clips: rows.iter().filter_map(|r| r.video_asset_id).collect(),
        seconds: total - 0.5 * n.saturating_sub(1) as f64,
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
    .ok_or_else(crate::projects::ssr::not_found)?;
    let parts = ingredients(&mut conn, project).await?;
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
        renders,
        offline,
        public_url: public_url.trim_end_matches('/').to_string(),
    })
}

/// Stores `asset` as the project's soundtrack (replacing the previous one).
pub async fn set_soundtrack(
    pool: &PgPool,
    project: Uuid,
    asset: Uuid,
    prompt: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO soundtracks (project_id, asset_id, prompt) VALUES ($1, $2, $3)
         ON CONFLICT (project_id) DO UPDATE SET asset_id = $2, prompt = $3, created_at = now()",
        project,
        asset,
        prompt
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Queues a new version of the final video.
pub async fn start_render(
    pool: &PgPool,
    owner: Uuid,
    project: Uuid,
    with_music: bool,
    volume: f32,
) -> Result<Uuid, AppError> {
    if !(0.0..=1.0).contains(&volume) {
        return Err(AppError::invalid("Music volume goes from 0 to 100%."));
    }
    let mut tx = pool.begin().await?;
    let facts = sqlx::query!(
        "SELECT brief FROM projects WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        project,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(crate::projects::ssr::not_found)?;
    let parts = ingredients(&mut tx, project).await?;
    if let Some(reason) = parts.blocked {
        return Err(AppError::Conflict(reason));
    }
    let music = if with_music {
        Some(
            sqlx::query_scalar!(
                "SELECT asset_id FROM soundtracks WHERE project_id = $1",
                project
            )
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                AppError::Conflict("Make the music first, or render without it.".into())
            })?,
        )
    } else {
        None
    };
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
    let brief: Brief = facts
        .brief
        .and_then(|b| serde_json::from_value(b).ok())
        .unwrap_or_default();
    let version = sqlx::query_scalar!(
        "SELECT COALESCE(MAX(version), 0) + 1 AS \"v!\" FROM compositions WHERE project_id = $1",
        project
    )
    .fetch_one(&mut *tx)
    .await?;
    let id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO compositions (id, project_id, owner_id, version, clip_asset_ids, title,
                                   call_to_action, music_asset_id, music_volume)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        id,
        project,
        owner,
        version,
        &parts.clips,
        Some(brief.product_name).filter(|t| !t.is_empty()),
        Some(brief.call_to_action).filter(|t| !t.is_empty()),
        music,
        volume
    )
    .execute(&mut *tx)
    .await?;
    enqueue_render(&mut tx, project, id).await?;
    tx.commit().await?;
    Ok(id)
}

/// Stops a queued or running render; the worker's heartbeat notices and kills FFmpeg.
pub async fn cancel_render(pool: &PgPool, owner: Uuid, render: Uuid) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let status = sqlx::query_scalar!(
        "SELECT status FROM compositions WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        render,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(render_not_found)?;
    if !matches!(status.as_str(), "queued" | "running") {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE compositions SET status = 'cancelled', stage = 'Cancelled', finished_at = now() WHERE id = $1",
        render
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE jobs SET status = 'cancelled', updated_at = now()
         WHERE kind = $1 AND status IN ('queued', 'running') AND payload->>'composition_id' = $2",
        JobKind::Render.as_str(),
        render.to_string()
    )
    .execute(&mut *tx)
    .await?;
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

// ---- Share links ---------------------------------------------------------------------

/// A new share token: 128 random bits, URL-safe.
pub fn new_token() -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// The render's live link, made if it has none. Only finished renders can be shared.
pub async fn share(pool: &PgPool, owner: Uuid, render: Uuid) -> Result<String, AppError> {
    let mut tx = pool.begin().await?;
    let status = sqlx::query_scalar!(
        "SELECT status FROM compositions WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        render,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(render_not_found)?;
    if status != "succeeded" {
        return Err(AppError::Conflict(
            "Only a finished render can be shared.".into(),
        ));
    }
    let existing = sqlx::query_scalar!(
        "SELECT token FROM share_links WHERE composition_id = $1 AND revoked_at IS NULL",
        render
    )
    .fetch_optional(&mut *tx)
    .await?;
    let token = match existing {
        Some(token) => token,
        None => {
            let token = new_token();
            sqlx::query!(
                "INSERT INTO share_links (token, composition_id, owner_id) VALUES ($1, $2, $3)",
                token,
                render,
                owner
            )
            .execute(&mut *tx)
            .await?;
            token
        }
    };
    tx.commit().await?;
    Ok(token)
}

pub async fn revoke(pool: &PgPool, owner: Uuid, token: &str) -> Result<(), AppError> {
    let revoked = sqlx::query!(
        "UPDATE share_links SET revoked_at = now() WHERE token = $1 AND owner_id = $2 AND revoked_at IS NULL",
        token,
        owner
    )
    .execute(pool)
    .await?;
    if revoked.rows_affected() == 0 {
        return Err(AppError::not_found("Share link"));
    }
    Ok(())
}

/// What a shared link shows, counting the view; revoked or unknown tokens are 404.
pub async fn open_shared(
    pool: &PgPool,
    storage: &dyn Storage,
    token: &str,
    public_url: &str,
) -> Result<super::SharedVideo, AppError> {
    let not_found = || AppError::not_found("Video");
    if token.len() < 22 || token.len() > 64 {
        return Err(not_found());
    }
    let row = sqlx::query!(
        "UPDATE share_links l SET views = views + 1
         FROM compositions c
         JOIN projects p ON p.id = c.project_id
         JOIN assets a ON a.id = c.asset_id
         LEFT JOIN assets poster ON poster.id = c.poster_asset_id
         WHERE l.token = $1 AND l.revoked_at IS NULL AND c.id = l.composition_id
         RETURNING p.name, a.storage_key, a.width, a.height, a.duration_ms,
                   poster.storage_key AS \"poster_key?\"",
        token
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(not_found)?;
    let absolute = |url: String| {
        if url.starts_with('/') {
            format!("{}{url}", public_url.trim_end_matches('/'))
        } else {
            url
        }
    };
    let video_url = link(storage, &row.storage_key)
        .await
        .map(absolute)
        .ok_or(AppError::Internal)?;
    let poster_url = match &row.poster_key {
        Some(key) => link(storage, key).await.map(absolute),
        None => None,
    };
    Ok(super::SharedVideo {
        title: row.name,
        video_url,
        poster_url,
        page_url: format!("{}/s/{token}", public_url.trim_end_matches('/')),
        width: row.width.unwrap_or(1080),
        height: row.height.unwrap_or(1920),
        duration_ms: row.duration_ms.unwrap_or(0),
    })
}
