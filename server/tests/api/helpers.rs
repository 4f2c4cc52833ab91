use app::{
    error::AppError, generation::ssr::MediaProviders, projects::Project, storage::ssr::Storage,
};
use reqwest::{header, redirect::Policy, Client, Response, StatusCode};
use server::{
    config::{LogFormat, ProviderSettings, Settings, StorageSettings},
    fleet::{Fleet, FleetOptions},
    postgres::LocalCluster,
    startup::{Application, Database},
};
use sqlx::{postgres::PgConnectOptions, Connection, PgConnection, PgPool};
use std::{
    path::PathBuf,
    sync::{Arc, OnceLock},
};
use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";
/// How long a test waits for background media work (images, clips, renders) before it
/// fails: a few times what it takes alone, as CI runs four such tests on two cores.
pub const MEDIA_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The test run's PostgreSQL: `DATABASE_URL` if set (the test script starts one
/// cluster for the whole run), otherwise a throw-away cluster under target/.
fn admin_options() -> PgConnectOptions {
    static OPTIONS: OnceLock<PgConnectOptions> = OnceLock::new();
    OPTIONS
        .get_or_init(|| match std::env::var("DATABASE_URL") {
            Ok(url) => url.parse().expect("DATABASE_URL parses"),
            Err(_) => {
                let cluster =
                    LocalCluster::ephemeral(workspace_dir().join("target/test-data/postgres"))
                        .expect("PostgreSQL binaries found");
                cluster.start().expect("test cluster starts");
                cluster.connect_options("postgres")
            }
        })
        .clone()
}

/// One app at a time in this process. With several tokio runtimes rendering Leptos pages at
/// once (one per test), a page render now and then never finishes; a server has one
/// runtime, so this only concerns tests, which take turns instead.
static ONE_APP_AT_A_TIME: Mutex<()> = Mutex::const_new(());

pub struct TestApp {
    _turn: MutexGuard<'static, ()>,
    /// The app's files (local storage, work files); removed when the test ends.
    _data_dir: tempfile::TempDir,
    pub address: String,
    pub pool: PgPool,
    pub storage: Arc<dyn Storage>,
    pub media: MediaProviders,
    pub settings: Settings,
    /// A browser: keeps cookies, does not follow redirects (tests look at them).
    pub client: Client,
    /// The real processes behind `address`, for a fleet's test.
    fleet: Option<Fleet>,
}

