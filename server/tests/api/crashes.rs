//! Real processes dying: a `reelsmith` process killed with SIGKILL mid-generation, against
//! an in-test server speaking Replicate's wire format, and another started after it.

use crate::helpers::TestApp;
use app::storyboard::GenStatus;
use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};
use wiremock::{
    matchers::{method, path, path_regex},
    Mock, MockServer, Request, ResponseTemplate,
};

/// A Replicate that numbers its predictions and finishes them once `done` is set.
pub struct FakeReplicate {
    pub server: MockServer,
    pub created: Arc<AtomicUsize>,
    pub cancelled: Arc<AtomicUsize>,
    pub done: Arc<AtomicBool>,
    /// Every prediction created, newest first: its id, model and input.
    pub made: Made,
}

pub type Made = Arc<std::sync::Mutex<Vec<serde_json::Value>>>;

impl FakeReplicate {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let created = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        // Every prediction made, newest first, as the list endpoint shows them.
        let made: Made = Made::default();
        let all_made = made.clone();
        Mock::given(method("POST"))
            .and(path_regex(r"^/v1/models/.+/predictions$"))
            .respond_with({
                let (created, made) = (created.clone(), made.clone());
                move |request: &Request| {
                    let n = created.fetch_add(1, Ordering::SeqCst) + 1;
                    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
                    let model = request.url.path().trim_start_matches("/v1/models/").trim_end_matches("/predictions").to_string();
                    let prediction = serde_json::json!({ "id": format!("p-{n}"), "status": "starting",
                                                         "model": model, "input": body["input"] });
                    made.lock().unwrap().insert(0, prediction.clone());
                    ResponseTemplate::new(201).set_body_json(prediction)
                }
            })
            .mount(&server)
            .await;
        let uri = server.uri();
        Mock::given(method("GET"))
            .and(path_regex(r"^/v1/predictions/p-\d+$"))
            .respond_with({
                let done = done.clone();
                let inputs = made.clone();
                move |request: &Request| {
                    let id = request
                        .url
                        .path()
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let body = if done.load(Ordering::SeqCst) {
                        serde_json::json!({ "id": id, "status": "succeeded",
                                            "output": [format!("{uri}/files/{id}.png")] })
                    } else {
                        serde_json::json!({ "id": id, "status": "processing" })
                    };
                    let mut body = body;
                    if let Some(input) = inputs
                        .lock()
                        .unwrap()
                        .iter()
                        .find(|p| p["id"] == id.as_str())
                        .map(|p| p["input"].clone())
                    {
                        body["input"] = input;
                    }
                    ResponseTemplate::new(200).set_body_json(body)
                }
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/files/p-\d+\.png$"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(&b"\x89PNG made once"[..]))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/predictions"))
            .respond_with(move |_: &Request| {
                let results = made.lock().unwrap().clone();
                ResponseTemplate::new(200).set_body_json(serde_json::json!({ "results": results }))
            })
            .mount(&server)
            .await;
        let cancelled = Arc::new(AtomicUsize::new(0));
        Mock::given(method("POST"))
            .and(path_regex(r"^/v1/predictions/p-\d+/cancel$"))
            .respond_with({
                let cancelled = cancelled.clone();
                move |_: &Request| {
                    cancelled.fetch_add(1, Ordering::SeqCst);
                    ResponseTemplate::new(200)
                        .set_body_json(serde_json::json!({ "status": "canceled" }))
                }
            })
            .mount(&server)
            .await;
        Self {
            server,
            created,
            cancelled,
            done,
            made: all_made,
        }
    }
}

/// The real binary as a worker on the test's database and files, paying `replicate`,
/// with its default job lease, or a short one where the test does not wait one out.
fn worker_process(app: &TestApp, replicate: &FakeReplicate, lease: Lease) -> std::process::Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_reelsmith"));
    if let Lease::Short = lease {
        command.env("REELSMITH_JOB_LEASE_SECS", "3");
    }
    command
        .env("DATABASE_URL", app.database_url())
        .env("REELSMITH_DATA_DIR", &app.settings.data_dir)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("REELSMITH_ALLOW_STALE_SITE", "true")
        .env("REPLICATE_API_TOKEN", "r8_test")
        .env(
            "REPLICATE_BASE_URL",
            format!("{}/v1", replicate.server.uri()),
        )
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

enum Lease {
    Default,
    Short,
}

