#!/bin/bash
# make-broken.sh GOOD NOVIRTIO OUTDIR — broken copies of a good image, one
# per compliance item, as qcow2 overlays (backing file = GOOD, so each costs
# a few MiB), all broken in ONE guestfish appliance.  The edits are generic:
# they work on the synthetic EL7-like image and on the Debian-based demo.
# Writes OUTDIR/cases.tsv: FILE <tab> ITEM <tab> EXPECTED-STATUS <tab> WHAT,
# or FILE <tab> ITEM <tab> SKIP <tab> WHY when the image cannot be broken
# that way (e.g. /lib is not a symlink).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
good=$(readlink -f "$1") novirtio=$(readlink -f "$2") out=$3
mkdir -p "$out"; cd "$out"
fmt=$(qemu-img info --output=json "$good" | python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])')
gsize=$(qemu-img info --output=json "$good" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')

# case NAME ITEM STATUS WHAT: registers an overlay; the break function is
# brk_NAME, run with $root mounted at /.
cases=() ; : > cases.tsv
case_add() { cases+=("$1"); printf '%s\t%s\t%s\t%s\n' "$out/broken-$1.qcow2" "$2" "$3" "$4" >> cases.tsv; }
skip() {  # skip NAME WHY — turn a registered case into a skip
        sed -i "s|^\($out/broken-$1.qcow2\t[^\t]*\)\t[^\t]*\t.*|\1\tSKIP\t$2|" cases.tsv
}
case_add driver driver FAILED "virtio removed from the initramfs and the kernel's built-in list"
case_add shadow shadow FAILED "chattr +i /etc/shadow"
case_add selinux selinux FAILED "SELINUX=enforcing"
case_add qemu_ga qemu-ga FAILED "qemu-ga installed"
case_add network network FAILED "NetworkManager enabled"
case_add ssh ssh FAILED "sshd disabled"
case_add firewall firewall FAILED "firewalld enabled"
case_add fstab device_id FAILED "/dev/vda1 in /etc/fstab"
case_add grub device_id FAILED "root=/dev/vda1 in grub.cfg"
case_add root root FAILED "no root in /etc/passwd"
case_add passwd passwd FAILED "passwd command removed"
case_add gpt partition_table FAILED "GPT label"
case_add lib lib FAILED "/lib -> /usr/lib (absolute)"
case_add disk_size disk_size FAILED "600 GiB virtual size"
case_add disk_usage disk_usage FAILED "root filesystem filled"
case_add root_partition root_partition FAILED "a partition after the root partition"
case_add cloud_init cloud_init FAILED "datasource_list without the profile's datasource"
case_add growpart growpart NOTOK "growpart removed (FAILED for aliyun2, WARNING for nocloud)"
case_add rpmdb rpmdb FAILED "rpm database removed"
case_add machine_id machine_id FAILED "machine-id set"
case_add ssh_host_keys ssh_host_keys FAILED "ssh host key left"

for c in "${cases[@]}"; do
        size=
        case $c in
        disk_size) size=600G ;;
        root_partition) size=$(( gsize + 64 * 1024 * 1024 )) ;;  # room for a partition after root
        gpt) size=$(( gsize + 1024 * 1024 )) ;;                  # room for the backup GPT
        esac
        rm -f "broken-$c.qcow2"
        qemu-img create -q -f qcow2 -b "$good" -F "$fmt" "broken-$c.qcow2" $size
done

