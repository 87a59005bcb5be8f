#!/bin/bash
# tests/disk/boot.sh RAW OUTDIR [TIMEOUT]
# Boots RAW (unchanged: a qcow2 overlay takes the writes) under qemu —
# KVM when it works, TCG otherwise — q35, 2 CPUs, 2 GiB, virtio disk and
# net, a NoCloud seed made with cloud-localds, serial console to
# OUTDIR/serial.log; succeeds when cloud-init reports "finished".
set -euo pipefail
raw=$1 out=$2 timeout=${3:-420}
mkdir -p "$out"
qemu-img create -q -f qcow2 -F raw -b "$(realpath "$raw")" "$out/overlay.qcow2"
cat > "$out/user-data" <<'U'
#cloud-config
bootcmd:
  - echo IMGBUILD-BOOTCMD > /dev/ttyS0
final_message: "IMGBUILD-CLOUD-INIT-FINISHED after $UPTIME seconds"
U
printf 'instance-id: iid-imgbuild-boot-test\nlocal-hostname: imgbuild-boot\n' > "$out/meta-data"
cloud-localds "$out/seed.img" "$out/user-data" "$out/meta-data"
# KVM works when qemu with -accel kvm stays up (killed by timeout: 124)
accel=tcg
if [ -w /dev/kvm ]; then
        timeout 3 qemu-system-x86_64 -accel kvm -machine none -display none -monitor none -S </dev/null >/dev/null 2>&1 ||
                [ $? != 124 ] || accel=kvm
fi
: > "$out/serial.log"
start=$(date +%s)
qemu-system-x86_64 -machine q35 -accel "$accel" -m 2048 -smp 2 -display none -monitor none -no-reboot \
        -serial "file:$out/serial.log" \
        -drive "file=$out/overlay.qcow2,if=virtio,format=qcow2" \
        -drive "file=$out/seed.img,if=virtio,format=raw,readonly=on" \
        -netdev user,id=n0 -device virtio-net-pci,netdev=n0 > "$out/qemu.log" 2>&1 &
qpid=$!
trap 'kill "$qpid" 2>/dev/null || true; wait "$qpid" 2>/dev/null || true' EXIT
rc=1
while kill -0 "$qpid" 2>/dev/null; do
        if grep -q "IMGBUILD-CLOUD-INIT-FINISHED" "$out/serial.log"; then rc=0; break; fi
        [ $(( $(date +%s) - start )) -ge "$timeout" ] && { echo "boot: timeout after $timeout s" >&2; break; }
        sleep 2
done
echo "boot ($accel): $([ $rc = 0 ] && echo "cloud-init finished" || echo FAILED) after $(( $(date +%s) - start )) s"
[ $rc = 0 ] || tail -n 40 "$out/serial.log" >&2
exit $rc
