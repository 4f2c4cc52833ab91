//! What an operator sees: `/metrics` in Prometheus text, request ids in answers and
//! logs, and no key in either.

use crate::helpers::{error_of, free_port, TestApp, TestSettings, PASSWORD};
use app::error::AppError;
use futures::StreamExt;
use reqwest::StatusCode;
use std::collections::HashMap;

/// One scrape: every sample by its name and labels as written (`name{a="b"}`).
async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    scrape_at(&app.address).await
}

/// One scrape of the instance at `base` (from loopback, which needs no token).
pub async fn scrape_at(base: &str) -> HashMap<String, f64> {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    parse_prometheus(&response.text().await.unwrap())
}

/// Prometheus's text format, strictly: comments are `# HELP` or `# TYPE` lines, every
/// other line is a metric name, optional labels and a number. Panics on anything else.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines().filter(|line| !line.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "unexpected comment: {line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            value => value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "bad labels: {line}"
            );
        }
        samples.insert(series.to_string(), value);
    }
    samples
}

/// The sum of every sample of `name` whose labels include all of `labels`.
pub fn total(samples: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| {
            series.split('{').next() == Some(name)
                && labels
                    .iter()
                    .all(|(label, value)| series.contains(&format!("{label}=\"{value}\"")))
        })
        .map(|(_, value)| value)
        .sum()
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_move_as_a_user_works() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    let client = app.new_user("metrics@example.com").await;
    let (_project, view) = app.planned_project(&client).await;
    // The mood boards' images are jobs (planning waits for them).
    let mut after = scrape(&app).await;
    for _ in 0..300 {
        if total(
            &after,
            "reelsmith_job_runs_total",
            &[("kind", "mood_image")],
        ) >= 1.0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        after = scrape(&app).await;
    }

    let signups = |samples| {
        total(
            samples,
            "reelsmith_http_requests_total",
            &[("route", "/api/signup"), ("status", "200")],
        )
    };
    assert!(
        signups(&after) >= signups(&before) + 1.0,
        "the sign-up is counted by its route and status"
    );
    assert!(
        total(
            &after,
            "reelsmith_http_request_duration_seconds_count",
            &[("route", "/api/signup")]
        ) >= 1.0,
        "and timed"
    );
    assert!(
        total(
            &after,
            "reelsmith_job_runs_total",
            &[("kind", "mood_image"), ("ended", "succeeded")]
        ) >= 1.0,
        "mood images ran as jobs: {after:?}"
    );
    assert!(
        total(
            &after,
            "reelsmith_job_run_duration_seconds_count",
            &[("kind", "mood_image")]
        ) >= 1.0
    );
    assert!(
        total(
            &after,
            "reelsmith_provider_calls_total",
            &[
                ("provider", "offline"),
                ("model", "image"),
                ("outcome", "succeeded")
            ]
        ) >= 1.0,
        "the provider's calls are counted by provider, model and outcome: {after:?}"
    );
    assert!(
        total(
            &after,
            "reelsmith_provider_call_duration_seconds_count",
            &[("provider", "offline"), ("model", "image")]
        ) >= 1.0,
        "and timed"
    );
    // Read at the scrape: every kind is there, waiting or not.
    for status in ["queued", "running"] {
        assert!(
            after.contains_key(&format!(
                "reelsmith_jobs{{kind=\"scene_video\",status=\"{status}\"}}"
            )) || after.contains_key(&format!(
                "reelsmith_jobs{{status=\"{status}\",kind=\"scene_video\"}}"
            )),
            "reelsmith_jobs for scene_video {status} missing"
        );
    }
    assert!(total(&after, "reelsmith_db_connections", &[("state", "in_use")]) >= 0.0);
    assert!(after.contains_key("reelsmith_live_streams_open"));

    // A live stream open shows, and the events it is sent are counted.
    let sent = total(
        &after,
        "reelsmith_events_sent_total",
        &[("topic", "storyboard")],
    );
    let stream = app.stream(&client, &view.id.to_string(), None).await;
    assert_eq!(stream.status(), StatusCode::OK);
    let mut body = stream.bytes_stream();
    let scene = view.scenes[0].id.to_string();
    let edited = app
        .call_as(
            &client,
            "studio/scene",
            &[
                ("scene", &scene),
                ("action", "edit_text"),
                ("text", "Light that follows your day, metered."),
            ],
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let mut seen = String::new();
    while !seen.contains("metered") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), body.next())
            .await
            .expect("the edit's event")
            .expect("a chunk")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let during = scrape(&app).await;
    assert!(total(&during, "reelsmith_live_streams_open", &[]) >= 1.0);
    assert!(
        total(
            &during,
            "reelsmith_events_sent_total",
            &[("topic", "storyboard")]
        ) > sent
    );

    // Routes are named by their pattern: one series for every project, not one each.
    assert!(
        !during
            .keys()
            .any(|series| series.contains(&view.id.to_string())),
        "an id in a label"
    );
    drop(body);
    app.assert_no_jobs_left().await;
}

