#!/usr/bin/env bash
# Builds the server binary and the site (target/site) the way `cargo leptos build` does,
# without needing cargo-leptos: a browser-side WASM by cargo + wasm-bindgen, the stylesheet,
# and the public files. `bash .ci/check-cargo-leptos.sh` checks that `cargo leptos build
# --split` makes the same files.
#   bash .ci/build-site.sh            debug build, into target/site
#   bash .ci/build-site.sh --release  release build, into target/site-release: the WASM
#                                     through wasm-opt (npm binaryen, installed by
#                                     .ci/setup.sh), the bundle named after its contents
#                                     and compressed (brotli, gzip)
#   --compile-only                    only the cargo builds (the server and the WASM),
#                                     which need none of the tools .ci/setup.sh installs
set -euo pipefail
cd "$(dirname "$0")/.."
release=false
compile_only=false
for option in "$@"; do
  case "$option" in
    --release) release=true ;;
    --compile-only) compile_only=true ;;
    *) echo "unknown option $option (--release, --compile-only)" >&2; exit 2 ;;
  esac
done

# Each build's site beside its server: target/site for target/debug/reelsmith (where
# cargo-leptos puts it too), target/site-release for target/release/reelsmith.
site=target/site
$release && site=target/site-release
name=reelsmith
# The WASM is linked with its relocations (`--emit-relocs`), which the splitter needs to
# move functions between parts. `cargo rustc` passes the flag to the frontend crate's
# link alone: RUSTFLAGS would rebuild every dependency.
relocs=(-- -Clink-args=--emit-relocs)
if $release; then
  # One after the other: side by side (the WASM in a target directory of its own) took
  # as long on two cores, cold (508 s against 409 + 103 s).
  cargo build -p server --release
  cargo rustc -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release "${relocs[@]}"
  wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm
else
  cargo build -p server
  cargo rustc -p frontend --lib --target wasm32-unknown-unknown "${relocs[@]}"
  wasm=target/wasm32-unknown-unknown/debug/frontend.wasm
fi
$compile_only && exit 0

# The bundle is split into parts the browser fetches when their code first runs: the
# main part (what every page needs: log-in, sign-up, the dashboard, the header), a part
# for each wizard step and for the brand, spending and share pages (the `#[lazy]`
# functions and lazy routes in app/), and chunks of code two parts share. The main part
# loads `__wasm_split.<placeholder>.js` (the name Leptos gives it), which loads the rest.
split=target/wasm-split/$(basename "$site")
rm -rf "$split" "$site/pkg" "$site/hash.txt"
mkdir -p "$split" "$site/pkg"
command -v wasm-split-cli >/dev/null || { echo "wasm-split-cli is missing: run bash .ci/setup.sh" >&2; exit 1; }
# It warns of a data segment it could not split (see SPLIT_SLACK in frontend/src/lib.rs):
# the main part would carry every part's data, so the build stops.
RUST_LOG=warn wasm-split-cli "$wasm" "$split" --out-name "$name" > "$split.log" 2>&1 || { cat "$split.log" >&2; exit 1; }
if grep -q "Overlong segment" "$split.log"; then
  cat "$split.log" >&2
  echo "wasm-split-cli put a whole data segment in the main part: make SPLIT_SLACK in frontend/src/lib.rs larger" >&2
  exit 1
fi
loader=__wasm_split.______________________.js
wasm-bindgen --target web --keep-lld-exports --no-demangle \
  --out-dir "$site/pkg" --out-name "$name" "$split/$name.wasm"
# With LEPTOS_OUTPUT_NAME set at compile time (.cargo/config.toml), the page loads
# <name>.wasm, as cargo-leptos names it.
mv "$site/pkg/${name}_bg.wasm" "$site/pkg/$name.wasm"
sed -i "s#\(from ['\"]\)\./__wasm_split\.js\(['\"]\)#\1./$loader\2#" "$site/pkg/$name.js"
grep -q "$loader" "$site/pkg/$name.js" || { echo "the main part does not load $loader" >&2; exit 1; }
mv "$split/__wasm_split.js" "$site/pkg/$loader"
rm "$split/$name.wasm"
mv "$split"/*.wasm "$site/pkg/"
# Which parts each lazy function needs, for the server to preload those a page uses.
node .ci/split-manifest.cjs "$site/pkg/$loader" > "$site/pkg/__wasm_split_manifest.json"
cp style/main.css "$site/pkg/$name.css"
cp -R public/. "$site/"
if $release; then
  wasm_opt=.ci/wasm-opt/node_modules/.bin/wasm-opt
  [ -x "$wasm_opt" ] || { echo "wasm-opt is missing: run bash .ci/setup.sh" >&2; exit 1; }
  shrinking=()
  # What it says is shown when it fails: otherwise it is only warnings about the name
  # sections the splitter writes ("unknown name subsection"), one per part.
  for part in "$site"/pkg/*.wasm; do
    ( "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$part" -o "$part" \
        > "$part.log" 2>&1 || { cat "$part.log" >&2; exit 1; }
      rm "$part.log" ) &
    shrinking+=($!)
  done
  for job in "${shrinking[@]}"; do wait "$job"; done
  # The bundle lives in a folder named after the contents of all its files: browsers
  # keep it for a year, and a new build has a new name. The parts find each other by
  # relative names inside it. The server reads the hash from hash.txt (see server/src/site).
  hash=$(cd "$site/pkg" && find . -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
  mkdir "$site/pkg/$hash"
  find "$site/pkg" -maxdepth 1 -type f -exec mv {} "$site/pkg/$hash/" \;
  printf 'js: %s\nwasm: %s\ncss: %s\n' "$hash" "$hash" "$hash" > "$site/hash.txt"
  # Compressed once here rather than on each request or at start-up. Each copy carries
  # its original's modification time: the server serves a copy only while they match.
  compressing=()
  for file in "$site/pkg/$hash"/*.{js,wasm,css}; do
    (brotli --force --best --keep "$file" && touch -r "$file" "$file.br") & compressing+=($!)
    (gzip --force --best --keep "$file" && touch -r "$file" "$file.gz") & compressing+=($!)
  done
  for job in "${compressing[@]}"; do wait "$job"; done
fi
echo "Site built in $site"
