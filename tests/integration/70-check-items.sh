#!/bin/bash
# 70-check-items: `imgbuild check` passes a good image, and for every item a
# broken copy fails exactly that item (every other item as for the good
# image).  The good image is $CHECK_IMAGE (profile $CHECK_PROFILE), by
# default the demo image that `imgbuild build --profile demo` makes (shared
# by the tests of this run); CHECK_SYNTHETIC=1 uses only the synthetic
# EL7-like image of tests/check/make-good-image.sh.  Breaks needing a fresh filesystem (ext4
# 64bit, LVM, inodes used up) always use the synthetic image.
# All images are checked in ONE libguestfs launch (imgbuild check A B C…).
set -euo pipefail
here=$TOP/tests/check
syn=${SHARED:-$WORK}/check-images
t0=$(date +%s)
"$here/make-good-image.sh" "$syn"
t1=$(date +%s)

good=${CHECK_IMAGE:-}
if [ -z "$good" ] && [ "${CHECK_SYNTHETIC:-0}" != 1 ]; then
        . "$TOP/tests/lib.sh"
        demo=$(demo_image_dir)
        good=$(ls "$demo"/*.qcow2 | head -n1)
        [ -f "$good" ] || { echo "no demo qcow2 in $demo"; exit 1; }
fi
if [ -n "$good" ] && [ "$good" != "$syn/good.raw" ]; then
        profile=${CHECK_PROFILE:-nocloud}
        # Where the Debian-based fixture genuinely differs from EL7 (stated
        # here, checked by compare.py: any other WARNING fails the test).
        export ALLOWED_WARNINGS=${ALLOWED_WARNINGS:-"network=the fixture brings eth0 up with ifupdown, not the EL7 network service;growpart=the fixture distribution has no cloud-utils-growpart"}
else
        good=$syn/good.raw
        profile=${CHECK_PROFILE:-aliyun2}
        export ALLOWED_WARNINGS=${ALLOWED_WARNINGS:-}
fi
echo "good image: $good (profile $profile); synthetic images: $syn"

"$here/make-broken.sh" "$good" "$syn/novirtio.img" "$WORK/broken"
t2=$(date +%s)
sed -i "s|\$|\t$good|" "$WORK/broken/cases.tsv"
printf '%s\t%s\t%s\t%s\t%s\n' \
        "$syn/fs64.raw" filesystem FAILED "ext4 with 64bit" "$syn/good.raw" \
        "$syn/lvm.raw" lvm FAILED "root on LVM" "$syn/good.raw" \
        "$syn/inodes.raw" inode_usage FAILED "inodes used up (ext3)" "$syn/good.raw" >> "$WORK/broken/cases.tsv"
images=("$good")
[ "$good" != "$syn/good.raw" ] && images+=("$syn/good.raw")
mapfile -t broken < <(awk -F'\t' '$3 != "SKIP" { print $1 }' "$WORK/broken/cases.tsv")
images+=("${broken[@]}")

rc=0
"$IMGBUILD" check --profile "$profile" --json "${images[@]}" > "$WORK/report.json" 2> "$WORK/check.err" || rc=$?
t3=$(date +%s)
cat "$WORK/check.err"
# Some item FAILED in the broken copies, and every file is an image: 8.
[ "$rc" -eq 8 ] || { echo "expected exit 8 (some item FAILED), got $rc"; exit 1; }
goods=("$good"); [ "$good" != "$syn/good.raw" ] && goods+=("$syn/good.raw")
python3 "$here/compare.py" "$WORK/report.json" "$WORK/broken/cases.tsv" "${goods[@]}"
echo "timings: synthetic images $((t1 - t0)) s, broken copies $((t2 - t1)) s, check of ${#images[@]} images in one launch $((t3 - t2)) s"
