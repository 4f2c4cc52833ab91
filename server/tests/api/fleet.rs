//! Several real `reelsmith` processes behind nginx, sharing one PostgreSQL and one S3
//! bucket served by its own process (`server::fleet`): what a user sees does not depend
//! on the instance that answers, and a dead instance's work is finished by another.

use crate::crashes::{predictions_under_way, taken_over_within_30_s, FakeReplicate};
use crate::helpers::{TestApp, MEDIA_WAIT, PASSWORD};
use crate::observability::{scrape_at, total};
use crate::storyboard::{next_event, read_events};
use app::storyboard::GenStatus;
use reqwest::{Client, StatusCode};
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

/// `name`'s samples with `labels` added up on each instance, in the fleet's order.
async fn per_instance(app: &mut TestApp, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    let mut counts = Vec::new();
    for instance in &app.fleet().instances {
        counts.push(total(&scrape_at(&instance.url()).await, name, labels));
    }
    counts
}

#[tokio::test]
async fn behind_nginx_every_instance_serves_the_session_and_an_edit_reaches_a_stream_on_another() {
    let mut app = TestApp::spawn_fleet(|_| {}).await;
    // Signed up through one instance, the session holds on the others.
    let ada = app.new_user("ada@example.com").await;
    for _ in 0..6 {
        let response = app.call_as(&ada, "projects/list", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let listed = per_instance(
        &mut app,
        "reelsmith_http_requests_total",
        &[("route", "/api/projects/list"), ("status", "200")],
    )
    .await;
    assert_eq!(listed, [2.0, 2.0, 2.0], "round robin, no stickiness");

    // The journey to a storyboard: the brief, mood boards made by the workers, a plan.
    let (_, view) = app.planned_project(&ada).await;
    let ran = per_instance(&mut app, "reelsmith_job_runs_total", &[]).await;
    assert!(
        ran[0] > 0.0 && ran[1] > 0.0 && ran[2] == 0.0,
        "both workers took jobs, the web-only instance none: {ran:?}"
    );

    // A tab's stream on one instance, an edit through the next one.
    let stream = app
        .stream(&ada, &view.id.to_string(), Some(view.last_event_id))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    let mut events = read_events(stream);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let edits_before = per_instance(
        &mut app,
        "reelsmith_http_requests_total",
        &[("route", "/api/studio/scene")],
    )
    .await;
    let scene = view.scenes[1].id.to_string();
    app.edit_text(&ada, &scene, "Through another instance")
        .await;
    let event = next_event(&mut events).await;
    assert_eq!(event.event, "scene_update");
    assert!(event.data.contains("Through another instance"));

    let streaming = per_instance(&mut app, "reelsmith_live_streams_open", &[]).await;
    let edits = per_instance(
        &mut app,
        "reelsmith_http_requests_total",
        &[("route", "/api/studio/scene")],
    )
    .await;
    let streamed_by = streaming.iter().position(|open| *open == 1.0);
    let edited_by = (0..edits.len()).find(|&n| edits[n] > edits_before[n]);
    assert!(
        streamed_by.is_some() && edited_by.is_some() && streamed_by != edited_by,
        "the stream ({streaming:?}) and the edit ({edits_before:?} then {edits:?}) were on \
         different instances"
    );
}

/// Waits until every scene of `project` has its image and no job is left; answers the
/// storyboard and how many image jobs (mood boards' and scenes') were run.
async fn every_image_made(
    app: &TestApp,
    client: &Client,
    project: &str,
) -> (app::storyboard::StoryboardView, i64) {
    let done = app
        .wait_for(client, project, "every scene's image", |v| {
            v.scenes.iter().all(|s| s.image_status == GenStatus::Ready)
        })
        .await;
    app.assert_no_jobs_left().await;
    let images =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind IN ('scene_image', 'mood_image')")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    (done, images)
}

/// A browser tab's live view through the balancer: the sequence numbers of the events
/// it got, reconnecting with `Last-Event-ID` whenever its connection ends, as
/// `EventSource` does.
struct Tab {
    seen: Arc<Mutex<Vec<i64>>>,
    reconnects: Arc<AtomicUsize>,
}

impl Tab {
    fn open(app: &TestApp, client: &Client, storyboard: String, from: i64) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reconnects = Arc::new(AtomicUsize::new(0));
        let url = app.url(&format!("/api/storyboards/{storyboard}/stream"));
        let (client, tab_seen, tab_reconnects) = (client.clone(), seen.clone(), reconnects.clone());
        tokio::spawn(async move {
            let mut last = from;
            loop {
                let response = client
                    .get(&url)
                    .header("last-event-id", last.to_string())
                    .send()
                    .await;
                if let Ok(response) = response.and_then(|r| r.error_for_status()) {
                    let mut events = read_events(response);
                    while let Some(event) = events.recv().await {
                        if let Some(seq) = event.id.and_then(|id| id.parse::<i64>().ok()) {
                            tab_seen.lock().unwrap().push(seq);
                            last = seq;
                        }
                    }
                }
                tab_reconnects.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        Self { seen, reconnects }
    }

    fn seen(&self) -> Vec<i64> {
        self.seen.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn an_instance_killed_mid_job_has_its_work_finished_by_another_paid_once_and_its_streams_miss_nothing(
) {
    let replicate = FakeReplicate::start().await;
    let base = format!("{}/v1", replicate.server.uri());
    let mut app = TestApp::spawn_fleet(|fleet| {
        fleet.settings.extend([
            ("REPLICATE_API_TOKEN".to_string(), "r8_test".to_string()),
            ("REPLICATE_BASE_URL".to_string(), base),
        ]);
    })
    .await;
    let ada = app.new_user("ada@example.com").await;
    // The mood boards' images are made at once; the scenes' then stay at Replicate.
    replicate.done.store(true, Ordering::SeqCst);
    let (project, view) = app.planned_project(&ada).await;
    replicate.done.store(false, Ordering::SeqCst);
    let paid_for_moods = replicate.created.load(Ordering::SeqCst);

    // Three tabs: one on each instance (round robin), each from the plan's last event.
    let storyboard = view.id.to_string();
    let tabs: Vec<Tab> = (0..3)
        .map(|_| Tab::open(&app, &ada, storyboard.clone(), view.last_event_id))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.approve_all_texts(&ada, &view).await;
    predictions_under_way(&app).await;

    // The worker instance running the most jobs dies.
    let running: Vec<String> =
        sqlx::query_scalar("SELECT locked_by FROM jobs WHERE status = 'running'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let busiest = (0..2)
        .max_by_key(|&n| {
            let pid = app.fleet().instances[n].pid().unwrap();
            running
                .iter()
                .filter(|worker| worker.contains(&format!("-{pid}-")))
                .count()
        })
        .unwrap();
    let pid = app.fleet().instances[busiest].pid().unwrap();
    let orphaned: Vec<String> = running
        .into_iter()
        .filter(|worker| worker.contains(&format!("-{pid}-")))
        .collect();
    assert!(!orphaned.is_empty(), "a worker instance runs jobs");
    app.fleet().instances[busiest].kill().await;
    let killed = Instant::now();
    replicate.done.store(true, Ordering::SeqCst);

    // Its jobs are taken over by the other worker within 30 s.
    let takeover = taken_over_within_30_s(&app, &orphaned, killed).await;
    let (done, images) = every_image_made(&app, &ada, &project).await;

    // Paid once: one prediction per image, those of the dead instance resumed.
    let created = replicate.created.load(Ordering::SeqCst) as i64;
    assert_eq!(created, images, "one prediction per image");
    assert!(created as usize > paid_for_moods);

    // Every tab has every event since the plan, once and in order; the tab whose
    // instance died got the rest by reconnecting.
    let events: Vec<i64> = sqlx::query_scalar(
        "SELECT seq FROM events WHERE topic = 'storyboard' AND topic_id = $1 AND seq > $2
         ORDER BY seq",
    )
    .bind(view.id)
    .bind(view.last_event_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let started = Instant::now();
    while tabs.iter().any(|tab| tab.seen() != events) {
        assert!(
            started.elapsed() < MEDIA_WAIT,
            "the tabs saw {:?}, the log has {events:?}",
            tabs.iter().map(Tab::seen).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reconnected = tabs
        .iter()
        .filter(|tab| tab.reconnects.load(Ordering::SeqCst) > 0)
        .count();
    assert!(reconnected >= 1, "the dead instance's tab reconnected");
    eprintln!(
        "fleet kill -9: jobs taken over after {:.1} s; {} scenes done; {created} predictions \
         for {images} images; {} events, none missed by the tab that reconnected",
        takeover.as_secs_f64(),
        done.scenes.len(),
        events.len()
    );
}

#[tokio::test]
async fn three_workers_claiming_at_once_run_every_job_once_and_count_what_each_provider_was_paid() {
    let replicate = FakeReplicate::start().await;
    replicate.done.store(true, Ordering::SeqCst);
    let base = format!("{}/v1", replicate.server.uri());
    let mut app = TestApp::spawn_fleet(|fleet| {
        fleet.workers = 3;
        fleet.web_only = 0;
        fleet.settings.extend([
            ("REPLICATE_API_TOKEN".to_string(), "r8_test".to_string()),
            ("REPLICATE_BASE_URL".to_string(), base),
        ]);
    })
    .await;
    let ada = app.new_user("ada@example.com").await;
    // Each step queues its jobs in one transaction; the three workers are woken together.
    let (project, view) = app.planned_project(&ada).await;
    app.approve_all_texts(&ada, &view).await;
    let (_, images) = every_image_made(&app, &ada, &project).await;

    // One prediction per image job: its input carries the job's own seed, so a job paid
    // twice would show as one model and seed created twice.
    let made = replicate.made.lock().unwrap().clone();
    let mut per_job: HashMap<String, usize> = HashMap::new();
    for prediction in &made {
        let key = format!("{} {}", prediction["model"], prediction["input"]["seed"]);
        *per_job.entry(key).or_default() += 1;
    }
    assert_eq!(made.len() as i64, images, "one prediction per image");
    assert!(per_job.values().all(|&n| n == 1), "{per_job:?}");

    // Every job ran once, whichever worker claimed it.
    let succeeded: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'succeeded'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let runs = per_instance(&mut app, "reelsmith_job_runs_total", &[]).await;
    assert_eq!(
        runs.iter().sum::<f64>() as i64,
        succeeded,
        "runs per instance {runs:?} for {succeeded} jobs"
    );

    // What Replicate was paid, by the instances' figures and by the ledger.
    let paid = per_instance(
        &mut app,
        "reelsmith_spent_microusd_total",
        &[("provider", "replicate")],
    )
    .await;
    let ledger: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(actual_microusd), 0)::bigint FROM spend WHERE provider = 'replicate'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(ledger > 0, "images cost money");
    assert_eq!(paid.iter().sum::<f64>() as i64, ledger, "{paid:?}");
    eprintln!(
        "fleet of three workers: {succeeded} jobs run once each, spread {runs:?}; \
         {images} predictions; {ledger} micro-dollars to Replicate"
    );
}

/// A sign-up on the fleet's page from a browser at `client`'s address, sent to `to` (the
/// balancer or one instance), claiming through `X-Forwarded-For` to come from `forged`.
async fn sign_up_from(
    app: &mut TestApp,
    client: &Client,
    to: &str,
    email: &str,
    forged: &str,
) -> StatusCode {
    client
        .post(format!("{to}/api/signup"))
        .header("accept", "application/json")
        .header("sec-fetch-site", "same-origin")
        .header("origin", app.fleet().url.clone())
        .header("x-forwarded-for", forged)
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .expect("sign-up sent")
        .status()
}

/// A browser on its own loopback address, `127.0.0.<last>`.
fn browser_at(last: u8) -> Client {
    Client::builder()
        .cookie_store(true)
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .expect("client builds")
}

#[tokio::test]
async fn behind_nginx_sign_ups_are_throttled_by_the_real_client_and_a_forged_address_dodges_nothing(
) {
    // nginx at 127.0.0.1 is the one trusted proxy; the browsers are elsewhere.
    let mut app = TestApp::spawn_fleet(|fleet| {
        fleet.workers = 0;
        fleet.web_only = 2;
    })
    .await;
    let balancer = app.fleet().url.clone();
    let instance = app.fleet().instances[0].url();
    let (mallory, ada) = (browser_at(2), browser_at(3));
    // Each sign-up claims another address; nginx adds the real one, which counts.
    for n in 0..10 {
        let status = sign_up_from(
            &mut app,
            &mallory,
            &balancer,
            &format!("bot{n}@example.com"),
            &format!("198.51.100.{n}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "sign-up {n}");
    }
    let refused = sign_up_from(
        &mut app,
        &mallory,
        &balancer,
        "bot10@example.com",
        "198.51.100.10",
    )
    .await;
    assert_eq!(refused, StatusCode::TOO_MANY_REQUESTS);
    // Straight to an instance, past the balancer, the forged address is not believed.
    let refused = sign_up_from(
        &mut app,
        &mallory,
        &instance,
        "bot11@example.com",
        "203.0.113.9",
    )
    .await;
    assert_eq!(refused, StatusCode::TOO_MANY_REQUESTS);
    // Another browser behind the same balancer has its own count.
    let welcome = sign_up_from(&mut app, &ada, &balancer, "ada@example.com", "198.51.100.1").await;
    assert_eq!(
        welcome,
        StatusCode::OK,
        "not counted as the balancer's address"
    );
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(accounts, 11, "the refused sign-ups made no account");
}
