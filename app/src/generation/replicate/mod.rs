//! Replicate's predictions API: image, image-to-video and music models.
//!
//! A prediction is created with `Prefer: wait`, then polled until it settles; its output
//! files (deleted by Replicate after an hour) are downloaded at once. Rate limits (429,
//! honouring `Retry-After`), server errors and network failures are retried with
//! exponential backoff and jitter; invalid input and content-policy refusals are not.
//!
//! Here: the client, polling, downloading, cancelling and running a prediction to its
//! file. `create` makes a prediction without ever paying twice for one; `models` turns
//! image, clip and music requests into model inputs.

mod create;
mod models;

use super::pricing::Price;
use super::retry::{retry_after, with_retries, Attempt, RetryPolicy};
use super::ssr::{GeneratedMedia, GenerationError, Run};
use anyhow::{anyhow, Context};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use std::{path::PathBuf, time::Duration};
use tokio::sync::Semaphore;

pub const PROVIDER: &str = "replicate";

#[derive(Clone)]
pub struct ReplicateSettings {
    /// `https://api.replicate.com/v1`, or a test server.
    pub base_url: String,
    pub api_token: crate::secret::Secret,
    pub image_model: String,
    /// For seed images made from the product's photo.
    pub product_image_model: String,
    pub video_model: String,
    pub music_model: String,
    /// What each model costs: a prediction's cost is worked out from it (and from the
    /// compute time Replicate reports, for models billed by time).
    pub image_price: Price,
    pub product_image_price: Price,
    pub video_price: Price,
    pub music_price: Price,
    pub poll_interval: Duration,
    /// Give up on a prediction that has not settled after this long.
    pub max_wait: Duration,
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub request_timeout: Duration,
    pub max_concurrent: usize,
    pub work_dir: PathBuf,
}

