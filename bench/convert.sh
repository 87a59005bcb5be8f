#!/usr/bin/env bash
# bench/convert.sh — the convert stage on one raw disk: qemu-img convert
# (what imgbuild ran before: qcow2 with -c -W -m 8, then a dynamic VHD with
# force_size) against our writer (builder/imgwrite.c: both formats in one
# pass, compression on every CPU), cold (empty cluster cache), warm (cache
# filled, same disk) and incremental (cache filled, one cluster of the disk
# changed), ROUNDS rounds alternating; prints medians of wall and CPU time,
# the ratios and the output sizes, with the load average.
#   bench/convert.sh [RAW]   (default: the demo image's raw disk, built with
#                             imgbuild build --profile demo --format raw)
#   ROUNDS=3  THREADS=0 (our workers; 0 = online CPUs)
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
W=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-convert.XXXXXX")
trap 'rm -rf "$W"' EXIT
for t in qemu-img gcc; do command -v "$t" >/dev/null || { echo "bench: $t is missing (make deps)"; exit 1; }; done

make -s -C "$TOP" build/libimgbuild.a
LIBS=$(make -s --no-print-directory -C "$TOP" -f Makefile -f - print-bench-libs <<<'print-bench-libs: ; @echo $(PKG_LIBS)')
cat > "$W/bench_convert.c" <<'EOF'
/* bench_convert RAW QCOW2|- VHD|- [CACHE_DIR|-]: one imgwrite_images() run;
 * prints "<seconds> <hits> <misses> <data clusters>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgwrite.h"
#include "util.h"

int main(int argc, char **argv) {
        if (argc < 4) return 2;
        imgwrite_opts o = { 0 };
        if (strcmp(argv[2], "-")) o.qcow2_path = argv[2];
        if (strcmp(argv[3], "-")) o.vhd_path = argv[3];
        if (argc > 4 && strcmp(argv[4], "-")) o.cache_dir = argv[4];
        if (getenv("THREADS")) o.threads = (unsigned)atoi(getenv("THREADS"));
        imgwrite_stats st;
        char *err = NULL;
        if (imgwrite_images(argv[1], &o, &st, &err) < 0) {
                fprintf(stderr, "bench_convert: %s\n", err ? err : "failed");
                return 1;
        }
        printf("%.3f %llu %llu %llu\n", st.seconds, (unsigned long long)st.cache_hits,
               (unsigned long long)st.cache_misses, (unsigned long long)st.data_clusters);
        return 0;
}
EOF
${CC:-gcc} -std=c11 -D_GNU_SOURCE -O2 -I"$TOP/builder" "$W/bench_convert.c" "$TOP/build/libimgbuild.a" \
        -o "$W/bench_convert" $LIBS

raw=${1:-}
if [ -z "$raw" ]; then
        fx=${FIXTURE:-/var/cache/imgbuild/fixture/current}
        [ -f "$fx/fixture.repo" ] || { echo "bench: no fixture at $fx (run tests/fixture/build.sh) and no RAW given"; exit 77; }
        [ -x "$TOP/builder/imgbuild" ] || make -s -C "$TOP" builder/imgbuild
        echo "building the demo raw disk…"
        "$TOP/builder/imgbuild" build --profile demo --release 20190619 --repo-file "$fx/fixture.repo" --format raw \
                --no-check --quiet --output-dir "$W/demo" > "$W/demo.log" 2>&1 || { tail "$W/demo.log"; exit 1; }
        raw=$(ls "$W"/demo/*.raw)
fi
[ -f "$raw" ] || { echo "bench: $raw: no such file"; exit 1; }
# The incremental disk: a sparse copy with one data cluster changed.
cp --sparse=always "$raw" "$W/changed.raw"
first_data=$(python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.lseek(fd, 1 << 20, os.SEEK_DATA))' "$W/changed.raw")
printf 'imgwrite-bench' | dd of="$W/changed.raw" bs=1 seek="$((first_data + 4096))" conv=notrunc status=none
echo "raw disk: $raw ($(du -h --apparent-size "$raw" | cut -f1) virtual, $(du -h "$raw" | cut -f1) data)"

# run NAME CMD...: wall, user+sys CPU (from /usr/bin/time) appended to $W/NAME
run() {
        local name=$1
        shift
        /usr/bin/time -f '%e %U %S' -o "$W/time" "$@" > "$W/out" 2> "$W/err" || { cat "$W/err"; exit 1; }
        read -r wall user sys < "$W/time"
        echo "$wall $(echo "$user + $sys" | bc)" >> "$W/$name"
}
qemu_both() {
        qemu-img convert -f raw -O qcow2 -c -W -m 8 -o compat=1.1,compression_type=zlib "$raw" "$W/q.qcow2" &&
                qemu-img convert -f raw -O vpc -o subformat=dynamic,force_size=on "$raw" "$W/q.vhd"
}
qemu_qcow2() { qemu-img convert -f raw -O qcow2 -c -W -m 8 -o compat=1.1,compression_type=zlib "$raw" "$W/q.qcow2"; }
export -f qemu_both qemu_qcow2
export raw W

loads=()
for i in $(seq "$ROUNDS"); do
        loads+=("$(cut -d' ' -f1 /proc/loadavg)")
        run qemu-both bash -c qemu_both
        run qemu-qcow2 bash -c qemu_qcow2
        rm -rf "$W/cache"
        run ours-cold "$W/bench_convert" "$raw" "$W/o.qcow2" "$W/o.vhd" "$W/cache"
        run ours-warm "$W/bench_convert" "$raw" "$W/o.qcow2" "$W/o.vhd" "$W/cache"
        run ours-incr "$W/bench_convert" "$W/changed.raw" "$W/i.qcow2" "$W/i.vhd" "$W/cache"
        misses=$(cut -d' ' -f3 "$W/out")
        run ours-qcow2 "$W/bench_convert" "$raw" "$W/o2.qcow2" - -
        echo "round $i done (load $(cut -d' ' -f1 /proc/loadavg); incremental: $misses clusters recompressed)"
done

# The outputs are right: qemu-img check and compare against the raw disk.
qemu-img check -q -f qcow2 "$W/o.qcow2"
qemu-img compare -q -f raw -F qcow2 "$raw" "$W/o.qcow2"
qemu-img compare -q -f raw -F vpc "$raw" "$W/o.vhd"
qemu-img compare -q -f raw -F qcow2 "$W/changed.raw" "$W/i.qcow2"

med() { cut -d' ' -f"$2" "$W/$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
size() { stat -c %s "$1"; }
ref=$(med qemu-both 1)
printf '\n%-34s %9s %9s %9s\n' "convert (median of $ROUNDS)" "wall s" "CPU s" "vs qemu"
row() { printf '%-34s %9s %9s %8.2fx\n' "$1" "$(med "$2" 1)" "$(med "$2" 2)" "$(echo "$(med "$2" 1) / $3" | bc -l)"; }
row "qemu-img: qcow2 -c -W -m 8 + vhd" qemu-both "$ref"
row "ours: qcow2 + vhd, cold cache" ours-cold "$ref"
row "ours: qcow2 + vhd, warm cache" ours-warm "$ref"
row "ours: qcow2 + vhd, 1 cluster changed" ours-incr "$ref"
row "qemu-img: qcow2 only" qemu-qcow2 "$(med qemu-qcow2 1)"
row "ours: qcow2 only, no cache" ours-qcow2 "$(med qemu-qcow2 1)"
printf '\nqcow2 size: ours %s, qemu-img %s (ratio %.3f); vhd size: ours %s, qemu-img %s\n' \
        "$(size "$W/o.qcow2")" "$(size "$W/q.qcow2")" "$(echo "$(size "$W/o.qcow2") / $(size "$W/q.qcow2")" | bc -l)" \
        "$(size "$W/o.vhd")" "$(size "$W/q.vhd")"
echo "load average at round starts: ${loads[*]} ($(nproc) CPUs)"
