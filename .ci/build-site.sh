#!/usr/bin/env bash
# Builds the server binary and the site (target/site) the way `cargo leptos build` does,
# without needing cargo-leptos: a browser-side WASM by cargo + wasm-bindgen, the stylesheet,
# and the public files. `bash .ci/test.sh` checks that `cargo leptos build` still builds too.
#   bash .ci/build-site.sh            debug build
#   bash .ci/build-site.sh --release  release build (wasm-opt from npm binaryen, if on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."

site=target/site
name=reelsmith
if [ "${1:-}" = --release ]; then
  cargo build -p server --release
  cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
  wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm
else
  cargo build -p server
  cargo build -p frontend --lib --target wasm32-unknown-unknown
  wasm=target/wasm32-unknown-unknown/debug/frontend.wasm
fi

rm -rf "$site/pkg"
mkdir -p "$site/pkg"
wasm-bindgen --target web --out-dir "$site/pkg" --out-name "$name" "$wasm"
# With LEPTOS_OUTPUT_NAME set at compile time (.cargo/config.toml), the page loads
# <name>.wasm, as cargo-leptos names it.
mv "$site/pkg/${name}_bg.wasm" "$site/pkg/$name.wasm"
if [ "${1:-}" = --release ] && command -v wasm-opt >/dev/null; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$site/pkg/$name.wasm" -o "$site/pkg/$name.wasm"
fi
cp style/main.css "$site/pkg/$name.css"
cp -R public/. "$site/"
echo "Site built in $site"
