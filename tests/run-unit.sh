#!/usr/bin/env bash
# Runs each unit test binary (built with ASan+UBSan); prints a summary.
set -u
fail=0
for t in "$@"; do
        if out=$("$t" 2>&1); then
                printf 'PASS  %s  (%s)\n' "${t##*/}" "$(printf '%s\n' "$out" | tail -n1)"
        else
                printf 'FAIL  %s\n%s\n' "${t##*/}" "$out"
                fail=1
        fi
done
exit $fail
