//! Reelsmith's pages, components and server functions, shared by the server (`ssr`)
//! and the browser (`hydrate`). Server-only code sits behind the `ssr` feature.

// Deeply nested views make deep types.
#![recursion_limit = "256"]

// The product's parts, each a folder: `mod.rs` (shared types), `api.rs` (server
// functions), `pages.rs` (views), `ssr.rs` (queries and services, server-only).
pub mod auth;
/// The brand kit: logo, colours, font, handle and end card.
pub mod brand;
pub mod brief;
/// What work costs and the budgets that limit it.
pub mod budget;
pub mod moods;
/// The user's own product: its photos.
pub mod product;
pub mod projects;
pub mod render;
pub mod share;
pub mod storyboard;
/// The wizard's shell above the steps.
pub mod studio;

// What the parts stand on: the creative director's rules, the media providers, storage.
pub mod creative;
pub mod generation;
pub mod storage;

// Cross-cutting pieces.
pub mod components;
pub mod error;
#[cfg(feature = "ssr")]
pub mod events;
#[cfg(feature = "ssr")]
pub mod jobs;
#[cfg(feature = "hydrate")]
pub mod live;
#[cfg(feature = "hydrate")]
pub mod page_start;
#[cfg(feature = "ssr")]
pub mod proxies;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod state;
pub mod uploads;

/// Every kind of background job, registered once: a new kind is one line here.
#[cfg(feature = "ssr")]
pub fn job_handlers() -> jobs::Registry {
    jobs::Registry::default()
        .register::<storyboard::jobs::SceneImage>()
        .register::<storyboard::jobs::SceneVideo>()
        .register::<storyboard::voice::SceneVoice>()
        .register::<moods::jobs::MoodImage>()
        .register::<render::jobs::RenderJob>()
        .register::<render::smart::job::NormaliseClip>()
        .register::<render::smart::ahead::MakePiecesAhead>()
        .register::<render::music::MakeMusic>()
        .register::<projects::jobs::FileSweep>()
}

use auth::pages::{LoginPage, SignupPage};
use components::NotFound;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, Lazy, SsrMode,
};
use projects::pages::DashboardPage;
use studio::pages::ProjectPage;

/// The name cargo-leptos and the build script give the WASM's main part, its JS and the
/// CSS (a release build puts them in a folder named after its hash: `pkg/<hash>/`).
pub const SITE_NAME: &str = "reelsmith";

/// This build's id as it stands in the WASM's data, where the server finds it (see
/// `build.rs`): the server refuses a site from another build, whose pages would not start.
pub const BUILD_MARKER: &str = concat!("reelsmith-build-id:", env!("REELSMITH_BUILD_ID"), ";");

/// This build's id.
pub fn build_id() -> &'static str {
    BUILD_MARKER
        .trim_start_matches("reelsmith-build-id:")
        .trim_end_matches(';')
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    send_script_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <meta name="reelsmith-build" content=build_id() />
                // In the shell rather than the app: the server alone knows where the
                // bundle is (a release build's folder is its hash), and the head is not
                // hydrated.
                <link
                    rel="stylesheet"
                    id="leptos"
                    href=format!("/{}/{}.css", options.site_pkg_dir, options.output_name)
                />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: scripts only from this site or allowed by
/// `inline_scripts` (this response's nonce, which leptos_axum puts on the hydration and
/// streaming scripts, or a kept page's script hashes: see the server's `page_cache`),
/// WASM allowed to compile, nothing framing the page. Images and media may come from the
/// storage's own host (S3 links); styles inline (components set widths and colours).
#[cfg(feature = "ssr")]
pub fn page_policy(inline_scripts: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' {inline_scripts} 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src * data: blob:; media-src * data: blob:; \
         connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

#[cfg(feature = "ssr")]
fn send_script_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = page_policy(&format!("'nonce-{nonce}'"));
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Title text="Reelsmith" />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=DashboardPage ssr=SsrMode::Async />
                <Route path=path!("/login") view=LoginPage />
                <Route path=path!("/signup") view=SignupPage />
                <Route path=path!("/account") view={Lazy::<budget::pages::AccountRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/brand") view={Lazy::<brand::pages::BrandRoute>::new()} ssr=SsrMode::Async />
                <Route path=path!("/projects/:id") view=ProjectPage ssr=SsrMode::Async />
                <Route path=path!("/projects/:id/:step") view=ProjectPage ssr=SsrMode::Async />
                <Route path=path!("/s/:token") view={Lazy::<share::pages::ShareRoute>::new()} ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
