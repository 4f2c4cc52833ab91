//! Storyboard events: written in the same transaction as the change they report, numbered
//! per storyboard under the storyboard's row lock (so ids follow commit order), and
//! announced with `pg_notify` as a wake-up. Every instance listens once and fans the
//! wake-ups out to its streams, which then read the table: the table is the truth.

use super::{ssr::SceneRecord, StoryboardEvent};
use crate::storage::ssr::Storage;
use serde::{Deserialize, Serialize};
use sqlx::{postgres::PgListener, PgConnection, PgPool};
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

pub const CHANNEL: &str = "storyboard_events";

/// An event as stored: scenes with their asset keys, turned into fresh links when sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Recorded {
    SceneUpdate {
        scene: Option<SceneRecord>,
        scene_id: Uuid,
        removed: bool,
        /// Filled in by [`emit`]; absent from events stored before it was added.
        #[serde(default)]
        spent_microusd: i64,
    },
    StoryboardComplete {
        storyboard_id: Uuid,
    },
    StoryboardError {
        scene_id: Uuid,
        message: String,
    },
}

impl Recorded {
    pub fn scene(scene: &SceneRecord) -> Self {
        Self::SceneUpdate {
            scene: Some(scene.clone()),
            scene_id: scene.id,
            removed: false,
            spent_microusd: 0,
        }
    }

    pub fn removed(scene_id: Uuid) -> Self {
        Self::SceneUpdate {
            scene: None,
            scene_id,
            removed: true,
            spent_microusd: 0,
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
            } => StoryboardEvent::SceneUpdate {
                scene: match scene {
                    Some(scene) => Some(scene.view(storage).await),
                    None => None,
                },
                scene_id: *scene_id,
                removed: *removed,
                spent_microusd: *spent_microusd,
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

    fn kind(&self) -> &'static str {
        match self {
            Self::SceneUpdate { .. } => "scene_update",
            Self::StoryboardComplete { .. } => "storyboard_complete",
            Self::StoryboardError { .. } => "storyboard_error",
        }
    }
}

/// Records an event inside the caller's transaction and returns its id.
pub async fn emit(tx: &mut PgConnection, storyboard: Uuid, event: &Recorded) -> sqlx::Result<i64> {
    let row = sqlx::query!(
        "UPDATE storyboards SET last_seq = last_seq + 1, updated_at = now()
         WHERE id = $1 RETURNING last_seq, project_id",
        storyboard
    )
    .fetch_one(&mut *tx)
    .await?;
    let seq = row.last_seq;
    let mut event = event.clone();
    if let Recorded::SceneUpdate { spent_microusd, .. } = &mut event {
        *spent_microusd = super::ssr::project_cost(&mut *tx, row.project_id).await?;
    }
    let payload = serde_json::to_value(&event).expect("events serialise");
    sqlx::query!(
        "INSERT INTO storyboard_events (storyboard_id, seq, kind, payload) VALUES ($1, $2, $3, $4)",
        storyboard,
        seq,
        event.kind(),
        payload
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        CHANNEL,
        format!("{storyboard}:{seq}")
    )
    .execute(&mut *tx)
    .await?;
    Ok(seq)
}

/// Events after `after`, oldest first (at most `limit`).
pub async fn since(
    pool: &PgPool,
    storyboard: Uuid,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, Recorded)>> {
    let rows = sqlx::query!(
        "SELECT seq, payload FROM storyboard_events
         WHERE storyboard_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        storyboard,
        after,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match serde_json::from_value(row.payload) {
            Ok(event) => Some((row.seq, event)),
            Err(error) => {
                tracing::error!(%error, seq = row.seq, "unreadable storyboard event skipped");
                None
            }
        })
        .collect())
}

/// A wake-up: something happened on a storyboard, or streams should re-read everything
/// (after the listener lost its connection, when notifications may have been missed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    Storyboard(Uuid),
    Resync,
}

/// This instance's one listener, fanned out to its streams.
#[derive(Clone)]
pub struct Notifier {
    sender: broadcast::Sender<Wake>,
}

impl Notifier {
    /// Listens on `pool`'s database in the background.
    pub fn start(pool: PgPool) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let notifier = Self { sender };
        let fan_out = notifier.sender.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = listen(&pool, &fan_out).await {
                    tracing::warn!(%error, "event listener lost its connection; reconnecting");
                }
                let _ = fan_out.send(Wake::Resync);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        notifier
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Wake> {
        self.sender.subscribe()
    }
}

async fn listen(pool: &PgPool, fan_out: &broadcast::Sender<Wake>) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    // Anything sent while we were not listening is in the table: streams re-read it.
    let _ = fan_out.send(Wake::Resync);
    loop {
        match listener.try_recv().await? {
            Some(notification) => {
                let storyboard = notification
                    .payload()
                    .split(':')
                    .next()
                    .and_then(|id| Uuid::parse_str(id).ok());
                let _ = fan_out.send(match storyboard {
                    Some(id) => Wake::Storyboard(id),
                    None => Wake::Resync,
                });
            }
            // The connection dropped and will be re-made on the next call.
            None => {
                let _ = fan_out.send(Wake::Resync);
            }
        }
    }
}
