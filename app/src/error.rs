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
    /// An upload past a size limit; the message names the limit.
    #[error("{0}")]
    TooLarge(String),
    /// An upload of a kind that is not accepted; the message says what is.
    #[error("{0}")]
    Unsupported(String),
    /// The work would pass a budget; the message says what is left and what it costs.
    #[error("{0}")]
    OverBudget(String),
    /// Too much at once (live views open, say); try again shortly.
    #[error("{0}")]
    Busy(String),
    #[error("Too many failed attempts. Try again in {retry_after_secs} seconds.")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Too many requests of one kind for now (paid generations a minute); the message says
    /// when to try again, and so does the `Retry-After` header.
    #[error("{message}")]
    Throttled {
        message: String,
        retry_after_secs: u64,
    },
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// `Internal` as the user is answered it: with the id of the request, which every log
    /// line of that request carries too, to quote when they write to us.
    #[error("Something went wrong on our side. Please try again, or quote {reference} when you contact us.")]
    InternalReported { reference: String },
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

    /// Seconds after which trying again can succeed, for a `Retry-After` header.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts { retry_after_secs }
            | Self::Throttled {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid(_) => 400,
            Self::Unauthenticated => 401,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::TooLarge(_) => 413,
            Self::Unsupported(_) => 415,
            // Payment Required: the budget, not the request, is what stands in the way.
            Self::OverBudget(_) => 402,
            Self::TooManyAttempts { .. } | Self::Throttled { .. } | Self::Busy(_) => 429,
            Self::Internal | Self::InternalReported { .. } => 500,
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

/// What the user reads when a generation fails.
#[cfg(feature = "ssr")]
pub fn user_message(error: &crate::generation::ssr::GenerationError) -> String {
    use crate::generation::ssr::GenerationError;
    match error {
        GenerationError::Refused(reason) => format!("The provider refused this: {reason}"),
        GenerationError::Unavailable(reason) => format!("The provider is unavailable ({reason})."),
        GenerationError::Cancelled => "Cancelled.".into(),
        GenerationError::Failed(error) => format!("Generation failed: {error}"),
    }
}

/// Refuses text with NUL or other control characters (newlines and tabs pass): nothing a
/// person types has them, and PostgreSQL cannot store a NUL.
pub fn check_plain_text(text: &str, what: &str) -> Result<(), AppError> {
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::invalid(format!(
            "{what} cannot contain control characters."
        )));
    }
    Ok(())
}

/// Ids arrive as text so that a malformed one is a 404 like any other.
#[cfg(feature = "ssr")]
pub fn parse_id(id: &str, what: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(id.trim()).map_err(|_| AppError::not_found(what))
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

    impl From<crate::generation::ssr::GenerationError> for AppError {
        /// A provider's failure, as the user reads it (see [`super::user_message`]).
        fn from(error: crate::generation::ssr::GenerationError) -> Self {
            AppError::Invalid(super::user_message(&error))
        }
    }

    /// Hand-written axum handlers answer errors as server functions do: the status of the
    /// variant and the error as JSON.
    impl axum::response::IntoResponse for AppError {
        fn into_response(self) -> axum::response::Response {
            let status = http::StatusCode::from_u16(self.status())
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
            let retry_after = self.retry_after_secs();
            let mut response = (status, axum::Json(self)).into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, seconds.into());
            }
            response
        }
    }

    /// Runs a server function's body and gives its error the matching HTTP status, both for
    /// calls over HTTP and for calls made while rendering a page on the server.
    pub async fn respond<T>(
        body: impl Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        let result = body.await.map_err(with_reference);
        if let Err(error) = &result {
            set_response_status(error);
        }
        result
    }

    /// An internal error named after the request it happened in (its `X-Request-Id`,
    /// set by the server for every request).
    fn with_reference(error: AppError) -> AppError {
        if error != AppError::Internal {
            return error;
        }
        let reference =
            leptos::prelude::use_context::<http::request::Parts>().and_then(|request| {
                Some(
                    request
                        .headers
                        .get("x-request-id")?
                        .to_str()
                        .ok()?
                        .to_string(),
                )
            });
        match reference {
            Some(reference) => AppError::InternalReported { reference },
            None => AppError::Internal,
        }
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
            if let Some(seconds) = error.retry_after_secs() {
                response.insert_header(http::header::RETRY_AFTER, seconds.into());
            }
        }
    }
}
