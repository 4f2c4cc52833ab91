//! Share links: a render's public page behind a random token, counted and revocable.

use crate::{error::AppError, render::ssr::lock_render};
use sqlx::PgPool;
use uuid::Uuid;

/// A new share token: 128 random bits, URL-safe.
pub fn new_token() -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// The render's live link, made if it has none. Only finished renders can be shared.
#[tracing::instrument(name = "share::create", skip_all, fields(user = %owner, render = %render))]
pub async fn share(pool: &PgPool, owner: Uuid, render: Uuid) -> Result<String, AppError> {
    let mut tx = pool.begin().await?;
    let status = lock_render(&mut tx, owner, render).await?;
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

#[tracing::instrument(name = "share::revoke", skip_all, fields(user = %owner))]
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
         RETURNING COALESCE(NULLIF(btrim(p.brief->>'product_name'), ''), p.name) AS \"title!\",
                   a.width, a.height, a.duration_ms, poster.id IS NOT NULL AS \"has_poster!\",
                   c.captions IS NOT NULL AS \"has_captions!\"",
        token
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(not_found)?;
    // The media go through the token too (see `media`): nothing in the page expires, and
    // nothing in it names the owner or the project.
    let page_url = format!("{}/s/{token}", public_url.trim_end_matches('/'));
    let captions_url = row.has_captions.then(|| format!("{page_url}/captions.vtt"));
    Ok(super::SharedVideo {
        captions_url,
        title: row.title,
        video_url: format!("{page_url}/video.mp4"),
        poster_url: row.has_poster.then(|| format!("{page_url}/poster.jpg")),
        page_url,
        width: row.width.unwrap_or(1080),
        height: row.height.unwrap_or(1920),
        duration_ms: row.duration_ms.unwrap_or(0),
    })
}
