#!/usr/bin/env bash
# 20-plan-bad-inputs — every malformed input of tests/bad-inputs/cases.txt
# makes `imgbuild build --dry-run` exit 2 with a message naming the file and
# line (or the offending option/path), without crashing.
set -u
BAD="$TOP/tests/bad-inputs"
DATA="$WORK/data"
# datadirs: the real kickstart/, repos/, kernel-config/ and a bad overlays/
for d in escape manifest missing; do
        mkdir -p "$DATA/$d"
        for x in kickstart repos kernel-config; do ln -s "$TOP/$x" "$DATA/$d/$x"; done
done
ln -s "$BAD/overlay-escape" "$DATA/escape/overlays"
ln -s "$BAD/manifest-escape" "$DATA/manifest/overlays"
mkdir -p "$DATA/missing/overlays"
export BAD DATA
n=0 fail=0
while IFS= read -r line; do
        case "$line" in ''|'#'*) continue ;; esac
        args=${line%% | *}
        want=${line#* | }
        n=$((n + 1))
        eval "set -- $args"
        "$IMGBUILD" build --dry-run --release 20240101 "$@" > "$WORK/out" 2> "$WORK/err"
        rc=$?
        if [ "$rc" -ne 2 ] || ! grep -qF -- "$want" "$WORK/err" || [ -s "$WORK/out" ]; then
                echo "FAIL case $n: $args"
                echo "  want exit 2 and: $want"
                echo "  got exit $rc: $(head -c 600 "$WORK/err")"
                fail=$((fail + 1))
        fi
done < "$BAD/cases.txt"
echo "$n bad-input cases, $fail failed"
[ "$n" -ge 30 ] || { echo "too few cases"; exit 1; }
[ "$fail" -eq 0 ]
