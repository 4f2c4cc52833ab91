//! `GET /api/projects/{id}/stream`: the project's news as Server-Sent Events
//! (`moods_changed`, `music_changed`). A fresh connection is first told that every part
//! changed, so a page misses nothing that happened between its load and the connection;
//! a reconnecting one (with `Last-Event-ID`) gets exactly what it missed.

use super::ProjectEvent;
use crate::{
    auth::ssr::AuthUser,
    error::parse_id,
    events::{
        last_seq,
        stream::{follow, last_event_id, respond, sse_event, Sent},
        Topic,
    },
    state::AppState,
};
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use futures::StreamExt;

pub async fn project_stream(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    session: tower_sessions::Session,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let project = match parse_id(&id, "Project") {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = super::ssr::get(&state.pool, owner, project).await {
        return error.into_response();
    }
    let watch = match state.viewers.watch(&session, owner, Some(project)) {
        Ok(watch) => watch,
        Err(refused) => return refused.into_response(),
    };
    let topic = Topic::Project(project);
    let wakes = state.notifier.subscribe(topic);
    let resume_after = last_event_id(&headers);
    let events = async_stream::stream! {
        let sent = match resume_after {
            Some(seq) => seq,
            None => {
                let Ok(seq) = last_seq(&state.pool, topic).await else { return };
                for event in [ProjectEvent::MoodsChanged, ProjectEvent::MusicChanged] {
                    yield sse_event(event.name(), &event).id(seq.to_string());
                }
                seq
            }
        };
        let live = follow(state.pool.clone(), wakes, topic, sent, |event: ProjectEvent| async move {
            Sent { event: sse_event(event.name(), &event), last: false }
        });
        futures::pin_mut!(live);
        while let Some(event) = live.next().await {
            yield event;
        }
    };
    respond(watch, events)
}
