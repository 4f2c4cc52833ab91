//! The language model: streamed chat and structured JSON output, through any
//! OpenAI-compatible endpoint (OpenAI, OpenRouter, Ollama, vLLM).

use super::{
    retry::{retry_after, with_retries, Attempt, RetryPolicy},
    ssr::GenerationError,
};
use anyhow::anyhow;
use futures::{stream::BoxStream, StreamExt};
use reqwest::StatusCode;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// Tokens of a reply as they come.
pub type TokenStream = BoxStream<'static, Result<String, GenerationError>>;

/// The tokens a model reported using (its answers' `usage`), summed over the calls made
/// while [`measured`] ran: what the operator is billed for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Clone, Default)]
struct Meter(std::sync::Arc<std::sync::Mutex<Option<Usage>>>);

impl Meter {
    fn add(&self, usage: &Value) {
        let (Some(input), Some(output)) = (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64(),
        ) else {
            return;
        };
        let mut total = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let sum = total.get_or_insert_with(Usage::default);
        sum.input_tokens += input;
        sum.output_tokens += output;
    }
}

tokio::task_local! {
    /// Where the calls made inside [`measured`] add what they used: a task-local, so
    /// that the `Llm` trait and every director function need no extra argument.
    static METER: Meter;
}

/// Runs `work` and returns what its model calls reported using, or `None` when none
/// reported any (the offline director, or a server that does not say).
pub async fn measured<F: std::future::Future>(work: F) -> (F::Output, Option<Usage>) {
    let meter = Meter::default();
    let output = METER.scope(meter.clone(), work).await;
    let usage = *meter
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (output, usage)
}

/// The meter of the [`measured`] scope the caller runs in, if any.
fn current_meter() -> Option<Meter> {
    METER.try_with(Meter::clone).ok()
}

#[async_trait::async_trait]
pub trait Llm: Send + Sync + 'static {
    async fn chat_stream(&self, messages: &[ChatMessage]) -> Result<TokenStream, GenerationError>;

    /// A reply asked to follow `schema` (a JSON Schema), as the raw text the model sent.
    async fn complete_json(
        &self,
        messages: &[ChatMessage],
        schema_name: &str,
        schema: &Value,
    ) -> Result<String, GenerationError>;
}

/// Asks for JSON matching `schema` and reads it as `T`. A reply that is not valid JSON or
/// does not fit `T` gets one repair attempt: the model sees its reply and the error.
pub async fn structured<T: DeserializeOwned>(
    llm: &dyn Llm,
    messages: &[ChatMessage],
    schema_name: &str,
    schema: &Value,
) -> Result<T, GenerationError> {
    let reply = llm.complete_json(messages, schema_name, schema).await?;
    let problem = match serde_json::from_str::<T>(&reply) {
        Ok(value) => return Ok(value),
        Err(error) => error.to_string(),
    };
    tracing::warn!(
        schema_name,
        problem,
        "model reply did not fit; asking for a repair"
    );
    let mut repair = messages.to_vec();
    repair.push(ChatMessage::new(Role::Assistant, reply));
    repair.push(ChatMessage::new(
        Role::User,
        format!(
            "That reply is not valid for the `{schema_name}` schema: {problem}. \
             Answer again with only the corrected JSON."
        ),
    ));
    let second = llm.complete_json(&repair, schema_name, schema).await?;
    serde_json::from_str::<T>(&second).map_err(|error| {
        GenerationError::Failed(anyhow!(
            "the model's reply did not fit `{schema_name}` even after a repair: {error}"
        ))
    })
}

#[derive(Clone)]
pub struct OpenAiSettings {
    /// e.g. `https://api.openai.com/v1`, `https://openrouter.ai/api/v1`, `http://localhost:11434/v1`.
    pub base_url: String,
    pub api_key: Option<crate::secret::Secret>,
    pub model: String,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

pub struct OpenAiCompatible {
    http: reqwest::Client,
    settings: OpenAiSettings,
}

impl OpenAiCompatible {
    pub fn new(settings: OpenAiSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(settings.request_timeout)
            .build()?;
        Ok(Self { http, settings })
    }

    /// Sends a chat request; see [`Self::post`].
    async fn send(&self, body: &Value) -> Result<reqwest::Response, GenerationError> {
        self.post("/chat/completions", body, "calling the language model")
            .await
    }

