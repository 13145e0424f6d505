#!/usr/bin/env bash
# Installs the guest toolchains that `cargo xtask testdata` rebuilds the committed guests with,
# and the reference runtimes the comparisons and `cargo xtask bench` use (node is expected on the
# machine). Debian bookworm, as root. Not needed by `cargo test` or CI: the built .wasm files are
# committed.
#
#   scripts/guest-toolchains.sh            everything
#   scripts/guest-toolchains.sh go emscripten ...   only those groups
#
# Groups: c (clang, lld, wasi-libc), go (Go 1.19 and Go 1.21-1.23 from bookworm-backports),
# emscripten (emcc 3.1.6 and node-acorn), wabt, assemblyscript (npm, in $ASC_DIR), zig (PyPI).
set -euo pipefail

ASC_DIR=${ASC_DIR:-/work/asc}
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(c go emscripten wabt assemblyscript zig)

# bookworm-backports from the Debian mirror the machine already uses.
add_backports() {
  local src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && ! grep -q bookworm-backports "$src"; then
    sed -i 's/^Suites: bookworm bookworm-updates$/Suites: bookworm bookworm-updates bookworm-backports/' "$src"
  fi
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    local mirror
    mirror=$(grep -rhoE 'https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -n1)
    echo "deb ${mirror:-http://deb.debian.org/debian} bookworm-backports main" \
      > /etc/apt/sources.list.d/bookworm-backports.list
  fi
}

need_update=1
apt_install() {
  if [ $need_update = 1 ]; then apt-get update -qq; need_update=0; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

for g in "${groups[@]}"; do
  case "$g" in
    c) apt_install clang lld wasi-libc libclang-rt-dev-wasm32 ;;
    go)
      add_backports; need_update=1
      apt_install golang-go golang-1.21-go golang-1.22-go golang-1.23-go ;;
    emscripten) apt_install emscripten node-acorn ;;
    wabt) apt_install wabt ;;
    assemblyscript)
      mkdir -p "$ASC_DIR"
      (cd "$ASC_DIR" && npm install --silent assemblyscript@0.28 @assemblyscript/wasi-shim)
      echo "asc: export ASC=$ASC_DIR/node_modules/.bin/asc" ;;
    zig) pip install --quiet --break-system-packages ziglang==0.17.1 2>/dev/null \
           || pip install --quiet ziglang==0.17.1 ;;
    *) echo "unknown group: $g" >&2; exit 2 ;;
  esac
done
