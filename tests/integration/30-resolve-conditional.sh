#!/usr/bin/env bash
# Conditional comps packages (<packagereq type="conditional" requires="X">Y),
# on the fixture os repo rebuilt with a comps whose @core has three:
#   zstd if tar                       tar: a @core member            → in
#   python3-more-itertools if python3 python3: only a dependency of
#                                     the kickstart's cloud-init     → in
#   python3-zipp if nosuch-package                                   → out
# and the whole set equals what Debian's dnf resolves with conditional
# packages enabled (dnf installs them as "(Y if X)", as we do: Y is a
# provide, so a Y that something installed already provides adds nothing).
set -u
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$FIXTURE/fixture.env" ] || { echo "no fixture"; exit 77; }
. "$FIXTURE/fixture.env"
export IMGBUILD_CACHE_DIR="$WORK/cache"
command -v createrepo_c > /dev/null || { echo "no createrepo_c"; exit 77; }

mkdir -p "$WORK/os"
ln -s "$(readlink -f "$FIXTURE/repos/os/Packages")" "$WORK/os/Packages"
python3 - "$FIXTURE/comps.xml" "$WORK/comps.xml" <<'PY' || fail "comps"
import sys
src, dst = sys.argv[1:3]
x = open(src).read()
core = x.index("<id>core</id>")
end = x.index("</packagelist>", core)
add = ('<packagereq type="conditional" requires="tar">zstd</packagereq>\n'
       '<packagereq type="conditional" requires="python3">python3-more-itertools</packagereq>\n'
       '<packagereq type="conditional" requires="nosuch-package">python3-zipp</packagereq>\n')
open(dst, "w").write(x[:end] + add + x[end:])
PY
createrepo_c -q -g "$WORK/comps.xml" "$WORK/os" || fail "createrepo_c"
sed -e "s|^baseurl=.*/repos/os\$|baseurl=file://$WORK/os|" "$FIXTURE/fixture.repo" |
        awk '/^\[/{sec=$0} sec=="[os]" && /^repo_gpgcheck=/{print "repo_gpgcheck=0"; next} {print}' > "$WORK/c.repo"
grep -q "baseurl=file://$WORK/os" "$WORK/c.repo" || fail "repo file rewrite"

RES=("$IMGBUILD" resolve -p demo --repo-file "$WORK/c.repo")
"${RES[@]}" -o "$WORK/c.lock" 2> "$WORK/c.err" || { cat "$WORK/c.err"; fail "resolve failed"; }
"${RES[@]}" --dry-run > "$WORK/plan.json" || fail "dry-run failed"

lockset() {
        python3 - "$1" <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))
for p in sorted(l["packages"], key=lambda p: p["name"]):
    e = "%d:" % p["epoch"] if p["epoch"] else ""
    print("%s-%s%s-%s.%s %s" % (p["name"], e, p["version"], p["release"], p["arch"], p["repo"]))
PY
}
lockset "$WORK/c.lock" > "$WORK/ours.txt"
has() { grep -q "^$1-[^ ]* os\$" "$WORK/ours.txt"; }
has zstd || fail "zstd (conditional on tar, a @core member) is missing"
has python3-more-itertools || fail "python3-more-itertools (conditional on python3, a dependency) is missing"
! has python3-zipp || fail "python3-zipp (conditional on a package nobody installs) is in"
echo "ok: zstd and python3-more-itertools in, python3-zipp out"

# dnf, with conditional packages (yum's group_conditionals, el7's installer).
/usr/bin/python3 - "$WORK/plan.json" "$WORK/dnfroot" > "$WORK/dnf.txt" 2> "$WORK/dnf.err" <<'PY' || { cat "$WORK/dnf.err"; fail "dnf failed"; }
import json, sys, dnf
plan, root = json.load(open(sys.argv[1])), sys.argv[2]
b = dnf.Base()
c = b.conf
c.installroot = root
c.cachedir = root + "/cache"
c.reposdir = []
c.config_file_path = "/dev/null"
c.substitutions["releasever"] = plan.get("releasever") or "2"
c.substitutions["basearch"] = plan["arch"]
c.arch = plan["arch"]
c.gpgcheck = False
c.install_weak_deps = not plan["packages"].get("exclude_weakdeps", False)
c.exclude = plan["packages"]["excludes"] or []
for r in plan["repos"]:
    if r["enabled"]:
        b.repos.add_new_repo(r["id"], c, baseurl=r["baseurls"], gpgkey=r["gpgkeys"] or [],
                             repo_gpgcheck=r["repo_gpgcheck"], gpgcheck=False, priority=r["priority"], cost=r["cost"])
b.fill_sack(load_system_repo=False)
b.read_comps()
pk = plan["packages"]
groups = list(pk["groups"])
if not pk["nocore"] and not any(g["id"] == "core" for g in groups):
    groups.append({"id": "core", "nodefaults": False, "optional": False})
for g in groups:
    types = ["mandatory", "conditional"] + ([] if g["nodefaults"] else ["default"]) + (["optional"] if g["optional"] else [])
    b.group_install(b.comps.group_by_pattern(g["id"]).id, types, exclude=pk["excludes"] or None)
for n in list(pk["names"] or []) + list(pk["implicit"] or []):
    b.install(n)
b.resolve()
for tsi in sorted(b.transaction, key=lambda t: t.pkg.name):
    p = tsi.pkg
    e = "%d:" % p.epoch if p.epoch else ""
    print("%s-%s%s-%s.%s %s" % (p.name, e, p.version, p.release, p.arch, p.reponame))
PY
diff -u "$WORK/dnf.txt" "$WORK/ours.txt" || fail "our set differs from dnf's (- dnf, + imgbuild)"
echo "ok: the same $(wc -l < "$WORK/ours.txt") packages as dnf"
echo PASS
