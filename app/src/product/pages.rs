//! The product photos card of the brief step: drop photos or pick them, watch each
//! upload's progress, choose the main photo, delete photos.

use super::api::{get_photos, ChooseMainPhoto, DeletePhoto};
use super::{ProductPhoto, ACCEPTED_TYPES, MAX_PHOTOS, MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS};
use crate::components::{error_text, or_alert};
use crate::error::AppError;
use leptos::prelude::*;
use uuid::Uuid;

/// The project's photos, loaded for [`ProductPhotos`]. The step creates it at its top,
/// with its other resources (see `studio::pages`).
pub fn load_photos(project: Uuid) -> Resource<Result<Vec<ProductPhoto>, AppError>> {
    Resource::new(move || project, |project| get_photos(project.to_string()))
}

#[component]
pub fn ProductPhotos(
    project: Uuid,
    /// From [`load_photos`].
    loaded: Resource<Result<Vec<ProductPhoto>, AppError>>,
) -> impl IntoView {
    view! {
        <section class="card photos" aria-labelledby="photos-title">
            <h2 id="photos-title" class="card-title">"Product photos"</h2>
            <p class="muted small">
                {format!(
                    "Up to {MAX_PHOTOS} photos of your product: PNG, JPEG or WebP, at most {} MB and {} megapixels each. Mark the one that shows it best as the main photo.",
                    MAX_PHOTO_BYTES / 1_000_000,
                    MAX_PHOTO_PIXELS / 1_000_000
                )}
            </p>
            <Suspense fallback=|| view! { <p class="muted">"Loading photos…"</p> }>
                {move || {
                    loaded
                        .get()
                        .map(|result| or_alert(result, |initial| view! { <PhotoShelf project initial /> }.into_any()))
                }}
            </Suspense>
        </section>
    }
}

/// A file on its way up.
#[derive(Clone, Debug, PartialEq)]
struct Sending {
    id: u32,
    name: String,
    /// The share sent, 0–1.
    sent: f64,
}

