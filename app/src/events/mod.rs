//! The live event log, one for every topic (a storyboard's scenes, a render's progress, a
//! project's mood boards and music). An event is written in the same transaction as the
//! change it reports and numbered per topic under the topic's row in `event_streams`, so
//! ids follow commit order; `pg_notify` (naming the topic and the event's number) then
//! wakes every instance, whose one listener reads the new event once and hands it to all
//! its streams: a thousand viewers of one storyboard cost one query per event, not a
//! thousand. A stream that may have missed something reads the table, which is the
//! truth.
//!
//! What an event says is its domain's business (an enum implementing [`Recorded`]); this
//! module only stores, numbers, reads and announces them.

pub mod stream;
pub mod viewers;

use serde::{de::DeserializeOwned, Serialize};
use sqlx::{postgres::PgListener, PgConnection, PgPool};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
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
        format!("{}:{}:{seq}", topic.name(), topic.id())
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

/// A new event as the listener read it, shared by every stream of its topic.
#[derive(Debug)]
pub struct Published {
    pub topic: Topic,
    pub seq: i64,
    pub payload: serde_json::Value,
    /// What the topic's streams send for it, once one of them made it.
    ready: tokio::sync::OnceCell<Option<stream::Sent>>,
}

impl Published {
    pub fn new(topic: Topic, seq: i64, payload: serde_json::Value) -> Self {
        Self {
            topic,
            seq,
            payload,
            ready: tokio::sync::OnceCell::new(),
        }
    }

    /// What every stream of the topic sends for this event: made by `make` in the first
    /// stream that asks, while the others wait for it, then copied. A topic's streams
    /// present its events alike (links, say, depend on the event alone), so a thousand
    /// viewers of a storyboard cost one presentation of each event, not a thousand.
    /// `None`: the event could not be made ready, and is skipped.
    pub async fn ready<F, Fut>(&self, make: F) -> Option<stream::Sent>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Option<stream::Sent>>,
    {
        self.ready.get_or_init(make).await.clone()
    }
}

impl PartialEq for Published {
    fn eq(&self, other: &Self) -> bool {
        (self.topic, self.seq, &self.payload) == (other.topic, other.seq, &other.payload)
    }
}

/// A wake-up: a new event; something happened on a topic that the listener could not
/// read (streams of it read the table); or streams should re-read everything (after the
/// listener lost its connection, when notifications may have been missed).
#[derive(Clone, Debug, PartialEq)]
pub enum Wake {
    Event(Arc<Published>),
    Topic(Topic),
    Resync,
}

/// What a notification says: the topic, and the new event's number (absent from an older
/// instance's notifications).
fn parse_notification(payload: &str) -> Option<(Topic, Option<i64>)> {
    let mut parts = payload.splitn(3, ':');
    let topic = Topic::parse(parts.next()?, parts.next()?)?;
    let seq = match parts.next() {
        Some(seq) => Some(seq.parse().ok()?),
        None => None,
    };
    Some((topic, seq))
}

/// The event `seq` of `topic`, for the listener to hand out; `None` when it is gone (a
/// forgotten topic).
async fn published(pool: &PgPool, topic: Topic, seq: i64) -> sqlx::Result<Option<Published>> {
    let payload = sqlx::query_scalar!(
        "SELECT payload FROM events WHERE topic = $1 AND topic_id = $2 AND seq = $3",
        topic.name(),
        topic.id(),
        seq
    )
    .fetch_optional(pool)
    .await?;
    Ok(payload.map(|payload| Published::new(topic, seq, payload)))
}

/// This instance's one listener, fanned out to its streams: one channel per topic that
/// has a stream open here, so an event wakes only its own topic's streams (ten thousand
/// viewers of ten storyboards: a thousand wake-ups per event, not ten thousand), and an
/// event of a topic nobody here watches is not even read.
#[derive(Clone)]
pub struct Notifier {
    topics: Arc<Mutex<HashMap<Topic, broadcast::Sender<Wake>>>>,
}

/// How many wake-ups a slow stream may fall behind before it reads the table instead.
const BACKLOG: usize = 256;

impl Notifier {
    /// Listens on `pool`'s database in the background.
    pub fn start(pool: PgPool) -> Self {
        let notifier = Self::idle();
        let fan_out = notifier.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = listen(&pool, &fan_out).await {
                    tracing::warn!(%error, "event listener lost its connection; reconnecting");
                }
                fan_out.resync();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        notifier
    }

    /// A notifier without its listener.
    fn idle() -> Self {
        Self {
            topics: Arc::default(),
        }
    }

    /// Wake-ups for `topic`'s streams.
    pub fn subscribe(&self, topic: Topic) -> Wakes {
        let receiver = self
            .lock()
            .entry(topic)
            .or_insert_with(|| broadcast::channel(BACKLOG).0)
            .subscribe();
        Wakes {
            receiver,
            topic,
            notifier: self.clone(),
        }
    }

