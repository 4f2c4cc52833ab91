//! The site's own files under `/pkg` (the WASM bundle, its JavaScript and the stylesheet),
//! served gzip-compressed to browsers that accept it. A debug WASM is about 15 MB and
//! shrinks to a fifth; a release one by about two thirds.
//!
//! The compressed copies (`<file>.gz`) are made beside the originals when the server
//! starts, in the background, and remade whenever an original is newer. Until one is
//! ready, or when the site directory is read-only, the original is served as it is.

use axum::{
    http::{header, HeaderValue},
    Router,
};
use flate2::{write::GzEncoder, Compression};
use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

/// Extensions worth compressing; images and media are compressed already.
const COMPRESSIBLE: [&str; 4] = ["wasm", "js", "css", "svg"];

/// `/pkg/*` from `<site_root>/pkg`, with `.gz` copies preferred. Browsers revalidate
/// (`no-cache`) instead of keeping a stale bundle after an upgrade: an unchanged file
/// costs a 304.
pub fn pkg_service<S: Clone + Send + Sync + 'static>(site_root: &Path) -> Router<S> {
    Router::new()
        .fallback_service(
            ServeDir::new(site_root.join("pkg"))
                .precompressed_gzip()
                .append_index_html_on_directories(false),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
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
        let target = gz_path(&path);
        if is_fresh(&path, &target) {
            continue;
        }
        // Written aside and renamed: a request never sees half a file.
        let partial = target.with_extension("gz.partial");
        let mut encoder = GzEncoder::new(fs::File::create(&partial)?, Compression::default());
        io::copy(&mut fs::File::open(&path)?, &mut encoder)?;
        encoder.finish()?.flush()?;
        fs::rename(&partial, &target)?;
        written += 1;
    }
    Ok(written)
}

fn gz_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

fn is_fresh(original: &Path, compressed: &Path) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!(
        (modified(original), modified(compressed)),
        (Some(original), Some(compressed)) if compressed >= original
    )
}

/// Runs [`precompress`] on `<site_root>/pkg` off the async threads, logging the outcome.
pub fn precompress_in_background(site_root: &Path) {
    let dir = site_root.join("pkg");
    tokio::task::spawn_blocking(move || match precompress(&dir) {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, dir = %dir.display(), "compressed site files"),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(
            %error,
            dir = %dir.display(),
            "could not compress the site files; serving them uncompressed"
        ),
    });
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
