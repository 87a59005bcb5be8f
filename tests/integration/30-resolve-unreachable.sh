#!/usr/bin/env bash
# The default release build points at the real Alibaba mirrors, unreachable
# here: `imgbuild resolve --release 20190619` (and `imgbuild --release
# 20190619`) must fail fast (< 15 s) with the fetch exit code, naming the repo
# and the URL, and telling the user about --mirror / --repo-url.
set -u
export IMGBUILD_CACHE_DIR="$WORK/cache"
fail() { echo "FAIL: $*"; exit 1; }

if curl -s -m 5 -o /dev/null https://mirrors.aliyun.com/alinux/2.1903/os/x86_64/repodata/repomd.xml; then
        echo "the Alibaba mirrors are reachable from this host: nothing to test"
        exit 77
fi

check_fast_failure() { # label, max seconds, expected repo, expected URL part, command…
        local label=$1 max=$2 repo=$3 url=$4
        shift 4
        local s e rc
        s=$(date +%s.%N)
        "$@" > "$WORK/out" 2>&1
        rc=$?
        e=$(date +%s.%N)
        cat "$WORK/out"
        local secs
        secs=$(echo "$e - $s" | bc -l)
        printf '%s: exit %s after %.2f s\n' "$label" "$rc" "$secs"
        [ "$rc" = 4 ] || fail "$label: exit code $rc, expected 4 (fetch)"
        (( $(echo "$secs < $max" | bc -l) )) || fail "$label: took $secs s (limit $max s)"
        grep -q "repo '$repo'" "$WORK/out" || fail "$label: the repo '$repo' is not named"
        grep -qF "$url" "$WORK/out" || fail "$label: the URL $url is not named"
        grep -q -- "--mirror URL" "$WORK/out" || fail "$label: no --mirror hint"
        grep -q -- "--repo-url $repo=URL" "$WORK/out" || fail "$label: no --repo-url hint"
}

check_fast_failure "resolve" 15 base "https://mirrors.aliyun.com/alinux/2.1903/os/x86_64/repodata/repomd.xml" \
        "$IMGBUILD" resolve --release 20190619 -o "$WORK/x.lock"
[ ! -e "$WORK/x.lock" ] || fail "a lock file was written"

# An unroutable address (TEST-NET-1, no DNS involved): the connect
# timeout must bound it.
check_fast_failure "resolve, unroutable address" 15 base "http://192.0.2.1/alinux/" \
        "$IMGBUILD" resolve --release 20190619 --repo-url base=http://192.0.2.1/alinux/ -o "$WORK/x.lock"

# The default command (build) goes through the same stage.
"$IMGBUILD" --release 20190619 --help > /dev/null 2>&1
"$IMGBUILD" --release 20190619 -O "$WORK/images" > "$WORK/build.out" 2>&1
rc=$?
if [ "$rc" = 10 ]; then
        echo "note: build is not available yet; only resolve was checked"
else
        check_fast_failure "build" 15 base "https://mirrors.aliyun.com/alinux/2.1903/os/x86_64/repodata/repomd.xml" \
                "$IMGBUILD" --release 20190619 -O "$WORK/images"
        ! ls "$WORK/images"/*.qcow2 >/dev/null 2>&1 || fail "an image was written"
fi
# Nothing broken is cached.
! find "$WORK/cache" -name '*.solv' 2>/dev/null | grep -q . || fail "a .solv was cached"
echo "PASS"
