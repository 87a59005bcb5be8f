#!/bin/bash
# fetch + install of the fixture distribution from a lock of the demo
# package set: the tree must equal what `dnf --installroot` makes from the
# same lock (paths, modes, owners, symlink targets), the bdb rpmdb must
# answer host rpm (bdb_ro) -qa/-q/-qf/-Va, sqlite too, and setgid
# non-root-group files keep both.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=${WORK:-$(mktemp -d)}
FIXTURE=${FIXTURE:-/var/cache/imgbuild/fixture/current}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
[ -d "$FIXTURE/repos/os" ] || { echo "no fixture at $FIXTURE"; exit 77; }
cd "$WORK"
T=$TOP/tests/install
"$T/build-driver.sh" ./driver
"$T/fixture-lock.sh" "$FIXTURE" fx.lock
n=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["packages"]))' fx.lock)
echo "lock: $n packages"
export IMGBUILD_CACHE_DIR=$WORK/cache
key=$FIXTURE/RPM-GPG-KEY-imgbuild-fixture
repos=(); for r in os updates kernel; do repos+=(--repo "$r,gpgkey=$key"); done
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
qdb() { rpm --define '_db_backend bdb_ro' --dbpath "$1/var/lib/rpm" "${@:2}"; }

t0=$(date +%s.%N)
./driver --lock fx.lock --root "$WORK/ours" "${repos[@]}" --rpmdb bdb > ours.out 2>&1 || { tail -30 ours.out; exit 1; }
t1=$(date +%s.%N)
"$T/dnf-install.sh" fx.lock "$WORK/dnf" > dnf.out 2>&1 || { tail -30 dnf.out; bad "dnf --installroot failed"; }
t2=$(date +%s.%N)
echo "ours $(echo "$t1 - $t0" | bc)s, dnf $(echo "$t2 - $t1" | bc)s"
"$T/tree-manifest.sh" "$WORK/dnf" > m-dnf; "$T/tree-manifest.sh" "$WORK/ours" > m-ours
diff m-dnf m-ours > m.diff && ok "tree = dnf's ($(wc -l < m-ours) paths)" || { bad "tree differs from dnf's ($(grep -c '^[<>]' m.diff) lines)"; head -40 m.diff; }
sg=$(find "$WORK/ours" -xdev -perm -2000 -type f ! -group 0 | wc -l)
[ "$sg" -gt 0 ] && ok "$sg setgid files with a non-root group" || echo "note: no setgid non-root-group file in this package set"
want=$(/usr/bin/python3 -c 'import json,sys
for p in json.load(open(sys.argv[1]))["packages"]: print("%s-%s-%s.%s"%(p["name"],p["version"],p["release"],p["arch"]))' fx.lock | sort)
got=$(qdb "$WORK/ours" -qa | sort)
[ "$got" = "$want" ] && ok "bdb -qa = lock ($n)" || { bad "bdb -qa differs"; diff <(echo "$want") <(echo "$got") | head; }
for name in $(/usr/bin/python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["packages"][:400:40]))' fx.lock); do
  qdb "$WORK/ours" -q "$name" >/dev/null || bad "bdb -q $name"
done
for f in /etc/passwd /usr/bin/sudo /bin/sh /usr/lib/os-release; do
  [ -e "$WORK/ours$f" ] || continue
  a=$(qdb "$WORK/ours" -qf "$f" 2>&1) && ok "bdb -qf $f = $a" || bad "bdb -qf $f: $a"
done
qdb "$WORK/ours" --root "$WORK/ours" --dbpath /var/lib/rpm -Va > va.out 2>&1 && ok "bdb rpm -Va clean" ||
  { bad "bdb rpm -Va: $(wc -l < va.out) lines"; head -20 va.out; }
rm -rf "$WORK/dnf" "$WORK/ours"
./driver --lock fx.lock --root "$WORK/sq" "${repos[@]}" --rpmdb sqlite > sq.out 2>&1 || { tail -30 sq.out; exit 1; }
[ "$(rpm --dbpath "$WORK/sq/var/lib/rpm" -qa | sort)" = "$want" ] && ok "sqlite -qa = lock" || bad "sqlite -qa"
rpm --root "$WORK/sq" --dbpath /var/lib/rpm -Va > va2.out 2>&1 && ok "sqlite rpm -Va clean" || { bad "sqlite -Va"; head -20 va2.out; }
[ "$fails" = 0 ] && echo "40-install-fixture: all passed" || { echo "40-install-fixture: $fails failed"; exit 1; }
