//! Durable jobs with the Replicate client against an in-test server speaking its wire
//! format: a worker that dies mid-job, a refusal, and a retry.

use crate::helpers::{replicate_worker, TestApp};
use app::{generation::replicate::ReplicateSettings, jobs::Worker, storyboard::GenStatus};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

const CREATE: &str = "/v1/models/black-forest-labs/flux-schnell/predictions";

fn prediction(server: &MockServer, status: &str) -> serde_json::Value {
    json!({
        "id": "p-1",
        "status": status,
        "output": if status == "succeeded" { json!([format!("{}/files/p-1.png", server.uri())]) } else { json!(null) },
        "error": null,
    })
}

/// The scene jobs alone: these tests pay for scene images; the mood boards' images
/// queued on the way to a storyboard are left alone.
fn scene_jobs() -> app::jobs::Registry {
    app::jobs::Registry::default()
        .register::<app::storyboard::jobs::SceneImage>()
        .register::<app::storyboard::jobs::SceneVideo>()
        .register::<app::storyboard::voice::SceneVoice>()
}

fn worker(
    app: &TestApp,
    pool: sqlx::PgPool,
    server: &MockServer,
    work: &std::path::Path,
) -> Worker {
    replicate_worker(pool, app.storage.clone(), &server.uri(), work, scene_jobs())
}

/// Replicate takes a prediction (p-1) and is still working on it.
async fn in_flight(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(ResponseTemplate::new(201).set_body_json(prediction(server, "starting")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions/p-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(server, "processing")))
        .mount(server)
        .await;
}

/// Replicate has finished p-1 and serves its image; creating another is a test failure.
async fn finished_and_no_new_ones(server: &MockServer, image: &'static [u8]) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions/p-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(server, "succeeded")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/p-1.png"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(image))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(ResponseTemplate::new(201).set_body_json(prediction(server, "starting")))
        .expect(0)
        .mount(server)
        .await;
}

/// Runs another worker (B, its work files under `work`) until the first scene's image is
/// ready; the storyboard then.
async fn image_made_by_another_worker(
    app: &TestApp,
    client: &reqwest::Client,
    project: &str,
    server: &MockServer,
    work: &std::path::Path,
) -> app::storyboard::StoryboardView {
    let stop = CancellationToken::new();
    let worker_b =
        tokio::spawn(worker(app, app.pool.clone(), server, &work.join("b")).run(stop.clone()));
    let done = app
        .wait_for(client, project, "the image", |v| {
            v.scenes[0].image_status == GenStatus::Ready
        })
        .await;
    stop.cancel();
    worker_b.await.unwrap();
    done
}

async fn approve_text(app: &TestApp, client: &reqwest::Client, scene: &str) {
    let _: () = app
        .studio(
            client,
            "scene",
            &[("scene", scene), ("action", "approve_text")],
        )
        .await;
}

async fn job_row(app: &TestApp) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT status, attempts, prediction_id FROM jobs WHERE kind = 'scene_image'")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Ada's planned project and its first scene: the app, Ada's client, the project's and
/// the scene's ids, and a folder for the workers' files.
async fn one_scene() -> (TestApp, reqwest::Client, String, String, tempfile::TempDir) {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let scene = view.scenes[0].id.to_string();
    (app, ada, project, scene, tempfile::tempdir().unwrap())
}

/// How many `method` requests for `path` the fake Replicate received.
async fn asked(server: &MockServer, method: &str, path: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == method && r.url.path() == path)
        .count()
}

