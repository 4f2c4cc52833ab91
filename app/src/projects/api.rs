//! Server functions for the projects dashboard. Every one is scoped to the logged-in user.

use super::Project;
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

#[server(endpoint = "projects/list")]
pub async fn list_projects() -> Result<Vec<Project>, AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond};
    if let Some(listed) = super::ssr::Listed::in_this_request() {
        return Ok(listed.0.to_vec());
    }
    respond(async {
        let owner = require_user().await?;
        super::ssr::list(&crate::state::pool()?, owner).await
    })
    .await
}

/// Takes the id as text so that a malformed id in a URL is a 404 like any other.
#[server(endpoint = "projects/get")]
pub async fn get_project(id: String) -> Result<Project, AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond};
    respond(async {
        let owner = require_user().await?;
        let id = Uuid::parse_str(&id).map_err(|_| super::ssr::not_found())?;
        super::ssr::get(&crate::state::pool()?, owner, id).await
    })
    .await
}

#[server(endpoint = "projects/create")]
pub async fn create_project(name: String, format: String) -> Result<Project, AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond};
    respond(async {
        let owner = require_user().await?;
        let name = super::ssr::ProjectName::parse(&name)?;
        let format = super::VideoFormat::parse(&format)
            .ok_or_else(|| AppError::invalid("Choose a format: 9:16, 16:9 or 1:1."))?;
        super::ssr::create(&crate::state::pool()?, owner, name, format).await
    })
    .await
}

#[server(endpoint = "projects/rename")]
pub async fn rename_project(id: Uuid, name: String) -> Result<Project, AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond};
    respond(async {
        let owner = require_user().await?;
        let name = super::ssr::ProjectName::parse(&name)?;
        super::ssr::rename(&crate::state::pool()?, owner, id, name).await
    })
    .await
}

#[server(endpoint = "projects/duplicate")]
pub async fn duplicate_project(id: Uuid) -> Result<Project, AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond};
    respond(async {
        let owner = require_user().await?;
        super::ssr::duplicate(
            &crate::state::pool()?,
            &*crate::state::storage()?,
            owner,
            id,
        )
        .await
    })
    .await
}

#[server(endpoint = "projects/delete")]
pub async fn delete_project(id: Uuid) -> Result<(), AppError> {
    use crate::{auth::ssr::require_user, error::ssr::respond};
    respond(async {
        let owner = require_user().await?;
        super::ssr::delete(
            &crate::state::pool()?,
            &*crate::state::storage()?,
            owner,
            id,
        )
        .await
    })
    .await
}
