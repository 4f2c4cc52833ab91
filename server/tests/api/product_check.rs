//! The product check by a vision model: an OpenAI-compatible chat model (faked by an
//! in-test server speaking its wire format) is shown the product photo and the scene's
//! picture, and its score and reason decide drift, over the pixel measure; when it cannot
//! answer, the pixel measure decides.

use crate::helpers::TestApp;
use crate::product::studio_shot;
use app::{
    generation::{
        llm::{OpenAiCompatible, OpenAiSettings},
        pricing::Price,
        retry::RetryPolicy,
    },
    product::{check::ProductCheck, judge::VisionJudge},
    storyboard::{GenStatus, StoryboardView},
};
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

/// gpt-4o-mini's price, per million tokens.
const MINI: Price = Price::PerMillionTokens {
    input: 150_000,
    output: 600_000,
};

/// A worker making scene images offline and checking them with the vision model at
/// `server`; stopped by cancelling the token.
fn judged_worker(
    app: &TestApp,
    server: &MockServer,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let model = OpenAiCompatible::new(OpenAiSettings {
        base_url: format!("{}/v1", server.uri()),
        api_key: Some("sk-test".into()),
        model: "gpt-4o-mini".into(),
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 1,
            first_backoff: Duration::from_millis(10),
        },
    })
    .unwrap();
    let mut spending = app::budget::ssr::Spending::offline(20_000_000);
    spending.pricing.product_check.price = MINI;
    let worker = app::jobs::Worker::new(
        app.pool.clone(),
        app.storage.clone(),
        app.media.clone(),
        app::jobs::WorkerSettings {
            lease: Duration::from_secs(1),
            poll: Duration::from_millis(100),
            backoff: Duration::from_millis(100),
            spending: Arc::new(spending),
            product_check: ProductCheck {
                drift_below: 0.5,
                judge: Some(Arc::new(VisionJudge::new(model))),
            },
            ..app::jobs::WorkerSettings::default()
        },
        app::jobs::Registry::default().register::<app::storyboard::jobs::SceneImage>(),
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    (stop, running)
}

/// The chat completions the fake model received.
async fn checks_sent(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/chat/completions")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn spent(app: &TestApp, project: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(actual_microusd), 0)::bigint FROM spend WHERE project_id = $1::uuid",
    )
    .bind(project)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// A planned project with the studio shot uploaded, and its first product scene.
async fn product_project(app: &TestApp, ada: &reqwest::Client) -> (String, String) {
    let (project, _) = app.planned_project(ada).await;
    app.uploaded(ada, &project, "lamp.png", studio_shot()).await;
    let view = app.storyboard(ada, &project).await;
    let scene = view
        .scenes
        .iter()
        .find(|s| s.shows_product)
        .expect("the director plans product scenes")
        .id
        .to_string();
    (project, scene)
}

fn scene_of<'a>(view: &'a StoryboardView, id: &str) -> &'a app::storyboard::SceneView {
    view.scenes.iter().find(|s| s.id.to_string() == id).unwrap()
}

/// An OpenAI-compatible chat server whose every completion is `answer`.
async fn judge_answering(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn the_vision_model_sees_the_photo_and_the_picture_and_its_reason_is_shown() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, scene) = product_project(&app, &ada).await;

    // The offline image does show the studio shot (the pixel measure would pass it); the
    // model sees a difference a pixel measure cannot.
    let server = judge_answering(ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{ "message": { "role": "assistant", "content":
            "{\"score\":0.3,\"differences\":\"The bottle has lost its label.\"}" } }],
        "usage": { "prompt_tokens": 3_000, "completion_tokens": 40 }
    })))
    .await;
    app.act(&ada, &scene, "approve_text").await;
    let (stop, running) = judged_worker(&app, &server);
    let view = app
        .wait_for(&ada, &project, "the retried image", |view| {
            let s = scene_of(view, &scene);
            s.image_status == GenStatus::Ready
                && s.error.as_deref().is_some_and(|e| e.contains("again:"))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.cancel();
    running.await.unwrap();

    let checks = checks_sent(&server).await;
    assert_eq!(checks.len(), 2, "the image and its one retry are checked");
    let check = &checks[0];
    assert_eq!(check["model"], "gpt-4o-mini");
    assert_eq!(check["response_format"]["type"], "json_schema");
    assert_eq!(
        check["response_format"]["json_schema"]["name"],
        "product_check"
    );
    let parts = check["messages"][0]["content"].as_array().unwrap();
    let images: Vec<&str> = parts
        .iter()
        .filter(|p| p["type"] == "image_url")
        .map(|p| p["image_url"]["url"].as_str().unwrap())
        .collect();
    assert_eq!(images.len(), 2, "the product photo and the scene's picture");
    assert!(images[0].starts_with("data:image/png;base64,"));
    assert!(images[1].starts_with("data:image/jpeg;base64,"));

    let scene = scene_of(&view, &scene);
    assert!(scene.image_drift);
    assert_eq!(scene.image_match, Some(30));
    let error = scene.error.clone().unwrap();
    assert!(error.starts_with("Product drift again"), "{error}");
    assert!(error.contains("The bottle has lost its label"), "{error}");
    // Each check is paid for by the tokens it used: 3,000 in and 40 out at gpt-4o-mini's
    // price is 474 millionths of a dollar; the offline images are free.
    assert_eq!(spent(&app, &project).await, 2 * 474);
}

#[tokio::test]
async fn when_the_vision_model_fails_the_pixel_measure_decides_and_nothing_is_charged() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, scene) = product_project(&app, &ada).await;
    let server = judge_answering(ResponseTemplate::new(503).set_body_string("overloaded")).await;
    app.act(&ada, &scene, "approve_text").await;
    let (stop, running) = judged_worker(&app, &server);
    let view = app
        .wait_for(&ada, &project, "the image", |view| {
            scene_of(view, &scene).image_status == GenStatus::Ready
        })
        .await;
    stop.cancel();
    running.await.unwrap();

    assert_eq!(checks_sent(&server).await.len(), 1);
    let made = scene_of(&view, &scene);
    assert!(!made.image_drift, "the offline image shows the product");
    assert!(made.image_match.unwrap() > 80, "{:?}", made.image_match);
    assert_eq!(made.error, None);
    let note: String = sqlx::query_scalar(
        "SELECT product_match_note FROM assets WHERE kind = 'image' AND product_match IS NOT NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(note.contains("the vision check could not answer"), "{note}");
    assert_eq!(spent(&app, &project).await, 0);
}