#[component]
fn PhotoShelf(project: Uuid, initial: Vec<ProductPhoto>) -> impl IntoView {
    let photos = RwSignal::new(initial);
    let sending = RwSignal::new(Vec::<Sending>::new());
    let problem = RwSignal::new(None::<String>);
    let over = RwSignal::new(false);
    let choose = ServerAction::<ChooseMainPhoto>::new();
    let delete = ServerAction::<DeletePhoto>::new();
    for action_value in [choose.value(), delete.value()] {
        Effect::new(move |_| match action_value.get() {
            Some(Ok(list)) => {
                problem.set(None);
                photos.set(list);
            }
            Some(Err(error)) => problem.set(Some(error_text(&error))),
            None => {}
        });
    }
    let full = move || photos.with(Vec::len) + sending.with(Vec::len) >= MAX_PHOTOS;

    // One upload at a time, in the order given: each answer is the whole list, so the
    // last one to arrive is also the newest.
    #[cfg(feature = "hydrate")]
    let send = {
        let next_id = StoredValue::new(0u32);
        move |files: Vec<web_sys::File>| {
            problem.set(None);
            let room = MAX_PHOTOS
                .saturating_sub(photos.with_untracked(Vec::len) + sending.with_untracked(Vec::len));
            if files.len() > room {
                problem.set(Some(format!(
                    "A project can have at most {MAX_PHOTOS} photos: {room} more can be added."
                )));
            }
            let queued: Vec<(u32, web_sys::File)> = files
                .into_iter()
                .take(room)
                .map(|file| {
                    let id = next_id.get_value();
                    next_id.set_value(id + 1);
                    sending.update(|list| {
                        list.push(Sending {
                            id,
                            name: file.name(),
                            sent: 0.0,
                        })
                    });
                    (id, file)
                })
                .collect();
            leptos::task::spawn_local(async move {
                for (id, file) in queued {
                    let name = file.name();
                    let url = format!("/api/projects/{project}/photos");
                    let result = crate::uploads::send_file::<Vec<ProductPhoto>>(
                        &url,
                        "photo",
                        file,
                        move |share| {
                            sending.update(|list| {
                                if let Some(item) = list.iter_mut().find(|item| item.id == id) {
                                    item.sent = share;
                                }
                            })
                        },
                    )
                    .await;
                    sending.update(|list| list.retain(|item| item.id != id));
                    match result {
                        Ok(list) => photos.set(list),
                        Err(message) => problem.set(Some(format!("{name}: {message}"))),
                    }
                }
            });
        }
    };

    let on_pick = move |_event: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        send(crate::uploads::picked(&_event));
    };
    let on_drop = move |event: leptos::ev::DragEvent| {
        event.prevent_default();
        over.set(false);
        #[cfg(feature = "hydrate")]
        {
            if !full() {
                send(crate::uploads::files_of(
                    event.data_transfer().and_then(|data| data.files()),
                ));
            }
        }
    };

    view! {
        <div
            class="photo-drop"
            class:photo-drop-over=move || over.get()
            on:dragover=move |event: leptos::ev::DragEvent| {
                event.prevent_default();
                over.set(true);
            }
            on:dragleave=move |_| over.set(false)
            on:drop=on_drop
        >
            <input
                id="photo-input"
                class="sr-only"
                type="file"
                multiple
                accept=ACCEPTED_TYPES
                disabled=full
                on:change=on_pick
            />
            <label for="photo-input" class="btn btn-ghost" class:btn-disabled=full>
                "Choose photos"
            </label>
            <span class="muted small">
                {move || if full() { "This project has all the photos it can hold." } else { "or drop them here" }}
            </span>
        </div>
        {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
        <ul class="photo-grid" aria-label="Product photos" aria-live="polite">
            {move || {
                photos
                    .get()
                    .into_iter()
                    .enumerate()
                    .map(|(index, photo)| {
                        let number = index + 1;
                        let id = photo.id.to_string();
                        let delete_id = id.clone();
                        let name = photo.file_name.clone();
                        let main_label = format!("Make photo {number} ({name}) the main photo");
                        let delete_label = format!("Delete photo {number} ({name})");
                        view! {
                            <li class="photo-tile" class:photo-main=photo.main>
                                <img
                                    src=photo.url.clone()
                                    alt=format!("Photo {number}: {name}")
                                    width=photo.width
                                    height=photo.height
                                    loading="lazy"
                                />
                                <div class="photo-meta">
                                    <span class="small photo-name" title=name.clone()>{name.clone()}</span>
                                    {photo.main.then(|| view! { <span class="badge">"Main photo"</span> })}
                                    {photo
                                        .cutout_url
                                        .is_some()
                                        .then(|| {
                                            view! {
                                                <span class="badge badge-quiet" title="The product was cut out of a plain background">
                                                    "Cut out"
                                                </span>
                                            }
                                        })}
                                </div>
                                <div class="row">
                                    {(!photo.main)
                                        .then(move || {
                                            view! {
                                                <button
                                                    type="button"
                                                    class="btn btn-ghost btn-small"
                                                    aria-label=main_label
                                                    disabled=move || choose.pending().get()
                                                    on:click=move |_| {
                                                        choose.dispatch(ChooseMainPhoto {
                                                            project: project.to_string(),
                                                            photo: id.clone(),
                                                        });
                                                    }
                                                >
                                                    "Make main"
                                                </button>
                                            }
                                        })}
                                    <button
                                        type="button"
                                        class="btn btn-danger-text btn-small"
                                        aria-label=delete_label
                                        disabled=move || delete.pending().get()
                                        on:click=move |_| {
                                            delete.dispatch(DeletePhoto {
                                                project: project.to_string(),
                                                photo: delete_id.clone(),
                                            });
                                        }
                                    >
                                        "Delete"
                                    </button>
                                </div>
                            </li>
                        }
                    })
                    .collect_view()
            }}
            <For
                each=move || sending.get()
                key=|item| (item.id, (item.sent * 100.0) as u32)
                children=move |item| {
                    let percent = (item.sent * 100.0).round();
                    view! {
                        <li class="photo-tile photo-sending">
                            <span class="small photo-name">{item.name.clone()}</span>
                            <div
                                class="progress"
                                role="progressbar"
                                aria-label=format!("Uploading {}", item.name)
                                aria-valuemin="0"
                                aria-valuemax="100"
                                aria-valuenow=format!("{percent:.0}")
                            >
                                <div class="progress-fill" style=format!("width: {percent:.0}%")></div>
                            </div>
                            <span class="small muted" role="status">
                                {if item.sent >= 1.0 {
                                    "Checking the photo…".to_string()
                                } else if item.sent > 0.0 {
                                    format!("{percent:.0}% sent")
                                } else {
                                    "Waiting…".to_string()
                                }}
                            </span>
                        </li>
                    }
                }
            />
        </ul>
    }
}
