//! Offline speech: espeak-ng on this machine, real speech in many languages (robotic but
//! honest: it is the offline preview).

use super::{check, measured, work_folder, SpeechGenerator, SpeechRequest, Voice};
use crate::generation::ssr::{GeneratedMedia, GenerationError, Run};
use anyhow::Context;
use std::{path::PathBuf, process::Stdio};
use tokio::io::AsyncWriteExt;

/// espeak-ng's voices offered offline: a male and a female variant where it has them.
pub(super) const ESPEAK_VOICES: [Voice; 10] = [
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
    fn model(&self) -> &str {
        "espeak-ng"
    }

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
        measured(&file, dir, crate::generation::offline::PROVIDER).await
    }
}
