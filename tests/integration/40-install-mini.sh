#!/bin/bash
# fetch + install on a tiny signed repo built here (tests/install/mkrepo.sh):
# owners/modes/setgid/symlinks, --excludedocs/--instLangs, rpmdb oracle for
# bdb and sqlite (host rpm, bdb_ro), GPG (unsigned, other key, tampered),
# http download + cache, streamed install over a server that does ranges
# (and one that does not), and the error cases: checksum mismatch, file
# conflict, failing scriptlet, unmet dependency, truncated rpm, full disk — each with its
# message, exit code, staging root removed and cache untouched; where rpm's
# fingerprinting gets directories made for it.
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=${WORK:-$(mktemp -d)}
[ "$(id -u)" = 0 ] || { echo "needs root (chroot, mounts)"; exit 77; }
cd "$WORK"
T=$TOP/tests/install
"$T/build-driver.sh" ./driver
"$T/mkrepo.sh" "$WORK/mini" >/dev/null
M=$WORK/mini
export IMGBUILD_CACHE_DIR=$WORK/cache
KEY="t,gpgkey=$M/key.asc"
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
qdb() { rpm --define '_db_backend bdb_ro' --dbpath "$1/var/lib/rpm" "${@:2}"; }
"$T/make-lock.py" --repo "t=file://$M/repo" tsetup tfiles -o base.lock

# expect NAME EXIT PATTERN ROOT -- driver args: exit code, message, root gone
expect() {
  local name=$1 code=$2 pat=$3 root=$4; shift 5
  local before after rc=0
  before=$(find "$IMGBUILD_CACHE_DIR" -type f 2>/dev/null | sort | xargs -r sha256sum | sha256sum)
  ./driver --root "$root" "$@" > "$name.out" 2>&1 || rc=$?
  after=$(find "$IMGBUILD_CACHE_DIR" -type f 2>/dev/null | sort | xargs -r sha256sum | sha256sum)
  if [ "$rc" != "$code" ]; then bad "$name: exit $rc, want $code"; cat "$name.out"; return; fi
  if ! grep -q -- "$pat" "$name.out"; then bad "$name: message lacks /$pat/"; cat "$name.out"; return; fi
  if [ -e "$root" ]; then bad "$name: staging root $root left behind"; return; fi
  if [ "$before" != "$after" ]; then bad "$name: package cache changed"; return; fi
  ok "$name (exit $rc: $(grep -m1 -- "$pat" "$name.out" | cut -c1-150))"
}

# 1. good install, bdb
./driver --lock base.lock --root "$WORK/r-bdb" --repo "$KEY" --rpmdb bdb > good.out 2>&1 || { cat good.out; exit 1; }
R=$WORK/r-bdb
st=$(stat -c '%a %U %g' "$R/usr/bin/sg-tool")
[ "$st" = "2755 root 1234" ] && ok "setgid non-root group kept ($st)" || bad "sg-tool is '$st'"
st=$(stat -c '%a %u %g' "$R/var/lib/tfiles")
[ "$st" = "750 1234 1234" ] && ok "tuser dir ($st)" || bad "var/lib/tfiles is '$st'"
[ "$(readlink "$R/usr/bin/tool-link")" = tool ] && ok "symlink target" || bad "symlink"
[ -f "$R/var/lib/tfiles/post-ran" ] && ok "%post ran in the root" || bad "%post did not run"
# for a bdb target, rpm's sqlite database is scratch: no write-ahead log
[ "$(cat "$R/var/lib/tfiles/rpmdb-journal")" = none ] && ok "scratch sqlite during the transaction: no WAL" ||
  bad "journal during a bdb install: $(cat "$R/var/lib/tfiles/rpmdb-journal")"
