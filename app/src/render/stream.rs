//! `GET /api/compositions/{id}/stream`: a render's progress as Server-Sent Events
//! (`progress` with percent and stage, `complete`, `error`), with ids and replay after
//! `Last-Event-ID` like the storyboard's stream; it ends after `complete` or `error`.

use super::{
    events::Recorded,
    ssr::{render_not_found, render_view},
    RenderEvent,
};
use crate::{
    auth::ssr::AuthUser,
    error::parse_id,
    events::{
        stream::{follow, last_event_id, respond, sse_event, Sent},
        Topic,
    },
    state::AppState,
    storage::ssr::Storage,
};
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use sqlx::PgPool;
use uuid::Uuid;

pub async fn render_stream(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    session: tower_sessions::Session,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(render) = parse_id(&id, "Render") else {
        return render_not_found().into_response();
    };
    if let Err(error) = render_view(&state.pool, &*state.storage, Some(owner), render).await {
        return error.into_response();
    }
    let project =
        match sqlx::query_scalar!("SELECT project_id FROM compositions WHERE id = $1", render)
            .fetch_one(&state.pool)
            .await
        {
            Ok(project) => project,
            Err(error) => return crate::error::AppError::from(error).into_response(),
        };
    let watch = match state.viewers.watch(&session, owner, Some(project)) {
        Ok(watch) => watch,
        Err(refused) => return refused.into_response(),
    };
    let sent = last_event_id(&headers).unwrap_or(0);
    let wakes = state.notifier.subscribe(Topic::Render(render));
    let (pool, storage) = (state.pool.clone(), state.storage.clone());
    respond(
        watch,
        follow(
            state.pool.clone(),
            wakes,
            Topic::Render(render),
            sent,
            move |recorded: Recorded| {
                let (pool, storage) = (pool.clone(), storage.clone());
                async move {
                    let event = to_event(&pool, &*storage, render, recorded).await;
                    Sent {
                        last: !matches!(event, RenderEvent::Progress { .. }),
                        event: sse_event(event.name(), &event),
                    }
                }
            },
        ),
    )
}

/// The event a client gets: `Complete` becomes the render's view, with fresh links.
async fn to_event(
    pool: &PgPool,
    storage: &dyn Storage,
    render: Uuid,
    recorded: Recorded,
) -> RenderEvent {
    match recorded {
        Recorded::Progress { percent, stage } => RenderEvent::Progress { percent, stage },
        Recorded::Error { message } => RenderEvent::Error { message },
        Recorded::Complete => match render_view(pool, storage, None, render).await {
            Ok(view) => RenderEvent::Complete {
                render: Box::new(view),
            },
            Err(error) => RenderEvent::Error {
                message: error.to_string(),
            },
        },
    }
}
