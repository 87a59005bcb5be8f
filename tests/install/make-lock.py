#!/usr/bin/python3
"""make-lock.py — a lock file (builder/lock.c format) for the install tests,
until `imgbuild resolve` exists.

  make-lock.py --repo ID=BASEURL [--repo ...] [--arch x86_64] [-o LOCK]
               [--dnf] [--group GROUP] [NAME ...]

Without --dnf: the newest package of each NAME (all packages when no NAME)
is taken from the repos' primary.xml (only file:// base URLs).  With --dnf:
NAMEs and @groups are resolved with dnf's Python API (weak deps off), as
`dnf --installroot` would install them."""
import argparse, gzip, json, lzma, os, subprocess, sys, tempfile
import xml.etree.ElementTree as ET

NS = {"c": "http://linux.duke.edu/metadata/common", "r": "http://linux.duke.edu/metadata/repo",
      "rpm": "http://linux.duke.edu/metadata/rpm"}


def read_maybe_compressed(path):
    data = open(path, "rb").read()
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    return data


def primary_packages(repo_id, baseurl):
    root = baseurl[len("file://"):] if baseurl.startswith("file://") else baseurl
    repomd = ET.parse(os.path.join(root, "repodata/repomd.xml")).getroot()
    loc = [d.find("r:location", NS).get("href") for d in repomd.findall("r:data", NS) if d.get("type") == "primary"][0]
    prim = ET.fromstring(read_maybe_compressed(os.path.join(root, loc)))
    for p in prim.findall("c:package", NS):
        v = p.find("c:version", NS)
        cs = p.find("c:checksum", NS)
        yield {"name": p.find("c:name", NS).text, "epoch": int(v.get("epoch") or 0), "version": v.get("ver"),
               "release": v.get("rel"), "arch": p.find("c:arch", NS).text, "repo": repo_id, "baseurl": baseurl,
               "location": p.find("c:location", NS).get("href"), "checksum_type": cs.get("type"),
               "checksum": cs.text, "size": int(p.find("c:size", NS).get("package"))}


def with_dnf(repos, arch, names, groups):
    import dnf
    base = dnf.Base()
    tmp = tempfile.mkdtemp(prefix="make-lock.")
    base.conf.installroot = tmp
    base.conf.cachedir = os.path.join(tmp, "cache")
    base.conf.install_weak_deps = False
    base.conf.substitutions["arch"] = arch
    base.conf.substitutions["basearch"] = arch
    for rid, url in repos:
        base.repos.add_new_repo(rid, base.conf, baseurl=[url], gpgcheck=False)
    base.fill_sack(load_system_repo=False)
    if groups:
        base.read_comps()
        for g in groups:
            base.group_install(g, ("mandatory", "default"))
    for n in names:
        base.install(n)
    base.resolve()
    out = []
    urls = dict(repos)
    for p in base.transaction.install_set:
        ctype, csum = p.returnIdSum()
        out.append({"name": p.name, "epoch": int(p.epoch or 0), "version": p.version, "release": p.release,
                    "arch": p.arch, "repo": p.reponame, "baseurl": urls[p.reponame], "location": p.location,
                    "checksum_type": ctype, "checksum": csum, "size": int(p.downloadsize)})
    subprocess.run(["rm", "-rf", tmp])
    return out


def evr_key(p):
    import rpm
    return (p["epoch"], p["version"], p["release"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", action="append", required=True, help="ID=BASEURL")
    ap.add_argument("--arch", default="x86_64")
    ap.add_argument("--dnf", action="store_true")
    ap.add_argument("--group", action="append", default=[])
    ap.add_argument("-o", "--output")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    repos = [tuple(r.split("=", 1)) for r in a.repo]
    if a.dnf:
        pkgs = with_dnf(repos, a.arch, a.names, a.group)
    else:
        import rpm
        best = {}
        for rid, url in repos:
            for p in primary_packages(rid, url):
                if a.names and p["name"] not in a.names:
                    continue
                o = best.get(p["name"])
                if o is None or rpm.labelCompare(tuple(map(str, evr_key(p))), tuple(map(str, evr_key(o)))) > 0:
                    best[p["name"]] = p
        missing = [n for n in a.names if n not in best]
        if missing:
            sys.exit("make-lock: not found: " + " ".join(missing))
        pkgs = list(best.values())
    pkgs.sort(key=lambda p: p["name"])
    lock = {"lock_format": 1, "release": "test", "arch": a.arch, "inputs": [], "packages": pkgs}
    s = json.dumps(lock, indent=2) + "\n"
    if a.output:
        with open(a.output, "w") as f:
            f.write(s)
    else:
        sys.stdout.write(s)


main()