#[derive(Default)]
pub struct TestSettings {
    pub public_url: Option<String>,
    pub storage: Option<StorageSettings>,
    /// Leave background jobs to workers the test runs itself.
    pub no_worker: bool,
    pub providers: Option<ProviderSettings>,
    /// The built site to serve; the workspace's target/site by default.
    pub site_root: Option<PathBuf>,
    /// Serve a site from another build (with a warning); by default only for a
    /// `site_root` of the test's own.
    pub allow_stale_site: Option<bool>,
    pub session_idle_minutes: Option<f64>,
    pub streams_per_account: Option<usize>,
    pub trusted_proxies: Option<String>,
    pub session_lifetime_days: Option<f64>,
    pub metrics_token: Option<&'static str>,
    /// A PostgreSQL of the test's own (to stop and start it), instead of the run's.
    pub cluster: Option<PgConnectOptions>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(TestSettings::default()).await
    }

    /// An app whose background jobs are left to workers the test runs itself.
    pub async fn spawn_without_worker() -> Self {
        Self::spawn_with(TestSettings {
            no_worker: true,
            ..TestSettings::default()
        })
        .await
    }

    pub async fn spawn_with(test: TestSettings) -> Self {
        let turn = ONE_APP_AT_A_TIME.lock().await;
        let (database, db) = new_database(test.cluster.clone()).await;

        let data_dir = tempfile::Builder::new()
            .prefix(&format!("{database}-"))
            .tempdir()
            .expect("a data directory");
        let settings = settings_of(test, data_dir.path());
        let application = Application::build(&settings, db.pool.clone())
            .await
            .expect("app builds");
        let address = format!("http://{}", application.local_addr());
        let storage = application.state().storage.clone();
        let media = application.state().media.clone();
        tokio::spawn(application.run_until(std::future::pending()));

        Self {
            _turn: turn,
            _data_dir: data_dir,
            address,
            pool: db.pool,
            storage,
            media,
            settings,
            client: browser(),
            fleet: None,
        }
    }

    /// A fleet of real processes on a database of the test's own (see
    /// `server::fleet`): requests go through its nginx, and the app's fields describe
    /// the fleet's shared parts (its database, its bucket).
    pub async fn spawn_fleet(options: impl FnOnce(&mut FleetOptions)) -> Self {
        let turn = ONE_APP_AT_A_TIME.lock().await;
        let (database, db) = new_database(None).await;
        let mut fleet_options = FleetOptions::new(
            PathBuf::from(env!("CARGO_BIN_EXE_reelsmith")),
            workspace_dir().join("target/site"),
        );
        fleet_options.database_url = Some(database_url_of(&db.pool));
        options(&mut fleet_options);
        let fleet = Fleet::start(fleet_options).await.expect("the fleet starts");
        let data_dir = tempfile::Builder::new()
            .prefix(&format!("{database}-"))
            .tempdir()
            .expect("a data directory");
        let settings = settings_of(
            TestSettings {
                public_url: Some(fleet.url.clone()),
                storage: Some(fleet.s3.storage_settings(&fleet.url_signing_key)),
                ..TestSettings::default()
            },
            data_dir.path(),
        );
        let storage = settings.storage().expect("the fleet's bucket").storage;
        let media = settings.media_providers().expect("offline media");
        Self {
            _turn: turn,
            _data_dir: data_dir,
            address: fleet.url.clone(),
            pool: db.pool,
            storage,
            media,
            settings,
            client: browser(),
            fleet: Some(fleet),
        }
    }

    /// The fleet of an app made by [`TestApp::spawn_fleet`].
    pub fn fleet(&mut self) -> &mut Fleet {
        self.fleet.as_mut().expect("a fleet")
    }

    /// Another instance of the app on the same database and files (as behind a load
    /// balancer); returns its address.
    pub async fn another_instance(&self) -> String {
        let application = Application::build(&self.settings, self.pool.clone())
            .await
            .expect("second instance builds");
        let address = format!("http://{}", application.local_addr());
        tokio::spawn(application.run_until(std::future::pending()));
        address
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Calls a server function the way a same-site page does.
    pub async fn call_as(
        &self,
        client: &Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Response {
        client
            .post(self.url(&format!("/api/{endpoint}")))
            .header(header::ACCEPT, "application/json")
            .header("sec-fetch-site", "same-origin")
            .header(header::ORIGIN, &self.address)
            .form(form)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> Response {
        self.call_as(&self.client, endpoint, form).await
    }

    pub async fn sign_up(&self, email: &str) -> Response {
        self.call("signup", &[("email", email), ("password", PASSWORD)])
            .await
    }

    /// A new browser with a new account, logged in.
    pub async fn new_user(&self, email: &str) -> Client {
        let client = browser();
        let response = self
            .call_as(
                &client,
                "signup",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "sign-up of {email}");
        client
    }

    pub async fn create_project(&self, client: &Client, name: &str, format: &str) -> Project {
        let response = self
            .call_as(
                client,
                "projects/create",
                &[("name", name), ("format", format)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "creating {name}");
        response.json().await.expect("a project")
    }

    pub async fn list_projects(&self, client: &Client) -> Vec<Project> {
        let response = self.call_as(client, "projects/list", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("projects")
    }

    /// Fails the test when background jobs are still queued or running [`MEDIA_WAIT`] on:
    /// for tests after which every job should have ended (one left behind is paid work
    /// that never lands, or a kind no worker runs). That long, because approving the
    /// last scene starts encodes (normalising, pieces made ahead) that take a while on a
    /// busy 2-core machine.
    pub async fn assert_no_jobs_left(&self) {
        let started = std::time::Instant::now();
        loop {
            let left: Vec<(String, String)> = sqlx::query_as(
                "SELECT kind, status FROM jobs WHERE status IN ('queued', 'running') ORDER BY kind",
            )
            .fetch_all(&self.pool)
            .await
            .expect("jobs");
            if left.is_empty() {
                return;
            }
            assert!(
                started.elapsed() < MEDIA_WAIT,
                "jobs left queued or running: {left:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// The test database's URL, for a real `reelsmith` process.
    pub fn database_url(&self) -> String {
        database_url_of(&self.pool)
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

/// The app's settings for a test: its choices, and test defaults for the rest.
fn settings_of(test: TestSettings, data_dir: &std::path::Path) -> Settings {
    Settings {
        site_addr: "127.0.0.1:0".parse().unwrap(),
        allow_stale_site: test.allow_stale_site.unwrap_or(test.site_root.is_some()),
        site_root: test
            .site_root
            .unwrap_or_else(|| workspace_dir().join("target/site")),
        data_dir: data_dir.to_path_buf(),
        database_url: None,
        public_url: test.public_url,
        log_format: LogFormat::Text,
        run_worker: !test.no_worker,
        session_idle_minutes: test.session_idle_minutes.unwrap_or(60.0),
        streams_per_account: test.streams_per_account.unwrap_or(20),
        streams_total: 5_000,
        job_lease_secs: 60,
        trusted_proxies: test.trusted_proxies.clone().unwrap_or_default(),
        session_lifetime_days: test.session_lifetime_days.unwrap_or(30.0),
        metrics_token: test.metrics_token.map(Into::into),
        storage: test.storage.unwrap_or_default(),
        providers: test.providers.unwrap_or_default(),
    }
}

/// A database of the test's own, migrated, in the run's cluster or in `cluster`.
async fn new_database(cluster: Option<PgConnectOptions>) -> (String, Database) {
    let database = format!("test_{}", Uuid::new_v4().simple());
    let admin = cluster.unwrap_or_else(admin_options);
    let mut connection = PgConnection::connect_with(&admin)
        .await
        .expect("connects to the test cluster");
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut connection)
        .await
        .expect("creates the test database");
    let db = Database::connect_with(admin.database(&database), None)
        .await
        .expect("connects and migrates");
    (database, db)
}

fn database_url_of(pool: &PgPool) -> String {
    let options = pool.connect_options();
    let (user, port) = (options.get_username(), options.get_port());
    let database = options.get_database().expect("a database");
    match options.get_socket() {
        Some(socket) => format!(
            "postgres://{user}@localhost:{port}/{database}?host={}",
            socket.display()
        ),
        None => format!("postgres://{user}@{}:{port}/{database}", options.get_host()),
    }
}

pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client builds")
}

/// The file behind a link the app handed out (a clip, a render), kept in a temporary file.
pub async fn download(url: &str) -> tempfile::NamedTempFile {
    let response = reqwest::get(url).await.expect("download sent");
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let bytes = response.bytes().await.expect("downloaded");
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), &bytes).expect("written");
    file
}

/// The error a server function answered with, and its HTTP status.
pub async fn error_of(response: Response) -> (StatusCode, AppError) {
    let status = response.status();
    let body = response.text().await.expect("body");
    let error = serde_json::from_str(&body)
        .unwrap_or_else(|_| panic!("not an AppError (status {status}): {body}"));
    (status, error)
}

/// A job worker whose images come from Replicate at `base` (an in-test server speaking its
/// wire format) and whose clips and music are made offline, running `jobs`.
pub fn replicate_worker(
    pool: PgPool,
    storage: Arc<dyn Storage>,
    base: &str,
    work: &std::path::Path,
    jobs: app::jobs::Registry,
) -> app::jobs::Worker {
    use app::generation::{
        offline::OfflineMedia,
        replicate::{Replicate, ReplicateSettings},
    };
    use std::time::Duration;
    let mut settings = ReplicateSettings::new("r8_test", work.join("replicate"));
    settings.base_url = format!("{base}/v1");
    settings.poll_interval = Duration::from_millis(50);
    settings.first_backoff = Duration::from_millis(20);
    let offline = Arc::new(OfflineMedia::new(work.join("offline")).expect("offline media"));
    app::jobs::Worker::new(
        pool,
        storage,
        MediaProviders {
            image: Arc::new(Replicate::new(settings).expect("a Replicate client")),
            video: offline.clone(),
            music: offline,
            speech: Arc::new(app::generation::speech::EspeakSpeech::new(
                work.join("speech"),
            )),
            clip_lengths: Default::default(),
            offline: false,
        },
        app::jobs::WorkerSettings {
            lease: Duration::from_secs(1),
            poll: Duration::from_millis(100),
            backoff: Duration::from_millis(100),
            ..app::jobs::WorkerSettings::default()
        },
        jobs,
    )
}

/// A loopback port nobody listens on now, for a server process of the test's own.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
