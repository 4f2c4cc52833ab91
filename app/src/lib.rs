//! Reelsmith's pages, components and server functions, shared by the server (`ssr`)
//! and the browser (`hydrate`). Server-only code sits behind the `ssr` feature.

// Deeply nested views make deep types.
#![recursion_limit = "256"]

pub mod auth;
pub mod components;
pub mod creative;
pub mod error;
pub mod generation;
pub mod projects;
pub mod render;
#[cfg(feature = "ssr")]
pub mod state;
pub mod storage;
pub mod studio;

use auth::pages::{LoginPage, SignupPage};
use components::NotFound;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};
use projects::pages::{DashboardPage, ProjectPage};

/// The name cargo-leptos and the build script give the WASM, JS and CSS bundles.
pub const SITE_NAME: &str = "reelsmith";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
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

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href=format!("/pkg/{SITE_NAME}.css") />
        <Title text="Reelsmith" />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=DashboardPage ssr=SsrMode::Async />
                <Route path=path!("/login") view=LoginPage />
                <Route path=path!("/signup") view=SignupPage />
                <Route path=path!("/projects/:id") view=ProjectPage ssr=SsrMode::Async />
                <Route path=path!("/projects/:id/:step") view=ProjectPage ssr=SsrMode::Async />
                <Route path=path!("/s/:token") view=render::pages::SharePage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