/// Waits until the scene image's job has saved its prediction's id.
async fn prediction_saved(app: &TestApp) {
    let started = std::time::Instant::now();
    while job_row(app).await.2.is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "no prediction");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_worker_killed_mid_job_is_replaced_without_paying_twice() {
    let (app, ada, project, scene, work) = one_scene().await;

    let server = MockServer::start().await;
    in_flight(&server).await;

    approve_text(&app, &ada, &scene).await;

    // Worker A runs on a runtime of its own, which is then shut down: a crash, as far as
    // the database and Replicate can tell.
    let runtime_a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let options = app.pool.connect_options().as_ref().clone();
    let worker_a = {
        let app_storage = app.storage.clone();
        let server_uri = server.uri();
        let work = work.path().join("a");
        runtime_a.spawn(async move {
            let pool = PgPoolOptions::new()
                .max_connections(3)
                .connect_with(options)
                .await
                .unwrap();
            replicate_worker(pool, app_storage, &server_uri, &work, scene_jobs())
                .run(CancellationToken::new())
                .await
        })
    };
    // Wait until A has created the prediction and saved its id.
    let started = std::time::Instant::now();
    loop {
        let (status, _, prediction) = job_row(&app).await;
        if status == "running" && prediction.is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "worker A never started the prediction"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    runtime_a.shutdown_background();
    drop(worker_a);
    let scene_state = app.storyboard(&ada, &project).await.scenes[0].image_status;
    assert_eq!(
        scene_state,
        GenStatus::Running,
        "the scene shows the work in progress"
    );

    // Replicate finishes the prediction meanwhile.
    let creates_before = asked(&server, "POST", CREATE).await;
    assert_eq!(creates_before, 1);
    finished_and_no_new_ones(&server, &b"\x89PNG the paid-for image"[..]).await;

    // Worker B takes the job over once A's lease has run out, and resumes A's prediction.
    let done = image_made_by_another_worker(&app, &ada, &project, &server, work.path()).await;
    let (status, attempts, prediction) = job_row(&app).await;
    assert_eq!(
        (status.as_str(), attempts, prediction.as_deref()),
        ("succeeded", 2, Some("p-1"))
    );
    let image = reqwest::get(app.url(done.scenes[0].image_url.as_ref().unwrap()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&image[..], b"\x89PNG the paid-for image");
    let recorded: Option<String> = sqlx::query_scalar(
        "SELECT prediction_id FROM assets WHERE kind = 'image' AND provider = 'replicate'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(recorded.as_deref(), Some("p-1"));
}

#[tokio::test]
async fn a_refusal_fails_one_scene_with_its_reason_and_the_others_carry_on() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let server = MockServer::start().await;
    // The first prediction is refused; later ones succeed.
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "title": "Input validation failed",
            "detail": "The prompt was flagged by the safety filter",
            "status": 422,
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with(ResponseTemplate::new(201).set_body_json(prediction(&server, "succeeded")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/p-1.png"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(&b"\x89PNG"[..]))
        .mount(&server)
        .await;
    let work = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    // One image at a time, so the refusal hits the first scene.
    let mut worker = worker(&app, app.pool.clone(), &server, work.path());
    worker.settings.concurrency.insert("scene_image", 1);
    let running = tokio::spawn(worker.run(stop.clone()));

    let first = view.scenes[0].id.to_string();
    let second = view.scenes[1].id.to_string();
    app.act(&ada, &first, "approve_text").await;
    let failed = app
        .wait_for(&ada, &project, "the refusal", |v| {
            v.scenes[0].image_status == GenStatus::Failed
        })
        .await;
    let reason = failed.scenes[0].error.clone().unwrap();
    assert!(reason.contains("flagged by the safety filter"), "{reason}");
    app.act(&ada, &second, "approve_text").await;
    app.wait_for(&ada, &project, "the other scene", |v| {
        v.scenes[1].image_status == GenStatus::Ready
    })
    .await;
    // Retrying the failed one works now.
    app.act(&ada, &first, "regenerate_image").await;
    let retried = app
        .wait_for(&ada, &project, "the retry", |v| {
            v.scenes[0].image_status == GenStatus::Ready
        })
        .await;
    assert_eq!(retried.scenes[0].error, None);
    // Two images were paid for (the refusal was not); the spend shown says so, and the
    // scene's last live update carried it to open pages.
    let image_cost = ReplicateSettings::new(String::new(), work.path().into())
        .image_price
        .estimate(1.0);
    assert_eq!(retried.standing.spent_microusd, 2 * image_cost);
    let streamed: i64 = sqlx::query_scalar(
        "SELECT (payload->>'spent_microusd')::bigint FROM events
         WHERE topic = 'storyboard' AND kind = 'scene_update' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(streamed, 2 * image_cost);
    let refusals: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE topic = 'storyboard' AND kind = 'storyboard_error'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(refusals, 1);
    stop.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_worker_shutting_down_hands_its_job_over_without_cancelling_the_prediction() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let scene = view.scenes[0].id.to_string();
    let server = MockServer::start().await;
    in_flight(&server).await;
    Mock::given(method("POST"))
        .and(path("/v1/predictions/p-1/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(&server, "canceled")))
        .mount(&server)
        .await;
    approve_text(&app, &ada, &scene).await;
    let work = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let worker_a = tokio::spawn(
        worker(&app, app.pool.clone(), &server, &work.path().join("a")).run(stop.clone()),
    );
    prediction_saved(&app).await;
    // SIGTERM, as far as the worker is concerned.
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(15), worker_a)
        .await
        .expect("the worker stops promptly")
        .unwrap();
    assert_eq!(
        asked(&server, "POST", "/v1/predictions/p-1/cancel").await,
        0,
        "the paid prediction is left running"
    );
    assert_eq!(
        job_row(&app).await,
        ("queued".to_string(), 0, Some("p-1".to_string())),
        "handed back at once, the attempt not counted, the prediction kept"
    );

    // The next worker resumes it without creating another.
    finished_and_no_new_ones(&server, &b"\x89PNG"[..]).await;
    image_made_by_another_worker(&app, &ada, &project, &server, work.path()).await;
    assert_eq!(
        job_row(&app).await,
        ("succeeded".to_string(), 1, Some("p-1".to_string()))
    );
}

/// Stopped while Replicate is still answering the create, a worker never learns the
/// prediction's id; handed over, the job's attempt is not counted, and yet the next worker
/// must find that prediction (Replicate lists it) rather than pay for a second.
#[tokio::test]
async fn a_job_handed_over_mid_create_adopts_the_prediction_it_made() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    let scene = view.scenes[0].id.to_string();
    let server = MockServer::start().await;
    let made = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    // Made at once, answered too late for a worker that is shutting down.
    Mock::given(method("POST"))
        .and(path(CREATE))
        .respond_with({
            let made = made.clone();
            let uri = server.uri();
            move |request: &wiremock::Request| {
                let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
                let prediction = json!({
                    "id": "p-1", "status": "starting", "output": null, "error": null,
                    "model": "black-forest-labs/flux-schnell", "input": body["input"],
                    "urls": { "get": format!("{uri}/v1/predictions/p-1") },
                });
                made.lock().unwrap().push(prediction.clone());
                ResponseTemplate::new(201)
                    .set_body_json(prediction)
                    .set_delay(Duration::from_secs(60))
            }
        })
        .mount(&server)
        .await;
    approve_text(&app, &ada, &scene).await;
    let work = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let worker_a = tokio::spawn(
        worker(&app, app.pool.clone(), &server, &work.path().join("a")).run(stop.clone()),
    );
    let started = std::time::Instant::now();
    while made.lock().unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "no create");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(15), worker_a)
        .await
        .expect("the worker stops without waiting for the answer")
        .unwrap();
    assert_eq!(
        job_row(&app).await,
        ("queued".to_string(), 0, None),
        "handed back, the attempt not counted, no id known"
    );

    // Replicate has the prediction in its list; the next worker takes it up.
    let listed = made.lock().unwrap().clone();
    finished_and_no_new_ones(&server, &b"\x89PNG"[..]).await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "results": listed })))
        .mount(&server)
        .await;
    // Finished, and with the input it was made with (how the worker recognises it).
    let mut finished = prediction(&server, "succeeded");
    finished["input"] = listed[0]["input"].clone();
    Mock::given(method("GET"))
        .and(path("/v1/predictions/p-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(finished))
        .with_priority(1)
        .mount(&server)
        .await;
    image_made_by_another_worker(&app, &ada, &project, &server, work.path()).await;
    assert_eq!(
        job_row(&app).await,
        ("succeeded".to_string(), 1, Some("p-1".to_string())),
        "one prediction, adopted"
    );
}

/// One account's many scenes do not hold another's one scene up: the queue takes turns
/// between accounts rather than serving the oldest job first.
#[tokio::test]
async fn the_queue_takes_turns_between_accounts() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.new_user("ada@example.com").await;
    let bob = app.new_user("bob@example.com").await;
    let (ada_project, ada_board) = app.planned_project(&ada).await;
    let (bob_project, bob_board) = app.planned_project(&bob).await;
    // Ada asks for every scene's image first, then Bob for one.
    app.approve_all_texts(&ada, &ada_board).await;
    let bobs = bob_board.scenes[0].id.to_string();
    app.act(&bob, &bobs, "approve_text").await;
    // One image at a time and no other kind of job (the voices' jobs would count as
    // running turns too, and how they interleave depends on the machine's load), so the
    // order is the queue's.
    let mut worker = Worker::new(
        app.pool.clone(),
        app.storage.clone(),
        app.media.clone(),
        app::jobs::WorkerSettings {
            poll: Duration::from_millis(100),
            ..app::jobs::WorkerSettings::default()
        },
        app::jobs::Registry::default().register::<app::storyboard::jobs::SceneImage>(),
    );
    worker.settings.concurrency.insert("scene_image", 1);
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    app.wait_for(&bob, &bob_project, "Bob's image", |v| {
        v.scenes[0].image_status == GenStatus::Ready
    })
    .await;
    app.wait_for(&ada, &ada_project, "Ada's images", |v| {
        v.scenes.iter().all(|s| s.image_status == GenStatus::Ready)
    })
    .await;
    stop.cancel();
    running.await.unwrap();
    // The scene images in the order they were made, by owner.
    let order: Vec<String> = sqlx::query_scalar(
        "SELECT u.email FROM assets a JOIN users u ON u.id = a.owner_id
         WHERE a.kind = 'image' ORDER BY a.created_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let bob_at = order.iter().position(|e| e == "bob@example.com").unwrap();
    assert!(
        bob_at <= 1,
        "Bob's one image came {} of {}: {order:?}",
        bob_at + 1,
        order.len()
    );
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_leaves_the_prediction_to_the_worker_that_took_over() {
    let (app, ada, project, scene, work) = one_scene().await;
    // Replicate as worker A reaches it, and as worker B does: two servers, so that what
    // each worker asked for can be told apart.
    let seen_by_a = MockServer::start().await;
    in_flight(&seen_by_a).await;
    Mock::given(method("POST"))
        .and(path("/v1/predictions/p-1/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(&seen_by_a, "canceled")))
        .mount(&seen_by_a)
        .await;
    let seen_by_b = MockServer::start().await;
    finished_and_no_new_ones(&seen_by_b, &b"\x89PNG the paid-for image"[..]).await;

    // Worker A runs on a pool of its own, which the test can starve: alive, but its
    // database stops answering it (a network partition, a long pause).
    let options = app.pool.connect_options().as_ref().clone();
    let pool_a = PgPoolOptions::new()
        .max_connections(3)
        .acquire_timeout(Duration::from_millis(300))
        .connect_with(options)
        .await
        .unwrap();
    let stop_a = CancellationToken::new();
    let worker_a = tokio::spawn(
        worker(&app, pool_a.clone(), &seen_by_a, &work.path().join("a")).run(stop_a.clone()),
    );
    approve_text(&app, &ada, &scene).await;
    prediction_saved(&app).await;
    // Every connection but the one its wake-up listener keeps.
    let mut held = Vec::new();
    while held.len() < 2 {
        if let Ok(connection) = pool_a.acquire().await {
            held.push(connection);
        }
    }

    // A's one-second lease runs out; B takes the job over and resumes A's prediction.
    image_made_by_another_worker(&app, &ada, &project, &seen_by_b, work.path()).await;
    assert_eq!(
        job_row(&app).await,
        ("succeeded".to_string(), 2, Some("p-1".to_string()))
    );

    // A's database answers again: its heartbeat finds the job is not its own any more, and
    // A stops waiting on the prediction without cancelling what B was given.
    drop(held);
    let polls_by_a = || asked(&seen_by_a, "GET", "/v1/predictions/p-1");
    let started = std::time::Instant::now();
    loop {
        let before = polls_by_a().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        if polls_by_a().await == before {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "worker A never noticed it lost the job"
        );
    }
    assert_eq!(
        asked(&seen_by_a, "POST", CREATE).await,
        1,
        "one prediction paid for, by A"
    );
    assert_eq!(
        asked(&seen_by_a, "POST", "/v1/predictions/p-1/cancel").await,
        0,
        "the prediction B resumed was not cancelled by A"
    );
    assert_eq!(
        job_row(&app).await,
        ("succeeded".to_string(), 2, Some("p-1".to_string())),
        "A's late ending changes nothing"
    );
    stop_a.cancel();
    worker_a.await.unwrap();
}

#[tokio::test]
async fn a_worker_whose_lease_ran_out_mid_run_does_not_claim_its_own_job_again() {
    let (app, ada, project, scene, work) = one_scene().await;
    let server = MockServer::start().await;
    in_flight(&server).await;
    // A long lease, so that the next heartbeat is far off, and a quick look for work.
    let mut only = worker(&app, app.pool.clone(), &server, work.path());
    only.settings.lease = Duration::from_secs(30);
    let stop = CancellationToken::new();
    let running = tokio::spawn(only.run(stop.clone()));
    approve_text(&app, &ada, &scene).await;
    prediction_saved(&app).await;

    // The lease runs out while the run goes on, as when a heartbeat is held up by a busy
    // database. The worker looks for work ten times a second meanwhile.
    sqlx::query(
        "UPDATE jobs SET lease_until = now() - interval '1 second' WHERE kind = 'scene_image'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        job_row(&app).await,
        ("running".to_string(), 1, Some("p-1".to_string())),
        "the job is not claimed again beside its own run"
    );

    finished_and_no_new_ones(&server, &b"\x89PNG"[..]).await;
    app.wait_for(&ada, &project, "the image", |v| {
        v.scenes[0].image_status == GenStatus::Ready
    })
    .await;
    assert_eq!(
        job_row(&app).await,
        ("succeeded".to_string(), 1, Some("p-1".to_string()))
    );
    stop.cancel();
    running.await.unwrap();
}
