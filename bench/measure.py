#!/usr/bin/env python3
"""bench/measure.py OUT.json LOG -- CMD [ARGS...]

Runs CMD (stdout+stderr to LOG), timestamps every "==> STAGE" line it
prints, and samples the memory of its whole process tree (the sum of VmRSS
over CMD and every descendant: rpm scriptlets, qemu, the libguestfs
appliance) every 0.2 s from /proc.  Writes OUT.json:
  {"rc", "total", "peak_rss_mib", "max_single_rss_mib",
   "stages": [{"name", "seconds", "peak_rss_mib"}, ...]}
A stage runs from its "==> NAME" line to the next one (or the end).  Time
before the first marker is a stage named "start" when longer than 0.05 s.
"""
import json
import os
import resource
import subprocess
import sys
import threading
import time


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree_rss_kib(pid):
    kids = children_map()
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(kids.get(p, []))
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    out_json, log_path, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    samples = []            # (t, kib)
    marks = []              # (t, name)
    t0 = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sampler():
            while not done.is_set():
                samples.append((time.monotonic(), tree_rss_kib(proc.pid)))
                done.wait(0.2)

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        for raw in proc.stdout:
            now = time.monotonic()
            line = raw.decode("utf-8", "replace")
            log.write(line)
            s = line.strip()
            if s.startswith("==> "):
                marks.append((now, s[4:].split()[0]))
        rc = proc.wait()
        done.set()
        th.join()
    t_end = time.monotonic()
    bounds = []
    if not marks or marks[0][0] - t0 > 0.05:
        bounds.append((t0, "start"))
    bounds += marks
    stages = []
    for i, (ts, name) in enumerate(bounds):
        te = bounds[i + 1][0] if i + 1 < len(bounds) else t_end
        peak = max([k for (t, k) in samples if ts <= t <= te] or [0])
        stages.append({"name": name, "seconds": round(te - ts, 3), "peak_rss_mib": round(peak / 1024, 1)})
    maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = {"rc": rc, "total": round(t_end - t0, 3),
           "peak_rss_mib": round(max([k for _, k in samples] or [0]) / 1024, 1),
           "max_single_rss_mib": round(maxrss / 1024, 1), "stages": stages}
    with open(out_json, "w") as f:
        json.dump(res, f)
    sys.exit(rc)


if __name__ == "__main__":
    main()
