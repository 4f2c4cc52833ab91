//! The public page of a shared render: `/s/<token>`, no login, with Open Graph and
//! Twitter card tags so that a pasted link shows a preview.

use super::api::get_shared;
use crate::components::{Brand, NotFound};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;
use leptos_router::{lazy_route, LazyRoute};

/// `/s/<token>` as a route whose code the browser fetches when the page is first shown: it
/// is a part of the bundle of its own (split by `.ci/build-site.sh`), which the log-in
/// page and the dashboard do not load.
pub struct ShareRoute;

#[lazy_route]
impl LazyRoute for ShareRoute {
    fn data() -> Self {
        Self
    }

    fn view(_route: Self) -> AnyView {
        view! { <SharePage /> }.into_any()
    }
}

#[component]
pub fn SharePage() -> impl IntoView {
    let params = use_params_map();
    let shared = Resource::new(
        move || params.read().get("token").unwrap_or_default(),
        get_shared,
    );
    view! {
        <Suspense fallback=|| view! { <p class="container muted">"Loading…"</p> }>
            {move || {
                shared
                    .get()
                    .map(|result| match result {
                        Ok(video) => {
                            let ratio = format!("aspect-ratio: {} / {}", video.width, video.height);
                            let poster = video.poster_url.clone().unwrap_or_default();
                            view! {
                                <Title text=format!("{} · made with Reelsmith", video.title) />
                                <Meta property="og:type" content="video.other" />
                                <Meta property="og:title" content=video.title.clone() />
                                <Meta property="og:url" content=video.page_url.clone() />
                                <Meta property="og:video" content=video.video_url.clone() />
                                <Meta property="og:video:type" content="video/mp4" />
                                <Meta property="og:video:width" content=video.width.to_string() />
                                <Meta property="og:video:height" content=video.height.to_string() />
                                <Meta property="og:image" content=poster.clone() />
                                <Meta name="twitter:card" content="player" />
                                <Meta name="twitter:title" content=video.title.clone() />
                                <Meta name="twitter:image" content=poster.clone() />
                                <Meta name="twitter:player:stream" content=video.video_url.clone() />
                                <Meta name="twitter:player:stream:content_type" content="video/mp4" />
                                <main class="share-page">
                                    <div class="share-brand"><Brand /></div>
                                    <h1>{video.title.clone()}</h1>
                                    <video
                                        class="share-video"
                                        style=ratio
                                        src=video.video_url.clone()
                                        poster=poster
                                        controls
                                        playsinline
                                        preload="metadata"
                                        aria-label=format!("{}, video", video.title)
                                    >
                                        {video.captions_url.clone().map(|src| view! {
                                            <track kind="captions" src=src srclang="en" label="Captions" />
                                        })}
                                    </video>
                                    <p class="muted small">
                                        {format!("{:.0} seconds · ", video.duration_ms as f64 / 1000.0)}
                                        <a href="/signup">"Make your own with Reelsmith"</a>
                                    </p>
                                </main>
                            }
                                .into_any()
                        }
                        Err(AppError::NotFound(_)) => view! { <NotFound /> }.into_any(),
                        Err(error) => view! { <p class="container form-error" role="alert">{error.to_string()}</p> }.into_any(),
                    })
            }}
        </Suspense>
    }
}
