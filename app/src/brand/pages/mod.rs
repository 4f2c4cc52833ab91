//! The brand kit's screens: the account's kit (`/brand`), and the final step's card that
//! says which kit a project draws with and lets it have one of its own. Both show the
//! same editor (`editor.rs`).

mod editor;

pub use editor::BrandKitEditor;

use super::api::{get_brand_kit, get_project_brand, SetProjectBrand};
use super::{BrandKit, ProjectBrand};
use crate::components::{error_text, or_alert, AppHeader};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{lazy_route, LazyRoute};
use uuid::Uuid;

/// `/brand` as a route whose code the browser fetches when the page is first shown: it
/// is a part of the bundle of its own (split by `.ci/build-site.sh`), which the log-in
/// page and the dashboard do not load.
pub struct BrandRoute;

#[lazy_route]
impl LazyRoute for BrandRoute {
    fn data() -> Self {
        Self
    }

    fn view(_route: Self) -> AnyView {
        view! { <BrandPage /> }.into_any()
    }
}

#[component]
pub fn BrandPage() -> impl IntoView {
    let kit = Resource::new(|| (), |_| get_brand_kit(String::new()));
    view! {
        <Title text="Brand kit · Reelsmith" />
        <AppHeader />
        <main class="container">
            <div class="page-head">
                <h1>"Brand kit"</h1>
                <p class="muted">
                    "Your logo, colours, font and end card. Every project's final video is drawn with them, and the mood step offers a board in your colours. A project can have a kit of its own instead (in its final step)."
                </p>
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Loading your brand kit…"</p> }>
                {move || {
                    kit.get()
                        .map(|result| or_alert(result, |initial| view! { <BrandKitEditor initial /> }.into_any()))
                }}
            </Suspense>
        </main>
    }
}

/// The brand the project is drawn with, loaded for [`ProjectBrandCard`]. The step
/// creates it at its top, with its other resources (see `studio::pages`).
pub fn load_project_brand(project: Uuid) -> Resource<Result<ProjectBrand, AppError>> {
    Resource::new(move || project, |p| get_project_brand(p.to_string()))
}

/// The final step's brand card.
#[component]
pub fn ProjectBrandCard(
    project: Uuid,
    /// From [`load_project_brand`].
    loaded: Resource<Result<ProjectBrand, AppError>>,
) -> impl IntoView {
    view! {
        <section class="card brand-card" aria-labelledby="brand-title">
            <h2 id="brand-title" class="card-title">"Brand"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading the brand kit…"</p> }>
                {move || {
                    loaded
                        .get()
                        .map(|result| or_alert(result, |initial| view! { <ProjectBrandChoice project initial /> }.into_any()))
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn ProjectBrandChoice(project: Uuid, initial: ProjectBrand) -> impl IntoView {
    let brand = RwSignal::new(initial);
    let set_own = ServerAction::<SetProjectBrand>::new();
    let problem = RwSignal::new(None::<String>);
    Effect::new(move |_| match set_own.value().get() {
        Some(Ok(now)) => {
            problem.set(None);
            brand.set(now);
        }
        Some(Err(error)) => problem.set(Some(error_text(&error))),
        None => {}
    });
    let choose = move |own: bool| {
        set_own.dispatch(SetProjectBrand {
            project: project.to_string(),
            own,
        });
    };
    view! {
        {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
        {move || {
            let ProjectBrand { own, kit } = brand.get();
            let (body, button, to) = match (own, kit) {
                (true, Some(kit)) => (
                    view! {
                        <p class="muted small">
                            "This project has a brand kit of its own; your other projects keep yours."
                        </p>
                        <BrandKitEditor initial=kit />
                    }
                        .into_any(),
                    "Use my account's brand kit instead",
                    false,
                ),
                (_, Some(kit)) => (
                    view! {
                        <p class="muted small">
                            "The final video is drawn with your brand kit: "
                            <a href="/brand">"edit your brand kit"</a>
                            "."
                        </p>
                        <KitSummary kit />
                    }
                        .into_any(),
                    "Give this project a kit of its own",
                    true,
                ),
                (_, None) => (
                    view! {
                        <p class="muted small">
                            "No brand kit yet: the titles are plain white and there is no end card. "
                            <a href="/brand">"Set up your brand kit"</a>
                            " to add your logo, colours, font and an end card."
                        </p>
                    }
                        .into_any(),
                    "Give this project a kit of its own",
                    true,
                ),
            };
            view! {
                {body}
                <button
                    type="button"
                    class="btn btn-ghost"
                    disabled=move || set_own.pending().get()
                    on:click=move |_| choose(to)
                >
                    {button}
                </button>
            }
        }}
    }
}

/// The kit at a glance: colours, logo, end card.
#[component]
fn KitSummary(kit: BrandKit) -> impl IntoView {
    let settings = kit.settings.clone();
    view! {
        <div class="brand-summary">
            <ul class="swatches" aria-label="Brand colours">
                {settings
                    .colors
                    .iter()
                    .map(|c| {
                        view! { <li class="swatch" style=format!("background:{c}") title=c.clone()></li> }
                    })
                    .collect_view()}
            </ul>
            {kit
                .logo_url
                .clone()
                .map(|url| view! { <img class="brand-logo-small" src=url alt="Your logo" /> })}
            <span class="small muted">
                {if settings.end_card {
                    format!("End card: {:.1} s, counted in the video's length", settings.end_card_secs)
                } else {
                    "No end card".to_string()
                }}
            </span>
        </div>
    }
}
