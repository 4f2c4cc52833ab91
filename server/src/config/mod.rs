//! Settings, from the command line or the environment (and `.env`).

mod providers;
mod storage;

pub use providers::ProviderSettings;
pub use storage::{ConfiguredStorage, StorageBackend, StorageSettings};

use app::auth::ssr::SessionPolicy;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::{net::SocketAddr, path::PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "reelsmith",
    version,
    about = "Reelsmith: from a product brief to a finished short video ad.",
    long_about = "Reelsmith: from a product brief to a finished short video ad.\n\n\
        With no command, serves the web app. Every setting can also come from the \
        environment variable shown, or from a .env file in the working directory.",
    after_help = "Log verbosity follows RUST_LOG (default: info)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app (the default).
    Serve,
    /// Manage the private PostgreSQL cluster kept in the data directory.
    Postgres {
        #[command(subcommand)]
        action: PostgresAction,
    },
    /// Manage accounts.
    Accounts {
        #[command(subcommand)]
        action: AccountsAction,
    },
    /// Ask the configured providers for an image, a clip and a music track, store them in
    /// a new project of the given user, and print where they are.
    SampleMedia {
        /// The account to make the project for.
        #[arg(long)]
        email: String,
        /// The project's format.
        #[arg(long, default_value = "9:16")]
        format: String,
        /// Length of the clip and the track, in seconds.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// Time the one-pass render against the prototype's multi-pass pipeline and a plain
    /// encode (what `bench/compose` runs).
    BenchCompose {
        /// Runs of each; the best time counts.
        #[arg(long, default_value_t = 2)]
        runs: usize,
        /// Keep inputs and outputs in this directory.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// Open many live storyboard streams on a server of the bench's own and time how
    /// long edits take to reach each (what `bench/sse` runs).
    BenchSse {
        /// Subscriber counts, each measured against a fresh server.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
        subscribers: Vec<usize>,
        /// Storyboards the subscribers are spread over.
        #[arg(long, default_value_t = 10)]
        storyboards: usize,
        /// Edits made in each run, one storyboard after another.
        #[arg(long, default_value_t = 30)]
        edits: usize,
        /// Edits a second.
        #[arg(long, default_value_t = 5.0)]
        edits_per_second: f64,
        /// The server binary to measure (another build, to compare); this one by default.
        #[arg(long)]
        server: Option<PathBuf>,
    },
    /// Load the dashboard of a user with many projects on a server of the bench's own and
    /// print requests a second, latency and idle memory (what `bench/http` runs).
    BenchHttp {
        /// Projects on the dashboard.
        #[arg(long, default_value_t = 50)]
        projects: usize,
        /// Requests kept in flight.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds measured (after two of warming up).
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// The page asked for, logged in: the dashboard by default; `/healthz` or `/login`
        /// measure what every request costs before any page is rendered.
        #[arg(long, default_value = "/")]
        page: String,
        /// What each request accepts, as `Accept-Encoding`: Chromium's by default,
        /// `identity` for uncompressed answers.
        #[arg(long, default_value = "gzip, deflate, br, zstd")]
        accept_encoding: String,
        /// The server binary to measure (another build, to compare); this one by default.
        #[arg(long)]
        server: Option<PathBuf>,
    },
    /// Users at once through the whole journey, over the API, against a fleet behind
    /// nginx with the offline providers; prints users completed, errors, API and page
    /// latency and the jobs each instance ran (what `bench/load` runs).
    BenchLoad {
        /// Users at once.
        #[arg(long, default_value_t = 200)]
        users: usize,
        /// How far each user goes.
        #[arg(long, value_enum, default_value = "share")]
        until: crate::bench::Until,
        /// Instances that run jobs.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Instances that only serve requests.
        #[arg(long, default_value_t = 1)]
        web_only: usize,
        /// A user still waiting after this long counts as an error.
        #[arg(long, default_value_t = 120)]
        minutes: u64,
    },
    /// Bring up a fleet on this machine: a PostgreSQL cluster, an S3 server, instances of
    /// this binary behind nginx; it stays up until Ctrl-C (what `bench/fleet` runs).
    BenchFleet {
        /// Instances that run jobs.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Instances that only serve requests.
        #[arg(long, default_value_t = 1)]
        web_only: usize,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AccountsAction {
    /// Set an account's monthly budget in US dollars (`default` for the default,
    /// REELSMITH_MONTHLY_BUDGET_USD).
    SetBudget {
        /// The account's email.
        email: String,
        /// US dollars a month, e.g. 50 or 12.50, or `default`.
        usd: String,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum PostgresAction {
    /// Start it (creating it and applying migrations if needed) and print its connection URL.
    Start {
        /// Trade crash safety for speed (no fsync): for throw-away test clusters.
        #[arg(long)]
        ephemeral: bool,
    },
    /// Stop it if it runs.
    Stop,
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub site_addr: SocketAddr,

    /// Directory holding the built site (pkg/ with the WASM, JS and CSS, plus public files).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Serve a site built from other sources or settings than this server (its pages
    /// will not start in the browser), with a loud warning, instead of refusing to start.
    #[arg(long, env = "REELSMITH_ALLOW_STALE_SITE", action = clap::ArgAction::Set, default_value_t = false)]
    pub allow_stale_site: bool,

    /// Directory for the private PostgreSQL cluster and local files.
    #[arg(long, env = "REELSMITH_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// PostgreSQL to use. Unset: a private cluster in the data directory is started.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// The address users reach the app at; an https:// one makes cookies Secure.
    #[arg(long, env = "REELSMITH_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Run background jobs (image and clip generation) in this process. Turn it off for
    /// web-only instances when other instances do the work.
    #[arg(long, env = "REELSMITH_RUN_WORKER", action = clap::ArgAction::Set, default_value_t = true)]
    pub run_worker: bool,

    /// A session ends after this many minutes without a request.
    #[arg(
        long,
        env = "REELSMITH_SESSION_IDLE_MINUTES",
        default_value_t = 10_080.0
    )]
    pub session_idle_minutes: f64,

    /// A session ends this many days after log-in, however active.
    #[arg(long, env = "REELSMITH_SESSION_LIFETIME_DAYS", default_value_t = 30.0)]
    pub session_lifetime_days: f64,

    /// Proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` is
    /// believed for throttling, and whose `X-Request-Id` names the request in the logs;
    /// by default none, and the socket's peer is the client.
    #[arg(long, env = "REELSMITH_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// `GET /metrics` (Prometheus text) answers only requests with this bearer token;
    /// unset, only requests from loopback.
    #[arg(long, env = "REELSMITH_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<app::secret::Secret>,

    /// How long a claimed job stays this instance's without a heartbeat: a crashed
    /// instance's jobs are taken over by another after this long, plus at most the 5 s
    /// between looks for lost leases (20 s: taken over within 30 s). The heartbeat
    /// renews it every third of it, so two heartbeats in a row must fail to lose a job.
    #[arg(long, env = "REELSMITH_JOB_LEASE_SECS", default_value_t = 20)]
    pub job_lease_secs: u64,

    /// Live streams (open tabs) one account may have open on this instance.
    #[arg(long, env = "REELSMITH_STREAMS_PER_ACCOUNT", default_value_t = 20)]
    pub streams_per_account: usize,

    /// Live streams this instance keeps open in all.
    #[arg(long, env = "REELSMITH_STREAMS_TOTAL", default_value_t = 5_000)]
    pub streams_total: usize,

    #[command(flatten)]
    pub storage: StorageSettings,

    #[command(flatten)]
    pub providers: ProviderSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Settings {
    pub fn sessions(&self) -> anyhow::Result<SessionPolicy> {
        let idle = self.session_idle_minutes * 60.0;
        let lifetime = self.session_lifetime_days * 24.0 * 3600.0;
        anyhow::ensure!(
            idle.is_finite() && idle >= 1.0 && lifetime.is_finite() && lifetime >= idle,
            "REELSMITH_SESSION_IDLE_MINUTES must be positive and REELSMITH_SESSION_LIFETIME_DAYS at least as long"
        );
        Ok(SessionPolicy {
            idle_secs: idle.round() as i64,
            lifetime_secs: lifetime.round() as i64,
        })
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.site_addr))
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url().starts_with("https://")
    }
}
