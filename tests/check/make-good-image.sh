#!/bin/bash
# make-good-image.sh OUTDIR — synthetic images for `imgbuild check` tests.
#   good.raw    20 GiB sparse, MBR, one ext4 (^64bit) root partition ending
#               1 MiB before the end, EL7-like content (make-root.sh): passes
#   fs64.raw    same content, ext4 WITH 64bit              → filesystem FAILED
#   inodes.raw  same content, ext3 with its inodes used up → inode_usage FAILED
#   lvm.raw     same content, root on LVM                  → lvm FAILED
#   noos.raw    1 GiB, a filesystem but no OS              → bad image
#   novirtio.img  an initramfs without virtio (for the driver break)
# Filesystems are made on the host (mke2fs -d into the partition's offset:
# no appliance, sparse); only the LVM one needs one guestfish launch.
# Reuses OUTDIR when it was made by the same scripts (stamp).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
out=$1
stamp=$(cat "$here/make-root.sh" "$here/make-good-image.sh" "$here/lib.sh" | sha256sum | cut -c1-16)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
        echo "make-good-image: reusing $out" >&2; exit 0
fi
mkdir -p "$out"; rm -f "$out/stamp"
cd "$out"
uuid=$(cat /proc/sys/kernel/random/uuid)
"$here/make-root.sh" "$out/root" "$uuid"
mv "$out/root.novirtio.img" novirtio.img

# mkimg FILE SIZE MKE2FS-ARGS… — MBR, one bootable partition from sector
# 2048 to 1 MiB before the end, a filesystem made by mke2fs in it.
mkimg() {
        local file=$1 size=$2; shift 2
        rm -f "$file"; truncate -s "$size" "$file"
        local total=$(( $(stat -c %s "$file") / 512 ))
        local psize=$(( total - 2048 - 2048 ))
        printf 'label: dos\nstart=2048, size=%d, type=83, bootable\n' $psize | sfdisk -q "$file"
        mke2fs -q -F -E offset=$((2048 * 512)),lazy_itable_init=1 -J size=16 "$@" "$file" $((psize / 2))k
}
common=(-U "$uuid" -L root)
mkimg good.raw 20G -t ext4 -O ^64bit,^metadata_csum "${common[@]}" -d root
mkimg fs64.raw 20G -t ext4 -O 64bit,^metadata_csum "${common[@]}" -d root
# inodes: ext3 (fine by itself) with all but 40 inodes used by filler files
n=$(mke2fs -n -F -t ext3 -N 4096 "$out/good.raw" 20G 2>/dev/null | sed -n 's/.* \([0-9]*\) inodes.*/\1/p' | head -1)
used=$(( 11 + $(find root -mindepth 1 | wc -l) ))
cp -a root root-inodes
mkdir -p root-inodes/var/spool/filler
(cd root-inodes/var/spool/filler && seq 1 $(( n - used - 40 - 3 )) | xargs touch)
mkimg inodes.raw 20G -t ext3 -N 4096 "${common[@]}" -d root-inodes
rm -rf root-inodes
mkdir -p noos-root; echo "no operating system here" > noos-root/README
mkimg noos.raw 1G -t ext4 -O ^64bit -d noos-root
rm -rf noos-root

# LVM: needs the appliance (no host LVM games).
tar -C root --numeric-owner -cf root.tar .
rm -f lvm.raw; truncate -s 20G lvm.raw
gf_start
gf add-drive lvm.raw format:raw
gf run
gf part-init /dev/sda mbr
gf part-add /dev/sda p 2048 -2049
gf part-set-bootable /dev/sda 1 true
gf part-set-mbr-id /dev/sda 1 0x8e
gf pvcreate /dev/sda1
gf vgcreate vgcheck /dev/sda1
gf lvcreate root vgcheck 2048
gf mkfs ext4 /dev/vgcheck/root features:^64bit,^metadata_csum
gf set-uuid /dev/vgcheck/root "$uuid"
gf mount /dev/vgcheck/root /
gf tar-in root.tar /
gf umount-all
gf vg-activate false vgcheck
gf shutdown
gf_stop
rm -rf root root.tar
echo "$uuid" > uuid
echo "$stamp" > stamp
