//! `GET /api/voices/{voice}/sample`: a short line in one of the offered voices, so that a
//! person hears a voice before choosing it. Each voice's sample is made once per speech
//! model and kept in storage (shared by every instance and account), so listening again
//! costs nothing; with a paid speech model the few cents of each first sample are the
//! operator's, not counted in any account's spend.

use crate::{
    auth::ssr::AuthUser,
    error::{user_message, AppError},
    generation::{
        speech::{sample_line, SpeechRequest},
        ssr::Run,
    },
    state::AppState,
    storage::ssr::ObjectKey,
};
use axum::{
    extract::{Path, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use bytes::Bytes;

/// Where the sample of `voice` spoken by `model` is kept. Voice and model names have
/// capitals and `+`, which keys do not: both are written in hex.
pub fn sample_key(model: &str, voice: &str) -> anyhow::Result<ObjectKey> {
    let hex = |text: &str| {
        text.bytes()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    ObjectKey::parse(&format!("voice-samples/{}/{}.wav", hex(model), hex(voice)))
}

async fn sample(state: &AppState, voice_id: &str) -> Result<Bytes, AppError> {
    let speech = &state.media.speech;
    let voice = speech
        .voices()
        .into_iter()
        .find(|voice| voice.id == voice_id)
        .ok_or_else(|| AppError::not_found("Voice"))?;
    let key = sample_key(speech.model(), voice.id).map_err(|error| {
        tracing::error!(%error, "a voice sample's key");
        AppError::Internal
    })?;
    if let Ok(kept) = state.storage.get_bytes(&key).await {
        return Ok(kept);
    }
    // One sample made at a time on this instance: two people opening the picker at once
    // must not pay for the same sample twice.
    static MAKING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _making = MAKING.lock().await;
    if let Ok(kept) = state.storage.get_bytes(&key).await {
        return Ok(kept);
    }
    let request = SpeechRequest {
        text: sample_line(&voice).into(),
        voice: voice.id.into(),
    };
    let made = speech
        .speak(&request, &Run::default())
        .await
        .map_err(|error| {
            tracing::warn!(voice = voice.id, %error, "a voice sample could not be made");
            AppError::Busy(format!(
                "The sample of this voice could not be made just now. {} Try again shortly.",
                user_message(&error)
            ))
        })?;
    let bytes = Bytes::from(tokio::fs::read(made.path()).await.map_err(|error| {
        tracing::error!(%error, "reading a voice sample");
        AppError::Internal
    })?);
    if let Err(error) = state
        .storage
        .put_bytes(&key, bytes.clone(), "audio/wav")
        .await
    {
        // The person still hears it; the next one makes it again.
        tracing::warn!(%error, "a voice sample could not be kept");
    }
    Ok(bytes)
}

pub async fn voice_sample(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    Path(voice): Path<String>,
) -> Response {
    match sample(&state, &voice).await {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=86400"),
            );
            response
        }
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_keys_are_valid_for_any_voice_name() {
        let key = sample_key("minimax/speech-02-turbo", "Wise_Woman").unwrap();
        assert!(key.as_str().starts_with("voice-samples/"));
        assert_ne!(
            sample_key("espeak-ng", "en-us+f3").unwrap(),
            sample_key("espeak-ng", "en-us").unwrap()
        );
    }
}
