#!/bin/bash
# 10-fixture-dnf.sh — acceptance test of the offline fixture distribution.
#
# Installs the demo image's package set (kickstart/demo.ks %packages) from the
# fixture repos with Debian's own dnf into an installroot, with gpgcheck=1 and
# repo_gpgcheck=1, then checks: rpm -Va is clean, newest builds won (updates
# repo, kernel Release 2), setgid files kept group and mode; the same install
# fails with (a) a tampered RPM payload and (b) a tampered repomd.xml; a warm
# tests/fixture/build.sh run takes < 10 s and prints the same dir.
#
# Env (from tests/run-integration.sh): TOP, FIXTURE, WORK, IMGBUILD, SLOW.
# Exit 0 pass, 77 skip, else fail.
set -euo pipefail

: "${TOP:?}" "${FIXTURE:?}" "${WORK:?}"
FIXTURE=$(cd "$FIXTURE" && pwd -P)
# librepo starts a gpg-agent per repo keyring (repo_gpgcheck) under the
# installroot's dnf cache; stop those (and ours) so nothing outlives $WORK.
stop_agents() {
    local d
    for d in "$WORK"/gnupg "$WORK"/*/root/var/cache/dnf/*/pubring; do
        [ -d "$d" ] && GNUPGHOME=$d gpgconf --kill gpg-agent 2>/dev/null || true
    done
}
trap stop_agents EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (rpm ownership, installroot)"
for t in dnf rpm rpmkeys gpg createrepo_c python3; do
    command -v "$t" >/dev/null || skip "$t not installed"
done
[ -f "$FIXTURE/fixture.env" ] || { echo "FAIL: $FIXTURE/fixture.env missing" >&2; exit 1; }
# shellcheck source=/dev/null
. "$FIXTURE/fixture.env"

# Debian's rpm keeps its database in ~/.rpmdb; images (and dnf's installroot
# here) use /var/lib/rpm.  A private HOME with an .rpmmacros sets it for dnf
# (python3-rpm) and for rpm alike without touching the host config.
export HOME=$WORK/home
mkdir -p "$HOME"
echo '%_dbpath /var/lib/rpm' > "$HOME/.rpmmacros"
RPM=(rpm --dbpath /var/lib/rpm)

# ---- the demo package set -------------------------------------------------
mapfile -t pkgs < <(awk '/^%packages/ { f = 1; next } /^%end/ { f = 0 }
                         f && $1 !~ /^#/ && NF { print $1 }' "$TOP/kickstart/demo.ks")
[ "${#pkgs[@]}" -gt 0 ] || { echo "FAIL: no %packages in kickstart/demo.ks" >&2; exit 1; }
spec=()     # kickstart "-name" excludes a package: dnf -x name
for p in "${pkgs[@]}"; do
    case $p in -*) spec+=(-x "${p#-}") ;; *) spec+=("$p") ;; esac
done

# $1 = name, $2 = dir holding repos/{os,updates,kernel}; writes $WORK/$1/{dnf.conf,repos.d}
mkconf() {
    local d=$WORK/$1 r
    mkdir -p "$d/repos.d"
    cat > "$d/dnf.conf" <<EOF
[main]
gpgcheck=1
repo_gpgcheck=1
localpkg_gpgcheck=1
install_weak_deps=False
plugins=0
keepcache=0
reposdir=$d/repos.d
EOF
    for r in os updates kernel; do
        cat >> "$d/repos.d/fixture.repo" <<EOF
[$r]
name=fixture $r ($1)
baseurl=file://$2/repos/$r
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey=file://$FIXTURE/RPM-GPG-KEY-imgbuild-fixture

EOF
    done
}
# $1 = name; installs into $WORK/$1/root, output in $WORK/$1/dnf.log
dnf_install() {
    local d=$WORK/$1
    dnf -y --config "$d/dnf.conf" --setopt=reposdir="$d/repos.d" \
        --installroot "$d/root" --releasever 2 --forcearch x86_64 \
        install "${spec[@]}" > "$d/dnf.log" 2>&1
}

# ---- 1. good install ---------------------------------------------------------
mkconf good "$FIXTURE"
t0=$(date +%s)
if dnf_install good; then
    ok "dnf installed ${pkgs[*]} ($(( $(date +%s) - t0 ))s)"
else
    echo "FAIL: dnf install from the fixture failed:" >&2; tail -40 "$WORK/good/dnf.log" >&2; exit 1
