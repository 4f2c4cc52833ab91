//! The projects dashboard and the project page.

use super::api::{list_projects, CreateProject, DeleteProject, DuplicateProject, RenameProject};
use super::{format_timestamp, Project, VideoFormat, MAX_NAME_CHARS};
use crate::components::{AppHeader, FormError};
use crate::error::AppError;
use leptos::{either::Either, ev, html, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

/// Shows the error of an action's last run, if it failed.
fn action_error<I, O>(action: ServerAction<I>) -> Signal<Option<String>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| error.to_string())
    })
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let create = ServerAction::<CreateProject>::new();
    let rename = ServerAction::<RenameProject>::new();
    let duplicate = ServerAction::<DuplicateProject>::new();
    let delete = ServerAction::<DeleteProject>::new();
    let projects = Resource::new(
        move || {
            (
                rename.version().get(),
                duplicate.version().get(),
                delete.version().get(),
            )
        },
        |_| list_projects(),
    );

    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(project)) = create.value().get() {
            navigate(&format!("/projects/{}", project.id), Default::default());
        }
    });

    let to_delete = RwSignal::new(None::<Project>);
    let list_error = Signal::derive(move || {
        [
            action_error(rename),
            action_error(duplicate),
            action_error(delete),
        ]
        .into_iter()
        .find_map(|error| error.get())
    });

    view! {
        <Title text="Your projects · Reelsmith" />
        <AppHeader />
        <main class="container">
            <div class="page-head">
                <h1>"Your projects"</h1>
                <p class="muted">
                    "Each project turns a product brief into a finished short video ad."
                </p>
            </div>
            <NewProjectForm create />
            <section class="project-list" aria-labelledby="project-list-title">
                <h2 id="project-list-title" class="section-title">
                    "Recent"
                </h2>
                <FormError message=list_error />
                <Transition fallback=|| {
                    view! {
                        <p class="muted" aria-live="polite">
                            "Loading your projects…"
                        </p>
                    }
                }>
                    // Awaited in a Suspend rather than read with `get()`: the server walks
                    // what a Transition holds before rendering it, and a `get()` closure
                    // would build every card twice, once for that walk and once to render;
                    // a Suspend builds them once and keeps them.
                    {move || Suspend::new(async move {
                        match projects.await {
                            Ok(list) if list.is_empty() => {
                                view! {
                                    <div class="empty-state">
                                        <p class="empty-title">"No projects yet"</p>
                                        <p class="muted">
                                            "Name your first project above to start its brief."
                                        </p>
                                    </div>
                                }
                                    .into_any()
                            }
                            Ok(list) => {
                                view! {
                                    <ul class="project-grid">
                                        {list
                                            .into_iter()
                                            .map(|project| {
                                                // Boxed: the server resolves the cards
                                                // as futures, and a card's future is
                                                // kilobytes that would be copied at
                                                // every step; a box is a pointer.
                                                view! {
                                                    <ProjectCard project rename duplicate to_delete />
                                                }
                                                    .into_any()
                                            })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! {
                                    <p class="form-error" role="alert">
                                        {error.to_string()}
                                    </p>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </section>
            <DeleteProjectDialog to_delete delete />
        </main>
    }
}

#[component]
fn NewProjectForm(create: ServerAction<CreateProject>) -> impl IntoView {
    let pending = create.pending();
    view! {
        <section class="card new-project" aria-labelledby="new-project-title">
            <h2 id="new-project-title" class="card-title">
                "New project"
            </h2>
            <ActionForm action=create>
                <div class="new-project-row">
                    <label class="field grow">
                        <span class="field-label">"Name"</span>
                        <input
                            type="text"
                            name="name"
                            required
                            maxlength=MAX_NAME_CHARS.to_string()
                            placeholder="e.g. Aurora headphones launch"
                        />
                    </label>
                    <label class="field">
                        <span class="field-label">"Format"</span>
                        <select name="format">
                            {VideoFormat::ALL
                                .into_iter()
                                .map(|format| {
                                    view! {
                                        <option
                                            value=format.ratio()
                                            selected=format == VideoFormat::default()
                                        >
                                            {format.label()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <button type="submit" class="btn btn-primary" disabled=pending>
                        {move || if pending.get() { "Creating…" } else { "Create project" }}
                    </button>
                </div>
            </ActionForm>
            <FormError message=action_error(create) />
        </section>
    }
}

fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

/// One project on the dashboard. The dashboard shows up to hundreds of these, built anew
/// for every page the server renders, so a card holds only what every card needs: the
/// rename form, with its draft and focus handling, is built for the one card being renamed.
#[component]
fn ProjectCard(
    project: Project,
    rename: ServerAction<RenameProject>,
    duplicate: ServerAction<DuplicateProject>,
    to_delete: RwSignal<Option<Project>>,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    let id = project.id;
    let href = format!("/projects/{id}");
    let rename_label = format!("Rename {}", project.name);
    let duplicate_label = format!("Duplicate {}", project.name);
    let delete_label = format!("Delete {}", project.name);
    let edited = format_timestamp(project.updated_at);
    let step = format!(
        "Step {} of 4 · {}",
        project.step.number(),
        project.step.title()
    );
    let heading = {
        let (name, href) = (project.name.clone(), href.clone());
        move || {
            if editing.get() {
                Either::Left(view! { <RenameForm id name=name.clone() rename editing /> })
            } else {
                Either::Right(view! {
                    <h3 class="project-name">
                        <a href=href.clone()>{name.clone()}</a>
                    </h3>
                })
            }
        }
    };

    view! {
        <li class="project-card card">
            <a
                href=href
                class="thumb"
                data-format=project.format.ratio()
                tabindex="-1"
                aria-hidden="true"
            >
                <span class="thumb-initials">{initials(&project.name)}</span>
            </a>
            <div class="project-body">
                {heading}
                <p class="project-meta">
                    <span class="badge">{project.format.ratio()}</span>
                    <span>{step}</span>
                </p>
                <p class="project-edited muted">
                    "Edited "
                    <time datetime=project.updated_at.unix_timestamp().to_string()>{edited}</time>
                </p>
                <div class="project-actions">
                    <button
                        type="button"
                        class="btn btn-ghost btn-small"
                        aria-label=rename_label
                        on:click=move |_| editing.set(true)
                    >
                        "Rename"
                    </button>
                    <button
                        type="button"
                        class="btn btn-ghost btn-small"
                        aria-label=duplicate_label
                        on:click=move |_| {
                            duplicate.dispatch(DuplicateProject { id });
                        }
                    >
                        "Duplicate"
                    </button>
                    <button
                        type="button"
                        class="btn btn-ghost btn-small btn-danger-text"
                        aria-label=delete_label
                        on:click=move |_| to_delete.set(Some(project.clone()))
                    >
                        "Delete"
                    </button>
                </div>
            </div>
        </li>
    }
}

/// The card's name as a field: opens focused with the name selected, Enter saves,
/// Escape or Cancel puts the name back.
#[component]
fn RenameForm(
    id: uuid::Uuid,
    name: String,
    rename: ServerAction<RenameProject>,
    editing: RwSignal<bool>,
) -> impl IntoView {
    let draft = RwSignal::new(name.clone());
    let input = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
            input.select();
        }
    });
    let save = move |event: ev::SubmitEvent| {
        event.prevent_default();
        rename.dispatch(RenameProject {
            id,
            name: draft.get_untracked(),
        });
        editing.set(false);
    };
    let cancel = move || editing.set(false);

    view! {
        <form class="rename-form" on:submit=save>
            <input
                node_ref=input
                type="text"
                required
                maxlength=MAX_NAME_CHARS.to_string()
                aria-label=format!("New name for {name}")
                prop:value=move || draft.get()
                on:input=move |event| draft.set(event_target_value(&event))
                on:keydown=move |event: ev::KeyboardEvent| {
                    if event.key() == "Escape" {
                        cancel();
                    }
                }
            />
            <button type="submit" class="btn btn-primary btn-small">
                "Save"
            </button>
            <button type="button" class="btn btn-ghost btn-small" on:click=move |_| cancel()>
                "Cancel"
            </button>
        </form>
    }
}

/// Asks before deleting, in a modal dialog that keeps focus and closes on Escape.
#[component]
fn DeleteProjectDialog(
    to_delete: RwSignal<Option<Project>>,
    delete: ServerAction<DeleteProject>,
) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    Effect::new(move |_| {
        let Some(dialog) = dialog.get() else { return };
        match (to_delete.get().is_some(), dialog.open()) {
            (true, false) => {
                let _ = dialog.show_modal();
            }
            (false, true) => dialog.close(),
            _ => {}
        }
    });
    let confirm = move |_| {
        if let Some(project) = to_delete.get_untracked() {
            delete.dispatch(DeleteProject { id: project.id });
        }
        to_delete.set(None);
    };

    view! {
        <dialog
            node_ref=dialog
            class="dialog"
            aria-labelledby="delete-title"
            aria-describedby="delete-description"
            on:close=move |_| to_delete.set(None)
        >
            <h2 id="delete-title">"Delete this project?"</h2>
            <p id="delete-description">
                {move || {
                    to_delete
                        .get()
                        .map(|project| {
                            format!(
                                "“{}” and everything made for it will be deleted. This cannot be undone.",
                                project.name,
                            )
                        })
                }}
            </p>
            <div class="dialog-actions">
                <button type="button" class="btn btn-ghost" on:click=move |_| to_delete.set(None)>
                    "Cancel"
                </button>
                <button type="button" class="btn btn-danger" on:click=confirm>
                    "Delete project"
                </button>
            </div>
        </dialog>
    }
}
