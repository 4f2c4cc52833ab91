//! What the storyboard's live stream reports, as stored in the event log: scenes with
//! their asset keys, turned into fresh links when sent.

use super::{record::SceneRecord, StoryboardEvent};
use crate::{
    budget::ssr::project_spend,
    events::{self, Topic},
    storage::ssr::Storage,
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Recorded {
    SceneUpdate {
        // Boxed: a scene is far larger than the other events.
        scene: Option<Box<SceneRecord>>,
        scene_id: Uuid,
        removed: bool,
        /// Filled in by [`emit`]; absent from events stored before it was added.
        #[serde(default)]
        spent_microusd: i64,
        #[serde(default)]
        reserved_microusd: i64,
    },
    StoryboardComplete {
        storyboard_id: Uuid,
    },
    StoryboardError {
        scene_id: Uuid,
        message: String,
    },
}

impl events::Recorded for Recorded {
    fn kind(&self) -> &'static str {
        match self {
            Self::SceneUpdate { .. } => "scene_update",
            Self::StoryboardComplete { .. } => "storyboard_complete",
            Self::StoryboardError { .. } => "storyboard_error",
        }
    }
}

impl Recorded {
    pub fn scene(scene: &SceneRecord) -> Self {
        Self::SceneUpdate {
            scene: Some(Box::new(scene.clone())),
            scene_id: scene.id,
            removed: false,
            spent_microusd: 0,
            reserved_microusd: 0,
        }
    }

    pub fn removed(scene_id: Uuid) -> Self {
        Self::SceneUpdate {
            scene: None,
            scene_id,
            removed: true,
            spent_microusd: 0,
            reserved_microusd: 0,
        }
    }

    /// The event as a client sees it, with links valid from now.
    pub async fn to_event(&self, storage: &dyn Storage) -> StoryboardEvent {
        match self {
            Self::SceneUpdate {
                scene,
                scene_id,
                removed,
                spent_microusd,
                reserved_microusd,
            } => StoryboardEvent::SceneUpdate {
                scene: match scene {
                    Some(scene) => Some(Box::new(scene.view(storage).await)),
                    None => None,
                },
                scene_id: *scene_id,
                removed: *removed,
                spent_microusd: *spent_microusd,
                reserved_microusd: *reserved_microusd,
            },
            Self::StoryboardComplete { storyboard_id } => StoryboardEvent::StoryboardComplete {
                storyboard_id: *storyboard_id,
            },
            Self::StoryboardError { scene_id, message } => StoryboardEvent::StoryboardError {
                scene_id: *scene_id,
                message: message.clone(),
            },
        }
    }
}

/// Records a storyboard event inside the caller's transaction; a scene's update carries
/// the project's spend as it stands after the change.
pub async fn emit(tx: &mut PgConnection, storyboard: Uuid, event: &Recorded) -> sqlx::Result<i64> {
    let project = sqlx::query_scalar!(
        "UPDATE storyboards SET updated_at = now() WHERE id = $1 RETURNING project_id",
        storyboard
    )
    .fetch_one(&mut *tx)
    .await?;
    let mut event = event.clone();
    if let Recorded::SceneUpdate {
        spent_microusd,
        reserved_microusd,
        ..
    } = &mut event
    {
        (*spent_microusd, *reserved_microusd) = project_spend(&mut *tx, project).await?;
    }
    events::emit(tx, project, Topic::Storyboard(storyboard), &event).await
}
