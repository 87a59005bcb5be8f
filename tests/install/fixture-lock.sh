#!/bin/bash
# fixture-lock.sh FIXTURE OUT — a lock for the demo image's package set from
# the fixture repos (dnf-resolved; switch to `imgbuild resolve` once it
# exists).  Package set: kickstart/demo.ks's %packages if present, else
# @core + kernel.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
fx=$1 out=$2
args=()
for r in os updates kernel; do [ -d "$fx/repos/$r" ] && args+=(--repo "$r=file://$fx/repos/$r"); done
ks=$top/kickstart/demo.ks
if [ -f "$ks" ]; then
  while read -r w _; do
    case "$w" in ''|'#'*|-*|%*) ;; @*) args+=(--group "${w#@}") ;; *) args+=("$w") ;; esac
  done < <(sed -n '/^%packages/,/^%end/p' "$ks" | sed '1d;$d')
else
  args+=(--group core kernel)
fi
exec "$top/tests/install/make-lock.py" --dnf "${args[@]}" -o "$out"
