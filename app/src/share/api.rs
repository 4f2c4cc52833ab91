//! Server functions of share links.

use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{error::parse_id, state::signed_in};

/// Makes (or returns) the render's public link token.
#[server(endpoint = "render/share")]
pub async fn share_render(render: String) -> Result<String, AppError> {
    signed_in(|me| async move {
        let render = parse_id(&render, "Render")?;
        super::ssr::share(&me.state.pool, me.owner, render).await
    })
    .await
}

/// Turns a public link off for good.
#[server(endpoint = "render/revoke")]
pub async fn revoke_share(token: String) -> Result<(), AppError> {
    signed_in(|me| async move { super::ssr::revoke(&me.state.pool, me.owner, token.trim()).await })
        .await
}

/// The shared video behind a token (no login), counting the view.
#[server(endpoint = "share/get")]
pub async fn get_shared(token: String) -> Result<super::SharedVideo, AppError> {
    use crate::{error::ssr::respond, state::app_state};
    respond(async {
        let state = app_state()?;
        super::ssr::open_shared(&state.pool, token.trim(), &state.public_url).await
    })
    .await
}
