#!/bin/bash
# bench/install/run.sh [LOCK] — time our fetch+install against
# `dnf --installroot` on the same lock, one run each, cold caches, packages
# served over HTTP on loopback for both (a file:// lock is rewritten), and
# print the ratio.  Default lock: the fixture's demo package set.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
T=$top/tests/install
w=$(mktemp -d "${TMPDIR:-/var/tmp}/imgbuild-bench.XXXXXX")
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
fx=${FIXTURE:-/var/cache/imgbuild/fixture/current}
lock=${1:-}
if [ -z "$lock" ]; then
  [ -d "$fx/repos/os" ] || { echo "bench: no fixture at $fx and no lock given"; exit 77; }
  "$T/fixture-lock.sh" "$fx" "$w/file.lock"; lock=$w/file.lock
fi
"$T/build-driver.sh" "$w/driver"
# one HTTP server over / (loopback only) serves every file:// base URL
port=$((20000 + RANDOM % 20000))
/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory / "$port" >/dev/null 2>&1 & srv=$!
for i in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
sed "s|\"file:///|\"http://127.0.0.1:$port/|" "$lock" > "$w/http.lock"
n=$(/usr/bin/python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["packages"]; print(len(l), round(sum(p["size"] for p in l)/1048576,1))' "$w/http.lock")
sync
s=$(date +%s.%N)
IMGBUILD_CACHE_DIR=$w/cache "$w/driver" --lock "$w/http.lock" --root "$w/ours" --rpmdb bdb > "$w/ours.log" 2>&1 || { tail "$w/ours.log"; exit 1; }
m=$(date +%s.%N)
"$T/dnf-install.sh" "$w/http.lock" "$w/dnf" > "$w/dnf.log" 2>&1 || { tail "$w/dnf.log"; exit 1; }
e=$(date +%s.%N)
ours=$(echo "$m - $s" | bc); dnf=$(echo "$e - $m" | bc)
grep '^driver:' "$w/ours.log" || true
printf 'packages: %s (count, MiB)\nimgbuild fetch+install (bdb): %.1fs\ndnf --installroot:            %.1fs\nratio: %.2fx dnf (goal <= 0.5)\n' \
  "$n" "$ours" "$dnf" "$(echo "$ours / $dnf" | bc -l)"
