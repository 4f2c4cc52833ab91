//! What a render's live stream reports, as stored in the event log; `Complete` is turned
//! into the render's view (fresh links) when sent.

use super::{ssr::render_view, RenderEvent};
use crate::{
    events::{self, Topic},
    storage::ssr::Storage,
};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
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
