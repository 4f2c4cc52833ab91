//! Settings, from the command line or the environment (and `.env`).

use anyhow::Context;
use app::auth::ssr::SessionPolicy;
use app::budget::ssr::Spending;
use app::creative::{
    offline::OfflineDirector,
    ssr::{Director, LlmDirector},
    timing::ClipLengths,
};
use app::generation::{
    llm::{OpenAiCompatible, OpenAiSettings},
    offline::OfflineMedia,
    pricing::{PriceTable, Priced},
    replicate::{Replicate, ReplicateSettings, PROVIDER as REPLICATE},
    retry::RetryPolicy,
    speech::{EspeakSpeech, OpenAiSpeech, SpeechGenerator},
    ssr::MediaProviders,
};
use app::product::{
    check::ProductCheck,
    judge::{ProductJudge, VisionJudge},
};
use app::storage::{
    local::LocalStorage,
    s3::{S3Settings, S3Storage},
    ssr::Storage,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::{net::SocketAddr, path::PathBuf, sync::Arc};

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
    /// believed for throttling; by default none, and the socket's peer is the client.
    #[arg(long, env = "REELSMITH_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// How long a claimed job stays this instance's without a heartbeat: a crashed
    /// instance's jobs are taken over by another after this long.
    #[arg(long, env = "REELSMITH_JOB_LEASE_SECS", default_value_t = 60)]
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

#[derive(Debug, Clone, Args)]
pub struct ProviderSettings {
    /// Key for an OpenAI-compatible chat API. Unset (and no base URL): the offline creative
    /// director guides the brief.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<String>,

    /// OpenAI-compatible endpoint (OpenRouter, Ollama, vLLM, ...). Setting it without a key
    /// uses a keyless server such as Ollama. [default: https://api.openai.com/v1]
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub openai_base_url: Option<String>,

    /// Chat model name.
    #[arg(long, env = "REELSMITH_LLM_MODEL", default_value = "gpt-4o-mini")]
    pub llm_model: String,

    /// Replicate API token; unset, media is made by the offline provider.
    #[arg(long, env = "REPLICATE_API_TOKEN", hide_env_values = true)]
    pub replicate_api_token: Option<String>,

    /// Replicate image model.
    #[arg(
        long,
        env = "REELSMITH_IMAGE_MODEL",
        default_value = "black-forest-labs/flux-schnell"
    )]
    pub image_model: String,

    /// Replicate image model for scenes that show the user's product: it takes the
    /// product's photo (`input_image`) and keeps the product as it is. A
    /// `multi-image` model (flux-kontext-apps/multi-image-kontext-pro) gets two photos.
    #[arg(
        long,
        env = "REELSMITH_PRODUCT_IMAGE_MODEL",
        default_value = "black-forest-labs/flux-kontext-pro"
    )]
    pub product_image_model: String,

    /// Replicate image-to-video model.
    #[arg(
        long,
        env = "REELSMITH_VIDEO_MODEL",
        default_value = "bytedance/seedance-1-pro-fast"
    )]
    pub video_model: String,

    /// Replicate music model.
    #[arg(long, env = "REELSMITH_MUSIC_MODEL", default_value = "meta/musicgen")]
    pub music_model: String,

    /// Replicate's API, or a proxy in front of it. [default: https://api.replicate.com/v1]
    #[arg(long, env = "REPLICATE_BASE_URL")]
    pub replicate_base_url: Option<String>,

    /// Prices of models, overriding or adding to the built-in table: `model=price` pairs
    /// separated by `;`, a price being `run:USD` (per prediction), `second:USD` (per second
    /// of output), `compute:USD_PER_SECOND:SECONDS_PER_UNIT` (billed by compute time) or
    /// `tokens:USD_IN:USD_OUT` (per million tokens). A configured model without a price
    /// stops the app from starting.
    #[arg(long, env = "REELSMITH_PRICES")]
    pub prices: Option<String>,

    /// Every account's monthly budget in US dollars, unless set for the account with
    /// `reelsmith accounts set-budget`. Work that would pass it is refused.
    #[arg(long, env = "REELSMITH_MONTHLY_BUDGET_USD", default_value_t = 20.0)]
    pub monthly_budget_usd: f64,

    /// Paid generations (images, clips, music, director calls) an account may ask for in
    /// any minute; past it, actions are refused with 429 and when to try again.
    #[arg(long, env = "REELSMITH_PAID_CALLS_PER_MINUTE", default_value_t = app::budget::ssr::PAID_CALLS_PER_MINUTE)]
    pub paid_calls_per_minute: i64,

    /// A scene image or clip that keeps less than this share (0–1) of the product photo
    /// counts as product drift: it is made again once, then waits for the user.
    #[arg(long, env = "REELSMITH_PRODUCT_DRIFT_BELOW", default_value_t = app::product::check::DRIFT_BELOW)]
    pub product_drift_below: f64,

    /// A vision-capable chat model (at the OpenAI-compatible endpoint) that judges whether
    /// scene images and clips still show the product, e.g. gpt-4o-mini. Unset: a pixel
    /// measure judges.
    #[arg(long, env = "REELSMITH_PRODUCT_JUDGE_MODEL")]
    pub product_judge_model: Option<String>,

    /// A speech model at the OpenAI-compatible endpoint (`POST /audio/speech`) for the
    /// voiceover, e.g. gpt-4o-mini-tts or tts-1. Unset: espeak-ng speaks on this machine
    /// (the offline preview).
    #[arg(long, env = "REELSMITH_SPEECH_MODEL")]
    pub speech_model: Option<String>,

    /// The clip lengths the video model makes, in whole seconds: a range (`3-10`) or a
    /// list (`5,10`). Scenes are fitted to them before a clip is asked for.
    #[arg(long, env = "REELSMITH_CLIP_LENGTHS", default_value = "3-10")]
    pub clip_lengths: String,
}

