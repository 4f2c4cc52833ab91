//! Speech for the voiceover: one trait, two providers. Offline, espeak-ng speaks on this
//! machine (real speech in many languages, robotic but honest: it is the offline
//! preview); with an OpenAI-compatible API, `POST /audio/speech` does. Every line comes
//! back as a WAV file with its measured length, which the storyboard fits scenes to
//! before any clip is paid for.

use super::{
    ffmpeg,
    llm::OpenAiCompatible,
    ssr::{GeneratedMedia, GenerationError, Run},
};
use anyhow::Context;
use serde_json::json;
use std::{path::PathBuf, process::Stdio, sync::Arc};
use tokio::io::AsyncWriteExt;

/// The longest line spoken: a 10-second scene holds about 30 words.
pub const MAX_LINE_CHARS: usize = 400;

/// A voice a provider offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voice {
    /// What the provider is asked for (`en-us+f3`, `alloy`).
    pub id: &'static str,
    /// What the voice picker shows.
    pub label: &'static str,
    /// BCP 47 language tag of the voice (`en-US`); an OpenAI voice speaks any language.
    pub language: &'static str,
}

#[derive(Clone, Debug)]
pub struct SpeechRequest {
    pub text: String,
    /// One of the provider's [`SpeechGenerator::voices`].
    pub voice: String,
}

/// Speaks one line into a WAV file; `duration_ms` is measured on it.
#[async_trait::async_trait]
pub trait SpeechGenerator: Send + Sync + 'static {
    fn voices(&self) -> Vec<Voice>;

    async fn speak(
        &self,
        request: &SpeechRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError>;
}

/// Refuses what no provider should be sent: an empty or overlong line, an unknown voice.
fn check(request: &SpeechRequest, voices: &[Voice]) -> Result<(), GenerationError> {
    let text = request.text.trim();
    if text.is_empty() {
        return Err(GenerationError::Refused(
            "there are no words to speak".into(),
        ));
    }
    if text.chars().count() > MAX_LINE_CHARS {
        return Err(GenerationError::Refused(format!(
            "a voiceover line can be at most {MAX_LINE_CHARS} characters"
        )));
    }
    if !voices.iter().any(|voice| voice.id == request.voice) {
        return Err(GenerationError::Refused(format!(
            "there is no voice “{}”",
            request.voice
        )));
    }
    Ok(())
}

/// A folder of its own for one line, under `work_dir` (made when missing).
fn work_folder(work_dir: &std::path::Path) -> Result<tempfile::TempDir, GenerationError> {
    std::fs::create_dir_all(work_dir).context("making the speech's work folder")?;
    Ok(tempfile::Builder::new()
        .prefix("speech-")
        .tempdir_in(work_dir)
        .context("making a folder for the speech")?)
}

