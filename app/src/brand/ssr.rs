//! The brand kits' queries: an account's kit and a project's own, saving them, their logo
//! and font files (assets of the account, shared by the kits that use them), and the kit
//! a render or a round of mood boards draws from.

use super::{
    bundled_font, logo::CleanLogo, validate, BrandKit, BrandSettings, Corner, ProjectBrand,
    BUNDLED_FONTS,
};
use crate::{
    error::AppError,
    storage::{
        links::link,
        ssr::{delete_files, mime_for_extension, ObjectKey, Storage},
        AssetKind,
    },
};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What a render draws its brand from: the kit as it was when the render was asked for
/// (kept on the render's row).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrandSnapshot {
    pub colors: Vec<String>,
    pub logo_asset_id: Option<Uuid>,
    pub logo_corner: Corner,
    pub logo_size: f32,
    /// The uploaded font to draw with; the bundled one when `None`.
    pub font_asset_id: Option<Uuid>,
    pub bundled_font: String,
    pub handle: String,
    /// The end card's length, when there is one.
    pub end_card_secs: Option<f32>,
}

struct KitRow {
    id: Uuid,
    colors: Vec<String>,
    logo_asset_id: Option<Uuid>,
    logo_corner: String,
    logo_size: f32,
    bundled_font: String,
    font_asset_id: Option<Uuid>,
    font_name: Option<String>,
    use_uploaded_font: bool,
    handle: String,
    end_card: bool,
    end_card_secs: f32,
}

impl KitRow {
    fn settings(&self) -> BrandSettings {
        BrandSettings {
            colors: self.colors.clone(),
            logo_corner: Corner::parse(&self.logo_corner).unwrap_or_default(),
            logo_size: self.logo_size,
            bundled_font: self.bundled_font.clone(),
            use_uploaded_font: self.use_uploaded_font && self.font_asset_id.is_some(),
            handle: self.handle.clone(),
            end_card: self.end_card,
            end_card_secs: self.end_card_secs,
        }
    }

    fn snapshot(&self) -> BrandSnapshot {
        let settings = self.settings();
        BrandSnapshot {
            colors: settings.colors,
            logo_asset_id: self.logo_asset_id,
            logo_corner: settings.logo_corner,
            logo_size: settings.logo_size,
            font_asset_id: self.font_asset_id.filter(|_| settings.use_uploaded_font),
            bundled_font: bundled_font(&settings.bundled_font)
                .unwrap_or(BUNDLED_FONTS[0])
                .id
                .into(),
            handle: settings.handle,
            end_card_secs: settings.end_card.then_some(settings.end_card_secs),
        }
    }
}

/// The kit of exactly this scope: the account's (`project` `None`) or the project's own.
async fn kit_row(
    conn: &mut PgConnection,
    owner: Uuid,
    project: Option<Uuid>,
    lock: bool,
) -> sqlx::Result<Option<KitRow>> {
    // Two spellings of one query: sqlx checks each at compile time.
    if lock {
        sqlx::query_as!(
            KitRow,
            "SELECT id, colors, logo_asset_id, logo_corner, logo_size, bundled_font, font_asset_id,
                    font_name, use_uploaded_font, handle, end_card, end_card_secs
             FROM brand_kits WHERE owner_id = $1 AND project_id IS NOT DISTINCT FROM $2 FOR UPDATE",
            owner,
            project
        )
        .fetch_optional(&mut *conn)
        .await
    } else {
        sqlx::query_as!(
            KitRow,
            "SELECT id, colors, logo_asset_id, logo_corner, logo_size, bundled_font, font_asset_id,
                    font_name, use_uploaded_font, handle, end_card, end_card_secs
             FROM brand_kits WHERE owner_id = $1 AND project_id IS NOT DISTINCT FROM $2",
            owner,
            project
        )
        .fetch_optional(&mut *conn)
        .await
    }
}

/// 404 unless the project is the caller's.
async fn check_project(
    conn: &mut PgConnection,
    owner: Uuid,
    project: Uuid,
) -> Result<(), AppError> {
    sqlx::query_scalar!(
        "SELECT id FROM projects WHERE id = $1 AND owner_id = $2",
        project,
        owner
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| AppError::not_found("Project"))?;
    Ok(())
}

