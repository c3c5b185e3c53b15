#!/usr/bin/env bash
# Installs the Debian servers the peer benchmarks run on (bench/peers/run.mjs calls it):
#   postgres  PostgreSQL server binaries (initdb, pg_ctl, postgres under /usr/lib/postgresql/N/bin),
#             for DBOS Transact; the benchmark starts a private cluster, never the system one
#   redis     redis-server, for BullMQ; the benchmark starts its own on a free port
# Usage: bench/peers/setup.sh [postgres] [redis]     (default: both)
#
# Idempotent: installs only what is missing, with a single `apt-get update`. Silent when
# everything is present. Debian/Ubuntu only (apt); uses sudo when not root.
# Restate needs nothing here: its server binary comes inside the npm package.
set -euo pipefail

want_pg=0 want_redis=0
[ $# -eq 0 ] && set -- postgres redis
for arg in "$@"; do
  case "$arg" in
    postgres) want_pg=1 ;;
    redis) want_redis=1 ;;
    -h|--help) sed -n "2,10p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "peers/setup: unknown server '$arg' (expected: postgres, redis)" >&2; exit 2 ;;
  esac
done

die() { echo "peers/setup: $*" >&2; exit 1; }

# Debian keeps initdb and pg_ctl off PATH (pg_wrapper only wraps the clients).
missing_pg() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || echo postgresql
}

missing_redis() {
  command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || echo redis-server
}

need=()
[ $want_pg = 1 ] && mapfile -t -O "${#need[@]}" need < <(missing_pg)
[ $want_redis = 1 ] && mapfile -t -O "${#need[@]}" need < <(missing_redis)
[ ${#need[@]} -eq 0 ] && exit 0

command -v apt-get >/dev/null 2>&1 ||
  die "missing: ${need[*]}; no apt-get here, install PostgreSQL (server) and redis-server yourself"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "missing: ${need[*]}; not root and no sudo, cannot apt-get install"
  SUDO=(sudo -n)
  "${SUDO[@]}" true 2>/dev/null || SUDO=(sudo)   # fall back to a password prompt
fi

log=$(mktemp "${TMPDIR:-/tmp}/peers-setup.XXXXXX.log")
trap 'rm -f "$log"' EXIT
apt() {
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive "$@" >>"$log" 2>&1; then
    cat "$log" >&2
    die "'$*' failed (output above)"
  fi
}

echo "peers/setup: installing missing ${need[*]} (apt-get)" >&2
apt apt-get update -q
# The packages' own services (the system cluster, the system redis) may start on install where
# an init system runs; the benchmark never uses them and starts its own on free ports.
apt apt-get install -y -q --no-install-recommends "${need[@]}"

still=()
[ $want_pg = 1 ] && mapfile -t -O "${#still[@]}" still < <(missing_pg)
[ $want_redis = 1 ] && mapfile -t -O "${#still[@]}" still < <(missing_redis)
[ ${#still[@]} -eq 0 ] || die "still missing after apt-get install ${need[*]}: ${still[*]}"