#[tokio::test]
async fn metrics_are_refused_without_the_token_once_one_is_set() {
    let app = TestApp::spawn_with(TestSettings {
        metrics_token: Some("scrape-me-9f2c"),
        no_worker: true,
        ..TestSettings::default()
    })
    .await;
    let client = reqwest::Client::new();
    let get = |token: Option<&'static str>| {
        let mut request = client.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let refused = get(None).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("REELSMITH_METRICS_TOKEN"));
    assert_eq!(
        get(Some("scrape-me-9f2d")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let allowed = get(Some("scrape-me-9f2c")).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    let text = allowed.text().await.unwrap();
    parse_prometheus(&text);
    assert!(!text.contains("scrape-me"), "the token is not a figure");
}

#[tokio::test]
async fn every_answer_names_its_request_and_only_a_trusted_proxy_may_name_it() {
    let app = TestApp::spawn_with(TestSettings {
        no_worker: true,
        ..TestSettings::default()
    })
    .await;
    let client = reqwest::Client::new();
    let id_of = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string()
    };
    let first = client.get(app.url("/healthz")).send().await.unwrap();
    let second = client.get(app.url("/login")).send().await.unwrap();
    let (first, second) = (id_of(&first), id_of(&second));
    assert_eq!(first.len(), 32, "a new id: {first}");
    assert_ne!(first, second, "each request its own");
    let claimed = client
        .get(app.url("/healthz"))
        .header("x-request-id", "someone-elses-id")
        .send()
        .await
        .unwrap();
    assert_ne!(
        id_of(&claimed),
        "someone-elses-id",
        "not from an untrusted peer"
    );

    // One app at a time (see `helpers`).
    drop(app);
    let behind_proxy = TestApp::spawn_with(TestSettings {
        no_worker: true,
        trusted_proxies: Some("127.0.0.1/32".into()),
        ..TestSettings::default()
    })
    .await;
    let named = client
        .get(behind_proxy.url("/healthz"))
        .header("x-request-id", "edge-7f3a.42")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&named), "edge-7f3a.42", "the proxy's id is kept");
    for unusable in ["has spaces in it", &"x".repeat(200)] {
        let replaced = client
            .get(behind_proxy.url("/healthz"))
            .header("x-request-id", unusable)
            .send()
            .await
            .unwrap();
        assert_ne!(id_of(&replaced), unusable);
        assert_eq!(id_of(&replaced).len(), 32);
    }
}

