//! Objects as files under a directory, read through links signed with HMAC-SHA256
//! that expire. The server answers those links at `/files/<key>` (see `server::http`).

use super::ssr::{check_filename, check_prefix, is_safe_filename, ObjectKey, Storage};
use anyhow::Context;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::{
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

pub const URL_PREFIX: &str = "/files/";

pub struct LocalStorage {
    root: PathBuf,
    signing_key: Vec<u8>,
}

/// Why a link to a local file was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    #[error("this link has expired")]
    Expired,
    #[error("this link is not valid")]
    Invalid,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// When a link made now for `valid_for` stops working (at least a second from now).
fn expiry(valid_for: Duration) -> u64 {
    unix_now() + valid_for.as_secs().max(1)
}

impl LocalStorage {
    pub fn new(root: impl Into<PathBuf>, signing_key: Vec<u8>) -> Self {
        Self {
            root: root.into(),
            signing_key,
        }
    }

    /// The key from `REELSMITH_URL_SIGNING_KEY` if set (instances sharing files must share
    /// it), else one kept in `<dir>/url-signing.key`, made on first use.
    pub fn signing_key(configured: Option<&str>, dir: &Path) -> anyhow::Result<Vec<u8>> {
        if let Some(key) = configured {
            anyhow::ensure!(
                key.len() >= 32,
                "REELSMITH_URL_SIGNING_KEY must be at least 32 characters"
            );
            return Ok(key.as_bytes().to_vec());
        }
        let path = dir.join("url-signing.key");
        if let Ok(existing) = std::fs::read(&path) {
            if existing.len() >= 32 {
                return Ok(existing);
            }
        }
        std::fs::create_dir_all(dir)?;
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        let text = hex(&key);
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            file.write_all(text.as_bytes())?;
        }
        Ok(text.into_bytes())
    }

    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// The MAC of a link: the key, its expiry and any download name, under our secret.
    fn mac(&self, key: &str, expires: u64, download: Option<&str>) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.signing_key)
            .expect("HMAC takes keys of any length");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        if let Some(name) = download {
            mac.update(b"\ndownload=");
            mac.update(name.as_bytes());
        }
        mac
    }

    pub fn link(&self, key: &ObjectKey, expires: u64) -> String {
        self.link_with(key, expires, None)
    }

    /// A link whose response is an attachment named `download` (already checked safe).
    fn link_with(&self, key: &ObjectKey, expires: u64, download: Option<&str>) -> String {
        let signature = URL_SAFE_NO_PAD.encode(
            self.mac(key.as_str(), expires, download)
                .finalize()
                .into_bytes(),
        );
        let mut link = format!(
            "{URL_PREFIX}{}?expires={expires}&signature={signature}",
            key.as_str()
        );
        if let Some(name) = download {
            link.push_str("&download=");
            link.push_str(name);
        }
        link
    }

    /// Checks a link's key, expiry, download name and signature (compared in constant
    /// time).
    pub fn verify(
        &self,
        key: &str,
        expires: u64,
        signature: &str,
        download: Option<&str>,
    ) -> Result<ObjectKey, LinkRefused> {
        let key = ObjectKey::parse(key).map_err(|_| LinkRefused::Invalid)?;
        if download.is_some_and(|name| !is_safe_filename(name)) {
            return Err(LinkRefused::Invalid);
        }
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkRefused::Invalid)?;
        self.mac(key.as_str(), expires, download)
            .verify_slice(&given)
            .map_err(|_| LinkRefused::Invalid)?;
        if expires < unix_now() {
            return Err(LinkRefused::Expired);
        }
        Ok(key)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl LocalStorage {
    /// Where `key` goes, and a temporary name beside it: written first, then renamed, so
    /// that a reader never sees half a file.
    async fn destination(&self, key: &ObjectKey) -> anyhow::Result<(PathBuf, PathBuf)> {
        let target = self.path_of(key);
        let folder = target.parent().context("object path has a folder")?;
        tokio::fs::create_dir_all(folder).await?;
        let partial = folder.join(format!(".{}.partial", uuid::Uuid::new_v4()));
        Ok((target, partial))
    }
}

