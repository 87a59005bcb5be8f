# shellcheck shell=bash
# tests/disk/lib.sh — shared by tests/integration/50-disk-*.sh (sourced).
# Needs TOP, WORK (and FIXTURE for disk_root) from tests/run-integration.sh.

nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
ok() { echo "ok:   $*"; }
# check DESCRIPTION COMMAND…: one assertion, keeps going
check() {
        local what=$1
        shift
        if "$@"; then ok "$what"; else fail "$what"; fi
}
# has FILE REGEX: grep -E in a captured file
has() { grep -qE -- "$2" "$1"; }
hasnt() { ! grep -qE -- "$2" "$1"; }
finish() {
        if [ "$nfail" -gt 0 ]; then echo "$nfail check(s) failed"; exit 1; fi
        echo "all checks passed"
}

disk_need_tools() {
        local t
        for t in cc dnf mke2fs dumpe2fs debugfs e2fsck guestfish python3 lsinitramfs systemctl; do
                command -v "$t" >/dev/null || { echo "skip: $t not installed"; return 1; }
        done
        [ "$(id -u)" = 0 ] || { echo "skip: needs root (chroot, mounts, file owners)"; return 1; }
        [ -n "${DISK_TEST_ROOT:-}" ] || [ -n "${FIXTURE:-}" ] && [ -d "${DISK_TEST_ROOT:-$FIXTURE/repos}" ] ||
                { echo "skip: no fixture"; return 1; }
}

# Compiles tests/disk/driver.c into $WORK/driver against the library (or,
# when the library does not build right now, against the stage sources).
disk_driver() {
        local libs
        libs=$(make -s --no-print-directory -C "$TOP" print-libs)
        local cflags="-std=c11 -D_GNU_SOURCE -O1 -g -I$TOP/builder $(make -s --no-print-directory -C "$TOP" print-flags)"
        # shellcheck disable=SC2086
        if [ -f "$TOP/build/libimgbuild.a" ] && [ "$TOP/build/libimgbuild.a" -nt "$TOP/builder/disk.c" ] &&
           cc $cflags -o "$WORK/driver" "$TOP/tests/disk/driver.c" "$TOP/build/libimgbuild.a" $libs 2>"$WORK/cc.log"; then
                return 0
        fi
        local srcs=()
        local f
        for f in "$TOP"/builder/*.c; do [ "$(basename "$f")" = main.c ] || srcs+=("$f"); done
        # shellcheck disable=SC2086
        cc $cflags -o "$WORK/driver" "$TOP/tests/disk/driver.c" "${srcs[@]}" $libs 2>>"$WORK/cc.log" ||
                { cat "$WORK/cc.log"; echo "cannot build the driver"; return 1; }
}

# disk_root DIR: a fresh copy of the fixture root with kickstart/demo.ks's
# %packages (made once with dnf, then cached).  DISK_TEST_ROOT=DIR: copy
# that root instead (development, before the fixture exists).
disk_root() {
        if [ -n "${DISK_TEST_ROOT:-}" ]; then cp -a "$DISK_TEST_ROOT" "$1"; return; fi
        "$TOP/tests/disk/mkroot.sh" "$FIXTURE" "$TOP/kickstart/demo.ks" "$1"
}

# MBR facts of a raw disk as "key=value" lines.
mbr_facts() {
        python3 - "$1" <<'PY'
import struct, sys, os
f = open(sys.argv[1], 'rb'); mbr = f.read(512); core = f.read(512)
size = os.path.getsize(sys.argv[1])
print("signature=%s" % mbr[510:512].hex())
print("bootcode_grub=%d" % (b"GRUB" in mbr[:440]))
print("disk_id=%08x" % struct.unpack('<I', mbr[440:444])[0])
print("core_nonzero=%d" % any(core))
n = 0
for i in range(4):
    e = mbr[446 + 16 * i: 462 + 16 * i]
    if not any(e):
        continue
    n += 1
    status, ptype = e[0], e[4]
    start, count = struct.unpack('<II', e[8:16])
    print("part%d=status:%02x type:%02x start:%d end_ok:%d" % (i + 1, status, ptype, start, (start + count) * 512 == size))
print("partitions=%d" % n)
st = os.stat(sys.argv[1])
print("sparse=%d" % (st.st_blocks * 512 < size // 2))
PY
}