#[derive(Debug, Clone, Args)]
pub struct StorageSettings {
    /// Where generated assets are kept.
    #[arg(long = "storage", env = "REELSMITH_STORAGE", value_enum, default_value_t = StorageBackend::Local)]
    pub backend: StorageBackend,

    /// Secret (32+ characters) signing links to local files; instances sharing files must
    /// share it. Unset: one is made and kept in the data directory.
    #[arg(long, env = "REELSMITH_URL_SIGNING_KEY", hide_env_values = true)]
    pub url_signing_key: Option<String>,

    /// S3 bucket (with --storage s3).
    #[arg(long, env = "REELSMITH_S3_BUCKET")]
    pub s3_bucket: Option<String>,

    /// S3 region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// S3-compatible endpoint (MinIO, R2, ...); unset means AWS.
    #[arg(long, env = "REELSMITH_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Path-style S3 addressing, which most S3-compatible services need.
    #[arg(long, env = "REELSMITH_S3_PATH_STYLE", action = clap::ArgAction::Set, default_value_t = false)]
    pub s3_path_style: bool,

    /// S3 access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub aws_access_key_id: Option<String>,

    /// S3 secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub aws_secret_access_key: Option<String>,

    /// S3 session token, for temporary credentials.
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    pub aws_session_token: Option<String>,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            openai_api_key: None,
            openai_base_url: None,
            llm_model: "gpt-4o-mini".into(),
            replicate_api_token: None,
            image_model: "black-forest-labs/flux-schnell".into(),
            product_image_model: "black-forest-labs/flux-kontext-pro".into(),
            video_model: "bytedance/seedance-1-pro-fast".into(),
            music_model: "meta/musicgen".into(),
            replicate_base_url: None,
            prices: None,
            monthly_budget_usd: 20.0,
            paid_calls_per_minute: app::budget::ssr::PAID_CALLS_PER_MINUTE,
            product_drift_below: app::product::check::DRIFT_BELOW,
            product_judge_model: None,
            speech_model: None,
            clip_lengths: "3-10".into(),
        }
    }
}

