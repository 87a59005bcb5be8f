#!/bin/bash
# tests/disk/mkroot.sh FIXTURE KICKSTART ROOT
# Installs the %packages of KICKSTART from the fixture repos into ROOT (must
# not exist) with the host's dnf — the staging root the install stage will
# make, for testing configure/sysprep/disk before that stage exists.
# A finished root is cached under $IMGBUILD_DISK_ROOT_CACHE (default
# /var/cache/imgbuild/disk-roots) by fixture + package list and copied.
set -euo pipefail
fixture=$1 ks=$2 root=$3
[ -e "$root" ] && { echo "mkroot: $root exists" >&2; exit 1; }
pkgs=$(awk '/^%packages/{p=1;next} /^%end/{p=0} p && !/^[[:space:]]*(#|$)/ {print $1}' "$ks" | tr '\n' ' ')
[ -n "$pkgs" ] || { echo "mkroot: no %packages in $ks" >&2; exit 1; }
key=$(cat "$fixture"/repos/*/repodata/repomd.xml <(echo "$pkgs") "$0" | sha256sum | cut -c1-16)
cache=${IMGBUILD_DISK_ROOT_CACHE:-/var/cache/imgbuild/disk-roots}
if [ ! -d "$cache/$key" ]; then
        mkdir -p "$cache"
        exec 9>"$cache/.lock"
        flock 9
        # one dnf at a time; another run may have made it meanwhile
        if [ ! -d "$cache/$key" ]; then
                rm -rf "$cache"/.tmp-*
                tmp=$(mktemp -d "$cache/.tmp-XXXXXX")
                trap 'rm -rf "$tmp"' EXIT
                { printf '[main]\ngpgcheck=1\ninstall_weak_deps=False\nkeepcache=0\ncachedir=%s/dnfcache\n' "$tmp"
                  sed -n '/^\[/,$p' "$fixture/fixture.repo"; } > "$tmp/dnf.conf"
                mkdir -p "$tmp/root"
                # shellcheck disable=SC2086
                dnf -y -q --installroot "$tmp/root" --setopt=reposdir=/dev/null --config "$tmp/dnf.conf" \
                        --releasever=12 --forcearch=x86_64 install $pkgs >"$tmp/dnf.log" 2>&1 ||
                        { tail -n 30 "$tmp/dnf.log" >&2; echo "mkroot: dnf install failed" >&2; exit 1; }
                rm -rf "$tmp/root/var/cache/dnf"
                mv -T "$tmp/root" "$cache/$key"
                rm -rf "$tmp"
                trap - EXIT
        fi
        flock -u 9
fi
cp -a "$cache/$key" "$root"
