//! One scene's card: its text, seed image and clip, each to approve or make again.

use super::voiceover::VoiceLine;
use crate::budget::{priced, Prices};
use crate::creative::{MAX_SCENES, MIN_SCENES};
use crate::storyboard::api::{AddScene, DeleteScene, MoveScene, SceneAction, SetDuration};
use crate::storyboard::{GenStatus, SceneView, Stage};
use leptos::prelude::*;
use uuid::Uuid;

fn status_label(status: GenStatus, what: &str) -> String {
    match status {
        GenStatus::None => format!("No {what} yet"),
        GenStatus::Queued => format!("{} queued", capital(what)),
        GenStatus::Running => format!("Making the {what}…"),
        GenStatus::Ready => format!("{} ready", capital(what)),
        GenStatus::Failed => format!("{} failed", capital(what)),
    }
}

fn capital(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What speaking the scene's line costs, when it is to be spoken (it has one, not yet
/// spoken).
pub(super) fn speech_cost(scene: &SceneView, prices: &Prices) -> i64 {
    if scene.voiceover.trim().is_empty() || scene.voice_status == GenStatus::Ready {
        0
    } else {
        prices.speech(scene.voiceover.chars().count())
    }
}

/// How much of the product the scene's newest media kept: the clip's check once there
/// is a clip, else the image's.
fn product_check(scene: &SceneView) -> Option<impl IntoView> {
    let has_clip = scene.video_status == GenStatus::Ready || scene.video_approved;
    let (score, drift, what) = match (scene.video_match, scene.image_match) {
        (Some(score), _) if has_clip => (score, scene.video_drift, "clip"),
        (_, Some(score)) => (score, scene.image_drift, "image"),
        _ => return None,
    };
    let (class, text) = if drift {
        ("status status-drift", format!("Product drift · {score} %"))
    } else {
        ("status status-match", format!("Product match {score} %"))
    };
    let title = format!("The {what} scored {score} % in the product check");
    Some(view! { <span class=class title=title>{text}</span> })
}

#[component]
#[allow(clippy::too_many_arguments)]
pub(super) fn SceneCard(
    scene: SceneView,
    count: Signal<usize>,
    act: ServerAction<SceneAction>,
    set_duration: ServerAction<SetDuration>,
    move_scene: ServerAction<MoveScene>,
    delete_scene: ServerAction<DeleteScene>,
    add_scene: ServerAction<AddScene>,
    storyboard: Uuid,
    prices: Prices,
    /// The project has product photos, so a scene can be made from the main one.
    has_product_photos: bool,
    /// The project has a voiceover.
    speaks: Signal<bool>,
    /// The lengths the video model makes.
    clip_lengths: Vec<u32>,
) -> impl IntoView {
    // What each spending button costs, in its text and its accessible name.
    let image_cost = prices.seed_image(scene.shows_product && has_product_photos);
    let clip_cost = prices.clip(scene.duration_secs);
    let pay = move |what: &str, cost: i64| priced(what, cost, &prices);
    let id = scene.id.to_string();
    let number = scene.position as usize + 1;
    let stage = scene.stage();
    let text = RwSignal::new(scene.text.clone());
    let edited = {
        let original = scene.text.clone();
        move || text.get().trim() != original.trim()
    };
    let do_action = {
        let id = id.clone();
        move |action: &'static str| {
            act.dispatch(SceneAction {
                scene: id.clone(),
                action: action.into(),
                text: None,
                voiceover: None,
            });
        }
    };
    let save_text = {
        let id = id.clone();
        move || {
            act.dispatch(SceneAction {
                scene: id.clone(),
                action: "edit_text".into(),
                text: Some(text.get_untracked()),
                voiceover: None,
            });
        }
    };
    let stage_badge = match stage {
        Stage::Text => "Text",
        Stage::Image => "Image",
        Stage::Video => "Clip",
        Stage::Done => "Done",
    };
    let image_busy = scene.image_status.busy();
    let video_busy = scene.video_status.busy();
    let label = |what: &str| format!("{what} scene {number}");
    let id_for_duration = id.clone();
    let id_up = id.clone();
    let id_down = id.clone();
    let id_delete = id.clone();
    let id_product = id.clone();
    let shows_product = scene.shows_product;
    let scene_for_voice = scene.clone();
    view! {
        <li class="scene-card" data-stage=stage_badge.to_lowercase() aria-labelledby=format!("scene-{id}-title")>
            <div class="scene-head">
                <h3 id=format!("scene-{id}-title")>{format!("Scene {number} · {}", scene.role.label())}</h3>
                <span class=format!("badge stage-{}", stage_badge.to_lowercase())>{stage_badge}</span>
            </div>
            <div class="scene-media">
                {match (&scene.video_url, &scene.image_url) {
                    (Some(video), poster) if scene.video_status == GenStatus::Ready || scene.video_approved => {
                        view! {
                            <video
                                class="scene-preview"
                                src=video.clone()
                                poster=poster.clone().unwrap_or_default()
                                controls
                                preload="metadata"
                                playsinline
                                aria-label=label("Clip of")
                            ></video>
                        }
                            .into_any()
                    }
                    (_, Some(image)) => view! { <img class="scene-preview" src=image.clone() alt=label("Seed image of") /> }.into_any(),
                    _ => view! { <div class="scene-preview placeholder" aria-hidden="true">{scene.visual.clone()}</div> }.into_any(),
                }}
                {(image_busy || video_busy)
                    .then(|| {
                        view! {
                            <div class="scene-progress" role="status">
                                <span class="spinner" aria-hidden="true"></span>
                                {if video_busy { status_label(scene.video_status, "clip") } else { status_label(scene.image_status, "image") }}
                            </div>
                        }
                    })}
            </div>
            <div class="scene-status">
                <span class=format!("status status-{}", scene.image_status.as_str())>{status_label(scene.image_status, "image")}</span>
                <span class=format!("status status-{}", scene.video_status.as_str())>{
                    if scene.clip_awaits_voice && scene.video_status == GenStatus::None {
                        "Clip after the voiceover".to_string()
                    } else {
                        status_label(scene.video_status, "clip")
                    }
                }</span>
                {product_check(&scene)}
            </div>
            {scene.error.clone().map(|error| {
                let failed = scene.image_status == GenStatus::Failed || scene.video_status == GenStatus::Failed;
                let retry = if scene.video_status == GenStatus::Failed || (scene.image_approved && !scene.video_approved) { "regenerate_video" } else { "regenerate_image" };
                let do_action = do_action.clone();
                view! {
                    <div class="scene-error" role="alert">
                        <span>{error}</span>
                        {failed.then(|| view! {
                            <button type="button" class="btn btn-small btn-ghost" on:click=move |_| do_action(retry) aria-label=pay(&label("Retry"), if retry == "regenerate_video" { clip_cost } else { image_cost })>{pay("Retry", if retry == "regenerate_video" { clip_cost } else { image_cost })}</button>
                        })}
                    </div>
                }
            })}
            <label class="sr-only" for=format!("scene-{id}-text")>{label("Text of")}</label>
            <textarea
                id=format!("scene-{id}-text")
                class="scene-text"
                rows="2"
                maxlength="400"
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            ></textarea>
            <div class="row wrap">
                {
                    let edited = edited.clone();
                    move || edited().then(|| {
                        let save_text = save_text.clone();
                        view! { <button type="button" class="btn btn-small btn-primary" on:click=move |_| save_text()>"Save text"</button> }
                    })
                }
                {
                    let do_action = do_action.clone();
                    view! { <button type="button" class="btn btn-small btn-ghost" aria-label=pay(&label("Rewrite the text of"), prices.director_microusd) on:click=move |_| do_action("regenerate_text")>{pay("Rewrite", prices.director_microusd)}</button> }
                }
                {match stage {
                    Stage::Text => {
                        let do_action = do_action.clone();
                        // Approving the text asks for the image, and speaks the line.
                        let line_cost = speech_cost(&scene, &prices);
                        let cost = move || image_cost + if speaks.get() { line_cost } else { 0 };
                        let name = label("Approve the text of");
                        view! { <button type="button" class="btn btn-small btn-primary" aria-label=move || pay(&name, cost()) on:click=move |_| do_action("approve_text")>{move || pay("Approve text", cost())}</button> }.into_any()
                    }
                    Stage::Image => {
                        let approve = do_action.clone();
                        let again = do_action.clone();
                        let ready = scene.image_status == GenStatus::Ready;
                        // A line too long for the scene holds the clip back; one still
                        // being spoken does not: the clip starts when it is done.
                        let too_long = move || speaks.get() && scene.voice_too_long;
                        view! {
                            <button type="button" class="btn btn-small btn-primary" disabled=move || !ready || too_long() aria-label=pay(&label("Approve the image of"), clip_cost) on:click=move |_| approve("approve_image")>{pay("Approve image", clip_cost)}</button>
                            <button type="button" class="btn btn-small btn-ghost" disabled=image_busy aria-label=pay(&label("Regenerate the image of"), image_cost) on:click=move |_| again("regenerate_image")>{pay("New image", image_cost)}</button>
                        }.into_any()
                    }
                    // Approved, with no clip asked for yet: it waits for the voiceover,
                    // or its length changed and it is to be made again.
                    Stage::Video if scene.video_status == GenStatus::None => {
                        let make = do_action.clone();
                        let voice_pending = scene.voice_pending();
                        let awaits = scene.clip_awaits_voice;
                        let waits = move || speaks.get() && (voice_pending || scene.voice_too_long);
                        // Already asked for: it says when it starts instead of offering it.
                        let make_label = pay(&label("Make the clip of"), clip_cost);
                        let offer = move || if awaits && speaks.get() && voice_pending {
                            view! { <span class="muted" role="status">"The clip starts when the voiceover is ready."</span> }.into_any()
                        } else {
                            let make = make.clone();
                            view! {
                                <button type="button" class="btn btn-small btn-primary" disabled=waits aria-label=make_label.clone() on:click=move |_| make("regenerate_video")>{pay("Make clip", clip_cost)}</button>
                            }.into_any()
                        };
                        view! { {offer} }.into_any()
                    }
                    Stage::Video => {
                        let approve = do_action.clone();
                        let again = do_action.clone();
                        let ready = scene.video_status == GenStatus::Ready;
                        view! {
                            <button type="button" class="btn btn-small btn-primary" disabled=!ready aria-label=label("Approve the clip of") on:click=move |_| approve("approve_video")>"Approve clip"</button>
                            <button type="button" class="btn btn-small btn-ghost" disabled=video_busy aria-label=pay(&label("Regenerate the clip of"), clip_cost) on:click=move |_| again("regenerate_video")>{pay("New clip", clip_cost)}</button>
                        }.into_any()
                    }
                    Stage::Done => {
                        let again = do_action.clone();
                        view! { <button type="button" class="btn btn-small btn-ghost" aria-label=pay(&label("Regenerate the clip of"), clip_cost) on:click=move |_| again("regenerate_video")>{pay("New clip", clip_cost)}</button> }.into_any()
                    }
                }}
            </div>
            {move || speaks.get().then(|| view! { <VoiceLine scene=scene_for_voice.clone() act prices /> })}
            <div class="row wrap scene-tools">
                {has_product_photos.then(|| view! {
                    <label class="check">
                        <input
                            type="checkbox"
                            checked=shows_product
                            aria-label=label("Show the product in")
                            on:change=move |ev| {
                                let action = if event_target_checked(&ev) { "show_product" } else { "hide_product" };
                                act.dispatch(SceneAction { scene: id_product.clone(), action: action.into(), text: None, voiceover: None });
                            }
                        />
                        "Product in the picture"
                    </label>
                })}
                <label class="field-label" for=format!("scene-{id}-duration")>"Length"</label>
                <select
                    id=format!("scene-{id}-duration")
                    on:change=move |ev| {
                        if let Ok(seconds) = event_target_value(&ev).parse() {
                            set_duration.dispatch(SetDuration { scene: id_for_duration.clone(), seconds });
                        }
                    }
                >
                    {clip_lengths
                        .into_iter()
                        .map(|secs| view! { <option value=secs.to_string() selected=secs == scene.duration_secs>{format!("{secs} s")}</option> })
                        .collect_view()}
                </select>
                <button type="button" class="btn btn-small btn-ghost" disabled=number == 1 aria-label=label("Move up") on:click=move |_| {
                    move_scene.dispatch(MoveScene { scene: id_up.clone(), position: number - 1 });
                }>"↑"</button>
                <button type="button" class="btn btn-small btn-ghost" disabled={move || number >= count.get()} aria-label=label("Move down") on:click=move |_| {
                    move_scene.dispatch(MoveScene { scene: id_down.clone(), position: number + 1 });
                }>"↓"</button>
                <button type="button" class="btn btn-small btn-ghost" disabled={move || count.get() >= MAX_SCENES} aria-label=format!("Add a scene after scene {number}") on:click=move |_| {
                    add_scene.dispatch(AddScene { storyboard: storyboard.to_string(), after: number, text: "New scene".into() });
                }>"+ Scene"</button>
                <button type="button" class="btn btn-small btn-danger-text" disabled={move || count.get() <= MIN_SCENES} aria-label=label("Delete") on:click=move |_| {
                    #[cfg(feature = "hydrate")]
                    if web_sys::window().and_then(|w| w.confirm_with_message("Delete this scene?").ok()) != Some(true) {
                        return;
                    }
                    delete_scene.dispatch(DeleteScene { scene: id_delete.clone() });
                }>"Delete"</button>
            </div>
        </li>
    }
    .into_any()
}
