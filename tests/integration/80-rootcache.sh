#!/usr/bin/env bash
# The incremental-rebuild cache (builder/rootcache.c), on the demo image:
#  1. a first build installs and stores the root and the initramfs;
#  2. the same build with only an overlay file changed reuses both (log lines
#     say so, no fetch/install stage runs) and the image has the new file,
#     byte-identical initramfs, the same package set;
#  3. a changed lock (--kernel pinned to the fixture's other kernel) misses:
#     installs again, makes a new initramfs, and the image has that kernel;
#  4. the cache keeps at most 2 roots and no temp entries;
#  5. IMGBUILD_ROOTCACHE=0 turns it off, and the root is then staged on the
#     scratch tmpfs (same image contents).
# Raw output only (conversion is tested elsewhere); files are read from the
# raw disk with debugfs at the partition's offset.
set -uo pipefail
. "$TOP/tests/lib.sh"
[ -d "$FIXTURE/repos/kernel" ] || skip "no fixture"
command -v debugfs >/dev/null || skip "no debugfs"
kernels=$(ls "$FIXTURE/repos/kernel/Packages" | sed -n 's/^\(kernel-.*\)\.rpm$/\1/p' | sort -V)
[ "$(echo "$kernels" | wc -l)" -ge 2 ] || skip "the fixture has fewer than 2 kernels"
older=$(echo "$kernels" | head -n1)

# a private copy of the binary: the root cache key includes the binary's
# digest, and a rebuild of builder/imgbuild mid-test would (rightly) miss
cp "$IMGBUILD" "$WORK/imgbuild" && IMGBUILD=$WORK/imgbuild
data=$WORK/data cache=$WORK/cache
mkdir -p "$data"
cp -a "$TOP/kickstart" "$TOP/repos" "$TOP/overlays" "$TOP/kernel-config" "$data/"
sed -i "s|/var/cache/imgbuild/fixture/current|$FIXTURE|g" "$data/repos/fixture.repo"
export IMGBUILD_CACHE_DIR=$cache

build() { # N [extra args…]: build into $WORK/outN, log in $WORK/bN.log
        local n=$1; shift
        "$IMGBUILD" build --profile demo --release 20190619 --datadir "$data" --format raw --no-check \
                --output-dir "$WORK/out$n" "$@" > "$WORK/b$n.log" 2>&1 ||
                { tail -n 40 "$WORK/b$n.log"; fail "build $n failed (exit $?)"; }
        echo "build $n: $(grep -A20 '^stage timings' "$WORK/b$n.log" | grep -E 'total|rootcache|install|configure' | tr -s ' ' | tr '\n' ';')"
}
fs() { echo "$(ls "$WORK/out$1"/*.raw)?offset=1048576"; }
cat_in() { debugfs -R "cat $2" "$(fs "$1")" 2>/dev/null; }
dump_in() { debugfs -R "dump $2 $3" "$(fs "$1")" 2>/dev/null; }
kver_of() { debugfs -R "ls -l /boot" "$(fs "$1")" 2>/dev/null | sed -n 's/.* vmlinuz-\([^ ]*\)$/\1/p' | sort -V | tail -n1; }
pkgs_of() { # the image's own rpmdb (Berkeley DB), read with the host rpm's bdb_ro
        rm -rf "$WORK/db$1"; mkdir -p "$WORK/db$1"
        debugfs -R "rdump /var/lib/rpm $WORK/db$1" "$(fs "$1")" >/dev/null 2>&1
        rpm --dbpath "$WORK/db$1/rpm" --define '_db_backend bdb_ro' -qa --qf '%{nevra}\n' 2>/dev/null | sort
}

# 1: cold for the root cache (the lock comes from `resolve`: `build -o` does
# not write one yet)
"$IMGBUILD" resolve --profile demo --release 20190619 --datadir "$data" -o "$WORK/lock1.json" > "$WORK/resolve.log" 2>&1 ||
        { cat "$WORK/resolve.log"; fail "resolve failed"; }
build 1 --lock "$WORK/lock1.json" -o "$WORK/lock-out.json"
python3 -c 'import json,sys; a,b=(json.load(open(f))["packages"] for f in sys.argv[1:]); sys.exit(a!=b)' \
        "$WORK/lock1.json" "$WORK/lock-out.json" || fail "build -o did not write the lock it built from"