[ -f "$R/usr/share/doc/tfiles/README" ] && ok "docs installed by default" || bad "docs missing"
[ -e "$R/var/lib/rpm/rpmdb.sqlite" ] && bad "sqlite db left in a bdb root" || ok "no sqlite in bdb root"
[ -e "$R/var/lib/rpm/Packages" ] || bad "no Packages"
got=$(qdb "$R" -qa | sort | tr '\n' ' ')
want=$(/usr/bin/python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); print(" ".join(sorted("%s-%s-%s.%s"%(p["name"],p["version"],p["release"],p["arch"]) for p in l["packages"]))+" ")' base.lock)
[ "$got" = "$want" ] && ok "bdb -qa = lock ($got)" || bad "bdb -qa '$got' want '$want'"
[ "$(qdb "$R" -q tfiles)" = tfiles-1.0-1.x86_64 ] && ok "bdb -q tfiles" || bad "bdb -q tfiles"
[ "$(qdb "$R" -qf /usr/bin/sg-tool)" = tfiles-1.0-1.x86_64 ] && ok "bdb -qf" || bad "bdb -qf"
[ "$(qdb "$R" -q --whatprovides tsetup)" = tsetup-1.0-1.noarch ] && ok "bdb whatprovides" || bad "bdb whatprovides"
qdb "$R" --root "$R" --dbpath /var/lib/rpm -Va > va.out 2>&1 && ok "bdb rpm -Va clean" || { bad "bdb -Va"; cat va.out; }
db5.3_verify -q "$R/var/lib/rpm/Packages" && ok "db_verify Packages" || bad "db_verify"
# payloads in each container: decompressed beside rpm and handed to it in
# stored blocks (xz, gzip, zstd), or as they are (bzip2); every file intact.
# The count is of installs read from the copies: tpay-xz's %pretrans makes
# rpm open it once before its install, and that open must not take the copy.
"$T/make-lock.py" --repo "t=file://$M/repo" tsetup tpay-xz tpay-gz tpay-bz2 tpay-zst -o pay.lock
./driver --lock pay.lock --root "$WORK/r-pay" --repo "$KEY" > pay.out 2>&1 || { cat pay.out; bad "payloads install"; }
grep -q "installed 5 packages in .*[(; ]4 payloads decompressed beside rpm)" pay.out &&
  ok "4 of 5 payloads decompressed beside rpm (bzip2 read by rpm; xz's, despite its %pretrans)" || { bad "payloads beside rpm"; cat pay.out; }
rpm --root "$WORK/r-pay" --dbpath /var/lib/rpm -Va > pva.out 2>&1 && [ ! -s pva.out ] &&
  ok "xz, gzip, bzip2, zstd payloads laid down intact (rpm -Va)" || { bad "payloads -Va"; cat pva.out; }
[ "$(stat -c %h "$WORK/r-pay/usr/share/tpay-xz/hello")" = 2 ] && ok "hard link kept" || bad "hard link"
# peer oracle: dnf --installroot from the same lock gives the same tree
"$T/dnf-install.sh" base.lock "$WORK/r-dnf" > dnf.out 2>&1 || { cat dnf.out; bad "dnf --installroot failed"; }
"$T/tree-manifest.sh" "$WORK/r-dnf" > m-dnf; "$T/tree-manifest.sh" "$R" > m-ours
diff m-dnf m-ours > m.diff && ok "tree = dnf's ($(wc -l < m-ours) paths: modes, owners, links)" || { bad "tree differs from dnf's"; head -20 m.diff; }
ls "$R"/var/lib/rpm/__db.* >/dev/null 2>&1 && bad "BDB environment files shipped" || true
# 2. sqlite, excludedocs, instLangs=fr
./driver --lock base.lock --root "$WORK/r-sq" --repo "$KEY" --rpmdb sqlite --excludedocs --langs fr > sq.out 2>&1 || { cat sq.out; exit 1; }
R=$WORK/r-sq
[ -e "$R/usr/share/doc/tfiles/README" ] && bad "--excludedocs ignored" || ok "--excludedocs"
[ -e "$R/usr/share/locale/fr/LC_MESSAGES/tfiles.mo" ] && [ ! -e "$R/usr/share/locale/de/LC_MESSAGES/tfiles.mo" ] &&
  ok "--instLangs fr" || bad "--instLangs"
