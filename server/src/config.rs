//! Settings, from the command line or the environment (and `.env`).

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Settings {
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.site_addr))
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url().starts_with("https://")
    }
}
