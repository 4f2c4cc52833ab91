//! The mood image job: one sample image of a mood board (the hero shot, a lifestyle
//! moment or a detail), kept in the board's slot for it. The board may have been remade
//! meanwhile; the image is then dropped.

use crate::{
    creative::Mood,
    generation::ssr::{GenerationError, ImageRequest, Rgb},
    jobs::{BackgroundJob, Failure, JobContext, Outcome},
    projects::{events::changed, ProjectEvent, VideoFormat},
    storage::AssetKind,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

/// The sample images of a board: how each is framed, and its offline caption (the
/// mood's name, or one of its style keywords by index).
pub const MOOD_SHOTS: [(&str, Option<usize>); super::SHOTS_PER_MOOD] = [
    ("a hero shot", None),
    ("a lifestyle moment with people using it", Some(0)),
    ("a close-up detail and texture study", Some(1)),
];

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MoodImage {
    pub mood_id: Uuid,
    /// Which of [`MOOD_SHOTS`] (0-based).
    pub shot: i16,
    pub seed: u64,
}

#[async_trait]
impl BackgroundJob for MoodImage {
    const KIND: &'static str = "mood_image";
    /// Nine images are made per round: enough at once to finish in one image's time
    /// with a remote provider, few enough for the offline one on two cores.
    const CONCURRENCY: usize = 3;

    fn idempotency_key(&self) -> String {
        format!("{}:{}:{}", Self::KIND, self.mood_id, self.shot)
    }

    async fn run(&self, context: &JobContext) -> Result<Outcome, GenerationError> {
        let row = sqlx::query!(
            "SELECT m.mood, p.id, p.owner_id, p.format, p.brief->>'product_name' AS product
             FROM moods m JOIN projects p ON p.id = m.project_id WHERE m.id = $1",
            self.mood_id
        )
        .fetch_optional(&context.pool)
        .await
        .map_err(anyhow::Error::from)?;
        let Some(row) = row else {
            return Ok(Outcome::Obsolete);
        };
        let mood: Mood = serde_json::from_value(row.mood).map_err(anyhow::Error::from)?;
        let (framing, caption) = MOOD_SHOTS
            .get(self.shot.max(0) as usize)
            .copied()
            .ok_or_else(|| GenerationError::Refused("no such mood shot".into()))?;
        let style = format!(
            "{}. {}; {}",
            mood.description,
            mood.style_keywords.join(", "),
            mood.aesthetic
        );
        let request = ImageRequest {
            prompt: format!(
                "Mood board for {}, {framing} of {}: {style}",
                mood.name,
                row.product.unwrap_or_default()
            ),
            format: VideoFormat::parse(&row.format).unwrap_or_default(),
            palette: mood.palette.iter().filter_map(|c| Rgb::parse(c)).collect(),
            caption: Some(match caption {
                None => mood.name.clone(),
                Some(index) => mood
                    .style_keywords
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| mood.name.clone()),
            }),
            seed: self.seed,
            product: None,
        };
        let image = context
            .media
            .image
            .generate_image(&request, &context.run)
            .await?;
        let stored = context
            .keep(
                row.owner_id,
                row.id,
                AssetKind::Image,
                &request.prompt,
                image,
            )
            .await?;
        let mut tx = context.pool.begin().await.map_err(anyhow::Error::from)?;
        let placed = sqlx::query_scalar!(
            "UPDATE moods SET image_asset_ids[$2] = $3 WHERE id = $1 RETURNING project_id",
            self.mood_id,
            i32::from(self.shot) + 1,
            stored.id
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(anyhow::Error::from)?;
        let Some(project) = placed else {
            return Ok(Outcome::Obsolete);
        };
        if !context.finish(&mut tx).await.map_err(anyhow::Error::from)? {
            return Ok(Outcome::Obsolete);
        }
        changed(&mut tx, project, ProjectEvent::MoodsChanged)
            .await
            .map_err(anyhow::Error::from)?;
        tx.commit().await.map_err(anyhow::Error::from)?;
        Ok(Outcome::Done)
    }

    async fn lock_subject(&self, tx: &mut PgConnection) -> sqlx::Result<()> {
        sqlx::query!(
            "SELECT id FROM moods WHERE id = $1 FOR UPDATE",
            self.mood_id
        )
        .fetch_optional(&mut *tx)
        .await
        .map(drop)
    }

    async fn on_failure(&self, tx: &mut PgConnection, failure: &Failure) -> anyhow::Result<()> {
        if failure.retry {
            return Ok(());
        }
        let project = sqlx::query_scalar!(
            "UPDATE moods SET error = $2 WHERE id = $1 RETURNING project_id",
            self.mood_id,
            failure.message
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(project) = project {
            changed(tx, project, ProjectEvent::MoodsChanged).await?;
        }
        Ok(())
    }
}
