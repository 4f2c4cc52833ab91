//! `POST /api/projects/{id}/chat`: sends the user's message and streams the creative
//! director's reply back as Server-Sent Events (`token` events as the words come, then
//! `done` with the chat and the brief, or `error`). The reply is generated and saved by a
//! task of its own, so closing the page mid-reply loses nothing.

use super::ssr::{add_chat_message, brief_state, chat_history, store_brief, MAX_CHAT_CHARS};
use crate::{
    auth::ssr::AuthUser,
    budget::ssr::settle,
    error::{parse_id, user_message, AppError},
    generation::llm::{measured, ChatMessage, Role, Usage},
    projects::ssr::project_facts,
    state::AppState,
};
use axum::{
    extract::{Path, State},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use futures::StreamExt;
use serde::Deserialize;
use std::{convert::Infallible, time::Duration};
use uuid::Uuid;

/// Messages a project's conversation may hold.
pub const MAX_CHAT_MESSAGES: usize = 200;
/// Characters of recent conversation a language model is sent each turn; what came
/// before reaches it as the brief agreed so far.
const RECENT_CHARS: usize = 24_000;

/// The conversation as a language model gets it: whole while short; past that, the brief
/// agreed so far (a summary the director keeps anyway) and the most recent messages, so
/// a long chat does not cost more each turn without end.
fn bounded(history: Vec<ChatMessage>, brief: Option<&crate::creative::Brief>) -> Vec<ChatMessage> {
    let total: usize = history.iter().map(|m| m.content.len()).sum();
    if total <= RECENT_CHARS {
        return history;
    }
    let mut kept = Vec::new();
    let mut chars = 0;
    for message in history.into_iter().rev() {
        if chars + message.content.len() > RECENT_CHARS && !kept.is_empty() {
            break;
        }
        chars += message.content.len();
        kept.push(message);
    }
    kept.reverse();
    let summary = brief
        .and_then(|brief| serde_json::to_string(brief).ok())
        .unwrap_or_else(|| "{}".into());
    let mut bounded = vec![ChatMessage::new(
        Role::System,
        format!("Earlier in this conversation the marketer and you agreed this brief: {summary}"),
    )];
    bounded.extend(kept);
    bounded
}

#[derive(Deserialize)]
pub struct ChatRequest {
    pub message: String,
}

pub async fn chat(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    Path(id): Path<String>,
    Json(request): Json<ChatRequest>,
) -> Response {
    let project = match parse_id(&id, "Project") {
        Ok(project) => project,
        Err(error) => return error.into_response(),
    };
    let message = request.message.trim();
    if message.is_empty() {
        return AppError::invalid("Write a message first.").into_response();
    }
    if let Err(error) = crate::error::check_plain_text(message, "A message") {
        return error.into_response();
    }
    if message.chars().count() > MAX_CHAT_CHARS {
        return AppError::invalid(format!(
            "Keep a message to {MAX_CHAT_CHARS} characters or fewer."
        ))
        .into_response();
    }
    let pool = state.pool.clone();
    let result: Result<(Vec<ChatMessage>, Vec<Uuid>, i64), AppError> = async {
        let mut conn = pool.acquire().await?;
        let facts = project_facts(&mut conn, owner, project).await?;
        drop(conn);
        let mut history: Vec<ChatMessage> = chat_history(&pool, project)
            .await?
            .into_iter()
            .map(|line| {
                let role = if line.role == "user" {
                    Role::User
                } else {
                    Role::Assistant
                };
                ChatMessage::new(role, line.content)
            })
            .collect();
        if history.len() >= MAX_CHAT_MESSAGES {
            return Err(AppError::Conflict(format!(
                "This conversation has reached {MAX_CHAT_MESSAGES} messages: edit the brief directly, or start a new project."
            )));
        }
        history.push(ChatMessage::new(Role::User, message));
        if !state.director.offline() {
            history = bounded(history, facts.brief.as_ref());
        }
        // Two director calls per message (the reply, then the brief drawn from the chat),
        // reserved before the message is kept: a refusal changes nothing.
        let chars: usize = history.iter().map(|m| m.content.len()).sum();
        let estimate = state.spending.pricing.director(chars);
        let cost = estimate.microusd;
        let mut tab = state.spending.tab(owner, Some(project));
        tab.add(None, estimate.clone());
        tab.add(None, estimate);
        let mut tx = pool.begin().await?;
        let reservations = tab.reserve(&mut tx).await?;
        tx.commit().await?;
        add_chat_message(&pool, project, "user", message).await?;
        Ok((history, reservations, cost))
    }
    .await;
    let (history, reservations, cost) = match result {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    // Each call settles to the tokens it reported using (at its estimate when the model
    // answered without saying, at nothing if it failed).
    let settle = {
        let pool = pool.clone();
        let pricing = state.spending.pricing.clone();
        move |index: usize, usage: Option<Usage>, answered: bool| {
            let pool = pool.clone();
            let reservation = reservations.get(index).copied();
            let actual = pricing.director_used(usage, answered, cost);
            async move {
                if let Some(id) = reservation {
                    if let Err(error) = settle(&pool, id, actual).await {
                        tracing::error!(%error, "could not settle a director call");
                    }
                }
            }
        }
    };

    let (sender, receiver) = tokio::sync::mpsc::channel::<Event>(256);
    tokio::spawn(async move {
        // Sending fails once the page is gone; the reply is finished and saved anyway.
        let send = |event: Event| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(event).await;
            }
        };
        let ((reply, failure), usage) = measured(async {
            let mut reply = String::new();
            let mut failure = None;
            match state.director.reply(&history).await {
                Ok(mut tokens) => {
                    while let Some(token) = tokens.next().await {
                        match token {
                            Ok(token) => {
                                reply.push_str(&token);
                                let data = serde_json::json!({ "text": token }).to_string();
                                send(Event::default().event("token").data(data)).await;
                            }
                            Err(error) => {
                                failure = Some(error);
                                break;
                            }
                        }
                    }
                }
                Err(error) => failure = Some(error),
            }
            (reply, failure)
        })
        .await;
        let reply = reply.trim();
        settle(0, usage, !reply.is_empty()).await;
        if !reply.is_empty() {
            let reply: String = reply.chars().take(8000).collect();
            if let Err(error) = add_chat_message(&state.pool, project, "assistant", &reply).await {
                tracing::error!(%error, "could not save the director's reply");
            }
        }
        if let Some(error) = failure {
            settle(1, None, false).await;
            tracing::warn!(%error, "the director's reply failed");
            let message = user_message(&error);
            let data = serde_json::json!({ "message": message }).to_string();
            send(Event::default().event("error").data(data)).await;
            return;
        }
        let mut full = history;
        full.push(ChatMessage::new(Role::Assistant, reply));
        let (extracted, usage) = measured(state.director.extract_brief(&full)).await;
        settle(1, usage, extracted.is_ok()).await;
        match extracted {
            Ok(brief) => {
                if let Err(error) = store_brief(&state.pool, owner, project, &brief, false).await {
                    tracing::error!(%error, "could not save the brief");
                }
            }
            Err(error) => tracing::warn!(%error, "could not extract the brief"),
        }
        match brief_state(&state.pool, owner, project, state.director.offline()).await {
            Ok(brief) => {
                let data = serde_json::to_string(&brief).unwrap_or_default();
                send(Event::default().event("done").data(data)).await;
            }
            Err(error) => {
                let data = serde_json::json!({ "message": error.to_string() }).to_string();
                send(Event::default().event("error").data(data)).await;
            }
        }
    });
    let mut receiver = receiver;
    let events = async_stream::stream! {
        while let Some(event) = receiver.recv().await {
            yield Ok::<_, Infallible>(event);
        }
    };
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_conversation_reaches_the_model_as_the_brief_and_its_recent_messages() {
        let short = vec![ChatMessage::new(Role::User, "hello")];
        assert_eq!(bounded(short.clone(), None), short);
        let long: Vec<ChatMessage> = (0..40)
            .map(|i| ChatMessage::new(Role::User, format!("{i:04} {}", "x".repeat(995))))
            .collect();
        let brief = crate::creative::Brief {
            product_name: "Lumen".into(),
            ..Default::default()
        };
        let sent = bounded(long, Some(&brief));
        let chars: usize = sent.iter().skip(1).map(|m| m.content.len()).sum();
        assert!(chars <= RECENT_CHARS, "{chars}");
        assert_eq!(sent[0].role, Role::System);
        assert!(sent[0].content.contains("Lumen"));
        assert!(
            sent.last().unwrap().content.starts_with("0039"),
            "the newest is kept"
        );
        assert!(
            !sent.iter().any(|m| m.content.starts_with("0000")),
            "the oldest is not"
        );
    }
}
