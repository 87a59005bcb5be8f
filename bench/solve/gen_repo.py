#!/usr/bin/env python3
"""Generate a synthetic rpm-md repo (primary.xml.gz + comps + repomd.xml, no
RPM files) with CentOS-7-like dependency density, for bench/solve.

  gen_repo.py OUTDIR [N] [COMPS_XML]

Every package name of the comps file becomes a package, the rest are
filler packages (pkgNNNNN).  Shape measured on CentOS 7 os primary.xml
(approximate): ~5 provides + ~2 sonames per package, ~12 requires of which
~7 sonames, a few file requires (/bin/sh, /usr/bin/python …), rpmlib()
requires, ~5 primary file entries, occasional conflicts/obsoletes.
Dependencies point "down" a power law so a few base libraries are required
by most packages, like glibc is.  Deterministic (seeded)."""
import bisect
import gzip
import hashlib
import os
import random
import re
import sys
import time

out = sys.argv[1]
n_total = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
comps = sys.argv[3] if len(sys.argv) > 3 else None
rnd = random.Random(7)

names = []
if comps:
    with open(comps, encoding="utf-8") as f:
        text = f.read()
    seen = set()
    # @core's packages first, so they sit low in the dependency order like
    # the real ones do.
    core = re.search(r"<id>core</id>.*?</group>", text, re.S)
    for m in re.finditer(r"<packagereq[^>]*>([^<]+)</packagereq>", (core.group(0) if core else "") + text):
        n = m.group(1).strip()
        if n not in seen:
            seen.add(n)
            names.append(n)
# Base libraries first: they get the most reverse dependencies.
base = ["glibc", "bash", "zlib", "libgcc", "ncurses-libs", "openssl-libs", "libselinux", "systemd-libs",
        "pcre", "xz-libs", "libstdc++", "krb5-libs", "libcom_err", "python", "perl", "coreutils", "filesystem", "setup"]
names = base + [n for n in names if n not in base]
i = 0
while len(names) < n_total:
    names.append("pkg%05d" % i)
    i += 1
names = names[:n_total]
N = len(names)

# sonames: each package ships 0..3 libraries; base ones ship more
sonames = {}
for idx, n in enumerate(names):
    k = 3 if idx < len(base) else rnd.choice([0, 0, 0, 1, 1, 2, 3])
    sonames[n] = ["lib%s-%d.so.%d()(64bit)" % (re.sub(r"[^a-z0-9]", "", n.lower()) or "x", j, rnd.randint(0, 9))
                  for j in range(k)]
providers = [(idx, s) for idx, n in enumerate(names) for s in sonames[n]]


provider_idx = [pi for pi, _ in providers]


def pick_dep(idx):
    # Dependencies point down the list (a DAG, like libraries under
    # applications), skewed toward the base libraries.
    count = bisect.bisect_left(provider_idx, idx + 120)
    if count == 0:
        return None
    return providers[min(int(count * (rnd.random() ** 2.0)), count - 1)][1]


files = ["/bin/sh", "/usr/bin/python", "/usr/bin/perl", "/sbin/ldconfig", "/usr/bin/env"]
file_owner = {"/bin/sh": "bash", "/usr/bin/python": "python", "/usr/bin/perl": "perl", "/sbin/ldconfig": "glibc",
              "/usr/bin/env": "coreutils"}


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


os.makedirs(os.path.join(out, "repodata"), exist_ok=True)
parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" '
         'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="%d">\n' % N]
