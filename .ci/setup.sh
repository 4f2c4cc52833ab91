#!/usr/bin/env bash
# Installs what Reelsmith needs on Debian 12, skipping whatever is already there.
#   bash .ci/setup.sh toolchain  Rust's part alone (the WASM target): what compiling needs
#   bash .ci/setup.sh run        what building and running the app needs
#   bash .ci/setup.sh test       that, plus the test tools (Chromium, Playwright, sqlx-cli)
# Only the package registries are used: Debian, crates.io, npm.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-run}

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# Installs the npm packages of folder $1 (named $2) as its lock file pins them, unless
# they are there already and the lock file has not changed since. Never a browser download.
npm_packages() {
  if [ -f "$1/node_modules/.package-lock.json" ] && [ ! "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    return
  fi
  say "Installing $2"
  (cd "$1" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
}

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "Adding the wasm32-unknown-unknown Rust target"
  rustup target add wasm32-unknown-unknown
fi
[ "$purpose" = toolchain ] && exit 0

# espeak-ng: the offline voiceover. Noto (Latin, Arabic, Hebrew, ...; CJK) and Symbola
# (monochrome emoji: libass cannot draw colour emoji fonts) give captions every script.
# brotli compresses the release bundle at build time; npm brings the pinned wasm-opt.
packages=(postgresql ffmpeg espeak-ng ca-certificates fonts-noto-core fonts-noto-cjk fonts-symbola brotli)
command -v npm >/dev/null || packages+=(nodejs npm)
if [ "$purpose" = test ]; then
  # nginx balances the fleet of instances the tests and bench/fleet bring up.
  packages+=(chromium nginx)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "Installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The tools are built with a lighter release profile than their own (opt-level 1, no LTO,
# 16 codegen units): building them is part of a fresh machine's wait for its first page
# (wasm-bindgen-cli 140 -> 111 s, wasm-split-cli 47 -> 42 s on two cores), and what they
# do here takes as long either way (0.7 s for wasm-bindgen on the release WASM) and makes
# the same files.
# Each builds beside the others (a tool's build is a chain of crates that leaves a core
# idle at times); `tools_built` waits for them all and fails if one did.
tool_builds=()
install_tool() {
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo install "$@" &
  tool_builds+=($!)
}
tools_built() {
  for build in "${tool_builds[@]}"; do wait "$build"; done
  tool_builds=()
}

# wasm-bindgen's CLI must match the library in Cargo.lock exactly; it installs without --locked.
wasm_bindgen_version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wasm_bindgen_version" ]; then
  say "Installing wasm-bindgen-cli $wasm_bindgen_version (about 3 minutes)"
  install_tool wasm-bindgen-cli --version "$wasm_bindgen_version" --force
fi

# wasm-split-cli splits the WASM into the parts the browser fetches when they are needed
# (see .ci/build-site.sh); its library is what cargo-leptos's `--split` uses.
# (It prints no version: cargo's list of installed crates tells which one is there.)
if ! command -v wasm-split-cli >/dev/null || ! cargo install --list | grep -qx 'wasm_split_cli_support v0.2.3:'; then
  say "Installing wasm-split-cli 0.2.3 (about 3 minutes)"
  install_tool wasm_split_cli_support --version 0.2.3 --features build-binary --locked --force
fi

# wasm-opt shrinks the release WASM: binaryen 132 from npm, pinned in .ci/wasm-opt
# (Debian's binaryen breaks hydration).
npm_packages .ci/wasm-opt "wasm-opt (npm binaryen 132)"

if [ "$purpose" = test ]; then
  if ! cargo sqlx --version 2>/dev/null | grep -q ' 0\.8\.'; then
    say "Installing sqlx-cli 0.8 (a few minutes)"
    install_tool sqlx-cli --version '0.8.6' --locked --no-default-features --features postgres,rustls
  fi
  # The fleet's bucket: the S3 server the in-process tests use, as a process of its own
  # (its version is the library's in Cargo.lock).
  s3s_version=$(grep -A1 '^name = "s3s-fs"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
  if [ "$(s3s-fs --version 2>/dev/null || true)" != "s3s-fs $s3s_version" ]; then
    say "Installing the s3s-fs server $s3s_version (a few minutes)"
    install_tool s3s-fs --version "$s3s_version" --features binary --locked --force
  fi
  npm_packages end2end "the end-to-end test tools (Playwright, using Debian's Chromium)"
fi

# The tools building since they were found missing (see install_tool).
tools_built
