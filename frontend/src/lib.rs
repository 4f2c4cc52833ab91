//! The browser entry point: hydrates the server-rendered page, unless the page and this
//! script are from different builds (the user is told instead of getting dead buttons).

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    app::page_start::report_panics();
    if !app::page_start::same_build() {
        return;
    }
    // Hydrated once the code of the page is here: a page or a wizard step whose code is a
    // part of the bundle of its own (see `.ci/build-site.sh`) is fetched before its
    // server-rendered HTML is taken over.
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = leptos::prelude::document().body() else {
            return;
        };
        app::studio::pages::load_step_shown().await;
        leptos::mount::hydrate_from_async(body.clone(), app::App)
            .await
            .forget();
        // Lets tests (and curious developers) see that the page is interactive.
        let _ = body.set_attribute("data-hydrated", "");
    });
}