# what rpm skips leaves no directory behind (not even the ones made while rpm fingerprints)
[ -e "$R/usr/share/doc/tfiles" ] || [ -e "$R/usr/share/locale/de" ] && bad "skipped files' directories made" ||
  ok "no directories for skipped files"
[ "$(cat "$R/var/lib/tfiles/rpmdb-journal")" = wal ] && ok "sqlite target: rpm's own write-ahead log" ||
  bad "journal during a sqlite install: $(cat "$R/var/lib/tfiles/rpmdb-journal")"
[ "$(rpm --dbpath "$R/var/lib/rpm" -qa | sort | tr '\n' ' ')" = "$want" ] && ok "sqlite -qa = lock" || bad "sqlite -qa"
[ "$(rpm --dbpath "$R/var/lib/rpm" -qf /usr/bin/tool)" = tfiles-1.0-1.x86_64 ] && ok "sqlite -qf" || bad "sqlite -qf"
rpm --root "$R" --dbpath /var/lib/rpm -Va > va2.out 2>&1 && ok "sqlite -Va clean" || { bad "sqlite -Va"; cat va2.out; }
[ -d "$HOME/.rpmdb" ] && [ "$HOME/.rpmdb" -nt good.out ] && bad "host ~/.rpmdb touched" || true
grep -q '/proc\|/sys' <(awk -v r="$WORK/" 'index($2, r) == 1' /proc/mounts) && bad "mounts left under $WORK" || ok "no mounts left"

# 3. http + cache: serve the repo on loopback, fetch twice
port=$((20000 + RANDOM % 20000))
(cd "$M/repo" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) & srv=$!
trap 'kill $srv 2>/dev/null || true' EXIT
for i in $(seq 50); do curl -sf "http://127.0.0.1:$port/repodata/repomd.xml" >/dev/null && break; sleep 0.1; done
"$T/make-lock.py" --repo "t=file://$M/repo" tsetup tfiles | sed "s|file://$M/repo|http://127.0.0.1:$port|" > http.lock
./driver --lock http.lock --fetch-only --repo "$KEY" > http1.out 2>http1.err || { cat http1.err; bad "http fetch"; }
n=$(find cache/packages -name '*.rpm' | wc -l)
[ "$n" = 2 ] && ok "http fetch filled the cache ($n entries)" || bad "cache has $n entries"
grep -q "^$WORK/cache/packages/sha256/" http1.out && ok "paths point into the cache" || bad "paths: $(cat http1.out)"
kill $srv; wait $srv 2>/dev/null || true
./driver --lock http.lock --fetch-only --repo "$KEY" > http2.out 2>http2.err && ok "second fetch served from the cache (server down)" ||
  { bad "cache reuse"; cat http2.err; }
./driver --lock http.lock --fetch-only --offline --repo "$KEY" > off1.out 2>&1 && ok "--offline: served from the cache" ||
  { bad "--offline with a full cache"; cat off1.out; }
rc=0; IMGBUILD_CACHE_DIR=$WORK/cache-empty ./driver --lock http.lock --root "$WORK/r-off" --offline --repo "$KEY" > off2.out 2>&1 || rc=$?
[ "$rc" = 4 ] && grep -q "tfiles-1.0-1.x86_64.*not in the package cache, and --offline" off2.out && [ ! -e "$WORK/r-off" ] &&
  ok "--offline: a package not in the cache is an error (exit 4), nothing downloaded" || { bad "--offline, empty cache: exit $rc"; cat off2.out; }
# a corrupted cache entry is replaced, not used: server is down → fetch error, entry gone
f=$(head -n1 http2.out); cp "$f" saved.rpm; printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
./driver --lock http.lock --fetch-only --repo "$KEY" > http3.out 2>&1 && bad "rotten cache entry accepted" ||
  { grep -q "Couldn't connect\|connect" http3.out && ok "rotten cache entry refetched (server down → error)" || { bad "rotten"; cat http3.out; }; }
