//! The OpenAI-compatible client against an in-test HTTP server speaking the chat
//! completions wire format: streamed chunks, comment lines, `[DONE]`, JSON-schema
//! replies, rate limits and refusals.

// Tests unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

use app::generation::{
    llm::{sse_data, structured, ChatMessage, Llm, OpenAiCompatible, OpenAiSettings, Role},
    retry::RetryPolicy,
    ssr::GenerationError,
};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use wiremock::{
    matchers::{body_partial_json, body_string_contains, header, method, path},
    Mock, MockServer, ResponseTemplate,
};

fn client(server: &MockServer) -> OpenAiCompatible {
    OpenAiCompatible::new(OpenAiSettings {
        base_url: format!("{}/v1", server.uri()),
        api_key: Some("sk-test".into()),
        model: "gpt-test".into(),
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 3,
            first_backoff: Duration::from_millis(10),
        },
    })
    .unwrap()
}

fn conversation() -> Vec<ChatMessage> {
    vec![
        ChatMessage::new(Role::System, "You are a creative director."),
        ChatMessage::new(Role::User, "Noise-cancelling headphones for commuters."),
    ]
}

fn completion(content: &str) -> serde_json::Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }]
    })
}

#[derive(Debug, Deserialize, PartialEq)]
struct Brief {
    product_name: String,
    call_to_action: String,
}

fn brief_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": { "product_name": {"type": "string"}, "call_to_action": {"type": "string"} },
        "required": ["product_name", "call_to_action"],
        "additionalProperties": false
    })
}

#[tokio::test]
async fn replies_stream_token_by_token_past_comments_until_done() {
    let server = MockServer::start().await;
    let body = concat!(
        ": keep-alive\n\n",
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"Quiet\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\" commutes\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\".\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"after the end\"}}]}\n\n",
    );
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test"))
        .and(body_partial_json(
            json!({"model": "gpt-test", "stream": true}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .expect(1)
        .mount(&server)
        .await;

    let tokens: Vec<String> = client(&server)
        .chat_stream(&conversation())
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(tokens, ["Quiet", " commutes", "."]);
}

#[tokio::test]
async fn events_split_across_network_chunks_are_put_back_together() {
    let pieces = [
        "da",
        "ta: {\"a\":",
        "1}\n",
        "\ndata: second\n",
        "data: line\n\n",
        ": ping\n\n",
        "data: [DONE]\n\n",
    ];
    let chunks = futures::stream::iter(
        pieces.map(|piece| Ok::<_, std::io::Error>(bytes::Bytes::from(piece))),
    );
    let events: Vec<String> = sse_data(chunks).map(Result::unwrap).collect().await;
    assert_eq!(events, ["{\"a\":1}", "second\nline"]);
}

#[tokio::test]
async fn structured_replies_are_asked_for_with_the_schema_and_read_into_our_types() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({
            "response_format": { "type": "json_schema", "json_schema": { "name": "brief", "strict": true } }
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            r#"{"product_name": "Aurora", "call_to_action": "Pre-order today"}"#,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let brief: Brief = structured(&client(&server), &conversation(), "brief", &brief_schema())
        .await
        .unwrap();
    assert_eq!(
        brief,
        Brief {
            product_name: "Aurora".into(),
            call_to_action: "Pre-order today".into()
        }
    );
}

#[tokio::test]
async fn an_invalid_reply_gets_exactly_one_repair_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains(
            "Answer again with only the corrected JSON",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            r#"{"product_name": "Aurora", "call_to_action": "Try it"}"#,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(r#"{"product_name": "Aurora""#)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let brief: Brief = structured(&client(&server), &conversation(), "brief", &brief_schema())
        .await
        .unwrap();
    assert_eq!(brief.call_to_action, "Try it");
}

#[tokio::test]
async fn a_reply_that_stays_invalid_after_the_repair_is_a_clear_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(completion(r#"{"product_name": 7}"#)),
        )
        .expect(2)
        .mount(&server)
        .await;
    let error = structured::<Brief>(&client(&server), &conversation(), "brief", &brief_schema())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("even after a repair"), "{error}");
}

#[tokio::test]
async fn rate_limits_are_retried_and_a_wrong_key_is_not() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            r#"{"product_name": "A", "call_to_action": "B"}"#,
        )))
        .mount(&server)
        .await;
    let brief: Brief = structured(&client(&server), &conversation(), "brief", &brief_schema())
        .await
        .unwrap();
    assert_eq!(brief.product_name, "A");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": { "message": "Incorrect API key provided", "type": "invalid_request_error" }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let error = client(&server)
        .chat_stream(&conversation())
        .await
        .err()
        .unwrap();
    match error {
        GenerationError::Refused(message) => {
            assert!(message.contains("Incorrect API key"), "{message}")
        }
        other => panic!("expected a refusal, got {other}"),
    }
}

