//! Step 3's screen: the storyboard's scenes as cards and a timeline, followed live over
//! Server-Sent Events.

mod scene_card;
mod voiceover;

use super::api::{
    get_storyboard, AddScene, ApproveAll, DeleteScene, MoveScene, PlanStoryboard, SceneAction,
    SetDuration,
};
use super::{GenStatus, SceneView, Stage, StoryboardEvent, StoryboardView};
use crate::budget::{dollars, priced};
use crate::components::{error_text, OfflineNote, ReachedStep};
use crate::creative::{MAX_SCENES, MIN_SCENES};
use crate::projects::Step;
use leptos::prelude::*;
use scene_card::SceneCard;
use uuid::Uuid;
use voiceover::VoicePicker;

#[component]
pub fn StoryboardStep(project: Uuid) -> impl IntoView {
    let loaded = Resource::new(
        move || project,
        |project| get_storyboard(project.to_string()),
    );
    let plan = ServerAction::<PlanStoryboard>::new();
    // The storyboard last planned here (a failed plan keeps it)...
    let planned = RwSignal::new(None::<StoryboardView>);
    Effect::new(move |_| {
        if let Some(Ok(view)) = plan.value().get() {
            planned.set(Some(view));
        }
    });
    // ...else the one loaded, read under the `Transition`: the server paints the
    // storyboard itself and the browser takes it over as it is, not the "Plan the
    // storyboard" card first, swapped for the scenes once the page runs.
    let board = move || {
        planned
            .get()
            .or_else(|| loaded.get().and_then(Result::ok).flatten())
    };
    let problem = move || {
        plan.value()
            .get()
            .and_then(Result::err)
            .map(|e| error_text(&e))
    };
    let target = RwSignal::new(30u32);
    let planning = move || plan.pending().get();
    let start = move |replace: bool| {
        plan.dispatch(PlanStoryboard {
            project: project.to_string(),
            target_secs: Some(target.get_untracked()),
            replace: Some(replace),
        });
    };

    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the storyboard…"</p> }>
            {move || {
                match board() {
                    Some(board) => view! { <Storyboard initial=board replan=move || start(true) planning=Signal::derive(planning) /> }.into_any(),
                    None => {
                        view! {
                            <section class="card" aria-labelledby="plan-title">
                                <h2 id="plan-title" class="card-title">"Plan the storyboard"</h2>
                                <p class="muted">
                                    {format!("{MIN_SCENES} to {MAX_SCENES} scenes from your brief and mood: an opening hook, the product, its features and a call to action.")}
                                </p>
                                <div class="row">
                                    <label class="field-label" for="target">"Length"</label>
                                    <select
                                        id="target"
                                        on:change=move |ev| target.set(event_target_value(&ev).parse().unwrap_or(30))
                                    >
                                        {[15u32, 20, 30, 45, 60]
                                            .into_iter()
                                            .map(|secs| view! { <option value=secs.to_string() selected=secs == 30>{format!("{secs} seconds")}</option> })
                                            .collect_view()}
                                    </select>
                                    <button type="button" class="btn btn-primary" disabled=planning on:click=move |_| start(false)>
                                        {move || if planning() { "Planning…" } else { "Plan scenes" }}
                                    </button>
                                </div>
                                {move || problem().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
                            </section>
                        }
                            .into_any()
                    }
                }
            }}
        </Transition>
    }
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn apply_event(scenes: &mut Vec<SceneView>, event: StoryboardEvent) {
    if let StoryboardEvent::SceneUpdate {
        scene,
        scene_id,
        removed,
        ..
    } = event
    {
        scenes.retain(|s| s.id != scene_id);
        if let (false, Some(scene)) = (removed, scene) {
            scenes.push(*scene);
        }
        scenes.sort_by_key(|s| s.position);
    }
}

#[component]
fn Storyboard(
    initial: StoryboardView,
    replan: impl Fn() + Copy + Send + Sync + 'static,
    planning: Signal<bool>,
) -> impl IntoView {
    let storyboard = initial.id;
    let project = initial.project_id;
    let target = initial.target_secs;
    let scenes = RwSignal::new(initial.scenes.clone());
    let live = RwSignal::new(false);
    let complete = RwSignal::new(initial.complete());
    let prices = initial.prices;
    let has_product_photos = initial.has_product_photos;
    let speaks = RwSignal::new(initial.voice.enabled);
    let clip_lengths = initial.clip_lengths.clone();
    let spent = RwSignal::new(initial.standing.spent_microusd);
    let reserved = RwSignal::new(initial.standing.reserved_microusd);
    // What is left, kept current by this project's changes (other projects' spend shows
    // on the next load).
    let left = {
        let start = initial.standing;
        move || {
            let used = spent.get() + reserved.get();
            (start.left_microusd - (used - start.spent_microusd - start.reserved_microusd)).max(0)
        }
    };
    // A storyboard that becomes complete opens the final step in the step indicator.
    if let Some(ReachedStep(reached)) = use_context::<ReachedStep>() {
        Effect::new(move |_| {
            if complete.get() {
                reached.update(|step| *step = (*step).max(Step::FinalVideo));
            }
        });
    }
    let act = ServerAction::<SceneAction>::new();
    let approve_all = ServerAction::<ApproveAll>::new();
    let set_duration = ServerAction::<SetDuration>::new();
    let move_scene = ServerAction::<MoveScene>::new();
    let delete_scene = ServerAction::<DeleteScene>::new();
    let add_scene = ServerAction::<AddScene>::new();
    let problem = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let errors = [
            act.value().get().and_then(Result::err),
            approve_all.value().get().and_then(Result::err),
            set_duration.value().get().and_then(Result::err),
            move_scene.value().get().and_then(Result::err),
            delete_scene.value().get().and_then(Result::err),
            add_scene.value().get().and_then(Result::err),
        ];
        problem.set(errors.into_iter().flatten().next().map(|e| error_text(&e)));
    });

    #[cfg(feature = "hydrate")]
    {
        let on_event = move |name: &'static str, event: StoryboardEvent| match name {
            "storyboard_complete" => complete.set(true),
            _ => {
                if let StoryboardEvent::SceneUpdate {
                    spent_microusd,
                    reserved_microusd,
                    ..
                } = &event
                {
                    spent.set(*spent_microusd);
                    reserved.set(*reserved_microusd);
                }
                scenes.update(|list| apply_event(list, event));
                complete.set(
                    scenes.with_untracked(|l| !l.is_empty() && l.iter().all(|s| s.video_approved)),
                );
            }
        };
        crate::live::follow_on_page(crate::live::Follow {
            url: format!("/api/storyboards/{storyboard}/stream"),
            names: &["scene_update", "storyboard_complete", "storyboard_error"],
            on_event: std::rc::Rc::new(on_event),
            on_open: Some(std::rc::Rc::new(move |open| live.set(open))),
            last: |_| false,
        });
    }

    let total = move || scenes.with(|list| list.iter().map(|s| s.duration_secs).sum::<u32>());
    let busy = move || {
        scenes.with(|list| {
            list.iter()
                .filter(|s| s.image_status.busy() || s.video_status.busy())
                .count()
        })
    };
    let count_stage =
        move |stage: Stage| scenes.with(|list| list.iter().filter(|s| s.stage() == stage).count());
    // What "approve all" would start: an image per text, a clip per ready image (the
    // server passes by a line too long for its scene; one being spoken waits for it).
    let all_images_cost = move || {
        let speaks = speaks.get();
        scenes.with(|list| {
            list.iter()
                .filter(|s| s.stage() == Stage::Text)
                .map(|s| {
                    let line = if speaks {
                        scene_card::speech_cost(s, &prices)
                    } else {
                        0
                    };
                    prices.seed_image(s.shows_product && has_product_photos) + line
                })
                .sum::<i64>()
        })
    };
    let all_clips_cost = move || {
        scenes.with(|list| {
            list.iter()
                .filter(|s| s.stage() == Stage::Image && s.image_status == GenStatus::Ready)
                .filter(|s| !(speaks.get() && s.voice_too_long))
                .map(|s| prices.clip(s.duration_secs))
                .sum::<i64>()
        })
    };
    let approve = move |stage: &'static str| {
        approve_all.dispatch(ApproveAll {
            storyboard: storyboard.to_string(),
            stage: stage.into(),
        });
    };

    view! {
        <section class="card" aria-labelledby="board-title">
            <div class="card-head">
                <h2 id="board-title" class="card-title">"Storyboard"</h2>
                <span class="badge" class:badge-live=move || live.get() role="status">
                    {move || if live.get() { "● Live" } else { "Connecting…" }}
                </span>
            </div>
            <OfflineNote offline=initial.offline />
            <VoicePicker project settings=initial.voice.clone() enabled=speaks />
            <Timeline scenes target />
            <div class="board-summary" role="status" aria-live="polite">
                <span>{move || format!("{} scenes · {} s of {} s", scenes.with(Vec::len), total(), target)}</span>
                <span>{move || format!("{} generating", busy())}</span>
                {if prices.paid() {
                    view! {
                        <span>
                            {move || format!(
                                "Spent {} · reserved {} · {} left",
                                dollars(spent.get()),
                                dollars(reserved.get()),
                                dollars(left()),
                            )}
                        </span>
                    }
                        .into_any()
                } else {
                    view! { <span>"Offline preview: free"</span> }.into_any()
                }}
            </div>
            <div class="row wrap">
                <button type="button" class="btn btn-ghost btn-small" disabled=move || count_stage(Stage::Text) == 0 on:click=move |_| approve("text")>
                    {move || priced("Approve all texts", all_images_cost(), &prices)}
                </button>
                <button type="button" class="btn btn-ghost btn-small" on:click=move |_| approve("image")>
                    {move || priced("Approve all images", all_clips_cost(), &prices)}
                </button>
                <button type="button" class="btn btn-ghost btn-small" on:click=move |_| approve("video")>
                    "Approve all clips"
                </button>
                <button type="button" class="btn btn-ghost btn-small" disabled=planning on:click=move |_| {
                    #[cfg(feature = "hydrate")]
                    if web_sys::window()
                        .and_then(|w| w.confirm_with_message("Plan new scenes? The current storyboard and its generations will be replaced.").ok())
                        != Some(true)
                    {
                        return;
                    }
                    replan();
                }>
                    "Re-plan scenes"
                </button>
            </div>
            {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
            {move || {
                complete
                    .get()
                    .then(|| {
                        view! {
                            <p class="success-note" role="status">
                                "Every scene has an approved clip. "
                                <a href=format!("/projects/{project}/video")>"Continue to the final video"</a>
                            </p>
                        }
                    })
            }}
            <ol class="scene-list">
                <For
                    each=move || scenes.get()
                    key=|scene| (scene.id, format!("{:?}", scene))
                    children=move |scene| {
                        view! {
                            <SceneCard
                                scene
                                count=Signal::derive(move || scenes.with(Vec::len))
                                act
                                set_duration
                                move_scene
                                delete_scene
                                add_scene
                                storyboard
                                prices
                                has_product_photos
                                speaks=speaks.into()
                                clip_lengths=clip_lengths.clone()
                            />
                        }
                    }
                />
            </ol>
        </section>
    }
    .into_any()
}

#[component]
fn Timeline(scenes: RwSignal<Vec<SceneView>>, target: u32) -> impl IntoView {
    let marks: Vec<u32> = (0..=target).step_by(5).collect();
    view! {
        <figure class="timeline" aria-label="Timeline">
            <div class="timeline-bar">
                {move || {
                    scenes
                        .get()
                        .into_iter()
                        .map(|scene| {
                            let hue = (scene.position as u32 * 47 + 250) % 360;
                            view! {
                                <div
                                    class="timeline-segment"
                                    style=format!("flex-grow: {}; background: hsl({hue} 70% 60%)", scene.duration_secs)
                                    title=format!("Scene {}: {} s", scene.position + 1, scene.duration_secs)
                                >
                                    <span>{format!("{} · {}s", scene.position + 1, scene.duration_secs)}</span>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <div class="timeline-marks" aria-hidden="true">
                {marks
                    .into_iter()
                    .map(|t| view! { <span style=format!("left: {}%", t as f64 / target as f64 * 100.0)>{format!("{t}s")}</span> })
                    .collect_view()}
            </div>
        </figure>
    }
}
