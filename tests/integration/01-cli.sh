#!/usr/bin/env bash
# The command line skeleton: help, version, unknown command/option → exit 2.
set -euo pipefail
. "$TOP/tests/lib.sh"

expect_exit 0 "$IMGBUILD" --help
assert_contains "$OUT" "Usage: imgbuild"
top_help=$OUT
for c in build resolve diff seed boot-test check; do
        assert_contains "$top_help" "  $c " "--help"
        expect_exit 0 "$IMGBUILD" "$c" --help
        assert_contains "$OUT" "imgbuild $c" "$c --help"
done
expect_exit 0 "$IMGBUILD" --version
[[ "$OUT" =~ ^imgbuild\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "bad --version output: $OUT"
expect_exit 2 "$IMGBUILD"
assert_contains "$OUT" "Usage:"
expect_exit 2 "$IMGBUILD" frobnicate
assert_contains "$OUT" "unknown command 'frobnicate'"
for c in build resolve seed boot-test check; do
        expect_exit 2 "$IMGBUILD" "$c" --no-such-option
done
expect_exit 2 "$IMGBUILD" --no-such-option
# a tuning variable it does not understand stops it before any work
expect_exit 2 env IMGBUILD_QCOW2_LEVEL=fast "$IMGBUILD" --release 20190619
assert_contains "$OUT" 'IMGBUILD_QCOW2_LEVEL="fast" is not understood; it takes a zlib level from 1 to 9'
expect_exit 2 env IMGBUILD_FETCH_JOBS=0 "$IMGBUILD" resolve --release 20190619
assert_contains "$OUT" 'IMGBUILD_FETCH_JOBS="0"'
echo "cli ok"
