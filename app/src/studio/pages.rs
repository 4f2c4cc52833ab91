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
            {move || {
                project
                    .get()
                    .map(|result| match result {
                        Ok(project) => {
                            let asked = params
                                .read()
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
                    })
            }}
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
        <main class="container">
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
            {match current {
                Step::VisionBrief => view! { <BriefStep project=id /> }.into_any(),
                Step::Mood => view! { <MoodStep project=id /> }.into_any(),
                Step::Storyboard => view! { <StoryboardStep project=id /> }.into_any(),
                Step::FinalVideo => view! { <FinalStep project=id /> }.into_any(),
            }}
        </main>
    }
}
