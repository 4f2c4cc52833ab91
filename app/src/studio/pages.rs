//! The wizard's screens: the brief chat, the mood boards and the storyboard, which
//! follows its scenes live over Server-Sent Events.

use super::api::{
    get_brief, get_moods, get_storyboard, AddScene, ApproveAll, ChooseMood, DeleteScene,
    GenerateMoods, MoveScene, PlanStoryboard, SaveBrief, SceneAction, SetDuration,
};
use super::{
    format_cost, BriefState, ChatLine, GenStatus, MoodBoard, SceneView, Stage, StoryboardEvent,
    StoryboardView,
};
use crate::components::ReachedStep;
use crate::creative::{Brief, MAX_CLIP_SECS, MAX_SCENES, MIN_CLIP_SECS, MIN_SCENES};
use crate::error::AppError;
use crate::projects::Step;
use leptos::prelude::*;
use uuid::Uuid;

fn error_text(error: &AppError) -> String {
    error.to_string()
}

/// The first question, shown before the chat has begun.
const OPENING: &str = "Hi! I'm your creative director for this ad. Let's start with the product: what is it called, and what does it do?";

#[component]
pub fn OfflineNote(offline: bool) -> impl IntoView {
    offline.then(|| {
        view! {
            <p class="offline-note" role="note">
                <strong>"Offline preview. "</strong>
                "No AI keys are configured, so Reelsmith's built-in director and renderer make everything on this machine."
            </p>
        }
    })
}

// ---- Step 1 -----------------------------------------------------------------------

