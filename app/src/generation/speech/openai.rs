//! Speech from an OpenAI-compatible `POST /audio/speech`.

use super::{check, measured, work_folder, SpeechGenerator, SpeechRequest, Voice};
use crate::generation::{
    llm::OpenAiCompatible,
    ssr::{GeneratedMedia, GenerationError, Run},
};
use anyhow::Context;
use serde_json::json;
use std::{path::PathBuf, sync::Arc};

/// The voices of OpenAI's speech models (`tts-1`, `gpt-4o-mini-tts`); each speaks the
/// language of the text it is given.
const OPENAI_VOICES: [Voice; 6] = [
    Voice {
        id: "alloy",
        label: "Alloy (neutral)",
        language: "mul",
    },
    Voice {
        id: "echo",
        label: "Echo (warm, lower)",
        language: "mul",
    },
    Voice {
        id: "fable",
        label: "Fable (storyteller)",
        language: "mul",
    },
    Voice {
        id: "onyx",
        label: "Onyx (deep)",
        language: "mul",
    },
    Voice {
        id: "nova",
        label: "Nova (bright)",
        language: "mul",
    },
    Voice {
        id: "shimmer",
        label: "Shimmer (soft)",
        language: "mul",
    },
];

/// Speech from an OpenAI-compatible `POST /audio/speech` (OpenAI, or a compatible server
/// such as a local Kokoro or Piper behind the same API), asked for WAV.
pub struct OpenAiSpeech {
    api: Arc<OpenAiCompatible>,
    model: String,
    work_dir: PathBuf,
}

impl OpenAiSpeech {
    /// `api` carries the base URL, key and retries; `model` is the speech model
    /// (`tts-1`).
    pub fn new(api: Arc<OpenAiCompatible>, model: String, work_dir: impl Into<PathBuf>) -> Self {
        Self {
            api,
            model,
            work_dir: work_dir.into(),
        }
    }
}

#[async_trait::async_trait]
impl SpeechGenerator for OpenAiSpeech {
    fn model(&self) -> &str {
        &self.model
    }

    fn voices(&self) -> Vec<Voice> {
        OPENAI_VOICES.to_vec()
    }

    async fn speak(
        &self,
        request: &SpeechRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        check(request, &OPENAI_VOICES)?;
        let body = json!({
            "model": self.model,
            "input": request.text.trim(),
            "voice": request.voice,
            "response_format": "wav",
        });
        let bytes = run
            .cancellable(async {
                let response = self
                    .api
                    .post("/audio/speech", &body, "making speech")
                    .await?;
                response.bytes().await.map_err(|error| {
                    GenerationError::Unavailable(format!("the speech was cut off: {error}"))
                })
            })
            .await?;
        let dir = work_folder(&self.work_dir)?;
        let made = dir.path().join("line.wav");
        tokio::fs::write(&made, &bytes)
            .await
            .context("keeping the speech")?;
        measured(&made, dir, "openai").await
    }
}
