//! What every request handler and server function can reach on the server.

use crate::creative::ssr::Director;
use crate::error::AppError;
use crate::generation::ssr::MediaProviders;
use crate::storage::{local::LocalStorage, ssr::Storage};
use axum::extract::FromRef;
use leptos::prelude::*;
use sqlx::PgPool;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub storage: Arc<dyn Storage>,
    /// Set when storage is the local directory, whose signed links the app serves itself.
    pub local_files: Option<Arc<LocalStorage>>,
    pub media: MediaProviders,
    /// Brief chat, moods and scene plans.
    pub director: Arc<dyn Director>,
    /// Wake-ups for storyboard streams, from every instance.
    pub notifier: crate::studio::events::Notifier,
    /// Where users reach the app (for absolute links in share previews).
    pub public_url: String,
}

/// The state, from inside a server function (the router provides it as context).
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function context");
        AppError::Internal
    })
}

pub fn pool() -> Result<PgPool, AppError> {
    app_state().map(|state| state.pool)
}

pub fn storage() -> Result<Arc<dyn Storage>, AppError> {
    app_state().map(|state| state.storage)
}
