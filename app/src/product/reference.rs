//! The product's photos as a scene's image generation takes them: the main photo (and its
//! cut-out) copied next to the job's other files, and links a provider can fetch.

use crate::{
    generation::ssr::ProductReference,
    storage::ssr::{ObjectKey, Storage},
};
use anyhow::Context;
use std::{path::Path, time::Duration};
use uuid::Uuid;

/// How long a provider may take to fetch a photo: a prediction can wait in Replicate's
/// queue before it starts, and the photo must still be there when it does.
const LINK_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Where a project's photos are kept: the main one first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoKeys {
    pub main: ObjectKey,
    pub cutout: Option<ObjectKey>,
    /// The other photos, oldest first.
    pub others: Vec<ObjectKey>,
}

/// Whether the project has product photos (its product scenes are then made from them).
pub async fn has_photos(db: impl sqlx::PgExecutor<'_>, project: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM product_photos WHERE project_id = $1) AS "exists!""#,
        project
    )
    .fetch_one(db)
    .await
}

/// The keys of the project's photos, if it has any.
pub async fn photo_keys(
    db: impl sqlx::PgExecutor<'_>,
    project: Uuid,
) -> anyhow::Result<Option<PhotoKeys>> {
    let rows = sqlx::query!(
        r#"SELECT a.storage_key, c.storage_key AS "cutout_key?"
           FROM product_photos p
           JOIN assets a ON a.id = p.asset_id
           LEFT JOIN assets c ON c.id = p.cutout_asset_id
           WHERE p.project_id = $1
           ORDER BY p.main DESC, p.created_at, p.asset_id"#,
        project
    )
    .fetch_all(db)
    .await?;
    let mut rows = rows.into_iter();
    let Some(main) = rows.next() else {
        return Ok(None);
    };
    Ok(Some(PhotoKeys {
        main: ObjectKey::parse(&main.storage_key)?,
        cutout: main
            .cutout_key
            .as_deref()
            .map(ObjectKey::parse)
            .transpose()?,
        others: rows
            .map(|row| ObjectKey::parse(&row.storage_key))
            .collect::<anyhow::Result<_>>()?,
    }))
}

/// Copies the photos a generation needs into `dir` and makes links to them for providers
/// that fetch their inputs. Links of local storage are paths of this app: they are only
/// made absolute (and sent) when `public_url` says where the app is reached.
pub async fn reference(
    storage: &dyn Storage,
    keys: &PhotoKeys,
    public_url: Option<&str>,
    dir: &Path,
) -> anyhow::Result<ProductReference> {
    let copy = |key: ObjectKey, name: &'static str| async move {
        let bytes = storage.get_bytes(&key).await?;
        let path = dir.join(format!("{name}.{}", key.extension().unwrap_or("png")));
        tokio::fs::write(&path, &bytes)
            .await
            .with_context(|| format!("copying the product's {name}"))?;
        anyhow::Ok(path)
    };
    let photo = copy(keys.main.clone(), "photo").await?;
    let cutout = match &keys.cutout {
        Some(key) => Some(copy(key.clone(), "cutout").await?),
        None => None,
    };
    let mut urls = Vec::new();
    for key in std::iter::once(&keys.main).chain(&keys.others) {
        let link = storage.signed_url(key, LINK_LIFETIME).await?;
        match absolute(&link, public_url) {
            Some(url) => urls.push(url),
            None => {
                urls.clear();
                break;
            }
        }
    }
    Ok(ProductReference {
        photo,
        cutout,
        urls,
    })
}

/// `link` as a URL someone outside can fetch, if it is one or `public_url` makes it one.
fn absolute(link: &str, public_url: Option<&str>) -> Option<String> {
    if link.starts_with("https://") || link.starts_with("http://") {
        return Some(link.to_string());
    }
    let base = public_url?.trim_end_matches('/');
    link.starts_with('/').then(|| format!("{base}{link}"))
}

#[cfg(test)]
mod tests {
    use super::absolute;

    #[test]
    fn local_links_become_absolute_only_with_a_public_address() {
        let link = "/files/users/a/photo/b.jpg?expires=1&signature=s";
        assert_eq!(absolute(link, None), None);
        assert_eq!(
            absolute(link, Some("https://reelsmith.example/")).as_deref(),
            Some("https://reelsmith.example/files/users/a/photo/b.jpg?expires=1&signature=s")
        );
        let presigned = "https://bucket.s3.example/key?X-Amz-Signature=s";
        assert_eq!(absolute(presigned, None).as_deref(), Some(presigned));
    }
}
