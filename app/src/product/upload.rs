//! `POST /api/projects/{id}/photos`: one product photo per request, as a multipart form
//! with a `photo` file field. The body is read as it streams and refused past the size
//! limit; the file is checked, re-encoded and cut out off the async threads, a couple at
//! a time. Answers 201 with the project's photos, or a 4xx naming the limit.

use super::{cutout, photo, ssr, ProductPhoto, MAX_PHOTO_BYTES};
use crate::{
    auth::ssr::AuthUser,
    error::{parse_id, AppError},
    state::AppState,
    uploads,
};
use axum::{
    extract::{multipart::MultipartRejection, Multipart, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use image::DynamicImage;
use tokio::sync::Semaphore;
use uuid::Uuid;

/// The most a request body may be: one photo and the form around it.
pub const BODY_LIMIT: usize = MAX_PHOTO_BYTES as usize + 64 * 1024;

/// Photos decoded at once: a 40-megapixel photo takes about 160 MB while it is worked
/// on, and the two cores are shared with everything else.
static PREPARING: Semaphore = Semaphore::const_new(2);

pub async fn upload_photo(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    Path(id): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    match receive(&state, owner, &id, form).await {
        Ok(photos) => (StatusCode::CREATED, Json(photos)).into_response(),
        Err(error) => error.into_response(),
    }
}

fn png(image: &image::RgbaImage) -> Option<ssr::NewImage> {
    let mut bytes = Vec::new();
    DynamicImage::ImageRgba8(image.clone())
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .ok()?;
    Some(ssr::NewImage {
        bytes,
        extension: "png",
        width: image.width(),
        height: image.height(),
    })
}

async fn receive(
    state: &AppState,
    owner: Uuid,
    id: &str,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Vec<ProductPhoto>, AppError> {
    let project = parse_id(id, "Project")?;
    // Before reading a body that may be 15 MB.
    ssr::check_room(&state.pool, owner, project).await?;
    let mut form = form.map_err(|rejection| {
        AppError::invalid(format!(
            "Send the photo as a multipart form: {}",
            rejection.body_text()
        ))
    })?;
    let (file_name, bytes) =
        uploads::read_file(&mut form, "photo", MAX_PHOTO_BYTES, photo::too_large).await?;
    let (kept, cut) = {
        let _permit = PREPARING.acquire().await.map_err(|_| AppError::Internal)?;
        tokio::task::spawn_blocking(move || {
            let kept = photo::clean(&bytes)?;
            let cut = cutout::cut_out(&kept.pixels).as_ref().and_then(png);
            Ok::<_, AppError>((kept, cut))
        })
        .await
        .map_err(|_| AppError::Internal)??
    };
    let kept = ssr::NewImage {
        bytes: kept.bytes,
        extension: kept.extension,
        width: kept.width,
        height: kept.height,
    };
    ssr::add(
        &state.pool,
        &*state.storage,
        owner,
        project,
        &file_name,
        kept,
        cut,
    )
    .await?;
    ssr::list(&state.pool, &*state.storage, owner, project).await
}
