//! `POST /api/projects/{id}/photos`: one product photo per request, as a multipart form
//! with a `photo` file field. The body is read as it streams and refused past the size
//! limit; the file is checked, re-encoded and cut out off the async threads, a couple at
//! a time. Answers 201 with the project's photos, or a 4xx naming the limit.

use super::{cutout, photo, ssr, ProductPhoto, MAX_PHOTO_BYTES};
use crate::{
    auth::ssr::AuthUser,
    error::{parse_id, AppError},
    state::AppState,
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

/// The name shown for an uploaded file: its last path segment, without control
/// characters, at most 120 characters.
fn display_name(name: Option<&str>) -> String {
    let name = name
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let name: String = name.chars().filter(|c| !c.is_control()).take(120).collect();
    let name = name.trim();
    if name.is_empty() {
        "photo".into()
    } else {
        name.into()
    }
}

fn form_error(error: axum::extract::multipart::MultipartError) -> AppError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        photo::too_large()
    } else {
        AppError::invalid(format!(
            "The upload could not be read: {}",
            error.body_text()
        ))
    }
}

/// The one `photo` file of the form, read chunk by chunk up to the limit.
async fn read_photo(form: &mut Multipart) -> Result<(String, Vec<u8>), AppError> {
    let mut found = None;
    while let Some(mut field) = form.next_field().await.map_err(form_error)? {
        if field.name() != Some("photo") {
            continue;
        }
        if found.is_some() {
            return Err(AppError::invalid("Send one photo at a time."));
        }
        let name = display_name(field.file_name());
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(form_error)? {
            if (bytes.len() + chunk.len()) as u64 > MAX_PHOTO_BYTES {
                return Err(photo::too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        found = Some((name, bytes));
    }
    found.ok_or_else(|| AppError::invalid("Choose a photo to upload."))
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
    let (file_name, bytes) = read_photo(&mut form).await?;
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

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn names_shown_are_the_files_own_without_paths_or_controls() {
        assert_eq!(display_name(Some("C:\\Users\\me\\lamp.jpg")), "lamp.jpg");
        assert_eq!(display_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(display_name(Some("bad\0name\n.png")), "badname.png");
        assert_eq!(display_name(None), "photo");
        assert_eq!(display_name(Some("  ")), "photo");
    }
}