    /// Posts `body` to `path` of the API (`/chat/completions`, `/audio/speech`), retrying
    /// rate limits, server and network errors; other client errors are final (a wrong
    /// key or model, invalid input, a refusal).
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
        what: &str,
    ) -> Result<reqwest::Response, GenerationError> {
        let url = format!("{}{path}", self.settings.base_url.trim_end_matches('/'));
        let model = body["model"].as_str().unwrap_or("unnamed").to_string();
        let call = with_retries(self.settings.retry, what, || {
            let mut request = self.http.post(&url).json(body);
            if let Some(key) = &self.settings.api_key {
                request = request.bearer_auth(key.expose());
            }
            async move {
                let response = match request.send().await {
                    Ok(response) => response,
                    Err(error) => return Ok(Attempt::retry(format!("network error: {error}"))),
                };
                let status = response.status();
                if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                    return Ok(Attempt::Retry {
                        reason: format!("the service answered {status}"),
                        after: retry_after(&response),
                    });
                }
                if !status.is_success() {
                    let body = response.text().await.unwrap_or_default();
                    let message = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                        .unwrap_or_else(|| body.chars().take(300).collect());
                    return Err(GenerationError::Refused(format!(
                        "the model refused the request ({status}): {message}"
                    )));
                }
                Ok(Attempt::Done(response))
            }
        });
        // Until the answer starts (a streamed reply's first words).
        super::calls::measured("openai", &model, call).await
    }
}

impl OpenAiCompatible {
    /// A reply asked to follow `schema`, to messages already in the wire format: what
    /// [`Llm::complete_json`] sends, and what a caller needing content parts (an image
    /// beside the text, for a vision model) builds itself.
    pub async fn complete_json_messages(
        &self,
        messages: Value,
        schema_name: &str,
        schema: &Value,
    ) -> Result<String, GenerationError> {
        let body = json!({
            "model": self.settings.model,
            "messages": messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": { "name": schema_name, "schema": schema, "strict": true }
            },
        });
        let response = self.send(&body).await?;
        let reply: Value = response.json().await.map_err(|error| {
            GenerationError::Failed(anyhow!(
                "unreadable answer from the language model: {error}"
            ))
        })?;
        if let Some(meter) = current_meter() {
            meter.add(&reply["usage"]);
        }
        reply["choices"][0]["message"]["content"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                GenerationError::Failed(anyhow!(
                    "the language model answered without content: {reply}"
                ))
            })
    }
}

/// Reads server-sent events from a byte stream: the `data:` payloads, one per event,
/// until `[DONE]`. Comment lines (`:`) and other fields are skipped.
pub fn sse_data<S, E>(bytes: S) -> BoxStream<'static, Result<String, GenerationError>>
where
    S: futures::Stream<Item = Result<bytes::Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let stream = async_stream::try_stream! {
        let mut buffer: Vec<u8> = Vec::new();
        let mut data = String::new();
        futures::pin_mut!(bytes);
        'read: while let Some(chunk) = bytes.next().await {
            let chunk = chunk.map_err(|error| GenerationError::Unavailable(format!("the reply was cut off: {error}")))?;
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches(['\r', '\n']);
                if line.is_empty() {
                    if !data.is_empty() {
                        let event = std::mem::take(&mut data);
                        if event == "[DONE]" {
                            break 'read;
                        }
                        yield event;
                    }
                } else if let Some(value) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value.strip_prefix(' ').unwrap_or(value));
                }
            }
        }
        if !data.is_empty() && data != "[DONE]" {
            yield data;
        }
    };
    Box::pin(stream)
}

#[async_trait::async_trait]
impl Llm for OpenAiCompatible {
    async fn chat_stream(&self, messages: &[ChatMessage]) -> Result<TokenStream, GenerationError> {
        // `include_usage` asks for a last chunk with the tokens used, which the reply's
        // cost is settled to.
        let body = json!({
            "model": self.settings.model,
            "messages": messages,
            "stream": true,
            "stream_options": { "include_usage": true },
        });
        let response = self.send(&body).await?;
        // The stream is read after this call returns, maybe outside the caller's scope.
        let meter = current_meter();
        let tokens = sse_data(response.bytes_stream()).filter_map(move |event| {
            let meter = meter.clone();
            async move {
                match event {
                    Err(error) => Some(Err(error)),
                    Ok(payload) => match serde_json::from_str::<Value>(&payload) {
                        Err(error) => Some(Err(GenerationError::Failed(anyhow!(
                            "unreadable chunk from the language model ({error}): {payload}"
                        )))),
                        Ok(chunk) => {
                            if let Some(meter) =
                                meter.as_ref().filter(|_| chunk["usage"].is_object())
                            {
                                meter.add(&chunk["usage"]);
                            }
                            chunk["choices"][0]["delta"]["content"]
                                .as_str()
                                .filter(|token| !token.is_empty())
                                .map(|token| Ok(token.to_string()))
                        }
                    },
                }
            }
        });
        Ok(Box::pin(tokens))
    }

    async fn complete_json(
        &self,
        messages: &[ChatMessage],
        schema_name: &str,
        schema: &Value,
    ) -> Result<String, GenerationError> {
        self.complete_json_messages(json!(messages), schema_name, schema)
            .await
    }
}
