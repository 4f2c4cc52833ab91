//! The voiceover on the storyboard: the project's voice picker, and each scene's line
//! with its speech to hear, its length against the scene's, and a shorter line from the
//! director when it does not fit.

use crate::budget::{priced, Prices};
use crate::components::error_text;
use crate::creative::MAX_VOICEOVER_CHARS;
use crate::storyboard::api::{SceneAction, SetVoice};
use crate::storyboard::{GenStatus, SceneView, VoiceSettings};
use leptos::prelude::*;
use uuid::Uuid;

/// The value of the picker's "No voiceover" choice.
const NO_VOICE: &str = "";

#[component]
pub(super) fn VoicePicker(
    project: Uuid,
    settings: VoiceSettings,
    enabled: RwSignal<bool>,
) -> impl IntoView {
    let set_voice = ServerAction::<SetVoice>::new();
    let chosen = if settings.enabled {
        settings.voice.clone()
    } else {
        NO_VOICE.to_string()
    };
    // The voice whose sample the player beside the picker plays.
    let hearing = RwSignal::new(chosen.clone());
    let sample_label = {
        let voices = settings.voices.clone();
        move || {
            let id = hearing.get();
            let label = voices
                .iter()
                .find(|voice| voice.id == id)
                .map(|voice| voice.label.clone())
                .unwrap_or_default();
            format!("Sample of the voice {label}")
        }
    };
    let problem = move || {
        set_voice
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| error_text(&e))
    };
    view! {
        <div class="row wrap voice-picker">
            <label class="field-label" for="voice">"Voiceover"</label>
            <select
                id="voice"
                disabled=move || set_voice.pending().get()
                on:change=move |ev| {
                    let value = event_target_value(&ev);
                    let on = value != NO_VOICE;
                    enabled.set(on);
                    hearing.set(value.clone());
                    set_voice.dispatch(SetVoice {
                        project: project.to_string(),
                        enabled: on,
                        voice: on.then_some(value),
                    });
                }
            >
                <option value=NO_VOICE selected=chosen.is_empty()>"No voiceover"</option>
                {settings
                    .voices
                    .iter()
                    .map(|voice| {
                        view! { <option value=voice.id.clone() selected=voice.id == chosen>{voice.label.clone()}</option> }
                    })
                    .collect_view()}
            </select>
            {move || {
                let voice = hearing.get();
                (voice != NO_VOICE).then(|| {
                    // Voice ids are letters, digits, `_`, `-` and `+`: safe in a path as they are.
                    let src = format!("/api/voices/{voice}/sample");
                    view! { <audio class="voice-sample" src=src controls preload="none" aria-label=sample_label()></audio> }
                })
            }}
            <span class="muted small">"Each approved scene's line is spoken in it; hear it on the scene."</span>
            {move || problem().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
        </div>
    }
}

fn voice_status(scene: &SceneView) -> String {
    match (scene.voice_status, scene.voice_ms) {
        (GenStatus::Ready, Some(ms)) => format!("Spoken in {:.1} s", f64::from(ms) / 1000.0),
        (GenStatus::Queued, _) => "Voiceover queued".into(),
        (GenStatus::Running, _) => "Speaking the line…".into(),
        (GenStatus::Failed, _) => "Voiceover failed".into(),
        _ if scene.text_approved => "Not spoken".into(),
        _ => "Spoken when the text is approved".into(),
    }
}

#[component]
pub(super) fn VoiceLine(
    scene: SceneView,
    act: ServerAction<SceneAction>,
    prices: Prices,
) -> impl IntoView {
    let id = scene.id.to_string();
    let number = scene.position as usize + 1;
    let line = RwSignal::new(scene.voiceover.clone());
    let edited = {
        let original = scene.voiceover.clone();
        move || line.get().trim() != original.trim()
    };
    let send = {
        let id = id.clone();
        move |action: &'static str, voiceover: Option<String>| {
            act.dispatch(SceneAction {
                scene: id.clone(),
                action: action.into(),
                text: None,
                voiceover,
            });
        }
    };
    let save = send.clone();
    let shorten = send.clone();
    let again = send.clone();
    let failed = scene.voice_status == GenStatus::Failed;
    let spoken_line = scene.voiceover.clone();
    // A line is spoken (and paid for) once its text is approved.
    let speak_cost = move |line: &str| {
        if scene.text_approved && !line.trim().is_empty() {
            prices.speech(line.trim().chars().count())
        } else {
            0
        }
    };
    let again_label = priced(
        &format!("Speak the voiceover of scene {number} again"),
        speak_cost(&spoken_line),
        &prices,
    );
    let again_text = priced("Speak again", speak_cost(&spoken_line), &prices);
    let busy = scene.voice_status.busy();
    let warning = scene
        .voice_ms
        .filter(|_| scene.voice_too_long)
        .map(|ms| crate::creative::timing::too_long_message(ms, scene.duration_secs));
    view! {
        <div class="voice-line">
            <label class="field-label" for=format!("scene-{id}-voiceover")>{format!("Voiceover of scene {number}")}</label>
            <textarea
                id=format!("scene-{id}-voiceover")
                class="scene-text"
                rows="2"
                maxlength=MAX_VOICEOVER_CHARS.to_string()
                placeholder="What the voice says over this scene (empty: nothing)"
                prop:value=move || line.get()
                on:input=move |ev| line.set(event_target_value(&ev))
            ></textarea>
            <div class="row wrap">
                <span class=format!("status status-{}", scene.voice_status.as_str()) role="status">
                    {busy.then(|| view! { <span class="spinner" aria-hidden="true"></span> })}
                    {voice_status(&scene)}
                </span>
                {scene.voice_url.clone().map(|url| view! {
                    <audio class="voice-preview" src=url controls preload="none" aria-label=format!("Voiceover of scene {number}, spoken")></audio>
                })}
                {failed.then(|| view! {
                    <button type="button" class="btn btn-small btn-ghost" aria-label=again_label on:click=move |_| again("edit_voiceover", Some(spoken_line.clone()))>{again_text}</button>
                })}
                {move || edited().then(|| {
                    let save = save.clone();
                    view! { <button type="button" class="btn btn-small btn-primary" aria-label=priced(&format!("Save the voiceover of scene {number}"), speak_cost(&line.get()), &prices) on:click=move |_| save("edit_voiceover", Some(line.get_untracked()))>{priced("Save line", speak_cost(&line.get()), &prices)}</button> }
                })}
            </div>
            {warning.map(|warning| view! {
                <div class="scene-error" role="alert">
                    <span>{warning}</span>
                    <button type="button" class="btn btn-small btn-ghost" aria-label=priced(&format!("Shorten the voiceover of scene {number}"), prices.director_microusd, &prices) on:click=move |_| shorten("shorten_voiceover", None)>
                        {priced("Shorten the line", prices.director_microusd, &prices)}
                    </button>
                </div>
            })}
        </div>
    }
}
