#!/usr/bin/env python3
"""bench/measure.py OUT.json LOG -- CMD [ARGS...]

Runs CMD (stdout+stderr to LOG), timestamps every "==> STAGE" line it
prints, and samples the memory of its whole process tree (the sum of VmRSS
over CMD and every descendant: rpm scriptlets, qemu, the libguestfs
appliance) every 0.2 s from /proc.  Writes OUT.json:
  {"rc", "total", "peak_rss_mib", "max_single_rss_mib",
   "stages": [{"name", "seconds", "peak_rss_mib"}, ...]}
A stage runs from its "==> NAME" line to the next one (or the end);
imgbuild's "stage timings:" summary line starts a stage named "cleanup".  Time
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


TICK = os.sysconf("SC_CLK_TCK")


def tree_usage(pid):
    """(sum of VmRSS in KiB, CPU seconds incl. reaped children) of the tree."""
    kids = children_map()
    total, cpu, todo, seen = 0, 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(kids.get(p, []))
        try:
            with open("/proc/%d/stat" % p) as f:
                st = f.read()
            v = st[st.rindex(")") + 2:].split()
            cpu += sum(int(x) for x in v[11:15])   # utime stime cutime cstime
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            pass
    return total, cpu / TICK


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
                kib, cpu = tree_usage(proc.pid)
                samples.append((time.monotonic(), kib, cpu))
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
            elif s == "stage timings:":
                # imgbuild's summary: what follows is its exit (work dir removal)
                marks.append((now, "cleanup"))
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
        inside = [x for x in samples if ts <= x[0] <= te]
        before = [x for x in samples if x[0] < ts]
        peak = max([k for (_, k, _) in inside] or [0])
        cpu = (inside[-1][2] - (before[-1][2] if before else 0)) if inside else 0
        stages.append({"name": name, "seconds": round(te - ts, 3), "peak_rss_mib": round(peak / 1024, 1),
                       "cpu_seconds": round(max(cpu, 0), 2)})
    maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = {"rc": rc, "total": round(t_end - t0, 3),
           "peak_rss_mib": round(max([k for _, k, _ in samples] or [0]) / 1024, 1),
           "max_single_rss_mib": round(maxrss / 1024, 1), "stages": stages}
    with open(out_json, "w") as f:
        json.dump(res, f)
    sys.exit(rc)


if __name__ == "__main__":
    main()
