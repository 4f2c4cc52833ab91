//! `POST /api/brand/logo` and `POST /api/brand/font` (`?project=<id>` for a project's
//! own kit): one file per request, as a multipart form with a `logo` or `font` field,
//! read as it streams and refused past the size limit, checked off the async threads.
//! Answers 201 with the kit, or a 4xx naming the limit.

use super::{font, logo, ssr};
use crate::{
    auth::ssr::AuthUser,
    error::{parse_id, AppError},
    product::{photo, MAX_PHOTO_BYTES},
    state::AppState,
    storage::AssetKind,
    uploads,
};
use axum::{
    extract::{multipart::MultipartRejection, Multipart, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use uuid::Uuid;

/// The most a request body may be: one file and the form around it.
pub const BODY_LIMIT: usize = MAX_PHOTO_BYTES as usize + 64 * 1024;

#[derive(Debug, Deserialize)]
pub struct Scope {
    /// The project whose own kit this is for; the account's kit without it.
    project: Option<String>,
}

impl Scope {
    fn project(&self) -> Result<Option<Uuid>, AppError> {
        self.project
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| parse_id(p, "Project"))
            .transpose()
    }
}

fn open_form(form: Result<Multipart, MultipartRejection>) -> Result<Multipart, AppError> {
    form.map_err(|rejection| {
        AppError::invalid(format!(
            "Send the file as a multipart form: {}",
            rejection.body_text()
        ))
    })
}

/// Reads the one file of field `field`, checks it off the async threads with `prepare`,
/// and keeps it as the kit's `kind`; answers 201 with the kit.
async fn receive(
    state: AppState,
    owner: Uuid,
    scope: Scope,
    form: Result<Multipart, MultipartRejection>,
    kind: AssetKind,
    (max_bytes, too_large): (u64, fn() -> AppError),
    prepare: impl FnOnce(Vec<u8>) -> Result<ssr::NewBrandFile, AppError> + Send + 'static,
) -> Response {
    let kept = async {
        let project = scope.project()?;
        let mut form = open_form(form)?;
        let field = kind.as_str();
        let (name, bytes) = uploads::read_file(&mut form, field, max_bytes, too_large).await?;
        let file = tokio::task::spawn_blocking(move || prepare(bytes))
            .await
            .map_err(|_| AppError::Internal)??;
        ssr::replace_file(
            &state.pool,
            &*state.storage,
            owner,
            project,
            kind,
            &name,
            file,
        )
        .await
    }
    .await;
    match kept {
        Ok(kit) => (StatusCode::CREATED, Json(kit)).into_response(),
        Err(error) => error.into_response(),
    }
}

fn logo_too_large() -> AppError {
    photo::too_large_a("logo")
}

pub async fn upload_logo(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    Query(scope): Query<Scope>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let limit = (MAX_PHOTO_BYTES, logo_too_large as fn() -> AppError);
    receive(state, owner, scope, form, AssetKind::Logo, limit, |bytes| {
        logo::clean(&bytes).map(ssr::NewBrandFile::from)
    })
    .await
}

pub async fn upload_font(
    State(state): State<AppState>,
    AuthUser(owner): AuthUser,
    Query(scope): Query<Scope>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let limit = (font::MAX_FONT_BYTES, font::too_large as fn() -> AppError);
    receive(state, owner, scope, form, AssetKind::Font, limit, |bytes| {
        let checked = font::check(&bytes)?;
        Ok(ssr::NewBrandFile {
            bytes,
            extension: checked.extension,
            width: None,
            height: None,
            family: Some(checked.family),
        })
    })
    .await
}
