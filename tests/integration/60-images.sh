#!/usr/bin/env bash
# The outputs of a real demo build (qcow2 + VHD), checked from the outside:
#  - qcow2: qemu-img info (compat 1.1, zlib), qemu-img check clean with
#    compressed clusters present;
#  - VHD: a dynamic VHD (footer cookie, disk type 3), virtual size exactly the
#    qcow2's, byte-identical to the raw disk through the vpc driver
#    (qemu-img compare -f raw -F vpc);
#  - SHA256SUMS verifies with sha256sum -c and covers images, manifest, SBOM;
#  - manifest: release, images with exact virtual sizes and digests, kernel
#    NEVRA, packages = the image's rpmdb (rpm -qa on the image's own database),
#    stage timings;
#  - SBOM: SPDX 2.3 (tests/integration/spdx23_check.py), the same packages;
#  - no temp file left in the output directory.
set -uo pipefail
. "$TOP/tests/lib.sh"
[ -f "$FIXTURE/fixture.env" ] || skip "no fixture"
dir=$(demo_image_dir)
cd "$dir" || fail "no output dir"
qcow2=$(ls *.qcow2 | head -n1)
vhd=$(ls *.vhd | head -n1)
name=${qcow2%.qcow2}
[ -n "$qcow2" ] && [ "$vhd" = "$name.vhd" ] || fail "expected NAME.qcow2 and NAME.vhd in $dir: $(ls)"
for f in "$name.manifest.json" "$name.spdx.json" SHA256SUMS; do [ -s "$f" ] || fail "missing $f"; done
ls -A | grep -q '\.tmp\.' && fail "temp files left: $(ls -A)"

# qcow2
qemu-img info --output=json -f qcow2 "$qcow2" > "$WORK/info.json" || fail "qemu-img info"
qemu-img check --output=json -f qcow2 "$qcow2" > "$WORK/check.json" || fail "qemu-img check: $(cat "$WORK/check.json")"
python3 - "$WORK/info.json" "$WORK/check.json" <<'PY' || fail "qcow2 properties"
import json, sys
info, chk = (json.load(open(p)) for p in sys.argv[1:3])
d = info["format-specific"]["data"]
assert d["compat"] == "1.1", d
assert d.get("compression-type", "zlib") == "zlib", d
assert chk.get("check-errors", 0) == 0 and "corruptions" not in chk and "leaks" not in chk, chk
assert chk["compressed-clusters"] > 0, chk
print("qcow2: compat %s, %s, %d/%d clusters compressed" % (d["compat"], d.get("compression-type"),
      chk["compressed-clusters"], chk["allocated-clusters"]))
PY
vsize=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["virtual-size"])' "$WORK/info.json")

# VHD: dynamic, exact size, same bytes as the raw disk.
vvsize=$(qemu-img info --output=json -f vpc "$vhd" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
[ "$vvsize" = "$vsize" ] || fail "VHD virtual size $vvsize != qcow2 $vsize"
python3 - "$vhd" "$vsize" <<'PY' || fail "VHD footer"
import struct, sys, os
f = open(sys.argv[1], "rb"); f.seek(-512, os.SEEK_END); foot = f.read(512)
assert foot[:8] == b"conectix", foot[:8]
cur = struct.unpack(">Q", foot[48:56])[0]; dtype = struct.unpack(">I", foot[60:64])[0]
assert dtype == 3, "disk type %d, not dynamic (3)" % dtype
assert cur == int(sys.argv[2]), "footer current size %d != %s" % (cur, sys.argv[2])
print("vhd: dynamic, current size %d" % cur)
PY
qemu-img convert -f qcow2 -O raw "$qcow2" "$WORK/disk.raw" || fail "qcow2 to raw"
[ "$(stat -c %s "$WORK/disk.raw")" = "$vsize" ] || fail "raw size != virtual size"
qemu-img compare -f raw -F vpc "$WORK/disk.raw" "$vhd" || fail "raw and VHD differ"
qemu-img compare -f qcow2 -F vpc "$qcow2" "$vhd" || fail "qcow2 and VHD differ"

# SHA256SUMS
sha256sum -c SHA256SUMS || fail "sha256sum -c"
for f in "$qcow2" "$vhd" "$name.manifest.json" "$name.spdx.json"; do
        grep -q "^[0-9a-f]\{64\}  $f\$" SHA256SUMS || fail "SHA256SUMS does not cover $f"
done

# The image's own rpmdb, read by the host's rpm (bdb through bdb_ro).
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
mkdir -p "$WORK/rpmdb"
guestfish --ro -a "$WORK/disk.raw" -i copy-out /var/lib/rpm "$WORK/rpmdb" || fail "guestfish copy-out /var/lib/rpm"
rm -f "$WORK/disk.raw"
db=$WORK/rpmdb/rpm
backend=(); [ -f "$db/rpmdb.sqlite" ] || backend=(--define '_db_backend bdb_ro')
rpm --dbpath "$db" "${backend[@]}" -qa --qf '%{NAME}-%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}.%{ARCH}\n' 2>/dev/null |
        sort > "$WORK/rpmdb.txt"
[ -s "$WORK/rpmdb.txt" ] || fail "the image's rpmdb lists nothing"

python3 - "$name.manifest.json" "$name.spdx.json" "$WORK/rpmdb.txt" "$vsize" "$qcow2" "$vhd" <<'PY' || fail "manifest/SBOM"
import hashlib, json, re, sys
m = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
rpmdb = set(open(sys.argv[3]).read().split())
vsize = int(sys.argv[4]); files = sys.argv[5:7]
assert m["release"] == "20190619", m["release"]
imgs = {i["file"]: i for i in m["images"]}
assert sorted(imgs) == sorted(files), imgs.keys()
for f in files:
    assert imgs[f]["virtual_size"] == vsize, (f, imgs[f]["virtual_size"], vsize)
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        for b in iter(lambda: fh.read(1 << 20), b""):
            h.update(b)
    assert imgs[f]["sha256"] == h.hexdigest(), f
pk = m["packages"]
assert m["package_count"] == len(pk) > 0
nevras = {p["nevra"] for p in pk}
assert len(nevras) == len(pk), "duplicate packages"
for p in pk:
    assert re.fullmatch(r"[0-9a-f]{40,128}", p["checksum"] or ""), p
assert nevras == rpmdb, "manifest vs rpmdb: only in manifest %s, only in rpmdb %s" % (
    sorted(nevras - rpmdb)[:5], sorted(rpmdb - nevras)[:5])
assert m["kernel"] and m["kernel"]["nevra"] in nevras, m["kernel"]
assert m["inputs"]["kickstart"]["sha256"] and m["inputs"]["lock"]["sha256"]
stages = [st["name"] for st in m["stages"]]
for want in ("resolve", "assemble", "convert"):
    assert want in stages, stages
# the root was installed now, or reused from the root cache (a run of the
# same binary before this one stored it)
assert "install" in stages or "rootcache" in stages and "fetch" not in stages, stages
names = sorted(p["name"] for p in pk)
sbom = sorted(p["name"] for p in s["packages"] if p["SPDXID"] != "SPDXRef-Image")
assert sbom == names, "SBOM packages differ from the manifest"
print("manifest: %d packages = rpmdb, kernel %s, stages %s" % (len(pk), m["kernel"]["nevra"], " ".join(stages)))
PY
n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["package_count"])' "$name.manifest.json")
python3 "$TOP/tests/integration/spdx23_check.py" "$name.spdx.json" "$n" || fail "SBOM is not valid SPDX 2.3"
echo "images: ok"