impl ReplicateSettings {
    pub fn new(api_token: impl Into<crate::secret::Secret>, work_dir: PathBuf) -> Self {
        Self {
            base_url: "https://api.replicate.com/v1".into(),
            api_token: api_token.into(),
            image_model: "black-forest-labs/flux-schnell".into(),
            product_image_model: "black-forest-labs/flux-kontext-pro".into(),
            video_model: "bytedance/seedance-1-pro-fast".into(),
            music_model: "meta/musicgen".into(),
            image_price: Price::PerRun(3_000),
            product_image_price: Price::PerRun(40_000),
            video_price: Price::PerOutputSecond(30_000),
            music_price: Price::PerComputeSecond {
                microusd: 1_400,
                seconds_per_unit: 2.0,
            },
            poll_interval: Duration::from_secs(2),
            max_wait: Duration::from_secs(15 * 60),
            max_attempts: 5,
            first_backoff: Duration::from_millis(500),
            request_timeout: Duration::from_secs(90),
            max_concurrent: 4,
            work_dir,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Prediction {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub output: Value,
    #[serde(default)]
    pub error: Value,
    #[serde(default)]
    pub metrics: Option<Metrics>,
    #[serde(default)]
    pub input: Option<Value>,
}

/// What Replicate measured of a prediction.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metrics {
    /// Seconds of compute, which models billed by time are billed for.
    pub predict_time: Option<f64>,
}

impl Prediction {
    fn settled(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed" | "canceled")
    }
}

/// Replicate's error body: `{type, title, status, detail}`.
#[derive(Debug, Deserialize)]
struct ApiError {
    title: Option<String>,
    detail: Option<String>,
}

pub struct Replicate {
    http: reqwest::Client,
    settings: ReplicateSettings,
    permits: Semaphore,
}

fn is_policy_refusal(message: &str) -> bool {
    let message = message.to_lowercase();
    ["nsfw", "safety", "content policy", "flagged", "sensitive"]
        .iter()
        .any(|word| message.contains(word))
}

impl Replicate {
    pub fn new(settings: ReplicateSettings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.work_dir)?;
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            permits: Semaphore::new(settings.max_concurrent),
            settings,
        })
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.settings.max_attempts,
            first_backoff: self.settings.first_backoff,
        }
    }

    /// Sorts a response into done, retry or a final error.
    async fn classify(
        &self,
        response: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Attempt<Prediction>, GenerationError> {
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                return Ok(Attempt::Retry {
                    reason: format!("network error: {error}"),
                    after: None,
                })
            }
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Ok(Attempt::Retry {
                reason: "rate limited (429)".into(),
                after: retry_after(&response),
            });
        }
        if status.is_server_error() {
            return Ok(Attempt::Retry {
                reason: format!("server error ({status})"),
                after: None,
            });
        }
        let body = match response.text().await {
            Ok(body) => body,
            Err(error) => {
                return Ok(Attempt::Retry {
                    reason: format!("reading the answer failed: {error}"),
                    after: None,
                })
            }
        };
        if status.is_client_error() {
            let detail = serde_json::from_str::<ApiError>(&body)
                .ok()
                .and_then(|error| error.detail.or(error.title))
                .unwrap_or_else(|| body.chars().take(300).collect());
            return Err(GenerationError::Refused(format!(
                "Replicate refused the request ({status}): {detail}"
            )));
        }
        serde_json::from_str::<Prediction>(&body)
            .map(Attempt::Done)
            .map_err(|error| {
                GenerationError::Failed(anyhow!(
                    "Replicate answered something that is not a prediction ({error}): {}",
                    body.chars().take(300).collect::<String>()
                ))
            })
    }

    /// Polls a prediction until it settles, then returns the URL of its (first) output file.
    pub async fn finish(
        &self,
        prediction: Prediction,
    ) -> Result<(Prediction, String), GenerationError> {
        let started = tokio::time::Instant::now();
        let url = format!("{}/predictions/{}", self.settings.base_url, prediction.id);
        let mut current = prediction;
        while !current.settled() {
            if started.elapsed() > self.settings.max_wait {
                return Err(GenerationError::Unavailable(format!(
                    "prediction {} did not finish within {:?}",
                    current.id, self.settings.max_wait
                )));
            }
            tokio::time::sleep(self.settings.poll_interval).await;
            current = with_retries(self.policy(), "polling a prediction", || {
                let request = self
                    .http
                    .get(&url)
                    .bearer_auth(self.settings.api_token.expose());
                async move { self.classify(request.send().await).await }
            })
            .await?;
        }
        match current.status.as_str() {
            "succeeded" => {
                let output = first_url(&current.output).ok_or_else(|| {
                    GenerationError::Failed(anyhow!(
                        "prediction {} succeeded without an output file",
                        current.id
                    ))
                })?;
                Ok((current, output))
            }
            "failed" => {
                let message = match &current.error {
                    Value::String(message) => message.clone(),
                    Value::Null => "no reason given".into(),
                    other => other.to_string(),
                };
                if is_policy_refusal(&message) {
                    Err(GenerationError::Refused(format!(
                        "the model declined: {message}"
                    )))
                } else {
                    Err(GenerationError::Failed(anyhow!(
                        "the prediction failed: {message}"
                    )))
                }
            }
            _ => Err(GenerationError::Failed(anyhow::Error::new(DeadPrediction(
                current.id.clone(),
            )))),
        }
    }

    /// Downloads an output file into a new temporary directory.
    async fn download(
        &self,
        url: &str,
        extension: &'static str,
    ) -> Result<GeneratedMedia, GenerationError> {
        let bytes = with_retries(self.policy(), "downloading an output", || {
                let request = self.http.get(url);
                async move {
                    match request.send().await {
                        Err(error) => Ok(Attempt::Retry {
                            reason: format!("network error: {error}"),
                            after: None,
                        }),
                        Ok(response) if response.status().is_server_error() || response.status() == StatusCode::TOO_MANY_REQUESTS => Ok(Attempt::Retry {
                            reason: format!("download answered {}", response.status()),
                            after: None,
                        }),
                        Ok(response) if !response.status().is_success() => Err(GenerationError::Failed(anyhow!(
                            "the output file could not be fetched ({}); Replicate deletes outputs after an hour",
                            response.status()
                        ))),
                        Ok(response) => match response.bytes().await {
                            Ok(bytes) => Ok(Attempt::Done(bytes)),
                            Err(error) => Ok(Attempt::Retry {
                                reason: format!("download interrupted: {error}"),
                                after: None,
                            }),
                        },
                    }
                }
            })
            .await?;
        let dir = tempfile::Builder::new()
            .prefix("replicate-")
            .tempdir_in(&self.settings.work_dir)
            .context("making a download folder")?;
        let file_name = format!("output.{extension}");
        tokio::fs::write(dir.path().join(&file_name), &bytes)
            .await
            .context("saving the output")?;
        Ok(GeneratedMedia::new(dir, file_name, extension, PROVIDER))
    }

    /// Asks Replicate to stop a prediction (best effort: it may have finished already).
    pub async fn cancel(&self, prediction_id: &str) {
        let url = format!(
            "{}/predictions/{prediction_id}/cancel",
            self.settings.base_url
        );
        let result = self
            .http
            .post(&url)
            .bearer_auth(self.settings.api_token.expose())
            .send()
            .await;
        match result {
            Ok(response) if response.status().is_success() => {
                tracing::info!(prediction = prediction_id, "Replicate prediction cancelled")
            }
            Ok(response) => tracing::warn!(
                prediction = prediction_id,
                status = %response.status(),
                "Replicate did not cancel the prediction"
            ),
            Err(error) => tracing::warn!(
                prediction = prediction_id,
                %error,
                "could not reach Replicate to cancel the prediction"
            ),
        }
    }

    /// Creates a prediction and reports its id through `run.on_started` (cancelling it if
    /// the id cannot be saved: an unsaved prediction could be paid for twice).
    async fn start(
        &self,
        model: &str,
        input: &Value,
        run: &Run,
    ) -> Result<Prediction, GenerationError> {
        let adopted = if run.retried {
            match run.cancellable(async { Ok(self.find_created(model, input).await) }).await? {
                Ok(found) => found,
                Err(GenerationError::Unavailable(error)) => {
                    return Err(GenerationError::Unavailable(format!(
                        "an earlier attempt may have made this prediction, and whether it did cannot be told ({error}); not asking twice"
                    )))
                }
                Err(other) => return Err(other),
            }
        } else {
            None
        };
        if let Some(found) = &adopted {
            tracing::warn!(prediction = %found.id, model, "adopting the prediction an earlier attempt made without saving");
        }
        let created = match adopted {
            Some(found) => found,
            None => run.cancellable(self.create(model, input.clone())).await?,
        };
        tracing::info!(prediction = %created.id, model, "Replicate prediction created");
        if let Err(error) = run.started(&created.id).await {
            self.cancel(&created.id).await;
            return Err(error);
        }
        Ok(created)
    }

    /// Runs a prediction to its output file: resumes `run.resume` (a prediction an earlier
    /// attempt paid for) or creates one and reports its id through `run.on_started` before
    /// waiting on it. Cancelling the run cancels the prediction, unless the run was handed off.
    pub async fn run(
        &self,
        model: &str,
        input: Value,
        extension: &'static str,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        let _permit = run
            .cancellable(async {
                self.permits
                    .acquire()
                    .await
                    .map_err(|_| GenerationError::Failed(anyhow!("provider closed")))
            })
            .await?;
        super::calls::measured(PROVIDER, model, self.predict(model, input, extension, run)).await
    }

    /// [`Self::run`] once a permit is had.
    async fn predict(
        &self,
        model: &str,
        input: Value,
        extension: &'static str,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        let pending = match &run.resume {
            Some(id) => {
                tracing::info!(prediction = %id, model, "resuming a Replicate prediction");
                Prediction {
                    id: id.clone(),
                    status: "starting".into(),
                    output: Value::Null,
                    error: Value::Null,
                    metrics: None,
                    input: None,
                }
            }
            None => self.start(model, &input, run).await?,
        };
        let mut id = pending.id.clone();
        let finished = match run.cancellable(self.finish(pending)).await {
            // The prediction an earlier attempt saved was cancelled on Replicate's side (by
            // a person, or an older version of this app shutting down): it will never
            // deliver, so this attempt pays for a new one.
            Err(GenerationError::Failed(error))
                if run.resume.is_some() && error.is::<DeadPrediction>() =>
            {
                tracing::warn!(prediction = %id, model, "the resumed prediction is dead; creating a new one");
                let fresh = self.start(model, &input, run).await?;
                id = fresh.id.clone();
                run.cancellable(self.finish(fresh)).await
            }
            other => other,
        };
        let work = async {
            let (done, output) = finished?;
            let mut media = self.download(&output, extension).await?;
            media.prediction_id = Some(done.id);
            media.predict_secs = done.metrics.and_then(|m| m.predict_time);
            Ok(media)
        };
        match run.cancellable(work).await {
            // The job's new owner waits on this prediction: stopping it would make that
            // owner pay for another.
            Err(GenerationError::Cancelled) if run.is_handed_off() => {
                tracing::info!(prediction = %id, model, "leaving the prediction to the job's new owner");
                Err(GenerationError::Cancelled)
            }
            Err(GenerationError::Cancelled) => {
                self.cancel(&id).await;
                Err(GenerationError::Cancelled)
            }
            other => other,
        }
    }
}

/// A prediction that was cancelled on Replicate's side: it will never deliver.
#[derive(Debug, thiserror::Error)]
#[error("the prediction {0} was canceled")]
struct DeadPrediction(String);

/// The first URL in an output: a string, or a list whose first item is one.
fn first_url(output: &Value) -> Option<String> {
    match output {
        Value::String(url) => Some(url.clone()),
        Value::Array(items) => items.iter().find_map(first_url),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_are_read_as_a_url_or_the_first_of_a_list() {
        assert_eq!(
            first_url(&json!("https://x/a.png")).as_deref(),
            Some("https://x/a.png")
        );
        assert_eq!(
            first_url(&json!(["https://x/1.png", "https://x/2.png"])).as_deref(),
            Some("https://x/1.png")
        );
        assert_eq!(first_url(&json!({"video": 1})), None);
        assert_eq!(first_url(&Value::Null), None);
    }

    #[test]
    fn safety_failures_are_recognised_as_refusals() {
        assert!(is_policy_refusal(
            "NSFW content detected. Try another prompt"
        ));
        assert!(!is_policy_refusal("CUDA out of memory"));
    }
}
