#!/usr/bin/env bash
# imgbuild boot-test without a real boot: bad arguments exit 2, a file that
# is not a disk image exits 9, an empty disk fails fast (exit 7, "not
# bootable", from the firmware's own message), nothing is left behind.
set -uo pipefail
. "$TOP/tests/lib.sh"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
cd "$WORK"

expect_exit 2 "$IMGBUILD" boot-test
expect_exit 2 "$IMGBUILD" boot-test a.img b.img
expect_exit 2 "$IMGBUILD" boot-test x.img --timeout zero
expect_exit 2 "$IMGBUILD" boot-test x.img --accel xen
expect_exit 2 "$IMGBUILD" boot-test x.img --expect marker
printf 'not a disk\n' > notes.txt
expect_exit 9 "$IMGBUILD" boot-test notes.txt
assert_contains "$OUT" "not a disk image"
expect_exit 2 "$IMGBUILD" boot-test missing.qcow2
assert_contains "$OUT" "missing.qcow2"
truncate -s 64M empty.raw
expect_exit 2 "$IMGBUILD" boot-test empty.raw --seed missing-seed.img
assert_contains "$OUT" "missing-seed.img"

# An all-zero disk: SeaBIOS says so on the serial console within seconds.
t0=$(date +%s)
expect_exit 7 "$IMGBUILD" boot-test empty.raw --timeout 120 --log "$WORK/empty.log"
assert_contains "$OUT" "not bootable"
assert_contains "$OUT" "Boot failed"
[ $(( $(date +%s) - t0 )) -lt 60 ] || fail "an unbootable disk took more than 60 s to fail"
[ -s "$WORK/empty.log" ] || fail "console log not kept"
[ -z "$(ls -A "$TMPDIR")" ] || fail "left behind in TMPDIR: $(ls -A "$TMPDIR")"
pgrep -f "path=$WORK/empty.log" >/dev/null && fail "qemu still running"
echo "boot-test cli: ok"
