//! A fleet on one machine, with real parts: one PostgreSQL cluster, one S3-compatible
//! bucket served by its own process (`s3.rs`), several `reelsmith` processes (some running
//! jobs, some web only) and nginx in front (`balancer.rs`). `bench/fleet` brings one up
//! (and drives users through it); the tests use it to check that instances behind a
//! balancer give users one product, and take over a dead instance's work.

mod balancer;
mod s3;

pub use balancer::Balancer;
pub use s3::S3Server;

use crate::postgres::LocalCluster;
use crate::startup::Database;
use anyhow::{bail, Context};
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

/// How a fleet is made up.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// The `reelsmith` binary every instance runs.
    pub exe: PathBuf,
    /// The built site the instances serve.
    pub site_root: PathBuf,
    /// The database; by default a private cluster in the fleet's folder.
    pub database_url: Option<String>,
    /// Instances that run jobs as well as serving requests.
    pub workers: usize,
    /// Instances that only serve requests (`REELSMITH_RUN_WORKER=false`).
    pub web_only: usize,
    /// Settings given to every instance besides the fleet's own (provider addresses and
    /// keys, the job lease).
    pub settings: Vec<(String, String)>,
}

impl FleetOptions {
    /// The shape the README describes: two instances running jobs, one web only.
    pub fn new(exe: PathBuf, site_root: PathBuf) -> Self {
        Self {
            exe,
            site_root,
            database_url: None,
            workers: 2,
            web_only: 1,
            settings: Vec::new(),
        }
    }
}

pub struct Fleet {
    /// Where users reach the fleet: nginx.
    pub url: String,
    pub database_url: String,
    /// The key every instance signs links with.
    pub url_signing_key: String,
    pub instances: Vec<Instance>,
    pub s3: S3Server,
    balancer: Balancer,
    cluster: Option<LocalCluster>,
    dir: tempfile::TempDir,
}

impl Fleet {
    /// Starts every part and waits until each instance answers `/readyz`.
    pub async fn start(options: FleetOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(
            options.workers + options.web_only > 0,
            "a fleet needs an instance"
        );
        let dir = tempfile::Builder::new()
            .prefix("reelsmith-fleet-")
            .tempdir()
            .context("making the fleet's folder")?;
        // PostgreSQL runs as the `postgres` user when we are root: it must enter it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        }
        let (database_url, cluster) = match &options.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let cluster = LocalCluster::ephemeral(dir.path().join("postgres"))?;
                let database = Database::connect_cluster(cluster.clone()).await?;
                database.pool.close().await;
                (cluster.url("reelsmith"), Some(cluster))
            }
        };
        let s3 = S3Server::start(&dir.path().join("bucket")).await?;
        let balancer_port = free_port()?;
        let url = format!("http://127.0.0.1:{balancer_port}");
        let url_signing_key = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut shared = s3.settings();
        shared.extend(
            [
                ("DATABASE_URL", database_url.as_str()),
                ("REELSMITH_PUBLIC_URL", url.as_str()),
                ("REELSMITH_URL_SIGNING_KEY", url_signing_key.as_str()),
                ("REELSMITH_TRUSTED_PROXIES", "127.0.0.1/32"),
            ]
            .map(|(name, value)| (name.to_string(), value.to_string())),
        );
        shared.extend(options.settings.iter().cloned());
        let starting = (0..options.workers + options.web_only).map(|n| {
            let folder = dir.path().join(format!("instance-{}", n + 1));
            Instance::start(&options, folder, n < options.workers, &shared)
        });
        let instances = futures::future::try_join_all(starting).await?;
        let upstreams: Vec<String> = instances.iter().map(|i| i.address.clone()).collect();
        let balancer = Balancer::start(&dir.path().join("nginx"), balancer_port, &upstreams)
            .await
            .context("starting nginx")?;
        Ok(Self {
            url,
            database_url,
            url_signing_key,
            instances,
            s3,
            balancer,
            cluster,
            dir,
        })
    }

    /// The fleet's folder: each instance's log, nginx's logs, the bucket.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops everything, instances first (handing their jobs back), the database last.
    pub async fn stop(self) {
        self.balancer.stop().await;
        futures::future::join_all(self.instances.into_iter().map(Instance::stop)).await;
        self.s3.stop().await;
        if let Some(cluster) = self.cluster {
            let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
        }
        drop(self.dir);
    }
}