/// Trims the silence a provider leaves before and after the words (espeak-ng leaves
/// about 0.4 s), measures what is left and labels it: the length scenes are fitted to,
/// and the span captions are timed over, is the speech itself.
async fn measured(
    dir: tempfile::TempDir,
    provider: &'static str,
) -> Result<GeneratedMedia, GenerationError> {
    let made = dir.path().join("line.wav");
    let probed = ffmpeg::probe(&made).await?;
    if probed.audio_codec.is_none() {
        return Err(GenerationError::Failed(anyhow::anyhow!(
            "the speech is not audio"
        )));
    }
    let trim = "silenceremove=start_periods=1:start_threshold=-50dB";
    let args: Vec<String> = [
        "-hide_banner",
        "-nostdin",
        "-y",
        "-i",
        &made.to_string_lossy(),
        "-af",
        &format!("{trim},areverse,{trim},areverse"),
        "-c:a",
        "pcm_s16le",
        &dir.path().join("spoken.wav").to_string_lossy(),
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    ffmpeg::run(&args).await?;
    let mut media = GeneratedMedia::new(dir, "spoken.wav".into(), "wav", provider);
    let secs = ffmpeg::probe(&media.path())
        .await?
        .duration_secs
        .filter(|secs| *secs > 0.05)
        .ok_or_else(|| GenerationError::Failed(anyhow::anyhow!("the speech is silent")))?;
    media.duration_ms = Some((secs * 1000.0).round() as i32);
    Ok(media)
}

/// espeak-ng's voices offered offline: a male and a female variant where it has them.
const ESPEAK_VOICES: [Voice; 10] = [
    Voice {
        id: "en-us",
        label: "English (US), lower",
        language: "en-US",
    },
    Voice {
        id: "en-us+f3",
        label: "English (US), higher",
        language: "en-US",
    },
    Voice {
        id: "en-gb",
        label: "English (UK), lower",
        language: "en-GB",
    },
    Voice {
        id: "en-gb+f2",
        label: "English (UK), higher",
        language: "en-GB",
    },
    Voice {
        id: "de",
        label: "German",
        language: "de",
    },
    Voice {
        id: "fr-fr",
        label: "French",
        language: "fr",
    },
    Voice {
        id: "es",
        label: "Spanish",
        language: "es",
    },
    Voice {
        id: "it",
        label: "Italian",
        language: "it",
    },
    Voice {
        id: "pt-br",
        label: "Portuguese (Brazil)",
        language: "pt-BR",
    },
    Voice {
        id: "ar",
        label: "Arabic",
        language: "ar",
    },
];

/// Offline speech: espeak-ng (Debian package `espeak-ng`), the text on its standard
/// input so that no word of it is ever read as an option.
pub struct EspeakSpeech {
    work_dir: PathBuf,
}

impl EspeakSpeech {
    pub fn new(work_dir: impl Into<PathBuf>) -> Self {
        Self {
            work_dir: work_dir.into(),
        }
    }
}

#[async_trait::async_trait]
impl SpeechGenerator for EspeakSpeech {
    fn voices(&self) -> Vec<Voice> {
        ESPEAK_VOICES.to_vec()
    }

    async fn speak(
        &self,
        request: &SpeechRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        check(request, &ESPEAK_VOICES)?;
        let dir = work_folder(&self.work_dir)?;
        let file = dir.path().join("line.wav");
        let mut child = tokio::process::Command::new("espeak-ng")
            // 160 words a minute: the pace of a calm advert read.
            .args(["-v", &request.voice, "-s", "160", "--stdin", "-w"])
            .arg(&file)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("running espeak-ng (is the `espeak-ng` package installed?)")?;
        let mut stdin = child.stdin.take().context("espeak-ng's input")?;
        let text = request.text.trim().to_string();
        let output = run
            .cancellable(async move {
                stdin
                    .write_all(text.as_bytes())
                    .await
                    .context("sending the line to espeak-ng")?;
                drop(stdin);
                Ok(child
                    .wait_with_output()
                    .await
                    .context("waiting for espeak-ng")?)
            })
            .await?;
        if !output.status.success() {
            return Err(GenerationError::Failed(anyhow::anyhow!(
                "espeak-ng failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        measured(dir, super::offline::PROVIDER).await
    }
}

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
        tokio::fs::write(dir.path().join("line.wav"), &bytes)
            .await
            .context("keeping the speech")?;
        measured(dir, "openai").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_overlong_and_unknown_voice_requests_are_refused_before_any_call() {
        let ask = |text: &str, voice: &str| SpeechRequest {
            text: text.into(),
            voice: voice.into(),
        };
        assert!(check(&ask("Light that follows you.", "en-us"), &ESPEAK_VOICES).is_ok());
        for request in [
            ask("   ", "en-us"),
            ask(&"word ".repeat(100), "en-us"),
            ask("Hello", "--path=/etc"),
            ask("Hello", "alloy"),
        ] {
            assert!(
                matches!(
                    check(&request, &ESPEAK_VOICES),
                    Err(GenerationError::Refused(_))
                ),
                "{request:?}"
            );
        }
    }
}
