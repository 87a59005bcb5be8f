#!/usr/bin/env bash
# configure + sysprep + disk on a fixture root made from kickstart/demo.ks's
# %packages, every kickstart directive exercised; the raw disk is inspected
# from the outside (MBR bytes, dumpe2fs/debugfs/e2fsck at the partition's
# offset, one guestfish launch), then — SLOW=1 — booted under qemu TCG until
# cloud-init reports "finished".
set -uo pipefail
. "$TOP/tests/disk/lib.sh"
disk_need_tools || exit 77
disk_driver || exit 1
root=$WORK/root raw=$WORK/disk.raw
t0=$(date +%s)
disk_root "$root" || { echo "cannot make the fixture root"; exit 1; }
echo "root ready in $(( $(date +%s) - t0 )) s"
kver=$(ls "$root/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n1)
[ -n "$kver" ] || { echo "no kernel in the fixture root"; exit 1; }

# build traces sysprep must remove
echo "host-name-$$" > "$root/etc/hostname"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || echo "nameserver 192.0.2.1" > "$root/etc/resolv.conf"
echo 0123456789abcdef0123456789abcdef > "$root/etc/machine-id"
mkdir -p "$root/etc/ssh" "$root/var/lib/rpm" "$root/var/lib/systemd" "$root/var/log/sub" "$root/tmp"
echo key > "$root/etc/ssh/ssh_host_rsa_key"; echo pub > "$root/etc/ssh/ssh_host_rsa_key.pub"
echo db > "$root/var/lib/rpm/__db.001"
head -c 512 /dev/urandom > "$root/var/lib/systemd/random-seed"
echo "build log line" > "$root/var/log/sub/build.log"; echo old > "$root/var/log/sub/build.log.1"
echo junk > "$root/tmp/junk"

# inputs
mkdir -p "$WORK/ov/etc/imgbuild" "$WORK/ov/usr/local/bin"
echo "overlay file" > "$WORK/ov/etc/imgbuild/overlay.txt"
printf '#!/bin/sh\necho hello\n' > "$WORK/ov/usr/local/bin/hello"; chmod 755 "$WORK/ov/usr/local/bin/hello"
ln -s /etc/imgbuild/overlay.txt "$WORK/ov/etc/imgbuild/link"
echo 'net.core.somaxconn = 4096' > "$WORK/50-imgbuild-test.conf"
cat > "$WORK/post1.sh" <<'S'
touch /root/post-chroot-marker
test -r /proc/self/status && echo proc-mounted > /root/post-chroot-proc
S
cat > "$WORK/post2.sh" <<'S'
touch "$IMGBUILD_ROOT/root/post-nochroot-marker"
echo "$INSTALL_ROOT|$ANA_INSTALL_PATH" > "$IMGBUILD_ROOT/root/post-nochroot-env"
S
printf 'import os\nopen("/root/post-python-marker", "w").write("py\\n")\n' > "$WORK/post3.py"
interp=/usr/bin/python3; [ -x "$root$interp" ] || interp=/bin/bash
[ "$interp" = /bin/bash ] && printf 'echo py > /root/post-python-marker\n' > "$WORK/post3.py"
key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIImgbuildTestKeyNotReal0000000000000000000 tester@imgbuild"
cat > "$WORK/spec" <<S
profile=demo
image_name=imgbuild_demo_20240101
release=20240101
image_id=image_name="imgbuild_demo_20240101"
disk_mib=3072
cmdline=net.ifnames=0 biosdevname=0 imgbuild.test=1
append=console=tty0 console=ttyS0,115200n8
timeout=1
drivers=virtio_blk virtio_net virtio_pci virtio_scsi
sysctl_file=$WORK/50-imgbuild-test.conf
tcp_tw_timeout=30
psi=1
kdump=0
rootpw=Test-Passw0rd
timezone=Asia/Shanghai
timezone_utc=1
lang=en_US.UTF-8
keyboard=us
selinux=disabled
firewall=0
services_enabled=ssh,networking
services_disabled=kdump
network_bootproto=dhcp
network_device=eth0
datasources=NoCloud
user=alice:AlicePw:sudo::
sshkey=alice $key
overlay=$WORK/ov
overlay_entry=/etc/imgbuild/overlay.txt alice sudo 0640
post=-|/bin/sh|$WORK/post1.sh
post=n|/bin/sh|$WORK/post2.sh
post=-|$interp|$WORK/post3.py
S
export SOURCE_DATE_EPOCH=1700000000
t0=$(date +%s)
"$WORK/driver" "$WORK/spec" "$root" "$raw" configure,sysprep,disk 2>&1 | tee "$WORK/driver.log"
rc=${PIPESTATUS[0]}
echo "stages took $(( $(date +%s) - t0 )) s"
[ "$rc" = 0 ] || { echo "driver failed (exit $rc)"; exit 1; }
check "no chroot mounts left in the root" bash -c "! grep -q ' $root/' /proc/mounts"

# ---- MBR and layout ------------------------------------------------------
mbr_facts "$raw" > "$WORK/mbr"; cat "$WORK/mbr"
check "MBR signature" has "$WORK/mbr" '^signature=55aa$'
check "one partition" has "$WORK/mbr" '^partitions=1$'
check "partition 1: bootable, Linux, at 1 MiB, to the end" has "$WORK/mbr" '^part1=status:80 type:83 start:2048 end_ok:1$'
check "grub boot.img in the MBR" has "$WORK/mbr" '^bootcode_grub=1$'
check "core.img from sector 1" has "$WORK/mbr" '^core_nonzero=1$'
check "raw disk is sparse" has "$WORK/mbr" '^sparse=1$'
check "disk is 3072 MiB" test "$(stat -c %s "$raw")" = $((3072 << 20))

# ---- file system from the host ---------------------------------------------
part="$raw?offset=1048576"
dumpe2fs -h "$part" > "$WORK/sb" 2>/dev/null
feat=$(sed -n 's/^Filesystem features: *//p' "$WORK/sb")
uuid=$(sed -n 's/^Filesystem UUID: *//p' "$WORK/sb")
echo "features: $feat"; echo "uuid: $uuid"
check "ext4 features are exactly CentOS 7's" test "$feat" = "has_journal ext_attr resize_inode dir_index filetype extent flex_bg sparse_super large_file huge_file uninit_bg dir_nlink extra_isize"
for f in 64bit metadata_csum metadata_csum_seed orphan_file ea_inode large_dir encrypt casefold inline_data project; do
        check "no ext4 feature $f" bash -c "! grep -qw -- '$f' <<< '$feat'"
done
check "fs label" has "$WORK/sb" '^Filesystem volume name: +root$'
check "e2fsck -fn clean" e2fsck -fn "$part"
debugfs -R "stat /etc/image-id" "$part" 2>/dev/null > "$WORK/stat-imageid"
check "SOURCE_DATE_EPOCH clamps mtimes" has "$WORK/stat-imageid" 'mtime: 0x6553f100'
debugfs -R "dump /boot/initrd.img-$kver $WORK/initrd" "$part" 2>/dev/null
lsinitramfs "$WORK/initrd" > "$WORK/initrd.list" 2>/dev/null
for m in virtio_blk virtio_net virtio_pci virtio_scsi ext4; do
        if grep -qw "kernel/.*/$m.ko" "$root/lib/modules/$kver/modules.builtin" 2>/dev/null; then
                ok "initramfs: $m is built into the kernel"
        else
                check "initramfs holds $m" has "$WORK/initrd.list" "/$m\.ko"
        fi
done

# the same plan gives the same identifiers
"$WORK/driver" "$WORK/spec" "$root" "$WORK/disk2.raw" disk > "$WORK/driver2.log" 2>&1
check "second disk stage succeeds" test -f "$WORK/disk2.raw"
check "fs UUID is deterministic" test "$(dumpe2fs -h "$WORK/disk2.raw?offset=1048576" 2>/dev/null | sed -n 's/^Filesystem UUID: *//p')" = "$uuid"
check "MBR disk id is deterministic" test "$(mbr_facts "$WORK/disk2.raw" | grep disk_id)" = "$(grep disk_id "$WORK/mbr")"
rm -f "$WORK/disk2.raw"

# ---- one libguestfs look from the outside ---------------------------------
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
t0=$(date +%s)
guestfish --ro -a "$raw" -i > "$WORK/gf" 2>&1 <<GF
echo ==fstab
cat /etc/fstab
echo ==grub.cfg
cat /boot/grub/grub.cfg
echo ==default-grub
cat /etc/default/grub
echo ==grubenv-size
filesize /boot/grub/grubenv
echo ==grub-normal-mod
is-file /boot/grub/i386-pc/normal.mod
echo ==machine-id-size
filesize /etc/machine-id
echo ==ssh
ls /etc/ssh
echo ==hostname
cat /etc/hostname
echo ==resolv-size
filesize /etc/resolv.conf
echo ==log-size
filesize /var/log/sub/build.log
echo ==log-rotated
exists /var/log/sub/build.log.1
echo ==rpm-db
glob exists /var/lib/rpm/__db.001
echo ==seed
exists /var/lib/systemd/random-seed
echo ==tmp
ls /tmp
echo ==shadow
cat /etc/shadow
echo ==passwd
cat /etc/passwd
echo ==group
cat /etc/group
echo ==localtime
readlink /etc/localtime
echo ==adjtime
cat /etc/adjtime
echo ==locale
cat /etc/locale.conf
echo ==vconsole
cat /etc/vconsole.conf
echo ==selinux
cat /etc/selinux/config
echo ==ifcfg
cat /etc/network/interfaces.d/eth0
echo ==units
find /etc/systemd/system
echo ==authorized_keys
cat /home/alice/.ssh/authorized_keys
echo ==ak-stat
lstatns /home/alice/.ssh/authorized_keys
echo ==overlay-stat
lstatns /etc/imgbuild/overlay.txt
echo ==hello-stat
lstatns /usr/local/bin/hello
echo ==overlay-link
readlink /etc/imgbuild/link
echo ==markers
ls /root
echo ==nochroot-env
cat /root/post-nochroot-env
echo ==cloud
cat /etc/cloud/cloud.cfg.d/99_imgbuild_datasource.cfg
echo ==image-id
cat /etc/image-id
echo ==sysctl
cat /etc/sysctl.d/50-imgbuild-test.conf
cat /etc/sysctl.d/90-imgbuild-tcp-tw-timeout.conf
echo ==initramfs-modules
cat /etc/initramfs-tools/modules
echo ==end
GF
echo "guestfish: $(( $(date +%s) - t0 )) s"
sec() { awk -v s="==$1" '$0 == s {p=1; next} /^==/ {p=0} p' "$WORK/gf"; }
field() { sec "$1" | sed -n "s/^$2: //p"; }
check "guestfish ran" has "$WORK/gf" '^==end$'
sec fstab > "$WORK/fstab"; sec grub.cfg > "$WORK/grubcfg"; sec default-grub > "$WORK/defgrub"
check "fstab mounts / by UUID" has "$WORK/fstab" "^UUID=$uuid +/ +ext4 +defaults +1 +1$"
check "fstab has no device names" hasnt "$WORK/fstab" '^/dev/'
check "grub.cfg: kernel by UUID with the command line" has "$WORK/grubcfg" \
        "linux +/boot/vmlinuz-$kver root=UUID=$uuid ro net.ifnames=0 biosdevname=0 imgbuild.test=1 console=tty0 console=ttyS0,115200n8 psi=1 psi_v1=1$"
check "grub.cfg: console tokens once" test "$(grep -o 'console=ttyS0,115200n8' "$WORK/grubcfg" | wc -l)" = 1
check "grub.cfg: no crashkernel with kdump off" hasnt "$WORK/grubcfg" crashkernel
check "grub.cfg: initrd" has "$WORK/grubcfg" "initrd +/boot/initrd.img-$kver$"
check "grub.cfg: search by UUID" has "$WORK/grubcfg" "search --no-floppy --fs-uuid --set=root +$uuid"
check "grub.cfg: timeout 1" has "$WORK/grubcfg" '^  set timeout=1$'
check "grub.cfg: serial terminal" has "$WORK/grubcfg" '^terminal_output console serial$'
check "grub.cfg: newest kernel first" test "$(grep -m1 -o 'vmlinuz-[^ ]*' "$WORK/grubcfg")" = "vmlinuz-$kver"
check "/etc/default/grub command line" has "$WORK/defgrub" '^GRUB_CMDLINE_LINUX="net.ifnames=0 biosdevname=0 imgbuild.test=1 console=tty0 console=ttyS0,115200n8 psi=1 psi_v1=1"$'
check "/etc/default/grub timeout" has "$WORK/defgrub" '^GRUB_TIMEOUT=1$'
check "grubenv is 1024 bytes" test "$(sec grubenv-size)" = 1024
check "grub modules next to grub.cfg (core.img loads normal.mod from there)" test "$(sec grub-normal-mod)" = true
check "machine-id empty" test "$(sec machine-id-size)" = 0
sec ssh | grep -q ssh_host_ && fail "ssh host keys left: $(sec ssh | tr '\n' ' ')" || ok "no ssh host keys"
check "hostname is not the build host's" test "$(sec hostname)" = localhost.localdomain
check "resolv.conf emptied" test "$(sec resolv-size)" = 0
check "logs emptied" test "$(sec log-size)" = 0
check "rotated logs removed" test "$(sec log-rotated)" = false
check "no rpm __db files" test "$(sec rpm-db)" = false
check "no random seed" test "$(sec seed)" = false
check "/tmp empty" test -z "$(sec tmp)"
sec shadow > "$WORK/shadow"
roothash=$(awk -F: '$1 == "root" {print $2}' "$WORK/shadow")
check "rootpw hashed (sha512)" python3 -c "import crypt,sys; h=sys.argv[1]; sys.exit(not (h.startswith('\$6\$') and crypt.crypt('Test-Passw0rd', h) == h))" "$roothash"
alicehash=$(awk -F: '$1 == "alice" {print $2}' "$WORK/shadow")
check "user password hashed" python3 -c "import crypt,sys; h=sys.argv[1]; sys.exit(crypt.crypt('AlicePw', h) != h)" "$alicehash"
alice_uid=$(sec passwd | awk -F: '$1 == "alice" {print $3}')
sudo_gid=$(sec group | awk -F: '$1 == "sudo" {print $3}')
check "user alice exists" test -n "$alice_uid"
check "alice in group sudo" bash -c "grep -qE '^sudo:[^:]*:[0-9]+:(.*,)?alice(,|$)' <<< \"\$1\"" _ "$(sec group)"
check "timezone" test "$(sec localtime)" = ../usr/share/zoneinfo/Asia/Shanghai
check "hardware clock UTC" bash -c "grep -qx UTC <<< \"\$1\"" _ "$(sec adjtime)"
check "lang" test "$(sec locale)" = 'LANG="en_US.UTF-8"'
check "keyboard" test "$(sec vconsole)" = 'KEYMAP="us"'
check "selinux disabled" bash -c "grep -qx SELINUX=disabled <<< \"\$1\"" _ "$(sec selinux)"
check "network: dhcp on eth0" bash -c "grep -qx 'iface eth0 inet dhcp' <<< \"\$1\"" _ "$(sec ifcfg)"
sec units > "$WORK/units"
check "service ssh enabled" has "$WORK/units" 'multi-user.target.wants/ssh.service$'
check "service networking enabled" has "$WORK/units" 'wants/networking.service$'
check "cloud-init services enabled" has "$WORK/units" 'wants/cloud-final.service$'
check "ssh key installed" test "$(sec authorized_keys)" = "$key"
check "authorized_keys mode 0600, owner alice" test "$(field ak-stat st_mode):$(field ak-stat st_uid)" = "$((0100600)):$alice_uid"
check "overlay file owner alice:sudo mode 0640" test "$(field overlay-stat st_uid):$(field overlay-stat st_gid):$(field overlay-stat st_mode)" = "$alice_uid:$sudo_gid:$((0100640))"
check "overlay file not in manifest: root, mode from the tree" test "$(field hello-stat st_uid):$(field hello-stat st_gid):$(field hello-stat st_mode)" = "0:0:$((0100755))"
check "overlay symlink kept" test "$(sec overlay-link)" = /etc/imgbuild/overlay.txt
sec markers > "$WORK/markers"
check "%post in chroot ran" has "$WORK/markers" '^post-chroot-marker$'
check "%post in chroot had /proc" has "$WORK/markers" '^post-chroot-proc$'
check "%post --nochroot ran" has "$WORK/markers" '^post-nochroot-marker$'
check "%post with another interpreter ran" has "$WORK/markers" '^post-python-marker$'
check "%post --nochroot env" test "$(sec nochroot-env)" = "$root|$root"
check "%post scripts removed from the image" bash -c "! ls '$root/tmp' | grep -q imgbuild-post"
check "cloud-init datasource" bash -c "grep -qx 'datasource_list: \[ NoCloud \]' <<< \"\$1\"" _ "$(sec cloud)"
check "image-id" test "$(sec image-id)" = 'image_name="imgbuild_demo_20240101"'
check "sysctl.d copied" bash -c "grep -qx 'net.core.somaxconn = 4096' <<< \"\$1\" && grep -qx 'net.ipv4.tcp_tw_timeout = 30' <<< \"\$1\"" _ "$(sec sysctl)"
check "initramfs-tools modules list" bash -c "grep -qx virtio_scsi <<< \"\$1\"" _ "$(sec initramfs-modules)"

# ---- boot (slow) -------------------------------------------------------------
# The full demo image (same configure/sysprep/disk code) is booted by
# 60-boot-test; this disk's own boot runs on request (DISK_BOOT=1).
if [ "${SLOW:-1}" = 1 ] && [ "${DISK_BOOT:-0}" = 1 ]; then
        "$TOP/tests/disk/boot.sh" "$raw" "$WORK/boot" && ok "boots to cloud-init finished" || fail "boot under qemu (log $WORK/boot/serial.log)"
else
        echo "boot skipped (set DISK_BOOT=1 and SLOW=1)"
fi
[ -n "${DEMO_RAW_OUT:-}" ] && [ "$nfail" = 0 ] && cp --sparse=always "$raw" "$DEMO_RAW_OUT.tmp" && mv "$DEMO_RAW_OUT.tmp" "$DEMO_RAW_OUT"
finish
