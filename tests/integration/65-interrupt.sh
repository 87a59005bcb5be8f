#!/usr/bin/env bash
# SIGINT/SIGTERM at several points of a real build: exit 130, no file at a
# final path, no temp or work files left, caches still valid.
set -euo pipefail
. "$TOP/tests/lib.sh"
need_slow

export IMGBUILD_CACHE_DIR="$WORK/cache" TMPDIR="$WORK/tmp"
mkdir -p "$TMPDIR" "$WORK/out"
build() {
        exec "$IMGBUILD" build --profile demo --release 20190619 --repo-file "$FIXTURE/fixture.repo" \
                --format qcow2,vhd --no-check --output-dir "$WORK/out" "$@"
}

# interrupt_at STAGE_LINE SIGNAL: start a build, send SIGNAL once the log
# shows STAGE_LINE (plus a moment, to land inside the stage's work).
interrupt_at() {
        local stage=$1 sig=$2 log="$WORK/build-$1.log"
        build > "$log" 2>&1 &
        local pid=$! waited=0
        until grep -q -- "$stage" "$log"; do
                sleep 0.2
                waited=$((waited + 1))
                kill -0 "$pid" 2>/dev/null || { cat "$log"; fail "build ended before '$stage'"; }
                [ "$waited" -lt 3000 ] || { kill -KILL "$pid"; fail "never reached '$stage'"; }
        done
        sleep 1
        kill -s "$sig" "$pid"
        set +e
        wait "$pid"
        local rc=$?
        set -e
        [ "$rc" = 130 ] || { tail -n 20 "$log"; fail "$stage/$sig: exit $rc, expected 130"; }
        assert_contains "$(cat "$log")" "interrupted" "log of $stage"
        local left
        left=$(find "$WORK/out" -mindepth 1)
        [ -z "$left" ] || fail "$stage/$sig: files left in the output dir: $left"
        left=$(find "$TMPDIR" -mindepth 1 -maxdepth 1)
        [ -z "$left" ] || fail "$stage/$sig: work files left: $left"
        ! grep -q " $WORK/" /proc/self/mounts || fail "$stage/$sig: mounts left under $WORK"
        pgrep -f "qemu-img convert.*$WORK" >/dev/null && fail "$stage/$sig: qemu-img still running"
        echo "ok: $sig during '$stage' → 130, nothing left"
}

interrupt_at "==> install" INT
interrupt_at "==> configure" TERM
interrupt_at "==> convert" INT

# Caches are still valid: metadata works offline, every cached package
# matches its checksum.
"$IMGBUILD" resolve --profile demo --repo-file "$FIXTURE/fixture.repo" --offline -o "$WORK/lock.json" --quiet \
        || fail "metadata cache unusable after interruptions"
n=0
while read -r f; do
        sum=$(sha256sum "$f" | cut -d' ' -f1)
        case "$f" in *"$sum"*) n=$((n + 1)) ;; *) fail "corrupt cache entry $f" ;; esac
done < <(find "$WORK/cache" -name '*.rpm' -type f)
echo "ok: metadata cache usable offline; $n cached packages verified (file:// repos are read in place)"
ls "$WORK/cache/repodata"/*/*.solv >/dev/null || fail "no .solv cache"
