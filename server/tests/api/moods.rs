//! Mood boards are made by durable jobs, one per image: a worker that dies mid-round is
//! replaced without paying twice for an image, and two clicks start one round.

use crate::helpers::{error_of, replicate_worker, TestApp};
use app::{
    jobs::{Registry, Worker},
    moods::{jobs::MoodImage, MoodBoard},
};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use std::{
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio_util::sync::CancellationToken;
use wiremock::{
    matchers::{method, path, path_regex},
    Mock, MockServer, Request, Respond, ResponseTemplate,
};

const CREATE: &str = "/v1/models/black-forest-labs/flux-schnell/predictions";

/// Replicate's answer to a new prediction: a fresh id each time, counted.
struct NewPrediction(Arc<AtomicUsize>);

impl Respond for NewPrediction {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(201).set_body_json(json!({
            "id": format!("p-{n}"), "status": "starting", "output": null, "error": null,
        }))
    }
}

/// Replicate's answer to a poll: the prediction named in the path, `status`.
struct Poll {
    status: &'static str,
    base: String,
}

impl Respond for Poll {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = request.url.path().rsplit('/').next().unwrap_or_default();
        let output =
            (self.status == "succeeded").then(|| json!([format!("{}/files/{id}.png", self.base)]));
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "status": self.status, "output": output, "error": null,
        }))
    }
}

fn mood_worker(pool: sqlx::PgPool, app: &TestApp, base: &str, work: &Path) -> Worker {
    replicate_worker(
        pool,
        app.storage.clone(),
        base,
        work,
        Registry::default().register::<MoodImage>(),
    )
}

async fn started_predictions(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT id::text, prediction_id FROM jobs
         WHERE kind = 'mood_image' AND status = 'running' AND prediction_id IS NOT NULL ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_worker_killed_mid_mood_is_replaced_without_paying_twice() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.briefed_project(&ada, "9:16").await;
    let server = MockServer::start().await;
    let creates = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(NewPrediction(creates.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1/predictions/p-\d+$"))
        .respond_with(Poll {
            status: "processing",
            base: server.uri(),
        })
        .mount(&server)
        .await;
    let boards: Vec<MoodBoard> = app
        .studio(&ada, "generate_moods", &[("project", &project)])
        .await;
    assert_eq!(
        boards.iter().map(|b| b.pending).sum::<u32>(),
        9,
        "nine images to make"
    );

    // Worker A, on a runtime of its own that is then shut down (a crash, as far as the
    // database and Replicate can tell), starts three predictions and dies waiting.
    let work = tempfile::tempdir().unwrap();
    let runtime_a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let options = app.pool.connect_options().as_ref().clone();
    let pool_a = runtime_a
        .spawn(async move {
            PgPoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
        })
        .await
        .unwrap()
        .unwrap();
    let worker_a = mood_worker(pool_a, &app, &server.uri(), &work.path().join("a"));
    runtime_a.spawn(worker_a.run(CancellationToken::new()));
    let started = std::time::Instant::now();
    let in_flight = loop {
        let running = started_predictions(&app).await;
        if running.len() == <MoodImage as app::jobs::BackgroundJob>::CONCURRENCY {
            break running;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "worker A never started: {running:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    runtime_a.shutdown_background();
    assert_eq!(creates.load(Ordering::SeqCst), in_flight.len());

    // Replicate finishes those meanwhile; worker B takes the jobs over once A's leases
    // run out, resumes A's three predictions and pays only for the six never started.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(NewPrediction(creates.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1/predictions/p-\d+$"))
        .respond_with(Poll {
            status: "succeeded",
            base: server.uri(),
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/files/p-\d+\.png$"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(&b"\x89PNG a mood image"[..]))
        .mount(&server)
        .await;
    let stop = CancellationToken::new();
    let worker_b = tokio::spawn(
        mood_worker(
            app.pool.clone(),
            &app,
            &server.uri(),
            &work.path().join("b"),
        )
        .run(stop.clone()),
    );
    let done = app.wait_for_moods(&ada, &project).await;
    stop.cancel();
    worker_b.await.unwrap();
    assert!(
        done.iter()
            .all(|b| b.images.len() == 3 && b.error.is_none()),
        "{done:?}"
    );
    assert_eq!(
        creates.load(Ordering::SeqCst),
        9,
        "each image paid for once"
    );
    for (job, prediction) in &in_flight {
        let (status, attempts, kept): (String, i32, Option<String>) =
            sqlx::query_as("SELECT status, attempts, prediction_id FROM jobs WHERE id::text = $1")
                .bind(job)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        assert_eq!(
            (status.as_str(), attempts, kept.as_ref()),
            ("succeeded", 2, Some(prediction))
        );
    }
    let paid: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT prediction_id) FROM assets WHERE kind = 'image' AND provider = 'replicate'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(paid, 9);
    app.assert_no_jobs_left().await;
}

#[tokio::test]
async fn two_clicks_on_create_mood_boards_start_one_round() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let project = app.briefed_project(&ada, "9:16").await;
    let form = [("project", project.as_str())];
    let (first, second) = tokio::join!(
        app.call_as(&ada, "studio/generate_moods", &form),
        app.call_as(&ada, "studio/generate_moods", &form),
    );
    let mut statuses = vec![first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let refused = if first.status() == StatusCode::CONFLICT {
        first
    } else {
        second
    };
    let (_, error) = error_of(refused).await;
    assert!(error.to_string().contains("being made already"), "{error}");
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'mood_image'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(queued, 9, "one round of nine images");
    assert_eq!(app.count("moods").await, 3);
}
