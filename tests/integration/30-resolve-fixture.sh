#!/usr/bin/env bash
# imgbuild resolve on the fixture distribution:
#  - kickstart/demo.ks resolves to exactly the set Debian's dnf resolves on the
#    same repos with the same selection (read from our own --dry-run plan);
#  - updates win over os; the kernel comes from the kernel repo (newest), and
#    --kernel pins the older one (dnf agrees with both);
#  - lock inputs: kickstart sha256, each repomd.xml sha256;
#  - imgbuild diff shows the kernel change; a warm resolve uses the .solv
#    cache; --offline works from the cache and says what is missing without it.
set -u
. "$TOP/tests/lib.sh"
[ -f "$FIXTURE/fixture.env" ] || { echo "no fixture"; exit 77; }
. "$FIXTURE/fixture.env"
export IMGBUILD_CACHE_DIR="$WORK/cache"
RES=("$IMGBUILD" resolve -p demo --repo-file "$FIXTURE/fixture.repo")

"${RES[@]}" -o "$WORK/new.lock" 2> "$WORK/resolve.err" || { cat "$WORK/resolve.err"; fail "resolve failed"; }
cat "$WORK/resolve.err"
grep -q "metadata downloaded and verified" "$WORK/resolve.err" || fail "cold resolve did not download metadata"
"${RES[@]}" --dry-run > "$WORK/plan.json" || fail "dry-run failed"

lockset "$WORK/new.lock" > "$WORK/ours.txt"
dnfset "$WORK/plan.json" "" "$WORK/dnfroot1" > "$WORK/dnf.txt" 2> "$WORK/dnf.err" || { cat "$WORK/dnf.err"; fail "dnf failed"; }
n_ours=$(wc -l < "$WORK/ours.txt")
echo "imgbuild: $n_ours packages, dnf: $(wc -l < "$WORK/dnf.txt") packages"
diff -u "$WORK/dnf.txt" "$WORK/ours.txt" || fail "our resolved set differs from dnf's (- dnf, + imgbuild)"
[ "$n_ours" -gt 20 ] || fail "suspiciously small set ($n_ours)"

# Updates win: every updated package we install comes from updates, in the
# NEVRA fixture.env names.
n_upd=0
for p in ${UPDATED_PACKAGES:-}; do
        line=$(grep "^$p-[0-9]" "$WORK/ours.txt" || true)
        [ -n "$line" ] || continue
        n_upd=$((n_upd + 1))
        [ "${line##* }" = updates ] || fail "$p does not come from updates: $line"
done
[ "$n_upd" -gt 0 ] || fail "no updated package in the set (UPDATED_PACKAGES=${UPDATED_PACKAGES:-})"
echo "updates win: $n_upd package(s)"

# Kernel: newest from the kernel repo by default.
grep -q "^$KERNEL_NEVRA_NEW kernel\$" "$WORK/ours.txt" || fail "default kernel is not $KERNEL_NEVRA_NEW from repo kernel"

# Pinned kernel: --kernel the older one.
"${RES[@]}" --kernel "$KERNEL_NEVRA_OLD" -o "$WORK/old.lock" 2> "$WORK/resolve2.err" || { cat "$WORK/resolve2.err"; fail "pinned resolve failed"; }
grep -q "cached metadata" "$WORK/resolve2.err" || fail "warm resolve did not use the .solv cache"
lockset "$WORK/old.lock" > "$WORK/ours-old.txt"
grep -q "^$KERNEL_NEVRA_OLD kernel\$" "$WORK/ours-old.txt" || fail "kernel pin $KERNEL_NEVRA_OLD not honoured"
dnfset "$WORK/plan.json" "$KERNEL_NEVRA_OLD" "$WORK/dnfroot2" > "$WORK/dnf-old.txt" 2>> "$WORK/dnf.err" || fail "dnf (pinned) failed"
diff -u "$WORK/dnf-old.txt" "$WORK/ours-old.txt" || fail "pinned set differs from dnf's"

