#!/usr/bin/env bash
# part / --fstype=xfs: the root through libguestfs into an xfs made with
# the feature flags CentOS 7's xfsprogs and the 4.19 Cloud Kernel read;
# fstab, grub.cfg and the initramfs follow.  Slow (an appliance launch and
# tar_in under TCG): SLOW=1 only.
set -uo pipefail
. "$TOP/tests/disk/lib.sh"
[ "${SLOW:-1}" = 1 ] || { echo "skip: slow (SLOW=0)"; exit 77; }
disk_need_tools || exit 77
command -v mkfs.xfs >/dev/null || { echo "skip: xfsprogs not installed"; exit 77; }
ls /usr/lib/*/guestfs/supermin.d/ 2>/dev/null | grep -q xfs ||
        { echo "skip: libguestfs-xfs not installed"; exit 77; }
disk_driver || exit 1
root=$WORK/root raw=$WORK/disk.raw
disk_root "$root" || { echo "cannot make the fixture root"; exit 1; }
kver=$(ls "$root/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n1)
printf 'profile=demo\ndisk_mib=3072\nfstype=xfs\nlabel=rootxfs\nselinux=disabled\nfirewall=0\ntimeout=1
drivers=virtio_blk virtio_pci virtio_net virtio_scsi\ncmdline=net.ifnames=0\ndatasources=NoCloud\nservices_enabled=ssh\n' > "$WORK/spec"
t0=$(date +%s)
"$WORK/driver" "$WORK/spec" "$root" "$raw" configure,sysprep,disk 2>&1 | tee "$WORK/driver.log"
rc=${PIPESTATUS[0]}
echo "stages took $(( $(date +%s) - t0 )) s"
[ "$rc" = 0 ] || { echo "driver failed (exit $rc)"; exit 1; }
mbr_facts "$raw" > "$WORK/mbr"
check "one bootable partition at 1 MiB to the end" has "$WORK/mbr" '^part1=status:80 type:83 start:2048 end_ok:1$'
check "raw disk is sparse" has "$WORK/mbr" '^sparse=1$'
check "no temp files left" test -z "$(ls "$WORK" | grep -E 'disk\.raw\.tmp|rootfs\.(xfs|tar)')"
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
guestfish --ro -a "$raw" <<GF > "$WORK/gf" 2>&1
run
echo ==fs
vfs-type /dev/sda1
echo ==label
vfs-label /dev/sda1
echo ==uuid
vfs-uuid /dev/sda1
echo ==info
xfs-info /dev/sda1
mount-ro /dev/sda1 /
echo ==fstab
cat /etc/fstab
echo ==grub
cat /boot/grub/grub.cfg
echo ==modules
cat /etc/initramfs-tools/modules
echo ==os
cat /etc/os-release
echo ==end
GF
sec() { awk -v s="==$1" '$0 == s {p=1; next} /^==/ {p=0} p' "$WORK/gf"; }
uuid=$(sec uuid)
check "xfs" test "$(sec fs)" = xfs
check "label" test "$(sec label)" = rootxfs
check "tree copied" bash -c "grep -q '^ID=' <<< \"\$1\"" _ "$(sec os)"
# feature bits from the superblock itself (xfs_db on the partition's head)
dd if="$raw" of="$WORK/head.img" bs=1M skip=1 count=64 status=none
xfs_db -r -c version "$WORK/head.img" 2>/dev/null | sed -n 's/^versionnum \[[^]]*\] = //p' | tr ',' '\n' > "$WORK/xfsver"
echo "xfs features: $(tr '\n' ' ' < "$WORK/xfsver")"
for f in V5 CRC FTYPE FINOBT; do check "xfs has $f" grep -qx "$f" "$WORK/xfsver"; done
for f in REFLINK RMAPBT BIGTIME INOBTCNT SPARSE_INODES NREXT64 NEEDSREPAIR; do
        check "xfs without $f" bash -c "! grep -qx '$f' '$WORK/xfsver'"
done
check "fstab: / xfs by UUID, no fsck pass" bash -c "grep -qE '^UUID=$uuid +/ +xfs +defaults +0 +0$' <<< \"\$1\"" _ "$(sec fstab)"
check "grub.cfg loads the xfs module" bash -c "grep -q 'insmod xfs' <<< \"\$1\"" _ "$(sec grub)"
check "grub.cfg: root by UUID" bash -c "grep -q 'root=UUID=$uuid ro' <<< \"\$1\"" _ "$(sec grub)"
check "initramfs modules: xfs" bash -c "grep -qx xfs <<< \"\$1\"" _ "$(sec modules)"
lsinitramfs "$root/boot/initrd.img-$kver" > "$WORK/initrd.list"
check "initramfs holds xfs.ko" has "$WORK/initrd.list" '/xfs\.ko'
finish