/// The real binary, logging JSON lines: the lines of one request carry its id, and no
/// key given in the environment appears in the logs, `--help` or `/metrics`.
#[tokio::test]
async fn log_lines_of_a_request_share_its_id_and_keys_never_show() {
    const KEY: &str = "sk-live-never-print-me-4e1d";
    const TOKEN: &str = "r8_never_print_me_either_77";
    let app = TestApp::spawn_without_worker().await;
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_reelsmith"))
        .arg("--help")
        .env("OPENAI_API_KEY", KEY)
        .env("REPLICATE_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("REELSMITH_METRICS_TOKEN"));
    assert!(!help.contains(KEY) && !help.contains(TOKEN), "{help}");

    let data_dir = tempfile::tempdir().unwrap();
    let log_path = data_dir.path().join("server.log");
    let address = format!("127.0.0.1:{}", free_port());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_reelsmith"))
        .env("DATABASE_URL", app.database_url())
        .env("REELSMITH_DATA_DIR", data_dir.path())
        .env("LEPTOS_SITE_ADDR", &address)
        .env(
            "LEPTOS_SITE_ROOT",
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site"),
        )
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "debug,sqlx=warn,hyper=info,h2=info,rustls=info")
        .env("REELSMITH_RUN_WORKER", "false")
        .env("REELSMITH_TRUSTED_PROXIES", "127.0.0.1")
        .env("OPENAI_API_KEY", KEY)
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .env("REELSMITH_METRICS_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://{address}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..150 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            ready = response.status() == StatusCode::OK;
            if ready {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(ready, "the server did not become ready");

    // A report from a page: the handler logs it, and the request's end is logged too.
    let response = client
        .post(format!("{base}/api/client-problems"))
        .header("x-request-id", "req-logs-5b9e")
        .json(&serde_json::json!({ "kind": "test", "detail": "a page's report", "page": "/" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["x-request-id"], "req-logs-5b9e");
    // A service's lines are inside its span, and carry the request's id as well.
    let user = crate::helpers::browser();
    let post = |endpoint: &str, form: &[(&str, &str)], id: &str| {
        user.post(format!("{base}/api/{endpoint}"))
            .header("accept", "application/json")
            .header("sec-fetch-site", "same-origin")
            .header("origin", &base)
            .header("x-request-id", id)
            .form(form)
            .send()
    };
    let signed_up = post(
        "signup",
        &[("email", "logs@example.com"), ("password", PASSWORD)],
        "req-signup-1",
    )
    .await
    .unwrap();
    assert_eq!(signed_up.status(), StatusCode::OK);
    let created = post(
        "projects/create",
        &[("name", "Logged"), ("format", "16:9")],
        "req-create-7c1d",
    )
    .await
    .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let project: app::projects::Project = created.json().await.unwrap();
    let metrics = client
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let metrics = metrics.text().await.unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();

    let log = std::fs::read_to_string(&log_path).unwrap();
    let of_request: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("/api/client-problems"))
        .collect();
    assert!(
        of_request.len() >= 2,
        "the report and the request's end: {of_request:#?}"
    );
    for line in &of_request {
        assert!(
            line.contains("req-logs-5b9e"),
            "a line without the id: {line}"
        );
    }
    let created_line = log
        .lines()
        .find(|line| line.contains("project created"))
        .expect("the project's creation is logged");
    for part in [
        "req-create-7c1d",
        r#""name":"projects::create""#,
        &project.id.to_string(),
    ] {
        assert!(created_line.contains(part), "{part} in {created_line}");
    }
    for text in [&log, &metrics] {
        assert!(!text.contains(KEY), "the OpenAI key was printed");
        assert!(!text.contains(TOKEN), "the metrics token was printed");
    }
}

/// A failure on our side gives the user a reference to quote: the request's id, which the
/// answer's header and the server's log lines of that request carry too.
#[tokio::test]
async fn an_internal_error_names_the_request_to_quote() {
    let app = TestApp::spawn().await;
    let client = app.new_user("oops@example.com").await;
    // The projects' table gone from under the server: its query fails.
    sqlx::query("ALTER TABLE projects RENAME TO projects_elsewhere")
        .execute(&app.pool)
        .await
        .unwrap();
    let response = app.call_as(&client, "projects/list", &[]).await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        error,
        AppError::InternalReported {
            reference: id.clone()
        }
    );
    assert!(error.to_string().contains(&id), "{error}");
    // The dashboard page, rendered on the server, shows the same kind of reference.
    let page = client.get(app.url("/")).send().await.unwrap();
    let id = page.headers()["x-request-id"].to_str().unwrap().to_string();
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("quote {id}")),
        "the page names its request {id}: {html}"
    );
    sqlx::query("ALTER TABLE projects_elsewhere RENAME TO projects")
        .execute(&app.pool)
        .await
        .unwrap();
}
