#!/usr/bin/env bash
# Builds the server binary and the site (target/site) the way `cargo leptos build` does,
# without needing cargo-leptos: a browser-side WASM by cargo + wasm-bindgen, the stylesheet,
# and the public files. `bash .ci/test.sh` checks that `cargo leptos build` still builds too.
#   bash .ci/build-site.sh            debug build, into target/site
#   bash .ci/build-site.sh --release  release build, into target/site-release: the WASM
#                                     through wasm-opt (npm binaryen, installed by
#                                     .ci/setup.sh), the bundle named after its contents
#                                     and compressed (brotli, gzip)
set -euo pipefail
cd "$(dirname "$0")/.."
release=false
[ "${1:-}" = --release ] && release=true

# Each build's site beside its server: target/site for target/debug/reelsmith (where
# cargo-leptos puts it too), target/site-release for target/release/reelsmith.
site=target/site
$release && site=target/site-release
name=reelsmith
if $release; then
  # One after the other: side by side (the WASM in a target directory of its own) took
  # as long on two cores, cold (508 s against 409 + 103 s).
  cargo build -p server --release
  cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
  wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm
else
  cargo build -p server
  cargo build -p frontend --lib --target wasm32-unknown-unknown
  wasm=target/wasm32-unknown-unknown/debug/frontend.wasm
fi

rm -rf "$site/pkg" "$site/hash.txt"
mkdir -p "$site/pkg"
wasm-bindgen --target web --out-dir "$site/pkg" --out-name "$name" "$wasm"
# With LEPTOS_OUTPUT_NAME set at compile time (.cargo/config.toml), the page loads
# <name>.wasm, as cargo-leptos names it.
mv "$site/pkg/${name}_bg.wasm" "$site/pkg/$name.wasm"
cp style/main.css "$site/pkg/$name.css"
cp -R public/. "$site/"
if $release; then
  wasm_opt=.ci/wasm-opt/node_modules/.bin/wasm-opt
  [ -x "$wasm_opt" ] || { echo "wasm-opt is missing: run bash .ci/setup.sh" >&2; exit 1; }
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$site/pkg/$name.wasm" -o "$site/pkg/$name.wasm"
  # Named after the contents of all three (one hash, so the page's stylesheet link
  # follows from the scripts' name): browsers keep them for a year, and a new build has
  # new names. The server reads the hash from hash.txt (see server/src/site).
  hash=$(cat "$site/pkg/$name.js" "$site/pkg/$name.wasm" "$site/pkg/$name.css" | sha256sum | cut -c1-16)
  for extension in js wasm css; do
    mv "$site/pkg/$name.$extension" "$site/pkg/$name.$hash.$extension"
  done
  printf 'js: %s\nwasm: %s\ncss: %s\n' "$hash" "$hash" "$hash" > "$site/hash.txt"
  # Compressed once here rather than on each request or at start-up. Each copy carries
  # its original's modification time: the server serves a copy only while they match.
  compressing=()
  for file in "$site/pkg/$name.$hash".{js,wasm,css}; do
    (brotli --force --best --keep "$file" && touch -r "$file" "$file.br") & compressing+=($!)
    (gzip --force --best --keep "$file" && touch -r "$file" "$file.gz") & compressing+=($!)
  done
  for job in "${compressing[@]}"; do wait "$job"; done
fi
echo "Site built in $site"
