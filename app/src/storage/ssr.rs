//! The storage interface, object keys and the `assets` table.

use super::AssetKind;
use anyhow::{bail, Context};
use bytes::Bytes;
use std::{path::Path, time::Duration};
use uuid::Uuid;

/// A validated object key: `users/<user>/projects/<project>/<kind>/<asset>.<ext>`, or any
/// other path of lower-case letters, digits, `-`, `_`, `.` segments without `..`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn for_asset(
        user: Uuid,
        project: Uuid,
        kind: AssetKind,
        asset: Uuid,
        extension: &str,
    ) -> Self {
        Self(format!(
            "users/{user}/projects/{project}/{}/{asset}.{extension}",
            kind.as_str()
        ))
    }

    /// An asset of the account rather than of one project (a brand kit's logo or font).
    pub fn for_account_asset(user: Uuid, kind: AssetKind, asset: Uuid, extension: &str) -> Self {
        Self(format!(
            "users/{user}/brand/{}/{asset}.{extension}",
            kind.as_str()
        ))
    }

    /// Everything stored for one project.
    pub fn project_prefix(user: Uuid, project: Uuid) -> String {
        format!("users/{user}/projects/{project}/")
    }

    pub fn parse(key: &str) -> anyhow::Result<Self> {
        let valid_segment = |segment: &str| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        };
        if key.len() > 512 || !key.split('/').all(valid_segment) {
            bail!("not a valid object key: {key:?}");
        }
        Ok(Self(key.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file extension, from which the content type of local files is served.
    pub fn extension(&self) -> Option<&str> {
        self.0.rsplit_once('.').map(|(_, extension)| extension)
    }
}

/// The content type for a file extension we store.
pub fn mime_for_extension(extension: &str) -> &'static str {
    match extension {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "json" => "application/json",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        _ => "application/octet-stream",
    }
}

/// A place to keep objects and hand out expiring links to them.
#[async_trait::async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Stores a file under `key`, replacing any object there. Returns its size in bytes.
    async fn put_file(&self, key: &ObjectKey, path: &Path, mime: &str) -> anyhow::Result<u64>;

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes, mime: &str) -> anyhow::Result<()>;

    async fn get_bytes(&self, key: &ObjectKey) -> anyhow::Result<Bytes>;

    /// A URL that reads the object until `valid_for` has passed. Supports Range requests.
    async fn signed_url(&self, key: &ObjectKey, valid_for: Duration) -> anyhow::Result<String>;

    /// Like [`Storage::signed_url`], but the response asks the browser to save the object
    /// as `filename` (`Content-Disposition: attachment`). The `download` attribute alone
    /// is ignored on links to another origin, such as a bucket. `filename` must pass
    /// [`is_safe_filename`].
    async fn download_url(
        &self,
        key: &ObjectKey,
        valid_for: Duration,
        filename: &str,
    ) -> anyhow::Result<String>;

    /// Deletes one object; deleting one that is not there succeeds.
    async fn delete(&self, key: &ObjectKey) -> anyhow::Result<()>;

    /// Deletes every object whose key starts with `prefix` (which must end in `/`).
    async fn delete_prefix(&self, prefix: &str) -> anyhow::Result<()>;
}

/// A file name that needs no quoting in a header: 1–120 of `A-Z a-z 0-9 . _ -`, not
/// starting with a dot.
pub fn is_safe_filename(name: &str) -> bool {
    (1..=120).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

pub(crate) fn check_filename(name: &str) -> anyhow::Result<()> {
    if !is_safe_filename(name) {
        bail!("not a safe download file name: {name:?}");
    }
    Ok(())
}

pub(crate) fn check_prefix(prefix: &str) -> anyhow::Result<()> {
    if !prefix.ends_with('/') {
        bail!("a prefix to delete must end with '/': {prefix:?}");
    }
    ObjectKey::parse(prefix.trim_end_matches('/')).context("prefix to delete")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_keys_are_organised_per_user_project_and_kind() {
        let (user, project, asset) = (Uuid::nil(), Uuid::max(), Uuid::nil());
        let key = ObjectKey::for_asset(user, project, AssetKind::Video, asset, "mp4");
        assert_eq!(
            key.as_str(),
            format!("users/{user}/projects/{project}/video/{asset}.mp4")
        );
        assert!(ObjectKey::parse(key.as_str()).is_ok());
        assert!(key
            .as_str()
            .starts_with(&ObjectKey::project_prefix(user, project)));
    }

    #[test]
    fn keys_that_could_escape_or_confuse_are_refused() {
        for key in [
            "../etc/passwd",
            "a//b",
            "/abs",
            "a/./b",
            "Upper/case",
            "a b",
            "a/..",
            "",
            "x\\y",
        ] {
            assert!(ObjectKey::parse(key).is_err(), "{key:?} accepted");
        }
    }

    #[test]
    fn deleting_needs_a_folder_prefix() {
        assert!(check_prefix("users/1/projects/2/").is_ok());
        assert!(check_prefix("users/1/projects/2").is_err());
        assert!(check_prefix("/").is_err());
    }
}

/// What is known of a new asset before it is stored.
#[derive(Clone, Debug)]
pub struct NewAsset {
    pub owner: Uuid,
    pub project: Uuid,
    pub kind: AssetKind,
    pub extension: &'static str,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i32>,
    pub provider: String,
    pub prediction_id: Option<String>,
    pub prompt: Option<String>,
    pub cost_microusd: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAsset {
    pub id: Uuid,
    pub key: ObjectKey,
    pub mime: &'static str,
    pub bytes: i64,
}

/// Copies a file into storage, then records it in `assets`. Only after both may anything
/// refer to the asset; an object without a row (a crash in between) is never linked to.
pub async fn store_asset(
    pool: &sqlx::PgPool,
    storage: &dyn Storage,
    asset: NewAsset,
    file: &Path,
) -> anyhow::Result<StoredAsset> {
    let id = Uuid::new_v4();
    let key = ObjectKey::for_asset(asset.owner, asset.project, asset.kind, id, asset.extension);
    let mime = mime_for_extension(asset.extension);
    let bytes = i64::try_from(storage.put_file(&key, file, mime).await?)?;
    sqlx::query!(
        "INSERT INTO assets (id, owner_id, project_id, kind, storage_key, mime, bytes, width, height,
                             duration_ms, provider, prediction_id, prompt, cost_microusd)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        id,
        asset.owner,
        asset.project,
        asset.kind.as_str(),
        key.as_str(),
        mime,
        bytes,
        asset.width,
        asset.height,
        asset.duration_ms,
        asset.provider,
        asset.prediction_id,
        asset.prompt,
        asset.cost_microusd
    )
    .execute(pool)
    .await
    .context("recording the asset")?;
    Ok(StoredAsset {
        id,
        key,
        mime,
        bytes,
    })
}

/// Deletes the files under `keys` (their rows already gone). A file left behind costs
/// storage, not correctness: logged, not shown.
pub async fn delete_files(storage: &dyn Storage, keys: Vec<String>) {
    for key in keys {
        let Ok(key) = ObjectKey::parse(&key) else {
            continue;
        };
        if let Err(error) = storage.delete(&key).await {
            tracing::warn!(
                error = format!("{error:#}"),
                key = key.as_str(),
                "could not delete a file"
            );
        }
    }
}
