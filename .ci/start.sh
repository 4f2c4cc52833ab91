#!/usr/bin/env bash
# Sets up what is missing, builds, and runs Reelsmith at http://127.0.0.1:3000
# (or LEPTOS_SITE_ADDR). Without DATABASE_URL it starts its own PostgreSQL in ./data.
#   bash .ci/start.sh [reelsmith options]        the optimised (release) build
#   bash .ci/start.sh --dev [reelsmith options]  a debug build: quicker to rebuild, larger
#                                                and slower in the browser
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
build=(--release)
if [ "${1:-}" = --dev ]; then
  profile=debug
  build=()
  shift
fi
bash .ci/setup.sh toolchain
# Compiling needs only Rust. The rest of the set-up (Debian's packages, the WASM tools,
# wasm-opt) is first used when the compiled WASM becomes the site, so on a fresh machine
# it runs beside the compile at the lowest CPU priority: downloads and the tools' builds
# fill what the compile leaves idle (its single-threaded stretches) instead of coming
# first. It runs in the foreground where installing would ask for a sudo password.
if [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then
  mkdir -p target
  setup_log=target/setup.log
  printf '\n\033[1m==> %s\033[0m\n' "Setting up what is missing beside the build (log: $setup_log)"
  nice -n 19 bash .ci/setup.sh run > "$setup_log" 2>&1 &
  setup=$!
  bash .ci/build-site.sh "${build[@]}" --compile-only
  if ! wait "$setup"; then
    cat "$setup_log" >&2
    echo "Setting up failed (above, and in $setup_log)" >&2
    exit 1
  fi
  grep '==>' "$setup_log" || true
else
  bash .ci/setup.sh run
fi
bash .ci/build-site.sh "${build[@]}"
if [ "$profile" = release ]; then
  export LEPTOS_SITE_ROOT=${LEPTOS_SITE_ROOT:-target/site-release}
else
  export LEPTOS_SITE_ROOT=${LEPTOS_SITE_ROOT:-target/site}
fi
exec "target/$profile/reelsmith" "$@"
