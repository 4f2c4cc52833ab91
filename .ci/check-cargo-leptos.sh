#!/usr/bin/env bash
# Checks that `cargo leptos build --split` (what `cargo leptos watch --split` runs) makes the site
# .ci/build-site.sh makes: the same files in the same places. Run it after changing the
# build (Cargo.toml's [package.metadata.leptos], .cargo/config.toml, .ci/build-site.sh).
#
# Not part of .ci/test.sh: cargo-leptos builds with flags of its own (`--cfg
# erase_components`) into directories of its own, which on a fresh checkout is a second
# full WASM build (about 15 minutes on two cores) and on a fresh machine a 30-minute
# install, for a developer convenience that no user meets.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# cargo-leptos 0.3.11 needs a newer rustc than this toolchain; 0.3.10 takes ~30 minutes to build.
if ! cargo leptos --version 2>/dev/null | grep -q ' 0\.3\.10$'; then
  printf '\n==> Installing cargo-leptos 0.3.10 (about 30 minutes, once)\n'
  cargo install cargo-leptos --version 0.3.10 --locked
fi
[ -d target/site/pkg ] || bash .ci/build-site.sh
# Its browser side only (the server it would build is the one .ci/build-site.sh builds),
# into a site root and a target directory of its own: target/site stays the one
# .ci/build-site.sh made for target/debug/reelsmith (a server serving another build's
# site refuses to start; see app/build.rs).
(cd target/site && find . -type f ! -name '*.gz' | sort) > target/site-files.build-site
rm -rf target/site-cargo-leptos
LEPTOS_SITE_ROOT=target/site-cargo-leptos CARGO_TARGET_DIR="$root/target/cargo-leptos" \
  cargo leptos build --frontend-only --split
(cd target/site-cargo-leptos && find . -type f ! -name '*.gz' | sort) > target/site-files.cargo-leptos
diff -u target/site-files.build-site target/site-files.cargo-leptos
echo "cargo-leptos builds the same site"
