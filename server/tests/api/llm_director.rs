//! The wizard against an OpenAI-compatible server (an in-test one speaking the chat
//! completions wire format): streamed replies, and the brief, moods and plan as JSON.

use crate::helpers::{TestApp, TestSettings};
use crate::storyboard::{next_event, read_events};
use app::{brief::BriefState, moods::MoodBoard, storyboard::StoryboardView};
use serde_json::json;
use server::config::ProviderSettings;
use wiremock::{
    matchers::{body_partial_json, method, path},
    Mock, MockServer, ResponseTemplate,
};

fn completion(content: serde_json::Value) -> serde_json::Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content.to_string() }, "finish_reason": "stop" }]
    })
}

/// A schema-bound answer that reports the tokens it used, as OpenAI's `usage` does.
async fn schema_reply_using(
    server: &MockServer,
    name: &str,
    content: serde_json::Value,
    (input, output): (u64, u64),
) {
    let mut body = completion(content);
    body["usage"] = json!({ "prompt_tokens": input, "completion_tokens": output,
                            "total_tokens": input + output });
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"response_format": {"json_schema": {"name": name}}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

async fn schema_reply(server: &MockServer, name: &str, content: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"response_format": {"json_schema": {"name": name}}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(content)))
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_wizard_runs_on_an_openai_compatible_model() {
    let server = MockServer::start().await;
    let stream = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"Lovely. \"}}]}\n\n",
        ": keep-alive\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"Who is it for?\"}}]}\n\n",
        // With `include_usage`, a last chunk with no choices says what the reply used.
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":200,\"total_tokens\":1200}}\n\n",
        "data: [DONE]\n\n",
    );
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"stream": true, "model": "test-model",
                   "stream_options": {"include_usage": true}}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(stream),
        )
        .mount(&server)
        .await;
    schema_reply_using(
        &server,
        "brief",
        json!({
            "product_name": "Lumen", "audience": "Remote workers", "emotional_tone": ["calm"],
            "visual_style": ["soft light"], "key_messages": ["No glare", "Adaptive light"],
            "call_to_action": "Order today"
        }),
        (2000, 100),
    )
    .await;
    let mood = |name: &str| {
        json!({
            "name": name, "description": "d", "style_keywords": ["k"],
            "palette": ["#101010", "#808080", "#f0f0f0"], "aesthetic": "a", "tempo_bpm": 90
        })
    };
    schema_reply(
        &server,
        "moods",
        json!({"moods": [mood("Dawn"), mood("Dusk"), mood("Noon")]}),
    )
    .await;
    let scenes: Vec<_> = (0..6)
        .map(|i| json!({"role": "feature", "text": format!("Scene {i}"), "visual": "v", "duration_secs": 5}))
        .collect();
    schema_reply(&server, "plan", json!({ "scenes": scenes })).await;

    let app = TestApp::spawn_with(TestSettings {
        providers: Some(ProviderSettings {
            openai_base_url: Some(format!("{}/v1", server.uri())),
            openai_api_key: Some("sk-test".into()),
            llm_model: "test-model".into(),
            // $1 and $2 per million tokens: every director call costs something.
            prices: Some("test-model=tokens:1:2".into()),
            ..ProviderSettings::default()
        }),
        ..TestSettings::default()
    })
    .await;
    let ada = app.new_user("ada@example.com").await;
    let project = app
        .create_project(&ada, "Lumen", "9:16")
        .await
        .id
        .to_string();

    let mut events = read_events(app.chat(&ada, &project, "A desk lamp called Lumen").await);
    let mut reply = String::new();
    let state: BriefState = loop {
        let event = next_event(&mut events).await;
        match event.event.as_str() {
            "token" => reply.push_str(
                serde_json::from_str::<serde_json::Value>(&event.data).unwrap()["text"]
                    .as_str()
                    .unwrap(),
            ),
            "done" => break serde_json::from_str(&event.data).unwrap(),
            other => panic!("{other}: {}", event.data),
        }
    };
    assert_eq!(reply, "Lovely. Who is it for?");
    assert!(
        !state.offline,
        "a configured model is not the offline preview"
    );
    assert_eq!(state.brief.key_messages, vec!["No glare", "Adaptive light"]);
    assert_eq!(state.messages[1].content, "Lovely. Who is it for?");

    let moods: Vec<MoodBoard> = app
        .studio(&ada, "generate_moods", &[("project", &project)])
        .await;
    let names: Vec<&str> = moods.iter().map(|m| m.mood.name.as_str()).collect();
    assert_eq!(names, ["Dawn", "Dusk", "Noon"]);
    let mood = moods[1].id.to_string();
    let _: () = app
        .studio(
            &ada,
            "choose_mood",
            &[("project", &project), ("mood", &mood)],
        )
        .await;
    let board: StoryboardView = app
        .studio(&ada, "plan_storyboard", &[("project", &project)])
        .await;
    assert_eq!(board.mood.name, "Dusk");
    assert_eq!(board.scenes.len(), 6);
    assert_eq!(
        board.scenes.iter().map(|s| s.duration_secs).sum::<u32>(),
        30
    );
    assert_eq!(board.scenes[0].role, app::creative::SceneRole::Hook);
    // Every director call was reserved and settled: the reply and the brief drawn from
    // it, the moods' directions, the plan.
    let (calls, open, spent): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE settled_at IS NULL),
                COALESCE(SUM(actual_microusd), 0)::bigint
         FROM spend WHERE item = 'director' AND provider = 'openai' AND model = 'test-model'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((calls, open), (4, 0));
    assert!(spent > 0);
    // Calls that reported their tokens cost exactly those ($1 and $2 a million: the reply
    // 1,000 + 2 × 200, the brief 2,000 + 2 × 100); the others settle at their estimate.
    let costs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT estimate_microusd, actual_microusd FROM spend WHERE item = 'director'
         ORDER BY actual_microusd",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(costs[0].1, 1_400, "{costs:?}");
    assert_eq!(costs[1].1, 2_200, "{costs:?}");
    assert!(costs[0].0 > 1_400 && costs[1].0 > 2_200, "{costs:?}");
    assert!(costs[2..]
        .iter()
        .all(|(estimate, actual)| estimate == actual));
}
