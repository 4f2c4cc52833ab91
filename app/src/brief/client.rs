//! Browser-only: sends a chat message and reads the director's streamed reply
//! (`POST /api/projects/{id}/chat`, Server-Sent Events over `fetch`).

use super::BriefState;
use crate::error::AppError;
use uuid::Uuid;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn text_of(value: JsValue) -> String {
    value.as_string().unwrap_or_default()
}

/// Sends a chat message and reads the streamed reply: `on_token` for each piece, then
/// the new state (or the error to show).
pub async fn stream_chat(
    project: Uuid,
    message: &str,
    on_token: impl Fn(String) + 'static,
) -> Result<BriefState, String> {
    let failed = |what: &str| {
        format!("Could not reach Reelsmith ({what}). Check your connection and try again.")
    };
    let window = web_sys::window().ok_or_else(|| failed("no window"))?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let headers = web_sys::Headers::new().map_err(|_| failed("headers"))?;
    headers
        .set("content-type", "application/json")
        .map_err(|_| failed("headers"))?;
    headers
        .set("accept", "text/event-stream")
        .map_err(|_| failed("headers"))?;
    init.set_headers(&headers);
    let body = serde_json::json!({ "message": message }).to_string();
    init.set_body(&JsValue::from_str(&body));
    let request =
        web_sys::Request::new_with_str_and_init(&format!("/api/projects/{project}/chat"), &init)
            .map_err(|_| failed("request"))?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| failed("network"))?
        .unchecked_into();
    if !response.ok() {
        let text = match response.text() {
            Ok(promise) => JsFuture::from(promise)
                .await
                .map(text_of)
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        return Err(serde_json::from_str::<AppError>(&text)
            .map(|e| e.to_string())
            .unwrap_or_else(|_| failed(&format!("status {}", response.status()))));
    }
    let reader: web_sys::ReadableStreamDefaultReader = response
        .body()
        .ok_or_else(|| failed("empty answer"))?
        .get_reader()
        .unchecked_into();
    let decoder = web_sys::TextDecoder::new().map_err(|_| failed("decoder"))?;
    let mut buffer = String::new();
    let mut event = String::new();
    let mut data = String::new();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|_| failed("interrupted"))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into())
            .map(|d| d.is_truthy())
            .unwrap_or(true);
        if done {
            return Err(failed("the reply ended early"));
        }
        let value: js_sys::Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())
            .map_err(|_| failed("read"))?
            .unchecked_into();
        let options = web_sys::TextDecodeOptions::new();
        options.set_stream(true);
        buffer.push_str(
            &decoder
                .decode_with_js_u8_array_and_options(&value, &options)
                .unwrap_or_default(),
        );
        while let Some(end) = buffer.find('\n') {
            let line = buffer[..end].trim_end_matches('\r').to_string();
            buffer.drain(..=end);
            if let Some(name) = line.strip_prefix("event:") {
                event = name.trim().to_string();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            } else if line.is_empty() && !data.is_empty() {
                let payload = std::mem::take(&mut data);
                match event.as_str() {
                    "token" => {
                        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&payload) {
                            on_token(value["text"].as_str().unwrap_or_default().to_string());
                        }
                    }
                    "done" => {
                        return serde_json::from_str(&payload)
                            .map_err(|_| failed("unreadable brief"));
                    }
                    "error" => {
                        let value: serde_json::Value =
                            serde_json::from_str(&payload).unwrap_or_default();
                        return Err(value["message"]
                            .as_str()
                            .unwrap_or("The director could not answer.")
                            .to_string());
                    }
                    _ => {}
                }
            }
        }
    }
}
