use crate::helpers::{free_port, TestApp, TestSettings};
use reqwest::StatusCode;

#[tokio::test]
async fn health_and_readiness_answer_200_while_the_database_is_reachable() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let response = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn readiness_fails_but_health_holds_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.pool.close().await;
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        reqwest::get(app.url("/healthz")).await.unwrap().status(),
        StatusCode::OK
    );
}

#[test]
fn help_lists_the_settings_with_their_environment_variables() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reelsmith"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "LEPTOS_SITE_ADDR",
        "LEPTOS_SITE_ROOT",
        "REELSMITH_DATA_DIR",
        "DATABASE_URL",
        "REELSMITH_PUBLIC_URL",
        "LOG_FORMAT",
        "RUST_LOG",
        "REELSMITH_STORAGE",
        "REELSMITH_S3_BUCKET",
        "REPLICATE_API_TOKEN",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "REELSMITH_LLM_MODEL",
        "sample-media",
    ] {
        assert!(help.contains(variable), "{variable} missing from:\n{help}");
    }
}

#[tokio::test]
async fn a_mistyped_encoder_preset_stops_the_start_and_names_the_choices() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_reelsmith"))
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("REELSMITH_ENCODER_PRESET", "fastest")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), output)
        .await
        .expect("the server stops rather than serving")
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("REELSMITH_ENCODER_PRESET is \"fastest\"") && said.contains("ultrafast"),
        "{said}"
    );
}

struct Server {
    child: std::process::Child,
    address: String,
}

