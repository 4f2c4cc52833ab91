//! Gives every build an id (`REELSMITH_BUILD_ID`) made from what decides how pages render:
//! the sources of the app and the browser entry point, the locked dependencies, and the
//! settings that cargo-leptos passes at compile time. The server and the WASM built from
//! the same checkout the same way carry the same id; the server checks the site's before
//! it serves it, and the page checks the server's before it hydrates.

use std::{
    fs,
    path::{Path, PathBuf},
};

/// Compile-time settings that change what is rendered or loaded (cargo-leptos sets them).
const SETTINGS: [&str; 6] = [
    "LEPTOS_OUTPUT_NAME",
    "LEPTOS_SITE_PKG_DIR",
    "LEPTOS_HASH_FILES",
    "LEPTOS_WATCH",
    "LEPTOS_JS_MINIFY",
    "LEPTOS_RELOAD_PORT",
];

/// FNV-1a, 64 bits: stable across toolchains, unlike std's hasher.
struct Fnv(u64);

impl Fnv {
    fn feed(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn files_under(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, found);
        } else {
            found.push(path);
        }
    }
}

fn main() {
    let app = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let workspace = app
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| app.clone());
    let inputs = [
        app.join("src"),
        workspace.join("frontend/src"),
        workspace.join("Cargo.lock"),
    ];
    let mut files = Vec::new();
    for input in &inputs {
        println!("cargo:rerun-if-changed={}", input.display());
        if input.is_dir() {
            files_under(input, &mut files);
        } else {
            files.push(input.clone());
        }
    }
    files.sort();
    let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
    for file in &files {
        hash.feed(
            file.strip_prefix(&workspace)
                .unwrap_or(file)
                .to_string_lossy()
                .as_bytes(),
        );
        hash.feed(&fs::read(file).unwrap_or_default());
    }
    for name in SETTINGS {
        println!("cargo:rerun-if-env-changed={name}");
        hash.feed(name.as_bytes());
        hash.feed(std::env::var(name).unwrap_or_default().as_bytes());
    }
    println!("cargo:rustc-env=REELSMITH_BUILD_ID={:016x}", hash.0);
}
