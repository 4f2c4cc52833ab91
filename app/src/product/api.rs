//! Server functions of the product photos (uploading is `upload.rs`: a streamed form).

use super::ProductPhoto;
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{error::parse_id, state::signed_in};

#[server(endpoint = "product/photos")]
pub async fn get_photos(project: String) -> Result<Vec<ProductPhoto>, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        super::ssr::list(&me.state.pool, &*me.state.storage, me.owner, project).await
    })
    .await
}

/// Makes `photo` the one scene images are made from; answers the photos as they now are.
#[server(endpoint = "product/choose_main")]
pub async fn choose_main_photo(
    project: String,
    photo: String,
) -> Result<Vec<ProductPhoto>, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        let photo = parse_id(&photo, "Photo")?;
        super::ssr::choose_main(&me.state.pool, me.owner, project, photo).await?;
        super::ssr::list(&me.state.pool, &*me.state.storage, me.owner, project).await
    })
    .await
}

#[server(endpoint = "product/delete")]
pub async fn delete_photo(project: String, photo: String) -> Result<Vec<ProductPhoto>, AppError> {
    signed_in(|me| async move {
        let project = parse_id(&project, "Project")?;
        let photo = parse_id(&photo, "Photo")?;
        super::ssr::delete(&me.state.pool, &*me.state.storage, me.owner, project, photo).await?;
        super::ssr::list(&me.state.pool, &*me.state.storage, me.owner, project).await
    })
    .await
}
