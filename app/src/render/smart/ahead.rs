//! Making the final video's pieces ahead: once every scene's clip is approved, a
//! background job makes the crossfades, the titled spans, the end card and the sound of
//! the render the user is most likely to ask for (see `ssr::likely_recipe`) and keeps
//! them (`kept.rs`), so that the render they then ask for only joins pieces. A render
//! asked for with other choices (captions, music) fetches what still fits and makes the
//! rest; a scene changed and approved again has only its own pieces made again.

use super::{kept::KeptPieces, normalise, prepare, Plan};
use crate::{
    generation::ssr::GenerationError,
    jobs::{self, BackgroundJob, JobContext, Outcome},
    render::{compose::Encoder, jobs::RenderJob, smart::job::NormaliseClip, ssr::likely_recipe},
};
use anyhow::Context;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long the job waits for the clips' own normalising to finish before it normalises
/// what is missing itself.
const NORMALISING_WAIT: Duration = Duration::from_secs(10 * 60);

/// Makes the pieces of a project's final video ahead, for the clips approved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MakePiecesAhead {
    pub project_id: Uuid,
    /// The approved clips, in scene order: other clips are another job.
    pub clips: Vec<Uuid>,
}

/// Queues the making of `project`'s pieces for its approved `clips`, in the caller's
/// transaction (nothing when it was queued for these clips already).
pub async fn enqueue(tx: &mut PgConnection, project: Uuid, clips: Vec<Uuid>) -> sqlx::Result<()> {
    let job = MakePiecesAhead {
        project_id: project,
        clips,
    };
    jobs::enqueue(tx, Some(project), &job).await?;
    Ok(())
}

#[async_trait]
impl BackgroundJob for MakePiecesAhead {
    const KIND: &'static str = "make_pieces_ahead";
    const MAX_ATTEMPTS: i32 = 2;
    /// An encode uses the cores it gets.
    const CONCURRENCY: usize = 1;

    fn idempotency_key(&self) -> String {
        let clips: Vec<String> = self.clips.iter().map(Uuid::to_string).collect();
        format!(
            "ahead:{}:{}:{}",
            self.project_id,
            clips.join(","),
            normalise::settings(&Encoder::default())
        )
    }

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError> {
        let cancel = &context.run.cancel;
        let project = self.project_id;
        // The clips normalised in the background first, so that none is made twice.
        let waited = Instant::now();
        while jobs::busy::<NormaliseClip>(&context.pool, project)
            .await
            .map_err(anyhow::Error::from)?
            && waited.elapsed() < NORMALISING_WAIT
        {
            tokio::select! {
                _ = cancel.cancelled() => return Err(GenerationError::Cancelled),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
        // A render under way makes and keeps the pieces itself.
        if jobs::busy::<RenderJob>(&context.pool, project)
            .await
            .map_err(anyhow::Error::from)?
        {
            return Ok(Outcome::Obsolete);
        }
        let mut conn = context.pool.acquire().await.map_err(anyhow::Error::from)?;
        let likely = likely_recipe(&mut conn, project)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        drop(conn);
        let Some((owner, recipe)) = likely.filter(|(_, r)| r.clip_asset_ids == self.clips) else {
            // The scenes moved on: the job for the new clips makes their pieces.
            return Ok(Outcome::Obsolete);
        };
        let dir = tempfile::Builder::new()
            .prefix("ahead-")
            .tempdir()
            .context("making a folder for the pieces")?;
        let composition = recipe.composition(context, dir.path(), cancel).await?;
        let normalised = recipe.normalised(context, &composition, dir.path()).await?;
        let work_dir = tempfile::Builder::new()
            .prefix("smart-")
            .tempdir_in(dir.path())
            .context("making a folder for the pieces")?;
        if let Some(plan) = Plan::of(&composition, &normalised, work_dir.path())? {
            let pieces = KeptPieces::new(context, owner, project);
            let made = tokio::select! {
                _ = cancel.cancelled() => return Err(GenerationError::Cancelled),
                made = prepare(&composition, &normalised, &plan, work_dir.path(), dir.path(), &pieces, composition.time_limit()) => made?,
            };
            tracing::info!(%project, ?made, "made the final video's pieces ahead");
        }
        let mut tx = context.pool.begin().await.map_err(anyhow::Error::from)?;
        if !context.finish(&mut tx).await.map_err(anyhow::Error::from)? {
            return Ok(Outcome::Obsolete);
        }
        tx.commit().await.map_err(anyhow::Error::from)?;
        Ok(Outcome::Done)
    }
}
