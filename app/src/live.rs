//! Browser-only: follows one of the server's live event streams (Server-Sent Events) with
//! the browser's `EventSource`, which reconnects by itself and sends `Last-Event-ID`, so a
//! page misses nothing across a dropped connection.

use serde::de::DeserializeOwned;
use std::rc::Rc;
use wasm_bindgen::{closure::Closure, JsCast};

/// What a page wants from a stream.
pub struct Follow<E> {
    /// The stream's address, e.g. `/api/storyboards/{id}/stream`.
    pub url: String,
    /// The SSE event names to listen to.
    pub names: &'static [&'static str],
    /// Called with each event's name and its decoded data.
    pub on_event: Rc<dyn Fn(&'static str, E)>,
    /// Called with `true` when the connection opens and `false` when it drops.
    pub on_open: Option<Rc<dyn Fn(bool)>>,
    /// Events after which the stream is closed (a finished render sends no more).
    pub last: fn(&E) -> bool,
}

/// Opens the stream; the caller closes the returned source when the page goes.
pub fn follow<E: DeserializeOwned + 'static>(follow: Follow<E>) -> Option<web_sys::EventSource> {
    let source = web_sys::EventSource::new(&follow.url).ok()?;
    for name in follow.names.iter().copied() {
        let on_event = follow.on_event.clone();
        let last = follow.last;
        let closer = source.clone();
        let listener =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |message: web_sys::MessageEvent| {
                let Some(data) = message.data().as_string() else {
                    return;
                };
                if let Ok(event) = serde_json::from_str::<E>(&data) {
                    let finished = last(&event);
                    on_event(name, event);
                    if finished {
                        closer.close();
                    }
                }
            });
        let _ = source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
        listener.forget();
    }
    if let Some(on_open) = follow.on_open {
        let opened = {
            let on_open = on_open.clone();
            Closure::<dyn Fn()>::new(move || on_open(true))
        };
        source.set_onopen(Some(opened.as_ref().unchecked_ref()));
        opened.forget();
        let errored = Closure::<dyn Fn()>::new(move || on_open(false));
        source.set_onerror(Some(errored.as_ref().unchecked_ref()));
        errored.forget();
    }
    Some(source)
}

/// Opens the stream for as long as the current component is on the page.
pub fn follow_on_page<E: DeserializeOwned + 'static>(follow: Follow<E>) {
    let source = send_wrapper::SendWrapper::new(self::follow(follow));
    leptos::prelude::on_cleanup(move || {
        if let Some(source) = source.take() {
            source.close();
        }
    });
}

/// Follows the project's news stream on this page: `on_change` runs for each event
/// named in `names` (`moods_changed`, `music_changed`).
pub fn follow_project(
    project: uuid::Uuid,
    names: &'static [&'static str],
    on_change: impl Fn() + 'static,
) {
    follow_on_page(Follow {
        url: format!("/api/projects/{project}/stream"),
        names,
        on_event: Rc::new(move |_, _: crate::projects::ProjectEvent| on_change()),
        on_open: None,
        last: |_| false,
    });
}
