//! Request handling around the Leptos routes: health checks, request ids, the cross-site
//! request guard, the log-in requirement for pages and their compression.

use app::{
    auth::ssr::session_user_id,
    proxies::TrustedProxies,
    state::AppState,
    storage::{local::LinkRefused, ssr::mime_for_extension},
};
use axum::{
    extract::{ConnectInfo, Path, Query, Request, State},
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use std::net::SocketAddr;
use tower::ServiceExt;
use tower_http::{
    compression::{
        predicate::{DefaultPredicate, Predicate},
        CompressionLayer, CompressionLevel,
    },
    services::ServeFile,
};
use tower_sessions::Session;
use uuid::Uuid;

/// Names every request: the id a trusted proxy gave it in `X-Request-Id` (so the
/// proxy's logs and ours line up), else a new one. The request's span carries it into
/// every log line of the request, and the answer sends it back, so a user reporting a
/// failure can quote it. An id from anyone else is replaced: a client must not be able
/// to name its requests after another's.
pub async fn request_id(
    State(trusted): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let given = request
        .headers()
        .get(X_REQUEST_ID)
        .filter(|_| peer.is_some_and(|peer| trusted.contains(peer)))
        .filter(|id| usable_request_id(id.as_bytes()))
        .cloned();
    let id = given.unwrap_or_else(|| {
        HeaderValue::from_str(&Uuid::new_v4().simple().to_string())
            .expect("a UUID is a valid header value")
    });
    request.headers_mut().insert(X_REQUEST_ID, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(X_REQUEST_ID, id);
    response
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Short, and only characters that read the same in any log format.
fn usable_request_id(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(byte))
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    match sqlx::query_scalar!("SELECT 1 AS \"one!\"")
        .fetch_one(&state.pool)
        .await
    {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

#[derive(serde::Deserialize)]
pub struct FileLink {
    expires: u64,
    signature: String,
    /// Set on download links: the name to save the file as (covered by the signature).
    download: Option<String>,
}

/// Answers signed links to locally stored files, with Range support for seeking in video.
pub async fn serve_local_file(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(link): Query<FileLink>,
    request: Request,
) -> Response {
    let Some(files) = state.local_files else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let key = match files.verify(
        &key,
        link.expires,
        &link.signature,
        link.download.as_deref(),
    ) {
        Ok(key) => key,
        Err(refused @ (LinkRefused::Expired | LinkRefused::Invalid)) => {
            return (StatusCode::FORBIDDEN, format!("Sorry, {refused}.")).into_response();
        }
    };
    let mime: mime::Mime = mime_for_extension(key.extension().unwrap_or_default())
        .parse()
        .unwrap_or(mime::APPLICATION_OCTET_STREAM);
    match ServeFile::new_with_mime(files.path_of(&key), &mime)
        .oneshot(request)
        .await
    {
        Ok(mut response) => {
            let headers = response.headers_mut();
            headers.insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("private, max-age=3600"),
            );
            // `verify` accepted only a safe name, which needs no quoting.
            if let Some(value) = link.download.and_then(|name| {
                header::HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).ok()
            }) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            response.into_response()
        }
        Err(error) => {
            tracing::error!(%error, "serving a stored file failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Refuses state-changing requests that a browser marks as coming from another site.
///
/// Server functions have no CSRF token of their own. Browsers send `Sec-Fetch-Site`
/// (and `Origin`) on such requests, and the session cookie is `SameSite=Lax`, so a
/// request from another site is recognised here and dropped before any handler runs.
/// Requests without either header are not from a browser and carry no ambient cookie risk.
pub async fn reject_cross_site(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok());
    let cross_site = match fetch_site {
        Some(site) => !matches!(site, "same-origin" | "none"),
        None => match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            Some(origin) => {
                let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
                let origin_host = origin.split_once("://").map(|(_, rest)| rest);
                origin == "null" || host.is_none() || origin_host != host
            }
            None => false,
        },
    };
    if cross_site {
        tracing::warn!(
            method = %request.method(),
            path = %request.uri().path(),
            fetch_site = ?fetch_site,
            "cross-site request refused"
        );
        return (
            StatusCode::FORBIDDEN,
            "Cross-site requests are not allowed.",
        )
            .into_response();
    }
    next.run(request).await
}

/// Pages that need a session send anonymous visitors to the log-in page (and logged-in
/// ones away from it). Server functions answer 401 on their own.
pub async fn require_login_for_pages(request: Request, next: Next) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let path = request.uri().path();
    let needs_login =
        path == "/" || path == "/account" || path == "/projects" || path.starts_with("/projects/");
    let auth_page = path == "/login" || path == "/signup";
    if !needs_login && !auth_page {
        return next.run(request).await;
    }
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        tracing::error!("session layer missing in front of the page guard");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let logged_in = session_user_id(&session).await.is_some();
    if needs_login && !logged_in {
        let target = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let location = if target == "/" {
            "/login".to_string()
        } else {
            format!("/login?next={}", encode_query_value(target))
        };
        return Redirect::to(&location).into_response();
    }
    if auth_page && logged_in {
        return Redirect::to("/").into_response();
    }
    next.run(request).await
}

fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Headers every answer carries: no framing by other sites (clickjacking), no content
/// sniffing, no full addresses leaked to other sites, and, when the app is served over
/// https (`https` is the state), HSTS. Pages send their own, fuller policy with a
/// nonce for their inline scripts (`app::shell`); every other answer (files, JSON,
/// streams) gets one that only forbids framing, so a page's policy is never overwritten.
pub async fn security_headers(State(https): State<bool>, request: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "strict-origin-when-cross-origin");
    if https {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    response
}

/// What a page reports when it cannot start (see `app/src/page_start.rs`).
#[derive(serde::Deserialize)]
pub struct ClientProblem {
    kind: String,
    detail: String,
    page: String,
}

/// `POST /api/client-problems`: a page that could not start says so, once; the operator
/// reads it in the log.
pub async fn client_problem(axum::Json(problem): axum::Json<ClientProblem>) -> StatusCode {
    let cut = |text: &str, max: usize| text.chars().take(max).collect::<String>();
    tracing::error!(
        kind = cut(&problem.kind, 40),
        page = cut(&problem.page, 200),
        detail = cut(&problem.detail, 2000),
        "a page could not start in the browser"
    );
    StatusCode::NO_CONTENT
}

/// Compresses what is text and made per request (pages, server-function answers, caption
/// files, metrics) for a browser that asks for it. Gzip at level 1, as nginx does by
/// default: the dashboard of 50 projects goes out as 7.2 KB instead of 55.8. Level 4
/// made 5.6 KB for a tenth fewer requests a second (`bench/http`, zlib-rs: see the
/// workspace's flate2); brotli at level 4 made 4.1 KB but cost a third of them (its
/// encoder's buffers, set up per answer).
/// Left alone: the bundle (compressed at build time, it comes with its
/// `Content-Encoding`), media (compressed already, and a clip is read in ranges) and
/// event streams (each event must leave at once).
pub fn compression() -> CompressionLayer<impl Predicate> {
    const TEXT: [&str; 7] = [
        "text/html",
        "text/plain",
        "text/css",
        "text/vtt",
        "application/json",
        "application/javascript",
        "image/svg+xml",
    ];
    let text = |_: StatusCode,
                _: axum::http::Version,
                headers: &axum::http::HeaderMap,
                _: &axum::http::Extensions| {
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|kind| kind.to_str().ok())
            .is_some_and(|kind| TEXT.iter().any(|text| kind.starts_with(text)))
    };
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(1))
        .compress_when(DefaultPredicate::new().and(text))
}

#[cfg(test)]
mod tests {
    use super::encode_query_value;

    #[test]
    fn next_paths_are_percent_encoded() {
        assert_eq!(
            encode_query_value("/projects/1?a=b&c"),
            "/projects/1%3Fa%3Db%26c"
        );
    }
}
