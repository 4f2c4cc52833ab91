//! What a render's live stream reports, as stored in the event log.

use crate::events::{self, Topic};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Recorded {
    Progress { percent: f32, stage: String },
    Complete,
    Error { message: String },
}

impl events::Recorded for Recorded {
    fn kind(&self) -> &'static str {
        match self {
            Self::Progress { .. } => "progress",
            Self::Complete => "complete",
            Self::Error { .. } => "error",
        }
    }
}

/// Records a render event inside the caller's transaction.
pub async fn emit(tx: &mut PgConnection, render: Uuid, event: &Recorded) -> sqlx::Result<i64> {
    let project = sqlx::query_scalar!("SELECT project_id FROM compositions WHERE id = $1", render)
        .fetch_one(&mut *tx)
        .await?;
    events::emit(tx, project, Topic::Render(render), event).await
}