/// One `reelsmith` process of the fleet.
pub struct Instance {
    process: Process,
    /// `127.0.0.1:port`, where the balancer reaches it.
    pub address: String,
    pub runs_worker: bool,
    pub log: PathBuf,
}

impl Instance {
    async fn start(
        options: &FleetOptions,
        folder: PathBuf,
        runs_worker: bool,
        shared: &[(String, String)],
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&folder).context("making an instance's folder")?;
        let port = free_port()?;
        let address = format!("127.0.0.1:{port}");
        let mut command = tokio::process::Command::new(&options.exe);
        command
            // Away from the checkout: a developer's .env (with API keys) must not apply.
            .current_dir(&folder)
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env_remove("REPLICATE_API_TOKEN")
            .env_remove("REPLICATE_BASE_URL")
            .env("REELSMITH_DATA_DIR", &folder)
            .env("LEPTOS_SITE_ADDR", &address)
            .env("LEPTOS_SITE_ROOT", &options.site_root)
            // The site may come from another build of the same code (a release binary
            // beside a debug site): the fleet is driven over the API.
            .env("REELSMITH_ALLOW_STALE_SITE", "true")
            .env("REELSMITH_RUN_WORKER", runs_worker.to_string())
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .envs(shared.iter().map(|(name, value)| (name, value)));
        let log = folder.join("reelsmith.log");
        let process = Process::spawn("reelsmith", command, &log)?;
        let instance = Self {
            process,
            address,
            runs_worker,
            log,
        };
        instance.wait_until_ready().await?;
        Ok(instance)
    }

    async fn wait_until_ready(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            let ready = client
                .get(format!("{}/readyz", self.url()))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if ready {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(120) || !self.process.is_running() {
                bail!(
                    "an instance did not become ready; its log:\n{}",
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Where a test reaches this instance directly, past the balancer.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// What the instance has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process at once (SIGKILL): a machine lost, nothing handed back.
    pub async fn kill(&mut self) {
        self.process.kill().await;
    }

    /// Stops the process as an operator does (SIGTERM).
    pub async fn stop(self) {
        self.process.stop().await;
    }
}

/// A child process with its output in a log file, killed if it is dropped.
struct Process {
    name: &'static str,
    child: tokio::process::Child,
}

impl Process {
    fn spawn(
        name: &'static str,
        mut command: tokio::process::Command,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let out = std::fs::File::create(log)
            .with_context(|| format!("making {name}'s log {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            // A group of its own: Ctrl-C at the terminal reaches the harness alone, which
            // then stops the fleet in order (instances handing their jobs back first).
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self { name, child })
    }

    /// Spawns a server and waits until it accepts connections on loopback `port`, or
    /// says why not.
    async fn serving(
        name: &'static str,
        command: tokio::process::Command,
        log: &Path,
        port: u16,
    ) -> anyhow::Result<Self> {
        let process = Self::spawn(name, command, log)?;
        let address = format!("127.0.0.1:{port}");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(&address).await.is_err() {
            if !process.is_running() || started.elapsed() > Duration::from_secs(30) {
                bail!("{name} did not start listening on {address}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(process)
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    fn is_running(&self) -> bool {
        self.child.id().is_some_and(|pid| {
            // A zombie has exited but not been waited for.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| !stat.contains(") Z "))
        })
    }

    fn signal(&self, signal: &str) {
        if let Some(pid) = self.pid() {
            let _ = std::process::Command::new("kill")
                .args([signal, &pid.to_string()])
                .status();
        }
    }

    async fn kill(&mut self) {
        self.signal("-KILL");
        let _ = self.child.wait().await;
    }

    /// SIGTERM, and SIGKILL if it has not ended within 30 s.
    async fn stop(mut self) {
        self.signal("-TERM");
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            tracing::warn!(name = self.name, "did not stop within 30 s; killed");
            let _ = self.child.kill().await;
        }
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