async fn view(
    conn: &mut PgConnection,
    storage: &dyn Storage,
    owner: Uuid,
    project: Option<Uuid>,
    row: Option<KitRow>,
) -> Result<BrandKit, AppError> {
    let Some(row) = row else {
        return Ok(BrandKit {
            saved: false,
            project,
            settings: BrandSettings::default(),
            logo_url: None,
            logo_width: None,
            logo_height: None,
            font_name: None,
        });
    };
    let logo = match row.logo_asset_id {
        Some(asset) => {
            sqlx::query!(
                "SELECT storage_key, width, height FROM assets WHERE id = $1 AND owner_id = $2",
                asset,
                owner
            )
            .fetch_optional(&mut *conn)
            .await?
        }
        None => None,
    };
    let logo_url = match &logo {
        Some(logo) => link(storage, &logo.storage_key).await,
        None => None,
    };
    Ok(BrandKit {
        saved: true,
        project,
        settings: row.settings(),
        logo_url,
        logo_width: logo.as_ref().and_then(|l| l.width),
        logo_height: logo.as_ref().and_then(|l| l.height),
        font_name: row.font_asset_id.and(row.font_name.clone()),
    })
}

/// The kit of exactly this scope as the editor shows it (unsaved defaults if none).
pub async fn kit(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Option<Uuid>,
) -> Result<BrandKit, AppError> {
    let mut conn = pool.acquire().await?;
    if let Some(project) = project {
        check_project(&mut conn, owner, project).await?;
    }
    let row = kit_row(&mut conn, owner, project, false).await?;
    view(&mut conn, storage, owner, project, row).await
}

/// Which kit a project draws with: its own, else the account's.
pub async fn project_brand(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Uuid,
) -> Result<ProjectBrand, AppError> {
    let mut conn = pool.acquire().await?;
    check_project(&mut conn, owner, project).await?;
    if let Some(row) = kit_row(&mut conn, owner, Some(project), false).await? {
        let kit = view(&mut conn, storage, owner, Some(project), Some(row)).await?;
        return Ok(ProjectBrand {
            own: true,
            kit: Some(kit),
        });
    }
    let row = kit_row(&mut conn, owner, None, false).await?;
    let kit = match row {
        Some(row) => Some(view(&mut conn, storage, owner, None, Some(row)).await?),
        None => None,
    };
    Ok(ProjectBrand { own: false, kit })
}

/// The kit of this scope, locked, made with default settings if it does not exist yet.
async fn lock_or_create(
    conn: &mut PgConnection,
    owner: Uuid,
    project: Option<Uuid>,
) -> Result<KitRow, AppError> {
    if let Some(project) = project {
        check_project(conn, owner, project).await?;
    }
    if let Some(row) = kit_row(conn, owner, project, true).await? {
        return Ok(row);
    }
    let defaults = BrandSettings::default();
    // A racing first save makes the same row: the unique indexes let one through.
    sqlx::query!(
        "INSERT INTO brand_kits (id, owner_id, project_id, colors) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        Uuid::new_v4(),
        owner,
        project,
        &defaults.colors
    )
    .execute(&mut *conn)
    .await?;
    kit_row(conn, owner, project, true)
        .await?
        .ok_or(AppError::Internal)
}

