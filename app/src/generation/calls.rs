//! Every call to a provider, counted and timed by provider and model, for `/metrics`:
//! `reelsmith_provider_calls_total{provider,model,outcome}` and
//! `reelsmith_provider_call_duration_seconds{provider,model}`. An operator sees which model
//! is slow, which refuses, and which is down, before users say so.

use super::ssr::GenerationError;
use std::future::Future;

/// Runs one call to `model` of `provider` and records how it ended and how long it took.
pub async fn measured<T>(
    provider: &'static str,
    model: &str,
    call: impl Future<Output = Result<T, GenerationError>>,
) -> Result<T, GenerationError> {
    let started = std::time::Instant::now();
    let result = call.await;
    record(provider, model, outcome(&result), started.elapsed());
    result
}

/// How a call ended, as the `outcome` label reads.
pub fn outcome<T>(result: &Result<T, GenerationError>) -> &'static str {
    match result {
        Ok(_) => "succeeded",
        Err(GenerationError::Refused(_)) => "refused",
        Err(GenerationError::Unavailable(_)) => "unavailable",
        Err(GenerationError::Cancelled) => "cancelled",
        Err(GenerationError::Failed(_)) => "failed",
    }
}

pub fn record(
    provider: &'static str,
    model: &str,
    outcome: &'static str,
    took: std::time::Duration,
) {
    // Models come from the operator's configuration, never from users: a bounded set.
    let model = model.to_string();
    metrics::counter!(
        "reelsmith_provider_calls_total",
        "provider" => provider,
        "model" => model.clone(),
        "outcome" => outcome
    )
    .increment(1);
    metrics::histogram!(
        "reelsmith_provider_call_duration_seconds",
        "provider" => provider,
        "model" => model
    )
    .record(took.as_secs_f64());
}
