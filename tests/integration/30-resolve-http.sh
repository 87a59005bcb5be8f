#!/usr/bin/env bash
# Metadata over http:// (a loopback server), end to end:
#  - the fixture repos served over http resolve to the same set as file://,
#    signatures checked, package base URLs pointing at the server;
#  - mirrorlist= and metalink= whose first mirror is dead fall back to the next;
#  - metalink <hash>es: a stale mirror is named (URL, expected/actual hash)
#    and skipped; only stale mirrors: exit 4, nothing cached;
#  - a 404 names the repo and the URL, exit 4, with a hint about the path
#    (not about reachability);
#  - skip_if_unavailable=1 turns an unreachable extra repo into a warning;
#  - --kernel-rpm FILE wins over the kernel repo (repo "@local", the file's
#    sha256), and a file that is not an rpm is an input error (exit 2).
set -u
. "$TOP/tests/lib.sh"
[ -f "$FIXTURE/fixture.env" ] || { echo "no fixture"; exit 77; }
. "$FIXTURE/fixture.env"
export IMGBUILD_CACHE_DIR="$WORK/cache"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$FIXTURE/repos" && exec python3 -m http.server --bind 127.0.0.1 "$port" > "$WORK/http.log" 2>&1) & srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null' EXIT
URL="http://127.0.0.1:$port"
for _ in $(seq 50); do curl -sf "$URL/os/repodata/repomd.xml" > /dev/null && break; sleep 0.1; done
curl -sf "$URL/os/repodata/repomd.xml" > /dev/null || fail "http server did not start"
DEAD="http://127.0.0.1:9"    # discard port: connection refused

RES=("$IMGBUILD" resolve -p demo --repo-file "$FIXTURE/fixture.repo")
IMGBUILD_CACHE_DIR="$WORK/cache-file" "${RES[@]}" -o "$WORK/file.lock" 2> "$WORK/file.err" || { cat "$WORK/file.err"; fail "file:// resolve"; }
lockset "$WORK/file.lock" > "$WORK/file.txt"
[ "$(wc -l < "$WORK/file.txt")" -gt 100 ] || fail "file:// lock has too few packages: $(wc -l < "$WORK/file.txt")"

# 1. http:// baseurls.
"${RES[@]}" --repo-url "os=$URL/os/" --repo-url "updates=$URL/updates/" --repo-url "kernel=$URL/kernel/" \
        -o "$WORK/http.lock" 2> "$WORK/http.err" || { cat "$WORK/http.err"; fail "http resolve"; }
grep -q "metadata downloaded and verified" "$WORK/http.err" || { cat "$WORK/http.err"; fail "http: metadata not downloaded"; }
lockset "$WORK/http.lock" | diff -u "$WORK/file.txt" - || fail "http resolve differs from file://"
python3 - "$WORK/http.lock" "$URL" <<'PY' || fail "http: package base URLs"
import json, sys
l = json.load(open(sys.argv[1]))
bad = [p["name"] for p in l["packages"] if not p.get("baseurl", "").startswith(sys.argv[2])]
assert not bad, bad
PY
grep -q '"GET /os/repodata/repomd.xml.asc' "$WORK/http.log" || fail "signature not fetched over http"
echo "ok: http:// resolve = file:// resolve ($(wc -l < "$WORK/file.txt") packages)"

# 2. mirrorlist and metalink, first mirror dead.
mkdir -p "$WORK/lists"
printf '# mirrors\n%s/os/\n%s/os/\n' "$DEAD" "$URL" > "$WORK/lists/os.mirrorlist"
cat > "$WORK/lists/updates.metalink" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/"><files><file name="repomd.xml"><resources maxconnections="1">
<url protocol="http" type="http" preference="100">$DEAD/updates/repodata/repomd.xml</url>
<url protocol="http" type="http" preference="90">$URL/updates/repodata/repomd.xml</url>
</resources></file></files></metalink>
EOF
key="file://$FIXTURE/RPM-GPG-KEY-imgbuild-fixture"
cat > "$WORK/lists.repo" <<EOF
[os]
name=os by mirrorlist
mirrorlist=file://$WORK/lists/os.mirrorlist
gpgcheck=1
repo_gpgcheck=1
gpgkey=$key

[updates]
name=updates by metalink
metalink=file://$WORK/lists/updates.metalink
gpgcheck=1
repo_gpgcheck=1
gpgkey=$key

