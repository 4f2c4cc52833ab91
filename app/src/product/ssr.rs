//! The product photos of a project: kept through `Storage` with an `assets` row each,
//! listed with fresh links, one of them the main photo, copied with the project.

use super::{ProductPhoto, MAX_PHOTOS};
use crate::{
    error::AppError,
    storage::{
        links::link,
        ssr::{mime_for_extension, ObjectKey, Storage},
        AssetKind,
    },
};
use bytes::Bytes;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

fn project_not_found() -> AppError {
    AppError::not_found("Project")
}

fn photo_not_found() -> AppError {
    AppError::not_found("Photo")
}

fn full() -> AppError {
    AppError::Conflict(format!(
        "A project can have at most {MAX_PHOTOS} product photos: delete one first."
    ))
}

/// An encoded image about to be kept.
pub struct NewImage {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Refuses early, before a large body is read: the project must be the caller's and
/// have room for another photo. Checked again when the photo is added.
pub async fn check_room(pool: &PgPool, owner: Uuid, project: Uuid) -> Result<(), AppError> {
    let count = sqlx::query_scalar!(
        r#"SELECT (SELECT count(*) FROM product_photos WHERE project_id = p.id) AS "count!"
           FROM projects p WHERE p.id = $1 AND p.owner_id = $2"#,
        project,
        owner
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(project_not_found)?;
    if count as usize >= MAX_PHOTOS {
        return Err(full());
    }
    Ok(())
}

/// Locks the caller's project for a change to its photos (every such change takes this
/// lock first, so the count and the main photo cannot race).
async fn lock_project(
    tx: &mut Transaction<'_, Postgres>,
    owner: Uuid,
    project: Uuid,
) -> Result<(), AppError> {
    sqlx::query_scalar!(
        "SELECT id FROM projects WHERE id = $1 AND owner_id = $2 FOR UPDATE",
        project,
        owner
    )
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(project_not_found)?;
    Ok(())
}

async fn insert_asset(
    tx: &mut Transaction<'_, Postgres>,
    owner: Uuid,
    project: Uuid,
    id: Uuid,
    key: &ObjectKey,
    image: &NewImage,
) -> Result<(), AppError> {
    sqlx::query!(
        "INSERT INTO assets (id, owner_id, project_id, kind, storage_key, mime, bytes, width, height, provider)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'upload')",
        id,
        owner,
        project,
        AssetKind::Photo.as_str(),
        key.as_str(),
        mime_for_extension(image.extension),
        image.bytes.len() as i64,
        image.width as i32,
        image.height as i32,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores an object, then returns its key; on failure nothing is kept.
async fn put(
    storage: &dyn Storage,
    owner: Uuid,
    project: Uuid,
    id: Uuid,
    image: &NewImage,
) -> Result<ObjectKey, AppError> {
    let key = ObjectKey::for_asset(owner, project, AssetKind::Photo, id, image.extension);
    storage
        .put_bytes(
            &key,
            Bytes::from(image.bytes.clone()),
            mime_for_extension(image.extension),
        )
        .await
        .map_err(|error| {
            tracing::error!(
                error = format!("{error:#}"),
                "could not store a product photo"
            );
            AppError::Internal
        })?;
    Ok(key)
}

/// Deletes stored objects whose rows are gone or were never made; a failure is logged
/// (the project's files are swept again when it is deleted).
async fn forget(storage: &dyn Storage, keys: &[ObjectKey]) {
    for key in keys {
        if let Err(error) = storage.delete(key).await {
            tracing::warn!(
                key = key.as_str(),
                error = format!("{error:#}"),
                "could not delete a stored photo"
            );
        }
    }
}

/// Keeps a checked photo (and its cut-out) for the project; the first photo becomes the
/// main one. The files are stored first and the rows written after, so a photo is
/// never listed without its file; when the rows cannot be written the files go again.
#[tracing::instrument(name = "product::add_photo", skip_all, fields(user = %owner, project = %project))]
pub async fn add(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Uuid,
    file_name: &str,
    photo: NewImage,
    cutout: Option<NewImage>,
) -> Result<Uuid, AppError> {
    let id = Uuid::new_v4();
    let cutout_id = Uuid::new_v4();
    let mut keys = vec![put(storage, owner, project, id, &photo).await?];
    if let Some(cutout) = &cutout {
        match put(storage, owner, project, cutout_id, cutout).await {
            Ok(key) => keys.push(key),
            Err(error) => {
                forget(storage, &keys).await;
                return Err(error);
            }
        }
    }
    let recorded = async {
        let mut tx = pool.begin().await?;
        lock_project(&mut tx, owner, project).await?;
        let count = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM product_photos WHERE project_id = $1"#,
            project
        )
        .fetch_one(&mut *tx)
        .await?;
        if count as usize >= MAX_PHOTOS {
            return Err(full());
        }
        insert_asset(&mut tx, owner, project, id, &keys[0], &photo).await?;
        let cutout_id = match (&cutout, keys.get(1)) {
            (Some(cutout), Some(key)) => {
                insert_asset(&mut tx, owner, project, cutout_id, key, cutout).await?;
                Some(cutout_id)
            }
            _ => None,
        };
        sqlx::query!(
            "INSERT INTO product_photos (asset_id, project_id, cutout_asset_id, file_name, main)
             VALUES ($1, $2, $3, $4,
                     NOT EXISTS (SELECT 1 FROM product_photos WHERE project_id = $2 AND main))",
            id,
            project,
            cutout_id,
            file_name
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    if let Err(error) = recorded {
        forget(storage, &keys).await;
        return Err(error);
    }
    tracing::info!(project_id = %project, photo = %id, cut_out = cutout.is_some(), "product photo added");
    Ok(id)
}

/// A photo as stored: its row, its asset's and its cut-out's.
struct PhotoRow {
    asset_id: Uuid,
    file_name: String,
    main: bool,
    created_at: time::OffsetDateTime,
    storage_key: String,
    bytes: i64,
    width: i32,
    height: i32,
    cutout_key: Option<String>,
    cutout_width: Option<i32>,
    cutout_height: Option<i32>,
}

/// The project's photos as stored, oldest first.
async fn photo_rows(
    db: impl sqlx::PgExecutor<'_>,
    project: Uuid,
) -> Result<Vec<PhotoRow>, AppError> {
    Ok(sqlx::query_as!(
        PhotoRow,
        r#"SELECT p.asset_id, p.file_name, p.main, p.created_at,
                  a.storage_key, a.bytes, a.width AS "width!", a.height AS "height!",
                  c.storage_key AS "cutout_key?", c.width AS "cutout_width?",
                  c.height AS "cutout_height?"
           FROM product_photos p
           JOIN assets a ON a.id = p.asset_id
           LEFT JOIN assets c ON c.id = p.cutout_asset_id
           WHERE p.project_id = $1
           ORDER BY p.created_at, p.asset_id"#,
        project
    )
    .fetch_all(db)
    .await?)
}

/// The project's photos, oldest first, with fresh links.
pub async fn list(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Uuid,
) -> Result<Vec<ProductPhoto>, AppError> {
    sqlx::query_scalar!(
        "SELECT id FROM projects WHERE id = $1 AND owner_id = $2",
        project,
        owner
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(project_not_found)?;
    let rows = photo_rows(pool, project).await?;
    let mut photos = Vec::with_capacity(rows.len());
    for row in rows {
        let cutout_url = match &row.cutout_key {
            Some(key) => link(storage, key).await,
            None => None,
        };
        photos.push(ProductPhoto {
            id: row.asset_id,
            file_name: row.file_name,
            url: link(storage, &row.storage_key).await.unwrap_or_default(),
            cutout_url,
            width: row.width,
            height: row.height,
            bytes: row.bytes,
            main: row.main,
        });
    }
    Ok(photos)
}

/// Makes `photo` the project's main photo.
pub async fn choose_main(
    pool: &PgPool,
    owner: Uuid,
    project: Uuid,
    photo: Uuid,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    lock_project(&mut tx, owner, project).await?;
    let exists = sqlx::query_scalar!(
        "SELECT asset_id FROM product_photos WHERE asset_id = $1 AND project_id = $2",
        photo,
        project
    )
    .fetch_optional(&mut *tx)
    .await?;
    if exists.is_none() {
        return Err(photo_not_found());
    }
    // Two statements: the one-main index is checked row by row.
    sqlx::query!(
        "UPDATE product_photos SET main = false WHERE project_id = $1 AND main",
        project
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE product_photos SET main = true WHERE asset_id = $1",
        photo
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a photo, its cut-out and their files; when it was the main photo, the oldest
/// one left becomes the main photo.
#[tracing::instrument(name = "product::delete_photo", skip_all, fields(user = %owner, project = %project, photo = %photo))]
pub async fn delete(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Uuid,
    photo: Uuid,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    lock_project(&mut tx, owner, project).await?;
    let deleted = sqlx::query!(
        "DELETE FROM product_photos WHERE asset_id = $1 AND project_id = $2
         RETURNING main, cutout_asset_id",
        photo,
        project
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(photo_not_found)?;
    let keys = sqlx::query_scalar!(
        "DELETE FROM assets WHERE project_id = $1 AND id = ANY($2) RETURNING storage_key",
        project,
        &[Some(photo), deleted.cutout_asset_id]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
    )
    .fetch_all(&mut *tx)
    .await?;
    if deleted.main {
        sqlx::query!(
            "UPDATE product_photos SET main = true
             WHERE asset_id = (SELECT asset_id FROM product_photos WHERE project_id = $1
                               ORDER BY created_at, asset_id LIMIT 1)",
            project
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let keys: Vec<_> = keys
        .iter()
        .filter_map(|key| ObjectKey::parse(key).ok())
        .collect();
    forget(storage, &keys).await;
    tracing::info!(project_id = %project, photo = %photo, "product photo deleted");
    Ok(())
}

/// A photo's files read for copying: the photo, and its cut-out if it has one.
struct Original {
    file_name: String,
    main: bool,
    created_at: time::OffsetDateTime,
    images: Vec<NewImage>,
}

/// Copies the photos of `from` into the new project `to` (a duplicate): their files are
/// copied under `to`'s folder now, and their rows are written in `tx`, the duplicate's
/// own transaction. Returns the copied files' keys, to delete if `tx` fails.
pub async fn copy_photos(
    tx: &mut Transaction<'_, Postgres>,
    storage: &dyn Storage,
    owner: Uuid,
    from: Uuid,
    to: Uuid,
) -> Result<Vec<ObjectKey>, AppError> {
    let rows = photo_rows(&mut **tx, from).await?;
    let read = |key: &str, width: i32, height: i32| {
        let key = key.to_string();
        async move {
            let key = ObjectKey::parse(&key).map_err(|_| AppError::Internal)?;
            let bytes = storage.get_bytes(&key).await.map_err(|error| {
                tracing::error!(
                    error = format!("{error:#}"),
                    "could not read a photo to copy"
                );
                AppError::Internal
            })?;
            let extension = match key.extension() {
                Some("png") => "png",
                _ => "jpg",
            };
            Ok::<_, AppError>(NewImage {
                bytes: bytes.to_vec(),
                extension,
                width: width as u32,
                height: height as u32,
            })
        }
    };
    let mut originals = Vec::new();
    for row in rows {
        let mut images = vec![read(&row.storage_key, row.width, row.height).await?];
        if let (Some(key), Some(width), Some(height)) =
            (&row.cutout_key, row.cutout_width, row.cutout_height)
        {
            images.push(read(key, width, height).await?);
        }
        originals.push(Original {
            file_name: row.file_name,
            main: row.main,
            created_at: row.created_at,
            images,
        });
    }
    let mut copied = Vec::new();
    for original in originals {
        let mut ids = Vec::new();
        for image in &original.images {
            let id = Uuid::new_v4();
            let key = match put(storage, owner, to, id, image).await {
                Ok(key) => key,
                Err(error) => {
                    forget(storage, &copied).await;
                    return Err(error);
                }
            };
            insert_asset(tx, owner, to, id, &key, image).await?;
            copied.push(key);
            ids.push(id);
        }
        sqlx::query!(
            "INSERT INTO product_photos (asset_id, project_id, cutout_asset_id, file_name, main, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            ids[0],
            to,
            ids.get(1).copied(),
            original.file_name,
            original.main,
            original.created_at
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(copied)
}

/// Deletes files copied for a duplicate whose transaction then failed.
pub async fn forget_copies(storage: &dyn Storage, keys: &[ObjectKey]) {
    forget(storage, keys).await;
}
