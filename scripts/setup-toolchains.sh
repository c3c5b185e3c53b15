#!/usr/bin/env bash
# Installs the native toolchains that modules/build.mjs needs to build the example tasks:
#   c     clang + lld (wasm-ld) + wasi-libc + the wasm32 clang runtime (libclang_rt.builtins)
#   rust  Debian's rustc + its wasm32-wasi std (libstd-rust-dev-wasm32) + lld; call it as
#         /usr/bin/rustc --target wasm32-wasi (a rustup rustc earlier on PATH has no wasm std)
#   go    Go >= 1.21 (GOOS=wasip1): Debian 12's golang-go is 1.19, so golang-1.23-go from the
#         bookworm-backports suite of the Debian mirror apt already uses (added for it if absent;
#         backports are never preferred over bookworm for other packages); /usr/lib/go-1.23/bin/go
#   cpp   c, plus LLVM's libc++ and libc++abi for wasm32-wasi matching clang's major version
#   chromium  Debian's chromium, for the dashboard's browser tests (/usr/bin/chromium)
# Usage: scripts/setup-toolchains.sh [c] [rust] [go] [cpp] [chromium]     (default: c and rust)
#
# Idempotent: installs only what is missing, with a single `apt-get update`. Silent when
# everything is present. Debian/Ubuntu only (apt); uses sudo when not root.
set -euo pipefail

want_c=0 want_rust=0 want_go=0 want_cpp=0 want_chromium=0
[ $# -eq 0 ] && set -- c rust
for arg in "$@"; do
  case "$arg" in
    c) want_c=1 ;;
    rust) want_rust=1 ;;
    go) want_go=1 ;;
    cpp|c++) want_cpp=1 want_c=1 ;;
    chromium) want_chromium=1 ;;
    -h|--help) sed -n "2,14p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-toolchains: unknown toolchain '$arg' (expected: c, rust, go, cpp, chromium)" >&2; exit 2 ;;
  esac
done

die() { echo "setup-toolchains: $*" >&2; exit 1; }

WASI_SYSROOT=/usr                       # Debian's wasi-libc: headers in /usr/include/wasm32-wasi,
WASI_HEADERS=$WASI_SYSROOT/include/wasm32-wasi   # libs in /usr/lib/wasm32-wasi
WASI_LIBC=$WASI_SYSROOT/lib/wasm32-wasi/libc.a

clang_major() {
  command -v clang >/dev/null 2>&1 || return 0
  clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -n1 || true
}

# The wasm32 builtins archive clang links into every wasm32-wasi program.
clang_rt_ok() {
  command -v clang >/dev/null 2>&1 || return 1
  local rt
  rt=$(clang --target=wasm32-wasi -print-libgcc-file-name 2>/dev/null) || return 1
  [ -f "$rt" ]
}

missing_c() {
  command -v clang >/dev/null 2>&1 || echo clang
  command -v wasm-ld >/dev/null 2>&1 || echo lld
  { [ -f "$WASI_HEADERS/stdio.h" ] && [ -f "$WASI_LIBC" ]; } || echo wasi-libc
  clang_rt_ok || echo clang-rt-wasm32
}

# Debian's own rustc (rustup's has no wasm target installed) and its wasm32-wasi std.
missing_rust() {
  [ -x /usr/bin/rustc ] || echo rustc
  compgen -G "/usr/lib/rustlib/wasm32-wasi/lib/libstd-*.rlib" >/dev/null || echo libstd-rust-dev-wasm32
  [ -x /usr/bin/rust-lld ] || echo lld   # rustc's wasm linker; /usr/bin/rust-lld -> lld-<N>
}

GO=/usr/lib/go-1.23/bin/go
missing_go() {
  [ -x "$GO" ] || echo golang-1.23-go
}

# libc++ for wasm32-wasi, at clang's major version (libc++-14-dev-wasm32 for Debian 12's clang 14).
missing_cpp() {
  { [ -f "$WASI_HEADERS/c++/v1/string" ] && [ -f "$WASI_SYSROOT/lib/wasm32-wasi/libc++.a" ] &&
    [ -f "$WASI_SYSROOT/lib/wasm32-wasi/libc++abi.a" ]; } || echo libc++-wasm32
}

missing_chromium() {
  [ -x /usr/bin/chromium ] || echo chromium
}

