//! The browser entry point: hydrates the server-rendered page, unless the page and this
//! script are from different builds (the user is told instead of getting dead buttons).

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    app::page_start::report_panics();
    if !app::page_start::same_build() {
        return;
    }
    leptos::mount::hydrate_body(app::App);
    // Lets tests (and curious developers) see that the page is interactive.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "");
    }
}
