//! Objects in an S3 bucket (AWS, MinIO, R2, ...), read through presigned GET links.

use super::ssr::{check_filename, check_prefix, ObjectKey, Storage};
use anyhow::Context;
use aws_sdk_s3::{
    config::{BehaviorVersion, Credentials, Region},
    presigning::PresigningConfig,
    primitives::ByteStream,
    Client,
};
use bytes::Bytes;
use std::{path::Path, time::Duration};

#[derive(Clone, Debug)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// For S3-compatible services; unset means AWS.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most non-AWS services need.
    pub path_style: bool,
    pub access_key_id: String,
    pub secret_access_key: crate::secret::Secret,
    pub session_token: Option<crate::secret::Secret>,
}

pub struct S3Storage {
    client: Client,
    bucket: String,
}

impl S3Storage {
    pub fn new(settings: S3Settings) -> Self {
        let credentials = Credentials::new(
            settings.access_key_id,
            settings.secret_access_key.expose(),
            settings
                .session_token
                .as_ref()
                .map(|token| token.expose().to_owned()),
            None,
            "reelsmith-settings",
        );
        use aws_smithy_http_client::tls;
        let https = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(https)
            .region(Region::new(settings.region))
            .credentials_provider(credentials)
            .force_path_style(settings.path_style);
        if let Some(endpoint) = settings.endpoint {
            config = config.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(config.build()),
            bucket: settings.bucket,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl S3Storage {
    /// A presigned GET, asking S3 to answer with `disposition` as Content-Disposition.
    async fn presign(
        &self,
        key: &ObjectKey,
        valid_for: Duration,
        disposition: Option<String>,
    ) -> anyhow::Result<String> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_response_content_disposition(disposition)
            .presigned(PresigningConfig::expires_in(valid_for)?)
            .await
            .with_context(|| format!("presigning {}", key.as_str()))?;
        Ok(request.uri().to_string())
    }
}

#[async_trait::async_trait]
impl Storage for S3Storage {
    async fn put_file(&self, key: &ObjectKey, path: &Path, mime: &str) -> anyhow::Result<u64> {
        let bytes = tokio::fs::metadata(path).await?.len();
        let body = ByteStream::from_path(path)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(mime)
            .body(body)
            .send()
            .await
            .with_context(|| format!("uploading {}", key.as_str()))?;
        Ok(bytes)
    }

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes, mime: &str) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(mime)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .with_context(|| format!("uploading {}", key.as_str()))?;
        Ok(())
    }

    async fn get_bytes(&self, key: &ObjectKey) -> anyhow::Result<Bytes> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .with_context(|| format!("downloading {}", key.as_str()))?;
        Ok(object.body.collect().await?.into_bytes())
    }

    async fn signed_url(&self, key: &ObjectKey, valid_for: Duration) -> anyhow::Result<String> {
        self.presign(key, valid_for, None).await
    }

    async fn download_url(
        &self,
        key: &ObjectKey,
        valid_for: Duration,
        filename: &str,
    ) -> anyhow::Result<String> {
        check_filename(filename)?;
        let disposition = format!("attachment; filename=\"{filename}\"");
        self.presign(key, valid_for, Some(disposition)).await
    }

    async fn delete(&self, key: &ObjectKey) -> anyhow::Result<()> {
        // S3 answers a deletion of a missing key with success too.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .with_context(|| format!("deleting {}", key.as_str()))?;
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> anyhow::Result<()> {
        check_prefix(prefix)?;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for object in page.context("listing objects to delete")?.contents() {
                if let Some(key) = object.key() {
                    self.client
                        .delete_object()
                        .bucket(&self.bucket)
                        .key(key)
                        .send()
                        .await
                        .with_context(|| format!("deleting {key}"))?;
                }
            }
        }
        Ok(())
    }
}