fi
root=$WORK/good/root
[ -d "$root/var/lib/rpm" ] || { echo "FAIL: no rpmdb at $root/var/lib/rpm (dnf put it elsewhere: $(find "$root" -maxdepth 3 -name 'rpmdb*' -o -maxdepth 3 -name .rpmdb | head -3))" >&2; exit 1; }
grep -q 'Importing GPG key\|imported' "$WORK/good/dnf.log" && ok "fixture key imported by dnf" ||
    fail "dnf never imported the fixture GPG key (is gpgcheck really on?)"
"${RPM[@]}" --root "$root" -q gpg-pubkey >/dev/null || fail "gpg-pubkey not in the image rpmdb"
n=$("${RPM[@]}" --root "$root" -qa | grep -vc '^gpg-pubkey-')
ok "$n packages installed"

# every installed package carries the fixture key's signature
unsigned=$("${RPM[@]}" --root "$root" -qa --qf '%{NAME} %{SIGPGP:pgpsig}%{RSAHEADER:pgpsig}\n' |
           grep -v '^gpg-pubkey ' | grep -vi "key id ${FIXTURE_GPG_KEYID}" || true)
[ -z "$unsigned" ] && ok "all packages signed by $FIXTURE_GPG_KEYID" ||
    fail "packages without the fixture signature: $(echo "$unsigned" | head -5)"

# ---- 2. rpm -Va --------------------------------------------------------------
# No filter (see tests/fixture/README.md).  rpm documents differences it
# expects from scriptlets editing %config files; the fixture has no
# scriptlets, so every file, %config included, must match: any output fails.
va=$("${RPM[@]}" --root "$root" -Va 2>&1 || true)
if [ -z "$va" ]; then ok "rpm -Va clean"; else fail "rpm -Va reports:"; echo "$va" | head -30 >&2; fi

