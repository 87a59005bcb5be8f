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
. "$TOP/tests/lib.sh"
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

lockset "$WORK/c.lock" > "$WORK/ours.txt"
has() { grep -q "^$1-[^ ]* os\$" "$WORK/ours.txt"; }
has zstd || fail "zstd (conditional on tar, a @core member) is missing"
has python3-more-itertools || fail "python3-more-itertools (conditional on python3, a dependency) is missing"
! has python3-zipp || fail "python3-zipp (conditional on a package nobody installs) is in"
echo "ok: zstd and python3-more-itertools in, python3-zipp out"

# dnf, with conditional packages (yum's group_conditionals, el7's installer).
dnfset "$WORK/plan.json" "" "$WORK/dnfroot" > "$WORK/dnf.txt" 2> "$WORK/dnf.err" || { cat "$WORK/dnf.err"; fail "dnf failed"; }
diff -u "$WORK/dnf.txt" "$WORK/ours.txt" || fail "our set differs from dnf's (- dnf, + imgbuild)"
echo "ok: the same $(wc -l < "$WORK/ours.txt") packages as dnf"
echo PASS
