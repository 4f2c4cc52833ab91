//! The Replicate client against an in-test HTTP server speaking Replicate's documented
//! wire format: predictions created with `Prefer: wait`, polled through their statuses,
//! rate limits, server errors and malformed answers.

// Tests unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

use app::{
    generation::{
        replicate::{Replicate, ReplicateSettings},
        ssr::{
            GenerationError, ImageGenerator, ImageRequest, MusicGenerator, MusicRequest,
            ProductReference, Rgb, Run,
        },
    },
    projects::VideoFormat,
};
use serde_json::json;
use std::time::{Duration, Instant};
use wiremock::{
    matchers::{body_partial_json, header, method, path},
    Mock, MockServer, ResponseTemplate,
};

const TOKEN: &str = "r8_test_token";

fn settings(server: &MockServer, work_dir: &std::path::Path) -> ReplicateSettings {
    let mut settings = ReplicateSettings::new(TOKEN, work_dir.to_path_buf());
    settings.base_url = format!("{}/v1", server.uri());
    settings.poll_interval = Duration::from_millis(20);
    settings.first_backoff = Duration::from_millis(20);
    settings.max_attempts = 3;
    settings.max_wait = Duration::from_secs(10);
    settings
}

fn client(server: &MockServer, work_dir: &std::path::Path) -> Replicate {
    Replicate::new(settings(server, work_dir)).unwrap()
}

fn image_request() -> ImageRequest {
    ImageRequest {
        prompt: "studio photo of matte black headphones".into(),
        format: VideoFormat::Vertical,
        palette: vec![Rgb(0, 0, 0)],
        caption: None,
        seed: 42,
        product: None,
    }
}

fn prediction(server: &MockServer, id: &str, status: &str) -> serde_json::Value {
    json!({
        "id": id,
        "model": "black-forest-labs/flux-schnell",
        "status": status,
        "input": {},
        "output": if status == "succeeded" { json!([format!("{}/files/{id}.png", server.uri())]) } else { json!(null) },
        "error": null,
        "urls": { "get": format!("{}/v1/predictions/{id}", server.uri()) }
    })
}

async fn serve_output(server: &MockServer, id: &str, bytes: &'static [u8]) {
    Mock::given(method("GET"))
        .and(path(format!("/files/{id}.png")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes))
        .mount(server)
        .await;
}

#[tokio::test]
async fn an_image_is_created_polled_through_its_statuses_and_downloaded() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("POST"))
        .and(path(
            "/v1/models/black-forest-labs/flux-schnell/predictions",
        ))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("prefer", "wait=60"))
        .and(body_partial_json(
            json!({"input": {"aspect_ratio": "9:16", "seed": 42}}),
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(prediction(&server, "p1", "starting")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions/p1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
            &server,
            "p1",
            "processing",
        )))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions/p1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
            &server,
            "p1",
            "succeeded",
        )))
        .mount(&server)
        .await;
    serve_output(&server, "p1", b"\x89PNG fake image").await;

    let image = client(&server, dir.path())
        .generate_image(&image_request(), &Run::default())
        .await
        .unwrap();
    assert_eq!(std::fs::read(image.path()).unwrap(), b"\x89PNG fake image");
    assert_eq!(image.prediction_id.as_deref(), Some("p1"));
    assert_eq!(image.provider, "replicate");
    assert!(image.cost_microusd > 0);
    assert_eq!((image.width, image.height), (Some(1080), Some(1920)));
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_as_retry_after_asks() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"title": "Request was throttled", "status": 429, "detail": "Request was throttled."})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(prediction(
            &server,
            "p2",
            "succeeded",
        )))
        .expect(1)
        .mount(&server)
        .await;
    serve_output(&server, "p2", b"png").await;

    let started = Instant::now();
    let image = client(&server, dir.path())
        .generate_image(&image_request(), &Run::default())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(image.prediction_id.as_deref(), Some("p2"));
}

