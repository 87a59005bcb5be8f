#!/usr/bin/env bash
# bench/peer.sh OUTDIR DNF_CACHEDIR [DATADIR] — the pipeline a user would run
# without imgbuild, on the fixture and the package set of kickstart/demo.ks:
#   dnf --installroot (private dnf.conf, the fixture repos, gpgcheck on,
#   keepcache so DNF_CACHEDIR makes the next run warm) → the same
#   configuration imgbuild applies (overlay, kernel-config sysctl.d and
#   initramfs drivers, fstab, services, grub.cfg) → update-initramfs in the
#   root → virt-make-fs (ext4, MBR, 20 GiB) → grub (grub-mkimage from the
#   image's i386-pc modules, boot.img + core.img written into the disk, as
#   imgbuild does) → qemu-img convert to compressed qcow2 and to VHD.
# Prints "==> STAGE" before each stage (bench/measure.py times them) and
# leaves OUTDIR/peer.qcow2 and OUTDIR/peer.vhd.  DATADIR (default: the repo)
# holds kickstart/, overlays/, kernel-config/ like imgbuild's --datadir.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1 cache=$2 datadir=${3:-$top}
fx=${FIXTURE:-/var/cache/imgbuild/fixture/current}
size=${PEER_DISK_SIZE:-20G}
[ -d "$fx/repos/os" ] || { echo "peer: no fixture at $fx" >&2; exit 77; }
[ -e /dev/kvm ] || export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
mkdir -p "$out" "$cache"
w=$(mktemp -d "${TMPDIR:-/var/tmp}/imgbuild-peer.XXXXXX")
trap 'echo "==> cleanup"; rm -rf "$w"' EXIT
root=$w/root

echo "==> dnf"
mkdir -p "$w/repos.d" "$root" "$w/log"
sed "s|/var/cache/imgbuild/fixture/current|$fx|g" "$datadir/repos/fixture.repo" > "$w/repos.d/fixture.repo"
cat > "$w/dnf.conf" <<EOF
[main]
cachedir=$cache
keepcache=1
reposdir=$w/repos.d
gpgcheck=1
install_weak_deps=True
EOF
pkgs=()
while read -r word _; do
        case "$word" in ''|'#'*|-*|%*) ;; *) pkgs+=("$word") ;; esac
done < <(sed -n '/^%packages/,/^%end/p' "$datadir/kickstart/demo.ks" | sed '1d;$d')
dnf -y -q -c "$w/dnf.conf" --installroot="$root" --releasever=7 --forcearch=x86_64 \
        --setopt=logdir="$w/log" install "${pkgs[@]}"
echo "peer: $(rpm --root "$root" --dbpath /root/.rpmdb -qa 2>/dev/null | wc -l) packages installed"

echo "==> configure"
kver=$(ls "$root/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n1)
[ -n "$kver" ] || { echo "peer: no kernel installed" >&2; exit 1; }
cp -a "$datadir/overlays/demo/." "$root/"
mkdir -p "$root/etc/sysctl.d"
cp "$datadir"/kernel-config/demo/sysctl.d/*.conf "$root/etc/sysctl.d/"
echo "LABEL=root / ext4 defaults 0 1" > "$root/etc/fstab"
: > "$root/etc/machine-id"; rm -f "$root/etc/hostname"
ln -sf /usr/share/zoneinfo/UTC "$root/etc/localtime"
systemctl --root="$root" --quiet enable ssh cloud-init-local cloud-init cloud-config cloud-final networking 2>/dev/null || true
mkdir -p "$root/etc/initramfs-tools/conf.d"
{ grep -v '^#' "$datadir/kernel-config/demo/initramfs-drivers" | grep .; echo ext4; } > "$root/etc/initramfs-tools/modules"
echo MODULES=list > "$root/etc/initramfs-tools/conf.d/90-peer.conf"
cmdline=$(grep -v '^#' "$datadir/kernel-config/demo/cmdline" | tr '\n' ' ')
mkdir -p "$root/boot/grub"
cat > "$root/boot/grub/grub.cfg" <<EOF
set timeout=1
menuentry 'demo' {
        linux /boot/vmlinuz-$kver root=LABEL=root ro $cmdline
        initrd /boot/initrd.img-$kver
}
EOF

echo "==> initramfs"
# the image's own tool, chrooted, with /dev /proc /sys (private mounts)
unshare --mount --propagation private bash -c '
        set -e
        mount --rbind /dev "$1/dev"; mount -t proc proc "$1/proc"; mount -t sysfs sys "$1/sys"
        chroot "$1" update-initramfs -c -k "$2"' _ "$root" "$kver" > "$w/initramfs.log" 2>&1 ||
        { tail "$w/initramfs.log" >&2; exit 1; }
rm -rf "${root:?}/root/.rpmdb.tmp" "$root/var/cache/dnf"

echo "==> virt-make-fs"
virt-make-fs --partition=mbr --type=ext4 --label=root --size="$size" "$root" "$w/disk.raw"

echo "==> grub"
modules=$root/usr/lib/grub/i386-pc
grub-mkimage -d "$modules" -O i386-pc -o "$w/core.img" -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2
start=$(sfdisk -d "$w/disk.raw" | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | head -n1)
sectors=$(( ($(stat -c %s "$w/core.img") + 511) / 512 ))
[ "$sectors" -lt "$start" ] || { echo "peer: core.img ($sectors sectors) does not fit before the partition at $start" >&2; exit 1; }
dd if="$modules/boot.img" of="$w/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$w/core.img" of="$w/disk.raw" bs=512 seek=1 conv=notrunc status=none

echo "==> qcow2"
qemu-img convert -c -O qcow2 "$w/disk.raw" "$w/peer.qcow2"
echo "==> vhd"
qemu-img convert -O vpc -o subformat=dynamic,force_size=on "$w/disk.raw" "$w/peer.vhd"
mv "$w/peer.qcow2" "$w/peer.vhd" "$out/"
echo "peer: $out/peer.qcow2 $(du -m "$out/peer.qcow2" | cut -f1) MiB, $out/peer.vhd $(du -m "$out/peer.vhd" | cut -f1) MiB"
