#!/usr/bin/env bash
# bench/run.sh — `make bench`: imgbuild against the pipeline a user would
# otherwise run (bench/peer.sh: dnf --installroot → update-initramfs →
# virt-make-fs → grub → qemu-img), on the fixture distribution and the demo
# kickstart, alternating, ROUNDS rounds (default 3; ROUNDS=1 for a quick
# look) in one session.  Rows:
#   cold         empty caches (fresh IMGBUILD_CACHE_DIR / dnf cachedir)
#   warm         metadata + package caches filled (imgbuild's root,
#                initramfs and compressed-cluster caches emptied first)
#   incr-overlay lock unchanged, one overlay file changed (imgbuild reuses
#                its cached root + initramfs and the compressed clusters
#                that did not change; the peer has no incremental
#                path: its row is its warm rebuild)
#   incr-kconfig lock unchanged, a kernel-config sysctl.d file changed
#   check        `imgbuild check` of the qcow2 (own row; the builds above
#                use --no-check because the peer checks nothing)
#   convert      qcow2 + VHD conversion (stage times of the build rows)
#   install      bench/install/run.sh (fetch+install vs dnf, cold)
#   solve        bench/solve/run.sh (@core of 10,000 packages)
# Stage times and memory (sum of RSS over the process tree, sampled from
# /proc every 0.2 s) come from bench/measure.py.  Results:
# bench/results/results.md, bench.png, README-performance.md; raw logs and
# JSON in bench/results/<timestamp>.raw/ (not in git).
#   ROUNDS=N  INSTALL_RUNS=3  SOLVE_N=10000  SKIP_SOLVE=1  SKIP_INSTALL=1  FIXTURE=DIR
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-3}
fx=${FIXTURE:-/var/cache/imgbuild/fixture/current}
[ -d "$fx/repos/os" ] || { echo "bench: no fixture at $fx (run tests/fixture/build.sh)"; exit 77; }
for t in dnf virt-make-fs qemu-img gnuplot python3 grub-mkimage sfdisk; do
        command -v "$t" >/dev/null || { echo "bench: $t is missing (make deps)"; exit 1; }
