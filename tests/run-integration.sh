#!/usr/bin/env bash
# Runs tests/integration/*.sh against the real binary and the fixture
# distribution (built once, cached).  Env given to each test:
#   TOP (repo root)  IMGBUILD (binary)  FIXTURE (fixture dir)
#   WORK (fresh temp dir, removed after a pass)  SLOW (1: run boot tests)
#   SHARED (dir shared by all tests of this run: demo image etc.)
# A test exits 0 (pass), 77 (skip) or anything else (fail).
# ONLY=pattern runs the matching tests only.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
export TOP IMGBUILD="${IMGBUILD:-$TOP/builder/imgbuild}" SLOW="${SLOW:-1}"
logdir="$TOP/build/test-logs"
mkdir -p "$logdir"
echo "fixture: building or reusing (tests/fixture/build.sh)…"
if ! FIXTURE=$("$TOP/tests/fixture/build.sh" 2> "$logdir/fixture.log" | tail -n1) || [ ! -d "$FIXTURE" ]; then
        echo "FAIL  fixture build (log: $logdir/fixture.log)"
        tail -n 30 "$logdir/fixture.log"
        exit 1
fi
export FIXTURE
SHARED=$(mktemp -d "${TMPDIR:-/var/tmp}/imgbuild-tests.XXXXXX")
export SHARED
trap 'rm -rf "$SHARED"' EXIT
pass=0 failn=0 skip=0 failed=""
for t in "$TOP"/tests/integration/*.sh; do
        name=$(basename "$t" .sh)
        case "$name" in *${ONLY:-}*) ;; *) continue ;; esac
        WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/imgbuild-test-$name.XXXXXX")
        export WORK
        start=$(date +%s)
        ( cd "$WORK" && timeout --kill-after=30 "${TEST_TIMEOUT:-1800}" bash "$t" ) > "$logdir/$name.log" 2>&1
        rc=$?
        secs=$(( $(date +%s) - start ))
        case $rc in
        0) printf 'PASS  %-40s %4ss\n' "$name" "$secs"; pass=$((pass + 1)); rm -rf "$WORK" ;;
        77) printf 'SKIP  %-40s %4ss  %s\n' "$name" "$secs" "$(tail -n1 "$logdir/$name.log")"; skip=$((skip + 1)); rm -rf "$WORK" ;;
        *) printf 'FAIL  %-40s %4ss  (exit %s, log %s, work %s)\n' "$name" "$secs" "$rc" "$logdir/$name.log" "$WORK"
           tail -n 25 "$logdir/$name.log" | sed 's/^/      | /'
           failn=$((failn + 1)); failed="$failed $name" ;;
        esac
done
echo "integration: $pass passed, $failn failed, $skip skipped${failed:+ (failed:$failed)}"
[ "$failn" -eq 0 ]