/// Saves the kit's settings (the files are sent on their own).
#[tracing::instrument(name = "brand::save", skip_all, fields(user = %owner, project = ?project))]
pub async fn save(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Option<Uuid>,
    settings: BrandSettings,
) -> Result<BrandKit, AppError> {
    let settings = validate(settings).map_err(AppError::Invalid)?;
    let mut tx = pool.begin().await?;
    let row = lock_or_create(&mut tx, owner, project).await?;
    sqlx::query!(
        "UPDATE brand_kits SET colors = $2, logo_corner = $3, logo_size = $4, bundled_font = $5,
                use_uploaded_font = $6, handle = $7, end_card = $8, end_card_secs = $9,
                updated_at = now()
         WHERE id = $1",
        row.id,
        &settings.colors,
        settings.logo_corner.as_str(),
        settings.logo_size,
        settings.bundled_font,
        settings.use_uploaded_font,
        settings.handle,
        settings.end_card,
        settings.end_card_secs
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    kit(pool, storage, owner, project).await
}

/// Gives a project a kit of its own, starting as a copy of the account's (`own`), or goes
/// back to the account's kit.
pub async fn set_own(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Uuid,
    own: bool,
) -> Result<ProjectBrand, AppError> {
    let mut tx = pool.begin().await?;
    check_project(&mut tx, owner, project).await?;
    let existing = kit_row(&mut tx, owner, Some(project), true).await?;
    let mut released = Vec::new();
    match (own, existing) {
        (true, None) => {
            // The account's kit to start from, else the defaults.
            let copied = copy_kit(&mut tx, owner, None, project).await?;
            if !copied {
                lock_or_create(&mut tx, owner, Some(project)).await?;
            }
        }
        (false, Some(row)) => {
            sqlx::query!("DELETE FROM brand_kits WHERE id = $1", row.id)
                .execute(&mut *tx)
                .await?;
            released.extend(row.logo_asset_id);
            released.extend(row.font_asset_id);
        }
        _ => {}
    }
    let keys = release(&mut tx, &released).await?;
    tx.commit().await?;
    delete_files(storage, keys).await;
    project_brand(pool, storage, owner, project).await
}

/// Deletes the rows of the given assets that no kit and no render under way uses, and
/// answers their storage keys (the files go after the commit).
async fn release(conn: &mut PgConnection, assets: &[Uuid]) -> sqlx::Result<Vec<String>> {
    if assets.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar!(
        "DELETE FROM assets a WHERE a.id = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM brand_kits k
                           WHERE k.logo_asset_id = a.id OR k.font_asset_id = a.id)
           AND NOT EXISTS (SELECT 1 FROM compositions c
                           WHERE c.status IN ('queued', 'running')
                             AND (c.brand->>'logo_asset_id' = a.id::text
                                  OR c.brand->>'font_asset_id' = a.id::text))
         RETURNING a.storage_key",
        assets
    )
    .fetch_all(&mut *conn)
    .await
}

/// A brand file about to be kept.
pub struct NewBrandFile {
    pub bytes: Vec<u8>,
    pub extension: &'static str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The font's family name (fonts only).
    pub family: Option<String>,
}

impl From<CleanLogo> for NewBrandFile {
    fn from(logo: CleanLogo) -> Self {
        Self {
            bytes: logo.bytes,
            extension: logo.extension,
            width: Some(logo.width),
            height: Some(logo.height),
            family: None,
        }
    }
}

/// Keeps a new logo or font for the kit of this scope (made if it does not exist),
/// replacing the one it had. The file is stored before its row: a failure keeps nothing.
pub async fn replace_file(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Option<Uuid>,
    kind: AssetKind,
    file_name: &str,
    file: NewBrandFile,
) -> Result<BrandKit, AppError> {
    {
        // The scope is checked before the file is stored.
        let mut conn = pool.acquire().await?;
        if let Some(project) = project {
            check_project(&mut conn, owner, project).await?;
        }
    }
    let asset = Uuid::new_v4();
    let key = ObjectKey::for_account_asset(owner, kind, asset, file.extension);
    let mime = mime_for_extension(file.extension);
    let size = file.bytes.len() as i64;
    storage
        .put_bytes(&key, Bytes::from(file.bytes), mime)
        .await
        .map_err(|error| {
            tracing::error!(error = format!("{error:#}"), "could not store a brand file");
            AppError::Internal
        })?;
    let kept = async {
        let mut tx = pool.begin().await?;
        let row = lock_or_create(&mut tx, owner, project).await?;
        sqlx::query!(
            "INSERT INTO assets (id, owner_id, project_id, kind, storage_key, mime, bytes, width, height, provider, prompt)
             VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, $8, 'upload', $9)",
            asset,
            owner,
            kind.as_str(),
            key.as_str(),
            mime,
            size,
            file.width.map(|w| w as i32),
            file.height.map(|h| h as i32),
            file_name
        )
        .execute(&mut *tx)
        .await?;
        let old = if kind == AssetKind::Font {
            sqlx::query!(
                "UPDATE brand_kits SET font_asset_id = $2, font_name = $3, use_uploaded_font = true,
                        updated_at = now() WHERE id = $1",
                row.id,
                asset,
                file.family
            )
            .execute(&mut *tx)
            .await?;
            row.font_asset_id
        } else {
            sqlx::query!(
                "UPDATE brand_kits SET logo_asset_id = $2, updated_at = now() WHERE id = $1",
                row.id,
                asset
            )
            .execute(&mut *tx)
            .await?;
            row.logo_asset_id
        };
        let keys = release(&mut tx, &old.into_iter().collect::<Vec<_>>()).await?;
        tx.commit().await?;
        Ok::<_, AppError>(keys)
    }
    .await;
    match kept {
        Ok(keys) => delete_files(storage, keys).await,
        Err(error) => {
            delete_files(storage, vec![key.as_str().to_string()]).await;
            return Err(error);
        }
    }
    kit(pool, storage, owner, project).await
}

