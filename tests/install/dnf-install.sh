#!/bin/bash
# dnf-install.sh LOCK ROOT [--nodocs] — the peer oracle: install exactly the
# lock's NEVRAs into ROOT with `dnf --installroot`, from the lock's repos.
set -euo pipefail
lock=$1 root=$2; shift 2
mapfile -t repos < <(/usr/bin/python3 -c 'import json,sys
seen={}
for p in json.load(open(sys.argv[1]))["packages"]: seen.setdefault(p["repo"], p["baseurl"])
for k,v in seen.items(): print("--repofrompath=%s,%s" % (k, v))' "$lock")
mapfile -t nevras < <(/usr/bin/python3 -c 'import json,sys
for p in json.load(open(sys.argv[1]))["packages"]:
    e = "%d:" % p["epoch"] if p["epoch"] else ""
    print("%s-%s%s-%s.%s" % (p["name"], e, p["version"], p["release"], p["arch"]))' "$lock")
mkdir -p "$root"
# a private cache: with --installroot, dnf keeps /var/cache/dnf on the host
cache=$(mktemp -d "${TMPDIR:-/var/tmp}/imgbuild-dnfcache.XXXXXX")
trap 'rm -rf "$cache" "$root$cache"' EXIT
extra=()
[ "${1:-}" = --nodocs ] && extra+=(--setopt=tsflags=nodocs)
dnf -y -q --installroot "$root" --disablerepo='*' "${repos[@]}" --nogpgcheck \
    --setopt=install_weak_deps=False --setopt=reposdir=/nonexistent --setopt=cachedir="$cache" \
    --releasever=test --forcearch=x86_64 "${extra[@]}" install "${nevras[@]}"
# dnf's own leftovers that no package owns (Debian's rpm keeps its db in
# ~/.rpmdb): drop them so the trees compare on package content only
rm -rf "$root$cache" "$root/var/log/dnf"* "$root/var/log/hawkey.log"
owned() { rpm --root "$root" --dbpath /root/.rpmdb -qf "$1" >/dev/null 2>&1; }
for d in /var/tmp /var/log /var/cache; do owned "$d" || rmdir "$root$d" 2>/dev/null || true; done
if ! owned /root; then
  mv "$root/root/.rpmdb" "$root.rpmdb" && rmdir "$root/root" 2>/dev/null || true
fi
