#!/usr/bin/env bash
# imgbuild seed: NoCloud seeds (iso9660 and vfat) that blkid sees as
# LABEL=cidata with the files readable back byte for byte; bad user-data,
# meta-data and options refused with exit 2 and no output file.
set -euo pipefail
cd "$WORK"
ex=$TOP/../shared/realdata/alibaba-cloud-kernel/seed-example
[ -d "$ex" ] || ex=/work/shared/realdata/alibaba-cloud-kernel/seed-example
if [ -f "$ex/user-data" ]; then
        cp "$ex/user-data" user-data
        cp "$ex/meta-data" meta-data
else
        printf '#cloud-config\nusers:\n  - default\n' > user-data
        printf 'local-hostname: alinux-host\n' > meta-data
fi
printf 'network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n' > network-config

fail() { echo "FAIL: $*"; exit 1; }

# Alibaba's on-premise guide seed, as cloud-localds would make it.
"$IMGBUILD" seed --user-data user-data --meta-data meta-data --network-config network-config -o seed.img
[ "$(blkid -o value -s LABEL seed.img)" = cidata ] || fail "iso label"
[ "$(blkid -o value -s TYPE seed.img)" = iso9660 ] || fail "iso type"
isoinfo -i seed.img -R -x /user-data | cmp - user-data || fail "user-data differs"
isoinfo -i seed.img -R -x /meta-data | cmp - meta-data || fail "meta-data differs"
isoinfo -i seed.img -J -x /network-config | cmp - network-config || fail "network-config differs"

"$IMGBUILD" seed -u user-data -m meta-data --fs vfat -o seed.vfat
[ "$(blkid -o value -s LABEL seed.vfat)" = cidata ] || fail "vfat label"
[ "$(blkid -o value -s TYPE seed.vfat)" = vfat ] || fail "vfat type"
mtype -i seed.vfat ::user-data | cmp - user-data || fail "vfat user-data differs"
mtype -i seed.vfat ::meta-data | cmp - meta-data || fail "vfat meta-data differs"

# Other valid user-data kinds.
printf '#!/bin/sh\necho hi\n' > ud.sh
printf 'Content-Type: multipart/mixed; boundary="==B=="\nMIME-Version: 1.0\n\n--==B==\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho hi\n--==B==--\n' > ud.mime
printf '## template: jinja\n#cloud-config\nhostname: {{ v1.instance_id }}\n' > ud.jinja
printf '#include\nhttps://example.com/user-data\n' > ud.include
printf '#cloud-boothook\n#!/bin/sh\necho early\n' > ud.boothook
for u in ud.sh ud.mime ud.jinja ud.include ud.boothook; do
        "$IMGBUILD" seed -q -u "$u" -m meta-data -o "ok-$u.img" || fail "valid user-data $u refused"
        [ -s "ok-$u.img" ] || fail "no seed for $u"
done

# Refusals: exit 2, message names the file, nothing written.
refuse() {
        local want=$1; shift
        set +e
        "$IMGBUILD" seed "$@" -o refused.img 2> err.txt
        local rc=$?
        set -e
        [ "$rc" -eq 2 ] || { cat err.txt; fail "expected exit 2, got $rc for: $*"; }
        grep -q -- "$want" err.txt || { cat err.txt; fail "message lacks '$want' for: $*"; }
        [ ! -e refused.img ] || fail "refused.img written for: $*"
        if ls -A | grep -q '\.tmp\.'; then fail "temp file left for: $*"; fi
}
printf 'hostname: x\n' > ud.plain
printf '#cloud-config\nruncmd: [ls,\n' > ud.badyaml
printf '#cloud-config\n- one\n' > ud.list
printf -- '- a\n' > md.list
: > ud.empty
refuse "user-data ud.plain" -u ud.plain -m meta-data
refuse "is empty" -u ud.empty -m meta-data
refuse "not valid YAML" -u ud.badyaml -m meta-data
refuse "mapping" -u ud.list -m meta-data
refuse "meta-data md.list" -u user-data -m md.list
refuse "network-config" -u user-data -m meta-data --network-config md.list
refuse "vendor-data" -u user-data -m meta-data --vendor-data ud.plain
refuse "missing.yaml" -u missing.yaml -m meta-data
refuse "required" -u user-data
refuse "--fs" -u user-data -m meta-data --fs ext4
refuse "unknown option" -u user-data -m meta-data --bogus
echo "seed: ok"
