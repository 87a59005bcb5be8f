#!/usr/bin/python3
"""lockedit.py LOCK OUT NAME KEY=VALUE... — copy a lock, changing fields of
package NAME (size/epoch as integers; file=PATH sets location/baseurl,
size and sha256 from that file)."""
import hashlib, json, os, sys
lock = json.load(open(sys.argv[1]))
name = sys.argv[3]
hits = [p for p in lock["packages"] if p["name"] == name]
if not hits:
    sys.exit("lockedit: no package " + name)
for kv in sys.argv[4:]:
    k, v = kv.split("=", 1)
    for p in hits:
        if k == "file":
            p["baseurl"] = "file://" + os.path.dirname(os.path.abspath(v))
            p["location"] = os.path.basename(v)
            p["size"] = os.path.getsize(v)
            p["checksum_type"] = "sha256"
            p["checksum"] = hashlib.sha256(open(v, "rb").read()).hexdigest()
        else:
            p[k] = int(v) if k in ("size", "epoch") else v
json.dump(lock, open(sys.argv[2], "w"), indent=2)
