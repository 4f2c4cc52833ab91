//! Retrying calls to outside services: exponential backoff with jitter, or the wait a
//! `Retry-After` header asks for.

use super::ssr::GenerationError;
use reqwest::{header, Response};
use std::{future::Future, time::Duration};

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_backoff: Duration,
}

/// What one attempt came to.
pub enum Attempt<T> {
    Done(T),
    /// Worth another try, after `after` if the service said so.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
}

impl<T> Attempt<T> {
    pub fn retry(reason: impl Into<String>) -> Self {
        Self::Retry {
            reason: reason.into(),
            after: None,
        }
    }
}

fn jitter(delay: Duration) -> Duration {
    // Between half and the whole delay, so that many clients do not retry in step.
    delay.mul_f64(0.5 + rand::random::<f64>() * 0.5)
}

/// The wait a 429 or 503 asks for, in seconds (capped at two minutes).
pub fn retry_after(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map(|seconds| Duration::from_secs_f64(seconds.clamp(0.0, 120.0)))
}

/// Runs `attempt` until it is done, fails for good, or the attempts run out; the last
/// retryable failure is then reported as `Unavailable`.
pub async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    what: &str,
    mut attempt: F,
) -> Result<T, GenerationError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, GenerationError>>,
{
    let mut backoff = policy.first_backoff;
    let mut number = 0;
    loop {
        number += 1;
        match attempt().await? {
            Attempt::Done(value) => return Ok(value),
            Attempt::Retry { reason, .. } if number >= policy.max_attempts => {
                return Err(GenerationError::Unavailable(format!(
                    "{what}: {reason} (gave up after {number} attempts)"
                )));
            }
            Attempt::Retry { reason, after } => {
                let delay = after.unwrap_or_else(|| jitter(backoff));
                tracing::warn!(what, reason, attempt = number, ?delay, "retrying");
                tokio::time::sleep(delay).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
