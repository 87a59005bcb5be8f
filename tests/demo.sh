#!/usr/bin/env bash
# make demo: the fixture distribution (cached), the demo image as qcow2 and
# VHD through the same code path as a release, a NoCloud seed, and a boot
# test of both images.  Prints the image paths and timings.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
IMGBUILD="$TOP/builder/imgbuild"
OUT="${DEMO_OUTPUT_DIR:-$TOP/images}"
RELEASE="${DEMO_RELEASE:-$(date -u +%Y%m%d)}"
t0=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

step "fixture distribution (tests/fixture/build.sh, cached)"
FIXTURE=$("$TOP/tests/fixture/build.sh" | tail -n1)
echo "fixture: $FIXTURE"

step "demo image: imgbuild build --profile demo --release $RELEASE"
mkdir -p "$OUT"
"$IMGBUILD" build --profile demo --release "$RELEASE" --format qcow2,vhd --output-dir "$OUT" \
        | tee "$OUT/.demo-outputs"
qcow2=$(grep '\.qcow2$' "$OUT/.demo-outputs")
vhd=$(grep '\.vhd$' "$OUT/.demo-outputs")
rm -f "$OUT/.demo-outputs"

step "NoCloud seed"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
marker="imgbuild-demo-$RELEASE-$$"
cat > "$work/user-data" <<EOT
#cloud-config
runcmd:
  - [ sh, -c, "echo $marker > /dev/ttyS0" ]
EOT
printf 'instance-id: demo-%s\nlocal-hostname: alinux-demo\n' "$RELEASE" > "$work/meta-data"
"$IMGBUILD" seed --user-data "$work/user-data" --meta-data "$work/meta-data" -o "$OUT/seed.img"

step "boot test: qcow2"
"$IMGBUILD" boot-test "$qcow2" --seed "$OUT/seed.img" --expect "$marker" --timeout 600
step "boot test: VHD (qemu's vpc driver)"
"$IMGBUILD" boot-test "$vhd" --seed "$OUT/seed.img" --expect "$marker" --timeout 600

step "done"
printf '  %s\n' "$qcow2" "$vhd" "$OUT/seed.img"
cat <<EOT

Boot it by hand (as Alibaba's on-premise guide does):
  qemu-system-x86_64 -machine q35 -smp 2 -m 2048 -nographic \\
    -drive file=$qcow2,if=virtio,format=qcow2 \\
    -drive file=$OUT/seed.img,if=virtio,format=raw \\
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0
EOT
