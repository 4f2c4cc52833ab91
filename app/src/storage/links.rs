//! Links to stored objects for pages and events: signed so that they expire, and made
//! afresh each time a page or an event is sent.

use super::ssr::{ObjectKey, Storage};
use std::time::Duration;

/// How long links in pages and events stay valid.
pub const LINK_LIFETIME: Duration = Duration::from_secs(6 * 3600);
/// A link to a stored object, or none when the key is unusable (logged).
pub async fn link(storage: &dyn Storage, key: &str) -> Option<String> {
    sign(storage, key, None).await
}

/// A link that saves a stored object as `filename`, or none when that fails (logged).
pub async fn download_link(storage: &dyn Storage, key: &str, filename: &str) -> Option<String> {
    sign(storage, key, Some(filename)).await
}

async fn sign(storage: &dyn Storage, key: &str, download: Option<&str>) -> Option<String> {
    let key = ObjectKey::parse(key).ok()?;
    let signed = match download {
        None => storage.signed_url(&key, LINK_LIFETIME).await,
        Some(filename) => storage.download_url(&key, LINK_LIFETIME, filename).await,
    };
    match signed {
        Ok(url) => Some(url),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "could not sign a link");
            None
        }
    }
}
