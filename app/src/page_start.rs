//! Browser-only: what happens before and around hydration. A page whose script comes from
//! another build than the server, or whose hydration fails, would show dead buttons and
//! say nothing; instead it tells the user, once, and tells the server, which logs it
//! (`POST /api/client-problems`).

use wasm_bindgen::JsValue;

/// What the user reads when the page cannot start.
const CANNOT_START: &str =
    "This page could not start. Reload it, or tell the operator if it keeps happening.";
/// What the user reads when a part of the bundle (a wizard step's code, fetched when the
/// step is first opened) could not be downloaded: the network, not the page, failed.
const PART_MISSING: &str =
    "Part of this page could not be downloaded. Check your connection, then reload the page.";
/// How the splitter's code fails when a part did not download: its lazy functions
/// `.expect("load callback should succeed")` (wasm_split_macros), so the page cannot go
/// on; it can at least say why.
const PART_FAILED: &str = "load callback should succeed";

/// Whether the page's script is from the same build as the server that rendered it; if
/// not, the user is told and the server hears of it.
pub fn same_build() -> bool {
    // Read through black_box, so that the whole marker stays in the WASM's data, where
    // the server looks for it at start-up.
    let ours = std::hint::black_box(crate::BUILD_MARKER)
        .trim_start_matches("reelsmith-build-id:")
        .trim_end_matches(';');
    let theirs = leptos::prelude::document()
        .query_selector("meta[name=reelsmith-build]")
        .ok()
        .flatten()
        .and_then(|meta| meta.get_attribute("content"));
    if theirs.as_deref() == Some(ours) {
        return true;
    }
    report(
        "build_mismatch",
        &format!(
            "the page was rendered by build {}, its script is build {ours}",
            theirs.as_deref().unwrap_or("(none)")
        ),
        CANNOT_START,
    );
    false
}

/// Reports a panic (a failed hydration among them) to the user and the server, after
/// the usual message in the console.
pub fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let detail = info.to_string();
        if detail.contains(PART_FAILED) {
            report("part_download", &detail, PART_MISSING);
        } else {
            report("panic", &detail, CANNOT_START);
        }
    }));
}

/// Tells the user `message` and the server what happened, once per page.
fn report(kind: &str, detail: &str, message: &str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if REPORTED.swap(true, Ordering::SeqCst) {
        return;
    }
    show_problem(message);
    let Some(window) = web_sys::window() else {
        return;
    };
    let page = window.location().pathname().unwrap_or_default();
    let body = serde_json::json!({ "kind": kind, "detail": detail, "page": page }).to_string();
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body));
    if let Ok(headers) = web_sys::Headers::new() {
        let _ = headers.set("content-type", "application/json");
        init.set_headers(&headers);
    }
    if let Ok(request) = web_sys::Request::new_with_str_and_init("/api/client-problems", &init) {
        let _ = window.fetch_with_request(&request);
    }
}

fn show_problem(message: &str) {
    let document = leptos::prelude::document();
    let (Ok(banner), Some(body)) = (document.create_element("div"), document.body()) else {
        return;
    };
    banner.set_class_name("page-problem");
    let _ = banner.set_attribute("role", "alert");
    banner.set_text_content(Some(message));
    let _ = body.prepend_with_node_1(&banner);
}
