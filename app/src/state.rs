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
    /// The models' prices and the default budget: every paid call is reserved with it.
    pub spending: Arc<crate::budget::ssr::Spending>,
    /// The proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: crate::proxies::TrustedProxies,
    /// How long sessions last.
    pub sessions: crate::auth::ssr::SessionPolicy,
    /// Brief chat, moods and scene plans.
    pub director: Arc<dyn Director>,
    /// The open live streams, capped per account and per instance.
    pub viewers: crate::events::viewers::Viewers,
    /// Wake-ups for storyboard streams, from every instance.
    pub notifier: crate::events::Notifier,
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

/// Who is calling a server function, and with what.
pub struct Caller {
    /// The logged-in user.
    pub owner: uuid::Uuid,
    pub state: AppState,
}

/// The body of a server function that needs a logged-in user: authenticates, loads the
/// state, runs `body`, and gives its error the matching HTTP status.
pub async fn signed_in<T, Fut>(body: impl FnOnce(Caller) -> Fut) -> Result<T, AppError>
where
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    crate::error::ssr::respond(async {
        let owner = crate::auth::ssr::require_user().await?;
        let state = app_state()?;
        body(Caller { owner, state }).await
    })
    .await
}

pub fn pool() -> Result<PgPool, AppError> {
    app_state().map(|state| state.pool)
}

pub fn storage() -> Result<Arc<dyn Storage>, AppError> {
    app_state().map(|state| state.storage)
}
