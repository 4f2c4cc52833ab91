//! Creating a prediction without paying twice: a create that got no clear answer is
//! looked for among the recent predictions before it is asked again.

use super::{Prediction, Replicate};
use crate::generation::{
    retry::{with_retries, Attempt},
    ssr::GenerationError,
};
use anyhow::Context;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

impl Replicate {
    /// Creates a prediction, waiting up to a minute for it to settle on the same request.
    /// Save the returned id before going on: `finish` resumes from it after a crash.
    ///
    /// A create that got no clear answer (a timeout, a dropped connection, a 5xx) may
    /// have made the prediction all the same: it is looked for among the recent ones (by
    /// model and identical input, which carries the job's random seed) and adopted,
    /// and only created again when it is certainly not there. A connection that never
    /// opened, or a 429, created nothing and is simply retried.
    pub async fn create(&self, model: &str, input: Value) -> Result<Prediction, GenerationError> {
        let url = format!("{}/models/{model}/predictions", self.settings.base_url);
        let policy = self.policy();
        let mut backoff = policy.first_backoff;
        let mut number = 0;
        loop {
            number += 1;
            let sent = self
                .http
                .post(&url)
                .bearer_auth(self.settings.api_token.expose())
                .header("Prefer", "wait=60")
                .json(&json!({ "input": input }))
                .send()
                .await;
            let ambiguous = match &sent {
                Err(error) => !error.is_connect(),
                Ok(response) => response.status().is_server_error(),
            };
            let (reason, after) = match self.classify(sent).await? {
                Attempt::Done(prediction) => return Ok(prediction),
                Attempt::Retry { reason, after } => (reason, after),
            };
            if ambiguous {
                match self.find_created(model, &input).await {
                    Ok(Some(found)) => {
                        tracing::warn!(prediction = %found.id, model, reason, "a create without a clear answer had made the prediction; adopting it");
                        return Ok(found);
                    }
                    Ok(None) => {}
                    Err(GenerationError::Unavailable(error)) => {
                        return Err(GenerationError::Unavailable(format!(
                            "creating a prediction: {reason}, and whether it was made cannot be told ({error}); not asking twice"
                        )))
                    }
                    Err(other) => return Err(other),
                }
            }
            if number >= policy.max_attempts {
                return Err(GenerationError::Unavailable(format!(
                    "creating a prediction: {reason} (gave up after {number} attempts)"
                )));
            }
            let delay = after.unwrap_or_else(|| backoff.mul_f64(0.5 + rand::random::<f64>() * 0.5));
            tracing::warn!(model, reason, attempt = number, ?delay, "retrying a create");
            tokio::time::sleep(delay).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    /// The prediction of `model` with exactly `input` among the newest ones, if any.
    /// Looking costs nothing and changes nothing, so a look that fails (an outage, a
    /// dropped connection, a cut-off list) is tried again with the usual backoff: one
    /// unlucky request must not fail a scene whose prediction may well be there.
    pub(super) async fn find_created(
        &self,
        model: &str,
        input: &Value,
    ) -> Result<Option<Prediction>, GenerationError> {
        with_retries(
            self.policy(),
            "looking for a prediction made without a clear answer",
            || async {
                Ok(match self.look_for_created(model, input).await {
                    Ok(found) => Attempt::Done(found),
                    Err(error) => Attempt::retry(format!("{error:#}")),
                })
            },
        )
        .await
    }

    async fn look_for_created(
        &self,
        model: &str,
        input: &Value,
    ) -> anyhow::Result<Option<Prediction>> {
        #[derive(Deserialize)]
        struct Page {
            results: Vec<Listed>,
        }
        #[derive(Deserialize)]
        struct Listed {
            id: String,
            #[serde(default)]
            model: Option<String>,
            #[serde(default)]
            input: Option<Value>,
        }
        let get = |url: String| {
            let request = self
                .http
                .get(url)
                .bearer_auth(self.settings.api_token.expose());
            async move {
                let response = request.send().await?.error_for_status()?;
                anyhow::Ok(response.text().await?)
            }
        };
        let page: Page =
            serde_json::from_str(&get(format!("{}/predictions", self.settings.base_url)).await?)
                .context("reading the list of predictions")?;
        for listed in page.results {
            if listed.model.as_deref().is_some_and(|m| m != model) {
                continue;
            }
            // The list may leave inputs out; the prediction itself has them.
            let full: Prediction = match &listed.input {
                Some(found) if found != input => continue,
                _ => serde_json::from_str(
                    &get(format!(
                        "{}/predictions/{}",
                        self.settings.base_url, listed.id
                    ))
                    .await?,
                )
                .context("reading a listed prediction")?,
            };
            if full.input.as_ref() == Some(input) {
                return Ok(Some(full));
            }
        }
        Ok(None)
    }
}