[kernel]
name=kernel
baseurl=$URL/kernel/
gpgcheck=1
repo_gpgcheck=1
gpgkey=$key
EOF
IMGBUILD_CACHE_DIR="$WORK/cache-lists" "$IMGBUILD" resolve -p demo --repo-file "$WORK/lists.repo" -o "$WORK/lists.lock" \
        2> "$WORK/lists.err" || { cat "$WORK/lists.err"; fail "mirrorlist/metalink resolve"; }
lockset "$WORK/lists.lock" | diff -u "$WORK/file.txt" - || fail "mirrorlist/metalink resolve differs from file://"
echo "ok: mirrorlist and metalink fall back past a dead mirror"

# 2b. metalink <hash>es: a stale mirror (its repomd.xml is not the one the
# metalink describes) is named with expected/actual hash and skipped; when
# every mirror is stale the repo fails (exit 4).
mkdir -p "$WORK/stale/repodata"
cp -r "$FIXTURE/repos/updates/." "$WORK/stale/"
echo '<!-- stale -->' >> "$WORK/stale/repodata/repomd.xml"
port2=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$WORK" && exec python3 -m http.server --bind 127.0.0.1 "$port2" > "$WORK/http2.log" 2>&1) & srv2=$!
trap 'kill $srv $srv2 2>/dev/null; wait $srv $srv2 2>/dev/null' EXIT
STALE="http://127.0.0.1:$port2/stale"
for _ in $(seq 50); do curl -sf "$STALE/repodata/repomd.xml" > /dev/null && break; sleep 0.1; done
good=$(sha256sum < "$FIXTURE/repos/updates/repodata/repomd.xml" | cut -d' ' -f1)
bad=$(sha256sum < "$WORK/stale/repodata/repomd.xml" | cut -d' ' -f1)
metalink() {  # metalink FILE URL...
        local f=$1; shift
        { printf '<?xml version="1.0" encoding="utf-8"?>\n<metalink version="3.0" xmlns="http://www.metalinker.org/" xmlns:mm0="http://fedorahosted.org/mirrormanager"><files><file name="repomd.xml">\n'
          printf '<verification><hash type="md5">0123</hash><hash type="sha256">%s</hash></verification>\n' "$good"
          printf '<resources maxconnections="1">\n'
          for u; do printf '<url protocol="http" type="http">%s/repodata/repomd.xml</url>\n' "$u"; done
          printf '</resources></file></files></metalink>\n'; } > "$f"
}
metalink "$WORK/lists/updates.metalink" "$STALE" "$URL/updates"
IMGBUILD_CACHE_DIR="$WORK/cache-stale" "$IMGBUILD" resolve -p demo --repo-file "$WORK/lists.repo" -o "$WORK/stale.lock" \
        2> "$WORK/stale.err" || { cat "$WORK/stale.err"; fail "metalink: a stale first mirror made the resolve fail"; }
lockset "$WORK/stale.lock" | diff -u "$WORK/file.txt" - || fail "metalink past a stale mirror differs from file://"
grep -q '"GET /stale/repodata/repomd.xml' "$WORK/http2.log" || fail "the stale mirror was not tried first"
metalink "$WORK/lists/updates.metalink" "$STALE"
IMGBUILD_CACHE_DIR="$WORK/cache-stale2" "$IMGBUILD" resolve -p demo --repo-file "$WORK/lists.repo" -o "$WORK/x.lock" \
        > "$WORK/stale2.out" 2>&1
rc=$?
cat "$WORK/stale2.out"
[ "$rc" = 4 ] || fail "metalink, only a stale mirror: exit $rc, expected 4"
grep -q "repo 'updates'" "$WORK/stale2.out" && grep -qF "$STALE/repodata/repomd.xml" "$WORK/stale2.out" &&
        grep -q "sha256 expected $good" "$WORK/stale2.out" && grep -q "got $bad" "$WORK/stale2.out" ||
        fail "stale mirror: the message must name the repo, the mirror URL and the expected/actual hash"
! find "$WORK/cache-stale2/repodata/updates" -name '*.solv' 2>/dev/null | grep -q . || fail "stale metadata was cached"
echo "ok: metalink hashes: a stale mirror is detected, named and skipped"

# 3. 404.
IMGBUILD_CACHE_DIR="$WORK/cache-404" "${RES[@]}" --repo-url "os=$URL/nonexistent/" -o "$WORK/x.lock" > "$WORK/404.out" 2>&1
rc=$?
cat "$WORK/404.out"
[ "$rc" = 4 ] || fail "404: exit $rc, expected 4"
grep -q "repo 'os'" "$WORK/404.out" && grep -qF "$URL/nonexistent/repodata/repomd.xml" "$WORK/404.out" &&
        grep -q "404" "$WORK/404.out" || fail "404: message must name the repo, the URL and the status"