/// Takes the logo or the uploaded font off the kit of this scope.
pub async fn remove_file(
    pool: &PgPool,
    storage: &dyn Storage,
    owner: Uuid,
    project: Option<Uuid>,
    kind: AssetKind,
) -> Result<BrandKit, AppError> {
    let mut tx = pool.begin().await?;
    if let Some(project) = project {
        check_project(&mut tx, owner, project).await?;
    }
    let Some(row) = kit_row(&mut tx, owner, project, true).await? else {
        drop(tx);
        return kit(pool, storage, owner, project).await;
    };
    let old = if kind == AssetKind::Font {
        sqlx::query!(
            "UPDATE brand_kits SET font_asset_id = NULL, font_name = NULL, updated_at = now() WHERE id = $1",
            row.id
        )
        .execute(&mut *tx)
        .await?;
        row.font_asset_id
    } else {
        sqlx::query!(
            "UPDATE brand_kits SET logo_asset_id = NULL, updated_at = now() WHERE id = $1",
            row.id
        )
        .execute(&mut *tx)
        .await?;
        row.logo_asset_id
    };
    let keys = release(&mut tx, &old.into_iter().collect::<Vec<_>>()).await?;
    tx.commit().await?;
    delete_files(storage, keys).await;
    kit(pool, storage, owner, project).await
}

/// The kit a project's render draws with (its own, else the account's), if any.
pub async fn for_render(
    conn: &mut PgConnection,
    owner: Uuid,
    project: Uuid,
) -> sqlx::Result<Option<BrandSnapshot>> {
    let own = kit_row(conn, owner, Some(project), false).await?;
    let row = match own {
        Some(row) => Some(row),
        None => kit_row(conn, owner, None, false).await?,
    };
    Ok(row.map(|row| row.snapshot()))
}

/// A project's brand colours (its kit's, else the account's), empty without a kit.
pub async fn colors_for(
    conn: &mut PgConnection,
    owner: Uuid,
    project: Uuid,
) -> sqlx::Result<Vec<String>> {
    Ok(for_render(conn, owner, project)
        .await?
        .map(|brand| brand.colors)
        .unwrap_or_default())
}

/// Gives project `to` a copy of the kit of scope `from` (the account's, or a project's
/// own), if there is one; answers whether there was. The files are the account's:
/// shared, not copied.
pub async fn copy_kit(
    conn: &mut PgConnection,
    owner: Uuid,
    from: Option<Uuid>,
    to: Uuid,
) -> sqlx::Result<bool> {
    let copied = sqlx::query!(
        "INSERT INTO brand_kits (id, owner_id, project_id, colors, logo_asset_id, logo_corner,
                logo_size, bundled_font, font_asset_id, font_name, use_uploaded_font, handle,
                end_card, end_card_secs)
         SELECT gen_random_uuid(), owner_id, $3, colors, logo_asset_id, logo_corner, logo_size,
                bundled_font, font_asset_id, font_name, use_uploaded_font, handle, end_card,
                end_card_secs
         FROM brand_kits WHERE owner_id = $1 AND project_id IS NOT DISTINCT FROM $2
         ON CONFLICT DO NOTHING",
        owner,
        from,
        to
    )
    .execute(&mut *conn)
    .await?;
    Ok(copied.rows_affected() > 0)
}
