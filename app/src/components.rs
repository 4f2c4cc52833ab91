//! Pieces of UI shared by several pages.

use crate::auth::api::{get_current_user, LogOut};
use crate::projects::Step;
use leptos::prelude::*;

/// A full page load, so that everything tied to the previous session is dropped.
pub fn reload_at(path: &str) {
    if let Err(error) = window().location().assign(path) {
        leptos::logging::error!("navigation to {path} failed: {error:?}");
    }
}

#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <span class="brand">
            <span class="brand-mark" aria-hidden="true"></span>
            <span class="brand-name">"Reelsmith"</span>
        </span>
    }
}

/// An error under a form, announced to screen readers when it appears.
#[component]
pub fn FormError(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <p class="form-error" role="alert" hidden=move || message.with(Option::is_none)>
            {move || message.get().unwrap_or_default()}
        </p>
    }
}

/// An error as the page shows it.
pub fn error_text(error: &crate::error::AppError) -> String {
    error.to_string()
}

/// What a loaded resource shows: its view, or its error as an alert.
pub fn or_alert<T>(
    result: Result<T, crate::error::AppError>,
    show: impl FnOnce(T) -> AnyView,
) -> AnyView {
    match result {
        Ok(value) => show(value),
        Err(error) => {
            view! { <p class="form-error" role="alert">{error_text(&error)}</p> }.into_any()
        }
    }
}

/// The label of the offline preview, on every step that makes something.
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

#[component]
pub fn AppHeader() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_current_user());
    let logout = ServerAction::<LogOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            reload_at("/login");
        }
    });

    view! {
        <header class="app-header">
            <div class="container header-row">
                <a href="/" class="brand-link" aria-label="Reelsmith: all projects">
                    <Brand />
                </a>
                <div class="header-user">
                    <a href="/brand" class="header-link">"Brand kit"</a>
                    <a href="/account" class="header-link">"Spending"</a>
                    <Transition fallback=|| ()>
                        {move || {
                            user.get()
                                .and_then(Result::ok)
                                .flatten()
                                .map(|user| view! { <span class="user-email">{user.email}</span> })
                        }}
                    </Transition>
                    <button
                        type="button"
                        class="btn btn-ghost"
                        on:click=move |_| {
                            logout.dispatch(LogOut {});
                        }
                        disabled=logout.pending()
                    >
                        "Log out"
                    </button>
                </div>
            </div>
        </header>
    }
}

/// How far the open project has got, shared by its page so that a step which opens up
/// (a storyboard completing) shows in the step indicator without a reload.
#[derive(Clone, Copy)]
pub struct ReachedStep(pub RwSignal<Step>);

/// The wizard's steps: done ones checked, the current one highlighted.
#[component]
pub fn StepIndicator(project: uuid::Uuid, current: Step, reached: RwSignal<Step>) -> impl IntoView {
    view! {
        <ol class="steps" aria-label="Project steps">
            {move || {
                let reached = reached.get();
                Step::ALL
                .into_iter()
                .map(|step| {
                    let state = if step == current {
                        "current"
                    } else if step < reached {
                        "done"
                    } else if step <= reached {
                        "reached"
                    } else {
                        "locked"
                    };
                    let status = match state {
                        "current" => "current step",
                        "done" => "done",
                        "reached" => "reached",
                        _ => "not reached yet",
                    };
                    view! {
                        <li
                            class=format!("step step-{state}")
                            aria-current=(step == current).then_some("step")
                        >
                            {
                                let inner = view! {
                                    <span class="step-number" aria-hidden="true">
                                        {if state == "done" { "✓".to_string() } else { step.number().to_string() }}
                                    </span>
                                    <span class="step-title">{step.title()}</span>
                                    <span class="sr-only">{format!(" ({status})")}</span>
                                };
                                if step <= reached && step != current {
                                    view! {
                                        <a href=format!("/projects/{project}/{}", step.slug())>{inner}</a>
                                    }
                                        .into_any()
                                } else {
                                    inner.into_any()
                                }
                            }
                        </li>
                    }
                })
                .collect_view()
            }}
        </ol>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="container narrow center">
            <h1>"Page not found"</h1>
            <p class="muted">"There is nothing at this address, or it is not yours to see."</p>
            <a class="btn btn-primary" href="/">"Back to your projects"</a>
        </main>
    }
}
