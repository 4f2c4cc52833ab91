//! A render's captions as files: `GET /api/compositions/{id}/captions.vtt` and `.srt` for
//! its owner (downloads, and the player's track), and `/s/{token}/captions.vtt` on a
//! share link (the share page's track). Made from the cues the render burned in, so the
//! files and the picture agree to the millisecond.

use super::{
    captions::{srt, vtt, TimedCaption},
    ssr::render_not_found,
};
use crate::{auth::ssr::AuthUser, error::parse_id, error::AppError, state::AppState};
use axum::{
    extract::{Path, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

/// Which file: WebVTT (browsers' tracks) or SubRip (editors, platforms' uploads).
#[derive(Clone, Copy)]
enum Kind {
    Vtt,
    Srt,
}

fn respond(cues: Vec<TimedCaption>, kind: Kind, name: &str) -> Response {
    let (body, mime, extension) = match kind {
        Kind::Vtt => (vtt(&cues), "text/vtt; charset=utf-8", "vtt"),
        Kind::Srt => (srt(&cues), "application/x-subrip; charset=utf-8", "srt"),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("inline; filename=\"{name}.{extension}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn parse(captions: Option<serde_json::Value>) -> Option<Vec<TimedCaption>> {
    captions.and_then(|value| serde_json::from_value(value).ok())
}

async fn owners(state: &AppState, owner: Uuid, id: &str, kind: Kind) -> Response {
    let Ok(render) = parse_id(id, "Render") else {
        return render_not_found().into_response();
    };
    let row = sqlx::query!(
        "SELECT c.captions, c.version, p.name FROM compositions c
         JOIN projects p ON p.id = c.project_id
         WHERE c.id = $1 AND c.owner_id = $2 AND c.status = 'succeeded'",
        render,
        owner
    )
    .fetch_optional(&state.pool)
    .await;
    match row {
        Ok(Some(row)) => match parse(row.captions) {
            Some(cues) => {
                let name = super::download_name(&row.name, row.version);
                respond(cues, kind, name.trim_end_matches(".mp4"))
            }
            None => AppError::not_found("Captions").into_response(),
        },
        Ok(None) => render_not_found().into_response(),
        Err(error) => AppError::from(error).into_response(),
    }
}

pub async fn owner_vtt(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    Path(id): Path<String>,
) -> Response {
    owners(&state, owner, &id, Kind::Vtt).await
}

pub async fn owner_srt(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    Path(id): Path<String>,
) -> Response {
    owners(&state, owner, &id, Kind::Srt).await
}

/// The captions of a shared render, through its live share link.
pub async fn shared_vtt(state: &AppState, token: &str) -> Response {
    let row = sqlx::query_scalar!(
        "SELECT c.captions FROM share_links l JOIN compositions c ON c.id = l.composition_id
         WHERE l.token = $1 AND l.revoked_at IS NULL",
        token
    )
    .fetch_optional(&state.pool)
    .await;
    match row {
        Ok(Some(captions)) => match parse(captions) {
            Some(cues) => respond(cues, Kind::Vtt, "captions"),
            None => AppError::not_found("Captions").into_response(),
        },
        Ok(None) => AppError::not_found("Video").into_response(),
        Err(error) => AppError::from(error).into_response(),
    }
}
