//! Step 4's screen: music, the render with its live progress, and every version with its
//! player, download and share link.

use super::api::get_final_state;
use super::FinalState;
#[cfg(feature = "hydrate")]
use super::RenderEvent;
use crate::components::{error_text, OfflineNote};
use leptos::prelude::*;
use uuid::Uuid;

fn megabytes(bytes: i64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

#[component]
pub fn FinalStep(project: Uuid) -> impl IntoView {
    let loaded = Resource::new(
        move || project,
        |project| get_final_state(project.to_string()),
    );
    let brand = crate::brand::pages::load_project_brand(project);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                loaded
                    .get()
                    .map(|result| match result {
                        Ok(initial) => {
                            view! {
                                <FinalVideo project initial />
                                <crate::brand::pages::ProjectBrandCard project loaded=brand />
                            }
                                .into_any()
                        }
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
fn FinalVideo(project: Uuid, initial: FinalState) -> impl IntoView {
    let prices = crate::budget::pages::use_prices(project);
    use crate::render::{
        api::{CancelRender, MakeMusic, StartRender},
        captions::CaptionStyle,
        download_name,
    };
    use crate::share::api::{RevokeShare, ShareRender};
    let state = RwSignal::new(initial.clone());
    let make_music = ServerAction::<MakeMusic>::new();
    let start = ServerAction::<StartRender>::new();
    let captions = RwSignal::new(CaptionStyle::default().as_str().to_string());
    let cancel = ServerAction::<CancelRender>::new();
    let use_music = RwSignal::new(initial.soundtrack_url.is_some());
    let volume = RwSignal::new(30u32);
    let problem = RwSignal::new(None::<String>);
    let share = ServerAction::<ShareRender>::new();
    let revoke = ServerAction::<RevokeShare>::new();
    let refresh = ServerAction::<super::api::GetFinalState>::new();
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
            refresh.dispatch(super::api::GetFinalState {
                project: project.to_string(),
            });
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(new)) = refresh.value().get() {
            if new.soundtrack_url.is_some() && state.with_untracked(|s| s.soundtrack_url.is_none())
            {
                use_music.set(true);
            }
            state.set(new);
        }
    });
    // The music is made by a background job; the project's stream says when it is done.
    #[cfg(feature = "hydrate")]
    {
        crate::live::follow_project(project, &["music_changed"], move || {
            refresh.dispatch(super::api::GetFinalState {
                project: project.to_string(),
            });
        });
    }
    let music_busy = move || make_music.pending().get() || state.with(|s| s.music_busy);
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
                let on_event = move |_: &'static str, event: RenderEvent| {
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
                };
                let source = crate::live::follow(crate::live::Follow {
                    url: format!("/api/compositions/{id}/stream"),
                    names: &["progress", "complete", "error"],
                    on_event: std::rc::Rc::new(on_event),
                    on_open: None,
                    last: |event| !matches!(event, RenderEvent::Progress { .. }),
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
                {move || music_busy().then(|| view! {
                    <p class="progress-note" role="status">
                        <span class="spinner" aria-hidden="true"></span>
                        "Making music from the mood…"
                    </p>
                })}
                {move || state.with(|s| s.music_error.clone()).map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                {move || {
                    state
                        .with(|s| s.soundtrack_url.clone())
                        .map(|src| view! { <audio class="music-preview" src=src controls preload="metadata" aria-label="Music preview"></audio> })
                }}
                <div class="row wrap">
                    <button
                        type="button"
                        class="btn btn-ghost btn-small"
                        disabled=move || music_busy() || !state.with(|s| s.ready)
                        on:click=move |_| {
                            make_music.dispatch(MakeMusic { project: project.to_string() });
                        }
                    >
                        {move || {
                            if music_busy() {
                                "Making music…".to_string()
                            } else {
                                let label = if state.with(|s| s.soundtrack_url.is_some()) { "New music" } else { "Make music" };
                                let prices = prices.get();
                                let seconds = state.with(|s| s.seconds.max(5.0).ceil() as u32);
                                crate::budget::priced(label, prices.music(seconds), &prices)
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
                <div class="row wrap">
                    <label class="field-label" for="caption-style">"Captions"</label>
                    <select id="caption-style" on:change=move |ev| captions.set(event_target_value(&ev))>
                        <option value="none">"No captions"</option>
                        {CaptionStyle::ALL
                            .into_iter()
                            .map(|style| view! { <option value=style.as_str() selected=style == CaptionStyle::default()>{style.label()}</option> })
                            .collect_view()}
                    </select>
                    <span class="small muted">"From the voiceover, burned in and downloadable"</span>
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
                            captions: Some(captions.get_untracked()),
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
                                        <video class="render-video" src=src.clone() controls preload="metadata" playsinline aria-label=format!("Final video, version {}", render.version)>
                                            {render.captions_vtt_url.clone().map(|track| view! { <track kind="captions" src=track srclang="en" label="Captions" /> })}
                                        </video>
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
                                        {render.captions_srt_url.clone().zip(render.captions_vtt_url.clone()).map(|(srt, vtt)| view! {
                                            <a class="btn btn-ghost btn-small" href=srt download="" aria-label=format!("Download the captions of version {} as SRT", render.version)>"Captions (SRT)"</a>
                                            <a class="btn btn-ghost btn-small" href=vtt download="" aria-label=format!("Download the captions of version {} as WebVTT", render.version)>"Captions (WebVTT)"</a>
                                        })}
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
