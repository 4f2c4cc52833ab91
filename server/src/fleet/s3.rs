//! The fleet's bucket: s3s-fs, an S3-compatible server keeping objects in a folder, run
//! as a process of its own and reached over HTTP with signed requests, as a real bucket
//! is. `.ci/setup.sh` installs its binary (`cargo install s3s-fs --features binary`).

use super::{free_port, Process};
use crate::config::{StorageBackend, StorageSettings};
use anyhow::Context;
use std::path::{Path, PathBuf};

pub const BUCKET: &str = "reelsmith-fleet";
pub const ACCESS_KEY: &str = "reelsmith-fleet";

pub struct S3Server {
    process: Process,
    pub endpoint: String,
    pub secret_key: String,
}

impl S3Server {
    /// Starts s3s-fs on a free loopback port with an empty bucket in `root`.
    pub async fn start(root: &Path) -> anyhow::Result<Self> {
        // s3s-fs keeps a bucket as a folder of its root.
        std::fs::create_dir_all(root.join(BUCKET)).context("making the bucket's folder")?;
        let port = free_port()?;
        let secret_key = uuid::Uuid::new_v4().simple().to_string();
        let mut command = tokio::process::Command::new(binary()?);
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", &secret_key])
            .arg(root)
            .env("RUST_LOG", "warn");
        let process =
            Process::serving("s3s-fs", command, &root.with_extension("log"), port).await?;
        Ok(Self {
            process,
            endpoint: format!("http://127.0.0.1:{port}"),
            secret_key,
        })
    }

    /// The settings that make an instance keep its files in this bucket.
    pub fn settings(&self) -> Vec<(String, String)> {
        [
            ("REELSMITH_STORAGE", "s3"),
            ("REELSMITH_S3_BUCKET", BUCKET),
            ("REELSMITH_S3_ENDPOINT", &self.endpoint),
            ("REELSMITH_S3_PATH_STYLE", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", &self.secret_key),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
    }

    /// The same, for an app built in this process (a test looking into the bucket).
    pub fn storage_settings(&self, url_signing_key: &str) -> StorageSettings {
        StorageSettings {
            backend: StorageBackend::S3,
            url_signing_key: Some(url_signing_key.into()),
            s3_bucket: Some(BUCKET.into()),
            s3_endpoint: Some(self.endpoint.clone()),
            s3_path_style: true,
            aws_access_key_id: Some(ACCESS_KEY.into()),
            aws_secret_access_key: Some(self.secret_key.as_str().into()),
            ..StorageSettings::default()
        }
    }

    pub async fn stop(self) {
        self.process.stop().await;
    }
}

/// `s3s-fs` on the PATH or where `cargo install` puts it.
fn binary() -> anyhow::Result<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(std::env::var_os("CARGO_HOME").map(|home| PathBuf::from(home).join("bin")))
        .chain(std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin")));
    candidates
        .map(|dir| dir.join("s3s-fs"))
        .find(|path| path.is_file())
        .context(
            "the s3s-fs server was not found: `bash .ci/setup.sh test` installs it \
             (cargo install s3s-fs --version 0.14.1 --features binary --locked)",
        )
}
