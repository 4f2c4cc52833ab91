//! One topic's events as Server-Sent Events: what the client missed (everything after
//! `Last-Event-ID`), then new events as they are committed. A new event comes with its
//! wake-up (the instance's listener read it once for all its streams), so a stream that
//! is up to date sends it without touching the database; one that may have missed
//! something (it lagged, the listener reconnected, a number was skipped) reads the table,
//! so ids never skip or repeat. An idle stream holds no database connection and runs no
//! query. A new event is made ready to send (read, its links signed, written as JSON)
//! once per instance, by the first of its topic's streams, and copied by the others. A
//! comment line every 15 seconds keeps proxies from closing the connection.
//!
//! A stream lives as long as its viewer, and its state is sized for the largest thing it
//! ever awaits: so a table read, and making an event ready to send, are boxed for the
//! moment they run rather than reserved in every idle stream: a storyboard's idle stream
//! went from 8.3 KB of state to 1.3 KB (`bench/sse` prints what an idle stream costs).

use super::{since, viewers::Watch, Recorded, Topic, Wake, Wakes};
use axum::{
    http::HeaderMap,
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
};
use futures::{Stream, StreamExt};
use serde::Serialize;
use sqlx::PgPool;
use std::{convert::Infallible, future::Future, time::Duration};
use tokio::sync::broadcast::error::RecvError;

/// How long a stream waits before reading the table again after a failed read (the
/// database restarting, say).
const RETRY_READ: Duration = Duration::from_secs(2);

/// The id of the last event a reconnecting client saw, if it sent a usable one.
pub fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok())
        .filter(|seq| *seq >= 0)
}

/// An SSE event named `name`, its data the JSON of `payload` (its id is set once, by
/// whoever knows it: [`follow`], or a snapshot).
pub fn sse_event(name: &str, payload: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(payload)
        .unwrap_or_else(|_| Event::default().comment("unserialisable event"))
}

/// What a stream sends for one stored event, and whether it is the last one.
#[derive(Clone, Debug)]
pub struct Sent {
    pub event: Event,
    pub last: bool,
}

/// The topic's events after `sent`, as they come. `wakes` must be subscribed before the
/// caller read whatever `sent` stands for, so nothing committed in between is missed.
/// `present` turns a stored event into what the client gets (fresh links, say).
pub fn follow<E, F, Fut>(
    pool: PgPool,
    mut wakes: Wakes,
    topic: Topic,
    mut sent: i64,
    present: F,
) -> impl Stream<Item = Event>
where
    E: Recorded,
    F: Fn(E) -> Fut,
    Fut: Future<Output = Sent>,
{
    async_stream::stream! {
        // Whether the table must be read: at first (what happened after `sent`), and
        // whenever an event may have gone by unseen.
        let mut behind = true;
        loop {
            while behind {
                let batch = match Box::pin(since::<E>(&pool, topic, sent, 200)).await {
                    Ok(batch) => batch,
                    Err(error) => {
                        tracing::warn!(%error, ?topic, "reading events failed; trying again");
                        tokio::time::sleep(RETRY_READ).await;
                        continue;
                    }
                };
                behind = !batch.is_empty();
                for (seq, recorded) in batch {
                    let Sent { event, last } = Box::pin(present(recorded)).await;
                    metrics::counter!("reelsmith_events_sent_total", "topic" => topic.name()).increment(1);
                    yield event.id(seq.to_string());
                    sent = seq;
                    if last {
                        return;
                    }
                }
            }
            // News of this topic (`wakes` is its own channel: see `Notifier::subscribe`),
            // or a reason to read the table anyway.
            let news = match wakes.recv().await {
                Ok(Wake::Event(published)) => Some(published),
                Ok(Wake::Topic(_) | Wake::Resync) | Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return,
            };
            match news {
                // Already read from the table.
                Some(published) if published.seq <= sent => {}
                // The next one: sent as the listener read it, and as the first of the
                // topic's streams here made it ready.
                Some(published) if published.seq == sent + 1 => {
                    sent = published.seq;
                    let ready = Box::pin(published.ready(|| async {
                        match E::deserialize(&published.payload) {
                            Ok(recorded) => {
                                let Sent { event, last } = present(recorded).await;
                                Some(Sent { event: event.id(published.seq.to_string()), last })
                            }
                            Err(error) => {
                                tracing::error!(%error, seq = published.seq, ?topic, "unreadable event skipped");
                                None
                            }
                        }
                    }))
                    .await;
                    if let Some(Sent { event, last }) = ready {
                        metrics::counter!("reelsmith_events_sent_total", "topic" => topic.name()).increment(1);
                        yield event;
                        if last {
                            return;
                        }
                    }
                }
                // A gap, a lag or a resync: the table says what was missed.
                _ => behind = true,
            }
        }
    }
}

/// The response for a stream of events watched by `watch`: it ends when the viewer may
/// no longer see it (logged out, project deleted), and gives its seat back when closed.
pub fn respond(watch: Watch, events: impl Stream<Item = Event> + Send + 'static) -> Response {
    let events = watch.guard(events);
    Sse::new(events.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
