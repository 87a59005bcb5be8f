#!/bin/bash
# mkrepo.sh OUT — tiny signed rpm-md repo for the install tests, built with
# rpmbuild (Lua scriptlets: the root has no shell).  Writes:
#   OUT/repo/            rpm-md repo (all packages signed by OUT/key.asc)
#   OUT/key.asc          the repo's public key;  OUT/other.asc  another key
#   OUT/extra/           variants: tfiles signed by the other key, unsigned
#                        tfiles, tampered tfiles (payload byte flipped)
# Packages: tsetup (passwd/group with group tgrp 1234, user tuser 1234),
# tfiles (setgid root:tgrp file, symlink, %doc, %lang(fr)/(de) files, a
# tuser-owned dir, a %post), tfail (%pre fails), tconflict (a file tfiles
# also has), tbig (30 MiB of zeros), tpay-{xz,gz,bz2,zst} (the same
# files; payloads compressed with xz, gzip, bzip2, zstd; the rest: gzip;
# tpay-xz has a lua %pretrans, as CentOS 7's filesystem package does).
set -euo pipefail
out=$(realpath -m "$1")
rm -rf "$out"; mkdir -p "$out"/{top,repo,extra,gnupg}
export GNUPGHOME="$out/gnupg"; chmod 700 "$GNUPGHOME"
for k in good other; do
  gpg --batch --quiet --passphrase '' --quick-gen-key "imgbuild-test-$k <$k@test.invalid>" rsa2048 sign never
done
gpg --batch --armor --export good@test.invalid > "$out/key.asc"
gpg --batch --armor --export other@test.invalid > "$out/other.asc"
top="$out/top"; mkdir -p "$top"/{SPECS,SOURCES,BUILD,RPMS,SRPMS,BUILDROOT}
common='%global debug_package %{nil}
%global __os_install_post %{nil}
%global _build_id_links none
Version: 1.0
Release: 1
License: MIT
Summary: imgbuild install test package
'
cat > "$top/SPECS/tsetup.spec" <<S
Name: tsetup
$common
BuildArch: noarch
%description
users and groups
%install
mkdir -p %{buildroot}/etc
printf 'root:x:0:0:root:/root:/bin/sh\ntuser:x:1234:1234::/home/tuser:/bin/sh\n' > %{buildroot}/etc/passwd
printf 'root:x:0:\ntgrp:x:1234:\n' > %{buildroot}/etc/group
%files
%config(noreplace) /etc/passwd
%config(noreplace) /etc/group
S
cat > "$top/SPECS/tfiles.spec" <<S
Name: tfiles
$common
Requires(pre): tsetup
%description
files with owners, modes, links, docs, langs
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/doc/tfiles %{buildroot}/var/lib/tfiles
mkdir -p %{buildroot}/usr/share/locale/fr/LC_MESSAGES %{buildroot}/usr/share/locale/de/LC_MESSAGES
echo tool > %{buildroot}/usr/bin/tool
echo sgtool > %{buildroot}/usr/bin/sg-tool
ln -s tool %{buildroot}/usr/bin/tool-link
echo readme > %{buildroot}/usr/share/doc/tfiles/README
echo fr > %{buildroot}/usr/share/locale/fr/LC_MESSAGES/tfiles.mo
echo de > %{buildroot}/usr/share/locale/de/LC_MESSAGES/tfiles.mo
%post -p <lua>
local f = io.open("/var/lib/tfiles/post-ran", "w"); f:write("yes\n"); f:close()
local wal = io.open("/var/lib/rpm/rpmdb.sqlite-wal")
f = io.open("/var/lib/tfiles/rpmdb-journal", "w"); f:write(wal and "wal\n" or "none\n"); f:close()
%files
%attr(0755,root,root) /usr/bin/tool
%attr(2755,root,tgrp) /usr/bin/sg-tool
/usr/bin/tool-link
%doc /usr/share/doc/tfiles/README
%lang(fr) /usr/share/locale/fr/LC_MESSAGES/tfiles.mo
%lang(de) /usr/share/locale/de/LC_MESSAGES/tfiles.mo
%dir %attr(0750,tuser,tgrp) /var/lib/tfiles
S
cat > "$top/SPECS/tfail.spec" <<S
Name: tfail
$common
BuildArch: noarch
%description
a failing pre scriptlet
%install
mkdir -p %{buildroot}/usr/share/tfail; echo x > %{buildroot}/usr/share/tfail/x
%pre -p <lua>
error("tfail pre scriptlet says no")
%files
/usr/share/tfail/x
S
cat > "$top/SPECS/tconflict.spec" <<S
Name: tconflict
$common
%description
conflicts with tfiles on a file
%install
mkdir -p %{buildroot}/usr/bin; echo other > %{buildroot}/usr/bin/tool
%files
/usr/bin/tool
S
cat > "$top/SPECS/tbig.spec" <<S
Name: tbig
$common
BuildArch: noarch
%description
30 MiB
%install
mkdir -p %{buildroot}/usr/share/tbig; head -c 31457280 /dev/zero > %{buildroot}/usr/share/tbig/blob
%files
/usr/share/tbig/blob
S
# the same content in each payload container rpm writes: xz (CentOS 7's),
# gzip, bzip2, zstd; random bytes across several blocks, zeros, a hard link
for c in xz:w2.xzdio gz:w6.gzdio bz2:w9.bzdio zst:w19.zstdio; do
cat > "$top/SPECS/tpay-${c%%:*}.spec" <<S
Name: tpay-${c%%:*}
%define _binary_payload ${c#*:}
$common
BuildArch: noarch
%description
payload compressed with ${c#*:}
%install
d=%{buildroot}/usr/share/tpay-${c%%:*}; mkdir -p \$d
head -c 307201 /dev/urandom > \$d/random; head -c 1048576 /dev/zero > \$d/zeros
echo hello > \$d/hello; ln \$d/hello \$d/hello-link
%files
/usr/share/tpay-${c%%:*}
$([ "${c%%:*}" = xz ] && printf '%s\n' '%pretrans -p <lua>' 'local opened_before_the_install = true')
S
done
for s in "$top"/SPECS/*.spec; do
  rpmbuild --quiet --define "_topdir $top" --target x86_64 -bb "$s" >/dev/null 2>"$out/rpmbuild.log" ||
    { cat "$out/rpmbuild.log" >&2; exit 1; }
done
find "$top/RPMS" -name '*.rpm' -exec cp {} "$out/repo/" \;
cp "$out/repo/"tfiles-*.rpm "$out/extra/tfiles-unsigned.rpm"
sign() { rpmsign --define "__gpg $(command -v gpg)" --define "_gpg_name $1" --define "_gpg_path $GNUPGHOME" --addsign "${@:2}" >/dev/null 2>&1 </dev/null || { echo "rpmsign failed" >&2; exit 1; }; }
sign good@test.invalid "$out/repo/"*.rpm
cp "$out/extra/tfiles-unsigned.rpm" "$out/extra/tfiles-otherkey.rpm"
sign other@test.invalid "$out/extra/tfiles-otherkey.rpm"
# tampered: flip one byte in the last 64 bytes (inside the compressed payload)
cp "$out/repo/"tfiles-*.rpm "$out/extra/tfiles-tampered.rpm"
python3 - "$out/extra/tfiles-tampered.rpm" <<'P'
import sys, os
p = sys.argv[1]; n = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(n - 40); b = f.read(1); f.seek(n - 40); f.write(bytes([b[0] ^ 0xff]))
P
createrepo_c --quiet "$out/repo" >/dev/null
echo "$out"
