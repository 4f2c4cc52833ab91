//! Files users upload (product photos, a brand kit's logo and font): on the server, one
//! file field of a multipart form read as it streams and refused past its size limit; in
//! the browser, one file sent with `XMLHttpRequest`, whose upload progress events `fetch`
//! does not offer.

#[cfg(feature = "ssr")]
pub use server::*;

#[cfg(feature = "hydrate")]
pub use browser::*;

#[cfg(feature = "ssr")]
mod server {
    use crate::error::AppError;
    use axum::{extract::Multipart, http::StatusCode};

    /// The name shown for an uploaded file: its last path segment, without control
    /// characters, at most 120 characters (`fallback` when nothing is left).
    pub fn display_name(name: Option<&str>, fallback: &str) -> String {
        let name = name
            .unwrap_or_default()
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default();
        let name: String = name.chars().filter(|c| !c.is_control()).take(120).collect();
        let name = name.trim();
        if name.is_empty() {
            fallback.into()
        } else {
            name.into()
        }
    }

    /// The one file in field `field` of the form, read chunk by chunk up to `max_bytes`
    /// (past it, `too_large`). Answers its display name and bytes.
    pub async fn read_file(
        form: &mut Multipart,
        field_name: &str,
        max_bytes: u64,
        too_large: impl Fn() -> AppError,
    ) -> Result<(String, Vec<u8>), AppError> {
        let form_error = |error: axum::extract::multipart::MultipartError| {
            if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                AppError::invalid(format!(
                    "The upload could not be read: {}",
                    error.body_text()
                ))
            }
        };
        let mut found = None;
        while let Some(mut field) = form.next_field().await.map_err(form_error)? {
            if field.name() != Some(field_name) {
                continue;
            }
            if found.is_some() {
                return Err(AppError::invalid(format!(
                    "Send one {field_name} at a time."
                )));
            }
            let name = display_name(field.file_name(), field_name);
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                if (bytes.len() + chunk.len()) as u64 > max_bytes {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            found = Some((name, bytes));
        }
        found.ok_or_else(|| AppError::invalid(format!("Choose a {field_name} to upload.")))
    }

    #[cfg(test)]
    mod tests {
        use super::display_name;

        #[test]
        fn names_shown_are_the_files_own_without_paths_or_controls() {
            assert_eq!(
                display_name(Some("C:\\Users\\me\\lamp.jpg"), "photo"),
                "lamp.jpg"
            );
            assert_eq!(display_name(Some("../../etc/passwd"), "photo"), "passwd");
            assert_eq!(
                display_name(Some("bad\0name\n.png"), "photo"),
                "badname.png"
            );
            assert_eq!(display_name(None, "photo"), "photo");
            assert_eq!(display_name(Some("  "), "logo"), "logo");
        }
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use crate::error::AppError;
    use serde::de::DeserializeOwned;
    use wasm_bindgen::{closure::Closure, JsCast};
    use wasm_bindgen_futures::JsFuture;

    fn failed(what: &str) -> String {
        format!("Could not reach Reelsmith ({what}). Check your connection and try again.")
    }

    /// Posts `file` as field `field` of a multipart form to `url`; `on_progress` gets the
    /// share sent (0–1). Answers the server's JSON, or the message to show.
    pub async fn send_file<T: DeserializeOwned>(
        url: &str,
        field: &str,
        file: web_sys::File,
        on_progress: impl Fn(f64) + 'static,
    ) -> Result<T, String> {
        let form = web_sys::FormData::new().map_err(|_| failed("form"))?;
        form.append_with_blob_and_filename(field, &file, &file.name())
            .map_err(|_| failed("form"))?;
        let request = web_sys::XmlHttpRequest::new().map_err(|_| failed("request"))?;
        request.open("POST", url).map_err(|_| failed("request"))?;
        let progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
            move |event: web_sys::ProgressEvent| {
                if event.length_computable() && event.total() > 0.0 {
                    on_progress(event.loaded() / event.total());
                }
            },
        );
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
                413 => format!("The {field} is too large to send."),
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

    /// The files a change of an `<input type="file">` picked; the input is emptied, so
    /// that picking the same file again is a new pick.
    pub fn picked(event: &leptos::ev::Event) -> Vec<web_sys::File> {
        let Some(input) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return Vec::new();
        };
        let files = files_of(input.files());
        input.set_value("");
        files
    }
}