grep -q '^rootcache: stored the installed root' "$WORK/b1.log" || fail "build 1 did not store the root"
grep -q '^==> install' "$WORK/b1.log" || fail "build 1 did not install"
grep -q 'reused from the cache' "$WORK/b1.log" && fail "build 1 reused an initramfs from an empty cache"
[ "$(ls "$cache/roots" | wc -l)" = 1 ] || fail "expected 1 cached root: $(ls -A "$cache/roots")"
[ "$(ls "$cache/initramfs" | wc -l)" = 1 ] || fail "expected 1 cached initramfs: $(ls -A "$cache/initramfs")"
motd1=$(cat_in 1 /etc/motd)
[ "$motd1" = "$(cat "$data/overlays/demo/etc/motd")" ] || fail "build 1 motd is not the overlay's: $motd1"
k1=$(kver_of 1)

# 2: only an overlay file changed
marker="rootcache test $$ $(date +%s%N)"
echo "$marker" > "$data/overlays/demo/etc/motd"
build 2 --lock "$WORK/lock1.json"
grep -q '^rootcache: reusing the installed root' "$WORK/b2.log" || fail "build 2 did not reuse the root"
grep -q 'reused from the cache' "$WORK/b2.log" || fail "build 2 did not reuse the initramfs"
grep -qE '^==> (fetch|install)$' "$WORK/b2.log" && fail "build 2 ran fetch/install despite the hit"
[ "$(cat_in 2 /etc/motd)" = "$marker" ] || fail "build 2 image lacks the overlay change: $(cat_in 2 /etc/motd)"
dump_in 1 "/boot/initrd.img-$k1" "$WORK/initrd1"; dump_in 2 "/boot/initrd.img-$k1" "$WORK/initrd2"
[ -s "$WORK/initrd1" ] && cmp -s "$WORK/initrd1" "$WORK/initrd2" || fail "build 2 initramfs differs from build 1's"
p1=$(pkgs_of 1)
[ "$(echo "$p1" | wc -l)" -gt 100 ] || fail "cannot read the image's rpmdb: $p1"
[ "$p1" = "$(pkgs_of 2)" ] || fail "build 2 package set differs"
# the cached root itself is untouched by configure (no hardlinks into it)
croot=$(ls -d "$cache"/roots/*/root)
[ ! -e "$croot/etc/motd" ] || ! grep -qF "$marker" "$croot/etc/motd" || fail "configure wrote into the cached root"
[ ! -e "$croot/etc/fstab" ] || ! grep -q '^UUID=' "$croot/etc/fstab" || fail "configure's fstab is in the cached root"

# 3: a changed lock misses
build 3 --kernel "$older"
grep -q '^rootcache: reusing' "$WORK/b3.log" && fail "build 3 reused the root although the kernel changed"
grep -q '^rootcache: stored the installed root' "$WORK/b3.log" || fail "build 3 did not store its root"
grep -q 'reused from the cache' "$WORK/b3.log" && fail "build 3 reused an initramfs made for other packages"
grep -qx "$older" <(pkgs_of 3) || fail "build 3 image does not have $older: $(pkgs_of 3 | grep ^kernel)"
[ "$p1" != "$(pkgs_of 3)" ] || fail "build 3 package set equals build 1's"
[ "$(cat_in 3 /etc/motd)" = "$marker" ] || fail "build 3 motd wrong"

# 4: bounded, no leftovers
[ "$(ls "$cache/roots" | wc -l)" = 2 ] || fail "expected 2 cached roots: $(ls -A "$cache/roots")"
ls -A "$cache/roots" "$cache/initramfs" | grep -q '^\.tmp' && fail "temp entries left in the cache"

# 5: off switch
IMGBUILD_ROOTCACHE=0 build 4 --lock "$WORK/lock1.json"
grep -q '^rootcache:' "$WORK/b4.log" && fail "IMGBUILD_ROOTCACHE=0 still used the cache"
grep -q '^==> install' "$WORK/b4.log" || fail "IMGBUILD_ROOTCACHE=0 did not install"
# a root nobody keeps is staged on the scratch tmpfs (this host has the memory)
grep -q '^install: staging the root in memory (.*/scratch)' "$WORK/b4.log" ||
        fail "IMGBUILD_ROOTCACHE=0: the root was not staged in memory"
[ "$(cat_in 4 /etc/motd)" = "$marker" ] || fail "build 4 (staged in memory) motd wrong: $(cat_in 4 /etc/motd)"
[ "$p1" = "$(pkgs_of 4)" ] || fail "build 4 (staged in memory) package set differs from build 1's"
echo "rootcache: all checks passed"
