//! `GET /api/storyboards/{id}/stream`: the storyboard's events as Server-Sent Events.
//!
//! The stream subscribes to wake-ups first, then sends what the client missed (everything
//! after `Last-Event-ID`) or, for a fresh page, a snapshot of every scene; then it sends
//! new events as they are committed, reading them from the table, so that ids never skip
//! or repeat. A comment line every 15 seconds keeps proxies from closing it.

use super::{
    events::{since, Wake},
    ssr::{storyboard_of_owner, storyboard_view},
    StoryboardEvent,
};
use crate::{auth::ssr::session_user_id, error::AppError, state::AppState};
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use futures::StreamExt;
use std::{convert::Infallible, time::Duration};
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::Session;
use uuid::Uuid;

/// How often a stream re-reads the table without a wake-up (a notification can be lost
/// while the listener reconnects).
const FALLBACK_READ: Duration = Duration::from_secs(10);

pub fn error_response(error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(error)).into_response()
}

/// The id of the last event a reconnecting client saw, if it sent a usable one.
pub fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok())
        .filter(|seq| *seq >= 0)
}

fn event(id: i64, payload: &StoryboardEvent) -> Event {
    Event::default()
        .id(id.to_string())
        .event(payload.name())
        .json_data(payload)
        .unwrap_or_else(|_| Event::default().comment("unserialisable event"))
}

pub async fn storyboard_stream(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(owner) = session_user_id(&session).await else {
        return error_response(AppError::Unauthenticated);
    };
    let Ok(storyboard) = Uuid::parse_str(&id) else {
        return error_response(super::ssr::storyboard_not_found());
    };
    let project = match storyboard_of_owner(&state.pool, owner, storyboard).await {
        Ok((project, _)) => project,
        Err(error) => return error_response(error),
    };
    let resume_after = last_event_id(&headers);
    // Subscribe before reading, so nothing committed in between is missed.
    let mut wakes = state.notifier.subscribe();
    let stream = async_stream::stream! {
        let mut sent = match resume_after {
            Some(seq) => seq,
            None => {
                match storyboard_view(&state.pool, &*state.storage, owner, project, state.media.offline).await {
                    Ok(Some(view)) if view.id == storyboard => {
                        for scene in &view.scenes {
                            yield event(view.last_event_id, &StoryboardEvent::SceneUpdate {
                                scene: Some(scene.clone()),
                                scene_id: scene.id,
                                removed: false,
                                spent_microusd: view.cost_microusd,
                            });
                        }
                        if view.complete() {
                            yield event(view.last_event_id, &StoryboardEvent::StoryboardComplete { storyboard_id: storyboard });
                        }
                        view.last_event_id
                    }
                    _ => return,
                }
            }
        };
        loop {
            loop {
                let batch = match since(&state.pool, storyboard, sent, 200).await {
                    Ok(batch) => batch,
                    Err(error) => {
                        tracing::warn!(%error, "reading storyboard events failed");
                        break;
                    }
                };
                if batch.is_empty() {
                    break;
                }
                for (seq, recorded) in batch {
                    yield event(seq, &recorded.to_event(&*state.storage).await);
                    sent = seq;
                }
            }
            // Wait for news of this storyboard (or a reason to look anyway).
            loop {
                tokio::select! {
                    wake = wakes.recv() => match wake {
                        Ok(Wake::Storyboard(id)) if id != storyboard => continue,
                        Ok(_) | Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => return,
                    },
                    _ = tokio::time::sleep(FALLBACK_READ) => break,
                }
            }
        }
    };
    Sse::new(stream.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
