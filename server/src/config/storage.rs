//! Where files are kept: local disk under the data directory, or an S3 bucket.

use super::Settings;
use anyhow::Context;
use app::secret::Secret;
use app::storage::{
    local::LocalStorage,
    s3::{S3Settings, S3Storage},
    ssr::Storage,
};
use clap::{Args, ValueEnum};
use std::sync::Arc;

#[derive(Debug, Clone, Args)]
pub struct StorageSettings {
    /// Where generated assets are kept.
    #[arg(long = "storage", env = "REELSMITH_STORAGE", value_enum, default_value_t = StorageBackend::Local)]
    pub backend: StorageBackend,

    /// Secret (32+ characters) signing links to local files; instances sharing files must
    /// share it. Unset: one is made and kept in the data directory.
    #[arg(long, env = "REELSMITH_URL_SIGNING_KEY", hide_env_values = true)]
    pub url_signing_key: Option<Secret>,

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
    pub aws_access_key_id: Option<Secret>,

    /// S3 secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub aws_secret_access_key: Option<Secret>,

    /// S3 session token, for temporary credentials.
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    pub aws_session_token: Option<Secret>,
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

impl Settings {
    /// The configured storage backend.
    pub fn storage(&self) -> anyhow::Result<ConfiguredStorage> {
        let storage = &self.storage;
        match storage.backend {
            StorageBackend::Local => {
                let key = LocalStorage::signing_key(
                    storage.url_signing_key.as_ref().map(Secret::expose),
                    &self.data_dir,
                )?;
                let local = Arc::new(LocalStorage::new(self.data_dir.join("files"), key));
                Ok(ConfiguredStorage {
                    storage: local.clone(),
                    local_files: Some(local),
                })
            }
            StorageBackend::S3 => {
                fn required<T: Clone>(value: &Option<T>, name: &str) -> anyhow::Result<T> {
                    value
                        .clone()
                        .with_context(|| format!("{name} must be set for S3 storage"))
                }
                let s3 = S3Storage::new(S3Settings {
                    bucket: required(&storage.s3_bucket, "REELSMITH_S3_BUCKET")?,
                    region: storage.s3_region.clone(),
                    endpoint: storage.s3_endpoint.clone(),
                    path_style: storage.s3_path_style,
                    access_key_id: required(&storage.aws_access_key_id, "AWS_ACCESS_KEY_ID")?
                        .expose()
                        .to_owned(),
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
}