pub async fn jobs_with_predictions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE prediction_id IS NOT NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Waits until the worker process has made (and saved) a few predictions.
pub async fn predictions_under_way(app: &TestApp) {
    let started = std::time::Instant::now();
    while jobs_with_predictions(app).await < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no predictions were made"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until no job is left running under the `dead` workers (killed at `killed`),
/// failing past 30 s of the crash; answers how long the takeover took.
pub async fn taken_over_within_30_s(
    app: &TestApp,
    dead: &[String],
    killed: std::time::Instant,
) -> Duration {
    loop {
        let orphans: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE status = 'running' AND locked_by = ANY($1)",
        )
        .bind(dead)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if orphans == 0 {
            return killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "{orphans} of the killed worker's jobs not taken over after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The workers (`locked_by`) running jobs now.
async fn workers_running_jobs(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT DISTINCT locked_by FROM jobs WHERE status = 'running'")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// Lets `second` run until every scene's image and every mood image is made; the
/// storyboard then, and how many image jobs there were.
async fn finish_with(
    mut second: std::process::Child,
    app: &TestApp,
    ada: &reqwest::Client,
    project: &str,
) -> (app::storyboard::StoryboardView, i64) {
    let done = app
        .wait_for(ada, project, "every scene's image", |v| {
            v.scenes.iter().all(|s| s.image_status == GenStatus::Ready)
        })
        .await;
    app.wait_for_moods(ada, project).await;
    second.kill().unwrap();
    second.wait().unwrap();
    let jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind IN ('scene_image', 'mood_image')")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    (done, jobs)
}

#[tokio::test]
async fn a_process_killed_mid_generation_loses_nothing_and_pays_once_per_image() {
    let app = TestApp::spawn_without_worker().await;
    let replicate = FakeReplicate::start().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    app.approve_all_texts(&ada, &view).await;
    // The first process creates predictions and is killed while Replicate works on them.
    let mut first = worker_process(&app, &replicate, Lease::Default);
    predictions_under_way(&app).await;
    let dead = workers_running_jobs(&app).await;
    assert_eq!(dead.len(), 1, "the first process runs jobs: {dead:?}");
    first.kill().unwrap();
    let killed = std::time::Instant::now();
    first.wait().unwrap();
    let paid_before_the_crash = jobs_with_predictions(&app).await;
    replicate.done.store(true, Ordering::SeqCst);

    // The next process takes the dead one's jobs over once their leases run out: with
    // the default lease, within 30 seconds of the crash.
    let second = worker_process(&app, &replicate, Lease::Default);
    let takeover = taken_over_within_30_s(&app, &dead, killed).await;
    let (done, jobs) = finish_with(second, &app, &ada, &project).await;
    let created = replicate.created.load(Ordering::SeqCst) as i64;
    assert_eq!(done.scenes.len() + 9, jobs as usize);
    assert_eq!(
        created, jobs,
        "one prediction per image, the killed ones resumed"
    );
    // The predictions made before the crash are the ones whose images were kept.
    let kept_from_before: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM assets WHERE split_part(prediction_id, '-', 2)::int <= $1",
    )
    .bind(paid_before_the_crash as i32)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        kept_from_before >= paid_before_the_crash,
        "{kept_from_before} of {paid_before_the_crash}"
    );
    eprintln!(
        "kill -9: its jobs taken over after {:.1} s, {} scenes completed, 0 lost, {created} predictions for {jobs} images ({paid_before_the_crash} resumed after the crash)",
        takeover.as_secs_f64(),
        done.scenes.len()
    );
}

#[tokio::test]
async fn sigterm_mid_generation_hands_the_predictions_over_uncancelled() {
    let app = TestApp::spawn_without_worker().await;
    let replicate = FakeReplicate::start().await;
    let ada = app.new_user("ada@example.com").await;
    let (project, view) = app.planned_project(&ada).await;
    app.approve_all_texts(&ada, &view).await;
    let mut first = worker_process(&app, &replicate, Lease::Short);
    predictions_under_way(&app).await;
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let exited = first.wait().unwrap();
    assert!(exited.success(), "a graceful stop: {exited}");
    // Handed over at once (no lease to wait out), each with its prediction kept.
    let running: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'running'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(running, 0, "jobs left running by a stopped worker");
    assert_eq!(
        replicate.cancelled.load(Ordering::SeqCst),
        0,
        "a prediction was cancelled"
    );
    let handed_over = jobs_with_predictions(&app).await;
    replicate.done.store(true, Ordering::SeqCst);

    let second = worker_process(&app, &replicate, Lease::Short);
    let (done, jobs) = finish_with(second, &app, &ada, &project).await;
    let created = replicate.created.load(Ordering::SeqCst) as i64;
    assert_eq!(
        created, jobs,
        "the handed-over predictions were finished, not made again"
    );
    eprintln!(
        "SIGTERM: {} scenes completed, {created} predictions for {jobs} images, {handed_over} handed over, 0 cancelled",
        done.scenes.len()
    );
}
