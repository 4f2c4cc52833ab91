#!/usr/bin/env bash
# Sets up what is missing and runs every check and test against real parts: a private
# PostgreSQL cluster, the real server binary, Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash .ci/setup.sh test

started=$(date +%s)
# Each step says when it started, so a slow or stuck run shows where its time went.
step() { printf '\n\033[1m==> %s\033[0m (at %d s)\n' "$*" "$(( $(date +%s) - started ))"; }
results=$(mktemp)
export CARGO_TERM_COLOR=never

step "Formatting"
cargo fmt --all -- --check

step "Building the server and the site"
bash .ci/build-site.sh

# One throw-away cluster for the whole run; every test gets a database of its own in it.
test_data="$root/target/test-data"
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$root/target"; then
  # PostgreSQL runs as the postgres user, who cannot enter this checkout.
  test_data=$(mktemp -d /tmp/reelsmith-test-XXXXXX)
  chmod 755 "$test_data"
fi
app_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null
  target/debug/reelsmith --data-dir "$test_data" postgres stop >/dev/null 2>&1 || true
  # The cluster is throw-away: its test databases would otherwise pile up run after run.
  rm -rf "$test_data/postgres"
  [ "$test_data" = "$root/target/test-data" ] || rm -rf "$test_data"
}
trap cleanup EXIT
# A cluster left by an interrupted run is stopped and started afresh.
target/debug/reelsmith --data-dir "$test_data" postgres stop >/dev/null 2>&1 || true
rm -rf "$test_data/postgres"
step "Starting the test PostgreSQL cluster"
DATABASE_URL=$(env -u DATABASE_URL target/debug/reelsmith --data-dir "$test_data" postgres start --ephemeral)
export DATABASE_URL

step "Checking the committed query metadata (.sqlx) is current"
SQLX_OFFLINE=false cargo sqlx prepare --workspace --check -- --all-targets

step "Clippy (server side, ssr)"
cargo clippy -p app -p server --all-targets --features app/ssr -- -D warnings
step "Clippy (browser side, hydrate)"
cargo clippy -p app -p frontend --target wasm32-unknown-unknown --features app/hydrate -- -D warnings

step "Unit and integration tests"
# One package selection and feature set for every test build, the one the server's own
# build resolves to as well (see server/Cargo.toml): each crate is compiled once.
# They encode with x264's fastest preset (see REELSMITH_ENCODER_PRESET in the README):
# what they check does not depend on it, and their FFmpeg work takes half the time.
tests=(env REELSMITH_ENCODER_PRESET=ultrafast cargo test -p app -p server --features app/ssr)
"${tests[@]}" --no-run
# The server's API tests take turns within one process (see server/tests/api/helpers.rs)
# and mostly wait on jobs: a share of them runs in a process of its own, beside the rest.
# (There are no doc tests.)
shared=(storyboard:: render:: voiceover:: brand::)
skipped=()
for module in "${shared[@]}"; do skipped+=(--skip "$module"); done
# A test that hangs ends its share after 30 minutes (each takes about 18), rather than
# the whole run at CI's limit with nothing said: the log then names it ("has been
# running for over 60 seconds").
limit=(timeout --kill-after=30s 30m)
"${limit[@]}" "${tests[@]}" --test api -- "${shared[@]}" > target/tests-api-share.log 2>&1 &
share_run=$!
rest_status=0
{
  "${limit[@]}" "${tests[@]}" --lib --bins &&
    "${limit[@]}" "${tests[@]}" --test '*' -- "${skipped[@]}"
} > target/tests-rest.log 2>&1 || rest_status=$?
share_status=0
wait "$share_run" || share_status=$?
cat target/tests-rest.log target/tests-api-share.log | tee -a "$results"
if [ "$rest_status" = 124 ] || [ "$share_status" = 124 ]; then
  echo "Tests did not finish within 30 minutes: see the tests still running above" >&2
fi
if [ "$rest_status" != 0 ] || [ "$share_status" != 0 ]; then
  echo "Tests failed (see above)" >&2
  exit 1
fi

step "End-to-end tests in Chromium (the checkout's own server and site)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
e2e_db="e2e_$(date +%s)_$$"
psql -q "$DATABASE_URL" -c "CREATE DATABASE $e2e_db"
LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_SITE_ROOT=target/site \
  DATABASE_URL="${DATABASE_URL/\/reelsmith\?//$e2e_db?}" \
  target/debug/reelsmith > target/e2e-server.log 2>&1 &
app_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$app_pid" 2>/dev/null || { cat target/e2e-server.log; exit 1; }
  sleep 0.2
done
(cd end2end && BASE_URL="http://127.0.0.1:$port" npx playwright test) 2>&1 | tee -a "$results"
kill "$app_pid"; wait "$app_pid" 2>/dev/null || true; app_pid=""

step "The optimised build (what bash .ci/start.sh serves) hydrates in Chromium; its first load"
bench/bundle 2>&1 | tee target/bundle.log
grep -q '^page=/ visit=again' target/bundle.log

step "All checks and tests passed in $(( $(date +%s) - started )) s"
# Totals from the runners' own summaries: Rust's "test result:" lines and Playwright's.
# (awk alone: a grep that finds nothing would end the script under pipefail.)
total() { awk -v pattern="$1" -v field="$2" '$0 ~ pattern { sum += $field } END { print sum + 0 }' "$results"; }
rust_passed=$(total '^test result: ' 4)
rust_failed=$(total '^test result: ' 6)
rust_ignored=$(total '^test result: ' 8)
browser_passed=$(total '^ +[0-9]+ passed [(]' 1)
browser_failed=$(total '^ +[0-9]+ failed$' 1)
failed=$((rust_failed + browser_failed))
echo "$((rust_passed + browser_passed)) passed, $failed failed, $rust_ignored ignored (need API keys)"
[ "$failed" = 0 ]
