//! Speech from a Replicate speech model, run as a prediction like images and clips: its id
//! is saved before waiting, so a restarted worker resumes it instead of paying twice.
//! Two model families are understood, each with its own inputs and voices: MiniMax's
//! `minimax/speech-02-turbo` (and `-hd`, and the newer `speech-2.x` ones; MP3 out, any
//! language) and Kokoro (`jaaari/kokoro-82m`; WAV out, English voices).

use super::{check, measured, work_folder, SpeechGenerator, SpeechRequest, Voice};
use crate::generation::{
    replicate::{Replicate, PROVIDER},
    ssr::{GeneratedMedia, GenerationError, Run},
};
use serde_json::{json, Value};
use std::{path::PathBuf, sync::Arc};

/// Which family a configured Replicate speech model belongs to, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicateSpeechModel {
    /// `minimax/speech-02-turbo`, `minimax/speech-02-hd`, `minimax/speech-2.6-turbo`, ...
    MiniMax,
    /// `jaaari/kokoro-82m`.
    Kokoro,
}

impl ReplicateSpeechModel {
    /// The family of `model`, or why it is not a speech model this app knows how to ask.
    pub fn of(model: &str) -> anyhow::Result<Self> {
        let name = model.to_ascii_lowercase();
        if name.starts_with("minimax/speech-") {
            Ok(Self::MiniMax)
        } else if name.contains("kokoro") {
            Ok(Self::Kokoro)
        } else {
            anyhow::bail!(
                "{model} is not a Replicate speech model Reelsmith can ask: use a MiniMax \
                 speech model (minimax/speech-02-turbo) or Kokoro (jaaari/kokoro-82m)"
            )
        }
    }

    fn voices(self) -> &'static [Voice] {
        match self {
            Self::MiniMax => &MINIMAX_VOICES,
            Self::Kokoro => &KOKORO_VOICES,
        }
    }

    /// The model's input for one line, and the extension of the file it answers with.
    fn input(self, request: &SpeechRequest) -> (Value, &'static str) {
        let text = request.text.trim();
        match self {
            Self::MiniMax => (
                json!({
                    "text": text,
                    "voice_id": request.voice,
                    "speed": 1,
                    "emotion": "auto",
                    "english_normalization": true,
                }),
                "mp3",
            ),
            Self::Kokoro => (
                json!({ "text": text, "voice": request.voice, "speed": 1 }),
                "wav",
            ),
        }
    }
}

/// MiniMax's system voices; each speaks the language of its text.
const MINIMAX_VOICES: [Voice; 8] = [
    Voice {
        id: "Wise_Woman",
        label: "Wise woman",
        language: "mul",
    },
    Voice {
        id: "Friendly_Person",
        label: "Friendly person",
        language: "mul",
    },
    Voice {
        id: "Inspirational_girl",
        label: "Inspirational girl",
        language: "mul",
    },
    Voice {
        id: "Deep_Voice_Man",
        label: "Deep-voiced man",
        language: "mul",
    },
    Voice {
        id: "Calm_Woman",
        label: "Calm woman",
        language: "mul",
    },
    Voice {
        id: "Casual_Guy",
        label: "Casual guy",
        language: "mul",
    },
    Voice {
        id: "Lively_Girl",
        label: "Lively girl",
        language: "mul",
    },
    Voice {
        id: "Elegant_Man",
        label: "Elegant man",
        language: "mul",
    },
];

/// Kokoro's English voices (its first letter is the accent, the second the speaker).
const KOKORO_VOICES: [Voice; 8] = [
    Voice {
        id: "af_bella",
        label: "Bella (US)",
        language: "en-US",
    },
    Voice {
        id: "af_nicole",
        label: "Nicole (US, whispered)",
        language: "en-US",
    },
    Voice {
        id: "af_sarah",
        label: "Sarah (US)",
        language: "en-US",
    },
    Voice {
        id: "am_adam",
        label: "Adam (US)",
        language: "en-US",
    },
    Voice {
        id: "am_michael",
        label: "Michael (US)",
        language: "en-US",
    },
    Voice {
        id: "bf_emma",
        label: "Emma (UK)",
        language: "en-GB",
    },
    Voice {
        id: "bm_george",
        label: "George (UK)",
        language: "en-GB",
    },
    Voice {
        id: "bm_lewis",
        label: "Lewis (UK)",
        language: "en-GB",
    },
];

pub struct ReplicateSpeech {
    replicate: Arc<Replicate>,
    model: String,
    family: ReplicateSpeechModel,
    work_dir: PathBuf,
}

impl ReplicateSpeech {
    /// `model` must be one [`ReplicateSpeechModel::of`] recognises.
    pub fn new(
        replicate: Arc<Replicate>,
        model: String,
        work_dir: impl Into<PathBuf>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            family: ReplicateSpeechModel::of(&model)?,
            replicate,
            model,
            work_dir: work_dir.into(),
        })
    }
}

#[async_trait::async_trait]
impl SpeechGenerator for ReplicateSpeech {
    fn model(&self) -> &str {
        &self.model
    }

    fn voices(&self) -> Vec<Voice> {
        self.family.voices().to_vec()
    }

    async fn speak(
        &self,
        request: &SpeechRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        check(request, self.family.voices())?;
        let (input, extension) = self.family.input(request);
        let made = self
            .replicate
            .run(&self.model, input, extension, run)
            .await?;
        let mut spoken = measured(&made.path(), work_folder(&self.work_dir)?, PROVIDER).await?;
        spoken.prediction_id = made.prediction_id.clone();
        spoken.predict_secs = made.predict_secs;
        Ok(spoken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_models_are_told_apart_by_name_and_others_refused() {
        assert_eq!(
            ReplicateSpeechModel::of("minimax/speech-02-turbo").unwrap(),
            ReplicateSpeechModel::MiniMax
        );
        assert_eq!(
            ReplicateSpeechModel::of("jaaari/kokoro-82m").unwrap(),
            ReplicateSpeechModel::Kokoro
        );
        let refused = ReplicateSpeechModel::of("meta/musicgen").unwrap_err();
        assert!(refused.to_string().contains("minimax/speech-02-turbo"));
    }
}