tmp=$(mktemp -d); trap 'rm -rf "$tmp"; gf_stop' EXIT
edit() {  # edit GUESTFILE SED-SCRIPT
        gf download "$1" "$tmp/f"; sed -i "$2" "$tmp/f"; gf upload "$tmp/f" "$1"
}
brk_driver() {
        local f
        for f in $(gf ls /boot); do
                case $f in initramfs-*.img|initrd.img-*|initrd-*) gf upload "$novirtio" "/boot/$f" ;; esac
                case $f in config-*) edit "/boot/$f" 's/^\(CONFIG_VIRTIO_\(BLK\|NET\|PCI\)\)=y/\1=m/' ;; esac
        done
        for f in $(gf ls /lib/modules); do
                gf is-file "/lib/modules/$f/modules.builtin" | grep -q true &&
                        edit "/lib/modules/$f/modules.builtin" '/virtio_\(blk\|net\|pci\)\.ko/d'
        done
}
brk_shadow() { gf set-e2attrs /etc/shadow i; }
brk_selinux() { gf mkdir-p /etc/selinux; gf write /etc/selinux/config "SELINUX=enforcing
SELINUXTYPE=targeted
"; }
brk_qemu_ga() { gf write /usr/bin/qemu-ga "#!/bin/sh
"; gf chmod 0755 /usr/bin/qemu-ga; }
enable_unit() {  # enable_unit NAME — a unit file + its multi-user.target.wants link
        gf write /usr/lib/systemd/system/$1 "[Unit]
Description=$1
[Install]
WantedBy=multi-user.target
"
        gf mkdir-p /etc/systemd/system/multi-user.target.wants
        gf ln-sf /usr/lib/systemd/system/$1 /etc/systemd/system/multi-user.target.wants/$1
}
brk_network() { enable_unit NetworkManager.service; }
brk_firewall() { enable_unit firewalld.service; }
brk_ssh() {
        local d e
        for d in /etc/systemd/system /usr/lib/systemd/system; do
                for e in $(gf ls $d); do
                        case $e in *.wants|*.requires)
                                gf rm-f $d/$e/sshd.service; gf rm-f $d/$e/ssh.service ;;
                        esac
                done
        done
        gf rm-f /etc/systemd/system/sshd.service
        for d in /etc/rc.d/rc2.d /etc/rc.d/rc3.d /etc/rc.d/rc5.d /etc/rc2.d /etc/rc3.d /etc/rc5.d; do
                gf is-dir $d | grep -q true || continue
                for e in $(gf ls $d); do case $e in S??sshd|S??ssh) gf rm-f $d/$e ;; esac; done
        done
}
brk_fstab() { edit /etc/fstab 's|^[^#[:space:]]\+\([[:space:]]\+/[[:space:]]\)|/dev/vda1\1|'; }
brk_grub() {
        local c
        for c in /boot/grub2/grub.cfg /boot/grub/grub.cfg; do
                gf is-file $c | grep -q true && edit $c 's|root=UUID=[^[:space:]]*|root=/dev/vda1|g' && return
        done
}
brk_root() { edit /etc/passwd '/^root:/d'; }
brk_passwd() { gf rm-f /usr/bin/passwd; gf rm-f /bin/passwd; }
brk_lib() {
        gf is-symlink /lib | grep -q true || { skip lib "/lib is not a symlink in this image"; return; }
        gf rm /lib; gf ln-s /usr/lib /lib
}
brk_disk_usage() {
        local bavail bsize
        bavail=$(gf statvfs / | awk '$1 == "bavail:" { print $2 }')
        bsize=$(gf statvfs / | awk '$1 == "bsize:" { print $2 }')
        gf fallocate64 /zz-fill $(( bavail * bsize - 100 * 1024 * 1024 ))
}
brk_cloud_init() { gf mkdir-p /etc/cloud/cloud.cfg.d; gf write /etc/cloud/cloud.cfg.d/zz-imgbuild-check-broken.cfg "datasource_list: [ ConfigDrive, None ]
"; }
brk_growpart() { gf rm-f /usr/bin/growpart; gf rm-f /bin/growpart; gf rm-f /usr/sbin/growpart; }
brk_rpmdb() { gf rm-f /var/lib/rpm/Packages; gf rm-f /var/lib/rpm/rpmdb.sqlite; gf rm-f /usr/lib/sysimage/rpm/rpmdb.sqlite; }
brk_machine_id() { gf write /etc/machine-id "0123456789abcdef0123456789abcdef
"; }
brk_ssh_host_keys() { gf mkdir-p /etc/ssh; gf write /etc/ssh/ssh_host_ed25519_key "-----BEGIN OPENSSH PRIVATE KEY-----
AAAA
-----END OPENSSH PRIVATE KEY-----
"; }
# disk-level breaks: no mount
dev_gpt() {  # same partition bounds under a GPT label
        local dev=$1 start end last
        start=$(gf part-list $dev | awk '$1 == "part_start:" { print $2; exit }')
        end=$(gf part-list $dev | awk '$1 == "part_end:" { print $2; exit }')
        last=$(( $(gf blockdev-getsize64 $dev) / 512 - 34 ))
        if [ $(( end / 512 )) -gt $last ]; then skip gpt "the root partition reaches the last 33 sectors (no room for the GPT backup)"; return; fi
        gf part-init $dev gpt
        gf part-add $dev p $(( start / 512 )) $(( end / 512 ))
}
dev_root_partition() {
        local dev=$1 end
        end=$(gf part-list $dev | awk '$1 == "part_end:" { e = $2 } END { print e }')
        gf part-add $dev p $(( end / 512 + 1 )) -1
}

gf_start
for c in "${cases[@]}"; do gf add-drive "broken-$c.qcow2" format:qcow2; done
gf run
mapfile -t devs < <(gf list-devices)
# All overlays share GOOD's layout: find its root partition once (no
# inspect-os: ~30 s per disk under TCG).
rootnum=
for p in $(gf list-partitions); do
        case $p in "${devs[0]}"[0-9]*) ;; *) continue ;; esac
        gf mount-ro "$p" / 2>/dev/null || continue
        if gf is-file /etc/fstab | grep -q true; then rootnum=${p#"${devs[0]}"}; fi
        gf umount-all
        [ -n "$rootnum" ] && break
done
[ -n "$rootnum" ] || { echo "make-broken: no root filesystem found in $good" >&2; exit 1; }
i=0
for c in "${cases[@]}"; do
        dev=${devs[$i]}; i=$((i + 1))
        if declare -f "dev_$c" >/dev/null; then "dev_$c" "$dev"; continue; fi
        declare -f "brk_$c" >/dev/null || continue
        root=$dev$rootnum
        gf mount "$root" /
        "brk_$c"
        gf umount-all
done
gf shutdown
gf_stop
echo "make-broken: $(grep -vc $'\tSKIP\t' cases.tsv) broken images, $(grep -c $'\tSKIP\t' cases.tsv || true) skipped" >&2