# A pin that matches nothing: input error naming the available kernels.
"${RES[@]}" --kernel kernel-0.0.1-1.x86_64 -o "$WORK/bad.lock" > "$WORK/bad.out" 2>&1
rc=$?
[ "$rc" = 2 ] || { cat "$WORK/bad.out"; fail "bad pin: exit $rc, expected 2"; }
grep -q "matches no package" "$WORK/bad.out" && grep -qF "$KERNEL_NEVRA_NEW" "$WORK/bad.out" || fail "bad pin message"

# Lock inputs.
python3 - "$WORK/new.lock" "$TOP/kickstart/demo.ks" "$FIXTURE" <<'PY' || fail "lock inputs"
import hashlib, json, sys
l = json.load(open(sys.argv[1]))
inp = {(i["kind"], i["id"]): i["sha256"] for i in l["inputs"]}
sha = lambda f: hashlib.sha256(open(f, "rb").read()).hexdigest()
ks = [v for (k, i), v in inp.items() if k == "kickstart"]
assert ks == [sha(sys.argv[2])], ("kickstart", ks)
for r in ("os", "updates", "kernel"):
    assert inp[("repomd", r)] == sha("%s/repos/%s/repodata/repomd.xml" % (sys.argv[3], r)), r
# every package has a checksum, a location and a size
for p in l["packages"]:
    assert p["checksum_type"] == "sha256" and len(p["checksum"]) == 64 and p["location"] and p["size"] > 0, p
print("lock inputs ok")
PY

# diff: the kernel change, nothing else.
"$IMGBUILD" diff "$WORK/new.lock" "$WORK/old.lock" > "$WORK/diff.txt" || fail "diff failed"
cat "$WORK/diff.txt"
grep -q "^downgraded (1):" "$WORK/diff.txt" || fail "diff: expected one downgrade"
grep -qF "kernel: $KERNEL_NEVRA_NEW (repo kernel) -> $KERNEL_NEVRA_OLD (repo kernel)" "$WORK/diff.txt" || fail "diff: kernel line"
grep -q "^summary: 0 added, 0 removed, 0 upgraded, 1 downgraded" "$WORK/diff.txt" || fail "diff: summary"

# --offline: same set from the cache; without a cache, a clear error.
"${RES[@]}" --offline -o "$WORK/offline.lock" 2> "$WORK/off.err" || { cat "$WORK/off.err"; fail "offline resolve failed"; }
lockset "$WORK/offline.lock" | diff -u "$WORK/ours.txt" - || fail "offline set differs"
IMGBUILD_CACHE_DIR="$WORK/empty-cache" "${RES[@]}" --offline -o "$WORK/x.lock" > "$WORK/off2.out" 2>&1
rc=$?
cat "$WORK/off2.out"
[ "$rc" = 4 ] || fail "offline without cache: exit $rc, expected 4"
grep -q "repo 'os': --offline, but no cached metadata" "$WORK/off2.out" || fail "offline message"

# "-o -" writes the lock to stdout.
"${RES[@]}" -q -o - > "$WORK/stdout.lock" || fail "-o -"
lockset "$WORK/stdout.lock" | diff -q "$WORK/ours.txt" - > /dev/null || fail "-o - lock differs"

# A cold resolve (XML) and a warm one (.solv cache) give byte-identical
# locks: same packages, same install order.
IMGBUILD_CACHE_DIR="$WORK/cache-det" "${RES[@]}" -q -o "$WORK/det-cold.lock" || fail "cold resolve"
IMGBUILD_CACHE_DIR="$WORK/cache-det" "${RES[@]}" -q -o "$WORK/det-warm.lock" || fail "warm resolve"
cmp "$WORK/det-cold.lock" "$WORK/det-warm.lock" || fail "cold and warm resolves give different locks"
echo PASS
