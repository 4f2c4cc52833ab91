//! `GET /api/compositions/{id}/stream`: a render's progress as Server-Sent Events
//! (`progress` with percent and stage, `complete`, `error`), with ids and replay after
//! `Last-Event-ID` like the storyboard's stream.

use super::ssr::{render_view, since, to_event};
use crate::{
    auth::ssr::session_user_id,
    error::AppError,
    state::AppState,
    studio::{
        events::Wake,
        stream::{error_response, last_event_id},
    },
};
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
};
use futures::StreamExt;
use std::{convert::Infallible, time::Duration};
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::Session;
use uuid::Uuid;

pub async fn render_stream(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(owner) = session_user_id(&session).await else {
        return error_response(AppError::Unauthenticated);
    };
    let Ok(render) = Uuid::parse_str(&id) else {
        return error_response(super::ssr::render_not_found());
    };
    if let Err(error) = render_view(&state.pool, &*state.storage, Some(owner), render).await {
        return error_response(error);
    }
    let mut sent = last_event_id(&headers).unwrap_or(0);
    let mut wakes = state.notifier.subscribe();
    let stream = async_stream::stream! {
        loop {
            let batch = since(&state.pool, render, sent).await.unwrap_or_default();
            let mut finished = false;
            for (seq, recorded) in batch {
                let event = to_event(&state.pool, &*state.storage, render, recorded).await;
                finished |= !matches!(event, super::RenderEvent::Progress { .. });
                yield Event::default()
                    .id(seq.to_string())
                    .event(event.name())
                    .json_data(&event)
                    .unwrap_or_else(|_| Event::default().comment("unserialisable event"));
                sent = seq;
            }
            if finished {
                return;
            }
            loop {
                tokio::select! {
                    wake = wakes.recv() => match wake {
                        Ok(Wake::Storyboard(id)) if id != render => continue,
                        Ok(_) | Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => return,
                    },
                    _ = tokio::time::sleep(Duration::from_secs(10)) => break,
                }
            }
        }
    };
    Sse::new(stream.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
