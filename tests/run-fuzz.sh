#!/usr/bin/env bash
# Runs each libFuzzer target for FUZZ_SECONDS on its seed corpus
# (tests/fuzz/seeds-<name>.txt lists seed files, relative to the repo root).
set -u
cd "$(dirname "$0")/.."
fail=0
for bin in "$@"; do
        name=${bin##*/}
        corpus=build/fuzz/corpus-$name
        mkdir -p "$corpus"
        if [ -f "tests/fuzz/seeds-$name.txt" ]; then
                while read -r f; do
                        [ -n "$f" ] && [ -f "$f" ] && cp -f "$f" "$corpus/seed-$(echo "$f" | sha1sum | cut -c1-12)"
                done < "tests/fuzz/seeds-$name.txt"
        fi
        if "$bin" -max_total_time="${FUZZ_SECONDS:-20}" -max_len=65536 -timeout=10 \
                  -artifact_prefix="build/fuzz/$name-" "$corpus" > "build/fuzz/$name.log" 2>&1; then
                printf 'PASS  %s  (%s)\n' "$name" "$(grep -E '^Done [0-9]+ runs' "build/fuzz/$name.log" | tail -n1)"
        else
                printf 'FAIL  %s\n' "$name"
                tail -n 40 "build/fuzz/$name.log"
                fail=1
        fi
done
exit $fail
