#!/usr/bin/env bash
# Sets up what is missing, builds, and runs Reelsmith at http://127.0.0.1:3000
# (or LEPTOS_SITE_ADDR). Without DATABASE_URL it starts its own PostgreSQL in ./data.
#   bash .ci/start.sh [reelsmith options]        the optimised (release) build
#   bash .ci/start.sh --dev [reelsmith options]  a debug build: quicker to rebuild, larger
#                                                and slower in the browser
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
if [ "${1:-}" = --dev ]; then
  profile=debug
  shift
fi
bash .ci/setup.sh run
if [ "$profile" = release ]; then
  bash .ci/build-site.sh --release
  export LEPTOS_SITE_ROOT=${LEPTOS_SITE_ROOT:-target/site-release}
else
  bash .ci/build-site.sh
  export LEPTOS_SITE_ROOT=${LEPTOS_SITE_ROOT:-target/site}
fi
exec "target/$profile/reelsmith" "$@"
