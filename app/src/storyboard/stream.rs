//! `GET /api/storyboards/{id}/stream`: the storyboard's events as Server-Sent Events
//! (`scene_update`, `storyboard_complete`, `storyboard_error`). A fresh page first gets a
//! snapshot of every scene; a reconnecting one (with `Last-Event-ID`) gets exactly what
//! it missed.

use super::{
    events::Recorded,
    ssr::{storyboard_not_found, storyboard_of_owner, storyboard_view},
    StoryboardEvent,
};
use crate::{
    auth::ssr::AuthUser,
    error::parse_id,
    events::{
        stream::{follow, last_event_id, respond, sse_event, Sent},
        Topic,
    },
    state::AppState,
};
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::{sse::Event, IntoResponse, Response},
};
use futures::StreamExt;
use uuid::Uuid;

fn named(event: &StoryboardEvent) -> Event {
    sse_event(event.name(), event)
}

pub async fn storyboard_stream(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    session: tower_sessions::Session,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let storyboard = match parse_id(&id, "Storyboard") {
        Ok(id) => id,
        Err(_) => return storyboard_not_found().into_response(),
    };
    let project = match storyboard_of_owner(&state.pool, owner, storyboard).await {
        Ok((project, _)) => project,
        Err(error) => return error.into_response(),
    };
    let watch = match state.viewers.watch(&session, owner, Some(project)) {
        Ok(watch) => watch,
        Err(refused) => return refused.into_response(),
    };
    let resume_after = last_event_id(&headers);
    // Subscribe before reading, so nothing committed in between is missed.
    let wakes = state.notifier.subscribe(Topic::Storyboard(storyboard));
    let events = async_stream::stream! {
        let sent = match resume_after {
            Some(seq) => seq,
            None => {
                // Boxed and made whole before the first is sent: the snapshot's reads
                // are far bigger than an idle stream, and over once it is sent (see
                // `events::stream`).
                let Some((snapshot, sent)) = Box::pin(snapshot(&state, owner, project, storyboard)).await else {
                    return;
                };
                for event in snapshot {
                    yield event;
                }
                sent
            }
        };
        let storage = state.storage.clone();
        let live = follow(state.pool.clone(), wakes, Topic::Storyboard(storyboard), sent, move |recorded: Recorded| {
            let storage = storage.clone();
            async move {
                Sent { event: named(&recorded.to_event(&*storage).await), last: false }
            }
        });
        futures::pin_mut!(live);
        while let Some(event) = live.next().await {
            yield event;
        }
    };
    respond(watch, events)
}

/// Every scene of the storyboard as it stands, each as an event with the id of the
/// storyboard's last event, and that id; `None` when the project's storyboard is
/// another one now, or when it could not be read (logged: the page then reconnects).
async fn snapshot(
    state: &AppState,
    owner: Uuid,
    project: Uuid,
    storyboard: Uuid,
) -> Option<(Vec<Event>, i64)> {
    let view = match storyboard_view(state, owner, project).await {
        Ok(view) => view?,
        Err(error) => {
            tracing::warn!(%storyboard, %error, "the storyboard stream's snapshot could not be read");
            return None;
        }
    };
    if view.id != storyboard {
        return None;
    }
    let id = view.last_event_id.to_string();
    let mut events: Vec<Event> = view
        .scenes
        .iter()
        .map(|scene| {
            named(&StoryboardEvent::SceneUpdate {
                scene: Some(Box::new(scene.clone())),
                scene_id: scene.id,
                removed: false,
                spent_microusd: view.standing.spent_microusd,
                reserved_microusd: view.standing.reserved_microusd,
            })
            .id(&id)
        })
        .collect();
    if view.complete() {
        events.push(
            named(&StoryboardEvent::StoryboardComplete {
                storyboard_id: storyboard,
            })
            .id(&id),
        );
    }
    Some((events, view.last_event_id))
}
