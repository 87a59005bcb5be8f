#!/bin/bash
# tree-manifest.sh ROOT — one line per path: path, type+mode, uid, gid,
# symlink target; sorted.  Package-manager state (rpmdb, dnf's files) and
# the contents of the API mounts are left out: they differ by design.
set -euo pipefail
cd "$1"
find . -xdev \( -path ./var/lib/rpm -o -path ./var/lib/dnf -o -path ./var/cache/dnf -o -path ./root/.rpmdb \
    -o -path './var/log/dnf*' -o -path './var/log/hawkey.log' -o -path ./dev -o -path ./proc -o -path ./sys \
    -o -path ./etc/dnf -o -path ./var/lib/rpm-state \) -prune -o -printf '%p %M %U %G %l\n' | LC_ALL=C sort
