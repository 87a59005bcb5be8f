"""dnf's package set for an imgbuild plan, through dnf's own API (private
config: nothing from the host's /etc/yum.repos.d or /etc/dnf): the oracle the
resolve tests compare our locks with.

usage: /usr/bin/python3 tests/dnfset.py PLAN.json KERNEL-SPEC-or-"" INSTALLROOT
(Debian's python3-dnf lives in the system python, whatever python3 is first
in PATH.)  Prints "name-[epoch:]version-release.arch repo", sorted by name,
as lockset in tests/lib.sh does for a lock."""
import json
import sys

import dnf

plan, kernel, root = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
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
    if not r["enabled"]:
        continue
    repo = b.repos.add_new_repo(r["id"], c, baseurl=r["baseurls"], gpgkey=r["gpgkeys"] or [],
                                repo_gpgcheck=r["repo_gpgcheck"], gpgcheck=False, priority=r["priority"],
                                cost=r["cost"])
    if r["excludes"]:
        repo.excludepkgs = r["excludes"]
    if r["includes"] is not None:
        repo.includepkgs = r["includes"]
b.fill_sack(load_system_repo=False)
b.read_comps()
pk = plan["packages"]
groups = list(pk["groups"])
if not pk["nocore"] and not any(g["id"] == "core" for g in groups):
    groups.append({"id": "core", "nodefaults": False, "optional": False})
for g in groups:
    # conditional packages always, as imgbuild does (yum's group_conditionals
    # on el7, anaconda)
    types = (["mandatory"] if g["nodefaults"] else ["mandatory", "default"]) + ["conditional"]
    if g["optional"]:
        types.append("optional")
    b.group_install(b.comps.group_by_pattern(g["id"]).id, types, exclude=pk["excludes"] or None)
for n in list(pk["names"] or []) + list(pk["implicit"] or []):
    if n == "kernel" and kernel:
        continue
    b.install(n)
if kernel:
    b.install(kernel)
b.resolve()
for tsi in sorted(b.transaction, key=lambda t: t.pkg.name):
    p = tsi.pkg
    e = "%d:" % p.epoch if p.epoch else ""
    print("%s-%s%s-%s.%s %s" % (p.name, e, p.version, p.release, p.arch, p.reponame))
