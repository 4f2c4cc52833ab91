//! Server functions for accounts. Thin: validation and storage live in `ssr`.

use super::CurrentUser;
use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "signup")]
pub async fn sign_up(email: String, password: String) -> Result<(), AppError> {
    use super::ssr;
    use crate::error::ssr::respond;
    respond(async {
        let state = crate::state::app_state()?;
        ssr::count_signup(&state.pool, ssr::client_address().await).await?;
        let user = ssr::register(&state.pool, &email, &password).await?;
        ssr::start_session(user, state.sessions).await
    })
    .await
}

#[server(endpoint = "login")]
pub async fn log_in(email: String, password: String) -> Result<(), AppError> {
    use super::ssr;
    use crate::error::ssr::respond;
    respond(async {
        let state = crate::state::app_state()?;
        let client = ssr::client_address().await;
        let user = ssr::authenticate(&state.pool, &email, &password, client).await?;
        ssr::start_session(user, state.sessions).await
    })
    .await
}

#[server(endpoint = "logout")]
pub async fn log_out() -> Result<(), AppError> {
    use crate::error::ssr::respond;
    respond(super::ssr::end_session()).await
}

#[server(endpoint = "me")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    use crate::error::ssr::respond;
    respond(async {
        let pool = crate::state::pool()?;
        super::ssr::current_user(&pool).await
    })
    .await
}
