//! The brand kit editor: logo and font uploads with progress, colours, logo corner and
//! size, handle, end card, and a preview of the end card as the render will draw it.

use crate::brand::api::{RemoveBrandFile, SaveBrandKit};
use crate::brand::{
    BrandKit, BrandSettings, Corner, BUNDLED_FONTS, END_CARD_SECS, FONT_TYPES, LOGO_SIZE,
    LOGO_TYPES, MAX_COLORS,
};
use crate::components::error_text;
use leptos::prelude::*;

/// A file on its way up, with the share sent.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sending {
    logo: bool,
    sent: f64,
}

#[component]
pub fn BrandKitEditor(initial: BrandKit) -> impl IntoView {
    let scope = initial.project;
    // Ids unique on the page: the account's editor and a project's never meet, but a
    // page could show both one day.
    let id = move |name: &str| match scope {
        Some(project) => format!("brand-{name}-{}", &project.to_string()[..8]),
        None => format!("brand-{name}"),
    };
    let kit = RwSignal::new(initial.clone());
    let settings = RwSignal::new(initial.settings.clone());
    let problem = RwSignal::new(None::<String>);
    let saved_note = RwSignal::new(None::<&'static str>);
    let sending = RwSignal::new(None::<Sending>);
    let save = ServerAction::<SaveBrandKit>::new();
    let remove = ServerAction::<RemoveBrandFile>::new();
    for value in [save.value(), remove.value()] {
        Effect::new(move |_| match value.get() {
            Some(Ok(now)) => {
                problem.set(None);
                settings.set(now.settings.clone());
                kit.set(now);
                saved_note.set(Some("Saved."));
            }
            Some(Err(error)) => {
                saved_note.set(None);
                problem.set(Some(error_text(&error)));
            }
            None => {}
        });
    }
    let project_arg = move || scope.map(|p| p.to_string()).unwrap_or_default();
    let edit = move |change: &dyn Fn(&mut BrandSettings)| {
        saved_note.set(None);
        settings.update(|s| change(s));
    };

    #[cfg(feature = "hydrate")]
    let send = move |logo: bool, files: Vec<web_sys::File>| {
        let Some(file) = files.into_iter().next() else {
            return;
        };
        problem.set(None);
        saved_note.set(None);
        sending.set(Some(Sending { logo, sent: 0.0 }));
        let what = if logo { "logo" } else { "font" };
        let mut url = format!("/api/brand/{what}");
        if let Some(project) = scope {
            url.push_str(&format!("?project={project}"));
        }
        leptos::task::spawn_local(async move {
            let result = crate::uploads::send_file::<BrandKit>(&url, what, file, move |sent| {
                sending.set(Some(Sending { logo, sent }));
            })
            .await;
            sending.set(None);
            match result {
                Ok(now) => {
                    // The upload made or kept the kit; unsaved edits stay as they are,
                    // except the font choice an upload changes.
                    if !logo {
                        settings.update(|s| s.use_uploaded_font = true);
                    }
                    kit.set(now);
                    saved_note.set(Some(if logo { "Logo saved." } else { "Font saved." }));
                }
                Err(message) => problem.set(Some(message)),
            }
        });
    };
    let on_logo = move |_event: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        send(true, crate::uploads::picked(&_event));
    };
    let on_font = move |_event: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        send(false, crate::uploads::picked(&_event));
    };
    let busy = move || sending.get().is_some() || save.pending().get() || remove.pending().get();
    let (small, large) = LOGO_SIZE;
    let (short, long) = END_CARD_SECS;

    view! {
        <form
            class="brand-editor"
            aria-label=if scope.is_some() { "This project's brand kit" } else { "Your brand kit" }
            on:submit=move |event: leptos::ev::SubmitEvent| {
                event.prevent_default();
                save.dispatch(SaveBrandKit {
                    project: project_arg(),
                    settings: settings.get_untracked(),
                });
            }
        >
            <div class="brand-grid">
                {view! {
                <fieldset class="brand-part">
                    <legend class="field-label">"Logo"</legend>
                    <div class="brand-logo-box">
                        {move || {
                            kit.get()
                                .logo_url
                                .map(|url| view! { <img src=url alt="Your logo" class="brand-logo" /> }.into_any())
                                .unwrap_or_else(|| view! { <span class="muted small">"No logo yet"</span> }.into_any())
                        }}
                    </div>
                    <p class="field-hint">"PNG, JPEG, WebP or SVG, at most 15 MB. A transparent background looks best."</p>
                    <FileChoice
                        id=id("logo")
                        accept=LOGO_TYPES
                        choose=Signal::derive(move || if kit.get().logo_url.is_some() { "Replace the logo" } else { "Choose a logo" })
                        remove="Remove the logo"
                        kept=Signal::derive(move || kit.get().logo_url.is_some())
                        busy=Signal::derive(busy)
                        on_pick=Callback::new(on_logo)
                        on_remove=Callback::new(move |()| {
                            remove.dispatch(RemoveBrandFile { project: project_arg(), what: "logo".into() });
                        })
                    />
                    <div class="field">
                        <label class="field-label" for=id("corner")>"Logo position"</label>
                        <select
                            id=id("corner")
                            on:change=move |ev| {
                                let corner = Corner::parse(&event_target_value(&ev)).unwrap_or_default();
                                edit(&|s| s.logo_corner = corner);
                            }
                        >
                            {Corner::ALL
                                .into_iter()
                                .map(|corner| {
                                    view! {
                                        <option value=corner.as_str() selected=move || settings.get().logo_corner == corner>
                                            {corner.label()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label class="field-label" for=id("size")>
                            {move || format!("Logo size: {:.0}% of the frame", settings.get().logo_size * 100.0)}
                        </label>
                        <input
                            id=id("size")
                            type="range"
                            min=format!("{small}")
                            max=format!("{large}")
                            step="0.01"
                            prop:value=move || format!("{:.2}", settings.get().logo_size)
                            on:input=move |ev| {
                                if let Ok(size) = event_target_value(&ev).parse::<f32>() {
                                    edit(&|s| s.logo_size = size);
                                }
                            }
                        />
                    </div>
                </fieldset>
                }.into_any()}

                {view! {
                <fieldset class="brand-part">
                    <legend class="field-label">"Colours"</legend>
                    <p class="field-hint">
                        {format!("1 to {MAX_COLORS}. The first is the main colour: the end card and the titles' background.")}
                    </p>
                    <ul class="brand-colors">
                        {move || {
                            let colors = settings.get().colors;
                            let count = colors.len();
                            colors
                                .into_iter()
                                .enumerate()
                                .map(|(index, color)| {
                                    let number = index + 1;
                                    view! {
                                        <li class="row">
                                            <input
                                                type="color"
                                                aria-label=format!("Brand colour {number}")
                                                prop:value=color.clone()
                                                on:input=move |ev| {
                                                    let value = event_target_value(&ev);
                                                    edit(&|s| {
                                                        if let Some(c) = s.colors.get_mut(index) {
                                                            *c = value.clone();
                                                        }
                                                    });
                                                }
                                            />
                                            <code class="small">{color}</code>
                                            {(count > 1).then(|| view! {
                                                <button
                                                    type="button"
                                                    class="btn btn-ghost btn-small"
                                                    aria-label=format!("Remove brand colour {number}")
                                                    on:click=move |_| edit(&|s| { s.colors.remove(index); })
                                                >
                                                    "Remove"
                                                </button>
                                            })}
                                        </li>
                                    }
                                })
                                .collect_view()
                        }}
                    </ul>
                    <button
                        type="button"
                        class="btn btn-ghost btn-small"
                        disabled=move || { settings.get().colors.len() >= MAX_COLORS }
                        on:click=move |_| edit(&|s| s.colors.push("#ffffff".into()))
                    >
                        "Add a colour"
                    </button>
                </fieldset>
                }.into_any()}

                {view! {
                <fieldset class="brand-part">
                    <legend class="field-label">"Font"</legend>
                    <div class="field">
                        <label class="field-label" for=id("font")>"Titles and end card are written in"</label>
                        <select
                            id=id("font")
                            on:change=move |ev| {
                                let choice = event_target_value(&ev);
                                edit(&|s| {
                                    if choice == "uploaded" {
                                        s.use_uploaded_font = true;
                                    } else {
                                        s.use_uploaded_font = false;
                                        s.bundled_font = choice.clone();
                                    }
                                });
                            }
                        >
                            {move || {
                                kit.get().font_name.map(|name| {
                                    view! {
                                        <option value="uploaded" selected=move || settings.get().use_uploaded_font>
                                            {format!("{name} (uploaded)")}
                                        </option>
                                    }
                                })
                            }}
                            {BUNDLED_FONTS
                                .into_iter()
                                .map(|font| {
                                    view! {
                                        <option
                                            value=font.id
                                            selected=move || {
                                                let s = settings.get();
                                                !(s.use_uploaded_font && kit.get().font_name.is_some()) && s.bundled_font == font.id
                                            }
                                        >
                                            {font.label}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </div>
                    <p class="field-hint">"Or upload your own: a TTF or OTF file, at most 15 MB."</p>
                    <FileChoice
                        id=id("font-file")
                        accept=FONT_TYPES
                        choose=Signal::derive(|| "Upload a font")
                        remove="Remove the uploaded font"
                        kept=Signal::derive(move || kit.get().font_name.is_some())
                        busy=Signal::derive(busy)
                        on_pick=Callback::new(on_font)
                        on_remove=Callback::new(move |()| {
                            remove.dispatch(RemoveBrandFile { project: project_arg(), what: "font".into() });
                        })
                    />
                </fieldset>
                }.into_any()}

                {view! {
                <fieldset class="brand-part">
                    <legend class="field-label">"End card"</legend>
                    <div class="field">
                        <label class="field-label" for=id("handle")>"Website or handle"</label>
                        <input
                            id=id("handle")
                            type="text"
                            maxlength="60"
                            placeholder="lumen.example or @lumen"
                            prop:value=move || settings.get().handle
                            on:input=move |ev| {
                                let handle = event_target_value(&ev);
                                edit(&|s| s.handle = handle.clone());
                            }
                        />
                    </div>
                    <label class="row small">
                        <input
                            type="checkbox"
                            prop:checked=move || settings.get().end_card
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                edit(&|s| s.end_card = on);
                            }
                        />
                        "End the video with an end card (its seconds come out of the scenes, so the length stays as planned)"
                    </label>
                    <div class="field">
                        <label class="field-label" for=id("card-secs")>
                            {move || format!("End card length: {:.1} s", settings.get().end_card_secs)}
                        </label>
                        <input
                            id=id("card-secs")
                            type="range"
                            min=format!("{short}")
                            max=format!("{long}")
                            step="0.5"
                            disabled=move || !settings.get().end_card
                            prop:value=move || format!("{:.1}", settings.get().end_card_secs)
                            on:input=move |ev| {
                                if let Ok(secs) = event_target_value(&ev).parse::<f32>() {
                                    edit(&|s| s.end_card_secs = secs);
                                }
                            }
                        />
                    </div>
                </fieldset>
                }.into_any()}
            </div>

            {view! { <EndCardPreview kit settings /> }.into_any()}

            {move || {
                sending.get().map(|item| {
                    let percent = (item.sent * 100.0).round();
                    let what = if item.logo { "logo" } else { "font" };
                    view! {
                        <div class="field">
                            <div
                                class="progress"
                                role="progressbar"
                                aria-label=format!("Uploading the {what}")
                                aria-valuemin="0"
                                aria-valuemax="100"
                                aria-valuenow=format!("{percent:.0}")
                            >
                                <div class="progress-fill" style=format!("width: {percent:.0}%")></div>
                            </div>
                            <span class="small muted" role="status">
                                {if item.sent >= 1.0 { format!("Checking the {what}…") } else { format!("{percent:.0}% sent") }}
                            </span>
                        </div>
                    }
                })
            }}
            {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
            <div class="row">
                <button type="submit" class="btn btn-primary" disabled=busy>
                    {if scope.is_some() { "Save this project's kit" } else { "Save brand kit" }}
                </button>
                <span class="small muted" role="status">{move || saved_note.get()}</span>
            </div>
        </form>
    }
}

/// A file input shown as a button, with a button that takes the kept file off.
#[component]
fn FileChoice(
    id: String,
    accept: &'static str,
    choose: Signal<&'static str>,
    remove: &'static str,
    kept: Signal<bool>,
    busy: Signal<bool>,
    on_pick: Callback<leptos::ev::Event>,
    on_remove: Callback<()>,
) -> impl IntoView {
    view! {
        <div class="row">
            <input
                id=id.clone()
                class="sr-only"
                type="file"
                accept=accept
                disabled=busy
                on:change=move |event| on_pick.run(event)
            />
            <label for=id class="btn btn-ghost btn-small" class:btn-disabled=busy>
                {choose}
            </label>
            {move || {
                kept.get().then(|| {
                    view! {
                        <button
                            type="button"
                            class="btn btn-danger-text btn-small"
                            disabled=busy
                            on:click=move |_| on_remove.run(())
                        >
                            {remove}
                        </button>
                    }
                })
            }}
        </div>
    }
}

/// The end card as the render will draw it, from the settings being edited.
#[component]
fn EndCardPreview(kit: RwSignal<BrandKit>, settings: RwSignal<BrandSettings>) -> impl IntoView {
    let style = move || {
        let s = settings.get();
        let main = s
            .colors
            .first()
            .cloned()
            .unwrap_or_else(|| "#1f2937".into());
        let text = crate::brand::text_color_on(&main, &s.colors);
        format!("background:{main};color:{text}")
    };
    view! {
        <figure class="brand-preview">
            <div class="brand-preview-card" style=style aria-hidden="true">
                {move || kit.get().logo_url.map(|url| view! { <img src=url alt="" /> })}
                <strong>"Your call to action"</strong>
                <span>{move || settings.get().handle}</span>
            </div>
            <figcaption class="small muted">
                {move || {
                    if settings.get().end_card {
                        "The end card: your logo, the brief's call to action and your handle on the main colour."
                    } else {
                        "No end card: the call to action is written over the last scene."
                    }
                }}
            </figcaption>
        </figure>
    }
}
