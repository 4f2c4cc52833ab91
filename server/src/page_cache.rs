//! The dashboard, rendered once per change instead of once per visit.
//!
//! The dashboard is the page people open most, and rendering it (Leptos building every
//! project card, then compressing some 60 KB of HTML) is most of what a visit costs. Yet
//! it changes only when its projects or its user change. So for `GET /` the projects are
//! read first, and the page is filed under a fingerprint of everything it shows: the user,
//! their email, the address asked for and the projects as they were read. A visit whose
//! fingerprint matches the copy kept for that user gets that copy, compressed once;
//! any other is rendered (from the very list that was fingerprinted, see
//! `app::projects::ssr::Listed`) and replaces it. A cached page can thus never show
//! what its user's data no longer says, on this instance or any other, and nothing has
//! to be told when data changes.
//!
//! A page kept for replay cannot carry a per-answer nonce, so the dashboard's policy
//! allows its inline scripts (Leptos's hydration data) by their SHA-256 instead: exactly
//! those scripts, and no others.

use app::{
    auth::ssr::session_account,
    projects::{ssr::Listed, Project},
};
use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};
use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex},
};
use tower_sessions::Session;
use uuid::Uuid;

/// What the kept pages may take in memory, compressed and not: about 60 KB each for a
/// dashboard of 50 projects, so some 500 users' dashboards. Past it the least recently
/// shown go.
const BUDGET_BYTES: usize = 32 << 20;

/// The largest page kept; a bigger one (thousands of projects) is sent as rendered.
const LARGEST_PAGE: usize = 4 << 20;

/// The kept dashboards, one per user, shared by the instance's requests.
#[derive(Clone)]
pub struct PageCache {
    pool: PgPool,
    kept: Arc<Mutex<Kept>>,
}

#[derive(Default)]
struct Kept {
    pages: HashMap<Uuid, Page>,
    bytes: usize,
    clock: u64,
}

struct Page {
    fingerprint: [u8; 32],
    /// The rendered answer's headers, its policy rewritten to the scripts' hashes.
    headers: HeaderMap,
    html: Bytes,
    gzip: Bytes,
    last_shown: u64,
}

impl Page {
    fn bytes(&self) -> usize {
        self.html.len() + self.gzip.len()
    }

    fn answer(&self, gzip: bool) -> Response {
        let mut response = Response::new(Body::from(if gzip {
            self.gzip.clone()
        } else {
            self.html.clone()
        }));
        *response.headers_mut() = self.headers.clone();
        if gzip {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    }
}

impl PageCache {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            kept: Arc::default(),
        }
    }

    /// The kept page, if its fingerprint is this one; marks it shown.
    fn shown(&self, user: Uuid, fingerprint: &[u8; 32], gzip: bool) -> Option<Response> {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        kept.clock += 1;
        let now = kept.clock;
        let page = kept.pages.get_mut(&user)?;
        if page.fingerprint != *fingerprint {
            return None;
        }
        page.last_shown = now;
        Some(page.answer(gzip))
    }

    fn keep(&self, user: Uuid, mut page: Page) {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        kept.clock += 1;
        page.last_shown = kept.clock;
        kept.bytes += page.bytes();
        if let Some(replaced) = kept.pages.insert(user, page) {
            kept.bytes -= replaced.bytes();
        }
        while kept.bytes > BUDGET_BYTES {
            let Some(oldest) = kept
                .pages
                .iter()
                .min_by_key(|(_, page)| page.last_shown)
                .map(|(user, _)| *user)
            else {
                break;
            };
            if let Some(gone) = kept.pages.remove(&oldest) {
                kept.bytes -= gone.bytes();
            }
        }
    }
}

