//! Server functions of the brand kit (the logo and font are uploaded by `upload.rs`).
//! `project` empty means the account's kit; a project id, that project's own kit.

use super::{BrandKit, BrandSettings, ProjectBrand};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{error::parse_id, state::signed_in, storage::AssetKind};

#[cfg(feature = "ssr")]
fn scope(project: &str) -> Result<Option<uuid::Uuid>, AppError> {
    if project.trim().is_empty() {
        Ok(None)
    } else {
        parse_id(project, "Project").map(Some)
    }
}

#[server(endpoint = "brand/kit")]
pub async fn get_brand_kit(project: String) -> Result<BrandKit, AppError> {
    signed_in(|me| async move {
        super::ssr::kit(
            &me.state.pool,
            &*me.state.storage,
            me.owner,
            scope(&project)?,
        )
        .await
    })
    .await
}

#[server(endpoint = "brand/save")]
pub async fn save_brand_kit(
    project: String,
    settings: BrandSettings,
) -> Result<BrandKit, AppError> {
    signed_in(|me| async move {
        super::ssr::save(
            &me.state.pool,
            &*me.state.storage,
            me.owner,
            scope(&project)?,
            settings,
        )
        .await
    })
    .await
}

/// Takes the logo (`what` = `logo`) or the uploaded font (`font`) off the kit.
#[server(endpoint = "brand/remove")]
pub async fn remove_brand_file(project: String, what: String) -> Result<BrandKit, AppError> {
    signed_in(|me| async move {
        let kind = match what.as_str() {
            "logo" => AssetKind::Logo,
            "font" => AssetKind::Font,
            _ => return Err(AppError::invalid("Remove the logo or the font.")),
        };
        super::ssr::remove_file(
            &me.state.pool,
            &*me.state.storage,
            me.owner,
            scope(&project)?,
            kind,
        )
        .await
    })
    .await
}

#[server(endpoint = "brand/project")]
pub async fn get_project_brand(project: String) -> Result<ProjectBrand, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        super::ssr::project_brand(&me.state.pool, &*me.state.storage, me.owner, project).await
    })
    .await
}

/// Gives the project a kit of its own (a copy of the account's to start from), or goes
/// back to the account's.
#[server(endpoint = "brand/own")]
pub async fn set_project_brand(project: String, own: bool) -> Result<ProjectBrand, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        super::ssr::set_own(&me.state.pool, &*me.state.storage, me.owner, project, own).await
    })
    .await
}
