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

/// Room that keeps each part's text and tables in its own part. wasm-split-cli (0.2.3)
/// lays out the data of every part inside the linker's data segment, each part aligned,
/// and if that comes out longer than the segment it puts the whole segment in the main
/// part: every page's text and tables then come with the log-in page (+80 KB, +31 KB
/// brotli, measured when a change in the mood and storyboard steps made it 331 bytes
/// too long). Nothing uses these bytes, so no part gets them: they only make the segment
/// long enough. `.ci/build-site.sh` stops the build if the segment overflows again.
#[used]
static SPLIT_SLACK: [u8; 4096] = [0x5a; 4096];
