#!/bin/bash
# bench/install/ab.sh OLD [NEW] [RUNS] — our fetch+install at two git
# revisions (NEW: the working tree), alternating, each run staged in memory
# (as with IMGBUILD_ROOTCACHE=0) over loopback HTTP, cold package cache, on
# the fixture's demo set; prints each pair and the medians.  For judging one
# change on a machine whose speed drifts by minutes (this VM's does): the
# two builds take turns, so a slow stretch hits both.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
old=${1:?usage: ab.sh OLD [NEW] [RUNS]} new=${2:-} runs=${3:-5}
fx=${FIXTURE:-/var/cache/imgbuild/fixture/current}
[ -d "$fx/repos/os" ] || { echo "ab: no fixture at $fx"; exit 77; }
w=$(mktemp -d "${TMPDIR:-/var/tmp}/imgbuild-ab.XXXXXX")
srv=
cleanup() {
        [ -n "$srv" ] && kill "$srv" 2>/dev/null
        mountpoint -q "$w/mem" && umount "$w/mem"
        rm -rf "$w"
        git -C "$top" worktree prune
}
trap cleanup EXIT
# driver REV OUT: the install driver built at REV ("" = the working tree)
driver() {
        if [ -z "$1" ]; then "$top/tests/install/build-driver.sh" "$2"; return; fi
        git -C "$top" worktree add -q --detach "$w/tree-$3" "$1"
        make -s -C "$w/tree-$3" build/libimgbuild.a >/dev/null
        "$w/tree-$3/tests/install/build-driver.sh" "$2"
}
driver "$old" "$w/old" old
driver "$new" "$w/new" new
"$top/tests/install/fixture-lock.sh" "$fx" "$w/file.lock"
port=$((20000 + RANDOM % 20000))
/usr/bin/python3 "$top/tests/http-range-server.py" "$port" / >/dev/null 2>&1 & srv=$!
for i in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
sed "s|\"file:///|\"http://127.0.0.1:$port/|" "$w/file.lock" > "$w/http.lock"
mkdir "$w/mem" && mount -t tmpfs -o size=4g,mode=0755 imgbuild-ab "$w/mem"
one() {
        rm -rf "$w/mem/cache"; sync
        local s; s=$(date +%s.%N)
        IMGBUILD_CACHE_DIR="$w/mem/cache" "$w/$1" --lock "$w/http.lock" --staged --rpmdb bdb > "$w/$1.log" 2>&1 ||
                { tail "$w/$1.log" >&2; exit 1; }
        echo "$(date +%s.%N) - $s" | bc
}
o=() n=()
for r in $(seq "$runs"); do
        a=$(one old) b=$(one new)
        o+=("$a") n+=("$b")
        printf 'run %d: old %.2fs  new %.2fs  (%.2fx)\n' "$r" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
med() {
        printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'
}
mo=$(med "${o[@]}") mn=$(med "${n[@]}")
printf 'median: old %.2fs (%s)  new %.2fs (%s)  new/old %.2fx\n' \
        "$mo" "$old" "$mn" "${new:-working tree}" "$(echo "$mn / $mo" | bc -l)"