/// Live: runs only when OPENAI_API_KEY is set, says "skipped" otherwise.
#[tokio::test]
#[ignore = "needs OPENAI_API_KEY: calls a real model"]
async fn live_openai_streams_a_reply() {
    let Ok(key) = std::env::var("OPENAI_API_KEY") else {
        panic!("set OPENAI_API_KEY to run this test");
    };
    let llm = OpenAiCompatible::new(OpenAiSettings {
        base_url: std::env::var("OPENAI_BASE_URL")
            .unwrap_or_else(|_| "https://api.openai.com/v1".into()),
        api_key: Some(key.into()),
        model: std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into()),
        request_timeout: Duration::from_secs(60),
        retry: RetryPolicy {
            max_attempts: 3,
            first_backoff: Duration::from_millis(500),
        },
    })
    .unwrap();
    let reply: String = llm
        .chat_stream(&conversation())
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert!(!reply.trim().is_empty());
}

mod director {
    use super::*;
    use app::creative::{
        ssr::{Director, LlmDirector},
        Mood, SceneRole,
    };
    use std::sync::Arc;

    fn mood() -> Mood {
        Mood {
            name: "Nordic Calm".into(),
            description: "Quiet spaces".into(),
            style_keywords: vec!["minimal".into()],
            palette: vec!["#1f2a30".into(), "#a3b8c2".into(), "#f7f9fa".into()],
            aesthetic: "diffuse light".into(),
            tempo_bpm: 72,
        }
    }

    #[tokio::test]
    async fn a_model_plan_is_made_to_fit_the_target_length() {
        let server = MockServer::start().await;
        // Six scenes whose durations add up to 27 and include a 12 s one: the director
        // keeps the model's proportions but makes them whole, allowed and exactly 30 s.
        let scenes: Vec<_> = [2, 4, 5, 12, 2, 2]
            .iter()
            .enumerate()
            .map(|(i, secs)| json!({"role": "feature", "text": format!("Scene {i}"), "visual": "v", "duration_secs": secs}))
            .collect();
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(body_partial_json(json!({"response_format": {"type": "json_schema", "json_schema": {"name": "plan"}}})))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion(
                &json!({ "scenes": scenes }).to_string(),
            )))
            .expect(1)
            .mount(&server)
            .await;
        let director = LlmDirector::new(Arc::new(client(&server)));
        let plan = director
            .plan(&Default::default(), &mood(), 30, 1)
            .await
            .unwrap();
        let lengths: Vec<u32> = plan.iter().map(|s| s.duration_secs).collect();
        assert_eq!(lengths.iter().sum::<u32>(), 30, "{lengths:?}");
        assert!(lengths.iter().all(|l| (3..=10).contains(l)), "{lengths:?}");
        assert_eq!(lengths[3], 10, "the longest stays the longest: {lengths:?}");
        assert_eq!(plan[0].role, SceneRole::Hook);
        assert_eq!(plan[5].role, SceneRole::CallToAction);
    }

    #[tokio::test]
    async fn a_plan_with_too_few_scenes_is_an_error_not_a_storyboard() {
        let server = MockServer::start().await;
        let scenes: Vec<_> = (0..3)
            .map(|i| json!({"role": "feature", "text": format!("Scene {i}"), "visual": "v", "duration_secs": 10}))
            .collect();
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(completion(&json!({ "scenes": scenes }).to_string())),
            )
            .mount(&server)
            .await;
        let director = LlmDirector::new(Arc::new(client(&server)));
        let error = director
            .plan(&Default::default(), &mood(), 30, 1)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("5 to 7 scenes"), "{error}");
    }

    #[tokio::test]
    async fn the_brief_is_extracted_as_our_type() {
        let server = MockServer::start().await;
        let brief = json!({
            "product_name": " Lumen ", "audience": "Remote workers",
            "emotional_tone": ["calm", ""], "visual_style": ["soft light"],
            "key_messages": ["No glare"], "call_to_action": "Order today"
        });
        Mock::given(method("POST"))
            .and(body_string_contains("creative brief"))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion(&brief.to_string())))
            .expect(1)
            .mount(&server)
            .await;
        let director = LlmDirector::new(Arc::new(client(&server)));
        let brief = director.extract_brief(&conversation()[1..]).await.unwrap();
        assert_eq!(brief.product_name, "Lumen");
        assert_eq!(brief.emotional_tone, vec!["calm"]);
        assert!(brief.missing().is_empty());
    }
}