    /// Whether a stream here watches `topic`.
    fn watched(&self, topic: Topic) -> bool {
        self.lock()
            .get(&topic)
            .is_some_and(|sender| sender.receiver_count() > 0)
    }

    /// Wakes `topic`'s streams, forgetting the topic once none is left.
    fn send(&self, topic: Topic, wake: Wake) {
        let mut topics = self.lock();
        if let Some(sender) = topics.get(&topic) {
            if sender.send(wake).is_err() {
                topics.remove(&topic);
            }
        }
    }

    /// Every stream re-reads the table: notifications may have been missed.
    fn resync(&self) {
        self.lock()
            .retain(|_, sender| sender.send(Wake::Resync).is_ok());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Topic, broadcast::Sender<Wake>>> {
        // A poisoned map of channels is still a map of channels.
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One stream's wake-ups for its topic. The last one dropped forgets the topic, so the
/// instance keeps a channel only for the topics watched now.
pub struct Wakes {
    receiver: broadcast::Receiver<Wake>,
    topic: Topic,
    notifier: Notifier,
}

impl Wakes {
    pub async fn recv(&mut self) -> Result<Wake, broadcast::error::RecvError> {
        self.receiver.recv().await
    }
}

impl Drop for Wakes {
    fn drop(&mut self) {
        // Under the lock no stream can subscribe meanwhile: ours is the last receiver.
        let mut topics = self.notifier.lock();
        if topics
            .get(&self.topic)
            .is_some_and(|sender| sender.receiver_count() == 1)
        {
            topics.remove(&self.topic);
        }
    }
}

async fn listen(pool: &PgPool, fan_out: &Notifier) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    // Anything sent while we were not listening is in the table: streams re-read it.
    fan_out.resync();
    loop {
        match listener.try_recv().await? {
            Some(notification) => match parse_notification(notification.payload()) {
                Some((topic, _)) if !fan_out.watched(topic) => {}
                // Read once here, for every stream of the topic on this instance.
                Some((topic, Some(seq))) => {
                    let wake = match published(pool, topic, seq).await {
                        Ok(Some(event)) => Wake::Event(Arc::new(event)),
                        Ok(None) => Wake::Topic(topic),
                        Err(error) => {
                            tracing::warn!(
                                %error, ?topic, seq,
                                "could not read a new event; its streams will"
                            );
                            Wake::Topic(topic)
                        }
                    };
                    fan_out.send(topic, wake);
                }
                Some((topic, None)) => fan_out.send(topic, Wake::Topic(topic)),
                None => fan_out.resync(),
            },
            // The connection dropped and will be re-made on the next call.
            None => fan_out.resync(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_name_the_topic_and_the_new_events_number() {
        let id = Uuid::new_v4();
        assert_eq!(
            parse_notification(&format!("storyboard:{id}:42")),
            Some((Topic::Storyboard(id), Some(42)))
        );
        // An older instance's notification wakes the topic's streams to read the table.
        assert_eq!(
            parse_notification(&format!("render:{id}")),
            Some((Topic::Render(id), None))
        );
        assert_eq!(parse_notification(&format!("render:{id}:x")), None);
        assert_eq!(parse_notification("nonsense"), None);
    }

    #[test]
    fn an_event_wakes_only_its_own_topics_streams_and_a_resync_wakes_all() {
        let notifier = Notifier::idle();
        let (one, other) = (
            Topic::Storyboard(Uuid::new_v4()),
            Topic::Render(Uuid::new_v4()),
        );
        let (mut first, mut second) = (notifier.subscribe(one), notifier.subscribe(one));
        let mut elsewhere = notifier.subscribe(other);
        assert!(notifier.watched(one) && notifier.watched(other));
        assert!(!notifier.watched(Topic::Project(Uuid::new_v4())));

        let event = Wake::Event(Arc::new(Published::new(one, 1, serde_json::json!({}))));
        notifier.send(one, event.clone());
        assert_eq!(first.receiver.try_recv(), Ok(event.clone()));
        assert_eq!(second.receiver.try_recv(), Ok(event));
        assert!(
            elsewhere.receiver.try_recv().is_err(),
            "another topic's stream slept on"
        );

        notifier.resync();
        for wakes in [&mut first, &mut second, &mut elsewhere] {
            assert_eq!(wakes.receiver.try_recv(), Ok(Wake::Resync));
        }

        // A topic is forgotten when its last stream closes, not before.
        drop(first);
        assert!(notifier.watched(one));
        drop(second);
        assert!(!notifier.watched(one));
        assert!(!notifier.lock().contains_key(&one));
        assert!(notifier.lock().contains_key(&other));
    }
}
