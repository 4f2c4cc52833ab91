//! The project's live stream: news that a part of the project changed (a mood board's
//! image arrived, the music is ready or failed), for pages to read that part again.

use super::ProjectEvent;
use crate::events::{self, Topic};
use sqlx::PgConnection;
use uuid::Uuid;

impl events::Recorded for ProjectEvent {
    fn kind(&self) -> &'static str {
        self.name()
    }
}

/// Records, inside the caller's transaction, that a part of the project changed.
pub async fn changed(
    tx: &mut PgConnection,
    project: Uuid,
    event: ProjectEvent,
) -> sqlx::Result<i64> {
    events::emit(tx, project, Topic::Project(project), &event).await
}