[ -e "$f" ] && bad "rotten entry still at its final name" || true
cp saved.rpm "$f"

# 3b. streamed: over a server that does ranges (as mirrors do), the headers
#     come first and the payloads download in a child process while rpm
#     installs; a server that ignores ranges gets whole downloads first.
port=$((20000 + RANDOM % 20000))
/usr/bin/python3 "$TOP/tests/http-range-server.py" "$port" "$M/repo" & srv=$!
for i in $(seq 50); do curl -sf "http://127.0.0.1:$port/repodata/repomd.xml" >/dev/null && break; sleep 0.1; done
sed "s|http://127.0.0.1:[0-9]*|http://127.0.0.1:$port|" http.lock > range.lock
IMGBUILD_CACHE_DIR=$WORK/cache-s ./driver --lock range.lock --root "$WORK/r-s" --repo "$KEY" --rpmdb bdb > s.out 2>&1 ||
  { cat s.out; bad "streamed install"; }
grep -q "2 packages download during the install" s.out && ok "headers by range, payloads during the install" ||
  { bad "not streamed"; cat s.out; }
grep -q "download: 100%" s.out && ok "the payloads' download has its progress bar" || bad "no download progress while streaming"
"$T/tree-manifest.sh" "$WORK/r-s" > m-s
diff m-dnf m-s > /dev/null && ok "streamed tree = dnf's" || bad "streamed tree differs from dnf's"
[ "$(qdb "$WORK/r-s" -qa | sort | tr '\n' ' ')" = "$want" ] && ok "streamed rpmdb -qa = lock" || bad "streamed -qa"
[ "$(find cache-s/packages -name '*.rpm' | wc -l)" = 2 ] && ok "streamed downloads in the cache" || bad "streamed cache"
ls "$WORK"/*/headers 2>/dev/null && bad "header files left behind" || true
# a dead mirror: the lock's base URL refuses connections, the repo's other
# base URL serves.  Fetch falls back, says so once, and the other packages
# try the dead one last: strace sees one connect to it (the first header
# probe), where each package used to spend its probe and four attempts
for dead in $(seq $((port + 1)) $((port + 50))); do ! (exec 3<>"/dev/tcp/127.0.0.1/$dead") 2>/dev/null && break; done
sed "s|http://127.0.0.1:$port|http://127.0.0.1:$dead|" range.lock > dead.lock
IMGBUILD_FETCH_JOBS=1 IMGBUILD_CACHE_DIR=$WORK/cache-d strace -f -e trace=connect -o dead.trace \
  ./driver --lock dead.lock --root "$WORK/r-d" --repo "$KEY,baseurl=http://127.0.0.1:$port/" --rpmdb bdb > d.out 2>&1 ||
  { cat d.out; bad "install past a dead mirror"; }
[ "$(qdb "$WORK/r-d" -qa | sort | tr '\n' ' ')" = "$want" ] && ok "dead mirror: installed from the other base URL" ||
  bad "dead mirror: -qa"
[ "$(grep -c "127.0.0.1:$dead/* does not answer" d.out)" = 1 ] && ok "dead mirror: one warning" ||
  { bad "dead mirror: warnings"; cat d.out; }
n=$(grep -c "htons($dead)" dead.trace || true)
[ "$n" = 1 ] && ok "dead mirror: 1 connect to it for 2 packages" || bad "dead mirror: $n connects to it, want 1"
# a payload that fails its checksum in the download process stops the
# install: the fetch's exit code and message, the root removed
"$T/lockedit.py" range.lock rsum.lock tfiles checksum=1111111111111111111111111111111111111111111111111111111111111111
IMGBUILD_CACHE_DIR=$WORK/cache-s expect streamed-checksum 4 "tfiles-1.0-1.x86_64.*checksum mismatch" "$WORK/r-e0" -- --lock rsum.lock --repo "$KEY"
# a header rpm cannot read (the mirror's copy is corrupt): the whole
# download decides, and the fetch's message names the URL, not a work file
# tfiles_field FIELD: that field of tfiles's entry in range.lock
tfiles_field() {
  /usr/bin/python3 -c 'import json,sys
print([p[sys.argv[2]] for p in json.load(open(sys.argv[1]))["packages"] if p["name"] == "tfiles"][0])' range.lock "$1"
}
tf=$(tfiles_field location)
mkdir -p "$(dirname "$M/repo/bad/$tf")"
/usr/bin/python3 - "$M/repo/$tf" "$M/repo/bad/$tf" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
il, dl = int.from_bytes(b[104:108], "big"), int.from_bytes(b[108:112], "big")
h = 96 + (16 + 16 * il + dl + 7) // 8 * 8     # the header, after the padded signature
assert b[h:h + 3] == b"\x8e\xad\xe8"
b[h + 16:h + 48] = b"\xff" * 32               # its first two index entries
open(sys.argv[2], "wb").write(b)
PY
"$T/lockedit.py" range.lock rhdr.lock tfiles "location=bad/$tf"
cp -a "$WORK/cache-s" "$WORK/cache-h"            # tsetup cached, tfiles to download
rm "$WORK/cache-h/packages/sha256/$(tfiles_field checksum).rpm"
IMGBUILD_CACHE_DIR=$WORK/cache-h expect streamed-bad-header 4 "tfiles-1.0-1.x86_64 (http://127.0.0.1:$port/bad/.*checksum mismatch" \
  "$WORK/r-e00" -- --lock rhdr.lock --repo "$KEY"
grep -q 'rpm-header' streamed-bad-header.out && bad "the bad header's error names a work file" || true
kill $srv; wait $srv 2>/dev/null || true
(cd "$M/repo" && exec /usr/bin/python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) & srv=$!
for i in $(seq 50); do curl -sf "http://127.0.0.1:$port/repodata/repomd.xml" >/dev/null && break; sleep 0.1; done
IMGBUILD_CACHE_DIR=$WORK/cache-n ./driver --lock range.lock --root "$WORK/r-n" --repo "$KEY" > n.out 2>&1 ||
  { cat n.out; bad "install from a server without ranges"; }
! grep -q "during the install" n.out && [ "$(rpm --dbpath "$WORK/r-n/var/lib/rpm" -qa | wc -l)" = 2 ] && ok "no ranges: whole downloads, then the install" ||
  { bad "fallback without ranges"; cat n.out; }
kill $srv; wait $srv 2>/dev/null || true

# 4. error cases
"$T/lockedit.py" base.lock sum.lock tfiles checksum=0000000000000000000000000000000000000000000000000000000000000000
expect checksum-mismatch 4 "tfiles-1.0-1.x86_64.*checksum mismatch" "$WORK/r-e1" -- --lock sum.lock --repo "$KEY"
"$T/lockedit.py" base.lock uns.lock tfiles "file=$M/extra/tfiles-unsigned.rpm"
expect unsigned 4 "tfiles-1.0-1.x86_64.*not signed" "$WORK/r-e2" -- --lock uns.lock --repo "$KEY"
"$T/lockedit.py" base.lock oth.lock tfiles "file=$M/extra/tfiles-otherkey.rpm"
expect other-key 4 "tfiles-1.0-1.x86_64.*not among the repo's gpgkey" "$WORK/r-e3" -- --lock oth.lock --repo "$KEY"
"$T/lockedit.py" base.lock tam.lock tfiles "file=$M/extra/tfiles-tampered.rpm"
expect tampered 4 "tfiles-1.0-1.x86_64.*payload does not match" "$WORK/r-e4" -- --lock tam.lock --repo "$KEY"
"$T/make-lock.py" --repo "t=file://$M/repo" tsetup tfiles tconflict -o conf.lock
expect conflict 5 "file /usr/bin/tool.*conflicts" "$WORK/r-e5" -- --lock conf.lock --repo "$KEY"
"$T/make-lock.py" --repo "t=file://$M/repo" tsetup tfail -o fail.lock
expect scriptlet 5 "tfail-1.0-1.noarch: %pre scriptlet failed" "$WORK/r-e6" -- --lock fail.lock --repo "$KEY"
# rpm checks dependencies against the (empty) root with its dummy database
"$T/make-lock.py" --repo "t=file://$M/repo" tfiles -o dep.lock
expect unmet-dependency 5 "tsetup is needed by tfiles-1.0-1.x86_64" "$WORK/r-e9" -- --lock dep.lock --repo "$KEY"
head -c $(( $(stat -c %s "$M/repo/tfiles-1.0-1.x86_64.rpm") - 85 )) "$M/repo/tfiles-1.0-1.x86_64.rpm" > trunc.rpm
expect truncated-payload 5 "tfiles-1.0-1.x86_64: unpacking the payload failed" "$WORK/r-e7" -- --lock base.lock --paths "$WORK/trunc.rpm" "$M/repo/tsetup-1.0-1.noarch.rpm"
head -c 3000 "$M/repo/tfiles-1.0-1.x86_64.rpm" > trunc2.rpm
expect truncated-header 5 "tfiles-1.0-1.x86_64.*not a readable rpm" "$WORK/r-e8" -- --lock base.lock --paths "$WORK/trunc2.rpm" "$M/repo/tsetup-1.0-1.noarch.rpm"
mkdir -p small && mount -t tmpfs -o size=20m tmpfs small
trap 'kill $srv 2>/dev/null || true; umount -l "$WORK/small" 2>/dev/null || true' EXIT
"$T/make-lock.py" --repo "t=file://$M/repo" tsetup tbig -o big.lock
expect disk-full 5 "tbig-1.0-1.noarch.*needs.*on the" "$WORK/small/root" -- --lock big.lock --repo "$KEY"
umount "$WORK/small"

# 5. directories exist while rpm fingerprints (removed again before the
#    install) where freed inodes come back at once (tmpfs), not on an ext4
#    without a journal (which keeps a freed inode out of use for minutes)
# rmdirs ROOT NAME: the install's rmdir calls, or "failed" (its output on stderr)
rmdirs() {
  if strace -f -qq -e trace=rmdir -o "$2.trace" ./driver --lock base.lock --root "$1" --repo "$KEY" --rpmdb bdb \
       > "$2.out" 2>&1; then grep -c ' rmdir(' "$2.trace" || true; else cat "$2.out" >&2; echo failed; fi
}
mkdir -p fp-mem fp-nj && mount -t tmpfs -o size=64m tmpfs fp-mem
trap 'kill $srv 2>/dev/null || true; umount -l "$WORK/fp-mem" "$WORK/fp-nj" 2>/dev/null || true' EXIT
n=$(rmdirs "$WORK/fp-mem/root" fp-mem)
[ "$n" != failed ] && [ "$n" -gt 0 ] && ok "tmpfs: $n directories made while rpm fingerprints, removed" ||
  bad "tmpfs: install $n, or no directories made"
[ "$(qdb "$WORK/fp-mem/root" -qa | sort | tr '\n' ' ')" = "$want" ] && ok "tmpfs: rpmdb -qa = lock" || bad "tmpfs: -qa"
truncate -s 64M nojournal.img && mkfs.ext4 -q -F -O ^has_journal nojournal.img
if mount -o loop nojournal.img fp-nj 2>/dev/null; then
  n=$(rmdirs "$WORK/fp-nj/root" fp-nj)
  [ "$n" = 0 ] && ok "ext4 without a journal: no directories made" || bad "ext4 without a journal: $n (rmdir calls)"
  umount fp-nj
else
  echo "skip ext4 without a journal: no loop device"
fi
umount fp-mem

[ "$fails" = 0 ] && echo "40-install-mini: all passed" || { echo "40-install-mini: $fails failed"; exit 1; }
