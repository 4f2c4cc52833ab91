//! Step 1's screen: the chat with the creative director, its reply streamed word by
//! word, and the brief it fills in, editable by hand.

use super::api::{get_brief, SaveBrief};
use super::{BriefState, ChatLine};
use crate::components::{error_text, OfflineNote};
use crate::creative::Brief;
use crate::error::AppError;
use crate::product::{pages::ProductPhotos, ProductPhoto};
use leptos::prelude::*;
use uuid::Uuid;

/// The first question, shown before the chat has begun.
const OPENING: &str = "Hi! I'm your creative director for this ad. Let's start with the product: what is it called, and what does it do?";

#[component]
pub fn BriefStep(project: Uuid) -> impl IntoView {
    let state = Resource::new(move || project, |project| get_brief(project.to_string()));
    let photos = crate::product::pages::load_photos(project);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the conversation…"</p> }>
            {move || {
                state
                    .get()
                    .map(|result| match result {
                        Ok(initial) => view! { <BriefWorkspace project initial photos /> }.into_any(),
                        Err(error) => {
                            view! { <p class="form-error" role="alert">{error_text(&error)}</p> }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

#[component]
fn BriefWorkspace(
    project: Uuid,
    initial: BriefState,
    photos: Resource<Result<Vec<ProductPhoto>, AppError>>,
) -> impl IntoView {
    let prices = crate::budget::pages::use_prices(project);
    let messages = RwSignal::new(initial.messages.clone());
    let brief = RwSignal::new(initial.brief.clone());
    let missing = RwSignal::new(initial.missing.clone());
    let draft = RwSignal::new(String::new());
    let partial = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<String>);
    let offline = initial.offline;

    let apply = move |state: BriefState| {
        messages.set(state.messages);
        brief.set(state.brief);
        missing.set(state.missing);
    };
    let send = move || {
        let text = draft.get_untracked().trim().to_string();
        if text.is_empty() || partial.get_untracked().is_some() {
            return;
        }
        messages.update(|m| {
            m.push(ChatLine {
                role: "user".into(),
                content: text.clone(),
            })
        });
        draft.set(String::new());
        partial.set(Some(String::new()));
        problem.set(None);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let result = super::client::stream_chat(project, &text, move |token| {
                partial.update(|p| {
                    if let Some(p) = p {
                        p.push_str(&token)
                    }
                })
            })
            .await;
            match result {
                Ok(state) => apply(state),
                Err(message) => problem.set(Some(message)),
            }
            partial.set(None);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (text, apply);
    };

    let log = NodeRef::<leptos::html::Ol>::new();
    Effect::new(move |_| {
        messages.track();
        partial.track();
        if let Some(log) = log.get() {
            log.set_scroll_top(log.scroll_height());
        }
    });

    view! {
        <div class="brief-layout">
            <section class="card chat" aria-labelledby="chat-title">
                <h2 id="chat-title" class="card-title">"Creative director"</h2>
                <OfflineNote offline />
                <ol class="chat-log" node_ref=log aria-live="polite" aria-label="Conversation">
                    <li class="bubble bubble-assistant">{OPENING}</li>
                    <For
                        each=move || messages.get().into_iter().enumerate()
                        key=|(i, line)| (*i, line.content.len())
                        children=move |(_, line)| {
                            let class = if line.role == "user" {
                                "bubble bubble-user"
                            } else {
                                "bubble bubble-assistant"
                            };
                            view! { <li class=class>{line.content}</li> }
                        }
                    />
                    {move || {
                        partial
                            .get()
                            .map(|text| {
                                view! {
                                    <li class="bubble bubble-assistant bubble-streaming" aria-busy="true">
                                        {if text.is_empty() { "…".to_string() } else { text }}
                                    </li>
                                }
                            })
                    }}
                </ol>
                {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
                <form
                    class="chat-form"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        send();
                    }
                >
                    <label class="sr-only" for="chat-input">"Your message"</label>
                    <textarea
                        id="chat-input"
                        name="message"
                        rows="2"
                        maxlength="4000"
                        placeholder="Answer the director…"
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))
                        on:keydown=move |ev| {
                            if ev.key() == "Enter" && !ev.shift_key() {
                                ev.prevent_default();
                                send();
                            }
                        }
                    ></textarea>
                    <button
                        type="submit"
                        class="btn btn-primary"
                        disabled=move || partial.get().is_some()
                    >
                        {move || {
                            if partial.get().is_some() {
                                "Writing…".to_string()
                            } else {
                                // A reply and the brief drawn from it: two director calls.
                                let prices = prices.get();
                                crate::budget::priced("Send", 2 * prices.director_microusd, &prices)
                            }
                        }}
                    </button>
                </form>
            </section>
            <div class="brief-side">
                <BriefEditor project brief missing on_saved=apply />
                <ProductPhotos project loaded=photos />
            </div>
        </div>
    }
}

#[component]
fn BriefEditor(
    project: Uuid,
    brief: RwSignal<Brief>,
    missing: RwSignal<Vec<String>>,
    on_saved: impl Fn(BriefState) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let save = ServerAction::<SaveBrief>::new();
    Effect::new(move |_| {
        if let Some(Ok(state)) = save.value().get() {
            on_saved(state);
        }
    });
    let error = move || {
        save.value()
            .get()
            .and_then(Result::err)
            .map(|e| error_text(&e))
    };
    let field = |label: &'static str,
                 name: &'static str,
                 value: Signal<String>,
                 hint: &'static str,
                 multiline: bool| {
        let id = format!("brief-{name}");
        view! {
            <div class="field">
                <label class="field-label" for=id.clone()>{label}</label>
                {if multiline {
                    view! { <textarea id=id.clone() name=name rows="3" prop:value=move || value.get()></textarea> }
                        .into_any()
                } else {
                    view! { <input id=id.clone() name=name type="text" prop:value=move || value.get() /> }
                        .into_any()
                }}
                <span class="field-hint">{hint}</span>
            </div>
        }
    };
    let text = move |f: fn(&Brief) -> String| Signal::derive(move || brief.with(f));
    view! {
        <section class="card brief" aria-labelledby="brief-title">
            <h2 id="brief-title" class="card-title">"Brief"</h2>
            <p class="muted">"Filled in from the chat as you go. Edit anything, then save."</p>
            <ActionForm action=save attr:class="form-stack">
                <input type="hidden" name="project" value=project.to_string() />
                {field("Product name", "product_name", text(|b| b.product_name.clone()), "", false)}
                {field("Audience", "audience", text(|b| b.audience.clone()), "", false)}
                {field("Emotional tone", "emotional_tone", text(|b| b.emotional_tone.join(", ")), "Separated by commas", false)}
                {field("Visual style", "visual_style", text(|b| b.visual_style.join(", ")), "Separated by commas", false)}
                {field("Key messages", "key_messages", text(|b| b.key_messages.join("\n")), "One per line", true)}
                {field("Call to action", "call_to_action", text(|b| b.call_to_action.clone()), "", false)}
                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <div class="row">
                    <button type="submit" class="btn btn-ghost" disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Saving…" } else { "Save brief" }}
                    </button>
                    {move || {
                        let missing = missing.get();
                        if missing.is_empty() {
                            view! {
                                <a class="btn btn-primary" href=format!("/projects/{project}/mood")>
                                    "Continue to moods"
                                </a>
                            }
                                .into_any()
                        } else {
                            view! {
                                <p class="muted small">{format!("Still needed: {}.", missing.join(", "))}</p>
                            }
                                .into_any()
                        }
                    }}
                </div>
            </ActionForm>
        </section>
    }
}
