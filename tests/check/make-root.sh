#!/bin/bash
# make-root.sh DIR UUID — a synthetic EL7-like (Alibaba Cloud Linux 2) root
# tree with just the files `imgbuild check` reads, plus, next to DIR,
# initramfs variants for the "driver" break (novirtio.img).
# Not bootable: kernel and binaries are stand-ins.  Run as root (ownership).
set -euo pipefail
dir=$1 uuid=$2
KVER=4.19.91-27.al7.x86_64      # default entry (saved_entry)
OLDVER=4.19.24-9.al7.x86_64     # first menu entry, initramfs WITHOUT virtio
TITLE="Alibaba Cloud Linux ($KVER) 2.1903 LTS (Hunting Beagle)"
OLDTITLE="Alibaba Cloud Linux ($OLDVER) 2.1903 LTS (Hunting Beagle)"
rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
w() { mkdir -p "$(dirname "$1")"; cat > "$1"; }          # w PATH <<content
mkdir -p usr/bin usr/sbin usr/lib usr/lib64 etc boot dev proc sys run tmp var/tmp root home mnt opt srv
chmod 1777 tmp var/tmp; chmod 550 root
ln -s usr/bin bin; ln -s usr/sbin sbin; ln -s usr/lib lib; ln -s usr/lib64 lib64

w etc/os-release <<'E'
NAME="Alibaba Cloud Linux (Aliyun Linux)"
VERSION="2.1903 LTS (Hunting Beagle)"
ID="alinux"
ID_LIKE="rhel fedora centos"
VERSION_ID="2.1903"
PRETTY_NAME="Alibaba Cloud Linux (Aliyun Linux) 2.1903 LTS (Hunting Beagle)"
E
echo "Alibaba Cloud Linux (Aliyun Linux) release 2.1903 LTS (Hunting Beagle)" > etc/redhat-release
printf '127.0.0.1 localhost\n' > etc/hosts
printf 'UUID=%s / ext4 defaults 1 1\n' "$uuid" > etc/fstab
printf 'SELINUX=disabled\nSELINUXTYPE=targeted\n' | w etc/selinux/config
printf 'root:x:0:0:root:/root:/bin/bash\nsshd:x:74:74::/var/empty/sshd:/sbin/nologin\n' > etc/passwd
printf 'root:*LOCK*:18000:0:99999:7:::\nsshd:!!:18000::::::\n' > etc/shadow; chmod 000 etc/shadow
printf 'root:x:0:\nsshd:x:74:\n' > etc/group
: > etc/machine-id; chmod 444 etc/machine-id
printf 'PasswordAuthentication yes\nUseDNS no\n#PermitRootLogin yes\n' | w etc/ssh/sshd_config
w etc/cloud/cloud.cfg <<'E'
users:
 - default
disable_root: false
datasource_list: [ AliYun, NoCloud, None ]   # both profiles pass
cloud_init_modules:
 - growpart
 - resizefs
E
printf 'datasource:\n  AliYun:\n    timeout: 5\n' | w etc/cloud/cloud.cfg.d/10-aliyun.cfg
printf 'NETWORKING=yes\n' | w etc/sysconfig/network
printf 'DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\n' | w etc/sysconfig/network-scripts/ifcfg-eth0
printf 'DEVICE=lo\nIPADDR=127.0.0.1\nONBOOT=yes\n' | w etc/sysconfig/network-scripts/ifcfg-lo
printf '#!/bin/sh\n# chkconfig: 2345 10 90\n' | w etc/rc.d/init.d/network; chmod 755 etc/rc.d/init.d/network
for i in 0 1 2 3 4 5 6; do mkdir -p etc/rc.d/rc$i.d; ln -s rc.d/rc$i.d etc/rc$i.d; done
for i in 2 3 4 5; do ln -s ../init.d/network etc/rc.d/rc$i.d/S10network; done
for i in 0 1 6; do ln -s ../init.d/network etc/rc.d/rc$i.d/K90network; done
ln -s rc.d/init.d etc/init.d

sd=usr/lib/systemd/system
unit() { printf '[Unit]\nDescription=%s\n[Install]\nWantedBy=%s\n' "$1" "${2:-multi-user.target}" | w "$sd/$1"; }
for u in sshd.service cloud-init-local.service cloud-init.service cloud-config.service cloud-final.service \
         systemd-logind.service crond.service; do unit $u; done
printf '[Unit]\nDescription=Multi-User System\n' | w $sd/multi-user.target
mkdir -p etc/systemd/system/multi-user.target.wants
for u in sshd.service cloud-init-local.service cloud-init.service cloud-config.service cloud-final.service crond.service; do
        ln -s /$sd/$u etc/systemd/system/multi-user.target.wants/$u
