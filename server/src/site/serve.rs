//! The site's own files under `/pkg` (the WASM bundle, its JavaScript and the stylesheet),
//! served compressed to browsers that accept it. A debug WASM is about 15 MB and
//! shrinks to a fifth; a release one by about three quarters.
//!
//! A release build brings brotli (`.br`) and gzip (`.gz`) copies made at build time. Any
//! other site gets `.gz` copies beside the originals when the server starts, in the
//! background, remade whenever an original is newer (as under `cargo leptos watch`).
//! Until one is ready, or when the site directory is read-only, the original is served
//! as it is.

use super::Bundle;
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue},
    middleware::{self, Next},
    response::Response,
    Router,
};
use flate2::{write::GzEncoder, Compression};
use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

/// Extensions worth compressing; images and media are compressed already.
const COMPRESSIBLE: [&str; 4] = ["wasm", "js", "css", "svg"];

/// `/pkg/*` from `<site_root>/pkg`, with `.br` and `.gz` copies preferred. A bundle
/// named after its contents is kept by browsers for a year (`immutable`: a new build has
/// new names); any other is revalidated (`no-cache`) rather than kept stale after an
/// upgrade, an unchanged file costing a 304. A file not found is never cached.
pub fn pkg_service<S: Clone + Send + Sync + 'static>(
    site_root: &Path,
    bundle: &Bundle,
) -> Router<S> {
    let dir = site_root.join("pkg");
    let kept = HeaderValue::from_static(if bundle.hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    });
    Router::new()
        .fallback_service(
            ServeDir::new(&dir)
                .precompressed_br()
                .precompressed_gzip()
                .append_index_html_on_directories(false),
        )
        .layer(middleware::from_fn_with_state(dir, only_fresh_copies))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            move |response: &Response| {
                Some(
                    if response.status().is_success() || response.status().is_redirection() {
                        kept.clone()
                    } else {
                        HeaderValue::from_static("no-store")
                    },
                )
            },
        ))
}

/// A compressed copy older than its original (the bundle was rebuilt while the server
/// ran, as `cargo leptos watch` does) must not be served: the request then goes out as
/// if the browser took no compression, and fresh copies are made in the background.
async fn only_fresh_copies(
    State(dir): State<PathBuf>,
    mut request: Request,
    next: Next,
) -> Response {
    let name = request.uri().path().trim_start_matches('/');
    let plain_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.starts_with('.');
    if plain_name {
        let original = dir.join(name);
        let stale = ["gz", "br"].into_iter().any(|suffix| {
            let copy = copy_path(&original, suffix);
            copy.exists() && !is_fresh(&original, &copy)
        });
        if stale {
            request.headers_mut().remove(header::ACCEPT_ENCODING);
            compress_in_background(dir.clone());
        }
    }
    next.run(request).await
}

/// Makes or refreshes the `.gz` copy of every compressible file in `dir`; returns how
/// many were written.
pub fn precompress(dir: &Path) -> io::Result<usize> {
    let mut written = 0;
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let compressible = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| COMPRESSIBLE.contains(&e));
        if !compressible || !path.is_file() {
            continue;
        }
        let target = copy_path(&path, "gz");
        if is_fresh(&path, &target) {
            continue;
        }
        // Written aside and renamed: a request never sees half a file.
        let partial = target.with_extension(format!("gz.{}.partial", uuid::Uuid::new_v4()));
        // The copy carries the original's modification time as read before compressing:
        // an original rewritten meanwhile differs from it, so the copy counts as stale.
        let mut original = fs::File::open(&path)?;
        let stamp = original.metadata()?.modified()?;
        let mut encoder = GzEncoder::new(fs::File::create(&partial)?, Compression::default());
        io::copy(&mut original, &mut encoder)?;
        let mut copy = encoder.finish()?;
        copy.flush()?;
        copy.set_modified(stamp)?;
        drop(copy);
        fs::rename(&partial, &target)?;
        written += 1;
    }
    Ok(written)
}

/// `<path>.<suffix>`: where a compressed copy of `path` is kept.
fn copy_path(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// A copy is fresh when it carries its original's modification time (see `precompress`).
fn is_fresh(original: &Path, compressed: &Path) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!(
        (modified(original), modified(compressed)),
        (Some(original), Some(compressed)) if compressed == original
    )
}

/// Runs [`precompress`] on `<site_root>/pkg` off the async threads, logging the outcome.
pub fn precompress_in_background(site_root: &Path) {
    compress_in_background(site_root.join("pkg"));
}

fn compress_in_background(dir: PathBuf) {
    // One run at a time: requests that find stale copies while one runs add nothing.
    static RUNNING: AtomicBool = AtomicBool::new(false);
    if RUNNING.swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::task::spawn_blocking(move || {
        let outcome = precompress(&dir);
        RUNNING.store(false, Ordering::Release);
        report(&dir, outcome);
    });
}

fn report(dir: &Path, outcome: io::Result<usize>) {
    match outcome {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, dir = %dir.display(), "compressed site files"),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(
            %error,
            dir = %dir.display(),
            "could not compress the site files; serving them uncompressed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_copies_are_made_once_and_remade_when_the_original_changes() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("site.wasm");
        fs::write(&wasm, "wasm ".repeat(10_000)).unwrap();
        fs::write(dir.path().join("poster.png"), b"png").unwrap();
        assert_eq!(precompress(dir.path()).unwrap(), 1, "only the WASM");
        let gz = dir.path().join("site.wasm.gz");
        assert!(fs::metadata(&gz).unwrap().len() < 1_000);
        assert_eq!(precompress(dir.path()).unwrap(), 0, "already fresh");

        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&wasm, "new ".repeat(10_000)).unwrap();
        assert_eq!(precompress(dir.path()).unwrap(), 1, "the original changed");
        let mut text = String::new();
        io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(fs::File::open(&gz).unwrap()),
            &mut text,
        )
        .unwrap();
        assert_eq!(text, "new ".repeat(10_000));
    }
}