/// Serves `GET /` from the user's kept dashboard when it still shows what their data
/// says, and keeps the rendered one otherwise. Runs inside the session and the log-in
/// requirement; anything it cannot fingerprint (no email in the session, a failed read)
/// is rendered as usual and not kept.
pub async fn dashboard(
    State(cache): State<PageCache>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::GET || request.uri().path() != "/" {
        return next.run(request).await;
    }
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return next.run(request).await;
    };
    let Some(user) = session_account(&session).await else {
        return next.run(request).await;
    };
    let projects: Arc<[Project]> = match app::projects::ssr::list(&cache.pool, user.id).await {
        Ok(projects) => projects.into(),
        Err(_) => return next.run(request).await,
    };
    let fingerprint = {
        let mut hash = Sha256::new();
        hash.update(user.id.as_bytes());
        for part in [
            user.email.as_str(),
            request.uri().path_and_query().map_or("/", |p| p.as_str()),
        ] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        match serde_json::to_vec(&*projects) {
            Ok(listed) => hash.update(listed),
            Err(_) => return next.run(request).await,
        }
        <[u8; 32]>::from(hash.finalize())
    };
    let gzip = accepts_gzip(request.headers());
    if let Some(answer) = cache.shown(user.id, &fingerprint, gzip) {
        count("hit");
        return answer;
    }
    request.extensions_mut().insert(Listed(projects));
    let (parts, body) = next.run(request).await.into_parts();
    let is_page = parts.status == StatusCode::OK
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|kind| kind.as_bytes().starts_with(b"text/html"))
        && !parts.headers.contains_key(header::CONTENT_ENCODING);
    if !is_page {
        return Response::from_parts(parts, body);
    }
    // Read whole whatever its size: Leptos has rendered it whole already (the page waits
    // for its data), so this is a copy, not a new risk.
    let html = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(html) if html.len() > LARGEST_PAGE => {
            return Response::from_parts(parts, Body::from(html))
        }
        Ok(html) => html,
        Err(error) => {
            tracing::warn!(%error, "the dashboard could not be read for keeping");
            return Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body(Body::from(
                    "Sorry, the page could not be made. Please reload.",
                ))
                .unwrap_or_default();
        }
    };
    match Page::made(fingerprint, parts.headers.clone(), html.clone()) {
        Some(page) => {
            count("miss");
            let answer = page.answer(gzip);
            cache.keep(user.id, page);
            answer
        }
        None => Response::from_parts(parts, Body::from(html)),
    }
}

impl Page {
    /// The rendered page ready to be kept: the page's policy (`app::page_policy`)
    /// allowing its inline scripts by hash instead of the answer's nonce, and a
    /// compressed copy. None for an answer the shell sent no policy with.
    fn made(fingerprint: [u8; 32], mut headers: HeaderMap, html: Bytes) -> Option<Self> {
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            return None;
        }
        let hashes = inline_scripts(&html)
            .map(|script| {
                let digest = Sha256::digest(script);
                format!(
                    "'sha256-{}'",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&app::page_policy(&hashes)).ok()?,
        );
        for made_per_answer in [
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
            header::SET_COOKIE,
        ] {
            headers.remove(made_per_answer);
        }
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        // Compressed once for every visit it serves, so harder than per answer (level 1).
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(html.len() / 4),
            flate2::Compression::new(6),
        );
        encoder.write_all(&html).ok()?;
        let gzip = Bytes::from(encoder.finish().ok()?);
        Some(Self {
            fingerprint,
            headers,
            html,
            gzip,
            last_shown: 0,
        })
    }
}

/// The contents of the page's inline scripts, as a browser delimits them: from the end
/// of the opening tag to the first `</script`. (Leptos writes `<` in its data as
/// `\u003c`, so its scripts hold no closing tag.) Scripts with a `src` load from the site
/// and are allowed by `'self'`.
fn inline_scripts(html: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = html;
    std::iter::from_fn(move || loop {
        let open = memchr::memmem::find(rest, b"<script")?;
        let tag_end = open + memchr::memchr(b'>', &rest[open..])?;
        let tag = &rest[open..tag_end];
        let body = &rest[tag_end + 1..];
        let close = memchr::memmem::find(body, b"</script")?;
        rest = &body[close..];
        if memchr::memmem::find(tag, b" src=").is_none() {
            return Some(&body[..close]);
        }
    })
}

/// Whether the client takes gzip (`Accept-Encoding: gzip`, not with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|param| {
                param
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn count(result: &'static str) {
    metrics::counter!("reelsmith_page_cache_total", "page" => "dashboard", "result" => result)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_found_as_a_browser_ends_them() {
        let page = b"<head><script type=\"module\" src=\"/pkg/a.js\"></script>\
            <script nonce=\"x\">a()</script></head><body><script>b(\"\\u003c/p>\")</script>";
        let found: Vec<&[u8]> = inline_scripts(page).collect();
        assert_eq!(found, [&b"a()"[..], &b"b(\"\\u003c/p>\")"[..]]);
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br, zstd"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(!with("br, gzip;q=0"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
