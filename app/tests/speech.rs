//! Voiceover speech: espeak-ng offline (real, audible speech whose length follows the
//! text, in the voice's language), and the OpenAI-compatible `POST /audio/speech` against
//! an in-test server speaking its wire format: the request, a WAV answer, an outage and a
//! refusal; and Replicate's speech models (MiniMax, Kokoro) as predictions in Replicate's
//! wire format: created, polled, downloaded, resumed, refused.

// Tests unwrap: a panic is how they fail.
#![allow(clippy::unwrap_used)]

use app::generation::{
    llm::{OpenAiCompatible, OpenAiSettings},
    replicate::{Replicate, ReplicateSettings},
    retry::RetryPolicy,
    speech::{EspeakSpeech, OpenAiSpeech, ReplicateSpeech, SpeechGenerator, SpeechRequest},
    ssr::{GenerationError, Run},
};
use serde_json::json;
use std::{path::Path, sync::Arc, time::Duration};
use wiremock::{
    matchers::{body_json, body_partial_json, header, method, path},
    Mock, MockServer, ResponseTemplate,
};

/// The samples of a 16-bit PCM WAV file, as FFmpeg decodes them (mono, 16 kHz).
async fn samples(file: &Path) -> Vec<i16> {
    let output = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-ac", "1", "-ar", "16000", "-f", "s16le", "-"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    output
        .stdout
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect()
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|s| (*s as f64).powi(2)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

fn line(text: &str, voice: &str) -> SpeechRequest {
    SpeechRequest {
        text: text.into(),
        voice: voice.into(),
    }
}

#[tokio::test]
async fn offline_speech_is_audible_and_as_long_as_its_words() {
    let dir = tempfile::tempdir().unwrap();
    let speech = EspeakSpeech::new(dir.path());
    let run = Run::default();
    let short = speech
        .speak(&line("Meet Lumen.", "en-us"), &run)
        .await
        .unwrap();
    let long = speech
        .speak(
            &line(
                "Meet Lumen, the desk lamp that follows your day, from the first coffee to the last email.",
                "en-us",
            ),
            &run,
        )
        .await
        .unwrap();
    let (short_ms, long_ms) = (short.duration_ms.unwrap(), long.duration_ms.unwrap());
    assert!(short_ms > 400 && short_ms < 2_500, "{short_ms}");
    assert!(long_ms > 3 * short_ms, "{long_ms} vs {short_ms}");
    // Speech, not silence: a loud enough signal, with pauses quieter than the words.
    let heard = samples(&long.path()).await;
    let level = rms(&heard);
    assert!(level > 1_000.0, "RMS {level}");
    let quietest = heard.chunks(1_600).map(rms).fold(f64::INFINITY, f64::min);
    assert!(quietest < level / 4.0, "no pauses: {quietest} vs {level}");
    // The voice speaks its language: the same letters read in German and in English
    // sound different.
    let english = speech
        .speak(&line("Wir lieben Licht", "en-us"), &run)
        .await
        .unwrap();
    let german = speech
        .speak(&line("Wir lieben Licht", "de"), &run)
        .await
        .unwrap();
    let (a, b) = (
        samples(&english.path()).await,
        samples(&german.path()).await,
    );
    assert_ne!(a.len(), b.len(), "the two readings take different times");
    // Every offered voice exists in the installed espeak-ng.
    let installed = tokio::process::Command::new("espeak-ng")
        .arg("--voices")
        .output()
        .await
        .unwrap();
    let installed = String::from_utf8_lossy(&installed.stdout);
    for voice in speech.voices() {
        let base = voice.id.split('+').next().unwrap();
        assert!(
            installed
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(base)),
            "{base} is not installed"
        );
    }
}

#[tokio::test]
async fn offline_speech_refuses_unknown_voices_and_reads_words_not_options() {
    let dir = tempfile::tempdir().unwrap();
    let speech = EspeakSpeech::new(dir.path());
    let run = Run::default();
    let refused = speech.speak(&line("Hello", "-w /tmp/x"), &run).await;
    assert!(matches!(refused, Err(GenerationError::Refused(_))));
    // A line that looks like options is spoken as words.
    let spoken = speech
        .speak(&line("--help -v de --version", "en-gb"), &run)
        .await
        .unwrap();
    assert!(spoken.duration_ms.unwrap() > 800);
}

/// A WAV file of `secs` of a tone, as a speech server would send.
async fn wav(dir: &Path, secs: f64) -> Vec<u8> {
    tone(dir, secs, "wav").await
}

