#!/bin/bash
# bench/install/run.sh [LOCK] — time our fetch+install against
# `dnf --installroot` on the same lock, cold caches, packages served over
# HTTP on loopback for both (a file:// lock is rewritten), and print the
# ratios: both roots on disk (where a build with the root cache installs:
# next to the cache, so that storing the root is a rename), ours staged in
# memory (a build with IMGBUILD_ROOTCACHE=0) against dnf onto disk as it is
# usually run, and both in memory; and the disk's floor for any installer
# (cp -a of the installed tree onto the same file system).  Default lock:
# the fixture's demo package set.
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
# one HTTP server over / (loopback only) serves every file:// base URL; like
# a mirror it keeps connections alive and answers range requests (imgbuild
# fetches the headers with them and installs while the payloads download)
port=$((20000 + RANDOM % 20000))
/usr/bin/python3 "$top/tests/http-range-server.py" "$port" / >/dev/null 2>&1 & srv=$!
for i in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
sed "s|\"file:///|\"http://127.0.0.1:$port/|" "$lock" > "$w/http.lock"
n=$(/usr/bin/python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["packages"]; print(len(l), round(sum(p["size"] for p in l)/1048576,1))' "$w/http.lock")
# timed LABEL CMD… — run CMD after a sync: its wall seconds on stdout, its output in $w/LABEL.log
timed() {
        local label=$1; shift
        sync
        local s e; s=$(date +%s.%N)
        "$@" > "$w/$label.log" 2>&1 || { tail "$w/$label.log" >&2; return 1; }
        e=$(date +%s.%N)
        echo "$e - $s" | bc
}
mkdir -p "$w/tmpfs" && mount -t tmpfs -o size=4g,mode=0755 imgbuild-bench "$w/tmpfs"
trap 'umount "$w/tmpfs" 2>/dev/null; cleanup' EXIT
# 1. on disk, as a build with the root cache (the default) installs
ours=$(timed ours env IMGBUILD_CACHE_DIR="$w/cache1" "$w/driver" --lock "$w/http.lock" --root "$w/ours" --rpmdb bdb)
dnf=$(timed dnf "$T/dnf-install.sh" "$w/http.lock" "$w/dnf")
# the disk's floor for any installer: writing the same tree (cp -a of ours,
# its source in the page cache) onto the same file system
floor=$(timed floor cp -a "$w/ours" "$w/floor")
rm -rf "$w/ours" "$w/dnf" "$w/floor"
# 2. as a build with the root cache off installs (install_staging_root: the
#    scratch tmpfs here), and dnf onto a tmpfs too: the same footing (our
#    package cache in memory as well: dnf keeps its downloads in the root)
staged=$(timed staged env IMGBUILD_CACHE_DIR="$w/tmpfs/cache" "$w/driver" --lock "$w/http.lock" --staged --rpmdb bdb)
grep -q 'staging the root in memory' "$w/staged.log" || echo "note: the driver did not stage the root in memory"
dnfmem=$(timed dnfmem "$T/dnf-install.sh" "$w/http.lock" "$w/tmpfs/dnf")
grep -h '^driver:' "$w/ours.log" "$w/staged.log" || true
r() { echo "$1 / $2" | bc -l; }
printf 'packages: %s (count, MiB)\n' "$n"
printf 'imgbuild fetch+install (bdb): %.1fs\ndnf --installroot:            %.1fs\n' "$ours" "$dnf"
printf 'imgbuild staged in memory:    %.1fs\ndnf --installroot on tmpfs:   %.1fs\n' "$staged" "$dnfmem"
printf 'ratio staged/dnf:       %.2fx (IMGBUILD_ROOTCACHE=0, against dnf as it is run: onto disk)\n' "$(r "$staged" "$dnf")"
printf 'ratio staged/dnf-tmpfs: %.2fx (both roots in memory)\n' "$(r "$staged" "$dnfmem")"
printf 'ratio: %.2fx dnf (goal <= 0.5; both roots on disk, as a default build installs)\n' "$(r "$ours" "$dnf")"
printf 'write floor on disk:          %.1fs (cp -a of the installed tree: %.2fx dnf; ours is %.2fx the floor)\n' \
        "$floor" "$(r "$floor" "$dnf")" "$(r "$ours" "$floor")"
