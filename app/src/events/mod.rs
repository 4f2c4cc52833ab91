//! The live event log, one for every topic (a storyboard's scenes, a render's progress, a
//! project's mood boards and music). An event is written in the same transaction as the
//! change it reports and numbered per topic under the topic's row in `event_streams`, so
//! ids follow commit order; `pg_notify` then wakes every instance, whose one listener
//! fans the wake-up out to its streams, which read the table: the table is the truth.
//!
//! What an event says is its domain's business (an enum implementing [`Recorded`]); this
//! module only stores, numbers, reads and announces them.

pub mod stream;
pub mod viewers;

use serde::{de::DeserializeOwned, Serialize};
use sqlx::{postgres::PgListener, PgConnection, PgPool};
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

pub const CHANNEL: &str = "events";

/// What a stream follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// A storyboard's scenes (`GET /api/storyboards/{id}/stream`).
    Storyboard(Uuid),
    /// A render's progress (`GET /api/compositions/{id}/stream`).
    Render(Uuid),
    /// A project's mood boards and music (`GET /api/projects/{id}/stream`).
    Project(Uuid),
}

impl Topic {
    fn name(self) -> &'static str {
        match self {
            Self::Storyboard(_) => "storyboard",
            Self::Render(_) => "render",
            Self::Project(_) => "project",
        }
    }

    fn id(self) -> Uuid {
        match self {
            Self::Storyboard(id) | Self::Render(id) | Self::Project(id) => id,
        }
    }

    fn parse(name: &str, id: &str) -> Option<Self> {
        let id = Uuid::parse_str(id).ok()?;
        match name {
            "storyboard" => Some(Self::Storyboard(id)),
            "render" => Some(Self::Render(id)),
            "project" => Some(Self::Project(id)),
            _ => None,
        }
    }
}

/// An event as its domain stores it.
pub trait Recorded: Serialize + DeserializeOwned + Send + Sync {
    /// The SSE event name it is sent under.
    fn kind(&self) -> &'static str;
}

/// Records an event inside the caller's transaction and returns its id. `project` is the
/// project the topic belongs to (its events go with it).
pub async fn emit<E: Recorded>(
    tx: &mut PgConnection,
    project: Uuid,
    topic: Topic,
    event: &E,
) -> sqlx::Result<i64> {
    let seq = sqlx::query_scalar!(
        "INSERT INTO event_streams (topic, topic_id, project_id, last_seq) VALUES ($1, $2, $3, 1)
         ON CONFLICT (topic, topic_id) DO UPDATE SET last_seq = event_streams.last_seq + 1
         RETURNING last_seq",
        topic.name(),
        topic.id(),
        project
    )
    .fetch_one(&mut *tx)
    .await?;
    let payload =
        serde_json::to_value(event).map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    sqlx::query!(
        "INSERT INTO events (topic, topic_id, seq, kind, payload) VALUES ($1, $2, $3, $4, $5)",
        topic.name(),
        topic.id(),
        seq,
        event.kind(),
        payload
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        CHANNEL,
        format!("{}:{}", topic.name(), topic.id())
    )
    .execute(&mut *tx)
    .await?;
    Ok(seq)
}

/// Events after `after`, oldest first (at most `limit`).
pub async fn since<E: Recorded>(
    pool: &PgPool,
    topic: Topic,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, E)>> {
    let rows = sqlx::query!(
        "SELECT seq, payload FROM events
         WHERE topic = $1 AND topic_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
        topic.name(),
        topic.id(),
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
                tracing::error!(%error, seq = row.seq, topic = topic.name(), "unreadable event skipped");
                None
            }
        })
        .collect())
}

/// The newest event's id (0 before the first): a stream opened after it misses nothing.
pub async fn last_seq(db: impl sqlx::PgExecutor<'_>, topic: Topic) -> sqlx::Result<i64> {
    Ok(sqlx::query_scalar!(
        "SELECT last_seq FROM event_streams WHERE topic = $1 AND topic_id = $2",
        topic.name(),
        topic.id()
    )
    .fetch_optional(db)
    .await?
    .unwrap_or(0))
}

/// Drops a topic's events, for a topic whose subject is gone (a replaced storyboard).
pub async fn forget(tx: &mut PgConnection, topic: Topic) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM event_streams WHERE topic = $1 AND topic_id = $2",
        topic.name(),
        topic.id()
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Drops the events of topics quiet for `days` (a storyboard finished a week ago, say):
/// their pages load a snapshot; the streams' sequence numbers stay, so ids never repeat.
pub async fn prune(pool: &PgPool, days: i32) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "DELETE FROM events e
         WHERE NOT EXISTS (SELECT 1 FROM events n
                           WHERE n.topic = e.topic AND n.topic_id = e.topic_id
                             AND n.created_at > now() - make_interval(days => $1))",
        days
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// A wake-up: something happened on a topic, or streams should re-read everything (after
/// the listener lost its connection, when notifications may have been missed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    Topic(Topic),
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
                let topic = notification
                    .payload()
                    .split_once(':')
                    .and_then(|(name, id)| Topic::parse(name, id));
                let _ = fan_out.send(match topic {
                    Some(topic) => Wake::Topic(topic),
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
