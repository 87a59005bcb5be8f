#!/usr/bin/env bash
# Bad input for configure/disk: a failing %post --erroronfail, a root that
# does not fit the disk, an overlay file owned by a user the image lacks,
# a missing service unit → a clear error, the right exit code, and no disk
# (nor a temp file) at the output path.
set -uo pipefail
. "$TOP/tests/disk/lib.sh"
disk_need_tools || exit 77
disk_driver || exit 1
root=$WORK/root
disk_root "$root" || { echo "cannot make the fixture root"; exit 1; }
# no kernel: the initramfs step is skipped, so %post runs at once
rm -f "$root"/boot/vmlinuz-* "$root"/boot/initrd.img-*
mkdir -p "$WORK/out" "$WORK/ov/etc"
echo x > "$WORK/ov/etc/owned-by-ghost"
printf 'echo first-post-ran > /root/first-post\n' > "$WORK/ok.sh"
printf 'echo "about to fail: boom-4711"\nexit 3\n' > "$WORK/bad.sh"

# expect NAME EXIT REGEX SPEC STAGES: the driver fails with EXIT, stderr
# matches REGEX, and the output dir is empty afterwards
expect() {
        local name=$1 want=$2 re=$3 spec=$4 stages=$5 rc
        "$WORK/driver" "$spec" "$root" "$WORK/out/disk.raw" "$stages" > "$WORK/$name.log" 2>&1
        rc=$?
        sed 's/^/      /' "$WORK/$name.log" | tail -n 8
        check "$name: exit code $want (got $rc)" test "$rc" = "$want"
        check "$name: message" grep -qE -- "$re" "$WORK/$name.log"
        check "$name: nothing at the output path" test -z "$(ls -A "$WORK/out")"
}

base="profile=demo
disk_mib=3072
selinux=disabled
firewall=0"

printf '%s\npost=-|/bin/sh|%s\npost=e|/bin/sh|%s\n' "$base" "$WORK/ok.sh" "$WORK/bad.sh" > "$WORK/post.spec"
expect post-erroronfail 6 'post.*--erroronfail script failed \(exit 3\)' "$WORK/post.spec" configure,sysprep,disk
check "post-erroronfail: the log tail is in the message" grep -q 'about to fail: boom-4711' "$WORK/post-erroronfail.log"
check "post-erroronfail: the script before it ran" test -f "$root/root/first-post"
check "post-erroronfail: no mounts left" bash -c "! grep -q ' $root/' /proc/mounts"

# without --erroronfail a failing %post is only a warning
printf '%s\npost=-|/bin/sh|%s\n' "$base" "$WORK/bad.sh" > "$WORK/post-ok.spec"
"$WORK/driver" "$WORK/post-ok.spec" "$root" "$WORK/out/disk.raw" configure > "$WORK/post-warn.log" 2>&1
check "failing %post without --erroronfail: build goes on" test $? = 0
check "failing %post without --erroronfail: warned" grep -q 'continuing (no --erroronfail)' "$WORK/post-warn.log"

printf '%s\noverlay=%s\noverlay_entry=/etc/owned-by-ghost ghostuser root 0644\n' "$base" "$WORK/ov" > "$WORK/ov.spec"
expect overlay-owner 2 "owned-by-ghost is owned by user 'ghostuser', which the image does not have" "$WORK/ov.spec" configure,sysprep,disk
check "overlay-owner: nothing copied" test ! -e "$root/etc/owned-by-ghost"

printf '%s\noverlay=%s\noverlay_entry=/etc/owned-by-ghost root ghostgroup 0644\n' "$base" "$WORK/ov" > "$WORK/ovg.spec"
expect overlay-group 2 "group 'ghostgroup', which the image does not have" "$WORK/ovg.spec" configure

printf '%s\nservices_enabled=no-such-daemon\n' "$base" > "$WORK/svc.spec"
expect missing-service 6 'services --enabled=no-such-daemon: the image has no unit no-such-daemon.service' "$WORK/svc.spec" configure

printf 'profile=demo\ndisk_mib=256\n' > "$WORK/small.spec"
# an older disk at the path must not survive a failed build either
echo old > "$WORK/out/disk.raw"
expect too-small 6 'does not fit the disk: it needs about [0-9]+ MiB .* 256 MiB disk' "$WORK/small.spec" disk

printf 'profile=demo\ndisk_mib=3072\n' > "$WORK/nokernel.spec"
expect no-kernel 6 'no kernel in the image.s /boot' "$WORK/nokernel.spec" disk

# a mount left in the root (a stage's /proc) must not be copied into the image
mkdir -p "$root/mnt/leftover"
if mount -t tmpfs tmpfs "$root/mnt/leftover" 2>/dev/null; then
        expect mount-left 6 'mnt/leftover is still mounted inside the image root' "$WORK/nokernel.spec" disk
        umount "$root/mnt/leftover"
fi

printf 'profile=demo\ndisk_mib=3072\nfstype=btrfs\n' > "$WORK/fs.spec"
expect bad-fstype 6 'file system btrfs for / is not supported' "$WORK/fs.spec" disk
finish