impl Server {
    /// The real binary with no DATABASE_URL: it must bring up its own PostgreSQL.
    async fn start(data_dir: &std::path::Path) -> Self {
        let address = format!("127.0.0.1:{}", free_port());
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_reelsmith"))
            .env_remove("DATABASE_URL")
            .env("REELSMITH_DATA_DIR", data_dir)
            .env("LEPTOS_SITE_ADDR", &address)
            .env(
                "LEPTOS_SITE_ROOT",
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site"),
            )
            .env("LOG_FORMAT", "json")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            address: format!("http://{address}"),
        };
        for _ in 0..300 {
            if let Ok(response) = reqwest::get(format!("{}/readyz", server.address)).await {
                if response.status() == StatusCode::OK {
                    return server;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("the server did not become ready");
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        self.child.wait().unwrap()
    }
}

#[tokio::test]
async fn without_database_url_the_app_runs_its_own_postgres_and_keeps_accounts_across_restarts() {
    // Under the system temp dir: as root, the postgres user must be able to reach it.
    let data_dir =
        std::env::temp_dir().join(format!("own-postgres-{}", uuid::Uuid::new_v4().simple()));
    let cluster = server::postgres::LocalCluster::new(data_dir.join("postgres")).unwrap();
    let app = TestAppless::new();

    let server = Server::start(&data_dir).await;
    let signup = app.post(&server.address, "signup").await;
    assert_eq!(signup.status(), StatusCode::OK);
    assert!(server.terminate().success(), "graceful exit on SIGTERM");
    assert!(
        !cluster.is_running().unwrap(),
        "its PostgreSQL stopped with it"
    );

    let server = Server::start(&data_dir).await;
    let login = app.post(&server.address, "login").await;
    assert_eq!(
        login.status(),
        StatusCode::OK,
        "the account survived the restart"
    );
    assert!(server.terminate().success());
    assert!(!cluster.is_running().unwrap());
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// Posts the same credentials as a same-site page would, to any server.
struct TestAppless {
    client: reqwest::Client,
}

impl TestAppless {
    fn new() -> Self {
        Self {
            client: reqwest::Client::new(),
        }
    }

    async fn post(&self, address: &str, endpoint: &str) -> reqwest::Response {
        self.client
            .post(format!("{address}/api/{endpoint}"))
            .header("accept", "application/json")
            .header("sec-fetch-site", "same-origin")
            .form(&[
                ("email", "ada@example.com"),
                ("password", crate::helpers::PASSWORD),
            ])
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let mut nonces = Vec::new();
    for path in ["/login", "/healthz", "/no-such-page", "/login"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{path}");
        let policy = header("content-security-policy").unwrap_or_default();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(header("referrer-policy").is_some(), "{path}");
        if path != "/healthz" {
            // A page runs only its own scripts: those of this site, and the inline ones
            // carrying this answer's nonce.
            let nonce = policy
                .split("'nonce-")
                .nth(1)
                .and_then(|rest| rest.split('\'').next())
                .unwrap_or_else(|| panic!("{path}: no nonce in {policy}"))
                .to_string();
            assert!(
                policy.contains(&format!(
                    "script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"
                )),
                "{path}: {policy}"
            );
            assert!(policy.contains("object-src 'none'"), "{policy}");
            let page = response.text().await.unwrap();
            let scripts = page.matches("<script").count();
            assert!(scripts > 0, "{path}");
            assert_eq!(
                page.matches(&format!("nonce=\"{nonce}\"")).count(),
                scripts,
                "{path}: every inline script carries the nonce"
            );
            nonces.push(nonce);
            continue;
        }
        assert_eq!(
            header("strict-transport-security"),
            None,
            "plain http: no HSTS"
        );
    }
    assert_eq!(nonces.len(), 3);
    assert!(nonces[0] != nonces[2], "a nonce is used once: {nonces:?}");
    drop(app);
    let https = TestApp::spawn_with(TestSettings {
        public_url: Some("https://reelsmith.example".into()),
        ..TestSettings::default()
    })
    .await;
    let response = https.client.get(https.url("/login")).send().await.unwrap();
    assert!(response.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn sigterm_with_a_live_stream_open_still_exits_promptly() {
    let data_dir =
        std::env::temp_dir().join(format!("own-postgres-{}", uuid::Uuid::new_v4().simple()));
    let mut server = Server::start(&data_dir).await;
    let browser = crate::helpers::browser();
    let form = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let post = |endpoint: &str, pairs: Vec<(String, String)>| {
        browser
            .post(format!("{}/api/{endpoint}", server.address))
            .header("accept", "application/json")
            .header("sec-fetch-site", "same-origin")
            .form(&pairs)
            .send()
    };
    let signup = post(
        "signup",
        form(&[
            ("email", "ada@example.com"),
            ("password", crate::helpers::PASSWORD),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(signup.status(), StatusCode::OK);
    let project: app::projects::Project = post(
        "projects/create",
        form(&[("name", "Lumen"), ("format", "9:16")]),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    // A page following the project live: a connection that never ends by itself.
    let mut stream = browser
        .get(format!(
            "{}/api/projects/{}/stream",
            server.address, project.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.chunk().await.unwrap().is_some(),
        "the stream is open"
    );

    let asked = std::time::Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        if asked.elapsed() > std::time::Duration::from_secs(30) {
            let _ = server.child.kill();
            panic!("still running 30 s after SIGTERM with a live stream open");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(status.success(), "a clean exit: {status}");
    drop(stream);
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// PostgreSQL restarted under the app's feet: it answers again without a restart of its
/// own, and a stream opened before carries on, missing nothing.
#[tokio::test]
async fn a_database_restart_is_survived_by_the_app_and_its_open_streams() {
    use crate::storyboard::{next_event, read_events};
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL runs as its own user (never root), which must reach its directory.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = server::postgres::LocalCluster::ephemeral(dir.path().join("postgres")).unwrap();
    cluster.start().unwrap();
    let app = crate::helpers::TestApp::spawn_with(crate::helpers::TestSettings {
        cluster: Some(cluster.connect_options("postgres")),
        ..Default::default()
    })
    .await;
    let ada = app.new_user("ada@example.com").await;
    let (_, view) = app.planned_project(&ada).await;
    let mut events = read_events(app.stream(&ada, &view.id.to_string(), None).await);
    // The snapshot: one event per scene.
    let mut last = 0;
    for _ in 0..view.scenes.len() {
        last = next_event(&mut events)
            .await
            .id
            .unwrap()
            .parse::<i64>()
            .unwrap();
    }

    // Several requests at once: the pool holds several connections when the server stops.
    let at_once = (0..8).map(|_| reqwest::get(app.url("/readyz")));
    for ready in futures::future::join_all(at_once).await {
        assert_eq!(ready.unwrap().status(), StatusCode::OK);
    }
    let stopped = cluster.clone();
    tokio::task::spawn_blocking(move || stopped.stop())
        .await
        .unwrap()
        .unwrap();
    let down = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let started = cluster.clone();
    tokio::task::spawn_blocking(move || started.start())
        .await
        .unwrap()
        .unwrap();

    // The pool's connections died with the server while they sat idle: the first
    // request after it is back must not be handed one of them (an error page).
    tokio::time::sleep(server::startup::IDLE_BEFORE_PING + std::time::Duration::from_millis(500))
        .await;
    let scene = view.scenes[0].id.to_string();
    let edited = app
        .call_as(
            &ada,
            "studio/scene",
            &[
                ("scene", &scene),
                ("action", "edit_text"),
                ("text", "After the restart"),
            ],
        )
        .await;
    assert_eq!(
        edited.status(),
        StatusCode::OK,
        "the first request after the database came back failed"
    );
    // Ready again by itself, and the same stream shows the edit.
    assert_eq!(
        reqwest::get(app.url("/readyz")).await.unwrap().status(),
        StatusCode::OK
    );
    let event = next_event(&mut events).await;
    assert_eq!(
        event.id.unwrap().parse::<i64>().unwrap(),
        last + 1,
        "no event lost"
    );
    assert!(event.data.contains("After the restart"));
    drop(app);
    let _ = cluster.stop();
}