#[tokio::test]
async fn server_errors_are_retried_and_then_reported_as_unavailable() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .expect(3)
        .mount(&server)
        .await;
    // Each time, Replicate's list shows the create made nothing: asking again is safe.
    Mock::given(method("GET"))
        .and(path("/v1/predictions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "results": [] })))
        .expect(3)
        .mount(&server)
        .await;
    let error = client(&server, dir.path())
        .generate_image(&image_request(), &Run::default())
        .await
        .unwrap_err();
    assert!(matches!(error, GenerationError::Unavailable(_)), "{error}");
    assert!(error.to_string().contains("3 attempts"), "{error}");
}

#[tokio::test]
async fn invalid_input_is_refused_at_once_with_replicates_explanation() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "type": "https://replicate.com/docs/errors/invalid-input",
            "title": "Input validation failed",
            "status": 422,
            "detail": "- input.aspect_ratio: aspect_ratio must be one of the following"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let error = client(&server, dir.path())
        .generate_image(&image_request(), &Run::default())
        .await
        .unwrap_err();
    match error {
        GenerationError::Refused(message) => {
            assert!(message.contains("aspect_ratio must be one of"), "{message}")
        }
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test]
async fn a_prediction_failing_on_safety_is_a_refusal_and_a_cancelled_one_a_failure() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut failed = prediction(&server, "p3", "failed");
    failed["error"] =
        json!("NSFW content detected. Try running it again, or try a different prompt.");
    Mock::given(method("POST"))
        .and(path(
            "/v1/models/black-forest-labs/flux-schnell/predictions",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(failed))
        .mount(&server)
        .await;
    let refused = client(&server, dir.path())
        .generate_image(&image_request(), &Run::default())
        .await
        .unwrap_err();
    assert!(matches!(refused, GenerationError::Refused(_)), "{refused}");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(prediction(&server, "p4", "canceled")),
        )
        .mount(&server)
        .await;
    let canceled = client(&server, dir.path())
        .generate_image(&image_request(), &Run::default())
        .await
        .unwrap_err();
    assert!(matches!(canceled, GenerationError::Failed(_)), "{canceled}");
    assert!(canceled.to_string().contains("canceled"), "{canceled}");
}

#[tokio::test]
async fn a_malformed_answer_is_a_clear_failure() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_string("<html>gateway</html>"))
        .mount(&server)
        .await;
    let error = client(&server, dir.path())
        .generate_image(&image_request(), &Run::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not a prediction"), "{error}");
}

#[tokio::test]
async fn a_saved_prediction_is_resumed_without_creating_another() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(prediction(&server, "never", "starting")),
        )
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions/p5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
            &server,
            "p5",
            "succeeded",
        )))
        .mount(&server)
        .await;
    serve_output(&server, "p5", b"resumed").await;
    let media = client(&server, dir.path())
        .generate_image(
            &image_request(),
            &Run {
                resume: Some("p5".into()),
                ..Run::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(std::fs::read(media.path()).unwrap(), b"resumed");
    assert_eq!(media.prediction_id.as_deref(), Some("p5"));
}

#[tokio::test]
async fn a_resumed_prediction_that_was_cancelled_is_replaced_by_a_new_one() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("GET"))
        .and(path("/v1/predictions/dead"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(prediction(&server, "dead", "canceled")),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/v1/models/black-forest-labs/flux-schnell/predictions",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(prediction(
            &server,
            "p7",
            "succeeded",
        )))
        .expect(1)
        .mount(&server)
        .await;
    serve_output(&server, "p7", b"made again").await;
    let saved = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let run = Run {
        resume: Some("dead".into()),
        on_started: Some(std::sync::Arc::new({
            let saved = saved.clone();
            move |id: String| {
                saved.lock().unwrap().push(id);
                Box::pin(async { Ok(()) })
            }
        })),
        ..Run::default()
    };
    let media = client(&server, dir.path())
        .generate_image(&image_request(), &run)
        .await
        .unwrap();
    assert_eq!(std::fs::read(media.path()).unwrap(), b"made again");
    assert_eq!(media.prediction_id.as_deref(), Some("p7"));
    assert_eq!(
        *saved.lock().unwrap(),
        ["p7"],
        "the new id is saved for a later resume"
    );
}

