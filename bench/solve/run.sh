#!/usr/bin/env bash
# bench/solve/run.sh — resolve @core of a synthetic 10,000-package repo
# (CentOS-7-like dependency density, the real CentOS 7.4 comps) with
# imgbuild's solver (cold: XML; warm: cached .solv) and with dnf (cold: empty
# cache; warm: dnf's own solv cache), in one run, and print the ratio.
# Goals: warm ≤ 0.3 s, ≥ 5× faster than dnf.
#   bench/solve/run.sh [N_PACKAGES] [REPEATS]
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-10000}
REPS=${2:-5}
REALDATA=${REALDATA:-$TOP/../shared/realdata}
[ -d "$REALDATA" ] || REALDATA=/work/shared/realdata
COMPS=$REALDATA/catscarlet-makeiso-animalism-7.4.1708/38b60f66d52704cffb8696750b2b6552438c1ace283bc2cf22408b0ba0e4cbfa-c7-x86_64-comps.xml
W=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-solve.XXXXXX")
trap 'rm -rf "$W"' EXIT

make -s -C "$TOP" build/libimgbuild.a
LIBS=$(make -s --no-print-directory -C "$TOP" -f Makefile -f - print-bench-libs <<<'print-bench-libs: ; @echo $(PKG_LIBS)')
${CC:-gcc} -std=c11 -D_GNU_SOURCE -O2 -I"$TOP/builder" "$TOP/bench/solve/bench_solve.c" "$TOP/build/libimgbuild.a" \
        -o "$W/bench_solve" $LIBS

echo "generating a $N-package repo…"
python3 "$TOP/bench/solve/gen_repo.py" "$W/repo" "$N" "$COMPS"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# imgbuild: cold = empty cache each time; warm = cache filled.
cold=() warm=()
for i in $(seq "$REPS"); do
        rm -rf "$W/cache"
        read -r n t < <(IMGBUILD_CACHE_DIR="$W/cache" "$W/bench_solve" "$W/repo")
        cold+=("$t")
        read -r n2 t < <(IMGBUILD_CACHE_DIR="$W/cache" "$W/bench_solve" "$W/repo")
        warm+=("$t")
done
ours_cold=$(printf '%s\n' "${cold[@]}" | median)
ours_warm=$(printf '%s\n' "${warm[@]}" | median)

# dnf: same repo, private config, nothing from the host.
dnf_run() {
        local root=$1
        mkdir -p "$root/empty"
        local s e out
        s=$(date +%s.%N)
        out=$(dnf --installroot="$root" --setopt=reposdir="$root/empty" --setopt=cachedir="$root/cache" \
                --setopt=install_weak_deps=True --repofrompath=bench,"file://$W/repo" --setopt=bench.gpgcheck=0 \
                --releasever=7 --forcearch=x86_64 --assumeno install @core 2>&1 || true)
        e=$(date +%s.%N)
        dnf_n=$(sed -n 's/^Install *\([0-9]*\) Package.*/\1/p' <<<"$out")
        echo "$e - $s" | bc -l
}
dcold=() dwarm=()
for i in $(seq "$REPS"); do
        rm -rf "$W/dnfroot"
        dcold+=("$(dnf_run "$W/dnfroot")")
        dwarm+=("$(dnf_run "$W/dnfroot")")
done
dnf_n=$(dnf --installroot="$W/dnfroot" --setopt=reposdir="$W/dnfroot/empty" --setopt=cachedir="$W/dnfroot/cache" \
        --repofrompath=bench,"file://$W/repo" --setopt=bench.gpgcheck=0 --releasever=7 --forcearch=x86_64 \
        --assumeno install @core 2>&1 | sed -n 's/^Install *\([0-9]*\) Package.*/\1/p' || true)
dnf_cold=$(printf '%s\n' "${dcold[@]}" | median)
dnf_warm=$(printf '%s\n' "${dwarm[@]}" | median)

printf '\n%-28s %10s %10s %9s\n' "@core of $N packages" "cold (s)" "warm (s)" "packages"
printf '%-28s %10.3f %10.3f %9s\n' "imgbuild (libsolv, .solv)" "$ours_cold" "$ours_warm" "$n"
printf '%-28s %10.3f %10.3f %9s\n' "dnf --assumeno install" "$dnf_cold" "$dnf_warm" "${dnf_n:-?}"
printf 'speed-up: cold %.1fx, warm %.1fx (median of %s runs)\n' \
        "$(echo "$dnf_cold / $ours_cold" | bc -l)" "$(echo "$dnf_warm / $ours_warm" | bc -l)" "$REPS"
ok=1
(( $(echo "$ours_warm <= 0.3" | bc -l) )) || { echo "GOAL MISSED: warm resolve > 0.3 s"; ok=0; }
(( $(echo "$dnf_warm / $ours_warm >= 5" | bc -l) )) || { echo "GOAL MISSED: warm speed-up < 5x"; ok=0; }
[ "$n" = "${dnf_n:-x}" ] || echo "note: package counts differ (imgbuild $n, dnf ${dnf_n:-?})"
[ $ok = 1 ] && echo "goals met: warm ≤ 0.3 s and ≥ 5x faster than dnf"
