#!/usr/bin/env python3
"""compare.py REPORT.json CASES.tsv GOOD [GOOD2] — judge `imgbuild check --json` output.

GOOD (and GOOD2: the synthetic good image when the broken copies come from
another one) must have no FAILED item and WARNINGs only where ALLOWED_WARNINGS
(env, "item=reason;…") says why.  Each case (file, item, expected status)
must have that item FAILED (or non-OK for NOTOK) and every other item exactly
as in its good image.  A case whose item already has the expected status
in the good image cannot prove anything: reported, not counted as a pass.
Exit 0 when all hold."""
import json, os, sys

reports = json.load(open(sys.argv[1]))
if isinstance(reports, dict):
    reports = [reports]
by_image = {r["image"]: r for r in reports}
cases = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()]
goods = sys.argv[3:]
allowed = {}
for kv in filter(None, os.environ.get("ALLOWED_WARNINGS", "").split(";")):
    k, _, why = kv.partition("=")
    allowed[k.strip()] = why.strip()

def items(r):
    return {i["name"]: i for i in r["check_items"]}

bad = 0
def fail(msg):
    global bad
    bad += 1
    print("FAIL  " + msg)

for g in goods:
    r = by_image.get(g)
    if not r or "error" in r:
        fail(f"good image {g}: no report ({r and r.get('error')})")
        continue
    for name, it in items(r).items():
        if it["result"] == "FAILED":
            fail(f"good image {g}: {name} FAILED: {it['description']}")
        elif it["result"] == "WARNING":
            if name in allowed:
                print(f"ok    good image {os.path.basename(g)}: {name} WARNING allowed ({allowed[name]}): {it['description']}")
            else:
                fail(f"good image {g}: {name} WARNING not allowed: {it['description']}")
    print(f"ok    good image {os.path.basename(g)}: {r['ok']} OK, {r['warning']} WARNING, {r['failed']} FAILED")

passed = unproven = 0
for f, item, want, what, base in cases:
    if want == "SKIP":
        print(f"skip  {item}: {what}")
        continue
    r, g = by_image.get(f), by_image.get(base)
    if not r or "error" in r or not g or "error" in g:
        fail(f"{os.path.basename(f)}: no report ({r and r.get('error')})")
        continue
    ri, gi = items(r), items(g)
    base_st = gi[item]["result"]
    if base_st == want or (want == "NOTOK" and base_st != "OK") or (want == "WARNING" and base_st == "FAILED"):
        unproven += 1
        print(f"note  {item} ({what}): already {base_st} in the good image, cannot prove the break")
        continue
    got = ri[item]["result"]
    ok = got == want or (want == "NOTOK" and got != "OK")
    if not ok:
        fail(f"{item} ({what}): expected {want}, got {got}: {ri[item]['description']}")
        continue
    others = [n for n in ri if n != item and ri[n]["result"] != gi[n]["result"]]
    if others:
        fail(f"{item} ({what}): other items changed too: " +
             ", ".join(f"{n} {gi[n]['result']}->{ri[n]['result']} ({ri[n]['description']})" for n in others))
        continue
    passed += 1
    print(f"ok    {item:16} {got:8} {what}: {ri[item]['description'][:110]}")
print(f"{passed} breaks proven, {unproven} unprovable, {bad} failures")
sys.exit(1 if bad else 0)