done
ln -s /$sd/multi-user.target etc/systemd/system/default.target
mkdir -p usr/lib/systemd; printf '#!/bin/sh\n' > usr/lib/systemd/systemd; chmod 755 usr/lib/systemd/systemd
ln -s ../lib/systemd/systemd usr/sbin/init
for b in usr/bin/bash usr/bin/passwd usr/bin/cloud-init usr/bin/growpart usr/sbin/sshd usr/bin/rpm; do
        printf '#!/bin/sh\necho stand-in\n' > $b; chmod 755 $b
done
chmod 4755 usr/bin/passwd; ln -s bash usr/bin/sh

# rpm database: Berkeley DB hash magic (0x00061561, little endian) at byte 12.
mkdir -p var/lib/rpm
for db in Packages Name Basenames Providename Requirename Dirnames Group Installtid Sigmd5 Sha1header; do
        { head -c 12 /dev/zero; printf '\x61\x15\x06\x00'; head -c 8176 /dev/zero; } > var/lib/rpm/$db
done

# kernels, modules, initramfs (early microcode cpio + zstd cpio for the
# default; xz without virtio for the old one; gzip without virtio = break)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mods() {  # mods ROOT VER WITH_VIRTIO
        local m=$1/lib/modules/$2
        mkdir -p "$m/kernel/drivers/block" "$m/kernel/drivers/net" "$m/kernel/drivers/virtio" "$m/kernel/fs/ext4"
        printf 'kernel/fs/ext4/ext4.ko\nkernel/drivers/block/loop.ko\n' > "$m/modules.builtin"
        echo stand-in > "$m/kernel/drivers/block/nbd.ko.xz"
        if [ "$3" = yes ]; then
                for k in block/virtio_blk net/virtio_net virtio/virtio_pci virtio/virtio_ring virtio/virtio; do
                        echo stand-in > "$m/kernel/drivers/$k.ko.xz"
                done
        fi
        (cd "$m" && find kernel -name '*.ko*' | sed 's/$/:/') > "$m/modules.dep"
}
for v in $KVER $OLDVER; do
        echo stand-in > boot/vmlinuz-$v
        printf 'CONFIG_VIRTIO_BLK=m\nCONFIG_VIRTIO_NET=m\nCONFIG_VIRTIO_PCI=m\nCONFIG_EXT4_FS=y\n' > boot/config-$v
        mods . $v yes
done
mkcpio() { (cd "$1" && find . | LC_ALL=C sort | cpio --quiet -o -H newc); }
mkdir -p $tmp/early/kernel/x86/microcode $tmp/main/bin $tmp/old/bin $tmp/novirtio/bin
echo microcode > $tmp/early/kernel/x86/microcode/GenuineIntel.bin
for r in main old novirtio; do printf '#!/bin/sh\n' > $tmp/$r/init; echo sh > $tmp/$r/bin/sh; done
mods $tmp/main $KVER yes; mods $tmp/old $OLDVER no; mods $tmp/novirtio $KVER no
{ mkcpio $tmp/early; mkcpio $tmp/main | zstd -q -c; } > boot/initramfs-$KVER.img
mkcpio $tmp/old | xz -c --check=crc32 > boot/initramfs-$OLDVER.img
mkcpio $tmp/novirtio | gzip -c > "$dir.novirtio.img"

mkdir -p boot/grub2
entry() {
        cat <<E
menuentry '$1' --class centos --class gnu-linux --class gnu --class os --unrestricted \$menuentry_id_option 'gnulinux-$2-advanced-$uuid' {
	load_video
	set gfxpayload=keep
	insmod gzio
	insmod part_msdos
	insmod ext2
	set root='hd0,msdos1'
	if [ x\$feature_platform_search_hint = xy ]; then
	  search --no-floppy --fs-uuid --set=root --hint='hd0,msdos1'  $uuid
	else
	  search --no-floppy --fs-uuid --set=root $uuid
	fi
	linux16 /boot/vmlinuz-$2 root=UUID=$uuid ro crashkernel=auto console=tty0 console=ttyS0,115200n8 net.ifnames=0
	initrd16 /boot/initramfs-$2.img
}
E
}
{
cat <<'E'
#
# DO NOT EDIT THIS FILE
#
### BEGIN /etc/grub.d/00_header ###
set pager=1

if [ -s $prefix/grubenv ]; then
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="${saved_entry}"
fi
terminal_output console
set timeout=1
### END /etc/grub.d/00_header ###
### BEGIN /etc/grub.d/10_linux ###
E
entry "$OLDTITLE" $OLDVER
entry "$TITLE" $KVER
echo '### END /etc/grub.d/10_linux ###'
} > boot/grub2/grub.cfg
{ printf '# GRUB Environment Block\nsaved_entry=%s\n' "$TITLE"; head -c 1024 /dev/zero | tr '\0' '#'; } | head -c 1024 > boot/grub2/grubenv
ln -s ../boot/grub2/grub.cfg etc/grub2.cfg