/// `secs` of a tone in a file of the format `extension` names.
async fn tone(dir: &Path, secs: f64, extension: &str) -> Vec<u8> {
    let file = dir.join(format!("tone.{extension}"));
    app::generation::ffmpeg::run(&[
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("sine=frequency=300:d={secs}"),
        "-ar".into(),
        "24000".into(),
        file.to_string_lossy().into_owned(),
    ])
    .await
    .unwrap();
    std::fs::read(file).unwrap()
}

fn openai(server: &MockServer, dir: &Path) -> OpenAiSpeech {
    let api = OpenAiCompatible::new(OpenAiSettings {
        base_url: format!("{}/v1", server.uri()),
        api_key: Some("sk-test".into()),
        model: "unused-chat-model".into(),
        request_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 3,
            first_backoff: Duration::from_millis(10),
        },
    })
    .unwrap();
    OpenAiSpeech::new(Arc::new(api), "tts-1".into(), dir)
}

#[tokio::test]
async fn openai_speech_sends_the_line_and_keeps_the_wav_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/speech"))
        .and(header("authorization", "Bearer sk-test"))
        .and(body_json(json!({
            "model": "tts-1",
            "input": "Light that follows your day.",
            "voice": "nova",
            "response_format": "wav",
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "audio/wav")
                .set_body_bytes(wav(dir.path(), 2.5).await),
        )
        .expect(1)
        .mount(&server)
        .await;
    let speech = openai(&server, dir.path());
    let made = speech
        .speak(
            &line("  Light that follows your day. ", "nova"),
            &Run::default(),
        )
        .await
        .unwrap();
    assert_eq!(made.extension, "wav");
    assert!(
        (made.duration_ms.unwrap() - 2_500).abs() <= 30,
        "{:?}",
        made.duration_ms
    );
    // A voice the model does not have is refused before anything is sent.
    let refused = speech.speak(&line("Hi", "en-us"), &Run::default()).await;
    assert!(matches!(refused, Err(GenerationError::Refused(_))));
}

#[tokio::test]
async fn openai_speech_retries_an_outage_and_reports_a_refusal_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/speech"))
        .respond_with(ResponseTemplate::new(503).set_body_string("overloaded"))
        .expect(3)
        .mount(&server)
        .await;
    let speech = openai(&server, dir.path());
    let down = speech.speak(&line("Hello", "alloy"), &Run::default()).await;
    assert!(
        matches!(down, Err(GenerationError::Unavailable(_))),
        "{down:?}"
    );
    server.verify().await;

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/speech"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": { "message": "This input violates our usage policies.", "type": "invalid_request_error" }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let speech = openai(&server, dir.path());
    match speech.speak(&line("Hello", "alloy"), &Run::default()).await {
        Err(GenerationError::Refused(reason)) => {
            assert!(reason.contains("violates our usage policies"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // A 200 that is not audio is an error, not a silent line.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/speech"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy error</html>"))
        .mount(&server)
        .await;
    let speech = openai(&server, dir.path());
    let broken = speech.speak(&line("Hello", "alloy"), &Run::default()).await;
    assert!(
        matches!(broken, Err(GenerationError::Failed(_))),
        "{broken:?}"
    );
}

fn replicate_speech(server: &MockServer, dir: &Path, model: &str) -> ReplicateSpeech {
    let mut settings = ReplicateSettings::new("r8_test", dir.join("replicate"));
    settings.base_url = format!("{}/v1", server.uri());
    settings.poll_interval = Duration::from_millis(20);
    settings.first_backoff = Duration::from_millis(20);
    settings.max_attempts = 3;
    let replicate = Arc::new(Replicate::new(settings).unwrap());
    ReplicateSpeech::new(replicate, model.into(), dir.join("speech")).unwrap()
}

/// A prediction as Replicate answers it; a succeeded one points at `/files/<id>.<ext>`.
fn speech_prediction(server: &MockServer, id: &str, status: &str, ext: &str) -> serde_json::Value {
    json!({
        "id": id,
        "status": status,
        "input": {},
        "output": if status == "succeeded" { json!(format!("{}/files/{id}.{ext}", server.uri())) } else { json!(null) },
        "error": null,
        "metrics": if status == "succeeded" { json!({"predict_time": 1.25}) } else { json!({}) },
        "urls": { "get": format!("{}/v1/predictions/{id}", server.uri()) }
    })
}

#[tokio::test]
async fn minimax_speech_on_replicate_is_a_prediction_whose_mp3_is_measured() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/models/minimax/speech-02-turbo/predictions"))
        .and(header("authorization", "Bearer r8_test"))
        .and(body_partial_json(json!({"input": {
            "text": "Light that follows your day.",
            "voice_id": "Calm_Woman",
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(speech_prediction(
            &server,
            "s1",
            "processing",
            "mp3",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions/s1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(speech_prediction(
            &server,
            "s1",
            "succeeded",
            "mp3",
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/s1.mp3"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(tone(dir.path(), 2.0, "mp3").await))
        .expect(1)
        .mount(&server)
        .await;
    let speech = replicate_speech(&server, dir.path(), "minimax/speech-02-turbo");
    let made = speech
        .speak(
            &line(" Light that follows your day. ", "Calm_Woman"),
            &Run::default(),
        )
        .await
        .unwrap();
    // Kept as WAV whatever the model answered, its length measured on the sound.
    assert_eq!(made.extension, "wav");
    let ms = made.duration_ms.unwrap();
    assert!((ms - 2_000).abs() <= 60, "{ms} ms");
    assert!(rms(&samples(&made.path()).await) > 1_000.0);
    assert_eq!(made.provider, "replicate");
    assert_eq!(made.prediction_id.as_deref(), Some("s1"));
    assert_eq!(made.predict_secs, Some(1.25));
    // A voice of another model is refused before anything is paid for.
    let refused = speech.speak(&line("Hi", "af_bella"), &Run::default()).await;
    assert!(
        matches!(refused, Err(GenerationError::Refused(_))),
        "{refused:?}"
    );
    server.verify().await;
}

#[tokio::test]
async fn kokoro_on_replicate_resumes_a_saved_prediction_instead_of_paying_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    // No prediction may be created: the saved one is waited on.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions/k7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(speech_prediction(
            &server,
            "k7",
            "succeeded",
            "wav",
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/k7.wav"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(wav(dir.path(), 1.5).await))
        .mount(&server)
        .await;
    let speech = replicate_speech(&server, dir.path(), "jaaari/kokoro-82m");
    let run = Run {
        resume: Some("k7".into()),
        ..Run::default()
    };
    let made = speech
        .speak(&line("Meet Lumen.", "bf_emma"), &run)
        .await
        .unwrap();
    assert_eq!(made.prediction_id.as_deref(), Some("k7"));
    assert!((made.duration_ms.unwrap() - 1_500).abs() <= 30);
    server.verify().await;

    // A fresh line sends Kokoro its own inputs.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/models/jaaari/kokoro-82m/predictions"))
        .and(body_partial_json(
            json!({"input": {"text": "Meet Lumen.", "voice": "bf_emma", "speed": 1}}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(speech_prediction(
            &server,
            "k8",
            "succeeded",
            "wav",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/k8.wav"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(wav(dir.path(), 1.0).await))
        .mount(&server)
        .await;
    let speech = replicate_speech(&server, dir.path(), "jaaari/kokoro-82m");
    let made = speech
        .speak(&line("Meet Lumen.", "bf_emma"), &Run::default())
        .await
        .unwrap();
    assert_eq!(made.prediction_id.as_deref(), Some("k8"));
    server.verify().await;
}

#[tokio::test]
async fn replicate_speech_refusals_and_errors_carry_the_models_reason() {
    let dir = tempfile::tempdir().unwrap();
    // Invalid input: refused at once with Replicate's explanation, not retried.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "title": "Input validation failed",
            "status": 422,
            "detail": "- input.voice_id: voice_id must be one of the following"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let speech = replicate_speech(&server, dir.path(), "minimax/speech-02-turbo");
    match speech
        .speak(&line("Hello", "Wise_Woman"), &Run::default())
        .await
    {
        Err(GenerationError::Refused(reason)) => {
            assert!(reason.contains("voice_id must be"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    server.verify().await;

    // The model declining the text is a refusal; a rate limit is waited out, and one
    // that does not pass is worth trying later.
    let server = MockServer::start().await;
    let mut declined = speech_prediction(&server, "s2", "failed", "mp3");
    declined["error"] = json!("Input text flagged as sensitive content");
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(declined))
        .mount(&server)
        .await;
    let speech = replicate_speech(&server, dir.path(), "minimax/speech-02-turbo");
    let refused = speech
        .speak(&line("Hello", "Wise_Woman"), &Run::default())
        .await;
    assert!(
        matches!(refused, Err(GenerationError::Refused(_))),
        "{refused:?}"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429))
        .expect(3)
        .mount(&server)
        .await;
    let speech = replicate_speech(&server, dir.path(), "minimax/speech-02-turbo");
    let down = speech
        .speak(&line("Hello", "Wise_Woman"), &Run::default())
        .await;
    assert!(
        matches!(down, Err(GenerationError::Unavailable(_))),
        "{down:?}"
    );
}