for idx, n in enumerate(names):
    ver = "%d.%d.%d" % (rnd.randint(0, 5), rnd.randint(0, 20), rnd.randint(0, 9))
    rel = "%d.el7" % rnd.randint(1, 30)
    arch = "noarch" if rnd.random() < 0.25 and idx >= len(base) else "x86_64"
    chk = hashlib.sha256(("%s-%s-%s" % (n, ver, rel)).encode()).hexdigest()
    prov = ['<rpm:entry name="%s" flags="EQ" epoch="0" ver="%s" rel="%s"/>' % (esc(n), ver, rel)]
    if arch == "x86_64":
        prov.append('<rpm:entry name="%s(x86-64)" flags="EQ" epoch="0" ver="%s" rel="%s"/>' % (esc(n), ver, rel))
    for s in sonames[n]:
        prov.append('<rpm:entry name="%s"/>' % esc(s))
    for k in range(rnd.randint(1, 3)):
        prov.append('<rpm:entry name="config(%s-%d)" flags="EQ" epoch="0" ver="%s" rel="%s"/>' % (esc(n), k, ver, rel))
    req = set()
    if idx > 0:
        for _ in range(rnd.randint(3, 11) if idx >= len(base) else 1):
            d = pick_dep(idx)
            if d:
                req.add(d)
        if rnd.random() < 0.5:
            req.add(rnd.choice(files))
        if rnd.random() < 0.3:
            req.add(names[int(idx * rnd.random() ** 2)])
    reqx = ['<rpm:entry name="%s"/>' % esc(r) for r in sorted(req) if r != n]
    reqx.append('<rpm:entry name="rpmlib(CompressedFileNames)" flags="LE" epoch="0" ver="3.0.4" rel="1"/>')
    if rnd.random() < 0.3:
        reqx.append('<rpm:entry name="/sbin/ldconfig" pre="1"/>')
    fl = ["/usr/share/doc/%s" % esc(n)]
    if idx < len(base) or rnd.random() < 0.4:
        fl.append("/usr/bin/%s" % esc(n))
    if rnd.random() < 0.3:
        fl.append("/etc/%s.conf" % esc(n))
    fl += [f for f, o in file_owner.items() if o == n]
    other = ""
    if rnd.random() < 0.02 and idx > 100:
        other += '<rpm:conflicts><rpm:entry name="%s" flags="LT" epoch="0" ver="0.0"/></rpm:conflicts>' % esc(
            names[rnd.randint(0, idx - 1)])
    if rnd.random() < 0.03:
        other += '<rpm:obsoletes><rpm:entry name="%s-compat" flags="LT" epoch="0" ver="%s"/></rpm:obsoletes>' % (
            esc(n), ver)
    parts.append(
        '<package type="rpm"><name>%s</name><arch>%s</arch><version epoch="0" ver="%s" rel="%s"/>'
        '<checksum type="sha256" pkgid="YES">%s</checksum><summary>%s</summary><description>synthetic</description>'
        '<packager>bench</packager><url>https://example.org/</url><time file="1500000000" build="1500000000"/>'
        '<size package="%d" installed="%d" archive="%d"/><location href="Packages/%s-%s-%s.%s.rpm"/>'
        '<format><rpm:license>GPLv2</rpm:license><rpm:group>System</rpm:group>'
        '<rpm:sourcerpm>%s-%s-%s.src.rpm</rpm:sourcerpm><rpm:header-range start="4504" end="%d"/>'
        '<rpm:provides>%s</rpm:provides><rpm:requires>%s</rpm:requires>%s%s</format></package>\n' % (
            esc(n), arch, ver, rel, chk, esc(n), rnd.randint(10000, 5000000), rnd.randint(20000, 20000000),
            rnd.randint(20000, 20000000), esc(n), ver, rel, arch, esc(n), ver, rel, rnd.randint(5000, 90000),
            "".join(prov), "".join(reqx), other, "".join("<file>%s</file>" % f for f in fl)))
parts.append("</metadata>\n")
xml = "".join(parts).encode()
prim_gz = gzip.compress(xml, 6, mtime=0)
entries = []


def put(kind, name, data, open_data):
    sha = hashlib.sha256(data).hexdigest()
    fn = "repodata/%s-%s" % (sha, name)
    with open(os.path.join(out, fn), "wb") as f:
        f.write(data)
    entries.append('<data type="%s"><checksum type="sha256">%s</checksum><open-checksum type="sha256">%s</open-checksum>'
                   '<location href="%s"/><timestamp>%d</timestamp><size>%d</size><open-size>%d</open-size></data>' % (
                       kind, sha, hashlib.sha256(open_data).hexdigest(), fn, int(time.time()), len(data), len(open_data)))


put("primary", "primary.xml.gz", prim_gz, xml)
if comps:
    with open(comps, "rb") as f:
        c = f.read()
    put("group", "comps.xml", c, c)
    cgz = gzip.compress(c, 6, mtime=0)
    put("group_gz", "comps.xml.gz", cgz, c)
with open(os.path.join(out, "repodata/repomd.xml"), "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo" '
            'xmlns:rpm="http://linux.duke.edu/metadata/rpm"><revision>%d</revision>%s</repomd>\n' % (
                int(time.time()), "".join(entries)))
print("%d packages, primary.xml %.1f MB (%.1f MB gz), avg requires %.1f" % (
    N, len(xml) / 1e6, len(prim_gz) / 1e6, xml.count(b"<rpm:entry") / N))