# ---- 3. newest wins ------------------------------------------------------------
k=$("${RPM[@]}" --root "$root" -q kernel --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n')
[ "$k" = "$KERNEL_NEVRA_NEW" ] && ok "kernel $k (newest of $KERNEL_NEVRA_OLD, $KERNEL_NEVRA_NEW)" ||
    fail "kernel installed: $k, expected $KERNEL_NEVRA_NEW"
for nevra in $UPDATED_NEVRAS; do
    name=${nevra%-*-*}
    got=$("${RPM[@]}" --root "$root" -q "$name" --qf '%{NAME}-%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}.%{ARCH}\n' 2>&1 || true)
    [ "$got" = "$nevra" ] && ok "$name from updates: $got" || fail "$name: installed $got, expected $nevra (updates)"
done

# ---- 4. setgid / non-root group files -----------------------------------------
checked=0
for e in $SETGID_FILES; do
    IFS=: read -r path mode owner group <<<"$e"
    [ -e "$root$path" ] || continue
    gid=$(awk -F: -v g="$group" '$1 == g { print $3 }' "$root/etc/group")
    got=$(stat -c '%a %g' "$root$path")
    want="$(printf '%o' "0$mode") $gid"
    if [ -n "$gid" ] && [ "$got" = "$want" ]; then
        checked=$((checked + 1))
    else
        fail "$path: mode/gid '$got', expected '$want' ($mode $owner:$group)"
    fi
done
[ "$checked" -gt 0 ] && ok "$checked setgid non-root-group files kept mode and group" ||
    fail "no setgid non-root-group file was checked (SETGID_FILES='$SETGID_FILES')"
g=$(stat -c '%a %g' "$root/etc/shadow")
[ "$g" = "640 $(awk -F: '$1 == "shadow" { print $3 }' "$root/etc/group")" ] && ok "/etc/shadow 0640 root:shadow" ||
    fail "/etc/shadow is '$g'"

# ---- 5a. tampered package payload ----------------------------------------------
# Copy the repos (hard links), replace one signed RPM of the demo set by a copy
# with flipped payload bytes, and regenerate + re-sign the metadata with the
# fixture key, so only the package's own signature/digest check can catch it.
victim=openssh-server
t=$WORK/tamper-pkg
mkdir -p "$t"
cp -al "$FIXTURE/repos" "$t/repos"
f=$(ls "$t"/repos/os/Packages/"$victim"-[0-9]*.rpm)
cp --remove-destination "$FIXTURE/repos/os/Packages/${f##*/}" "$f"
python3 - "$f" <<'EOF'
import struct, sys
f = sys.argv[1]
b = bytearray(open(f, "rb").read())
def hdr_end(off):                       # header structure: magic, il, dl
    il, dl = struct.unpack(">II", b[off + 8:off + 16])
    return off + 16 + 16 * il + dl
sig = 96
sig_end = hdr_end(sig)
main = sig_end + (-sig_end % 8)          # signature header is 8-aligned
payload = hdr_end(main)
mid = payload + (len(b) - payload) // 2
for i in range(mid, mid + 16):
    b[i] ^= 0xFF
open(f, "wb").write(b)
print("flipped 16 bytes at %d of %d (payload starts at %d)" % (mid, len(b), payload))
EOF
kdb=$WORK/kdb; mkdir -p "$kdb"
rpmkeys --dbpath "$kdb" --import "$FIXTURE/RPM-GPG-KEY-imgbuild-fixture"
if rpmkeys --dbpath "$kdb" --checksig "$f" >/dev/null 2>&1; then
    fail "rpmkeys --checksig accepts the tampered ${f##*/}"
else ok "rpmkeys --checksig rejects the tampered ${f##*/}"; fi
export GNUPGHOME=$WORK/gnupg
cp -a "$FIXTURE/gnupg" "$GNUPGHOME"
rm -rf "$t/repos/os/repodata"
createrepo_c --quiet --no-database -g "$FIXTURE/comps.xml" "$t/repos/os"
gpg --batch --quiet --armor --local-user "$FIXTURE_GPG_FPR" --detach-sign \
    -o "$t/repos/os/repodata/repomd.xml.asc" "$t/repos/os/repodata/repomd.xml"
gpgconf --kill all 2>/dev/null || true
unset GNUPGHOME
mkconf tamper-pkg "$t"
if dnf_install tamper-pkg; then
    fail "dnf installed from a repo with a tampered $victim"
else
    ok "dnf refused the tampered $victim: $(grep -E '^(Error|Problem)|FAILED|BAD|igest' "$t/dnf.log" | head -2 | tr '\n' ' ')"
    grep -q "$victim" "$t/dnf.log" || fail "dnf's error does not name $victim"
    "${RPM[@]}" --root "$t/root" -q "$victim" >/dev/null 2>&1 && fail "$victim got installed anyway"
fi

# ---- 5b. tampered repomd.xml ------------------------------------------------------
t=$WORK/tamper-md
mkdir -p "$t"
cp -al "$FIXTURE/repos" "$t/repos"
md=$t/repos/updates/repodata/repomd.xml
cp --remove-destination "$FIXTURE/repos/updates/repodata/repomd.xml" "$md"
sed -i 's|<revision>\([^<]*\)</revision>|<revision>\1x</revision>|' "$md"
cmp -s "$md" "$FIXTURE/repos/updates/repodata/repomd.xml" && fail "could not tamper repomd.xml"
mkconf tamper-md "$t"
if dnf_install tamper-md; then
    fail "dnf accepted a repomd.xml whose signature does not match"
else
    ok "dnf refused the tampered repomd.xml: $(grep -iE 'signature verification|bad gpg' "$t/dnf.log" | head -1)"
    grep -qiE 'signature verification|bad gpg' "$t/dnf.log" || fail "dnf failed, but not on the signature: $(tail -3 "$t/dnf.log")"
fi

# ---- 6. warm build.sh ---------------------------------------------------------------
# --cached first: if the scripts changed since $FIXTURE was built, say so
# instead of starting a cold build here.
export IMGBUILD_FIXTURE_CACHE=${FIXTURE%/*}
if ! "$TOP/tests/fixture/build.sh" --cached >/dev/null 2>"$WORK/build.log"; then
    fail "warm build.sh: $FIXTURE is not the fixture of the current scripts: $(tail -1 "$WORK/build.log")"
    out='' ms=0
else
    t0=$(date +%s%N)
    out=$("$TOP/tests/fixture/build.sh" 2>"$WORK/build.log" | tail -1) || true
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
fi
if [ -z "$out" ]; then
    :
elif [ "$out" != "$FIXTURE" ]; then
    fail "warm build.sh printed '$out', expected '$FIXTURE'"
elif [ "$ms" -ge 10000 ]; then
    fail "warm build.sh took ${ms} ms (limit 10 s)"
else
    ok "warm build.sh: ${ms} ms, same dir"
fi

[ "$fails" = 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "PASS"