done
[ -x "$top/builder/imgbuild" ] || make -s -C "$top" builder/imgbuild
res=$top/bench/results
raw=$res/$(date -u +%Y%m%dT%H%M%SZ).raw
mkdir -p "$raw/runs"
W=$(mktemp -d "${TMPDIR:-/var/tmp}/imgbuild-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
# one binary for the whole session: a rebuild of builder/imgbuild meanwhile
# would mix versions (and, by design, empty the root cache: its key
# includes the binary's digest)
cp "$top/builder/imgbuild" "$W/imgbuild"
img=$W/imgbuild
[ -e /dev/kvm ] || export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
export FIXTURE=$fx

# one data dir for both tools, its repo file pointing at this fixture
data=$W/data
mkdir -p "$data"
cp -a "$top/kickstart" "$top/repos" "$top/overlays" "$top/kernel-config" "$data/"
sed -i "s|/var/cache/imgbuild/fixture/current|$fx|g" "$data/repos/fixture.repo"
motd=$data/overlays/demo/etc/motd
sysctl=$(ls "$data"/kernel-config/demo/sysctl.d/*.conf | head -n1)
cp "$motd" "$W/motd.orig"; cp "$sysctl" "$W/sysctl.orig"

load() { cut -d' ' -f1 /proc/loadavg; }
# bury DIR…: move DIRs out of the way instead of deleting them (the whole
# of $W goes at exit).  On an ext4 without a journal, as this VM's root is,
# the inode allocator skips every inode freed in the last minutes one by
# one, so a large rm right before a timed run would slow that run down.
bury() {
        mkdir -p "$W/buried"
        local d; for d in "$@"; do [ -e "$d" ] && mv "$d" "$(mktemp -u "$W/buried/XXXXXX")"; done; return 0
}
{
        echo "started $(date -u +%FT%TZ)"
        echo "rounds $rounds"
        echo "host $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB, $(uname -r), kvm: $([ -e /dev/kvm ] && echo yes || echo no)"
        echo "imgbuild $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$top" diff --quiet 2>/dev/null || echo '+changes'), binary sha256 $(sha256sum "$img" | cut -c1-12)"
        echo "qemu-img $(qemu-img --version | head -n1 | awk '{print $3}'), dnf $(dnf --version 2>/dev/null | head -n1), libguestfs $(guestfish --version | awk '{print $2}')"
        echo "load_start $(cat /proc/loadavg)"
} > "$raw/meta.txt"
cat "$raw/meta.txt"

# run ROW TOOL ROUND CMD…: measured, JSON + log in $raw/runs
run() {
        local row=$1 tool=$2 r=$3; shift 3
        local base=$raw/runs/$row-$tool-$r
        sync    # every timed run starts without the previous one's dirty data
        local l0; l0=$(load)
        printf '%-13s %-9s round %s … ' "$row" "$tool" "$r"
        if python3 "$top/bench/measure.py" "$base.json" "$base.log" -- "$@" < /dev/null; then
                python3 - "$base.json" "$l0" "$(load)" <<'PY'
import json, sys
p = sys.argv[1]; d = json.load(open(p))
d["load"] = [float(sys.argv[2]), float(sys.argv[3])]
json.dump(d, open(p, "w"))
print("%.1f s, peak %.0f MiB (load %s→%s)" % (d["total"], d["peak_rss_mib"], sys.argv[2], sys.argv[3]))
PY
        else
                echo "FAILED (log $base.log)"; tail -n 20 "$base.log"; return 1
        fi
}
sizes() { # ROW TOOL ROUND DIR: output sizes (allocated bytes)
        for f in "$4"/*.qcow2 "$4"/*.vhd; do
                [ -f "$f" ] && echo "$1 $2 $3 ${f##*.} $(du -B1 "$f" | cut -f1)"
        done >> "$raw/sizes.txt"
}

ib() { # ROW ROUND [args…]: one imgbuild build, cache $W/icache
        local row=$1 r=$2; shift 2
        local o=$W/out-ib
        rm -rf "$o"
        run "$row" imgbuild "$r" env IMGBUILD_CACHE_DIR="$W/icache" "$img" build --profile demo --release 20190619 \
                --datadir "$data" --format qcow2,vhd --no-check --output-dir "$o" "$@"
        sizes "$row" imgbuild "$r" "$o"
}
peer() { # ROW ROUND
        local o=$W/out-peer
        rm -rf "$o"
        run "$1" peer "$2" "$top/bench/peer.sh" "$o" "$W/pcache" "$data"
        sizes "$1" peer "$2" "$o"
}

for r in $(seq "$rounds"); do
        echo "--- round $r of $rounds"
        cp "$W/motd.orig" "$motd"; cp "$W/sysctl.orig" "$sysctl"
        bury "$W/icache" "$W/pcache"
        # alternate who goes first
        if [ $((r % 2)) = 1 ]; then peer cold "$r"; ib cold "$r"; else ib cold "$r"; peer cold "$r"; fi
        bury "$W/icache/roots" "$W/icache/initramfs" "$W/icache/clusters"
        if [ $((r % 2)) = 1 ]; then peer warm "$r"; ib warm "$r"; else ib warm "$r"; peer warm "$r"; fi
        # incremental builds: the same lock (`build -o` writes none yet: resolve does)
        IMGBUILD_CACHE_DIR="$W/icache" "$img" resolve --profile demo --release 20190619 --datadir "$data" \
                -o "$W/lock.json" > "$raw/resolve-$r.log" 2>&1
        echo "bench round $r: $(date +%s%N)" >> "$motd"
        ib incr-overlay "$r" --lock "$W/lock.json"
        grep -q '^rootcache: reusing' "$raw/runs/incr-overlay-imgbuild-$r.log" ||
                echo "bench: note: incr-overlay round $r did not reuse the cached root"
        echo "# bench round $r: $(date +%s%N)" >> "$sysctl"
        ib incr-kconfig "$r" --lock "$W/lock.json"
        # the ECS check of the last image, as its own row
        run check imgbuild "$r" "$img" check --profile demo "$W"/out-ib/*.qcow2 || true
done
cp "$W/motd.orig" "$motd"; cp "$W/sysctl.orig" "$sysctl"

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
        # INSTALL_RUNS per round (default 3): a run is about a minute, and
        # its disk rows are the noisiest of the bench
        for r in $(seq "$rounds"); do
                for k in $(seq "${INSTALL_RUNS:-3}"); do
                        echo "--- install vs dnf, round $r, run $k"
                        first=ours; [ $(((r + k) % 2)) = 1 ] && first=dnf
                        BENCH_BURY="$W/buried" BENCH_FIRST=$first \
                                "$top/bench/install/run.sh" > "$raw/install-$r-$k.log" 2>&1 ||
                                echo "bench: install bench failed (see $raw/install-$r-$k.log)"
                        grep '^ratio' "$raw/install-$r-$k.log" || true
                done
        done
fi
if [ "${SKIP_SOLVE:-0}" != 1 ]; then
        echo "--- solve, ${SOLVE_N:-10000} packages"
        reps=5; [ "$rounds" -lt 3 ] && reps=3
        "$top/bench/solve/run.sh" "${SOLVE_N:-10000}" "$reps" > "$raw/solve.log" 2>&1 || echo "bench: solve bench reported a miss or failed (see $raw/solve.log)"
        tail -n 6 "$raw/solve.log"
fi
echo "load_end $(cat /proc/loadavg)" >> "$raw/meta.txt"
echo "finished $(date -u +%FT%TZ)" >> "$raw/meta.txt"

python3 "$top/bench/report.py" "$raw" "$res"
gnuplot -e "dat='$res/bench.dat'; out='$res/bench.png'" "$top/bench/bench.gnuplot" && echo "chart: $res/bench.png"
echo "results: $res/results.md (raw: $raw)"
