#!/bin/bash
# bench/install/run.sh [LOCK] — time our fetch+install against
# `dnf --installroot` on the same lock, cold caches, packages served over
# HTTP on loopback for both (a file:// lock is rewritten), and print the
# ratios:
#   on disk    both roots (and both package caches) on disk, as a build with
#              the root cache installs (next to the cache, so that storing
#              the root is a rename); each tool gets its own freshly made
#              ext4 with mkfs.ext4's defaults (journalled, as a build host's
#              file system is), on a loop device; with it, the disk's floor
#              for any installer: tar -x of our installed tree (from an
#              uncompressed tar in memory) onto a third fresh one;
#   VM root    the same two runs on this machine's own root file system,
#              as it is (here: ext4 without a journal, whose inode allocator
#              checks every inode deleted in the last minutes, ext4's
#              recently_deleted(), so its times depend on what ran before:
#              under bench/run.sh nothing is deleted there until the end);
#   staged     ours staged in memory (a build with IMGBUILD_ROOTCACHE=0)
#              against dnf onto disk as it is usually run, and both in
#              memory.
# Default lock: the fixture's demo package set.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
T=$top/tests/install
# BENCH_BURY=DIR (bench/run.sh sets it, deleting DIR when it ends): this
# run's files go in DIR and stay there, so that the next run's VM root row
# does not pay for ~40k inodes freed just before it (see above)
[ -n "${BENCH_BURY:-}" ] && mkdir -p "$BENCH_BURY"
w=$(mktemp -d "${BENCH_BURY:-${TMPDIR:-/var/tmp}}/imgbuild-bench.XXXXXX")
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; [ -n "${BENCH_BURY:-}" ] || rm -rf "$w"; }
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
mounts=()
trap 'for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done; cleanup' EXIT
mkdir -p "$w/tmpfs" && mount -t tmpfs -o size=4g,mode=0755 imgbuild-bench "$w/tmpfs" && mounts+=("$w/tmpfs")
# fresh_fs NAME — $w/NAME: a new 4 GiB ext4 (mkfs.ext4's defaults) on a loop
# device, or a plain directory on $w's file system when loop devices are
# not available (then the two disk rows are the same footing)
fresh_fs() {
        truncate -s 4G "$w/$1.img" && mkfs.ext4 -q -F "$w/$1.img" && mkdir -p "$w/$1" &&
                mount -o loop,noinit_itable "$w/$1.img" "$w/$1" 2>/dev/null && { mounts+=("$w/$1"); return; }
        rm -f "$w/$1.img"; mkdir -p "$w/$1"
        echo "note: cannot loop-mount a fresh ext4: the disk rows run on $w's file system" >&2
}
# 1. on disk, each tool on its own fresh ext4 (its package cache there too)
fresh_fs fs-ours; fresh_fs fs-dnf; fresh_fs fs-floor
ours=$(timed ours env IMGBUILD_CACHE_DIR="$w/fs-ours/cache" "$w/driver" --lock "$w/http.lock" --root "$w/fs-ours/root" --rpmdb bdb)
dnf=$(timed dnf env TMPDIR="$w/fs-dnf" "$T/dnf-install.sh" "$w/http.lock" "$w/fs-dnf/root")
# the disk's floor for any installer: laying the same tree (ours, from an
# uncompressed tar in memory) onto a fresh ext4 of its own with tar -x
tar -C "$w/fs-ours/root" --numeric-owner -cf "$w/tmpfs/root.tar" .
mkdir "$w/fs-floor/root"
floor=$(timed floor tar -C "$w/fs-floor/root" --numeric-owner -xpf "$w/tmpfs/root.tar")
rm -rf "$w/fs-ours/root" "$w/fs-dnf/root" "$w/fs-floor/root" "$w/tmpfs/root.tar"
# 2. the same two on this machine's root file system as it is; the one
#    that goes second runs later after whatever the machine freed before,
#    so BENCH_FIRST=dnf (bench/run.sh alternates it) swaps the order
vmrun() { case $1 in
        ours) vmours=$(timed vmours env IMGBUILD_CACHE_DIR="$w/cache1" "$w/driver" --lock "$w/http.lock" --root "$w/ours" --rpmdb bdb) ;;
        dnf) vmdnf=$(timed vmdnf "$T/dnf-install.sh" "$w/http.lock" "$w/dnf") ;;
esac; }
if [ "${BENCH_FIRST:-ours}" = dnf ]; then vmrun dnf; vmrun ours; else vmrun ours; vmrun dnf; fi
# 3. as a build with the root cache off installs (install_staging_root: the
#    scratch tmpfs here), and dnf onto a tmpfs too: the same footing (our
#    package cache in memory as well: dnf keeps its downloads in the root)
staged=$(timed staged env IMGBUILD_CACHE_DIR="$w/tmpfs/cache" "$w/driver" --lock "$w/http.lock" --staged --rpmdb bdb)
grep -q 'staging the root in memory' "$w/staged.log" || echo "note: the driver did not stage the root in memory"
dnfmem=$(timed dnfmem "$T/dnf-install.sh" "$w/http.lock" "$w/tmpfs/dnf")
grep -h '^driver:' "$w/ours.log" "$w/vmours.log" "$w/staged.log" || true
r() { echo "$1 / $2" | bc -l; }
vmsrc=$(findmnt -no SOURCE --target "$w" 2>/dev/null || true)
vmfs=$(findmnt -no FSTYPE --target "$w" 2>/dev/null || echo '?')
# /proc/fs/jbd2 has a <device>-<inode> entry per journalled file system
[ "$vmfs" = ext4 ] && ! ls /proc/fs/jbd2 2>/dev/null | grep -q "^${vmsrc##*/}-" && vmfs="ext4 without a journal"
printf 'packages: %s (count, MiB)\n' "$n"
printf 'imgbuild fetch+install (bdb): %.1fs (fresh ext4)\ndnf --installroot:            %.1fs (fresh ext4)\n' "$ours" "$dnf"
printf 'imgbuild on the VM root fs:   %.1fs (%s)\ndnf on the VM root fs:        %.1fs\n' "$vmours" "$vmfs" "$vmdnf"
printf 'imgbuild staged in memory:    %.1fs\ndnf --installroot on tmpfs:   %.1fs\n' "$staged" "$dnfmem"
printf 'ratio staged/dnf:       %.2fx (IMGBUILD_ROOTCACHE=0, against dnf as it is run: onto disk)\n' "$(r "$staged" "$dnf")"
printf 'ratio staged/dnf-tmpfs: %.2fx (both roots in memory)\n' "$(r "$staged" "$dnfmem")"
printf 'ratio vm-root:          %.2fx (both roots on the VM root fs)\n' "$(r "$vmours" "$vmdnf")"
printf 'ratio: %.2fx dnf (goal <= 0.5; both roots on disk, each on a fresh ext4, as a default build installs)\n' "$(r "$ours" "$dnf")"
printf 'write floor on disk:          %.1fs (tar -x of the installed tree: %.2fx dnf; ours is %.2fx the floor)\n' \
        "$floor" "$(r "$floor" "$dnf")" "$(r "$ours" "$floor")"
