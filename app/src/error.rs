//! The one error type users see, on both sides of the wire.
//!
//! Server functions return `Result<T, AppError>`; the variant decides the HTTP status
//! (see [`AppError::status`]) and its `Display` is the message shown in the page.
//! Internal details are logged on the server and never serialised.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The request was understood but its content is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    #[error("Please log in to continue.")]
    Unauthenticated,
    /// Missing, or belonging to someone else: the two must look the same.
    #[error("{0} not found.")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Too many failed attempts. Try again in {retry_after_secs} seconds.")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The browser could not reach the server, or could not read its answer.
    #[error("Could not reach Reelsmith: {0}")]
    Network(String),
}

impl AppError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid(_) => 400,
            Self::Unauthenticated => 401,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::TooManyAttempts { .. } => 429,
            Self::Internal => 500,
            Self::Network(_) => 502,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        let error = match error {
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::Deserialization(message) => {
                Self::Invalid(format!("The request was malformed: {message}"))
            }
            ServerFnErrorErr::Request(message) | ServerFnErrorErr::Response(message) => {
                Self::Network(message)
            }
            _ => Self::Internal,
        };
        // On the server this runs while answering the request, e.g. for arguments
        // that do not parse, before the function body (and `respond`) could.
        #[cfg(feature = "ssr")]
        ssr::set_response_status(&error);
        error
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::AppError;
    use std::future::Future;

    impl From<sqlx::Error> for AppError {
        fn from(error: sqlx::Error) -> Self {
            tracing::error!(error = %error, "database error");
            AppError::Internal
        }
    }

    impl From<anyhow::Error> for AppError {
        fn from(error: anyhow::Error) -> Self {
            tracing::error!(error = format!("{error:#}"), "internal error");
            AppError::Internal
        }
    }

    /// Runs a server function's body and gives its error the matching HTTP status, both for
    /// calls over HTTP and for calls made while rendering a page on the server.
    pub async fn respond<T>(
        body: impl Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        let result = body.await;
        if let Err(error) = &result {
            set_response_status(error);
        }
        result
    }

    pub fn set_response_status(error: &AppError) {
        // A plain HTML form post (the page not hydrated yet) is answered by leptos_axum with
        // a redirect back to the form's page; an error status would replace that redirect.
        if leptos::prelude::use_context::<http::request::Parts>().is_some_and(|request| {
            request.method == http::Method::POST
                && request
                    .headers
                    .get(http::header::ACCEPT)
                    .and_then(|accept| accept.to_str().ok())
                    .is_some_and(|accept| accept.contains("text/html"))
        }) {
            return;
        }
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            let status = http::StatusCode::from_u16(error.status())
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
            response.set_status(status);
        }
    }
}
