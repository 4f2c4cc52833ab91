//! Pieces kept in storage, as assets of their project recorded in `render_pieces` by
//! name (see `pieces.rs`): what the background made ahead, the render fetches. After a
//! render, the project's pieces it neither made nor fetched are deleted, so a project
//! keeps the pieces of its latest video (and any made since), not of every draft.

use super::pieces::Pieces;
use crate::{
    generation::ssr::GeneratedMedia,
    jobs::JobContext,
    render::assemble::fetch,
    storage::{ssr::delete_files, AssetKind},
};
use anyhow::Context;
use async_trait::async_trait;
use sqlx::PgPool;
use std::path::Path;
use time::OffsetDateTime;
use uuid::Uuid;

/// The pieces of one project, kept in storage.
pub struct KeptPieces<'a> {
    context: &'a JobContext,
    owner: Uuid,
    project: Uuid,
}

impl<'a> KeptPieces<'a> {
    pub fn new(context: &'a JobContext, owner: Uuid, project: Uuid) -> Self {
        Self {
            context,
            owner,
            project,
        }
    }
}

#[async_trait]
impl Pieces for KeptPieces<'_> {
    async fn fetch(&self, key: &str, file: &Path) -> anyhow::Result<bool> {
        // Marked used first, so that a render finishing meanwhile does not let it go.
        let asset = sqlx::query_scalar!(
            "UPDATE render_pieces SET used_at = now() WHERE project_id = $1 AND key = $2
             RETURNING asset_id",
            self.project,
            key
        )
        .fetch_optional(&self.context.pool)
        .await?;
        let Some(asset) = asset else {
            return Ok(false);
        };
        if let Err(error) = fetch(self.context, asset, file).await {
            // Its file is gone or unreadable: forgotten, so that the one made now is kept.
            let forgotten = sqlx::query_scalar!(
                "DELETE FROM render_pieces WHERE project_id = $1 AND key = $2 RETURNING asset_id",
                self.project,
                key
            )
            .fetch_all(&self.context.pool)
            .await?;
            delete_assets(self.context, &forgotten).await;
            return Err(error);
        }
        Ok(true)
    }

    async fn keep(&self, key: &str, file: &Path, frames: u32) -> anyhow::Result<()> {
        let dir = tempfile::Builder::new()
            .prefix("piece-")
            .tempdir()
            .context("making a folder for a piece")?;
        let is_sound = file.extension().is_some_and(|e| e == "m4a");
        let (name, extension, kind) = if is_sound {
            ("piece.m4a", "m4a", AssetKind::Audio)
        } else {
            ("piece.mp4", "mp4", AssetKind::Video)
        };
        tokio::fs::copy(file, dir.path().join(name)).await?;
        let media = GeneratedMedia::new(dir, name.into(), extension, "reelsmith");
        let stored = self
            .context
            .keep(
                self.owner,
                self.project,
                kind,
                "A piece of the final video, made ahead",
                media,
            )
            .await?;
        let recorded = sqlx::query_scalar!(
            "INSERT INTO render_pieces (project_id, key, asset_id, frames)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING asset_id",
            self.project,
            key,
            stored.id,
            frames as i32
        )
        .fetch_optional(&self.context.pool)
        .await?;
        // Made by another job meanwhile: that one is kept, this one let go.
        if recorded.is_none() {
            delete_assets(self.context, &[stored.id]).await;
        }
        Ok(())
    }
}

/// The database's clock, which `used_at` is in.
pub async fn now(pool: &PgPool) -> anyhow::Result<OffsetDateTime> {
    let now = sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(pool)
        .await?;
    Ok(now)
}

/// Deletes the pieces of `project` not used since `since` (a render's start), their
/// assets and files. A failure costs storage, not correctness: logged.
pub async fn let_go_unused(context: &JobContext, project: Uuid, since: OffsetDateTime) {
    let unused = sqlx::query_scalar!(
        "DELETE FROM render_pieces WHERE project_id = $1 AND used_at < $2 RETURNING asset_id",
        project,
        since
    )
    .fetch_all(&context.pool)
    .await;
    match unused {
        Ok(unused) => delete_assets(context, &unused).await,
        Err(error) => tracing::warn!(%error, "could not let go of unused pieces"),
    }
}

/// Deletes the rows and files of `assets`.
async fn delete_assets(context: &JobContext, assets: &[Uuid]) {
    if assets.is_empty() {
        return;
    }
    let keys = sqlx::query_scalar!(
        "DELETE FROM assets WHERE id = ANY($1) RETURNING storage_key",
        assets
    )
    .fetch_all(&context.pool)
    .await;
    let keys = match keys {
        Ok(keys) => keys,
        Err(error) => {
            tracing::warn!(%error, "could not delete the assets of unused pieces");
            return;
        }
    };
    delete_files(&*context.storage, keys).await;
}