#[component]
pub fn BriefStep(project: Uuid) -> impl IntoView {
    let state = Resource::new(move || project, |project| get_brief(project.to_string()));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the conversation…"</p> }>
            {move || {
                state
                    .get()
                    .map(|result| match result {
                        Ok(initial) => view! { <BriefWorkspace project initial /> }.into_any(),
                        Err(error) => {
                            view! { <p class="form-error" role="alert">{error_text(&error)}</p> }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

#[component]
fn BriefWorkspace(project: Uuid, initial: BriefState) -> impl IntoView {
    let messages = RwSignal::new(initial.messages.clone());
    let brief = RwSignal::new(initial.brief.clone());
    let missing = RwSignal::new(initial.missing.clone());
    let draft = RwSignal::new(String::new());
    let partial = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<String>);
    let offline = initial.offline;

    let apply = move |state: BriefState| {
        messages.set(state.messages);
        brief.set(state.brief);
        missing.set(state.missing);
    };
    let send = move || {
        let text = draft.get_untracked().trim().to_string();
        if text.is_empty() || partial.get_untracked().is_some() {
            return;
        }
        messages.update(|m| {
            m.push(ChatLine {
                role: "user".into(),
                content: text.clone(),
            })
        });
        draft.set(String::new());
        partial.set(Some(String::new()));
        problem.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let result = client::stream_chat(project, &text, move |token| {
                partial.update(|p| {
                    if let Some(p) = p {
                        p.push_str(&token)
                    }
                })
            })
            .await;
            match result {
                Ok(state) => apply(state),
                Err(message) => problem.set(Some(message)),
            }
            partial.set(None);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (text, apply);
    };

    let log = NodeRef::<leptos::html::Ol>::new();
    Effect::new(move |_| {
        messages.track();
        partial.track();
        if let Some(log) = log.get() {
            log.set_scroll_top(log.scroll_height());
        }
    });

    view! {
        <div class="brief-layout">
            <section class="card chat" aria-labelledby="chat-title">
                <h2 id="chat-title" class="card-title">"Creative director"</h2>
                <OfflineNote offline />
                <ol class="chat-log" node_ref=log aria-live="polite" aria-label="Conversation">
                    <li class="bubble bubble-assistant">{OPENING}</li>
                    <For
                        each=move || messages.get().into_iter().enumerate()
                        key=|(i, line)| (*i, line.content.len())
                        children=move |(_, line)| {
                            let class = if line.role == "user" {
                                "bubble bubble-user"
                            } else {
                                "bubble bubble-assistant"
                            };
                            view! { <li class=class>{line.content}</li> }
                        }
                    />
                    {move || {
                        partial
                            .get()
                            .map(|text| {
                                view! {
                                    <li class="bubble bubble-assistant bubble-streaming" aria-busy="true">
                                        {if text.is_empty() { "…".to_string() } else { text }}
                                    </li>
                                }
                            })
                    }}
                </ol>
                {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
                <form
                    class="chat-form"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        send();
                    }
                >
                    <label class="sr-only" for="chat-input">"Your message"</label>
                    <textarea
                        id="chat-input"
                        name="message"
                        rows="2"
                        maxlength="4000"
                        placeholder="Answer the director…"
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))
                        on:keydown=move |ev| {
                            if ev.key() == "Enter" && !ev.shift_key() {
                                ev.prevent_default();
                                send();
                            }
                        }
                    ></textarea>
                    <button
                        type="submit"
                        class="btn btn-primary"
                        disabled=move || partial.get().is_some()
                    >
                        {move || if partial.get().is_some() { "Writing…" } else { "Send" }}
                    </button>
                </form>
            </section>
            <BriefEditor project brief missing on_saved=apply />
        </div>
    }
}

#[component]
fn BriefEditor(
    project: Uuid,
    brief: RwSignal<Brief>,
    missing: RwSignal<Vec<String>>,
    on_saved: impl Fn(BriefState) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let save = ServerAction::<SaveBrief>::new();
    Effect::new(move |_| {
        if let Some(Ok(state)) = save.value().get() {
            on_saved(state);
        }
    });
    let error = move || {
        save.value()
            .get()
            .and_then(Result::err)
            .map(|e| error_text(&e))
    };
    let field = |label: &'static str,
                 name: &'static str,
                 value: Signal<String>,
                 hint: &'static str,
                 multiline: bool| {
        let id = format!("brief-{name}");
        view! {
            <div class="field">
                <label class="field-label" for=id.clone()>{label}</label>
                {if multiline {
                    view! { <textarea id=id.clone() name=name rows="3" prop:value=move || value.get()></textarea> }
                        .into_any()
                } else {
                    view! { <input id=id.clone() name=name type="text" prop:value=move || value.get() /> }
                        .into_any()
                }}
                <span class="field-hint">{hint}</span>
            </div>
        }
    };
    let text = move |f: fn(&Brief) -> String| Signal::derive(move || brief.with(f));
    view! {
        <section class="card brief" aria-labelledby="brief-title">
            <h2 id="brief-title" class="card-title">"Brief"</h2>
            <p class="muted">"Filled in from the chat as you go. Edit anything, then save."</p>
            <ActionForm action=save attr:class="form-stack">
                <input type="hidden" name="project" value=project.to_string() />
                {field("Product name", "product_name", text(|b| b.product_name.clone()), "", false)}
                {field("Audience", "audience", text(|b| b.audience.clone()), "", false)}
                {field("Emotional tone", "emotional_tone", text(|b| b.emotional_tone.join(", ")), "Separated by commas", false)}
                {field("Visual style", "visual_style", text(|b| b.visual_style.join(", ")), "Separated by commas", false)}
                {field("Key messages", "key_messages", text(|b| b.key_messages.join("\n")), "One per line", true)}
                {field("Call to action", "call_to_action", text(|b| b.call_to_action.clone()), "", false)}
                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <div class="row">
                    <button type="submit" class="btn btn-ghost" disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Saving…" } else { "Save brief" }}
                    </button>
                    {move || {
                        let missing = missing.get();
                        if missing.is_empty() {
                            view! {
                                <a class="btn btn-primary" href=format!("/projects/{project}/mood")>
                                    "Continue to moods"
                                </a>
                            }
                                .into_any()
                        } else {
                            view! {
                                <p class="muted small">{format!("Still needed: {}.", missing.join(", "))}</p>
                            }
                                .into_any()
                        }
                    }}
                </div>
            </ActionForm>
        </section>
    }
}

// ---- Step 2 -----------------------------------------------------------------------

#[component]
pub fn MoodStep(project: Uuid) -> impl IntoView {
    let loaded = Resource::new(move || project, |project| get_moods(project.to_string()));
    let boards = RwSignal::new(Vec::<MoodBoard>::new());
    let generate = ServerAction::<GenerateMoods>::new();
    let choose = ServerAction::<ChooseMood>::new();
    Effect::new(move |_| {
        if let Some(Ok(list)) = loaded.get() {
            boards.set(list);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(list)) = generate.value().get() {
            boards.set(list);
        }
    });
    let chosen = RwSignal::new(None::<Uuid>);
    Effect::new(move |_| {
        if let Some(board) = boards.get().into_iter().find(|b| b.chosen) {
            chosen.set(Some(board.id));
        }
    });
    // A failed choice falls back to what the server has.
    Effect::new(move |_| {
        if let Some(Err(_)) = choose.value().get() {
            chosen.set(
                boards
                    .get_untracked()
                    .into_iter()
                    .find(|b| b.chosen)
                    .map(|b| b.id),
            );
        }
    });
    let busy = move || generate.pending().get();
    let problem = move || {
        generate
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| choose.value().get().and_then(Result::err))
            .map(|e| error_text(&e))
    };
    let regenerate = move |position: Option<i16>| {
        generate.dispatch(GenerateMoods {
            project: project.to_string(),
            position,
        });
    };

    view! {
        <section class="card" aria-labelledby="mood-title">
            <div class="card-head">
                <h2 id="mood-title" class="card-title">"Pick a mood"</h2>
                <button type="button" class="btn btn-ghost" disabled=busy on:click=move |_| regenerate(None)>
                    {move || if boards.get().is_empty() { "Create mood boards" } else { "Regenerate all" }}
                </button>
            </div>
            {move || problem().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
            {move || {
                busy()
                    .then(|| {
                        view! {
                            <p class="progress-note" role="status">
                                <span class="spinner" aria-hidden="true"></span>
                                "Creating mood boards and their images…"
                            </p>
                        }
                    })
            }}
            <Transition fallback=|| view! { <p class="muted">"Loading moods…"</p> }>
                {move || {
                    loaded.track();
                    let list = boards.get();
                    if list.is_empty() && !busy() {
                        view! {
                            <p class="empty-state">
                                "Three mood boards will be made from your brief: each with a palette, keywords, an art direction and three sample images."
                            </p>
                        }
                            .into_any()
                    } else {
                        view! {
                            <ul class="mood-grid">
                                {list
                                    .into_iter()
                                    .map(|board| {
                                        let id = board.id;
                                        let position = board.position;
                                        let name = board.mood.name.clone();
                                        let is_chosen = move || chosen.get() == Some(id);
                                        view! {
                                            <li class="mood-card" class:mood-chosen=is_chosen>
                                                <div class="mood-images">
                                                    {board
                                                        .images
                                                        .iter()
                                                        .enumerate()
                                                        .map(|(n, src)| {
                                                            view! {
                                                                <img
                                                                    class=if n == 0 { "mood-image mood-hero" } else { "mood-image" }
                                                                    src=src.clone()
                                                                    alt=format!("Sample image {} for {}", n + 1, name)
                                                                    loading="lazy"
                                                                />
                                                            }
                                                        })
                                                        .collect_view()}
                                                </div>
                                                <div class="mood-body">
                                                    <h3>{board.mood.name.clone()}</h3>
                                                    <p class="muted small">{board.mood.description.clone()}</p>
                                                    <ul class="swatches" aria-label="Palette">
                                                        {board
                                                            .mood
                                                            .palette
                                                            .iter()
                                                            .map(|colour| {
                                                                view! {
                                                                    <li class="swatch" style=format!("background: {colour}") title=colour.clone()>
                                                                        <span class="sr-only">{colour.clone()}</span>
                                                                    </li>
                                                                }
                                                            })
                                                            .collect_view()}
                                                    </ul>
                                                    <p class="keywords">{board.mood.style_keywords.join(" · ")}</p>
                                                    <p class="small">{board.mood.aesthetic.clone()}</p>
                                                    <div class="row">
                                                        <button
                                                            type="button"
                                                            class="btn btn-primary btn-small"
                                                            aria-pressed=move || is_chosen().to_string()
                                                            aria-label=format!("Choose the mood {}", board.mood.name)
                                                            on:click=move |_| {
                                                                chosen.set(Some(id));
                                                                choose.dispatch(ChooseMood {
                                                                    project: project.to_string(),
                                                                    mood: id.to_string(),
                                                                });
                                                            }
                                                        >
                                                            {move || if is_chosen() { "Chosen" } else { "Choose" }}
                                                        </button>
                                                        <button
                                                            type="button"
                                                            class="btn btn-ghost btn-small"
                                                            disabled=busy
                                                            aria-label=format!("Regenerate the mood {}", board.mood.name)
                                                            on:click=move |_| regenerate(Some(position))
                                                        >
                                                            "Regenerate"
                                                        </button>
                                                    </div>
                                                </div>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }
                }}
            </Transition>
            {move || {
                chosen
                    .get()
                    .map(|_| {
                        view! {
                            <div class="row end">
                                <a class="btn btn-primary" href=format!("/projects/{project}/storyboard")>
                                    "Continue to the storyboard"
                                </a>
                            </div>
                        }
                    })
            }}
        </section>
    }
}

// ---- Step 3 -----------------------------------------------------------------------

#[component]
pub fn StoryboardStep(project: Uuid) -> impl IntoView {
    let loaded = Resource::new(
        move || project,
        |project| get_storyboard(project.to_string()),
    );
    let plan = ServerAction::<PlanStoryboard>::new();
    let view_signal = RwSignal::new(None::<StoryboardView>);
    Effect::new(move |_| {
        if let Some(Ok(view)) = loaded.get() {
            view_signal.set(view);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(view)) = plan.value().get() {
            view_signal.set(Some(view));
        }
    });
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
                loaded.track();
                match view_signal.get() {
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
            scenes.push(scene);
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
    let spent = RwSignal::new(initial.cost_microusd);
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
        let last_id = initial.last_event_id;
        let source =
            client::subscribe(
                storyboard,
                last_id,
                move |name, event| match name.as_str() {
                    "storyboard_complete" => complete.set(true),
                    _ => {
                        if let StoryboardEvent::SceneUpdate { spent_microusd, .. } = &event {
                            spent.set(*spent_microusd);
                        }
                        scenes.update(|list| apply_event(list, event));
                        complete.set(scenes.with_untracked(|l| {
                            !l.is_empty() && l.iter().all(|s| s.video_approved)
                        }));
                    }
                },
                move |open| live.set(open),
            );
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || {
            if let Some(source) = source.take() {
                source.close();
            }
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
            <Timeline scenes target />
            <div class="board-summary" role="status" aria-live="polite">
                <span>{move || format!("{} scenes · {} s of {} s", scenes.with(Vec::len), total(), target)}</span>
                <span>{move || format!("{} generating", busy())}</span>
                <span>{move || format!("Spent so far: {}", format_cost(spent.get()))}</span>
            </div>
            <div class="row wrap">
                <button type="button" class="btn btn-ghost btn-small" disabled=move || count_stage(Stage::Text) == 0 on:click=move |_| approve("text")>
                    "Approve all texts"
                </button>
                <button type="button" class="btn btn-ghost btn-small" on:click=move |_| approve("image")>
                    "Approve all images"
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

#[component]
#[allow(clippy::too_many_arguments)]
fn SceneCard(
    scene: SceneView,
    count: Signal<usize>,
    act: ServerAction<SceneAction>,
    set_duration: ServerAction<SetDuration>,
    move_scene: ServerAction<MoveScene>,
    delete_scene: ServerAction<DeleteScene>,
    add_scene: ServerAction<AddScene>,
    storyboard: Uuid,
) -> impl IntoView {
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
                <span class=format!("status status-{}", scene.video_status.as_str())>{status_label(scene.video_status, "clip")}</span>
            </div>
            {scene.error.clone().map(|error| {
                let failed = scene.image_status == GenStatus::Failed || scene.video_status == GenStatus::Failed;
                let retry = if scene.video_status == GenStatus::Failed || (scene.image_approved && !scene.video_approved) { "regenerate_video" } else { "regenerate_image" };
                let do_action = do_action.clone();
                view! {
                    <div class="scene-error" role="alert">
                        <span>{error}</span>
                        {failed.then(|| view! {
                            <button type="button" class="btn btn-small btn-ghost" on:click=move |_| do_action(retry) aria-label=label("Retry")>"Retry"</button>
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
                    view! { <button type="button" class="btn btn-small btn-ghost" aria-label=label("Rewrite the text of") on:click=move |_| do_action("regenerate_text")>"Rewrite"</button> }
                }
                {match stage {
                    Stage::Text => {
                        let do_action = do_action.clone();
                        view! { <button type="button" class="btn btn-small btn-primary" aria-label=label("Approve the text of") on:click=move |_| do_action("approve_text")>"Approve text"</button> }.into_any()
                    }
                    Stage::Image => {
                        let approve = do_action.clone();
                        let again = do_action.clone();
                        let ready = scene.image_status == GenStatus::Ready;
                        view! {
                            <button type="button" class="btn btn-small btn-primary" disabled=!ready aria-label=label("Approve the image of") on:click=move |_| approve("approve_image")>"Approve image"</button>
                            <button type="button" class="btn btn-small btn-ghost" disabled=image_busy aria-label=label("Regenerate the image of") on:click=move |_| again("regenerate_image")>"New image"</button>
                        }.into_any()
                    }
                    Stage::Video => {
                        let approve = do_action.clone();
                        let again = do_action.clone();
                        let ready = scene.video_status == GenStatus::Ready;
                        view! {
                            <button type="button" class="btn btn-small btn-primary" disabled=!ready aria-label=label("Approve the clip of") on:click=move |_| approve("approve_video")>"Approve clip"</button>
                            <button type="button" class="btn btn-small btn-ghost" disabled=video_busy || scene.video_status == GenStatus::None aria-label=label("Regenerate the clip of") on:click=move |_| again("regenerate_video")>"New clip"</button>
                        }.into_any()
                    }
                    Stage::Done => {
                        let again = do_action.clone();
                        view! { <button type="button" class="btn btn-small btn-ghost" aria-label=label("Regenerate the clip of") on:click=move |_| again("regenerate_video")>"New clip"</button> }.into_any()
                    }
                }}
            </div>
            <div class="row wrap scene-tools">
                <label class="field-label" for=format!("scene-{id}-duration")>"Length"</label>
                <select
                    id=format!("scene-{id}-duration")
                    on:change=move |ev| {
                        if let Ok(seconds) = event_target_value(&ev).parse() {
                            set_duration.dispatch(SetDuration { scene: id_for_duration.clone(), seconds });
                        }
                    }
                >
                    {(MIN_CLIP_SECS..=MAX_CLIP_SECS)
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

// ---- Step 4 -----------------------------------------------------------------------

fn megabytes(bytes: i64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

#[component]
pub fn FinalStep(project: Uuid) -> impl IntoView {
    use crate::render::api::get_final_state;
    let loaded = Resource::new(
        move || project,
        |project| get_final_state(project.to_string()),
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                loaded
                    .get()
                    .map(|result| match result {
                        Ok(initial) => view! { <FinalVideo project initial /> }.into_any(),
                        Err(error) => {
                            view! { <p class="form-error" role="alert">{error_text(&error)}</p> }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

#[component]
fn FinalVideo(project: Uuid, initial: crate::render::FinalState) -> impl IntoView {
    use crate::render::{
        api::{CancelRender, MakeMusic, RevokeShare, ShareRender, StartRender},
        download_name,
    };
    let state = RwSignal::new(initial.clone());
    let make_music = ServerAction::<MakeMusic>::new();
    let start = ServerAction::<StartRender>::new();
    let cancel = ServerAction::<CancelRender>::new();
    let use_music = RwSignal::new(initial.soundtrack_url.is_some());
    let volume = RwSignal::new(30u32);
    let problem = RwSignal::new(None::<String>);
    let share = ServerAction::<ShareRender>::new();
    let revoke = ServerAction::<RevokeShare>::new();
    let refresh = ServerAction::<crate::render::api::GetFinalState>::new();
    // After sharing or revoking, read the versions again (tokens and views).
    Effect::new(move |_| {
        let shared = share.value().get();
        let revoked = revoke.value().get();
        for error in [
            shared.and_then(Result::err),
            revoked.clone().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        {
            problem.set(Some(error_text(&error)));
        }
        if share.version().get() + revoke.version().get() > 0 {
            refresh.dispatch(crate::render::api::GetFinalState {
                project: project.to_string(),
            });
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(new)) = refresh.value().get() {
            state.set(new);
        }
    });
    Effect::new(move |_| {
        for result in [make_music.value().get(), start.value().get()]
            .into_iter()
            .flatten()
        {
            match result {
                Ok(new) => {
                    if new.soundtrack_url.is_some()
                        && state.with_untracked(|s| s.soundtrack_url.is_none())
                    {
                        use_music.set(true);
                    }
                    state.set(new);
                    problem.set(None);
                }
                Err(error) => problem.set(Some(error_text(&error))),
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Err(error)) = cancel.value().get() {
            problem.set(Some(error_text(&error)));
        }
    });
    let active = move || state.with(|s| s.renders.iter().find(|r| !r.finished()).cloned());

    // Follow the running render's progress.
    #[cfg(feature = "hydrate")]
    {
        use crate::render::RenderEvent;
        let following = send_wrapper::SendWrapper::new(std::cell::RefCell::new(
            None::<(Uuid, web_sys::EventSource)>,
        ));
        Effect::new(move |_| {
            let current = active().map(|r| r.id);
            let mut slot = following.borrow_mut();
            if slot.as_ref().map(|(id, _)| *id) == current {
                return;
            }
            if let Some((_, source)) = slot.take() {
                source.close();
            }
            if let Some(id) = current {
                let source = client::follow_render(id, move |event| {
                    state.update(|s| {
                        if let Some(render) = s.renders.iter_mut().find(|r| r.id == id) {
                            match event {
                                RenderEvent::Progress { percent, stage } => {
                                    render.percent = render.percent.max(percent);
                                    render.stage = stage;
                                    render.status = "running".into();
                                }
                                RenderEvent::Complete { render: done } => *render = *done,
                                RenderEvent::Error { message } => {
                                    render.status = if message.contains("cancelled") {
                                        "cancelled".into()
                                    } else {
                                        "failed".into()
                                    };
                                    render.error = Some(message);
                                }
                            }
                        }
                    })
                });
                *slot = source.map(|source| (id, source));
            }
        });
    }

    let name = initial.project_name.clone();
    view! {
        <section class="card" aria-labelledby="final-title">
            <div class="card-head">
                <h2 id="final-title" class="card-title">"Final video"</h2>
            </div>
            <OfflineNote offline=initial.offline />
            {move || {
                state.with(|s| {
                    match &s.blocked {
                        Some(reason) => view! { <p class="empty-state">{reason.clone()}</p> }.into_any(),
                        None => view! { <p class="muted">{format!("{} approved clips, {:.1} seconds with crossfades, titles and music.", s.clips, s.seconds)}</p> }.into_any(),
                    }
                })
            }}
            <div class="music-panel">
                <h3>"Music"</h3>
                {move || {
                    state
                        .with(|s| s.soundtrack_url.clone())
                        .map(|src| view! { <audio class="music-preview" src=src controls preload="metadata" aria-label="Music preview"></audio> })
                }}
                <div class="row wrap">
                    <button
                        type="button"
                        class="btn btn-ghost btn-small"
                        disabled=move || make_music.pending().get() || !state.with(|s| s.ready)
                        on:click=move |_| {
                            make_music.dispatch(MakeMusic { project: project.to_string() });
                        }
                    >
                        {move || {
                            if make_music.pending().get() {
                                "Making music…"
                            } else if state.with(|s| s.soundtrack_url.is_some()) {
                                "New music"
                            } else {
                                "Make music"
                            }
                        }}
                    </button>
                    <label class="check">
                        <input
                            type="checkbox"
                            prop:checked=move || use_music.get()
                            disabled=move || state.with(|s| s.soundtrack_url.is_none())
                            on:change=move |ev| use_music.set(event_target_checked(&ev))
                        />
                        "Use music"
                    </label>
                    <label class="field-label" for="music-volume">"Volume"</label>
                    <input
                        id="music-volume"
                        type="range"
                        min="0"
                        max="100"
                        step="5"
                        prop:value=move || volume.get().to_string()
                        on:input=move |ev| volume.set(event_target_value(&ev).parse().unwrap_or(30))
                    />
                    <span class="small">{move || format!("{}%", volume.get())}</span>
                </div>
            </div>
            <div class="row wrap">
                <button
                    type="button"
                    class="btn btn-primary"
                    disabled=move || !state.with(|s| s.ready) || active().is_some() || start.pending().get()
                    on:click=move |_| {
                        start.dispatch(StartRender {
                            project: project.to_string(),
                            music: use_music.get_untracked(),
                            volume: volume.get_untracked(),
                        });
                    }
                >
                    {move || if state.with(|s| s.renders.is_empty()) { "Render video" } else { "Render a new version" }}
                </button>
            </div>
            {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
            {move || {
                active()
                    .map(|render| {
                        let id = render.id;
                        view! {
                            <div class="render-progress" role="status" aria-live="polite">
                                <div class="row">
                                    <span>{format!("Version {} · {}", render.version, render.stage)}</span>
                                    <span class="small">{format!("{:.0}%", render.percent)}</span>
                                </div>
                                <div class="progress" role="progressbar" aria-label="Render progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{:.0}", render.percent)>
                                    <div class="progress-fill" style=format!("width: {:.1}%", render.percent)></div>
                                </div>
                                <button type="button" class="btn btn-ghost btn-small" on:click=move |_| {
                                    cancel.dispatch(CancelRender { render: id.to_string() });
                                }>"Cancel render"</button>
                            </div>
                        }
                    })
            }}
            <ol class="render-list" aria-label="Versions">
                {move || {
                    let name = name.clone();
                    state
                        .get()
                        .renders
                        .into_iter()
                        .filter(|r| r.finished())
                        .map(|render| {
                            let file = download_name(&name, render.version);
                            view! {
                                <li class="render-card">
                                    <div class="row">
                                        <h3>{format!("Version {}", render.version)}</h3>
                                        <span class=format!("status status-{}", if render.status == "succeeded" { "ready" } else { "failed" })>{render.status.clone()}</span>
                                    </div>
                                    {render.video_url.clone().map(|src| view! {
                                        <video class="render-video" src=src.clone() controls preload="metadata" playsinline aria-label=format!("Final video, version {}", render.version)></video>
                                        <p class="small muted">
                                            {format!(
                                                "{:.1} s · {}×{} · {}{}",
                                                render.duration_ms.unwrap_or(0) as f64 / 1000.0,
                                                render.width.unwrap_or(0),
                                                render.height.unwrap_or(0),
                                                render.bytes.map(megabytes).unwrap_or_default(),
                                                if render.with_music { " · with music" } else { "" },
                                            )}
                                        </p>
                                        <a class="btn btn-ghost btn-small" href=render.download_url.clone().unwrap_or(src) download=file.clone()>"Download MP4"</a>
                                    })}
                                    {(render.status == "succeeded").then(|| {
                                        let id = render.id.to_string();
                                        match render.share_token.clone() {
                                            None => view! {
                                                <button type="button" class="btn btn-primary btn-small" aria-label=format!("Create a share link for version {}", render.version) on:click=move |_| {
                                                    share.dispatch(ShareRender { render: id.clone() });
                                                }>"Create share link"</button>
                                            }.into_any(),
                                            Some(token) => {
                                                let path = format!("{}/s/{token}", state.with_untracked(|s| s.public_url.clone()));
                                                let field = format!("share-{}", render.version);
                                                let views = render.share_views;
                                                view! {
                                                    <div class="share-box">
                                                        <label class="field-label" for=field.clone()>"Share link"</label>
                                                        <input id=field type="text" readonly class="share-url" value=path.clone() on:focus=move |ev| {
                                                            #[cfg(feature = "hydrate")]
                                                            {
                                                                use wasm_bindgen::JsCast;
                                                                if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                                                                    input.select();
                                                                }
                                                            }
                                                            #[cfg(not(feature = "hydrate"))]
                                                            let _ = ev;
                                                        } />
                                                        <div class="row wrap">
                                                            <a class="btn btn-ghost btn-small" href=path target="_blank" rel="noopener">"Open"</a>
                                                            <span class="small muted">{format!("{views} view{}", if views == 1 { "" } else { "s" })}</span>
                                                            <button type="button" class="btn btn-small btn-danger-text" on:click=move |_| {
                                                                revoke.dispatch(RevokeShare { token: token.clone() });
                                                            }>"Revoke link"</button>
                                                        </div>
                                                    </div>
                                                }.into_any()
                                            }
                                        }
                                    })}
                                    {render.error.clone().map(|e| view! { <p class="small muted">{e}</p> })}
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ol>
        </section>
    }
    .into_any()
}

/// Browser-only plumbing: the chat's streamed reply and the storyboard's event source.
#[cfg(feature = "hydrate")]
mod client {
    use super::*;
    use wasm_bindgen::{closure::Closure, JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    fn text_of(value: JsValue) -> String {
        value.as_string().unwrap_or_default()
    }

    /// Sends a chat message and reads the streamed reply: `on_token` for each piece, then
    /// the new state (or the error to show).
    pub async fn stream_chat(
        project: Uuid,
        message: &str,
        on_token: impl Fn(String) + 'static,
    ) -> Result<BriefState, String> {
        let failed = |what: &str| {
            format!("Could not reach Reelsmith ({what}). Check your connection and try again.")
        };
        let window = web_sys::window().ok_or_else(|| failed("no window"))?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        let headers = web_sys::Headers::new().map_err(|_| failed("headers"))?;
        headers
            .set("content-type", "application/json")
            .map_err(|_| failed("headers"))?;
        headers
            .set("accept", "text/event-stream")
            .map_err(|_| failed("headers"))?;
        init.set_headers(&headers);
        let body = serde_json::json!({ "message": message }).to_string();
        init.set_body(&JsValue::from_str(&body));
        let request = web_sys::Request::new_with_str_and_init(
            &format!("/api/projects/{project}/chat"),
            &init,
        )
        .map_err(|_| failed("request"))?;
        let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
            .await
            .map_err(|_| failed("network"))?
            .unchecked_into();
        if !response.ok() {
            let text = match response.text() {
                Ok(promise) => JsFuture::from(promise)
                    .await
                    .map(text_of)
                    .unwrap_or_default(),
                Err(_) => String::new(),
            };
            return Err(serde_json::from_str::<AppError>(&text)
                .map(|e| e.to_string())
                .unwrap_or_else(|_| failed(&format!("status {}", response.status()))));
        }
        let reader: web_sys::ReadableStreamDefaultReader = response
            .body()
            .ok_or_else(|| failed("empty answer"))?
            .get_reader()
            .unchecked_into();
        let decoder = web_sys::TextDecoder::new().map_err(|_| failed("decoder"))?;
        let mut buffer = String::new();
        let mut event = String::new();
        let mut data = String::new();
        loop {
            let chunk = JsFuture::from(reader.read())
                .await
                .map_err(|_| failed("interrupted"))?;
            let done = js_sys::Reflect::get(&chunk, &"done".into())
                .map(|d| d.is_truthy())
                .unwrap_or(true);
            if done {
                return Err(failed("the reply ended early"));
            }
            let value: js_sys::Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())
                .map_err(|_| failed("read"))?
                .unchecked_into();
            let options = web_sys::TextDecodeOptions::new();
            options.set_stream(true);
            buffer.push_str(
                &decoder
                    .decode_with_js_u8_array_and_options(&value, &options)
                    .unwrap_or_default(),
            );
            while let Some(end) = buffer.find('\n') {
                let line = buffer[..end].trim_end_matches('\r').to_string();
                buffer.drain(..=end);
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.strip_prefix(' ').unwrap_or(value));
                } else if line.is_empty() && !data.is_empty() {
                    let payload = std::mem::take(&mut data);
                    match event.as_str() {
                        "token" => {
                            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&payload) {
                                on_token(value["text"].as_str().unwrap_or_default().to_string());
                            }
                        }
                        "done" => {
                            return serde_json::from_str(&payload)
                                .map_err(|_| failed("unreadable brief"));
                        }
                        "error" => {
                            let value: serde_json::Value =
                                serde_json::from_str(&payload).unwrap_or_default();
                            return Err(value["message"]
                                .as_str()
                                .unwrap_or("The director could not answer.")
                                .to_string());
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Follows a render's progress until it completes or fails.
    pub fn follow_render(
        render: Uuid,
        on_event: impl Fn(crate::render::RenderEvent) + 'static,
    ) -> Option<web_sys::EventSource> {
        let source =
            web_sys::EventSource::new(&format!("/api/compositions/{render}/stream")).ok()?;
        let on_event = std::rc::Rc::new(on_event);
        for name in ["progress", "complete", "error"] {
            let on_event = on_event.clone();
            let closer = source.clone();
            let listener = Closure::<dyn Fn(web_sys::MessageEvent)>::new(
                move |message: web_sys::MessageEvent| {
                    if let Some(data) = message.data().as_string() {
                        if let Ok(event) = serde_json::from_str::<crate::render::RenderEvent>(&data)
                        {
                            let last =
                                !matches!(event, crate::render::RenderEvent::Progress { .. });
                            on_event(event);
                            if last {
                                closer.close();
                            }
                        }
                    }
                },
            );
            let _ =
                source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            listener.forget();
        }
        Some(source)
    }

    /// Follows the storyboard's events; the browser reconnects by itself and sends
    /// `Last-Event-ID`, so nothing is missed.
    pub fn subscribe(
        storyboard: Uuid,
        _last_event_id: i64,
        on_event: impl Fn(String, StoryboardEvent) + 'static,
        on_open: impl Fn(bool) + 'static,
    ) -> Option<web_sys::EventSource> {
        let source =
            web_sys::EventSource::new(&format!("/api/storyboards/{storyboard}/stream")).ok()?;
        let on_event = std::rc::Rc::new(on_event);
        for name in ["scene_update", "storyboard_complete", "storyboard_error"] {
            let on_event = on_event.clone();
            let listener = Closure::<dyn Fn(web_sys::MessageEvent)>::new(
                move |message: web_sys::MessageEvent| {
                    if let Some(data) = message.data().as_string() {
                        if let Ok(event) = serde_json::from_str::<StoryboardEvent>(&data) {
                            on_event(name.to_string(), event);
                        }
                    }
                },
            );
            let _ =
                source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            listener.forget();
        }
        let on_open = std::rc::Rc::new(on_open);
        let opened = {
            let on_open = on_open.clone();
            Closure::<dyn Fn()>::new(move || on_open(true))
        };
        source.set_onopen(Some(opened.as_ref().unchecked_ref()));
        opened.forget();
        let errored = Closure::<dyn Fn()>::new(move || on_open(false));
        source.set_onerror(Some(errored.as_ref().unchecked_ref()));
        errored.forget();
        Some(source)
    }
}
