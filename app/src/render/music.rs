//! The music: a track made from the storyboard's mood, as long as the video, by a
//! background job (so a closed page or a restart loses nothing, and a provider's
//! prediction is resumed rather than paid twice). The final step hears that it is ready
//! on the project's live stream.

use crate::{
    budget::ssr::Spending,
    creative::Mood,
    error::AppError,
    generation::ssr::{GenerationError, MusicRequest},
    jobs::{self, BackgroundJob, Failure, JobContext, Outcome},
    projects::{events::changed, ssr::not_found, ProjectEvent},
    storage::AssetKind,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MakeMusic {
    pub project_id: Uuid,
    pub prompt: String,
    pub duration_secs: f64,
    pub tempo_bpm: u32,
    pub seed: u64,
    /// One job per click (a second click while one runs is refused before this).
    pub request_id: Uuid,
}

/// Queues the project's music (replacing the current track when it is done), its
/// estimate reserved against the budgets.
pub async fn start_music(
    pool: &PgPool,
    spending: &Spending,
    owner: Uuid,
    project: Uuid,
    video_secs: f64,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "SELECT id FROM projects WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        project,
        owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    let mood = sqlx::query_scalar!(
        "SELECT mood FROM storyboards WHERE project_id = $1",
        project
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::Conflict("Plan the storyboard first.".into()))?;
    let mood: Mood = serde_json::from_value(mood).map_err(anyhow::Error::from)?;
    if jobs::busy::<MakeMusic>(&mut *tx, project).await? {
        return Err(AppError::Conflict(
            "The music is being made already.".into(),
        ));
    }
    let job = MakeMusic {
        project_id: project,
        prompt: format!(
            "{} background music for a video ad: {}; {}",
            mood.name,
            mood.style_keywords.join(", "),
            mood.description
        ),
        duration_secs: video_secs.max(5.0).ceil(),
        tempo_bpm: mood.tempo_bpm.clamp(60, 160),
        seed: rand::random(),
        request_id: Uuid::new_v4(),
    };
    sqlx::query!(
        "UPDATE projects SET music_error = NULL WHERE id = $1",
        project
    )
    .execute(&mut *tx)
    .await?;
    let mut tab = spending.tab(owner, Some(project));
    let estimate = spending.pricing.music(job.duration_secs);
    jobs::enqueue_paid(&mut tx, &mut tab, project, &job, estimate).await?;
    changed(&mut tx, project, ProjectEvent::MusicChanged).await?;
    tab.reserve(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

#[async_trait]
impl BackgroundJob for MakeMusic {
    const KIND: &'static str = "make_music";
    const CONCURRENCY: usize = 1;

    fn idempotency_key(&self) -> String {
        format!("{}:{}", Self::KIND, self.request_id)
    }

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError> {
        let owner = sqlx::query_scalar!(
            "SELECT owner_id FROM projects WHERE id = $1",
            self.project_id
        )
        .fetch_optional(&context.pool)
        .await
        .map_err(anyhow::Error::from)?;
        let Some(owner) = owner else {
            return Ok(Outcome::Obsolete);
        };
        let request = MusicRequest {
            prompt: self.prompt.clone(),
            duration_secs: self.duration_secs,
            tempo_bpm: self.tempo_bpm,
            seed: self.seed,
        };
        let music = context
            .media
            .music
            .generate_music(&request, &context.run)
            .await?;
        let stored = context
            .keep(
                owner,
                self.project_id,
                AssetKind::Audio,
                &self.prompt,
                music,
            )
            .await?;
        let mut tx = context.pool.begin().await.map_err(anyhow::Error::from)?;
        if !context.finish(&mut tx).await.map_err(anyhow::Error::from)? {
            return Ok(Outcome::Obsolete);
        }
        sqlx::query!(
            "INSERT INTO soundtracks (project_id, asset_id, prompt) VALUES ($1, $2, $3)
             ON CONFLICT (project_id) DO UPDATE SET asset_id = $2, prompt = $3, created_at = now()",
            self.project_id,
            stored.id,
            self.prompt
        )
        .execute(&mut *tx)
        .await
        .map_err(anyhow::Error::from)?;
        changed(&mut tx, self.project_id, ProjectEvent::MusicChanged)
            .await
            .map_err(anyhow::Error::from)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        Ok(Outcome::Done)
    }

    async fn on_failure(&self, tx: &mut PgConnection, failure: &Failure) -> anyhow::Result<()> {
        if failure.retry {
            return Ok(());
        }
        sqlx::query!(
            "UPDATE projects SET music_error = $2 WHERE id = $1",
            self.project_id,
            failure.message
        )
        .execute(&mut *tx)
        .await?;
        changed(tx, self.project_id, ProjectEvent::MusicChanged).await?;
        Ok(())
    }
}