#[async_trait::async_trait]
impl Storage for LocalStorage {
    async fn put_file(&self, key: &ObjectKey, path: &Path, _mime: &str) -> anyhow::Result<u64> {
        let (target, partial) = self.destination(key).await?;
        let bytes = tokio::fs::copy(path, &partial)
            .await
            .with_context(|| format!("copying {} into storage", path.display()))?;
        tokio::fs::rename(&partial, &target).await?;
        Ok(bytes)
    }

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes, _mime: &str) -> anyhow::Result<()> {
        let (target, partial) = self.destination(key).await?;
        tokio::fs::write(&partial, &bytes).await?;
        tokio::fs::rename(&partial, &target).await?;
        Ok(())
    }

    async fn get_bytes(&self, key: &ObjectKey) -> anyhow::Result<Bytes> {
        let path = self.path_of(key);
        Ok(tokio::fs::read(&path)
            .await
            .with_context(|| format!("reading {}", path.display()))?
            .into())
    }

    async fn signed_url(&self, key: &ObjectKey, valid_for: Duration) -> anyhow::Result<String> {
        Ok(self.link(key, expiry(valid_for)))
    }

    async fn download_url(
        &self,
        key: &ObjectKey,
        valid_for: Duration,
        filename: &str,
    ) -> anyhow::Result<String> {
        check_filename(filename)?;
        Ok(self.link_with(key, expiry(valid_for), Some(filename)))
    }

    async fn delete(&self, key: &ObjectKey) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> anyhow::Result<()> {
        check_prefix(prefix)?;
        match tokio::fs::remove_dir_all(self.root.join(prefix)).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage() -> (LocalStorage, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (LocalStorage::new(dir.path(), b"k".repeat(32)), dir)
    }

    fn parts(link: &str) -> (String, u64, String) {
        let (path, query) = link.split_once('?').unwrap();
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("expires", value) => expires = value.parse().unwrap(),
                ("signature", value) => signature = value.to_string(),
                ("download", _) => {}
                _ => panic!("unexpected query part {pair}"),
            }
        }
        (
            path.strip_prefix(URL_PREFIX).unwrap().to_string(),
            expires,
            signature,
        )
    }

    #[tokio::test]
    async fn a_signed_link_opens_its_object_until_it_expires() {
        let (storage, _dir) = storage();
        let key = ObjectKey::parse("users/a/projects/b/image/c.png").unwrap();
        storage
            .put_bytes(&key, Bytes::from_static(b"png"), "image/png")
            .await
            .unwrap();

        let link = storage
            .signed_url(&key, Duration::from_secs(60))
            .await
            .unwrap();
        let (path, expires, signature) = parts(&link);
        assert_eq!(
            storage.verify(&path, expires, &signature, None),
            Ok(key.clone())
        );
        assert_eq!(std::fs::read(storage.path_of(&key)).unwrap(), b"png");

        let stale = storage.link(&key, unix_now() - 1);
        let (path, expires, signature) = parts(&stale);
        assert_eq!(
            storage.verify(&path, expires, &signature, None),
            Err(LinkRefused::Expired)
        );
    }

    #[tokio::test]
    async fn a_tampered_link_is_refused() {
        let (storage, _dir) = storage();
        let key = ObjectKey::parse("users/a/projects/b/image/c.png").unwrap();
        let (path, expires, signature) = parts(&storage.link(&key, unix_now() + 60));

        let other_key = path.replace("c.png", "d.png");
        assert_eq!(
            storage.verify(&other_key, expires, &signature, None),
            Err(LinkRefused::Invalid)
        );
        assert_eq!(
            storage.verify(&path, expires + 3600, &signature, None),
            Err(LinkRefused::Invalid)
        );
        assert_eq!(
            storage.verify(&path, expires, "AAAA", None),
            Err(LinkRefused::Invalid)
        );
        assert_eq!(
            storage.verify("../etc/passwd", expires, &signature, None),
            Err(LinkRefused::Invalid)
        );
        let other_secret = LocalStorage::new("/nowhere", b"x".repeat(32));
        assert_eq!(
            other_secret.verify(&path, expires, &signature, None),
            Err(LinkRefused::Invalid)
        );
    }

    #[tokio::test]
    async fn deleting_a_project_prefix_removes_its_files_only() {
        let (storage, _dir) = storage();
        let keep = ObjectKey::parse("users/a/projects/keep/image/1.png").unwrap();
        let gone = ObjectKey::parse("users/a/projects/gone/video/2.mp4").unwrap();
        for key in [&keep, &gone] {
            storage
                .put_bytes(key, Bytes::from_static(b"x"), "x")
                .await
                .unwrap();
        }
        storage
            .delete_prefix("users/a/projects/gone/")
            .await
            .unwrap();
        storage
            .delete_prefix("users/a/projects/never-existed/")
            .await
            .unwrap();
        assert!(storage.get_bytes(&gone).await.is_err());
        assert_eq!(
            storage.get_bytes(&keep).await.unwrap(),
            Bytes::from_static(b"x")
        );
    }

    #[test]
    fn the_signing_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalStorage::signing_key(None, dir.path()).unwrap();
        let second = LocalStorage::signing_key(None, dir.path()).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        assert!(LocalStorage::signing_key(Some("too short"), dir.path()).is_err());
    }

    #[tokio::test]
    async fn a_download_link_names_its_file_and_the_name_cannot_be_swapped() {
        let (storage, _dir) = storage();
        let key = ObjectKey::parse("users/a/projects/b/video/c.mp4").unwrap();
        let link = storage
            .download_url(&key, Duration::from_secs(60), "lumen-launch-v2.mp4")
            .await
            .unwrap();
        assert!(link.ends_with("&download=lumen-launch-v2.mp4"), "{link}");
        let (path, expires, signature) = parts(&link);
        assert_eq!(
            storage.verify(&path, expires, &signature, Some("lumen-launch-v2.mp4")),
            Ok(key.clone())
        );
        for other in [None, Some("evil.exe"), Some("x\r\nSet-Cookie: a=b")] {
            assert_eq!(
                storage.verify(&path, expires, &signature, other),
                Err(LinkRefused::Invalid),
                "{other:?}"
            );
        }
        assert!(storage
            .download_url(&key, Duration::from_secs(60), "a\"b.mp4")
            .await
            .is_err());
    }
}