pub struct ConfiguredStorage {
    pub storage: Arc<dyn Storage>,
    /// The local backend again, when it is the one in use: the app answers its links.
    pub local_files: Option<Arc<LocalStorage>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageBackend {
    /// Files under the data directory, served by the app through signed links.
    Local,
    /// An S3 bucket, read through presigned links.
    S3,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            url_signing_key: None,
            s3_bucket: None,
            s3_region: "us-east-1".into(),
            s3_endpoint: None,
            s3_path_style: false,
            aws_access_key_id: None,
            aws_secret_access_key: None,
            aws_session_token: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Settings {
    /// Replicate when a token is set, otherwise the offline provider.
    pub fn media_providers(&self) -> anyhow::Result<MediaProviders> {
        let work_dir = self.data_dir.join("work");
        let speech = self.speech(&work_dir.join("speech"))?;
        let clip_lengths = self.clip_lengths()?;
        let providers = &self.providers;
        match &providers.replicate_api_token {
            Some(token) => {
                let prices = self.prices()?;
                let mut settings = ReplicateSettings::new(token.clone(), work_dir);
                if let Some(base_url) = &providers.replicate_base_url {
                    settings.base_url = base_url.trim_end_matches('/').to_string();
                }
                settings.image_model = providers.image_model.clone();
                settings.product_image_model = providers.product_image_model.clone();
                settings.video_model = providers.video_model.clone();
                settings.music_model = providers.music_model.clone();
                settings.image_price = prices.price(&settings.image_model)?;
                settings.product_image_price = prices.price(&settings.product_image_model)?;
                settings.video_price = prices.price(&settings.video_model)?;
                settings.music_price = prices.price(&settings.music_model)?;
                let replicate = Arc::new(Replicate::new(settings)?);
                Ok(MediaProviders {
                    image: replicate.clone(),
                    video: replicate.clone(),
                    music: replicate,
                    speech,
                    clip_lengths,
                    offline: false,
                })
            }
            None => {
                let offline = Arc::new(OfflineMedia::new(std::path::absolute(work_dir)?)?);
                Ok(MediaProviders {
                    image: offline.clone(),
                    video: offline.clone(),
                    music: offline,
                    speech,
                    clip_lengths,
                    offline: true,
                })
            }
        }
    }

    /// The configured speech model, or espeak-ng.
    fn speech(&self, work_dir: &std::path::Path) -> anyhow::Result<Arc<dyn SpeechGenerator>> {
        let work_dir = std::path::absolute(work_dir)?;
        Ok(match &self.providers.speech_model {
            Some(model) => {
                anyhow::ensure!(
                    self.uses_llm(),
                    "REELSMITH_SPEECH_MODEL needs OPENAI_API_KEY or OPENAI_BASE_URL: \
                     the speech model is reached at the OpenAI-compatible endpoint"
                );
                Arc::new(OpenAiSpeech::new(
                    Arc::new(self.openai(model)?),
                    model.clone(),
                    work_dir,
                ))
            }
            None => Arc::new(EspeakSpeech::new(work_dir)),
        })
    }

    fn clip_lengths(&self) -> anyhow::Result<ClipLengths> {
        ClipLengths::parse(&self.providers.clip_lengths)
            .map_err(|error| anyhow::anyhow!("REELSMITH_CLIP_LENGTHS: {error}"))
    }

    fn prices(&self) -> anyhow::Result<PriceTable> {
        PriceTable::with_overrides(self.providers.prices.as_deref())
    }

    fn uses_llm(&self) -> bool {
        self.providers.openai_api_key.is_some() || self.providers.openai_base_url.is_some()
    }

    /// What the configured models cost, and the default monthly budget.
    pub fn spending(&self) -> anyhow::Result<Spending> {
        let providers = &self.providers;
        let budget = providers.monthly_budget_usd;
        anyhow::ensure!(
            budget.is_finite() && budget >= 0.0,
            "REELSMITH_MONTHLY_BUDGET_USD must be an amount of US dollars, not {budget}"
        );
        anyhow::ensure!(
            providers.paid_calls_per_minute > 0,
            "REELSMITH_PAID_CALLS_PER_MINUTE must be at least 1"
        );
        let mut spending = Spending::offline((budget * 1_000_000.0).round() as i64);
        spending.paid_calls_per_minute = providers.paid_calls_per_minute;
        let prices = self.prices()?;
        if providers.replicate_api_token.is_some() {
            let pricing = &mut spending.pricing;
            pricing.image = Priced::of(&prices, REPLICATE, &providers.image_model)?;
            pricing.product_image = Priced::of(&prices, REPLICATE, &providers.product_image_model)?;
            pricing.video = Priced::of(&prices, REPLICATE, &providers.video_model)?;
            pricing.music = Priced::of(&prices, REPLICATE, &providers.music_model)?;
        }
        if self.uses_llm() {
            spending.pricing.director = Priced::of(&prices, "openai", &providers.llm_model)?;
        }
        if let Some(model) = &providers.product_judge_model {
            spending.pricing.product_check = Priced::of(&prices, "openai", model)?;
        }
        if let Some(model) = &providers.speech_model {
            spending.pricing.speech = Priced::of(&prices, "openai", model)?;
        }
        Ok(spending)
    }

    /// The language model when a key or an endpoint is configured, otherwise the offline
    /// creative director.
    pub fn director(&self) -> anyhow::Result<Arc<dyn Director>> {
        let providers = &self.providers;
        if !self.uses_llm() {
            return Ok(Arc::new(OfflineDirector::new()));
        }
        let llm = self.openai(&providers.llm_model)?;
        Ok(Arc::new(LlmDirector::new(Arc::new(llm))))
    }

    /// `model` at the configured OpenAI-compatible endpoint.
    fn openai(&self, model: &str) -> anyhow::Result<OpenAiCompatible> {
        let providers = &self.providers;
        OpenAiCompatible::new(OpenAiSettings {
            base_url: providers
                .openai_base_url
                .clone()
                .unwrap_or_else(|| "https://api.openai.com/v1".into()),
            api_key: providers.openai_api_key.clone(),
            model: model.to_string(),
            request_timeout: std::time::Duration::from_secs(120),
            retry: RetryPolicy {
                max_attempts: 4,
                first_backoff: std::time::Duration::from_millis(500),
            },
        })
    }

    /// The configured storage backend.
    pub fn storage(&self) -> anyhow::Result<ConfiguredStorage> {
        let storage = &self.storage;
        match storage.backend {
            StorageBackend::Local => {
                let key =
                    LocalStorage::signing_key(storage.url_signing_key.as_deref(), &self.data_dir)?;
                let local = Arc::new(LocalStorage::new(self.data_dir.join("files"), key));
                Ok(ConfiguredStorage {
                    storage: local.clone(),
                    local_files: Some(local),
                })
            }
            StorageBackend::S3 => {
                let required = |value: &Option<String>, name: &str| {
                    value
                        .clone()
                        .with_context(|| format!("{name} must be set for S3 storage"))
                };
                let s3 = S3Storage::new(S3Settings {
                    bucket: required(&storage.s3_bucket, "REELSMITH_S3_BUCKET")?,
                    region: storage.s3_region.clone(),
                    endpoint: storage.s3_endpoint.clone(),
                    path_style: storage.s3_path_style,
                    access_key_id: required(&storage.aws_access_key_id, "AWS_ACCESS_KEY_ID")?,
                    secret_access_key: required(
                        &storage.aws_secret_access_key,
                        "AWS_SECRET_ACCESS_KEY",
                    )?,
                    session_token: storage.aws_session_token.clone(),
                });
                Ok(ConfiguredStorage {
                    storage: Arc::new(s3),
                    local_files: None,
                })
            }
        }
    }

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

    /// How scene media is checked for the product: the drift threshold, checked, and the
    /// vision model where one is configured.
    pub fn product_check(&self) -> anyhow::Result<ProductCheck> {
        let providers = &self.providers;
        let below = providers.product_drift_below;
        anyhow::ensure!(
            (0.0..=1.0).contains(&below),
            "REELSMITH_PRODUCT_DRIFT_BELOW must be between 0 and 1, not {below}"
        );
        let judge = match &providers.product_judge_model {
            None => None,
            Some(model) => {
                anyhow::ensure!(
                    self.uses_llm(),
                    "REELSMITH_PRODUCT_JUDGE_MODEL needs OPENAI_API_KEY or OPENAI_BASE_URL: \
                     the vision model is reached at the OpenAI-compatible endpoint"
                );
                let judge: Arc<dyn ProductJudge> = Arc::new(VisionJudge::new(self.openai(model)?));
                Some(judge)
            }
        };
        Ok(ProductCheck {
            drift_below: below,
            judge,
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
