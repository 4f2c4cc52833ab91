//! Step 2's screen: three mood boards, each with its images arriving as they are made.

use super::api::{get_moods, ChooseMood, GenerateMoods};
use super::MoodBoard;
use crate::components::error_text;
use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub fn MoodStep(project: Uuid) -> impl IntoView {
    let loaded = Resource::new(move || project, |project| get_moods(project.to_string()));
    let prices = crate::budget::pages::use_prices(project);
    let shots = super::SHOTS_PER_MOOD;
    // The boards as read since the page loaded: after a generation, and when the
    // project's stream says images have arrived.
    let fresh = RwSignal::new(None::<Vec<MoodBoard>>);
    let generate = ServerAction::<GenerateMoods>::new();
    let choose = ServerAction::<ChooseMood>::new();
    Effect::new(move |_| {
        if let Some(Ok(list)) = generate.value().get() {
            fresh.set(Some(list));
        }
    });
    // The boards last read, else those loaded with the page: read under the `Transition`
    // below, so the server paints the boards themselves and the browser takes them over
    // as they are (not the empty step first, filled in once the page runs).
    let boards = Signal::derive(move || {
        fresh
            .get()
            .or_else(|| loaded.get().and_then(Result::ok))
            .unwrap_or_default()
    });
    // The mood the user picks shows as chosen at once; a failed choice falls back to
    // what the server has.
    let picked = RwSignal::new(None::<Uuid>);
    Effect::new(move |_| {
        if let Some(Err(_)) = choose.value().get() {
            picked.set(None);
        }
    });
    let chosen = Signal::derive(move || {
        picked
            .get()
            .or_else(|| boards.with(|list| list.iter().find(|b| b.chosen).map(|b| b.id)))
    });
    // Images arrive from background jobs; the project's stream says when to read again.
    #[cfg(feature = "hydrate")]
    {
        crate::live::follow_project(project, &["moods_changed"], move || {
            leptos::task::spawn_local(async move {
                if let Ok(list) = get_moods(project.to_string()).await {
                    fresh.set(Some(list));
                }
            });
        });
    }
    let making = move || boards.with(|list| list.iter().map(|b| b.pending).sum::<u32>());
    let busy = move || generate.pending().get() || making() > 0;
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
        <Transition fallback=|| view! { <p class="muted">"Loading moods…"</p> }>
            <section class="card" aria-labelledby="mood-title">
                <div class="card-head">
                    <h2 id="mood-title" class="card-title">"Pick a mood"</h2>
                    <button type="button" class="btn btn-ghost" disabled=busy on:click=move |_| regenerate(None)>
                        {move || {
                            let label = if boards.get().is_empty() { "Create mood boards" } else { "Regenerate all" };
                            let prices = prices.get();
                            crate::budget::priced(label, prices.moods(crate::creative::MOOD_COUNT, shots), &prices)
                        }}
                    </button>
                </div>
                {move || problem().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
                {move || {
                    busy()
                        .then(|| {
                            view! {
                                <p class="progress-note" role="status">
                                    <span class="spinner" aria-hidden="true"></span>
                                    {move || match making() {
                                        0 => "Writing the moods…".to_string(),
                                        1 => "Making the last image…".to_string(),
                                        n => format!("Making {n} images…"),
                                    }}
                                </p>
                            }
                        })
                }}
                {move || {
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
                                                    {(0..board.pending as usize)
                                                        .map(|n| {
                                                            let class = if board.images.len() + n == 0 { "mood-image mood-hero mood-pending" } else { "mood-image mood-pending" };
                                                            view! { <div class=class aria-hidden="true"><span class="spinner"></span></div> }
                                                        })
                                                        .collect_view()}
                                                </div>
                                                <div class="mood-body">
                                                    {board.error.clone().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
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
                                                                picked.set(Some(id));
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
                                                            {move || {
                                                                let prices = prices.get();
                                                                crate::budget::priced("Regenerate", prices.moods(1, shots), &prices)
                                                            }}
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
        </Transition>
    }
}
