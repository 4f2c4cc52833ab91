//! Speech for the voiceover: one trait, three providers. Offline, espeak-ng speaks on this
//! machine (`espeak.rs`); an OpenAI-compatible API answers `POST /audio/speech`
//! (`openai.rs`); Replicate runs a speech model as a prediction (`replicate.rs`). Every
//! line comes back as a WAV file trimmed of the provider's leading and trailing silence,
//! with its measured length, which the storyboard fits scenes to before any clip is paid
//! for.

mod espeak;
mod openai;
mod replicate;

pub use espeak::EspeakSpeech;
pub use openai::OpenAiSpeech;
pub use replicate::{ReplicateSpeech, ReplicateSpeechModel};

use super::{
    ffmpeg,
    ssr::{GeneratedMedia, GenerationError, Run},
};
use anyhow::Context;
use std::path::Path;

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
    /// The model that speaks (`espeak-ng`, `tts-1`, `minimax/speech-02-turbo`): the same
    /// voice id sounds different on another model, so samples are kept per model.
    fn model(&self) -> &str;

    fn voices(&self) -> Vec<Voice>;

    async fn speak(
        &self,
        request: &SpeechRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError>;
}

/// What a voice's sample says, in the voice's language (a voice that speaks any
/// language reads the English one).
pub fn sample_line(voice: &Voice) -> &'static str {
    match voice.language.split('-').next().unwrap_or_default() {
        "de" => "Hallo! So klingt die Stimme deiner Werbung.",
        "fr" => "Bonjour ! Voici la voix de votre publicité.",
        "es" => "¡Hola! Así suena la voz de tu anuncio.",
        "it" => "Ciao! Ecco la voce del tuo spot.",
        "pt" => "Olá! Esta é a voz do seu anúncio.",
        "ar" => "مرحبا! هكذا يبدو صوت إعلانك.",
        _ => "Hello! This is how the voice of your ad sounds.",
    }
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
fn work_folder(work_dir: &Path) -> Result<tempfile::TempDir, GenerationError> {
    std::fs::create_dir_all(work_dir).context("making the speech's work folder")?;
    Ok(tempfile::Builder::new()
        .prefix("speech-")
        .tempdir_in(work_dir)
        .context("making a folder for the speech")?)
}

/// Trims the silence a provider leaves before and after the words (espeak-ng leaves
/// about 0.4 s), measures what is left and labels it: the length scenes are fitted to,
/// and the span captions are timed over, is the speech itself.
/// The speech in `made` (any audio format FFmpeg reads), trimmed of its leading and
/// trailing silence into `dir`/spoken.wav and measured: a provider's padding would
/// otherwise count as the line's length and push captions off the words.
async fn measured(
    made: &Path,
    dir: tempfile::TempDir,
    provider: &'static str,
) -> Result<GeneratedMedia, GenerationError> {
    let probed = ffmpeg::probe(made).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_overlong_and_unknown_voice_requests_are_refused_before_any_call() {
        let ask = |text: &str, voice: &str| SpeechRequest {
            text: text.into(),
            voice: voice.into(),
        };
        assert!(check(
            &ask("Light that follows you.", "en-us"),
            &espeak::ESPEAK_VOICES
        )
        .is_ok());
        for request in [
            ask("   ", "en-us"),
            ask(&"word ".repeat(100), "en-us"),
            ask("Hello", "--path=/etc"),
            ask("Hello", "alloy"),
        ] {
            assert!(
                matches!(
                    check(&request, &espeak::ESPEAK_VOICES),
                    Err(GenerationError::Refused(_))
                ),
                "{request:?}"
            );
        }
    }
}