need=()
[ $want_c = 1 ] && mapfile -t -O "${#need[@]}" need < <(missing_c)
[ $want_rust = 1 ] && mapfile -t -O "${#need[@]}" need < <(missing_rust)
[ $want_go = 1 ] && mapfile -t -O "${#need[@]}" need < <(missing_go)
[ $want_cpp = 1 ] && mapfile -t -O "${#need[@]}" need < <(missing_cpp)
[ $want_chromium = 1 ] && mapfile -t -O "${#need[@]}" need < <(missing_chromium)
[ ${#need[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null 2>&1 ||
  die "missing: ${need[*]}; no apt-get here, install clang, lld, wasi-libc and the wasm32 clang runtime (or set WASI_SDK_PATH to a wasi-sdk) yourself"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "missing: ${need[*]}; not root and no sudo, cannot apt-get install"
  SUDO=(sudo -n)
  "${SUDO[@]}" true 2>/dev/null || SUDO=(sudo)   # fall back to a password prompt
fi

log=$(mktemp "${TMPDIR:-/tmp}/setup-toolchains.XXXXXX.log")
trap 'rm -f "$log"' EXIT
apt() {
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive "$@" >>"$log" 2>&1; then
    cat "$log" >&2
    die "'$*' failed (output above)"
  fi
}

echo "setup-toolchains: installing missing ${need[*]} (apt-get)" >&2

# Go: add bookworm-backports (same mirror as bookworm, component main) unless apt already has it.
# Backports are NotAutomatic, so nothing else is taken from there unless asked for by name.
if [ $want_go = 1 ] && [ -n "$(missing_go)" ]; then
  has_backports() {
    grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
  }
  if ! has_backports; then
    mirror=$(grep -rhsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
      grep -v -- '-security' | head -n1 || true)
    if [ -z "$mirror" ]; then
      mirror=$(grep -rhsE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$3 == "bookworm" {print $2}' | head -n1 || true)
    fi
    [ -n "$mirror" ] || die "cannot find the Debian mirror apt uses, to add bookworm-backports for Go"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" | "${SUDO[@]}" tee /etc/apt/sources.list.d/tutti-bookworm-backports.sources >/dev/null
  fi
fi
apt apt-get update -q

pkgs=()
if [ $want_c = 1 ] && [ -n "$(missing_c)" ]; then
  # libclang-rt-<N>-dev-wasm32 must match the clang major version (14 on Debian 12).
  major=$(clang_major)
  if [ -z "$major" ]; then
    major=$(apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n1 || true)
  fi
  [ -n "$major" ] || die "cannot tell which clang version apt would install"
  pkgs+=(clang lld wasi-libc "libclang-rt-$major-dev-wasm32")
fi
if [ $want_rust = 1 ] && [ -n "$(missing_rust)" ]; then
  pkgs+=(rustc libstd-rust-dev-wasm32 lld)   # lld is only a Recommends of the wasm32 std
fi
if [ $want_go = 1 ] && [ -n "$(missing_go)" ]; then
  pkgs+=(golang-1.23-go)   # only in bookworm-backports, so apt takes it from there
fi
if [ $want_cpp = 1 ] && [ -n "$(missing_cpp)" ]; then
  major=$(clang_major)
  if [ -z "$major" ]; then
    major=$(apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n1 || true)
  fi
  [ -n "$major" ] || die "cannot tell which clang version apt would install"
  pkgs+=("libc++-$major-dev-wasm32" "libc++abi-$major-dev-wasm32")
fi
if [ $want_chromium = 1 ] && [ -n "$(missing_chromium)" ]; then
  pkgs+=(chromium)
fi
apt apt-get install -y -q --no-install-recommends "${pkgs[@]}"

# Check the result, so a partial install fails here and not in the middle of a build.
still=()
[ $want_c = 1 ] && mapfile -t -O "${#still[@]}" still < <(missing_c)
[ $want_rust = 1 ] && mapfile -t -O "${#still[@]}" still < <(missing_rust)
[ $want_go = 1 ] && mapfile -t -O "${#still[@]}" still < <(missing_go)
[ $want_cpp = 1 ] && mapfile -t -O "${#still[@]}" still < <(missing_cpp)
[ $want_chromium = 1 ] && mapfile -t -O "${#still[@]}" still < <(missing_chromium)
[ ${#still[@]} -eq 0 ] || die "still missing after apt-get install ${pkgs[*]}: ${still[*]}"

if [ $want_c = 1 ]; then
  tmp=$(mktemp -d)
  printf 'int main(void){return 0;}\n' >"$tmp/t.c"
  if ! clang --target=wasm32-wasi --sysroot="$WASI_SYSROOT" -O2 "$tmp/t.c" -o "$tmp/t.wasm" >"$log" 2>&1; then
    cat "$log" >&2; rm -rf "$tmp"
    die "clang cannot build for wasm32-wasi with --sysroot=$WASI_SYSROOT (output above)"
  fi
  rm -rf "$tmp"
fi
