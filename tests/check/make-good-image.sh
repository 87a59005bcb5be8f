#!/bin/bash
# make-good-image.sh OUTDIR — synthetic images for `imgbuild check` tests, all
# made in one guestfish appliance:
#   good.raw    20 GiB, MBR, one ext4 (^64bit) root partition ending 1 MiB
#               before the end, EL7-like content (make-root.sh): passes
#   fs64.raw    same content, ext4 WITH 64bit             → filesystem FAILED
#   lvm.raw     same content, root on LVM                 → lvm FAILED
#   inodes.raw  same content, ext3 with its inodes used up → inode_usage FAILED
#   noos.raw    1 GiB, a filesystem but no OS             → bad image
#   novirtio.img  an initramfs without virtio (for the driver break)
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
tar -C root --numeric-owner -cf root.tar .
rm -f good.raw fs64.raw lvm.raw inodes.raw noos.raw
truncate -s 20G good.raw fs64.raw lvm.raw inodes.raw
truncate -s 1G noos.raw
gf_start
for d in good fs64 lvm inodes noos; do gf add-drive $d.raw format:raw; done
gf run
features='^metadata_csum,^orphan_file'
part() {  # part DEV — MBR, one bootable partition, 1 MiB left free at the end
        gf part-init "$1" mbr
        gf part-add "$1" p 2048 -2049
        gf part-set-bootable "$1" 1 true
}
fill() {  # fill DEV — the root tree
        gf set-uuid "$1" "$uuid"
        gf mount "$1" /
        gf tar-in root.tar /
}
part /dev/sda; gf mkfs ext4 /dev/sda1 features:^64bit,$features; fill /dev/sda1; gf umount-all
part /dev/sdb; gf mkfs ext4 /dev/sdb1 features:64bit,$features; fill /dev/sdb1; gf umount-all
part /dev/sdc; gf part-set-mbr-id /dev/sdc 1 0x8e
gf pvcreate /dev/sdc1; gf vgcreate vgcheck /dev/sdc1; gf lvcreate-free root vgcheck 100
gf mkfs ext4 /dev/vgcheck/root features:^64bit,$features; fill /dev/vgcheck/root; gf umount-all
gf vg-activate false vgcheck
part /dev/sdd; gf mke2fs /dev/sdd1 fstype:ext3 numberofinodes:4096; fill /dev/sdd1
ffree=$(gf statvfs / | awk '$1 == "ffree:" { print $2 }')
mkdir -p many && (cd many && seq 1 $((ffree - 40)) | xargs touch)
tar -C many --numeric-owner -cf many.tar . && rm -rf many
gf mkdir /var/spool; gf mkdir /var/spool/many; gf tar-in many.tar /var/spool/many; rm -f many.tar
gf umount-all
part /dev/sde; gf mkfs ext4 /dev/sde1; gf mount /dev/sde1 /; gf write /README "no operating system here"; gf umount-all
gf shutdown
gf_stop
rm -rf root root.tar
echo "$uuid" > uuid
echo "$stamp" > stamp
