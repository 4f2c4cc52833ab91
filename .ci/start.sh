#!/usr/bin/env bash
# Sets up what is missing, builds, and runs Reelsmith at http://127.0.0.1:3000
# (or LEPTOS_SITE_ADDR). Without DATABASE_URL it starts its own PostgreSQL in ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh run
bash .ci/build-site.sh
export LEPTOS_SITE_ROOT=${LEPTOS_SITE_ROOT:-target/site}
exec target/debug/reelsmith "$@"
