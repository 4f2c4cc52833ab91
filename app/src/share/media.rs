//! `GET /s/{token}/video.mp4` and `/s/{token}/poster.jpg`: a shared render's media through
//! its share token. The page and its link previews name these addresses only (no owner
//! or project ids, nothing that goes stale); each request is answered with a redirect to
//! a storage link valid for a few minutes, so a revoked link stops playing at once for
//! anyone who has not started, and within minutes for anyone who has.

use crate::{error::AppError, state::AppState, storage::ssr::ObjectKey};
use axum::{
    extract::{Path, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use std::time::Duration;

/// How long the storage link a shared medium redirects to stays valid.
pub const MEDIA_LINK_LIFETIME: Duration = Duration::from_secs(5 * 60);

pub async fn shared_media(
    State(state): State<AppState>,
    Path((token, file)): Path<(String, String)>,
) -> Response {
    let not_found = || AppError::not_found("Video").into_response();
    if token.len() < 22 || token.len() > 64 {
        return not_found();
    }
    let poster = match file.as_str() {
        "video.mp4" => false,
        "poster.jpg" => true,
        "captions.vtt" => return crate::render::caption_files::shared_vtt(&state, &token).await,
        _ => return not_found(),
    };
    let key = sqlx::query_scalar!(
        "SELECT CASE WHEN $2 THEN poster.storage_key ELSE a.storage_key END AS key
         FROM share_links l
         JOIN compositions c ON c.id = l.composition_id
         JOIN assets a ON a.id = c.asset_id
         LEFT JOIN assets poster ON poster.id = c.poster_asset_id
         WHERE l.token = $1 AND l.revoked_at IS NULL",
        token,
        poster
    )
    .fetch_optional(&state.pool)
    .await;
    let key = match key {
        Ok(Some(Some(key))) => key,
        Ok(_) => return not_found(),
        Err(error) => return AppError::from(error).into_response(),
    };
    let signed = match ObjectKey::parse(&key) {
        Ok(key) => state.storage.signed_url(&key, MEDIA_LINK_LIFETIME).await,
        Err(error) => Err(error),
    };
    match signed {
        Ok(url) => {
            let mut response = StatusCode::FOUND.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&url) {
                headers.insert(header::LOCATION, location);
            }
            // Every request asks again, so a revocation is seen at once.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => AppError::from(error).into_response(),
    }
}