# The hint fits a 404 (wrong path/release on a mirror that answers), not an
# unreachable host.
grep -q "hint: the host answered, but there is no repodata/repomd.xml at that path" "$WORK/404.out" &&
        grep -q -- "--repo-url os=URL" "$WORK/404.out" || fail "404: no not-found hint"
! grep -q "cannot reach" "$WORK/404.out" || fail "404: the hint says the host cannot be reached"
echo "ok: 404"

# 4. skip_if_unavailable.
cat "$FIXTURE/fixture.repo" > "$WORK/skip.repo"
printf '\n[extra]\nname=gone\nbaseurl=%s/extra/\nskip_if_unavailable=1\ngpgcheck=0\n' "$DEAD" >> "$WORK/skip.repo"
IMGBUILD_CACHE_DIR="$WORK/cache-skip" "$IMGBUILD" resolve -p demo --repo-file "$WORK/skip.repo" -o "$WORK/skip.lock" \
        2> "$WORK/skip.err" || { cat "$WORK/skip.err"; fail "skip_if_unavailable repo made the resolve fail"; }
grep -q "repo 'extra' skipped (skip_if_unavailable=1)" "$WORK/skip.err" || { cat "$WORK/skip.err"; fail "no skip warning"; }
sed 's/skip_if_unavailable=1/skip_if_unavailable=0/' "$WORK/skip.repo" > "$WORK/noskip.repo"
IMGBUILD_CACHE_DIR="$WORK/cache-skip" "$IMGBUILD" resolve -p demo --repo-file "$WORK/noskip.repo" -o "$WORK/x.lock" \
        > "$WORK/noskip.out" 2>&1
rc=$?
[ "$rc" = 4 ] && grep -q "repo 'extra'" "$WORK/noskip.out" || { cat "$WORK/noskip.out"; fail "skip_if_unavailable=0: exit $rc"; }
echo "ok: skip_if_unavailable"

# 5. --kernel-rpm wins over the kernel repo (which has a newer kernel).
krpm="$FIXTURE/repos/kernel/Packages/$KERNEL_NEVRA_OLD.rpm"
[ -f "$krpm" ] || krpm=$(find -L "$FIXTURE/repos/kernel" -name "$KERNEL_NEVRA_OLD.rpm" | head -n1)
[ -f "$krpm" ] || fail "no $KERNEL_NEVRA_OLD.rpm in the fixture"
cp "$krpm" "$WORK/local-kernel.rpm"
IMGBUILD_CACHE_DIR="$WORK/cache-file" "${RES[@]}" --kernel-rpm "$WORK/local-kernel.rpm" -o "$WORK/krpm.lock" \
        2> "$WORK/krpm.err" || { cat "$WORK/krpm.err"; fail "--kernel-rpm resolve"; }
python3 - "$WORK/krpm.lock" "$KERNEL_NEVRA_OLD" "$WORK/local-kernel.rpm" "$(sha256sum < "$WORK/local-kernel.rpm" | cut -d' ' -f1)" <<'PY' || fail "--kernel-rpm lock"
import json, sys
l = json.load(open(sys.argv[1])); nevra, path, sha = sys.argv[2:5]
k = [p for p in l["packages"] if p["name"] == "kernel"]
assert len(k) == 1, k
k = k[0]
got = "%s-%s-%s.%s" % (k["name"], k["version"], k["release"], k["arch"])
assert got == nevra and k["repo"] == "@local", (got, k["repo"])
assert k["location"] == path and k["checksum_type"] == "sha256" and k["checksum"] == sha, k
ins = [i for i in l["inputs"] if i.get("kind") == "kernel-rpm"]
assert ins and ins[0]["sha256"] == sha, l["inputs"]
PY
# Everything else is the same as without it.
diff <(grep -v '^kernel-' "$WORK/file.txt") <(lockset "$WORK/krpm.lock" | grep -v '^kernel-') || fail "--kernel-rpm changed other packages"
echo "ok: --kernel-rpm $KERNEL_NEVRA_OLD wins over the repo's $KERNEL_NEVRA_NEW"
echo 'not an rpm' > "$WORK/bogus.rpm"
IMGBUILD_CACHE_DIR="$WORK/cache-file" "${RES[@]}" --kernel-rpm "$WORK/bogus.rpm" -o "$WORK/x.lock" > "$WORK/bogus.out" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -q "bogus.rpm" "$WORK/bogus.out" || { cat "$WORK/bogus.out"; fail "bad --kernel-rpm: exit $rc, expected 2"; }
echo "ok: a bad --kernel-rpm is an input error"
echo PASS
