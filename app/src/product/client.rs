//! Browser-only: uploads one photo with `XMLHttpRequest`, whose upload progress events
//! `fetch` does not offer.

use super::ProductPhoto;
use crate::error::AppError;
use uuid::Uuid;
use wasm_bindgen::{closure::Closure, JsCast};
use wasm_bindgen_futures::JsFuture;

fn failed(what: &str) -> String {
    format!("Could not reach Reelsmith ({what}). Check your connection and try again.")
}

/// Sends `file` as the project's next photo; `on_progress` gets the share sent (0–1).
/// Answers the project's photos, or the message to show.
pub async fn upload(
    project: Uuid,
    file: web_sys::File,
    on_progress: impl Fn(f64) + 'static,
) -> Result<Vec<ProductPhoto>, String> {
    let form = web_sys::FormData::new().map_err(|_| failed("form"))?;
    form.append_with_blob_and_filename("photo", &file, &file.name())
        .map_err(|_| failed("form"))?;
    let request = web_sys::XmlHttpRequest::new().map_err(|_| failed("request"))?;
    request
        .open("POST", &format!("/api/projects/{project}/photos"))
        .map_err(|_| failed("request"))?;
    let progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |event: web_sys::ProgressEvent| {
            if event.length_computable() && event.total() > 0.0 {
                on_progress(event.loaded() / event.total());
            }
        });
    request
        .upload()
        .map_err(|_| failed("request"))?
        .set_onprogress(Some(progress.as_ref().unchecked_ref()));
    // Settles when the request ends, however it ends (answered, failed or aborted).
    let ended = js_sys::Promise::new(&mut |resolve, _| {
        request.set_onloadend(Some(&resolve));
    });
    request
        .send_with_opt_form_data(Some(&form))
        .map_err(|_| failed("network"))?;
    JsFuture::from(ended).await.map_err(|_| failed("network"))?;
    drop(progress);
    let status = request.status().unwrap_or(0);
    let text = request.response_text().ok().flatten().unwrap_or_default();
    if status == 0 {
        return Err(failed("network"));
    }
    if (200..300).contains(&status) {
        return serde_json::from_str(&text).map_err(|_| failed("unreadable answer"));
    }
    Err(serde_json::from_str::<AppError>(&text)
        .map(|error| error.to_string())
        .unwrap_or_else(|_| match status {
            413 => "The photo is too large to send.".to_string(),
            _ => failed(&format!("status {status}")),
        }))
}

/// The files of a file list, in order.
pub fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}
