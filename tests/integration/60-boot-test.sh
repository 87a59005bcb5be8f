#!/usr/bin/env bash
# imgbuild boot-test on the demo image (SLOW=1: each boot ≈ 60 s of both
# cores under TCG, more on a loaded machine):
#  - PASS: the qcow2 with the seed boot-test makes itself (its marker), the
#    VHD through qemu's vpc driver with our own seed + --expect;
#  - the images are unchanged afterwards (sha256sum -c SHA256SUMS);
#  - FAIL (exit 7) with the right diagnosis, console log kept: a zeroed boot
#    sector (not bootable), init=/bin/false on a raw copy (kernel panic), a
#    timeout; SIGINT ends qemu and exits 130.
# Prints the time-to-kernel / login / cloud-init figures.
set -uo pipefail
. "$TOP/tests/lib.sh"
need_slow
[ -f "$FIXTURE/fixture.env" ] || skip "no fixture"
for t in qemu-system-x86_64 qemu-img qemu-io debugfs; do
        command -v "$t" >/dev/null || skip "$t not installed"
done
dir=$(demo_image_dir)
qcow2=$(ls "$dir"/*.qcow2 | head -n1)
vhd=$(ls "$dir"/*.vhd | head -n1)
[ -f "$qcow2" ] && [ -f "$vhd" ] || fail "demo build gave no qcow2/vhd in $dir"
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
TO=${BOOT_TIMEOUT:-900}

boot() { # expected-exit name args…
        local want=$1 name=$2; shift 2
        local t0=$(date +%s) rc
        "$IMGBUILD" boot-test "$@" --log "$WORK/$name.console.log" > "$WORK/$name.out" 2>&1
        rc=$?
        echo "--- boot-test $name: exit $rc in $(( $(date +%s) - t0 )) s"
        sed 's/^/    /' "$WORK/$name.out" | grep -v '^    \[ *[0-9]' | head -n 12
        [ "$rc" = "$want" ] || { tail -n 40 "$WORK/$name.out"; fail "boot-test $name: expected exit $want, got $rc"; }
        [ -s "$WORK/$name.console.log" ] || fail "boot-test $name: console log missing or empty"
}

# 1. qcow2, seed made by boot-test (its marker must appear).
boot 0 qcow2 "$qcow2" --timeout "$TO"
grep -q '^boot-test: PASS' "$WORK/qcow2.out" || fail "no PASS line"
grep -q 'cloud-init finished' "$WORK/qcow2.out" || fail "no cloud-init time"
grep -aq 'IMGBUILD-BOOT-MARKER-' "$WORK/qcow2.console.log" || fail "marker not in the console log"
grep -aq 'Cloud-init v\. .* finished at' "$WORK/qcow2.console.log" || fail "finished line not in the log"
grep -aqE "can.t find command|Press any key to continue" "$WORK/qcow2.console.log" && fail "grub reported an error before booting (see $WORK/qcow2.console.log)"

# 2. VHD through the vpc driver, our own seed, our own marker.
marker="vhd-marker-$$-$RANDOM"
cat > "$WORK/user-data" <<EOF
#cloud-config
runcmd:
  - [ sh, -c, 'echo "$marker" > /dev/ttyS0' ]
EOF
printf 'instance-id: vhd-%s\nlocal-hostname: vhd-test\n' "$$" > "$WORK/meta-data"
"$IMGBUILD" seed -q -u "$WORK/user-data" -m "$WORK/meta-data" -o "$WORK/seed.img" || fail "seed"
boot 0 vhd "$vhd" --seed "$WORK/seed.img" --expect "$marker" --timeout "$TO"
grep -aq "^$marker" "$WORK/vhd.console.log" || fail "own marker not on the console"

# 3. Booting never changes an image.
( cd "$dir" && sha256sum --quiet -c SHA256SUMS ) || fail "an image changed during boot-test"

# 4. Zeroed MBR (qcow2 overlay, the image untouched): not bootable.
qemu-img create -q -f qcow2 -b "$qcow2" -F qcow2 "$WORK/noboot.qcow2"
qemu-io -c "write -z 0 512" "$WORK/noboot.qcow2" >/dev/null || fail "qemu-io"
boot 7 noboot "$WORK/noboot.qcow2" --timeout 120
grep -q 'FAIL .*not bootable' "$WORK/noboot.out" || fail "noboot: wrong diagnosis"

# 5. init=/bin/false on a raw copy: the kernel panics.
qemu-img convert -f qcow2 -O raw "$qcow2" "$WORK/panic.raw" || fail "convert to raw"
off=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(512); print([struct.unpack_from("<I",d,446+16*i+8)[0] for i in range(4) if d[446+16*i+4]][0]*512)' "$WORK/panic.raw")
fs="$WORK/panic.raw?offset=$off"
cfg=
for c in /boot/grub2/grub.cfg /boot/grub/grub.cfg; do
        if debugfs -R "dump $c $WORK/grub.cfg" "$fs" 2>/dev/null && [ -s "$WORK/grub.cfg" ]; then cfg=$c; break; fi
done
[ -n "$cfg" ] || fail "no grub.cfg in the demo image's root file system"
sed -i -E 's@^([[:space:]]*linux(16|efi)?[[:space:]].*)$@\1 init=/bin/false@' "$WORK/grub.cfg"
grep -q 'init=/bin/false' "$WORK/grub.cfg" || fail "no linux line in $cfg"
debugfs -w -R "rm $cfg" "$fs" >/dev/null 2>&1 && debugfs -w -R "write $WORK/grub.cfg $cfg" "$fs" >/dev/null 2>&1 ||
        fail "cannot edit $cfg"
boot 7 panic "$WORK/panic.raw" --timeout 300
grep -q 'FAIL .*kernel panic' "$WORK/panic.out" || fail "panic: wrong diagnosis"
grep -q 'Attempted to kill init' "$WORK/panic.out" || fail "panic: console tail not shown"
rm -f "$WORK/panic.raw"

# 6. Timeout.
boot 7 timeout "$qcow2" --timeout 15
grep -q 'FAIL .*timeout' "$WORK/timeout.out" || fail "timeout: wrong diagnosis"

# 7. SIGINT: qemu is ended, exit 130, temp dir gone.
"$IMGBUILD" boot-test "$qcow2" --log "$WORK/int.console.log" > "$WORK/int.out" 2>&1 &
pid=$!
for _ in $(seq 60); do [ -s "$WORK/int.console.log" ] && break; sleep 0.5; done
pgrep -f "path=$WORK/int.console.log" >/dev/null || fail "sigint: qemu not running"
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" = 130 ] || { cat "$WORK/int.out"; fail "sigint: exit $rc, not 130"; }
sleep 1
pgrep -f "path=$WORK/int.console.log" >/dev/null && fail "sigint: qemu still running"
[ -z "$(ls -A "$TMPDIR")" ] || fail "sigint: left $(ls -A "$TMPDIR")"

echo "boot-test figures (TCG=$(grep -q '(tcg)' "$WORK/qcow2.out" && echo yes || echo no)):"
grep -h -E 'PASS|kernel \(|login prompt|cloud-init finished' "$WORK/qcow2.out" "$WORK/vhd.out"
