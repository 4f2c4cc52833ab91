//! `/projects/{id}` and `/projects/{id}/{step}`.

use crate::{
    brief::pages::BriefStep,
    components::{AppHeader, NotFound, ReachedStep, StepIndicator},
    error::AppError,
    moods::pages::MoodStep,
    projects::{api::get_project, Project, Step},
    render::pages::FinalStep,
    storyboard::pages::StoryboardStep,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

#[component]
pub fn ProjectPage() -> impl IntoView {
    let params = use_params_map();
    // Keyed on the step too: moving on re-reads how far the project has got.
    let project = Resource::new(
        move || {
            let params = params.read();
            (
                params.get("id").unwrap_or_default(),
                params.get("step").unwrap_or_default(),
            )
        },
        |(id, _)| get_project(id),
    );

    view! {
        <AppHeader />
        <Transition fallback=|| {
            view! { <p class="container muted">"Loading the project…"</p> }
        }>
            // Awaited in a `Suspend` rather than read with `get()`: the same page, and about
            // 30 KB less in the main part of the bundle (measured with bench/bundle).
            {move || Suspend::new(async move {
                match project.await {
                    Ok(project) => {
                        let asked = params
                            .read_untracked()
                            .get("step")
                            .and_then(|slug| Step::from_slug(&slug));
                        // A step not reached yet opens the furthest one reached.
                        let current = asked.filter(|step| *step <= project.step).unwrap_or(project.step);
                        view! { <ProjectView project current /> }.into_any()
                    }
                    Err(AppError::NotFound(_)) => view! { <NotFound /> }.into_any(),
                    Err(error) => {
                        view! {
                            <main class="container">
                                <p class="form-error" role="alert">
                                    {error.to_string()}
                                </p>
                            </main>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn ProjectView(project: Project, current: Step) -> impl IntoView {
    let id = project.id;
    let reached = RwSignal::new(project.step);
    provide_context(ReachedStep(reached));
    view! {
        <Title text=format!("{} · {} · Reelsmith", current.title(), project.name) />
        // `data-step` tells the browser which step's code to load before it takes the page
        // over (see `load_step_shown`).
        <main class="container" data-step=current.slug()>
            <nav class="breadcrumb" aria-label="Breadcrumb">
                <a href="/">"All projects"</a>
                <span aria-hidden="true">" / "</span>
                <span aria-current="page">{project.name.clone()}</span>
            </nav>
            <div class="page-head project-head">
                <h1>{project.name.clone()}</h1>
                <span class="badge">{project.format.label()}</span>
            </div>
            <StepIndicator project=id current reached />
            {step_view(id, current)}
        </main>
    }
}

// Each step's code is a part of the browser's bundle of its own, fetched the first time
// the step is shown (the bundle is split by `.ci/build-site.sh`): the log-in page and the
// dashboard do not wait for the wizard, nor one step for the others. On the server they
// render as they always did.
//
// A step creates every resource it reads at its top, before any `Suspense` of its own
// (the brief step loads its product photos there, the final step its brand): the server
// runs what sits in the project page's `Transition` several times while it waits, and a
// resource created only once another had loaded was numbered differently there than in
// the browser, which then took another resource's data and failed to hydrate the page.
// A step reads no `LocalResource` either (see `budget::pages::use_prices`). The e2e test
// reloads every step to hold this.

/// The step's view. In the browser its code may still have to be fetched, so it is a
/// `Suspend`. The server has the code at once: it renders the step in place, the HTML it
/// wrote before the bundle was split, with no `Suspend` more for it to resolve.
fn step_view(project: Uuid, step: Step) -> impl IntoView {
    let view = async move {
        match step {
            Step::VisionBrief => brief_step(project).await,
            Step::Mood => mood_step(project).await,
            Step::Storyboard => storyboard_step(project).await,
            Step::FinalVideo => final_step(project).await,
        }
    };
    // A lazy function on the server is an `async fn` that awaits nothing: always ready.
    #[cfg(feature = "ssr")]
    return futures::FutureExt::now_or_never(view);
    #[cfg(not(feature = "ssr"))]
    return Suspend::new(view);
}

/// Loads the code of the step the server rendered into this page, if any, so that the
/// page can be hydrated. Leptos 0.8 hydrates what sits inside a `Suspense` or
/// `Transition` synchronously: a step whose code is still being fetched would be taken
/// for an empty one there, and the page would stop with a hydration error. Loaded, the
/// step's function is ready at once. (The server often preloads the same part with a
/// `<link rel="preload">`, and this then waits for a download already under way.)
#[cfg(feature = "hydrate")]
pub async fn load_step_shown() {
    let shown = document()
        .query_selector("main[data-step]")
        .ok()
        .flatten()
        .and_then(|main| main.get_attribute("data-step"))
        .and_then(|slug| Step::from_slug(&slug));
    match shown {
        Some(Step::VisionBrief) => __preload_brief_step().await,
        Some(Step::Mood) => __preload_mood_step().await,
        Some(Step::Storyboard) => __preload_storyboard_step().await,
        Some(Step::FinalVideo) => __preload_final_step().await,
        None => {}
    }
}

#[lazy]
fn brief_step(project: Uuid) -> AnyView {
    view! { <BriefStep project /> }.into_any()
}

#[lazy]
fn mood_step(project: Uuid) -> AnyView {
    view! { <MoodStep project /> }.into_any()
}

#[lazy]
fn storyboard_step(project: Uuid) -> AnyView {
    view! { <StoryboardStep project /> }.into_any()
}

#[lazy]
fn final_step(project: Uuid) -> AnyView {
    view! { <FinalStep project /> }.into_any()
}
