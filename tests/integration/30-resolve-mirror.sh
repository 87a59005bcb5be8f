#!/usr/bin/env bash
# --mirror URL works: a local directory laid out like the real Alibaba mirror
# (alinux/<releasever>/{os,updates,extras,plus}/x86_64, the Cloud Kernel in
# updates, the key at alinux/RPM-GPG-KEY-ALIYUN) made from the fixture repos;
# the real repos/aliyun2.repo + repos/cloud-kernel.repo resolve against it.
set -u
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$FIXTURE/fixture.env" ] || { echo "no fixture"; exit 77; }
. "$FIXTURE/fixture.env"
export IMGBUILD_CACHE_DIR="$WORK/cache"
MIRROR="file://$WORK/mirror"
ARGS=(-p demo --repo-file "$TOP/repos/aliyun2.repo" --repo-file "$TOP/repos/cloud-kernel.repo" --mirror "$MIRROR")

"$IMGBUILD" resolve "${ARGS[@]}" --dry-run > "$WORK/plan.json" || fail "dry-run with --mirror failed"

# Empty repo for extras/plus; os as is; updates = fixture updates + kernel
# (that is where Alibaba ships the Cloud Kernel).
createrepo_c -q "$WORK/empty" >/dev/null 2>&1 || { mkdir -p "$WORK/empty" && createrepo_c -q "$WORK/empty"; } || fail createrepo_c
mkdir -p "$WORK/upd"
find "$FIXTURE/repos/updates" "$FIXTURE/repos/kernel" -name '*.rpm' -exec ln -s {} "$WORK/upd/" \;
createrepo_c -q "$WORK/upd" || fail "createrepo_c updates"

python3 - "$WORK/plan.json" "$WORK" "$FIXTURE" <<'PY' || fail "mirror layout"
import json, os, sys
plan, work, fixture = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
prefix = "file://" + work + "/mirror"
for r in plan["repos"]:
    for u in r["baseurls"]:
        assert u.startswith(prefix), ("--mirror did not rewrite", u)
        d = u[len("file://"):].rstrip("/")
        if os.path.lexists(d):
            continue
        os.makedirs(os.path.dirname(d), exist_ok=True)
        kind = d.split("/")[-2]
        src = {"os": fixture + "/repos/os", "updates": work + "/upd"}.get(kind, work + "/empty")
        os.symlink(src, d)
    for k in r["gpgkeys"]:
        assert k.startswith(prefix), ("gpgkey not rewritten", k)
        p = k[len("file://"):]
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if not os.path.exists(p):
            os.symlink(fixture + "/RPM-GPG-KEY-imgbuild-fixture", p)
PY
find "$WORK/mirror" -maxdepth 4 | sort

"$IMGBUILD" resolve "${ARGS[@]}" -o "$WORK/m.lock" 2> "$WORK/err" || { cat "$WORK/err"; fail "resolve with --mirror failed"; }
cat "$WORK/err"
python3 - "$WORK/m.lock" "$MIRROR" "$KERNEL_NEVRA_NEW" "${UPDATED_PACKAGES:-}" <<'PY' || fail "lock content"
import json, sys
l = json.load(open(sys.argv[1])); mirror = sys.argv[2]; kernel = sys.argv[3]; updated = sys.argv[4].split()
nevra = lambda p: "%s-%s%s-%s.%s" % (p["name"], "%d:" % p["epoch"] if p["epoch"] else "", p["version"], p["release"], p["arch"])
for p in l["packages"]:
    assert p["baseurl"].startswith(mirror), p
k = [p for p in l["packages"] if p["name"] == "kernel"]
assert len(k) == 1 and nevra(k[0]) == kernel and k[0]["repo"] == "cloud-kernel", k
u = [p for p in l["packages"] if p["name"] in updated]
assert u and all(p["repo"] == "updates" for p in u), u
print("%d packages from %s; kernel %s from cloud-kernel; %d from updates" % (len(l["packages"]), mirror, kernel, len(u)))
PY
echo PASS