#[tokio::test]
async fn music_asks_the_music_model_for_the_whole_duration() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut done = prediction(&server, "m1", "succeeded");
    done["output"] = json!(format!("{}/files/m1.png", server.uri()));
    Mock::given(method("POST"))
        .and(path("/v1/models/meta/musicgen/predictions"))
        .and(body_partial_json(json!({"input": {"duration": 30}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(done))
        .expect(1)
        .mount(&server)
        .await;
    serve_output(&server, "m1", b"mp3").await;
    let music = client(&server, dir.path())
        .generate_music(
            &MusicRequest {
                prompt: "warm synth pad".into(),
                duration_secs: 29.6,
                tempo_bpm: 96,
                seed: 1,
            },
            &Run::default(),
        )
        .await
        .unwrap();
    assert_eq!(music.extension, "mp3");
    assert_eq!(music.duration_ms, Some(30_000));
}

/// A product image request whose photo is a file in `dir`, with the given links.
fn product_request(dir: &std::path::Path, urls: Vec<String>) -> ImageRequest {
    let photo = dir.join("photo.jpg");
    std::fs::write(&photo, b"\xff\xd8 a jpeg").unwrap();
    ImageRequest {
        product: Some(ProductReference {
            photo,
            cutout: None,
            urls,
        }),
        ..image_request()
    }
}

async fn input_of_the_only_create(server: &MockServer) -> serde_json::Value {
    let requests = server.received_requests().await.unwrap();
    let creates: Vec<_> = requests
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(creates.len(), 1);
    serde_json::from_slice::<serde_json::Value>(&creates[0].body).unwrap()["input"].clone()
}

#[tokio::test]
async fn a_product_image_goes_to_the_reference_model_with_the_photo_link_or_the_photo() {
    for (model, urls) in [
        (
            "black-forest-labs/flux-kontext-pro",
            vec!["https://files.example/a.jpg".to_string()],
        ),
        ("black-forest-labs/flux-kontext-pro", vec![]),
        (
            "flux-kontext-apps/multi-image-kontext-pro",
            vec![
                "https://files.example/a.jpg".into(),
                "https://files.example/b.jpg".into(),
            ],
        ),
    ] {
        let server = MockServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        Mock::given(method("POST"))
            .and(path(format!("/v1/models/{model}/predictions")))
            .respond_with(ResponseTemplate::new(201).set_body_json(prediction(
                &server,
                "k1",
                "succeeded",
            )))
            .expect(1)
            .mount(&server)
            .await;
        serve_output(&server, "k1", b"\x89PNG made").await;
        let mut settings = settings(&server, dir.path());
        settings.product_image_model = model.into();
        settings.product_image_price = app::generation::pricing::Price::PerRun(40_000);
        let image = Replicate::new(settings)
            .unwrap()
            .generate_image(&product_request(dir.path(), urls.clone()), &Run::default())
            .await
            .unwrap();
        assert_eq!(image.cost_microusd, 40_000);
        let input = input_of_the_only_create(&server).await;
        assert!(input["prompt"]
            .as_str()
            .unwrap()
            .ends_with("studio photo of matte black headphones"));
        assert_eq!(input["aspect_ratio"], json!("9:16"));
        match urls.len() {
            // No link a provider can reach: the photo itself, as a data URL.
            0 => assert_eq!(
                input["input_image"],
                json!("data:image/jpeg;base64,/9ggYSBqcGVn")
            ),
            1 => assert_eq!(input["input_image"], json!(urls[0])),
            _ => {
                assert_eq!(input["input_image_1"], json!(urls[0]));
                assert_eq!(input["input_image_2"], json!(urls[1]));
            }
        }
    }
}

#[tokio::test]
async fn the_prediction_id_is_reported_before_waiting_and_cancelling_cancels_it() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("POST"))
        .and(path(
            "/v1/models/black-forest-labs/flux-schnell/predictions",
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(prediction(&server, "p9", "starting")),
        )
        .expect(1)
        .mount(&server)
        .await;
    // It never finishes on its own.
    Mock::given(method("GET"))
        .and(path("/v1/predictions/p9"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
            &server,
            "p9",
            "processing",
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/predictions/p9/cancel"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(prediction(&server, "p9", "canceled")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (saved_tx, mut saved_rx) = tokio::sync::mpsc::unbounded_channel();
    let run = Run {
        on_started: Some(std::sync::Arc::new(move |id: String| {
            let saved_tx = saved_tx.clone();
            Box::pin(async move {
                saved_tx.send(id)?;
                Ok(())
            })
        })),
        ..Run::default()
    };
    let replicate = client(&server, dir.path());
    let cancel = run.cancel.clone();
    let generation = async { replicate.generate_image(&image_request(), &run).await };
    let stopper = async {
        let id = saved_rx.recv().await.unwrap();
        assert_eq!(id, "p9", "the id is known while the prediction still runs");
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(generation, stopper);
    assert!(
        matches!(result, Err(GenerationError::Cancelled)),
        "{result:?}"
    );
    // The mock's `expect(1)` on the cancel endpoint is checked when it drops.
}

#[tokio::test]
async fn a_failure_to_save_the_id_cancels_the_prediction_it_cannot_track() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("POST"))
        .and(path(
            "/v1/models/black-forest-labs/flux-schnell/predictions",
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(prediction(&server, "p10", "starting")),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/predictions/p10/cancel"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let run = Run {
        on_started: Some(std::sync::Arc::new(|_id: String| {
            Box::pin(async { Err(anyhow::anyhow!("database is down")) })
        })),
        ..Run::default()
    };
    let error = client(&server, dir.path())
        .generate_image(&image_request(), &run)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("database is down"), "{error}");
}

/// Live: runs only when REPLICATE_API_TOKEN is set (it spends money), says "skipped" otherwise.
#[tokio::test]
#[ignore = "needs REPLICATE_API_TOKEN: pays for a real image"]
async fn live_replicate_makes_an_image() {
    let Ok(token) = std::env::var("REPLICATE_API_TOKEN") else {
        panic!("set REPLICATE_API_TOKEN to run this test");
    };
    let dir = tempfile::tempdir().unwrap();
    let replicate =
        Replicate::new(ReplicateSettings::new(token, dir.path().to_path_buf())).unwrap();
    let image = replicate
        .generate_image(&image_request(), &Run::default())
        .await
        .unwrap();
    assert!(std::fs::metadata(image.path()).unwrap().len() > 1000);
}

/// A create whose answer is lost (a 503 or a timeout after Replicate made the prediction)
/// is found among the recent predictions and adopted: one create, one payment.
/// A create that got `first_answer` made its prediction all the same: it is adopted, not
/// made again, even when the first `failed_lookups` looks for it fail.
async fn ambiguous_create_is_adopted(first_answer: ResponseTemplate, failed_lookups: u64) {
    use std::sync::{Arc, Mutex};
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let made: Arc<Mutex<Option<serde_json::Value>>> = Arc::default();
    let uri = server.uri();
    if failed_lookups > 0 {
        Mock::given(method("GET"))
            .and(path("/v1/predictions"))
            .respond_with(ResponseTemplate::new(502))
            .up_to_n_times(failed_lookups)
            .expect(failed_lookups)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .respond_with({
            let made = made.clone();
            move |request: &wiremock::Request| {
                let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
                *made.lock().unwrap() = Some(body["input"].clone());
                first_answer.clone()
            }
        })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions"))
        .respond_with({
            let made = made.clone();
            move |_: &wiremock::Request| {
                let input = made.lock().unwrap().clone();
                // Someone else's prediction first, with another input.
                ResponseTemplate::new(200).set_body_json(json!({ "results": [
                    { "id": "other", "model": "black-forest-labs/flux-schnell", "input": { "seed": 1 } },
                    { "id": "p-lost", "model": "black-forest-labs/flux-schnell", "input": input },
                ] }))
            }
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions/p-lost"))
        .respond_with({
            let made = made.clone();
            move |_: &wiremock::Request| {
                let input = made.lock().unwrap().clone();
                ResponseTemplate::new(200).set_body_json(json!({
                    "id": "p-lost", "status": "succeeded", "input": input,
                    "output": [format!("{uri}/files/p-lost.png")],
                }))
            }
        })
        .mount(&server)
        .await;
    serve_output(&server, "p-lost", b"\x89PNG the one paid for").await;
    let mut settings = ReplicateSettings::new(TOKEN, dir.path().to_path_buf());
    settings.base_url = format!("{}/v1", server.uri());
    settings.poll_interval = Duration::from_millis(20);
    settings.first_backoff = Duration::from_millis(20);
    settings.request_timeout = Duration::from_millis(500);
    let image = Replicate::new(settings)
        .unwrap()
        .generate_image(&image_request(), &Run::default())
        .await
        .unwrap();
    assert_eq!(image.prediction_id.as_deref(), Some("p-lost"));
    assert_eq!(
        std::fs::read(image.path()).unwrap(),
        b"\x89PNG the one paid for"
    );
}

#[tokio::test]
async fn a_create_answered_with_a_server_error_is_looked_up_not_repeated() {
    ambiguous_create_is_adopted(ResponseTemplate::new(503), 0).await;
}

#[tokio::test]
async fn a_lookup_that_fails_is_tried_again_rather_than_failing_the_scene() {
    ambiguous_create_is_adopted(ResponseTemplate::new(503), 2).await;
}

#[tokio::test]
async fn a_create_that_timed_out_is_looked_up_not_repeated() {
    ambiguous_create_is_adopted(
        ResponseTemplate::new(201)
            .set_body_json(json!({"id": "p-lost", "status": "starting"}))
            .set_delay(Duration::from_secs(3)),
        0,
    )
    .await;
}

#[tokio::test]
async fn a_create_whose_fate_cannot_be_told_is_not_repeated() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let error = client(&server, dir.path())
        .generate_image(&image_request(), &Run::default())
        .await
        .unwrap_err();
    assert!(matches!(error, GenerationError::Unavailable(_)), "{error}");
    assert!(error.to_string().contains("not asking twice"), "{error}");
}

#[tokio::test]
async fn a_retry_after_a_crash_adopts_the_prediction_it_made_without_saving() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let request = image_request();
    // What the client sends for `image_request()`.
    let input = json!({
        "prompt": request.prompt,
        "aspect_ratio": "9:16",
        "seed": 42,
        "num_outputs": 1,
        "output_format": "png",
    });
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "results": [
            { "id": "p-unsaved", "model": "black-forest-labs/flux-schnell", "input": input },
        ] })),
        )
        .mount(&server)
        .await;
    let mut done = prediction(&server, "p-unsaved", "succeeded");
    done["input"] = input.clone();
    Mock::given(method("GET"))
        .and(path("/v1/predictions/p-unsaved"))
        .respond_with(ResponseTemplate::new(200).set_body_json(done))
        .mount(&server)
        .await;
    serve_output(&server, "p-unsaved", b"made before the crash").await;
    let run = Run {
        retried: true,
        ..Run::default()
    };
    let image = client(&server, dir.path())
        .generate_image(&request, &run)
        .await
        .unwrap();
    assert_eq!(image.prediction_id.as_deref(), Some("p-unsaved"));
}
